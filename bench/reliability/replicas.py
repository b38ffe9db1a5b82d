"""Replicas over PostgreSQL (issue 15): ``nbmock serve`` processes sharing one database.

Three checks, each bounded in count and time, on 127.0.0.1 only:

- ``run_replica_kill``: copies through two replicas, ``kill -9`` one (master and
  workers at once) mid-load; every acknowledged copy must be listed by the
  survivor, and by the killed replica once restarted.
- ``run_database_restart``: load on one replica while the database stops and
  starts again; answers meanwhile must be the clear 503 (never an HTTP 500
  or a trace), health must say 503, and the replica must recover by itself
  with every acknowledged copy kept.
- ``run_cross_replica_copies``: concurrent copies through two replicas; ids
  unique, and revisions strictly increasing in creation order.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import servers
from bench.reliability.client import Admin


def _listed(origin: str, token: str) -> list[dict]:
    answer = requests.get(
        f"{origin}/arcgis/admin/notebooks/runtimes",
        params={"f": "json", "token": token},
        timeout=60,
    ).json()
    return answer["runtimes"]


@dataclass
class KillReport:
    copies_acknowledged: int = 0
    acknowledged_by_victim: int = 0
    requests_cut_by_kill: int = 0
    lost: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list, repr=False)


def run_replica_kill(
    workdir: Path,
    url: str,
    *,
    client_threads: int = 6,
    seconds_before: float = 3.0,
    seconds_after: float = 2.0,
    users: Path | None = None,
    credentials: tuple[str, str] = ("admin", "admin1234"),
) -> KillReport:
    report = KillReport()
    started = time.monotonic()
    victim = servers.emulator(workdir / "replica-victim.log", state=url, users=users).start()
    survivor = servers.emulator(workdir / "replica-survivor.log", state=url, users=users).start()
    try:
        token = servers.token(survivor.origin, *credentials)
        report.tokens.append(token)
        acknowledged: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()
        cut = Counter()

        def load(index: int) -> None:
            server = victim if index % 2 == 0 else survivor
            admin = Admin(server.origin, token)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    answer = admin.copy(f"kill {index}-{n}")
                except requests.RequestException:
                    cut[server.name] += 1
                    if server is victim:
                        time.sleep(0.05)
                    continue
                if answer.ok:
                    with lock:
                        acknowledged[answer.body["notebookRuntime"]["id"]] = (
                            "victim" if server is victim else "survivor"
                        )

        victim.name, survivor.name = "victim", "survivor"
        threads = [threading.Thread(target=load, args=(i,)) for i in range(client_threads)]
        for thread in threads:
            thread.start()
        time.sleep(seconds_before)
        victim.kill()
        time.sleep(seconds_after)
        stop.set()
        for thread in threads:
            thread.join()
        report.copies_acknowledged = len(acknowledged)
        report.acknowledged_by_victim = sum(1 for v in acknowledged.values() if v == "victim")
        report.requests_cut_by_kill = cut["victim"]
        listed = {runtime["id"] for runtime in _listed(survivor.origin, token)}
        missing = set(acknowledged) - listed
        report.lost = len(missing)
        if missing:
            report.problems.append(f"{len(missing)} acknowledged copies missing on the survivor")
        if not report.acknowledged_by_victim:
            report.problems.append("the victim acknowledged no copy before the kill")
        victim.start()
        again = {runtime["id"] for runtime in _listed(victim.origin, token)}
        if set(acknowledged) - again:
            report.problems.append("acknowledged copies missing on the restarted replica")
    finally:
        victim.stop()
        survivor.stop()
    report.seconds = round(time.monotonic() - started, 1)
    return report


@dataclass
class RestartReport:
    requests: int = 0
    by_outcome: Counter = field(default_factory=Counter)
    http_500: int = 0
    traces: int = 0
    health_during: int = 0
    seconds_down: float = 0.0
    seconds_to_recover: float = 0.0
    copies_acknowledged: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list, repr=False)


def run_database_restart(
    workdir: Path,
    cluster,
    url: str,
    *,
    client_threads: int = 4,
    seconds_down: float = 3.0,
    users: Path | None = None,
    credentials: tuple[str, str] = ("admin", "admin1234"),
) -> RestartReport:
    report = RestartReport()
    server = servers.emulator(workdir / "replica-restart.log", state=url, users=users).start()
    try:
        token = servers.token(server.origin, *credentials)
        report.tokens.append(token)
        acknowledged: set[str] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def load(index: int) -> None:
            admin = Admin(server.origin, token)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = admin.session.post(
                        f"{admin.base}/{servers.STANDARD_ID}/copy",
                        data={**servers.SEED_COPY, "name": f"r {index}-{n}", "f": "json",
                              "token": token},
                        timeout=60,
                    )  # fmt: skip
                except requests.RequestException:
                    with lock:
                        report.by_outcome["connection error"] += 1
                    continue
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                with lock:
                    report.requests += 1
                    report.http_500 += response.status_code == 500
                    report.traces += "Traceback" in response.text
                    if response.status_code == 200 and body.get("status") == "success":
                        report.by_outcome["copied"] += 1
                        acknowledged.add(body["notebookRuntime"]["id"])
                    else:
                        report.by_outcome[f"HTTP {response.status_code}"] += 1
                time.sleep(0.01)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(client_threads)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        down = time.monotonic()
        cluster.pause()
        time.sleep(seconds_down / 2)
        report.health_during = requests.get(
            f"{server.origin}/__mock__/health", timeout=30
        ).status_code
        time.sleep(seconds_down / 2)
        cluster.resume()
        report.seconds_down = round(time.monotonic() - down, 1)
        back = time.monotonic()
        while time.monotonic() - back < 30:
            if requests.get(f"{server.origin}/__mock__/health", timeout=30).status_code == 200:
                break
            time.sleep(0.05)
        report.seconds_to_recover = round(time.monotonic() - back, 2)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
        report.copies_acknowledged = len(acknowledged)
        report.lost = len(acknowledged - {r["id"] for r in _listed(server.origin, token)})
    finally:
        server.stop()
    if report.http_500 or report.traces:
        report.problems.append(f"{report.http_500} HTTP 500s, {report.traces} traces")
    if report.health_during != 503:
        report.problems.append(
            f"health answered {report.health_during} while the database was down"
        )
    if not report.by_outcome.get("HTTP 503"):
        report.problems.append("no request met the outage (no 503)")
    if report.lost:
        report.problems.append(f"{report.lost} acknowledged copies lost")
    if report.seconds_to_recover >= 30:
        report.problems.append("the replica did not recover within 30 s")
    return report


@dataclass
class CrossReport:
    copies: int = 0
    unique_ids: int = 0
    unique_property_ids: int = 0
    revisions_increasing: bool = False
    copies_per_second: float = 0.0
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list, repr=False)


def run_cross_replica_copies(
    workdir: Path,
    url: str,
    *,
    client_threads: int = 16,
    copies_per_thread: int = 25,
    users: Path | None = None,
    credentials: tuple[str, str] = ("admin", "admin1234"),
) -> CrossReport:
    report = CrossReport()
    a = servers.emulator(workdir / "replica-a.log", state=url, users=users).start()
    b = servers.emulator(workdir / "replica-b.log", state=url, users=users).start()
    try:
        token = servers.token(a.origin, *credentials)
        report.tokens.append(token)

        def copies(index: int) -> list[dict]:
            admin = Admin((a, b)[index % 2].origin, token)
            made = []
            for n in range(copies_per_thread):
                answer = admin.copy(f"cross {index}-{n}")
                if answer.ok:
                    made.append(answer.body["notebookRuntime"])
                else:
                    report.problems.append(f"copy refused: {answer.body}")
            return made

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=client_threads) as pool:
            made = [copy for batch in pool.map(copies, range(client_threads)) for copy in batch]
        report.copies_per_second = round(len(made) / (time.monotonic() - started), 1)
        report.copies = len(made)
        report.unique_ids = len({copy["id"] for copy in made})
        report.unique_property_ids = len({copy["deploymentDefaultPropertyId"] for copy in made})
        listed = _listed(b.origin, token)
        revisions = [runtime["revision"] for runtime in listed if runtime.get("copied")]
        report.revisions_increasing = all(x < y for x, y in itertools.pairwise(revisions))
    finally:
        a.stop()
        b.stop()
    if report.unique_ids != report.copies or report.unique_property_ids != report.copies:
        report.problems.append("duplicate ids across replicas")
    if not report.revisions_increasing:
        report.problems.append("revisions do not strictly increase in creation order")
    return report
