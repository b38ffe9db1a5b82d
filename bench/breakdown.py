"""Where a copy's time goes, in process: the emulator beside its two Flask baselines.

``python -m bench.breakdown`` calls each app's WSGI entry point directly (no
socket, no server) with the copy request ``make bench`` sends, and prints:

- CPU microseconds per call (this process's CPU time, so a loaded machine
  moves it little) for bare Flask (bench/ceiling.py), the naive stateful
  handler (bench/naive.py) and the emulator as ``nbmock serve`` builds it (a
  state file, the journal on), unprofiled, for the copy and for
  ``GET runtimes/<id>?f=json``, with the target ratio (copy ≤ 2 × naive);
- the same for the emulator with its request journal off (``serve --no-journal``),
  and the difference: the journal's part of each operation;
- a cProfile of the emulator's copy, its own time grouped by where it is spent
  (each ``mockserver`` module, Flask, werkzeug, SQLite's C calls, ...), scaled
  to the unprofiled time per call, so the groups add up to what a copy costs;
- the emulator's own functions by cumulative time: the pipeline's steps.

Bounded: a fixed number of calls per app, a few seconds in all.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from werkzeug.test import EnvironBuilder

from bench import naive, servers
from bench.ceiling import create_ceiling_app
from mockserver import create_app

RUNTIME_PATH = f"/arcgis/admin/notebooks/runtimes/{servers.STANDARD_ID}"
COPY_PATH = f"{RUNTIME_PATH}/copy"
#: The in-process target of issue 20: a copy costs at most this many naive copies.
COPY_TARGET = 2.0
FORM = "application/x-www-form-urlencoded"


def wsgi_call(
    app: Flask, path: str, body: bytes | None, headers: dict[str, str]
) -> Callable[[], bytes]:
    """One POST (``body``) or GET (None) straight into ``app``'s WSGI entry point, as a
    server would make it."""
    template = EnvironBuilder(
        path=path,
        method="GET" if body is None else "POST",
        data=body,
        content_type=None if body is None else FORM,
        headers=headers,
        # Tokens are bound to the client's address, as generateToken saw it.
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()

    def start_response(status: str, response_headers: list, exc_info=None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"copy answered {status}")

    def call() -> bytes:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body or b"")
        answer = app(environ, start_response)
        try:
            return b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close:
                close()

    return call


def emulator_calls(workdir: Path, *, journal: bool = True) -> dict[str, Callable[[], bytes]]:
    """The emulator's copy and GET, as ``nbmock serve`` builds the app (state file, journal;
    ``journal=False`` as ``serve --no-journal`` builds it)."""
    name = "breakdown.sqlite3" if journal else "breakdown-no-journal.sqlite3"
    app = create_app(state=workdir / name, journal=journal)
    client = app.test_client()
    token = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]  # labelled text/plain, as ArcGIS does
    auth = {"X-Esri-Authorization": f"Bearer {token}"}
    body = urlencode({**servers.SEED_COPY, "f": "json"}).encode()

    def checked(call: Callable[[], bytes]) -> Callable[[], bytes]:
        def answer() -> bytes:
            text = call()
            if b'"error"' in text:
                raise RuntimeError("the emulator refused the request")
            return text

        return answer

    return {
        "copy": checked(wsgi_call(app, COPY_PATH, body, auth)),
        "get": checked(wsgi_call(app, RUNTIME_PATH + "?f=json", None, auth)),
    }


def emulator_copy(workdir: Path) -> Callable[[], bytes]:
    return emulator_calls(workdir)["copy"]


def naive_copy(workdir: Path) -> Callable[[], bytes]:
    state = workdir / "naive.sqlite3"
    naive.prepare(state)
    body = urlencode({**servers.SEED_COPY, "f": "json"}).encode()
    return wsgi_call(naive.create_naive_app(state), COPY_PATH, body, {})


def ceiling_copy() -> Callable[[], bytes]:
    body = urlencode({**servers.SEED_COPY, "f": "json"}).encode()
    return wsgi_call(create_ceiling_app(), COPY_PATH, body, {})


def ceiling_get() -> Callable[[], bytes]:
    return wsgi_call(create_ceiling_app(), RUNTIME_PATH + "?f=json", None, {})


def micros_per_call(call: Callable[[], bytes], count: int) -> float:
    """CPU microseconds per call: this process's CPU time, which a loaded machine
    stretches far less than the wall clock."""
    for _ in range(min(200, count)):  # warm caches, the token cache and SQLite's pages
        call()
    start = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - start) / count * 1e6


_STDLIB = sysconfig.get_paths()["stdlib"]


def group_of(filename: str, function: str) -> str:
    """Where a profiled function lives: a mockserver module, a package, or C."""
    if filename == "~":
        return "SQLite (C calls)" if "sqlite3" in function else "builtins (C calls)"
    path = filename.replace("\\", "/")
    if "/mockserver/" in path:
        return "mockserver/" + path.rsplit("/mockserver/", 1)[1]
    if "/bench/" in path:
        return "bench"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if path.startswith(_STDLIB):
        rest = path[len(_STDLIB) :].lstrip("/")
        return "stdlib " + rest.split("/", 1)[0].removesuffix(".py")
    return path


@dataclass(frozen=True)
class Share:
    where: str
    micros: float
    percent: float


def profile(call: Callable[[], bytes], count: int, unprofiled_us: float) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call()
    profiler.disable()
    return pstats.Stats(profiler)


def own_time_by_group(stats: pstats.Stats, unprofiled_us: float) -> list[Share]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        totals[group_of(filename, function)] += tottime
    whole = sum(totals.values()) or 1.0
    return sorted(
        (Share(where, unprofiled_us * t / whole, 100 * t / whole) for where, t in totals.items()),
        key=lambda share: -share.micros,
    )


def mockserver_steps(stats: pstats.Stats, unprofiled_us: float, count: int) -> list[Share]:
    """The emulator's functions by cumulative time, scaled like the groups."""
    whole = sum(entry[2] for entry in stats.stats.values()) or 1.0
    steps = []
    for (filename, line, function), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items():
        if "/mockserver/" not in filename.replace("\\", "/"):
            continue
        where = group_of(filename, function) + f":{line} {function}"
        steps.append(Share(where, unprofiled_us * cumtime / whole, 100 * cumtime / whole))
    return sorted(steps, key=lambda share: -share.micros)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="calls per app (bounded)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="nbmock-breakdown-"))

    emulator = emulator_calls(workdir)
    # The request journal is the largest single part of both operations: its cost
    # is shown as the same app without it.
    unjournaled = emulator_calls(workdir, journal=False)
    calls = {
        ("bare Flask", "copy"): ceiling_copy(),
        ("naive stateful", "copy"): naive_copy(workdir),
        ("emulator", "copy"): emulator["copy"],
        ("no journal", "copy"): unjournaled["copy"],
        ("bare Flask", "get"): ceiling_get(),
        ("emulator", "get"): emulator["get"],
        ("no journal", "get"): unjournaled["get"],
    }
    micros = {key: micros_per_call(call, args.calls) for key, call in calls.items()}
    print("\nIn process, through the WSGI entry point (no socket, no server), CPU time per call:")
    for (name, op), us in micros.items():
        print(f"  {op:4} {name:15} {us:7.1f} µs/call  ({1e6 / us:,.0f}/s)")
    ratio = micros[("emulator", "copy")] / micros[("naive stateful", "copy")]
    verdict = "met" if ratio <= COPY_TARGET else f"GAP {ratio - COPY_TARGET:+.2f}"
    print(f"  copy: emulator ÷ naive {ratio:.2f} (target ≤ {COPY_TARGET:g}: {verdict})")
    ratio = micros[("emulator", "get")] / micros[("bare Flask", "get")]
    print(f"  GET:  emulator ÷ bare Flask {ratio:.2f}")
    for op in ("copy", "get"):
        journal_us = micros[("emulator", op)] - micros[("no journal", op)]
        print(f"  the journal's part of a {op}: {journal_us:.0f} µs")

    for op in ("copy", "get"):
        spent = micros[("emulator", op)]
        stats = profile(calls[("emulator", op)], args.calls, spent)
        print(
            f"\nThe emulator's {op} ({spent:.0f} µs), own time by where it is spent "
            "(cProfile shares scaled to the unprofiled time):"
        )
        for share in own_time_by_group(stats, spent)[: args.top]:
            print(f"  {share.micros:7.1f} µs  {share.percent:5.1f} %  {share.where}")
        print(f"\nThe emulator's own functions by cumulative time ({op}):")
        for share in mockserver_steps(stats, spent, args.calls)[: args.top]:
            print(f"  {share.micros:7.1f} µs  {share.percent:5.1f} %  {share.where}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
