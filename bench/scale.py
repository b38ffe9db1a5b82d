"""How cost grows with the number of stored runtimes, and the in-process ceiling.

A state file is pre-filled through the store (one transaction, the same rows
``copy`` writes) rather than by 100,000 HTTP calls; the server is then started
on it as a user would and timed with sequential requests.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import servers
from mockserver import create_app, testing
from mockserver.core import deployment
from mockserver.runtimes import model


def prefill(path: Path, total: int) -> int:
    """Make ``path`` a state holding ``total`` runtimes (the system ones included)."""
    app = create_app(state=path)
    dep = deployment.of(app)
    source = dep.runtimes.get(servers.STANDARD_ID)
    with dep.store.transaction() as tx:
        existing = len(tx.list_runtimes())
        sequence = int(tx.get_meta("id_sequence", "0"))
        for _ in range(total - existing):
            sequence += 1
            new_id, property_id = dep.runtimes.ids.for_sequence(sequence)
            params = {**servers.SEED_COPY, "name": f"bench runtime {sequence}"}
            runtime = model.copy_of(source, params, new_id=new_id, property_id=property_id)
            runtime.revision = tx.next_revision(dep.clock.now_ms())
            tx.insert_runtime(runtime.to_dict(), source_id=source.id)
        tx.set_meta("id_sequence", str(sequence))
    count = len(dep.store.list_runtimes())
    dep.store.close()
    return count


@dataclass(frozen=True)
class SizeFigures:
    stored: int
    copy_p50_ms: float
    copy_p99_ms: float
    list_p50_ms: float
    list_max_ms: float
    list_bytes: int
    rss_mib: float


def _timed(call, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure_size(workdir: Path, stored: int, *, copies: int = 200) -> SizeFigures:
    state = workdir / f"scale-{stored}.sqlite3"
    prefill(state, stored)
    with servers.emulator(workdir / "scale.log", state=state) as server:
        session = requests.Session()
        token = servers.token(server.origin)
        admin = f"{server.origin}/arcgis/admin/notebooks/runtimes"

        def copy() -> None:
            answer = session.post(
                f"{admin}/{servers.STANDARD_ID}/copy",
                data={**servers.SEED_COPY, "f": "json", "token": token},
                timeout=60,
            ).json()
            if answer.get("status") != "success":
                raise RuntimeError(f"copy refused: {answer.get('messages')}")

        sizes = []

        def listing() -> None:
            response = session.get(admin, params={"f": "json", "token": token}, timeout=300)
            sizes.append(len(response.content))
            if "runtimes" not in response.json():
                raise RuntimeError("list refused")

        lists = 100 if stored <= 1000 else 5
        list_times = _timed(listing, lists)
        copy_times = _timed(copy, copies)
        rss = server.rss_bytes()
    return SizeFigures(
        stored=stored,
        copy_p50_ms=statistics.median(copy_times),
        copy_p99_ms=_p99(copy_times),
        list_p50_ms=statistics.median(list_times),
        list_max_ms=max(list_times),
        list_bytes=sizes[-1],
        rss_mib=rss / 2**20,
    )


@dataclass(frozen=True)
class InProcessFigures:
    storage: str
    copy_ops: float
    get_ops: float
    list_ops: float


def in_process(storage: str, workdir: Path, *, seconds: float = 2.0) -> InProcessFigures:
    """Operations per second through Flask's test client: what bounds the contract kit."""

    def app_for(label: str):
        state = workdir / f"inproc-{label}.sqlite3" if storage == "file" else None
        return create_app(state=state)

    rates = {}
    for operation in ("copy", "get", "list"):
        client = app_for(operation).test_client()
        token = client.post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
        ).get_json(force=True)["token"]
        call = _in_process_call(client, operation, token)
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            response = call()
            if response.status_code != 200 or b'"error"' in response.data:
                raise RuntimeError(f"in-process {operation} refused")
            done += 1
        rates[operation] = done / (time.perf_counter() - start)
    return InProcessFigures(storage, rates["copy"], rates["get"], rates["list"])


def _in_process_call(client, operation: str, token: str):
    base = "/arcgis/admin/notebooks/runtimes"
    query = {"f": "json", "token": token}
    if operation == "copy":
        form = {**servers.SEED_COPY, "f": "json", "token": token}
        return lambda: client.post(f"{base}/{servers.STANDARD_ID}/copy", data=form)
    if operation == "get":
        return lambda: client.get(f"{base}/{servers.STANDARD_ID}", query_string=query)
    return lambda: client.get(base, query_string=query)


def fixture_rates(*, seconds: float = 2.0) -> InProcessFigures:
    """Calls per second through the pytest fixture ``arcgis_mock`` as a test makes them:
    ``mockserver.testing.in_process()`` (what the fixture is built on) and its
    ``requests`` session, reset before each operation as the fixture resets before
    each test."""
    emulator = testing.in_process()
    try:
        admin = f"{emulator.admin_url}/notebooks/runtimes"
        session = emulator.session
        rates = {}
        for operation in ("copy", "get", "list"):
            emulator.control("POST", "reset", {"seed": None})
            auth = {"X-Esri-Authorization": f"Bearer {emulator.token()}"}
            if operation == "copy":
                form = {**servers.SEED_COPY, "f": "json"}

                def call(form=form, auth=auth):
                    return session.post(
                        f"{admin}/{servers.STANDARD_ID}/copy", data=form, headers=auth
                    )
            else:
                url = f"{admin}/{servers.STANDARD_ID}" if operation == "get" else admin

                def call(url=url, auth=auth):
                    return session.get(url, params={"f": "json"}, headers=auth)

            done = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                response = call()
                if response.status_code != 200 or b'"error"' in response.content:
                    raise RuntimeError(f"arcgis_mock {operation} refused")
                done += 1
            rates[operation] = done / (time.perf_counter() - start)
    finally:
        emulator.session.close()
        deployment.of(emulator.app).close()
    return InProcessFigures("arcgis_mock fixture", rates["copy"], rates["get"], rates["list"])
