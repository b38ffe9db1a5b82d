"""Crash consistency: ``kill -9`` the whole server mid-load, restart it on the same state.

Every copy that got a success answer must be there after the restart, the
state file must pass SQLite's integrity check with every row a whole runtime,
and the restarted server must answer at once.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import servers
from bench.reliability.client import Admin
from mockserver.runtimes.model import Runtime


@dataclass
class CrashReport:
    cycles: int = 0
    copies_acknowledged: int = 0
    requests_cut_by_kill: int = 0
    committed_unacknowledged: int = 0
    rows_checked: int = 0
    restart_seconds_max: float = 0.0
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list, repr=False)
    journals: list[str] = field(default_factory=list, repr=False)


def run_crash(
    workdir: Path,
    *,
    cycles: int,
    client_threads: int = 4,
    min_seconds: float = 0.5,
    max_seconds: float = 2.0,
    seed: int = 8,
    users: Path | None = None,
    credentials: tuple[str, str] = ("admin", "admin1234"),
) -> CrashReport:
    """``cycles`` rounds of load, SIGKILL at a random moment, restart, check."""
    rng = random.Random(seed)
    state = workdir / "crash.sqlite3"
    log = workdir / "crash.log"
    report = CrashReport()
    acknowledged: dict[str, str] = {}
    for cycle in range(cycles):
        server = servers.emulator(log, state=state, users=users).start()
        token = servers.token(server.origin, *credentials)
        report.tokens.append(token)
        stop = threading.Event()
        lock = threading.Lock()
        cut = [0]

        def load(
            thread: int, cycle=cycle, server=server, token=token, stop=stop, lock=lock, cut=cut
        ):
            admin = Admin(server.origin, token, timeout=10)
            i = 0
            while not stop.is_set():
                name = f"crash c{cycle} t{thread} #{i}"
                i += 1
                try:
                    answer = admin.copy(name)
                except requests.RequestException:
                    with lock:
                        cut[0] += 1
                    continue
                if answer.ok:
                    with lock:
                        acknowledged[answer.body["notebookRuntime"]["id"]] = name

        threads = [threading.Thread(target=load, args=(t,)) for t in range(client_threads)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(min_seconds, max_seconds))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        report.requests_cut_by_kill += cut[0]

        report.problems += check_state_file(state, report)
        restarted_at = time.monotonic()
        server = servers.emulator(log, state=state, users=users).start()
        report.restart_seconds_max = max(
            report.restart_seconds_max, time.monotonic() - restarted_at
        )
        try:
            token = servers.token(server.origin, *credentials)
            report.tokens.append(token)
            listed = Admin(server.origin, token, timeout=120).list()
            report.journals.append(servers.journal(server.origin))
        finally:
            server.stop()
        ids = [runtime["id"] for runtime in listed]
        missing = [name for rid, name in acknowledged.items() if rid not in ids]
        if missing:
            report.problems.append(
                f"cycle {cycle}: {len(missing)} acknowledged copies lost, e.g. {missing[0]!r}"
            )
        if len(set(ids)) != len(ids):
            report.problems.append(f"cycle {cycle}: an id is listed twice after restart")
        report.committed_unacknowledged = sum(
            1 for runtime in listed if runtime["copied"] and runtime["id"] not in acknowledged
        )
        report.cycles += 1
    report.copies_acknowledged = len(acknowledged)
    return report


def check_state_file(state: Path, report: CrashReport) -> list[str]:
    """SQLite's own integrity check, then every row parsed as a whole runtime."""
    problems = []
    db = sqlite3.connect(state)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            problems.append(f"integrity_check after kill -9: {verdict}")
        rows = db.execute("SELECT id, revision, body FROM runtimes").fetchall()
    finally:
        db.close()
    for runtime_id, revision, body in rows:
        report.rows_checked += 1
        try:
            runtime = Runtime.from_dict(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"half-written row {runtime_id}: {type(error).__name__}")
            continue
        if runtime.id != runtime_id or runtime.revision != revision:
            problems.append(f"row {runtime_id}: columns and body disagree")
    return problems
