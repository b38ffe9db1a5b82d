"""State that behaves like a server's: it persists, and concurrent writers lose nothing."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from mockserver import create_app
from mockserver.core import deployment
from mockserver.runtimes.releases import ADVANCED_ID
from tests.conftest import SEED_COPY, STANDARD_ID, Api

COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"


def test_state_file_keeps_runtimes_and_tokens_across_restarts(tmp_path):
    state = tmp_path / "state.sqlite3"
    first = Api(create_app(state=state))
    token = first.token()
    runtime = first.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    deployment.of(first.app).store.close()

    second = Api(create_app(state=state))
    # The token secret lives in the state too: a token survives the restart.
    assert second.get(f"notebooks/runtimes/{runtime['id']}", token) == runtime
    assert [r["id"] for r in second.runtimes(token)] == [STANDARD_ID, ADVANCED_ID, runtime["id"]]


def test_without_a_state_file_each_app_starts_fresh():
    first, second = Api(create_app()), Api(create_app())
    first.post(COPY, first.token(), **SEED_COPY)
    assert len(second.runtimes(second.token())) == 2


def test_concurrent_copies_are_all_kept_with_unique_ids_and_revisions(tmp_path):
    api = Api(create_app(state=tmp_path / "state.sqlite3"))
    token = api.token()

    def one_copy(i: int) -> dict:
        client = api.app.test_client()
        answer = client.post(
            f"/arcgis/admin/{COPY}",
            data={**SEED_COPY, "name": f"c{i}", "f": "json", "token": token},
        ).get_json(force=True)
        return answer["notebookRuntime"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        acknowledged = list(pool.map(one_copy, range(200)))

    stored = [r for r in api.runtimes(token) if r["copied"]]
    assert sorted(r["id"] for r in stored) == sorted(r["id"] for r in acknowledged)
    assert len({r["id"] for r in stored}) == 200
    assert len({r["revision"] for r in stored}) == 200
    # Listing is creation order, and creation order is revision order.
    revisions = [r["revision"] for r in stored]
    assert revisions == sorted(revisions)


def test_two_apps_on_one_state_file_share_runtimes_like_two_workers(tmp_path):
    state = tmp_path / "state.sqlite3"
    worker_a, worker_b = Api(create_app(state=state)), Api(create_app(state=state))
    token = worker_a.token()
    made = [worker_a.post(COPY, token, **SEED_COPY), worker_b.post(COPY, token, **SEED_COPY)]
    revisions = [answer["notebookRuntime"]["revision"] for answer in made]
    assert revisions[0] < revisions[1]
    assert len(worker_a.runtimes(token)) == len(worker_b.runtimes(token)) == 4


def test_seeded_ids_are_reproducible():
    def first_copy_id() -> str:
        api = Api(create_app(seed=7))
        return api.post(COPY, api.token(), **SEED_COPY)["notebookRuntime"]["id"]

    assert first_copy_id() == first_copy_id()


def test_a_sqlite_state_does_not_need_psycopg():
    """psycopg is an optional extra ([postgres]): SQLite users never import it."""
    code = (
        "import sys; from mockserver import create_app; create_app(); "
        "print('psycopg' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
