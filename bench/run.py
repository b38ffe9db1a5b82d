"""``make bench``: the emulator against its baselines and peers, side by side.

Baselines: bare Flask and a naive stateful handler, under ``nbmock serve``'s
own server options. Peers: Prism (static contract mock), WireMock (one stub)
and moto's server (a stateful write); a peer whose tool is missing here is
left out of the table with its reason.

Every contender runs at once on 127.0.0.1; rounds alternate the order in
which they are driven and each figure is the median over rounds. Targets are
ratios taken within the same round, so a noisy machine moves both sides.
"""

from __future__ import annotations

import argparse
import contextlib
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

from bench import breakdown, ceiling, load, scale, servers
from bench.load import Request, Result

OPERATIONS = ("copy", "get", "list")
NAIVE = "naive stateful"
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


def drive_cell(cell: Cell, *, seconds: float, connections: int, threads: int = 2) -> Result:
    """One cell's load; spread evenly over its replicas when it has several.

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


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary_rows(cells: list[Cell]) -> list[dict]:
    rows = []
    for cell in cells:
        rows.append(
            {
                "contender": cell.contender,
                "operation": cell.operation,
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
        if getattr(b, attribute)
    ]
    return median(ratios)


def targets(cells: list[Cell], left_out: dict[str, str]) -> list[list[str]]:
    by = {(c.contender, c.operation): c for c in cells}
    emulator = {op: by[("emulator", op)] for op in OPERATIONS}
    flask = {op: by[("bare Flask", op)] for op in OPERATIONS}
    rows = []

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

    prism_copies = [c for c in cells if c.contender.startswith("Prism") and c.operation == "copy"]
    if prism_copies:
        best = max(prism_copies, key=lambda c: median([r.rps for r in c.results]))
        add(
            f"emulator copy req/s ÷ best Prism ({best.contender}) copy",
            per_round_ratio(emulator["copy"], best, "rps"),
            1.0,
        )
    else:
        missing("emulator copy req/s ÷ best Prism copy", "Prism", "≥ 1")
    naive = by.get((NAIVE, "copy"))
    if naive:
        add(
            "emulator copy req/s ÷ naive stateful copy",
            per_round_ratio(emulator["copy"], naive, "rps"),
            0.9,
        )
    else:
        missing("emulator copy req/s ÷ naive stateful copy", NAIVE, "≥ 0.9")
    add(
        "emulator copy req/s ÷ bare Flask",
        per_round_ratio(emulator["copy"], flask["copy"], "rps"),
        0.6,
    )
    add(
        "emulator GET req/s ÷ bare Flask",
        per_round_ratio(emulator["get"], flask["get"], "rps"),
        0.8,
    )
    for op in ("copy", "get"):
        add(
            f"emulator {op} p99 ÷ bare Flask p99",
            per_round_ratio(emulator[op], flask[op], "p99_ms"),
            2.0,
            higher_is_better=False,
        )
    wiremock = by.get(("WireMock", "copy"))
    if wiremock:
        add(
            "emulator copy req/s ÷ WireMock copy (moonshot)",
            per_round_ratio(emulator["copy"], wiremock, "rps"),
            0.5,
        )
    else:
        missing("emulator copy req/s ÷ WireMock copy (moonshot)", "WireMock", "≥ 0.5")

    def information(what: str, mine: Cell, theirs: Cell) -> None:
        ratio = per_round_ratio(mine, theirs, "rps")
        rows.append([what, f"{ratio:.2f}", "none", "for information"])

    moto = by.get(("moto", MOTO_OPERATION))
    if moto:
        information(f"emulator copy req/s ÷ moto {MOTO_OPERATION}", emulator["copy"], moto)
    else:
        missing(f"emulator copy req/s ÷ moto {MOTO_OPERATION}", "moto", "none")
    if naive:
        information("naive stateful copy req/s ÷ bare Flask copy", naive, flask["copy"])
    information("emulator list (10 runtimes) req/s ÷ bare Flask", emulator["list"], flask["list"])
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
            cells.append(Cell(name, op, first, [], tuple(others)))
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
    args = parser.parse_args(argv)

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
        flask = start("bare Flask", servers.ceiling(work / "ceiling.log"))
        naive = start(NAIVE, servers.naive(work / "naive.log", state=work / "naive.sqlite3"))
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
        cells.append(Cell("emulator", "copy", copy_requests["copy"], []))
        cells.append(Cell("emulator", "get", read_requests["get"], []))
        cells.append(Cell("emulator", "list", read_requests["list"], []))
        if quiet_writer and quiet_reader:
            name = "emulator --no-journal"
            paths = emulator_paths()
            nj_copy = operation_requests(
                quiet_writer.origin, paths, servers.token(quiet_writer.origin)
            )
            nj_read = operation_requests(
                quiet_reader.origin, paths, servers.token(quiet_reader.origin)
            )
            cells.append(Cell(name, "copy", nj_copy["copy"], []))
            cells.append(Cell(name, "get", nj_read["get"], []))
            cells.append(Cell(name, "list", nj_read["list"], []))
        for op, request in operation_requests(flask.origin, emulator_paths(), "-").items():
            cells.append(Cell("bare Flask", op, request, []))
        naive_copy = operation_requests(naive.origin, emulator_paths(), "-")["copy"]
        cells.append(Cell(NAIVE, "copy", naive_copy, []))

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
                        cells.append(Cell(prism.name, op, request, []))
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
            cells.append(Cell("WireMock", "copy", request, []))
        moto = start_optional(
            "moto",
            servers.moto_missing(),
            lambda: servers.moto(work / "moto.log"),
            started,
            left_out,
        )
        if moto:
            labelled.append(("moto", moto))
            cells.append(Cell("moto", MOTO_OPERATION, moto_request(moto), []))

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
    print_table(
        f"Throughput and latency (median of {args.rounds} rounds; errors and requests summed)",
        ["contender", "operation", "req/s", "p50 ms", "p99 ms", "errors", "requests"],
        [
            [
                r["contender"],
                r["operation"],
                f"{r['rps']:.0f}",
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                r["errors"],
                r["requests"],
            ]
            for r in rows
        ],
    )
    target_rows = targets(cells, left_out)
    print_table(
        "Targets (median of per-round ratios)",
        ["ratio", "measured", "target", "verdict"],
        target_rows,
    )
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
