"""``make bench``: the emulator against its baselines and peers, side by side.

The figure that steers is the **server's CPU per request** (bench/cpu.py):
the user and system time of every process of a server, read before and after
each run, divided by the requests it completed. Requests per second move with
whatever else runs on the machine; CPU per request barely does. Every req/s
figure is printed beside the load average it was taken at.

Baselines: bare Flask and a naive stateful handler, each twice: under plain
gunicorn sync workers (what users compare with) and under ``nbmock serve``'s
own serving layer (so the serving layer's cost is a figure of its own, and the
emulator's app work is the rest). Peers: Prism (static contract mock), WireMock
(one stub) and moto's server (a stateful write); a peer whose tool is missing
here is left out of the table with its reason.

Every contender runs at once on 127.0.0.1; rounds alternate the order in
which they are driven and each figure is the median over rounds. Targets are
medians of per-round ratios, each between two runs seconds apart.

``--quick`` (``make bench-quick``): only copy and GET, the emulator against
bare Flask and the naive handler under gunicorn sync (and bare Flask under the
emulator's serving layer), 3 rounds of 3 s: the CPU-per-request table in about
a minute, for use after every change.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import yaml

from bench import breakdown, ceiling, cpu, load, scale, servers
from bench.load import Request, Result

OPERATIONS = ("copy", "get", "list")
BARE = "bare Flask · gunicorn sync"
NAIVE = "naive stateful · gunicorn sync"
BARE_NBMOCK = "bare Flask · nbmock server"
NAIVE_NBMOCK = "naive stateful · nbmock server"
#: moto's comparable stateful write: each call stores a new message under an id
#: the server draws, as a copy stores a new runtime (moto keeps it in memory).
MOTO_OPERATION = "SQS SendMessage"


@dataclass
class Cell:
    contender: str
    operation: str
    request: Request
    results: list[Result]
    #: The same request on other replicas of one deployment, driven at the same time.
    replicas: tuple[Request, ...] = ()
    #: The servers answering it, whose CPU time is read around each run.
    served_by: tuple[servers.Server, ...] = ()


def drive_cell(cell: Cell, *, seconds: float, connections: int, threads: int = 2) -> Result:
    """One cell's load, with the CPU its servers spent per request and the load average."""
    started_load = os.getloadavg()[0]
    before = sum(server.cpu_seconds() for server in cell.served_by)
    result = _drive(cell, seconds=seconds, connections=connections, threads=threads)
    after = sum(server.cpu_seconds() for server in cell.served_by)
    used = cpu.micros_per_request(before, after, result.requests) if cell.served_by else None
    return dataclasses.replace(result, cpu_us=used, load=started_load)


def _drive(cell: Cell, *, seconds: float, connections: int, threads: int) -> Result:
    """Spread evenly over the cell's replicas when it has several.

    Replicas' results merge as: requests and errors summed, p50 the
    request-weighted mean of the replicas' p50s, p99 the highest p99 (an upper bound).
    """
    if not cell.replicas:
        return load.drive(cell.request, seconds=seconds, connections=connections, threads=threads)
    requests = (cell.request, *cell.replicas)
    share = max(1, connections // len(requests))
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        results = list(
            pool.map(
                lambda r: load.drive(r, seconds=seconds, connections=share, threads=1), requests
            )
        )
    total = sum(r.requests for r in results)
    return Result(
        requests=total,
        seconds=max(r.seconds for r in results),
        p50_ms=sum(r.p50_ms * r.requests for r in results) / total if total else 0.0,
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


def operation_requests(origin: str, paths: dict[str, str], token: str) -> dict[str, Request]:
    """copy, GET and list as the ArcGIS API for Python sends them: the token in
    ``X-Esri-Authorization`` (so no URL carries it), the copy's seed parameters as a form."""
    auth = (("X-Esri-Authorization", f"Bearer {token}"),)
    return {
        "copy": Request("POST", origin + paths["copy"], {**servers.SEED_COPY, "f": "json"}, auth),
        "get": Request("GET", origin + paths["get"] + "?f=json", None, auth),
        "list": Request("GET", origin + paths["list"] + "?f=json", None, auth),
    }


def emulator_paths() -> dict[str, str]:
    runtimes = "/arcgis/admin/notebooks/runtimes"
    return {
        "copy": f"{runtimes}/{servers.STANDARD_ID}/copy",
        "get": f"{runtimes}/{servers.STANDARD_ID}",
        "list": runtimes,
    }


def contract_paths() -> dict[str, str]:
    """The same operations at the paths the contract declares (Prism serves them as declared)."""
    spec = yaml.safe_load(servers.SPEC.read_text())
    copy = next(p for p in spec.get("paths", {}) if p.endswith("/copy"))
    runtime = copy.removesuffix("/copy")
    variable = runtime.rsplit("/", 1)[1]
    return {
        "copy": copy.replace(variable, servers.STANDARD_ID),
        "get": runtime.replace(variable, servers.STANDARD_ID),
        "list": runtime.rsplit("/", 1)[0],
    }


def rotate(items: list, by: int) -> list:
    by %= len(items) or 1
    return items[by:] + items[:by]


def median(values: list[float | None]) -> float:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else float("nan")


def summary_rows(cells: list[Cell]) -> list[dict]:
    rows = []
    for cell in cells:
        rows.append(
            {
                "contender": cell.contender,
                "operation": cell.operation,
                "cpu_us": median([r.cpu_us for r in cell.results]),
                "load": median([r.load for r in cell.results]),
                "rps": median([r.rps for r in cell.results]),
                "p50_ms": median([r.p50_ms for r in cell.results]),
                "p99_ms": median([r.p99_ms for r in cell.results]),
                "errors": sum(r.errors for r in cell.results),
                "requests": sum(r.requests for r in cell.results),
            }
        )
    return rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |")


def per_round_ratio(mine: Cell, theirs: Cell, attribute: str) -> float:
    ratios = [
        getattr(a, attribute) / getattr(b, attribute)
        for a, b in zip(mine.results, theirs.results, strict=True)
        if getattr(b, attribute) and getattr(a, attribute) is not None
    ]
    return median(ratios)


def cost_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The table every run leads with: CPU per request, then req/s with its load average."""
    header = ["contender", "operation", "CPU µs/req", "req/s", "load avg"]
    header += ["p50 ms", "p99 ms", "errors", "requests"]
    return header, [
        [
            r["contender"],
            r["operation"],
            "-" if r["cpu_us"] != r["cpu_us"] else f"{r['cpu_us']:.0f}",
            f"{r['rps']:.0f}",
            f"{r['load']:.1f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            r["errors"],
            r["requests"],
        ]
        for r in rows
    ]


def targets(cells: list[Cell], left_out: dict[str, str], *, peers: bool = True) -> list[list[str]]:
    """Each target of issue 20 with its measured ratio and verdict, CPU per request first.

    The baselines are the ones users compare with: bare Flask and the naive
    handler under gunicorn sync workers. ``peers`` False leaves out the rows of
    the peers and the list (``--quick`` measures neither).
    """
    by = {(c.contender, c.operation): c for c in cells}
    rows: list[list[str]] = []

    def add(what: str, ratio: float, target: float, higher_is_better: bool = True) -> None:
        met = ratio >= target if higher_is_better else ratio <= target
        sign = "≥" if higher_is_better else "≤"
        rows.append(
            [
                what,
                f"{ratio:.2f}",
                f"{sign} {target:g}",
                "met" if met else f"GAP {ratio - target:+.2f}",
            ]
        )

    def missing(what: str, contender: str, target: str) -> None:
        rows.append([what, "-", target, f"left out: {left_out.get(contender, 'not measured')}"])

    def compare(
        what: str,
        mine: tuple[str, str],
        theirs: tuple[str, str],
        attribute: str,
        target: float | None,
        higher_is_better: bool = True,
    ) -> None:
        sign = "≥" if higher_is_better else "≤"
        absent = next((key for key in (mine, theirs) if key not in by), None)
        if absent is not None and target is None:
            return  # a figure for information that this run did not take
        if absent is not None:
            missing(what, absent[0], "none" if target is None else f"{sign} {target:g}")
            return
        ratio = per_round_ratio(by[mine], by[theirs], attribute)
        if target is None:
            rows.append([what, f"{ratio:.2f}", "none", "for information"])
        else:
            add(what, ratio, target, higher_is_better)

    copy, get = ("emulator", "copy"), ("emulator", "get")
    compare(
        "CPU/copy: emulator ÷ naive (gunicorn sync)", copy, (NAIVE, "copy"), "cpu_us", 1.25, False
    )
    compare(
        "CPU/GET: emulator ÷ bare Flask (gunicorn sync)", get, (BARE, "get"), "cpu_us", 1.5, False
    )
    compare(
        "CPU/request, bare Flask: nbmock server ÷ gunicorn sync",
        (BARE_NBMOCK, "copy"),
        (BARE, "copy"),
        "cpu_us",
        1.0,
        False,
    )
    compare("CPU/copy: emulator ÷ bare Flask (gunicorn sync)", copy, (BARE, "copy"), "cpu_us", None)
    compare(
        "CPU/copy, naive: nbmock server ÷ gunicorn sync",
        (NAIVE_NBMOCK, "copy"),
        (NAIVE, "copy"),
        "cpu_us",
        None,
    )
    if peers:
        prism_copies = [
            c for c in cells if c.contender.startswith("Prism") and c.operation == "copy"
        ]
        if prism_copies:
            best = max(prism_copies, key=lambda c: median([r.rps for r in c.results]))
            add(
                f"req/s copy: emulator ÷ best Prism ({best.contender})",
                per_round_ratio(by[copy], best, "rps"),
                1.0,
            )
        else:
            missing("req/s copy: emulator ÷ best Prism", "Prism", "≥ 1")
    compare("req/s copy: emulator ÷ naive (gunicorn sync)", copy, (NAIVE, "copy"), "rps", 0.9)
    compare("req/s copy: emulator ÷ bare Flask (gunicorn sync)", copy, (BARE, "copy"), "rps", 0.6)
    compare("req/s GET: emulator ÷ bare Flask (gunicorn sync)", get, (BARE, "get"), "rps", 0.8)
    for op in ("copy", "get"):
        compare(
            f"p99 {op}: emulator ÷ bare Flask (gunicorn sync)",
            ("emulator", op),
            (BARE, op),
            "p99_ms",
            2.0,
            False,
        )
    if peers:
        compare(
            "req/s copy: emulator ÷ WireMock (moonshot)", copy, ("WireMock", "copy"), "rps", 0.5
        )
        compare(
            f"req/s copy: emulator ÷ moto {MOTO_OPERATION}",
            copy,
            ("moto", MOTO_OPERATION),
            "rps",
            None,
        )
    compare(
        "req/s copy: naive ÷ bare Flask (gunicorn sync)",
        (NAIVE, "copy"),
        (BARE, "copy"),
        "rps",
        None,
    )
    if peers:
        compare(
            "req/s list (10 runtimes): emulator ÷ bare Flask (gunicorn sync)",
            ("emulator", "list"),
            (BARE, "list"),
            "rps",
            None,
        )
    return rows


def postgres_cells(
    work: Path, started: list[servers.Server], stack: contextlib.ExitStack
) -> list[Cell]:
    """copy and GET through 1 and 2 ``nbmock serve`` replicas on one PostgreSQL database.

    The cluster keeps PostgreSQL's durable defaults (fsync, synchronous_commit):
    what a shared deployment runs. It shares the machine's cores with the replicas.
    """
    from tests import postgres

    reason = postgres.unavailable()
    if reason:
        print(f"PostgreSQL left out: {reason}")
        return []
    cluster = stack.enter_context(postgres.cluster(durable=True))
    cells = []
    for count in (1, 2):
        url = cluster.fresh_database(f"bench{count}")
        replicas = []
        for index in range(count):
            log = work / f"emulator-pg{count}-{index}.log"
            replicas.append(servers.emulator(log, state=url).start())
            started.append(replicas[-1])
        token = servers.token(replicas[0].origin)
        per_replica = [operation_requests(r.origin, emulator_paths(), token) for r in replicas]
        name = f"emulator PostgreSQL × {count}"
        for op in ("copy", "get"):
            first, *others = (requests[op] for requests in per_replica)
            cells.append(Cell(name, op, first, [], tuple(others), tuple(replicas)))
    return cells


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_generator": load.generator_name(),
        "loadavg_at_start": os.getloadavg(),
    }


def start_optional(
    name: str,
    missing: str | None,
    make: Callable[[], servers.Server],
    started: list[servers.Server],
    left_out: dict[str, str],
) -> servers.Server | None:
    """Start a contender that may be missing here; a missing one is left out of the
    table with its reason, never a failed run."""
    if missing:
        left_out[name] = missing
        return None
    server = make()
    try:
        server.start()
    except RuntimeError as error:
        left_out[name] = f"it did not start: {server.failure() or error}"
        return None
    started.append(server)
    return server


def moto_request(server: servers.Server) -> Request:
    """SQS SendMessage as boto3 sends it today (the JSON protocol)."""
    queue = servers.moto_queue(server.origin)
    return Request(
        "POST",
        server.origin + "/",
        headers=(
            ("X-Amz-Target", "AmazonSQS.SendMessage"),
            ("Authorization", servers.MOTO_AUTH),
        ),
        content=json.dumps({"QueueUrl": queue, "MessageBody": urlencode(servers.SEED_COPY)}),
        content_type="application/x-amz-json-1.0",
    )


def run_rounds(
    cells: list[Cell], *, rounds: int, seconds: float, connections: int, left_out: dict[str, str]
) -> None:
    for cell in list(cells):  # warm up each contender (and the JVM's JIT); check its answers
        result = drive_cell(cell, seconds=1, connections=2, threads=1)
        if result.requests and result.errors >= result.requests:
            # A peer that refuses everything (Prism on a contract whose answers it cannot
            # serialise) is left out rather than measured on its errors.
            cells.remove(cell)
            left_out[f"{cell.contender} {cell.operation}"] = (
                "every answer in its warm-up was an error (see its log)"
            )
        elif result.errors:
            print(
                f"  warning: {cell.contender} {cell.operation}: {result.errors} errors in warm-up"
            )
    for round_number in range(rounds):
        for cell in rotate(cells, round_number * 3):
            cell.results.append(drive_cell(cell, seconds=seconds, connections=connections))
        print(f"  round {round_number + 1}/{rounds} done", flush=True)


def start_baselines(
    work: Path, start: Callable[[str, servers.Server], servers.Server], *, quick: bool = False
) -> dict[str, servers.Server]:
    """Bare Flask and the naive handler under gunicorn sync and under nbmock's serving layer
    (``quick``: the naive handler under gunicorn sync only)."""
    started = {}
    for server, bare, naive in (
        ("gunicorn-sync", BARE, NAIVE),
        ("nbmock", BARE_NBMOCK, NAIVE_NBMOCK),
    ):
        started[bare] = start(bare, servers.ceiling(work / f"ceiling-{server}.log", server=server))
        if quick and server == "nbmock":
            continue
        state = work / f"naive-{server}.sqlite3"
        log = work / f"naive-{server}.log"
        started[naive] = start(naive, servers.naive(log, state=state, server=server))
    return started


def baseline_cells(baselines: dict[str, servers.Server], operations: tuple[str, ...]) -> list[Cell]:
    """The baselines' cells: bare Flask on every operation, the naive handler on copy."""
    cells = []
    for name, server in baselines.items():
        requests = operation_requests(server.origin, emulator_paths(), "-")
        for op in operations if name in (BARE, BARE_NBMOCK) else ("copy",):
            cells.append(Cell(name, op, requests[op], [], served_by=(server,)))
    return cells


def print_cost(
    rows: list[dict], cells: list[Cell], left_out: dict[str, str], *, rounds: int, peers: bool
) -> list[list[str]]:
    """The cost table and the targets; the target rows."""
    header, table = cost_table(rows)
    print_table(
        f"Server CPU per request, throughput and latency (median of {rounds} rounds; "
        "load avg: the 1-minute load average as each run started; errors and requests summed)",
        header,
        table,
    )
    target_rows = targets(cells, left_out, peers=peers)
    print_table(
        "Targets (median of per-round ratios)",
        ["ratio", "measured", "target", "verdict"],
        target_rows,
    )
    return target_rows


def quick(args: argparse.Namespace) -> int:
    """``make bench-quick``: the CPU-per-request table for copy and GET, in about a minute."""
    work = servers.scratch_dir("nbmock-bench-quick-")
    print(
        f"nbmock bench --quick: {args.rounds} rounds × {args.seconds:g} s × "
        f"{args.connections} connections, load by {load.generator_name()}; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    started: list[servers.Server] = []
    left_out: dict[str, str] = {}

    def start(_label: str, server: servers.Server) -> servers.Server:
        server.start()
        started.append(server)
        return server

    try:
        emulator = start(
            "emulator", servers.emulator(work / "emulator.log", state=work / "e.sqlite3")
        )
        baselines = start_baselines(work, start, quick=True)
        ops = operation_requests(emulator.origin, emulator_paths(), servers.token(emulator.origin))
        cells = [Cell("emulator", op, ops[op], [], served_by=(emulator,)) for op in ("copy", "get")]
        cells += baseline_cells(baselines, ("copy", "get"))
        run_rounds(
            cells,
            rounds=args.rounds,
            seconds=args.seconds,
            connections=args.connections,
            left_out=left_out,
        )
    finally:
        for server in started:
            server.stop()
    print_cost(summary_rows(cells), cells, left_out, rounds=args.rounds, peers=False)
    for name, reason in left_out.items():
        print(f"{name} left out of the table, because {reason}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--sizes", default="10,1000,100000", help="stored runtimes for the growth table"
    )
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument(
        "--breakdown-calls", type=int, default=3000, help="copies profiled in process (0: none)"
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="leave out the PostgreSQL replicas"
    )
    parser.add_argument("--out", default="reports/bench", help="where the JSON results go")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="copy and GET only, against the baselines (3 rounds of 3 s unless given)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        given = argv if argv is not None else sys.argv[1:]
        if "--rounds" not in given:
            args.rounds = 3
        if "--seconds" not in given:
            args.seconds = 3
        return quick(args)

    work = servers.scratch_dir("nbmock-bench-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"nbmock bench: {info['cpus']} CPUs, Python {info['python']}, load by {info['load_generator']}, "
        f"{args.rounds} rounds × {args.seconds:g} s × {args.connections} connections; "
        f"load average at start {info['loadavg_at_start'][0]:.2f}"
    )

    started: list[servers.Server] = []
    #: (what, server): each started contender, for the start-up and memory tables.
    labelled: list[tuple[str, servers.Server]] = []
    left_out: dict[str, str] = {}
    cells: list[Cell] = []
    stack = contextlib.ExitStack()
    memory: list[dict] = []
    try:

        def start(label: str, server: servers.Server) -> servers.Server:
            server.start()
            started.append(server)
            labelled.append((label, server))
            return server

        writer = start(
            "emulator (copy)",
            servers.emulator(work / "emulator-copy.log", state=work / "copy.sqlite3"),
        )
        read_state = work / "read.sqlite3"
        scale.prefill(read_state, 10)
        reader = start(
            "emulator (get, list; 10 stored)",
            servers.emulator(work / "emulator-read.log", state=read_state),
        )
        baselines = start_baselines(work, start)
        quiet_writer = quiet_reader = None
        if servers.serve_supports("--no-journal"):
            # The request journal writes a row per request; measured apart to show its cost.
            extra = ("--no-journal",)
            quiet_writer = start(
                "emulator --no-journal (copy)",
                servers.emulator(
                    work / "emulator-nj-copy.log", state=work / "nj-copy.sqlite3", extra=extra
                ),
            )
            nj_read = work / "nj-read.sqlite3"
            scale.prefill(nj_read, 10)
            quiet_reader = start(
                "emulator --no-journal (get, list)",
                servers.emulator(work / "emulator-nj-read.log", state=nj_read, extra=extra),
            )

        copy_requests = operation_requests(
            writer.origin, emulator_paths(), servers.token(writer.origin)
        )
        read_requests = operation_requests(
            reader.origin, emulator_paths(), servers.token(reader.origin)
        )
        cells.append(Cell("emulator", "copy", copy_requests["copy"], [], served_by=(writer,)))
        cells.append(Cell("emulator", "get", read_requests["get"], [], served_by=(reader,)))
        cells.append(Cell("emulator", "list", read_requests["list"], [], served_by=(reader,)))
        if quiet_writer and quiet_reader:
            name = "emulator --no-journal"
            paths = emulator_paths()
            nj_copy = operation_requests(
                quiet_writer.origin, paths, servers.token(quiet_writer.origin)
            )
            nj_read = operation_requests(
                quiet_reader.origin, paths, servers.token(quiet_reader.origin)
            )
            cells.append(Cell(name, "copy", nj_copy["copy"], [], served_by=(quiet_writer,)))
            cells.append(Cell(name, "get", nj_read["get"], [], served_by=(quiet_reader,)))
            cells.append(Cell(name, "list", nj_read["list"], [], served_by=(quiet_reader,)))
        cells += baseline_cells(baselines, OPERATIONS)

        if servers.prism_available():
            for multiprocess in (False, True):
                for quiet in (False, True):
                    log = work / f"prism{'-m' * multiprocess}{'-quiet' * quiet}.log"
                    prism = servers.prism(log, multiprocess=multiprocess, quiet=quiet)
                    if not start_optional(prism.name, None, lambda p=prism: p, started, left_out):
                        continue
                    labelled.append((prism.name, prism))
                    # Prism checks only that a credential is present.
                    prism_ops = operation_requests(prism.origin, contract_paths(), "not-checked")
                    for op, request in prism_ops.items():
                        cells.append(Cell(prism.name, op, request, [], served_by=(prism,)))
        else:
            left_out["Prism"] = (
                "bench/.prism, node or openapi/notebook-runtimes.yaml is missing"
                " (make bench-tools installs Prism with npm)"
            )

        copy_path = emulator_paths()["copy"]
        wiremock = start_optional(
            "WireMock",
            servers.wiremock_missing(),
            lambda: servers.wiremock(
                work / "wiremock.log",
                work / "wiremock",
                copy_path,
                json.dumps({"notebookRuntime": ceiling.RUNTIME, "status": "success"}),
            ),
            started,
            left_out,
        )
        if wiremock:
            labelled.append(("WireMock", wiremock))
            request = operation_requests(wiremock.origin, emulator_paths(), "-")["copy"]
            cells.append(Cell("WireMock", "copy", request, [], served_by=(wiremock,)))
        moto = start_optional(
            "moto",
            servers.moto_missing(),
            lambda: servers.moto(work / "moto.log"),
            started,
            left_out,
        )
        if moto:
            labelled.append(("moto", moto))
            cells.append(Cell("moto", MOTO_OPERATION, moto_request(moto), [], served_by=(moto,)))

        if not args.skip_postgres:
            cells += postgres_cells(work, started, stack)

        run_rounds(
            cells,
            rounds=args.rounds,
            seconds=args.seconds,
            connections=args.connections,
            left_out=left_out,
        )
        for label, server in labelled:
            memory.append(
                {
                    "contender": label,
                    "total_mib": server.rss_bytes() / 2**20,
                    "worker_mib": [b / 2**20 for b in server.worker_rss_bytes()],
                }
            )
    finally:
        for server in started:
            server.stop()
        stack.close()

    rows = summary_rows(cells)
    target_rows = print_cost(rows, cells, left_out, rounds=args.rounds, peers=True)
    for name, reason in left_out.items():
        print(f"{name} left out of the table, because {reason}")
    startup = [{"contender": label, "seconds": server.ready_seconds} for label, server in labelled]
    print_table(
        "Start: seconds from launching the server to its first answer",
        ["server", "seconds"],
        [[s["contender"], f"{s['seconds']:.2f}"] for s in startup],
    )
    print_table(
        "Memory after the rounds (RSS; a worker is a child process where the server forks them)",
        ["server", "all processes MiB", "per worker MiB"],
        [
            [
                m["contender"],
                f"{m['total_mib']:.0f}",
                ", ".join(f"{w:.0f}" for w in m["worker_mib"]),
            ]
            for m in memory
        ],
    )

    growth, inproc = [], []
    if not args.skip_growth:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            growth.append(scale.measure_size(work, size))
        print_table(
            "Cost with stored runtimes (sequential requests, one client)",
            [
                "stored",
                "copy p50 ms",
                "copy p99 ms",
                "list p50 ms",
                "list max ms",
                "list body",
                "server RSS",
            ],
            [
                [
                    f"{g.stored:,}",
                    f"{g.copy_p50_ms:.2f}",
                    f"{g.copy_p99_ms:.2f}",
                    f"{g.list_p50_ms:.1f}",
                    f"{g.list_max_ms:.1f}",
                    f"{g.list_bytes / 1024:,.0f} KiB",
                    f"{g.rss_mib:.0f} MiB",
                ]
                for g in growth
            ],
        )
        inproc = [
            scale.in_process("memory", work),
            scale.in_process("file", work),
            scale.fixture_rates(),
        ]
        print_table(
            "In process, one thread: calls per second",
            ["how", "copy", "get", "list (2 runtimes)"],
            [
                [
                    in_process_label(f.storage),
                    f"{f.copy_ops:.0f}",
                    f"{f.get_ops:.0f}",
                    f"{f.list_ops:.0f}",
                ]
                for f in inproc
            ],
        )
    if args.breakdown_calls:
        breakdown.main(["--calls", str(args.breakdown_calls)])

    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info,
        "loadavg_at_end": os.getloadavg(),
        "settings": vars(args),
        "throughput": rows,
        "targets": target_rows,
        "left_out": left_out,
        "startup": startup,
        "memory": memory,
        "growth": [asdict(g) for g in growth],
        "in_process": [asdict(f) for f in inproc],
    }
    path = out / "bench.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nresults written to {path}")
    return 0


def in_process_label(storage: str) -> str:
    if storage in ("memory", "file"):
        return f"Flask test client, state in {storage}"
    return f"{storage} (requests session, state in memory)"


if __name__ == "__main__":
    raise SystemExit(main())
