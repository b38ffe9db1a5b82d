"""The benchmark harness's own promises: fair baselines, and missing tools never fail a run.

No timing is asserted here; ``make bench`` prints figures.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from bench import hosting, naive, run, servers
from bench.load import Request, Result
from mockserver.core.settings import Settings
from mockserver.serving import server as serving


def test_baselines_are_served_with_nbmock_serves_own_server_options(tmp_path, monkeypatch):
    captured = {}

    class Capture:
        def __init__(self, settings, server_options, *_):
            captured.update(server_options)

        def run(self):
            pass

    monkeypatch.setattr(serving, "EmulatorServer", Capture)
    serving.serve(
        host="127.0.0.1", port=8123, workers=3, settings=Settings(state=str(tmp_path / "s.db"))
    )
    ours = hosting.server_options(port=8123, workers=3, proc_name="nbmock")
    assert ours == {**captured, "proc_name": "nbmock"}


def test_naive_handler_stores_one_row_per_copy_and_answers_success(tmp_path):
    state = tmp_path / "naive.sqlite3"
    naive.prepare(state)
    client = naive.create_naive_app(state).test_client()
    path = f"/arcgis/admin/notebooks/runtimes/{servers.STANDARD_ID}/copy"
    answers = [client.post(path, data={**servers.SEED_COPY, "f": "json"}) for _ in range(3)]
    assert [a.get_json()["status"] for a in answers] == ["success"] * 3
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM copies").fetchone() == (3,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_missing_tool_leaves_its_contender_out_with_the_reason():
    left_out: dict[str, str] = {}
    started: list[servers.Server] = []
    server = run.start_optional(
        "WireMock",
        "no java on this machine",
        lambda: pytest.fail("a missing tool must not be started"),
        started,
        left_out,
    )
    assert server is None and started == []
    assert left_out == {"WireMock": "no java on this machine"}


def test_a_contender_that_dies_on_start_is_left_out_with_its_error(tmp_path):
    left_out: dict[str, str] = {}
    started: list[servers.Server] = []
    dying = servers.Server(
        "dies",
        [sys.executable, "-c", "raise SystemExit('TypeError: no cluster here')"],
        port=servers.free_port(),
        ready_path="/",
        log=tmp_path / "dies.log",
    )
    assert run.start_optional("dies", None, lambda: dying, started, left_out) is None
    assert started == []
    assert left_out["dies"] == "it did not start: TypeError: no cluster here"


def _cell(contender: str, operation: str, rps: float) -> run.Cell:
    result = Result(requests=int(rps), seconds=1.0, p50_ms=1.0, p99_ms=2.0, errors=0)
    return run.Cell(contender, operation, Request("GET", "http://127.0.0.1:1/"), [result])


def test_targets_name_left_out_peers_instead_of_failing():
    cells = [_cell("emulator", op, 1000) for op in run.OPERATIONS]
    cells += [_cell("bare Flask", op, 2000) for op in run.OPERATIONS]
    cells.append(_cell(run.NAIVE, "copy", 1000))
    rows = {row[0]: row for row in run.targets(cells, {"WireMock": "no java on this machine"})}
    assert rows["emulator copy req/s ÷ naive stateful copy"][3] == "met"
    assert rows["emulator copy req/s ÷ bare Flask"][3] == "GAP -0.10"
    wiremock = rows["emulator copy req/s ÷ WireMock copy (moonshot)"]
    assert wiremock[3] == "left out: no java on this machine"
    assert rows["emulator copy req/s ÷ best Prism copy"][3].startswith("left out")


def test_wiremock_stub_answers_the_copy_path_only(tmp_path: Path):
    server = servers.wiremock(tmp_path / "w.log", tmp_path / "root", "/copy", '{"status": 1}')
    stub = (tmp_path / "root" / "mappings" / "copy.json").read_text()
    assert '"urlPath": "/copy"' in stub and '"method": "POST"' in stub
    assert "127.0.0.1" in server.argv
