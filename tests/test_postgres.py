"""State in PostgreSQL: replicas on one database are one deployment (issue 15).

A throwaway cluster is started from the machine's PostgreSQL binaries
(tests/postgres.py). Where that cannot be done the tests skip and say why,
except in CI (CI=true), where a missing PostgreSQL is a failure: .ci/run
installs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mockserver import create_app
from tests import postgres
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess

REASON = postgres.unavailable()
if REASON and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI must run the PostgreSQL tests, but: {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"PostgreSQL: {REASON}")

COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"


@pytest.fixture(scope="module")
def cluster() -> Iterator[postgres.Cluster]:
    with postgres.cluster() as started:
        yield started


@pytest.fixture
def database(cluster, request) -> str:
    """A fresh, empty database for one test."""
    return cluster.fresh_database(f"t_{request.node.name[:40].lower()}")


# --- the store, in process ---------------------------------------------------------


def test_placeholders_become_psycopg_ones_outside_string_literals():
    from mockserver.runtimes.pgstore import placeholders

    assert placeholders("SELECT a FROM t WHERE b = ? AND c = '?%'") == (
        "SELECT a FROM t WHERE b = %s AND c = '?%%'"
    )


def test_a_second_app_on_the_database_sees_the_first_ones_copy_and_token(database):
    first, second = Api(create_app(state=database)), Api(create_app(state=database))
    token = first.token()
    copied = first.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    # The token secret lives in the database: the second app takes the first one's token.
    ids = [runtime["id"] for runtime in second.runtimes(token)]
    assert copied["id"] in ids
    assert second.get(f"notebooks/runtimes/{copied['id']}", token)["id"] == copied["id"]


def test_control_plane_state_round_trips_through_postgres(database):
    api = Api(create_app(state=database))
    control = api.client
    token = api.token()
    api.post(COPY, token, **SEED_COPY)
    exported = control.get("/__mock__/state").get_json()
    assert control.post("/__mock__/reset").get_json()["status"] == "success"
    assert len(api.runtimes(token)) == 2
    assert control.post("/__mock__/state", json=exported).status_code == 200
    assert len(api.runtimes(api.token())) == 3
    journal = control.get("/__mock__/journal").get_json()
    assert journal["entries"], journal


def test_a_notebook_server_on_the_database_is_one_site_and_refuses_kubernetes(database):
    """The standalone flavour on PostgreSQL: two apps share what one registers and restores;
    the database then holds a Notebook Server, which a Kubernetes app refuses to serve."""
    first = Api(create_app(state=database, flavour="notebook-server"))
    second = Api(create_app(state=database, flavour="notebook-server"))
    token = first.token()
    registered = first.post(
        "notebooks/runtimes/register",
        token,
        name="Registered on PostgreSQL",
        imageId="c4" * 32,
        requiresAdvancedPrivileges="false",
        maxCPU="1",
        maxMemory="2",
        maxMemoryUnit="g",
    )["notebookRuntime"]
    assert registered["id"] in [runtime["id"] for runtime in second.runtimes(token)]
    assert second.post("notebooks/runtimes/restore", token) == {"status": "success"}
    assert registered["id"] not in [runtime["id"] for runtime in first.runtimes(token)]
    with pytest.raises(ValueError, match="notebook-server"):
        create_app(state=database)


def test_an_oauth_state_works_once_across_apps_on_the_database(database):
    from tests.test_signin_hardening import _authorize, _oauth_info, _sign_in

    first = create_app(state=database).test_client()
    second = create_app(state=database).test_client()
    info = _authorize(first, "http://localhost/cb", base_url="http://localhost")
    assert _sign_in(first, info["oauth_state"]).status_code == 302
    again = _sign_in(second, info["oauth_state"])
    assert "Location" not in again.headers
    assert "oauth_state" not in _oauth_info(again.get_data(as_text=True))


def test_wrong_passwords_on_two_apps_lock_the_account_on_both(database):
    from tests.test_signin_hardening import _token_answer

    first = create_app(state=database).test_client()
    second = create_app(state=database).test_client()
    for client in (first, second, first, second):
        assert "locked" not in _token_answer(client, password="nope")["error"]["details"][0]
    assert "locked" in _token_answer(second, password="nope")["error"]["details"][0]
    assert "locked" in _token_answer(first)["error"]["details"][0]


def test_deployments_in_their_own_schemas_of_one_database_do_not_share_state(database):
    from mockserver.runtimes.stores import remove_state_in_database, state_in_database

    first_url = state_in_database(database, "sandbox_one")
    first = Api(create_app(state=first_url))
    second = Api(create_app(state=state_in_database(database, "sandbox_two")))
    main = Api(create_app(state=database))
    token = first.token()
    first.post(COPY, token, **SEED_COPY)
    assert len(first.runtimes(token)) == 3
    # Each has its own token secret, so the first one's token means nothing elsewhere.
    answer = second.get("notebooks/runtimes", token)
    assert answer.get("code") == 498, answer
    assert len(second.runtimes(second.token())) == 2
    assert len(main.runtimes(main.token())) == 2
    remove_state_in_database(first_url)
    import psycopg

    with psycopg.connect(database) as db:
        schemas = {row[0] for row in db.execute("SELECT nspname FROM pg_namespace").fetchall()}
    assert "sandbox_two" in schemas and "sandbox_one" not in schemas


def every_migration_step() -> list[tuple[str, int]]:
    """Each component's schema steps, each recorded once: read from the components'
    own ``MIGRATIONS``, so a component or a step added later is expected too."""
    from mockserver.auth import store as signin
    from mockserver.control import store as control
    from mockserver.runtimes import store as runtimes
    from mockserver.sandboxes import store as sandboxes
    from mockserver.workload import store as workload

    components = {
        "control": control,
        "runtimes": runtimes,
        "sandboxes": sandboxes,
        "signin": signin,
        "workload": workload,
    }
    return sorted(
        (name, step)
        for name, module in components.items()
        for step in range(1, len(module.MIGRATIONS) + 1)
    )


def test_migrations_run_once_when_apps_start_together(database):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            create_app(state=database)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an app never finished starting"
    assert errors == []
    import psycopg

    with psycopg.connect(database) as db:
        rows = db.execute(
            "SELECT component, version FROM schema_migrations ORDER BY component, version"
        ).fetchall()
    assert rows == every_migration_step()


def test_a_sqlite_state_records_its_schema_version_too(tmp_path):
    create_app(state=tmp_path / "state.sqlite3")
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        rows = db.execute(
            "SELECT component, version FROM schema_migrations ORDER BY 1, 2"
        ).fetchall()
    assert rows == every_migration_step()


# --- replicas: several nbmock serve processes on one database --------------------------


def _replica(url: str, workers: int = 2) -> NbmockProcess:
    return NbmockProcess("--state", url, "--workers", str(workers), ready_path="/__mock__/health")


def _wait_until(condition, what: str, seconds: float = 120) -> None:
    """Wait for ``condition()``; fail the test, naming ``what``, if it is not met in time."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds:.0f} s")
        threading.Event().wait(0.05)


def _kill_replica(replica: NbmockProcess) -> None:
    """``kill -9`` the replica's gunicorn master and its workers at once, as a lost machine."""
    children = subprocess.run(
        ["pgrep", "-P", str(replica.process.pid)], capture_output=True, text=True, timeout=30
    ).stdout.split()
    for pid in [replica.process.pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def shared_url(cluster) -> str:
    return cluster.fresh_database("replicas")


@pytest.fixture(scope="module")
def replicas(shared_url) -> Iterator[list[NbmockProcess]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = list(pool.map(lambda _: _replica(shared_url), range(2)))
    yield started
    for replica in started:
        replica.process.send_signal(signal.SIGTERM)
    for replica in started:
        replica.stop()


def _copy(replica: NbmockProcess, token: str) -> dict:
    return requests.post(
        f"{replica.base}/admin/{COPY}", data={**SEED_COPY, "token": token, "f": "json"}, timeout=30
    ).json()


def _runtimes(replica: NbmockProcess, token: str) -> list[dict]:
    answer = requests.get(
        f"{replica.base}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
    ).json()
    return answer["runtimes"]


def test_a_token_from_one_replica_works_on_the_other(replicas):
    a, b = replicas
    token = a.token()
    assert len(_runtimes(b, token)) >= 2


def test_a_copy_made_on_one_replica_reads_on_the_other(replicas):
    a, b = replicas
    token = a.token()
    copied = _copy(a, token)["notebookRuntime"]
    answer = requests.get(
        f"{b.base}/admin/notebooks/runtimes/{copied['id']}",
        params={"f": "json", "token": token},
        timeout=30,
    ).json()
    assert answer["id"] == copied["id"]
    assert answer["revision"] == copied["revision"]


def test_concurrent_copies_across_replicas_have_unique_ids_and_increasing_revisions(replicas):
    a, b = replicas
    token = a.token()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda i: _copy(replicas[i % 2], token), range(40)))
    copies = [answer["notebookRuntime"] for answer in answers]
    assert len({copy["id"] for copy in copies}) == 40
    assert len({copy["deploymentDefaultPropertyId"] for copy in copies}) == 40
    listed = _runtimes(b, token)
    assert {copy["id"] for copy in copies} <= {runtime["id"] for runtime in listed}
    # The list is in creation order: each write's revision is above every earlier one's.
    revisions = [runtime["revision"] for runtime in listed if runtime.get("copied")]
    assert revisions == sorted(set(revisions)), revisions


def test_a_fault_for_one_request_fires_once_across_replicas(replicas):
    a, b = replicas
    token = a.token()
    rule = {"operation": "copy", "times": 1, "error": {"code": 500, "message": "injected once"}}
    assert requests.post(f"{a.origin}/__mock__/faults", json=rule, timeout=10).ok
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda i: _copy(replicas[i % 2], token), range(12)))
        failed = [answer for answer in answers if answer.get("status") == "error"]
        assert [answer["messages"] for answer in failed] == [["injected once"]]
        faults = requests.get(f"{b.origin}/__mock__/faults", timeout=10).json()["faults"]
        assert [(fault["remaining"], fault["matched"]) for fault in faults] == [(0, 1)]
    finally:
        requests.delete(f"{a.origin}/__mock__/faults", timeout=10)


def test_moving_the_clock_on_one_replica_moves_it_for_all(replicas):
    a, b = replicas
    token = a.token()
    moved = requests.post(f"{a.origin}/__mock__/clock", json={"advance_seconds": 3 * 86400})
    assert moved.ok, moved.text
    try:
        assert requests.get(f"{b.origin}/__mock__/clock", timeout=10).json()["offsetSeconds"] == (
            3 * 86400
        )
        # What a user notices: the token a replica gave three days ago has expired on the other.
        answer = requests.get(
            f"{b.base}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=10
        ).json()
        assert answer["code"] == 498, answer
    finally:
        requests.post(f"{a.origin}/__mock__/clock", json={"real": True}, timeout=10)


def test_killing_a_replica_under_load_loses_no_acknowledged_copy(shared_url, replicas):
    survivor = replicas[1]
    victim = _replica(shared_url)
    token = survivor.token()
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(replica: NbmockProcess) -> None:
        while not stop.is_set():
            try:
                answer = _copy(replica, token)
            except requests.RequestException:
                continue  # the victim is gone: its unanswered copies were never acknowledged
            if answer.get("status") == "success":
                acknowledged.append(answer["notebookRuntime"]["id"])

    threads = [threading.Thread(target=load, args=(r,)) for r in (victim, victim, survivor)]
    for thread in threads:
        thread.start()
    try:
        _wait_until(lambda: len(acknowledged) >= 30, "30 copies acknowledged before the kill")
        _kill_replica(victim)
        killed_at = len(acknowledged)
        _wait_until(
            lambda: len(acknowledged) >= killed_at + 10, "10 copies acknowledged after the kill"
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a load thread never stopped"
    victim.stop()
    listed = {runtime["id"] for runtime in _runtimes(survivor, token)}
    assert set(acknowledged) <= listed


# --- the database going away and coming back ---------------------------------------------


def test_requests_get_a_clear_error_while_the_database_is_down_and_recover(cluster):
    url = cluster.fresh_database("outage")
    replica = _replica(url, workers=1)
    try:
        token = replica.token()
        copied = _copy(replica, token)["notebookRuntime"]
        cluster.pause()
        try:
            answer = requests.get(
                f"{replica.base}/admin/notebooks/runtimes",
                params={"f": "json", "token": token},
                timeout=30,
            )
            assert answer.status_code == 503
            assert answer.json() == {
                "status": "error",
                "messages": [
                    "The emulator's state database is unavailable; try again when it is back."
                ],
                "code": 503,
            }
            health = requests.get(f"{replica.origin}/__mock__/health", timeout=30)
            assert health.status_code == 503
            assert health.json()["status"] == "error"
            portal = requests.post(
                f"{replica.base}/sharing/rest/generateToken",
                data={"username": "admin", "password": "admin1234", "f": "json"},
                timeout=30,
            )
            assert portal.status_code in (200, 503)
            assert "Traceback" not in answer.text + health.text + portal.text
        finally:
            cluster.resume()
        assert requests.get(f"{replica.origin}/__mock__/health", timeout=30).status_code == 200
        assert copied["id"] in {runtime["id"] for runtime in _runtimes(replica, token)}
    finally:
        output = replica.stop()
    assert "Traceback" not in output
    assert json.dumps(token) not in output


def test_the_first_request_after_a_database_restart_succeeds(cluster, database):
    api = Api(create_app(state=database))
    token = api.token()
    assert len(api.runtimes(token)) == 2  # the app's connection is open and used
    cluster.pause()
    cluster.resume()
    # Its old connection died with the restart; the request must not pay for that.
    assert len(api.runtimes(token)) == 2


def test_a_sandbox_made_on_one_replica_is_served_by_the_other(shared_url, replicas):
    a, b = replicas
    made = requests.post(f"{a.origin}/__mock__/sandboxes", json={"release": "11.5"}, timeout=60)
    assert made.status_code == 201, made.text
    sandbox = made.json()
    on_b = f"{b.origin}/{sandbox['context']}"
    token = requests.post(
        f"{on_b}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
        timeout=30,
    ).json()["token"]
    copied = requests.post(
        f"{sandbox['url']}/admin/{COPY}", data={**SEED_COPY, "token": token, "f": "json"}
    ).json()["notebookRuntime"]
    listing = requests.get(
        f"{on_b}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
    ).json()
    assert listing["currentRuntimeVersion"] == "12.0"  # 11.5's runtimes
    assert copied["id"] in {runtime["id"] for runtime in listing["runtimes"]}
    # The main deployment, on the same database, has none of it.
    assert _runtimes(a, a.token()) and copied["id"] not in {
        r["id"] for r in _runtimes(a, a.token())
    }
    listed = requests.get(f"{b.origin}/__mock__/sandboxes", timeout=30).json()["sandboxes"]
    assert sandbox["id"] in [item["id"] for item in listed]
    gone = requests.delete(f"{b.origin}/__mock__/sandboxes/{sandbox['id']}", timeout=30)
    assert gone.ok, gone.text
    for replica in (a, b):
        after = requests.get(
            f"{replica.origin}/{sandbox['context']}/admin/notebooks/runtimes",
            params={"f": "json", "token": token},
            timeout=30,
        )
        assert after.status_code == 404
    import psycopg

    with psycopg.connect(shared_url) as db:
        schemas = {row[0] for row in db.execute("SELECT nspname FROM pg_namespace").fetchall()}
    assert f"sandbox_{sandbox['id']}" not in schemas
