"""Sandboxes (issue 25), what mutmut's survivors in ``mockserver/sandboxes/`` showed untested:
a sandbox as every worker reads and serves it (its seed, users, profile, release), where
its state lives and that nothing of it stays on disk or open once it is gone, the
server's control token and profile in a sandbox, and how many sandbox apps a worker keeps.

In process, as tests/test_sandboxes_in_process.py: two apps on one state file are two
workers of one ``nbmock serve``. What a worker holds open is read from ``/proc/self/fd``
(Linux): a file a worker forgets to close is what a long-running server runs out of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from mockserver import create_app, sandboxes
from mockserver.auth.users import DEFAULT_PASSWORD, DEFAULT_USERNAME
from mockserver.core.clock import Clock
from mockserver.runtimes.releases import STANDARD_ID
from mockserver.sandboxes import apps
from mockserver.testing import IN_PROCESS_ORIGIN, InProcessEmulator, in_process
from tests import postgres
from tests.conftest import SEED_COPY

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads the open files from /proc/self/fd (Linux)"
)

SANDBOXES = f"{IN_PROCESS_ORIGIN}/__mock__/sandboxes"
DATA = Path(__file__).parent / "data"
FOREIGN = DATA / "foreign-deployment.json"
FOREIGN_DATA = json.loads(FOREIGN.read_text())
FOREIGN_IDS = [entry["runtime"]["id"] for entry in FOREIGN_DATA["runtimes"]["system"]]
ANN = {"ann": {"password": "pw-ann1", "role": "Administrator"}}


class _StoppedClock(Clock):
    """Wall time stands still, so that expiry is checked to the millisecond."""

    def now(self) -> float:
        return 1_800_000_000 + self.offset_seconds


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def workers(state):
    """Two workers of one server: two apps on one state file."""
    return in_process(state=str(state), max_sandboxes=5), in_process(
        state=str(state), max_sandboxes=5
    )


def _made(mock, **body) -> dict:
    answer = mock.session.post(SANDBOXES, json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _token(mock, sandbox: dict, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD):
    return (
        mock.session.post(
            f"{sandbox['url']}/sharing/rest/generateToken",
            data={"username": username, "password": password, "f": "json"},
            timeout=30,
        )
        .json()
        .get("token")
    )


def _runtime_ids(mock, sandbox: dict) -> list[str]:
    listed = mock.session.get(
        f"{sandbox['url']}/admin/notebooks/runtimes",
        params={"f": "json", "token": _token(mock, sandbox)},
        timeout=30,
    ).json()
    return [runtime["id"] for runtime in listed["runtimes"]]


def _health(mock, sandbox: dict) -> dict:
    answer = mock.session.get(f"{sandbox['controlUrl']}/health", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _open_files(marker: str) -> list[str]:
    """The files this process holds open whose path contains ``marker``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed since
            continue
        if marker in target:
            found.append(target)
    return sorted(found)


def _open_sandboxes(folder: Path) -> set[str]:
    """The ids of the sandboxes whose state this process holds open under ``folder``."""
    return {Path(path).name.split(".")[0] for path in _open_files(f"{folder}/")}


def _files_of(folder: Path, sandbox_id: str) -> list[str]:
    return sorted(p.name for p in folder.glob(f"{sandbox_id}*")) if folder.is_dir() else []


# --- a sandbox as every worker reads it ---------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seed": 7},
        {"seed": -(2**63)},
        {"users": ANN},
        {"profile": FOREIGN_DATA},
        {"seed": 3, "users": ANN, "profile": FOREIGN_DATA, "release": "11.4"},
    ],
    ids=["defaults", "seed", "lowest-seed", "users", "profile", "all"],
)
def test_a_sandbox_is_described_alike_by_its_create_its_get_and_the_listing_on_every_worker(
    workers, body
):
    one, other = workers
    made = _made(one, **body)
    assert made["seed"] == body.get("seed")
    assert made["users"] == ("own" if "users" in body else "server")
    assert made["profile"] == ("own" if "profile" in body else "server")
    for worker in (one, other):
        assert worker.session.get(f"{SANDBOXES}/{made['id']}").json() == made
        assert worker.session.get(SANDBOXES).json()["sandboxes"] == [made]


@pytest.mark.parametrize(
    ("flavour", "release"), [("kubernetes", "11.4"), ("notebook-server", "10.7")]
)
def test_a_sandbox_serves_the_release_it_was_made_with_on_every_worker(workers, flavour, release):
    one, other = workers
    made = _made(one, flavour=flavour, release=release)
    for worker in (one, other):
        assert _health(worker, made)["release"] == release


def test_a_sandbox_serves_its_own_profile_and_users_on_every_worker(workers):
    one, other = workers
    made = _made(one, users=ANN, profile=FOREIGN_DATA)
    for worker in (other, one):
        assert _token(worker, made, DEFAULT_USERNAME, DEFAULT_PASSWORD) is None
        assert _token(worker, made, "ann", "pw-ann1")
        assert _health(worker, made)["profile"]["name"] == FOREIGN_DATA["name"]
        listed = worker.session.get(
            f"{made['url']}/admin/notebooks/runtimes",
            params={"f": "json", "token": _token(worker, made, "ann", "pw-ann1")},
        ).json()
        assert [runtime["id"] for runtime in listed["runtimes"]] == FOREIGN_IDS
    main = one.session.get(
        f"{one.admin_url}/notebooks/runtimes", params={"f": "json", "token": one.token()}
    ).json()["runtimes"]
    assert [runtime["id"] for runtime in main][0] == STANDARD_ID


def test_a_sandbox_without_a_profile_serves_the_servers_only_when_of_its_flavour():
    mock = in_process(max_sandboxes=3, profile=str(FOREIGN))
    same = _made(mock)
    assert same["profile"] == "server"
    assert _runtime_ids(mock, same) == FOREIGN_IDS
    assert _health(mock, same)["profile"]["name"] == FOREIGN_DATA["name"]
    other = _made(mock, flavour="notebook-server")
    assert (other["flavour"], other["profile"]) == ("notebook-server", "server")
    assert _health(mock, other)["profile"] is None
    plain = in_process(flavour="notebook-server")
    assert _runtime_ids(mock, other) == _runtime_ids(plain, {"url": plain.url})


# --- what a sandbox takes from the server, and what it may not do --------------------------


def test_a_sandboxs_control_plane_asks_for_the_servers_control_token():
    mock = in_process(max_sandboxes=3, control_token="ctl-secret-1")
    with_token = {"X-Nbmock-Control-Token": "ctl-secret-1"}
    made = mock.session.post(SANDBOXES, json={}, headers=with_token).json()
    for verb in ("clock", "journal", "faults", "state"):
        refused = mock.session.get(f"{made['controlUrl']}/{verb}")
        assert refused.status_code == 401, (verb, refused.text)
        assert refused.json()["messages"] == [
            "A valid control token is required (X-Nbmock-Control-Token header)."
        ]
        assert mock.session.get(f"{made['controlUrl']}/{verb}", headers=with_token).ok


def test_a_sandbox_makes_no_sandboxes_of_its_own():
    mock = in_process(max_sandboxes=3)
    made = _made(mock)
    nested = mock.session.post(f"{made['controlUrl']}/sandboxes", json={})
    assert nested.status_code == 404
    assert [s["id"] for s in mock.session.get(SANDBOXES).json()["sandboxes"]] == [made["id"]]


def test_a_sandbox_is_gone_from_the_listing_from_its_expiry_millisecond():
    mock = in_process(max_sandboxes=3, clock=_StoppedClock())
    made = _made(mock, ttl_seconds=60)
    mock.advance_clock(59.999)
    assert [s["id"] for s in mock.session.get(SANDBOXES).json()["sandboxes"]] == [made["id"]]
    mock.advance_clock(0.001)
    assert mock.session.get(SANDBOXES).json()["sandboxes"] == []


# --- where a sandbox's state lives ---------------------------------------------------------


def test_a_sandbox_keeps_its_state_beside_the_main_state_file_from_the_moment_it_is_made(
    workers, state, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    one, other = workers
    made = _made(one, seed=5)
    folder = Path(f"{state}.sandboxes")
    assert (folder / f"{made['id']}.sqlite3").is_file()
    assert not list(Path.cwd().glob(f"{made['id']}*"))
    # What one worker wrote in the sandbox, the other serves.
    token = _token(one, made)
    copied = one.session.post(
        f"{made['url']}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "name": "shared", "f": "json", "token": token},
    ).json()["notebookRuntime"]
    assert copied["id"] in _runtime_ids(other, made)


# --- nothing of a sandbox stays behind -----------------------------------------------------


def test_a_deleted_sandbox_leaves_no_file_on_disk_and_none_open_on_any_worker(workers, state):
    one, other = workers
    folder = Path(f"{state}.sandboxes")
    made = _made(one)
    # Both workers serve it, so both hold its files (the database, its WAL, the lock) open.
    assert _health(other, made)["context"] == made["context"]
    assert _health(one, made)["context"] == made["context"]
    assert _files_of(folder, made["id"])
    assert mock_delete(one, made["id"]).status_code == 200
    assert _files_of(folder, made["id"]) == []
    # The other worker lets go of it at its next request, whatever that request is.
    assert other.session.get(SANDBOXES).json()["sandboxes"] == []
    assert _open_files(made["id"]) == []
    # A worker that never opened a sandbox deletes it all the same.
    unopened = _made(one)
    assert mock_delete(other, unopened["id"]).status_code == 200
    assert _files_of(folder, unopened["id"]) == []
    assert one.session.get(SANDBOXES).json()["sandboxes"] == []
    assert _open_files(unopened["id"]) == []


def mock_delete(mock, sandbox_id: str):
    return mock.session.delete(f"{SANDBOXES}/{sandbox_id}", timeout=30)


def test_a_deleted_sandbox_is_closed_by_the_worker_that_deleted_it_before_it_answers(state):
    mock = in_process(state=str(state), max_sandboxes=3)
    made = _made(mock)
    _health(mock, made)
    assert mock_delete(mock, made["id"]).status_code == 200
    assert _open_files(made["id"]) == []


def test_a_sandboxs_requests_open_no_more_files_however_many_there_are(workers):
    one, other = workers
    made = _made(one)
    for worker in (one, other):
        _health(worker, made)
        held = _open_files(made["id"])
        for _ in range(10):
            _health(worker, made)
            assert _runtime_ids(worker, made)
        assert _open_files(made["id"]) == held


def test_a_create_refused_at_max_sandboxes_leaves_no_file_on_disk_and_none_open(state):
    mock = in_process(state=str(state), max_sandboxes=1)
    folder = Path(f"{state}.sandboxes")
    made = _made(mock)
    before = sorted(p.name for p in folder.iterdir())
    for _ in range(3):
        assert mock.session.post(SANDBOXES, json={}).status_code == 429
    assert sorted(p.name for p in folder.iterdir()) == before
    assert _open_sandboxes(folder) == {made["id"]}


class _Broken(Exception):
    """Stands for what no request can cause: a full disk, a database gone away."""


@pytest.mark.parametrize("step", ["build", "registration"])
def test_a_create_that_fails_halfway_leaves_no_file_on_disk_and_none_open(state, step):
    app = create_app(state=str(state), max_sandboxes=3)
    registry = sandboxes.of(app)
    folder = Path(f"{state}.sandboxes")
    if step == "build":
        # The sandbox's app fails once its state is open (create_app closes it again).
        registry.factory = lambda settings: create_app(settings, users=str(folder / "missing"))
    else:

        def add(sandbox, **_):
            raise _Broken("the registry cannot be written")

        registry.records.add = add
    mock = InProcessEmulator(app)
    with pytest.raises(Exception):  # noqa: B017 - whichever the failure, it propagates
        registry.create(
            release="12.1",
            flavour="kubernetes",
            seed=None,
            ttl_seconds=60,
            users=None,
            limit=3,
            profile=None,
        )
    assert sorted(p.name for p in folder.iterdir()) == []
    assert _open_sandboxes(folder) == set()
    assert mock.session.get(SANDBOXES).json()["sandboxes"] == []


def test_a_worker_keeps_its_most_recently_used_sandboxes_open_and_reopens_the_others(
    state, monkeypatch
):
    monkeypatch.setattr(apps, "MAX_LIVE_APPS", 3)
    mock = in_process(state=str(state), max_sandboxes=6)
    folder = Path(f"{state}.sandboxes")
    made = [_made(mock) for _ in range(5)]
    assert _open_sandboxes(folder) == {s["id"] for s in made[2:]}
    # The first one is reopened from its state: its clock kept where it was moved.
    moved = mock.session.post(f"{made[0]['controlUrl']}/clock", json={"advance_seconds": 60})
    assert moved.json()["offsetSeconds"] == 60
    assert _open_sandboxes(folder) == {s["id"] for s in (made[0], made[3], made[4])}
    for sandbox in made[1:3]:
        assert _health(mock, sandbox)["context"] == sandbox["context"]
    assert _open_sandboxes(folder) == {s["id"] for s in made[:3]}
    assert mock.session.get(f"{made[0]['controlUrl']}/clock").json()["offsetSeconds"] == 60


# --- at exit -------------------------------------------------------------------------------

_AT_EXIT = textwrap.dedent(
    """
    import json, os, shutil
    from mockserver.testing import IN_PROCESS_ORIGIN, in_process

    folders = []
    for _ in range(2):
        mock = in_process(max_sandboxes=1)
        made = mock.session.post(IN_PROCESS_ORIGIN + "/__mock__/sandboxes", json={}).json()
        mock.session.get(made["controlUrl"] + "/health")
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if made["id"] in target:
                folders.append(os.path.dirname(target))
                break
    # Something else (a temp cleaner) removed the second server's scratch folder already.
    shutil.rmtree(folders[1])
    print(json.dumps(folders))
    """
)


def test_an_in_memory_servers_sandboxes_live_in_a_temp_folder_removed_at_exit_quietly():
    mock = in_process(max_sandboxes=3)
    made = _made(mock)
    _health(mock, made)
    folders = {Path(path).parent for path in _open_files(f"{made['id']}.sqlite3")}
    assert len(folders) == 1
    (folder,) = folders
    assert folder.parent == Path(tempfile.gettempdir()).resolve()
    assert folder.name.startswith("nbmock-sandboxes-")
    # At exit, in a process of its own: the folder goes, and without a word when
    # something else (a temp cleaner) removed it already.
    done = subprocess.run(
        [sys.executable, "-c", _AT_EXIT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    scratch = json.loads(done.stdout)
    assert len(scratch) == 2
    assert [os.path.exists(folder) for folder in scratch] == [False, False]
    assert done.stderr == ""


# --- over PostgreSQL ---------------------------------------------------------------------

_NO_POSTGRES = postgres.unavailable()


@pytest.fixture(scope="module")
def cluster():
    if _NO_POSTGRES:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI must run the PostgreSQL tests, but: {_NO_POSTGRES}")
        pytest.skip(f"PostgreSQL: {_NO_POSTGRES}")
    with postgres.cluster() as started:
        yield started


@pytest.fixture
def database(cluster, request) -> str:
    return cluster.fresh_database(f"s_{request.node.name[-40:].lower()}")


def _schemas(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT schema_name FROM information_schema.schemata"
            " WHERE schema_name LIKE 'sandbox%' ORDER BY 1"
        ).fetchall()
    return [name for (name,) in rows]


def _connections(url: str) -> int:
    """The sessions open on ``url``'s database, this count's own left out."""
    import psycopg

    with psycopg.connect(url) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return count


def test_over_postgresql_a_sandbox_keeps_its_state_in_its_own_schema_dropped_with_it(
    database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    mock = in_process(state=database, max_sandboxes=3)
    made = _made(mock)
    assert _schemas(database) == [f"sandbox_{made['id']}"]
    assert _health(mock, made)["context"] == made["context"]
    assert list(tmp_path.iterdir()) == []
    assert _open_files(made["id"]) == []
    assert mock_delete(mock, made["id"]).status_code == 200
    assert _schemas(database) == []


def test_over_postgresql_a_worker_holds_a_connection_for_each_sandbox_it_keeps_open(
    database, monkeypatch
):
    monkeypatch.setattr(apps, "MAX_LIVE_APPS_DATABASE", 2)
    mock = in_process(state=database, max_sandboxes=5)
    alone = _connections(database)
    made = [_made(mock) for _ in range(4)]
    for sandbox in made:
        assert _health(mock, sandbox)["context"] == sandbox["context"]
    assert _connections(database) == alone + 2
