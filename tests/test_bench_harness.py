"""The benchmark harness's own promises: fair baselines, and missing tools never fail a run.

No timing is asserted here; ``make bench`` prints figures.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest

from bench import cpu, hosting, instructions, load, naive, run, servers
from bench.load import Request, Result
from mockserver.control.store import ControlStore
from mockserver.core.settings import Settings
from mockserver.serving import server as serving
from mockserver.testing import running


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
    cells += [_cell(run.BARE, op, 2000) for op in run.OPERATIONS]
    cells.append(_cell(run.NAIVE, "copy", 1000))
    rows = {row[0]: row for row in run.targets(cells, {"WireMock": "no java on this machine"})}
    assert rows["req/s copy: emulator ÷ naive (gunicorn sync)"][3] == "met"
    assert rows["req/s copy: emulator ÷ bare Flask (gunicorn sync)"][3] == "GAP -0.10"
    wiremock = rows["req/s copy: emulator ÷ WireMock (moonshot)"]
    assert wiremock[3] == "left out: no java on this machine"
    assert rows["req/s copy: emulator ÷ best Prism"][3].startswith("left out")


def _stat(pid: int, parent: int, comm: str, utime: int, stime: int, cutime=0, cstime=0) -> str:
    """A /proc/<pid>/stat line with the fields the harness reads, the rest zero."""
    fields = ["S", str(parent)] + ["0"] * 9 + [str(utime), str(stime), str(cutime), str(cstime)]
    fields += ["20", "0", "1", "0", "100"]
    return f"{pid} ({comm}) " + " ".join(fields) + "\n"


def _fake_proc(root: Path, stats: dict[int, str]) -> str:
    for pid, line in stats.items():
        (root / str(pid)).mkdir(parents=True, exist_ok=True)
        (root / str(pid) / "stat").write_text(line)
    (root / "self").mkdir(exist_ok=True)  # not a pid: skipped
    return str(root)


def test_cpu_per_request_sums_the_server_and_every_descendant_only(tmp_path):
    # A gunicorn-like tree: master 100, workers 101 and 102 (one a grandchild), a
    # reaped worker's time in the master's cutime/cstime; 200 is someone else's process.
    tick = 1 / cpu.CLOCK_TICKS
    before = _fake_proc(
        tmp_path / "before",
        {
            100: _stat(100, 1, "gunicorn: master [nbmock]", 10, 5),
            101: _stat(101, 100, "gunicorn: worker (a) [x]", 100, 20),
            102: _stat(102, 101, "python", 3, 2),
            200: _stat(200, 1, "wrk", 500, 500),
        },
    )
    after = _fake_proc(
        tmp_path / "after",
        {
            100: _stat(100, 1, "gunicorn: master [nbmock]", 11, 5, cutime=30, cstime=10),
            101: _stat(101, 100, "gunicorn: worker (a) [x]", 150, 40),
            102: _stat(102, 101, "python", 3, 3),
            200: _stat(200, 1, "wrk", 900, 900),
        },
    )
    first = cpu.cpu_seconds([100], proc=before)
    second = cpu.cpu_seconds([100], proc=after)
    assert first == pytest.approx(140 * tick)
    assert second == pytest.approx(252 * tick)
    # 112 ticks over 1,000 requests.
    assert cpu.micros_per_request(first, second, 1000) == pytest.approx(112 * tick * 1e3)
    assert cpu.micros_per_request(first, second, 0) is None


def test_a_cell_reports_the_cpu_its_servers_spent_per_request(monkeypatch):
    readings = iter([2.0, 2.5, 7.0, 3.0])  # two servers before the run, then after

    class Reading:
        def cpu_seconds(self):
            return next(readings)

    monkeypatch.setattr(load, "drive", lambda *a, **k: Result(2000, 4.0, 1.0, 3.0, 0))
    cell = run.Cell("emulator", "copy", Request("GET", "http://127.0.0.1:1/"), [])
    cell.served_by = (Reading(), Reading())
    result = run.drive_cell(cell, seconds=4, connections=8)
    # (7.0 + 3.0) - (2.0 + 2.5) = 5.5 s over 2,000 requests.
    assert result.cpu_us == pytest.approx(2750)
    assert result.load is not None and result.requests == 2000


def test_cpu_targets_are_medians_of_per_round_ratios():
    def cell(contender, cpu_us_by_round):
        results = [Result(1000, 1.0, 1.0, 2.0, 0, cpu_us=c) for c in cpu_us_by_round]
        return run.Cell(contender, "copy", Request("GET", "http://127.0.0.1:1/"), results)

    # Per round 2.0, 1.0, 1.2: median 1.2, though the medians of each side give 400/300.
    cells = [cell("emulator", [800, 300, 360]), cell(run.NAIVE, [400, 300, 300])]
    rows = {row[0]: row for row in run.targets(cells, {}, peers=False)}
    assert rows["CPU/copy: emulator ÷ naive (gunicorn sync)"][1:] == ["1.20", "≤ 1.25", "met"]


def test_gunicorn_sync_baseline_is_plain_gunicorn():
    options = hosting.gunicorn_sync_options(port=8123, workers=2, proc_name="b")
    assert options == {
        "bind": "127.0.0.1:8123",
        "workers": 2,
        "worker_class": "sync",
        "proc_name": "b",
    }


def test_wiremock_stub_answers_the_copy_path_only(tmp_path: Path):
    server = servers.wiremock(tmp_path / "w.log", tmp_path / "root", "/copy", '{"status": 1}')
    stub = (tmp_path / "root" / "mappings" / "copy.json").read_text()
    assert '"urlPath": "/copy"' in stub and '"method": "POST"' in stub
    assert "127.0.0.1" in server.argv


def _journal_with_entries(emulator, count: int) -> None:
    for _ in range(count):
        emulator.session.get(f"{emulator.portal_url}/info", params={"f": "json"}, timeout=30)


def test_the_runners_journal_reader_reads_every_entry_once():
    with running() as emulator:
        _journal_with_entries(emulator, 3)
        text = servers.journal(emulator.origin)
    seqs = re.findall(r'"seq":\s*(\d+)', text)
    assert len(seqs) == len(set(seqs)) == 3


def test_the_runners_journal_reader_fails_instead_of_looping_on_an_off_by_one_after(monkeypatch):
    """A server whose ``after=N`` also answers entry N: the reader must fail, not loop."""
    honest = ControlStore.journal

    def off_by_one(self, *, operation=None, after=0, limit=1000):
        return honest(self, operation=operation, after=max(after - 1, 0), limit=limit)

    monkeypatch.setattr(ControlStore, "journal", off_by_one)
    with running() as emulator:
        _journal_with_entries(emulator, 3)
        with pytest.raises(RuntimeError, match="answered entries up to seq"):
            servers.journal(emulator.origin)


@pytest.mark.parametrize(
    ("contender", "operation"),
    [("emulator", "copy"), ("no-journal", "get"), ("naive", "copy"), ("bare", "get")],
)
def test_the_instruction_counts_calls_succeed_for_every_contender(contender, operation):
    # What runs under callgrind, without it: a refused or failing call raises here.
    assert instructions.main(["--inner", contender, operation, "3"]) == 0


def test_the_instruction_count_is_the_difference_of_two_runs_per_extra_call(monkeypatch):
    counted = {instructions.FEW: 5_000_000, instructions.MANY: 5_000_000 + 300 * 1_234}
    monkeypatch.setattr(instructions, "count", lambda _c, _o, calls: counted[calls])
    assert instructions.per_call("emulator", "get") == 1_234
