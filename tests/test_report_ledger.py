"""report.md tells the truth about the ledger: standing, verdict, transient faults, the patch.

The runs go through ``nbmock verify`` against served emulators, as a CI job runs
them. A "real target" here is an emulator whose ``/__mock__/`` paths a test-only
front answers with 404, as an Enterprise (which has no such paths) does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from contracts.report import (
    AGREES,
    CONFIRMED,
    DISAGREES,
    INCONCLUSIVE,
    REFUTED,
    ledger_rows,
    ledger_verdict,
    standing,
    write_markdown_report,
)
from mockserver import create_app
from tests.nbmock_process import NbmockProcess

FOREIGN = Path(__file__).parent / "data" / "foreign-deployment.json"
ENV = {"ARCGIS_USERNAME": "admin", "ARCGIS_PASSWORD": "admin1234", "PYTHONUNBUFFERED": "1"}
ROWS = {row.row_id: row for row in ledger_rows()}


def verify(url: str, select: str, report: Path, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "verify", "--target", url, "--allow-writes",
         "--pause", "0", "--max-examples", "2", "-k", select, "--report", str(report), *more],
        capture_output=True, text=True, timeout=600, env={**os.environ, **ENV},
    )  # fmt: skip


def row_line(report: Path, row_id: str) -> str:
    text = (report / "report.md").read_text()
    return next(line for line in text.splitlines() if line.startswith(f"| {row_id} |"))


# --- verdicts, row by row ---------------------------------------------------------


def test_every_ledger_row_shows_its_standing_and_a_verdict(tmp_path):
    report = write_markdown_report(tmp_path, {}).read_text()
    for row_id, row in ROWS.items():
        line = next(line for line in report.splitlines() if line.startswith(f"| {row_id} |"))
        assert f"| {standing(row)} |" in line
    assert standing(ROWS["T9"]) == "doc"
    assert standing(ROWS["C6"]) == "inferred"
    assert standing(ROWS["W11"]) == "capture, inferred"
    assert standing(ROWS["F5"]) == "doc, client, inferred"
    assert standing(ROWS["C20"]) == "doc, inferred"
    # A bare "|" in a behaviour (`g|m|k|b`) does not shift the source cell.
    assert standing(ROWS["H11"]) == "doc, inferred"
    assert not [row_id for row_id, row in ROWS.items() if standing(row) == "unmarked"]
    assert "| T9 | doc | **no check** |" in report


#: Every outcome of a row's checks, each with the verdict it must give on each kind of target.
OUTCOMES = {
    "passed": (CONFIRMED, AGREES),
    "failed": (REFUTED, DISAGREES),
    "inconclusive": (INCONCLUSIVE, INCONCLUSIVE),
}


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_an_emulator_never_confirms_or_refutes_a_row(outcome):
    result = {"outcome": outcome, "doc": "", "details": [], "causes": ["HTTP 503 on GET x"]}
    results = {"revisions_strictly_increase": result}
    real, emulated = OUTCOMES[outcome]
    assert ledger_verdict(ROWS["C6"], results, emulator=False)[0] == real
    assert ledger_verdict(ROWS["C6"], results, emulator=True)[0] == emulated


# --- a transient fault never refutes a row -----------------------------------------


@pytest.fixture(scope="module")
def served():
    server = NbmockProcess("--workers", "1")
    yield server
    server.stop()


#: Every kind of transient failure the fault injection makes, as a target shows it.
TRANSIENT_FAULTS = {
    "code 500 in the envelope": (
        {"error": {"code": 500, "message": "Internal"}},
        "code 500 on POST",
    ),
    "HTTP 502 from a proxy": ({"status": 502}, "HTTP 502 on POST"),
    "dropped connection": ({"drop": True}, "ConnectionError on POST"),
    # The kit's per-request deadline (--request-deadline) ends the wait: a timeout.
    "an answer past the deadline": (
        {"delay_seconds": 12},
        "no answer within the deadline on POST",
        "--request-deadline",
        "4",
    ),
}


@pytest.mark.parametrize("fault", sorted(TRANSIENT_FAULTS))
def test_one_transient_fault_on_an_update_makes_c6_inconclusive_not_refuted(
    served, fault, tmp_path
):
    rule, cause, *more = TRANSIENT_FAULTS[fault]
    control = f"{served.origin}/__mock__"
    requests.post(f"{control}/reset", json={}, timeout=10)
    added = requests.post(
        f"{control}/faults", json={"operation": "update", "times": 1, **rule}, timeout=10
    )
    assert added.status_code in (200, 201), added.text
    try:
        done = verify(served.base, "revisions_strictly_increase", tmp_path, *more)
    finally:
        requests.delete(f"{control}/faults", timeout=10)
    line = row_line(tmp_path, "C6")
    assert f"**{INCONCLUSIVE}**" in line, done.stdout[-3000:]
    assert "revisions_strictly_increase inconclusive after" in done.stdout
    assert ", inconclusive: 1" in (tmp_path / "report.md").read_text()
    assert cause in line and "/update" in line
    assert REFUTED not in line


def test_without_a_fault_the_emulator_only_agrees(served, tmp_path):
    requests.post(f"{served.origin}/__mock__/reset", json={}, timeout=10)
    done = verify(served.base, "revisions_strictly_increase", tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"| C6 | inferred | **{AGREES}** |" in row_line(tmp_path, "C6")
    assert "confirmed" not in (tmp_path / "report.md").read_text().split("## Fidelity ledger")[1]
    assert "No row settled" in (tmp_path / "ledger-patch.md").read_text()


# --- a real target settles rows, and the patch says how -----------------------------


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def real_target(**options) -> Iterator[str]:
    """The emulator behind a front that answers /__mock__/ with 404, as an Enterprise does."""
    app = create_app(**options)

    def front(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/__mock__"):
            return Response("Not Found", status=404)(environ, start_response)
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/arcgis"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_real_target_confirms_and_refutes_inferred_rows_in_a_ledger_patch(tmp_path):
    with real_target(profile=str(FOREIGN)) as url:
        verify(url, "revisions_strictly_increase or unknown_runtime_is_404", tmp_path)
    assert f"| C6 | inferred | **{CONFIRMED}** |" in row_line(tmp_path, "C6")
    assert f"**{REFUTED}**" in row_line(tmp_path, "R5")
    patch = (tmp_path / "ledger-patch.md").read_text()
    assert "## C6: confirmed" in patch and "## R5: refuted" in patch
    assert re.search(r"\+ \| C6 \|.*\[capture\] `nbmock verify` against http://127", patch)
    # The evidence: the exchange that refuted R5, its wording as the target gave it.
    assert "Runtime with id" in patch and "was not found" in patch
    assert ENV["ARCGIS_PASSWORD"] not in patch
    assert not re.search(r"token['\"]?[:=] ?['\"]?[A-Za-z0-9_.-]{20,}", patch)
