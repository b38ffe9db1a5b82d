"""Concurrency integrity: worker processes × threads × client threads copying and updating.

Afterwards every acknowledged runtime is listed exactly once, ids are unique,
revisions are unique and strictly increase in the order the writes were
committed, and each runtime holds the last update acknowledged for it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers
from bench.reliability.client import Admin


@dataclass
class IntegrityReport:
    server: str
    client_threads: int
    copies_acknowledged: int = 0
    updates_acknowledged: int = 0
    reads: int = 0
    refused_or_failed: int = 0
    listed: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class _Written:
    id: str
    name: str
    copy_revision: int
    revisions: list[int]
    max_memory: float | None = None


def threaded_emulator(
    log: Path, *, state: Path, workers: int, threads: int, users: Path | None = None
) -> servers.Server:
    """The emulator under gunicorn's threaded workers (bench/reliability/threaded.py)."""
    port = servers.free_port()
    argv = [
        servers.sys.executable,
        "-m",
        "bench.reliability.threaded",
        "--port",
        str(port),
        "--state",
        str(state),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    if users:
        argv += ["--users", str(users)]
    return servers.Server(
        f"emulator {workers} workers × {threads} threads",
        argv,
        port=port,
        ready_path="/arcgis/sharing/rest/info?f=json",
        log=log,
    )


def run_integrity(
    server: servers.Server,
    *,
    client_threads: int,
    copies_per_thread: int,
    updates_per_copy: int,
    credentials: tuple[str, str] = ("admin", "admin1234"),
) -> IntegrityReport:
    """Drive ``server`` (already started) and check what it kept."""
    report = IntegrityReport(server=server.name, client_threads=client_threads)
    token = servers.token(server.origin, *credentials)
    lock = threading.Lock()
    written: list[_Written] = []
    started = time.monotonic()

    def work(thread: int) -> None:
        admin = Admin(server.origin, token)
        mine: list[_Written] = []
        failed = reads = updates = 0
        for i in range(copies_per_thread):
            name = f"integrity t{thread} #{i}"
            answer = admin.copy(name)
            if not answer.ok:
                failed += 1
                continue
            runtime = answer.body["notebookRuntime"]
            mine.append(_Written(runtime["id"], name, runtime["revision"], [runtime["revision"]]))
        for k in range(updates_per_copy):
            for entry in mine:
                size = 4.0 + k + (thread % 3)
                if admin.update(entry.id, size).ok:
                    updates += 1
                    entry.max_memory = size
                else:
                    failed += 1
                    continue
                answer = admin.get(entry.id)
                reads += 1
                if answer.ok:
                    entry.revisions.append(answer.body["revision"])
                else:
                    failed += 1
        with lock:
            written.extend(mine)
            report.copies_acknowledged += len(mine)
            report.updates_acknowledged += updates
            report.reads += reads
            report.refused_or_failed += failed

    with ThreadPoolExecutor(client_threads) as pool:
        for future in [pool.submit(work, t) for t in range(client_threads)]:
            future.result()
    report.seconds = time.monotonic() - started

    listed = Admin(server.origin, token, timeout=120).list()
    report.listed = len(listed)
    report.problems = check_integrity(written, listed, report.refused_or_failed)
    return report


def check_integrity(written: list[_Written], listed: list[dict], failed: int) -> list[str]:
    problems = []
    if failed:
        problems.append(f"{failed} valid requests were refused or failed")
    counts = Counter(runtime["id"] for runtime in listed)
    duplicated = [rid for rid, n in counts.items() if n > 1]
    if duplicated:
        problems.append(f"{len(duplicated)} ids listed more than once, e.g. {duplicated[0]}")
    by_id = {runtime["id"]: runtime for runtime in listed}
    missing = [w for w in written if w.id not in by_id]
    if missing:
        problems.append(f"{len(missing)} acknowledged copies missing, e.g. {missing[0].name!r}")
    acknowledged_ids = Counter(w.id for w in written)
    if any(n > 1 for n in acknowledged_ids.values()):
        problems.append("the same id was acknowledged for two different copies")
    extra = [r for r in listed if r["copied"] and r["id"] not in acknowledged_ids]
    if len(extra) > failed:
        problems.append(f"{len(extra)} copies nobody was told about (only {failed} failures)")
    revisions = [runtime["revision"] for runtime in listed]
    if len(set(revisions)) != len(revisions):
        problems.append("two runtimes share a revision")
    for entry in written:
        if any(b <= a for a, b in zip(entry.revisions, entry.revisions[1:], strict=False)):
            problems.append(
                f"revisions of {entry.name!r} did not strictly increase: {entry.revisions}"
            )
            break
        current = by_id.get(entry.id)
        if current is None:
            continue
        if entry.max_memory is not None and current["maxMemory"] != entry.max_memory:
            problems.append(
                f"{entry.name!r} holds maxMemory {current['maxMemory']}, "
                f"the last acknowledged update set {entry.max_memory}"
            )
            break
    # Copies are listed in the order they were committed; their copy revisions must follow it.
    position = {runtime["id"]: i for i, runtime in enumerate(listed)}
    in_commit_order = sorted((w for w in written if w.id in position), key=lambda w: position[w.id])
    stamps = [w.copy_revision for w in in_commit_order]
    if any(b <= a for a, b in zip(stamps, stamps[1:], strict=False)):
        problems.append("copy revisions do not strictly increase in commit order")
    return problems
