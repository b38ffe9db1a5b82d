"""The Kubernetes notebooks resource over HTTP, in process: what an administrator's script sees.

Notebooks and items are seeded through the workload backend (the control plane's
routes are tested in test_workload_control.py); everything else goes through the
emulated API, and time moves only when a test moves the clock.
"""

from __future__ import annotations

import pytest
import requests

from mockserver import create_app
from mockserver.core import deployment, messages
from mockserver.core.clock import Clock
from mockserver.runtimes.releases import ADVANCED_ID, STANDARD_ID
from tests.conftest import SEED_COPY, Api
from tests.nbmock_process import NbmockProcess

HOUR = 3600
USERS = (
    '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
    '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
    '[users.bob]\npassword = "bob-pw-1"\nrole = "Publisher"\n'
)


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(USERS)
    return path


def make(users_file, release_name: str = "12.1") -> tuple[Api, object]:
    app = create_app(users=users_file, clock=Clock(), release_name=release_name)
    return Api(app), deployment.of(app).workload


@pytest.fixture
def setup(users_file):
    return make(users_file)


def seed(workload, *specs: tuple[str, float]):
    """Open notebooks for (username, idle hours) on the Standard runtime."""
    return workload.seed_notebooks(
        [
            {"username": user, "runtimeId": STANDARD_ID, "idleSeconds": hours * HOUR}
            for user, hours in specs
        ]
    )


def error(answer: dict) -> tuple[int, list[str]]:
    assert answer["status"] == "error", answer
    return answer["code"], answer["messages"]


# --- reading ---------------------------------------------------------------------------------


def test_notebooks_lists_open_notebooks_in_the_docs_shape(setup):
    api, workload = setup
    token = api.token()
    (seeded,) = seed(workload, ("alice", 2))
    answer = api.get("notebooks", token)
    assert list(answer) == ["operations", "notebooks", "resources"]
    (listed,) = answer["notebooks"]
    assert list(listed) == [
        "itemId",
        "notebookUrl",
        "itemTitle",
        "dateLastActivity",
        "id",
        "notebookDeploymentId",
        "username",
        "revision",
    ]
    assert listed["id"] == seeded.id and listed["username"] == "alice"
    assert isinstance(listed["dateLastActivity"], int)  # epoch ms, a number [doc]
    assert api.clock.now_ms() - listed["dateLastActivity"] == pytest.approx(
        2 * HOUR * 1000, abs=10_000
    )
    assert api.get(f"notebooks/{seeded.id}", token) == listed


def test_idle_notebooks_close_by_themselves_as_the_clock_passes_the_threshold(setup):
    api, workload = setup
    token = api.token()
    seed(workload, ("alice", 11), ("bob", 1))
    assert len(api.get("notebooks", token)["notebooks"]) == 2
    api.clock.advance(HOUR + 1)  # alice's passes 12 h idle [doc: idleNotebookThreshold 720]
    token = api.token()  # the first one expired with the hour
    assert [nb["username"] for nb in api.get("notebooks", token)["notebooks"]] == ["bob"]
    api.clock.advance(11 * HOUR)
    assert api.get("notebooks", api.token())["notebooks"] == []


def test_pjson_and_html_and_a_bad_format(setup):
    api, workload = setup
    token = api.token()
    seed(workload, ("alice", 0))
    pretty = api.client.get("/arcgis/admin/notebooks", query_string={"f": "pjson", "token": token})
    assert b"\n  " in pretty.data
    page = api.client.get("/arcgis/admin/notebooks", query_string={"token": token})
    assert page.mimetype == "text/html" and b"alice" in page.data
    assert error(api.get("notebooks", token, f="xml"))[0] == 400


def test_without_a_token_or_with_a_bad_one(setup):
    api, _ = setup
    assert error(api.get("notebooks/deployments"))[0] == 499
    assert error(api.get("notebooks/jobs", "nonsense"))[0] == 498


# --- closing and terminating ------------------------------------------------------------------


def test_close_notebook_then_it_is_gone(setup):
    api, workload = setup
    token = api.token()
    first, second = seed(workload, ("alice", 0), ("alice", 0))
    assert api.post(f"notebooks/{first.id}/closeNotebook", token) == {"status": "success"}
    assert [nb["id"] for nb in api.get("notebooks", token)["notebooks"]] == [second.id]
    code, (message,) = error(api.get(f"notebooks/{first.id}", token))
    assert (code, message) == (404, messages.NOTEBOOK_NOT_FOUND.format(id=first.id))
    assert error(api.post(f"notebooks/{first.id}/closeNotebook", token))[0] == 404


def test_close_is_post_only_for_json(setup):
    api, workload = setup
    token = api.token()
    (notebook,) = seed(workload, ("alice", 0))
    assert error(api.get(f"notebooks/{notebook.id}/closeNotebook", token))[0] == 405
    page = api.client.get(
        f"/arcgis/admin/notebooks/{notebook.id}/closeNotebook", query_string={"token": token}
    )
    assert page.mimetype == "text/html" and b"closeNotebook" in page.data
    assert len(api.get("notebooks", token)["notebooks"]) == 1  # the page closed nothing


def test_deployments_and_terminate_closes_every_notebook_in_it(setup):
    api, workload = setup
    token = api.token()
    alices = seed(workload, ("alice", 0), ("alice", 1))
    (bobs,) = seed(workload, ("bob", 0))
    deployments = api.get("notebooks/deployments", token)["nbDeployments"]
    assert sorted(d["username"] for d in deployments) == ["alice", "bob"]
    alice_deployment = next(d for d in deployments if d["username"] == "alice")
    assert alice_deployment["type"] == "openNotebook"
    assert alice_deployment["notebookRuntimeId"] == STANDARD_ID
    assert {nb.host_id for nb in alices} == {alice_deployment["id"]}
    listed = api.get(f"notebooks/deployments/{alice_deployment['id']}/notebooks", token)
    assert sorted(nb["id"] for nb in listed["notebooks"]) == sorted(nb.id for nb in alices)
    answer = api.post(f"notebooks/deployments/{alice_deployment['id']}/terminateDeployment", token)
    assert answer == {"status": "success"}
    assert [nb["id"] for nb in api.get("notebooks", token)["notebooks"]] == [bobs.id]
    assert error(api.get(f"notebooks/deployments/{alice_deployment['id']}", token))[0] == 404


# --- opening and executing ---------------------------------------------------------------------


def test_open_notebook_answers_a_job_url_and_lists_the_notebook(setup):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "Daily report"}])
    started = api.post("notebooks/openNotebook", token, itemId=item.id)
    assert list(started) == ["jobId", "jobUrl", "status"] and started["status"] == "success"
    assert started["jobUrl"].endswith(f"/arcgis/admin/jobs/{started['jobId']}")
    job = api.get(f"jobs/{started['jobId']}", token)
    assert job["status"] == "COMPLETED" and job["type"] == "openNotebook"
    (notebook,) = api.get("notebooks", token)["notebooks"]
    assert job["results"]["notebookId"] == notebook["id"]
    assert (notebook["itemId"], notebook["itemTitle"]) == (item.id, "Daily report")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"itemId": "no-such-item"}, 400),
        ({"notebookRuntimeId": "no-such-runtime"}, 400),
        ({}, None),  # completed below with the seeded item
    ],
)
def test_open_notebook_refusals_change_nothing(setup, form, code):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "t"}])
    form = {"itemId": item.id, **form}
    answer = api.post("notebooks/openNotebook", token, **form)
    if code is None:
        assert answer["status"] == "success"
        return
    assert error(answer)[0] == code
    assert api.get("notebooks", token)["notebooks"] == []
    assert api.get("notebooks/jobs", token)["asyncNotebookJobs"] == []


def test_open_on_the_advanced_runtime_needs_the_privilege(users_file):
    api, workload = make(users_file, "11.4")  # 11.4 lets a Publisher in [doc]
    token = api.token("alice", "alice-pw-1")
    (item,) = workload.seed_items([{"owner": "alice", "title": "t"}])
    answer = api.post(
        "notebooks/openNotebook", token, itemId=item.id, notebookRuntimeId=ADVANCED_ID
    )
    assert error(answer)[0] == 403
    admin = api.token()
    answer = api.post(
        "notebooks/openNotebook", admin, itemId=item.id, notebookRuntimeId=ADVANCED_ID
    )
    assert answer["status"] == "success"


def test_execute_notebook_job_moves_with_the_clock(setup):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "Nightly"}])
    started = api.post(
        "notebooks/executeNotebook", token, itemId=item.id, notebookParameters='{"day": 3}'
    )
    job_path = f"jobs/{started['jobId']}"
    running = api.get(job_path, token)
    assert (running["status"], running["endTime"]) == ("EXECUTING", 0)
    assert "results" not in running
    assert running["inputs"]["notebookParameters"] == '{"day": 3}'
    api.clock.advance(59)
    assert api.get(job_path, token)["status"] == "EXECUTING"
    api.clock.advance(1)  # the default execution takes 60 s [inferred]
    done = api.get(job_path, token)
    assert (done["status"], done["messages"]) == ("COMPLETED", [])
    assert done["endTime"] - done["startTime"] == 60_000


def test_execute_notebook_fails_with_the_steered_message(setup):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "Nightly"}])
    from mockserver.workload.model import Behaviour

    workload.steer(execution=Behaviour(duration_seconds=5, failure="NameError: x"))
    started = api.post("notebooks/executeNotebook", token, itemId=item.id)
    api.clock.advance(5)
    failed = api.get(f"jobs/{started['jobId']}", token)
    assert (failed["status"], failed["messages"]) == ("FAILED", ["NameError: x"])


@pytest.mark.parametrize(
    "form",
    [
        {"notebookParameters": "[1, 2]"},
        {"notebookParameters": "{"},
        {"updatePortalItem": "perhaps"},
        {"itemId": ""},
    ],
)
def test_bad_execute_requests_are_refused_with_400_and_start_nothing(setup, form):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "t"}])
    answer = api.post("notebooks/executeNotebook", token, **{"itemId": item.id, **form})
    assert error(answer)[0] == 400
    assert api.get("notebooks/jobs", token)["asyncNotebookJobs"] == []
    assert workload.executions() == []


# --- jobs per release ---------------------------------------------------------------------------


def test_notebook_jobs_before_12_1_list_running_jobs_in_full_and_drop_finished_ones(users_file):
    api, workload = make(users_file, "11.4")
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "t"}])
    started = api.post("notebooks/executeNotebook", token, itemId=item.id)
    (listed,) = api.get("notebooks/jobs", token)["notebookJobs"]
    assert listed["jobId"] == started["jobId"] and listed["status"] == "EXECUTING"
    assert listed == api.get(f"notebooks/jobs/{started['jobId']}", token)
    api.clock.advance(60)
    assert api.get("notebooks/jobs", token)["notebookJobs"] == []
    assert error(api.get(f"notebooks/jobs/{started['jobId']}", token))[0] == 404
    # The admin jobs resource still has it [doc].
    assert api.get(f"jobs/{started['jobId']}", token)["status"] == "COMPLETED"


def test_notebook_jobs_in_12_1_list_every_job_abbreviated(setup):
    api, workload = setup
    token = api.token()
    (item,) = workload.seed_items([{"owner": "admin", "title": "t"}])
    started = api.post("notebooks/executeNotebook", token, itemId=item.id)
    api.clock.advance(60)
    (listed,) = api.get("notebooks/jobs", token)["asyncNotebookJobs"]
    assert list(listed) == ["jobId", "name", "startTime", "endTime", "status"]
    assert (listed["jobId"], listed["status"]) == (started["jobId"], "COMPLETED")


# --- who sees what ---------------------------------------------------------------------------------


def test_a_notebook_user_sees_only_their_own_an_administrator_every_one(users_file):
    api, workload = make(users_file, "11.4")
    seed(workload, ("alice", 0), ("bob", 0))
    alice = api.token("alice", "alice-pw-1")
    assert [nb["username"] for nb in api.get("notebooks", alice)["notebooks"]] == ["alice"]
    bobs = next(nb for nb in workload.notebooks() if nb.username == "bob")
    assert error(api.post(f"notebooks/{bobs.id}/closeNotebook", alice))[0] == 404
    admin = api.token()
    assert len(api.get("notebooks", admin)["notebooks"]) == 2


def test_configuration_needs_servers_or_security(users_file):
    api, _ = make(users_file, "11.4")
    assert error(api.get("notebooks/configuration", api.token("alice", "alice-pw-1")))[0] == 403
    configuration = api.get("notebooks/configuration", api.token())
    assert configuration["idleNotebookThreshold"] == 720
    assert configuration["asyncJobsCleanAgeHours"] == 6
    assert "notebookEgressNetworkPolicy" not in configuration  # from 11.5 [doc]


# --- the runtimes tie ----------------------------------------------------------------------------------


def test_a_runtime_in_use_cannot_be_unregistered_until_its_notebooks_close(setup):
    api, workload = setup
    token = api.token()
    copy = api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    runtime_id = copy["notebookRuntime"]["id"]
    (item,) = workload.seed_items([{"owner": "admin", "title": "t"}])
    started = api.post(
        "notebooks/openNotebook", token, itemId=item.id, notebookRuntimeId=runtime_id
    )
    assert started["status"] == "success"
    code, (message,) = error(api.post(f"notebooks/runtimes/{runtime_id}/unregister", token))
    assert (code, message) == (400, messages.RUNTIME_IN_USE.format(id=runtime_id, count=1))
    assert api.get(f"notebooks/runtimes/{runtime_id}", token)["id"] == runtime_id
    (notebook,) = api.get("notebooks", token)["notebooks"]
    api.post(f"notebooks/{notebook['id']}/closeNotebook", token)
    assert api.post(f"notebooks/runtimes/{runtime_id}/unregister", token) == {"status": "success"}


# --- the Portal's notebook items ---------------------------------------------------------------------


def test_notebook_items_are_seen_by_their_owner_and_administrators_only(setup):
    api, workload = setup
    (item,) = workload.seed_items([{"owner": "alice", "title": "Alice's"}])

    def get(token):
        return api.client.get(
            f"/arcgis/sharing/rest/content/items/{item.id}",
            query_string={"f": "json", "token": token},
        ).get_json(force=True)

    assert get(api.token("alice", "alice-pw-1"))["owner"] == "alice"
    assert get(api.token())["type"] == "Notebook"
    refused = get(api.token("bob", "bob-pw-1"))["error"]
    assert (refused["message"], refused["messageCode"]) == (
        "Item does not exist or is inaccessible.",
        "CONT_0001",
    )


# --- through nbmock serve ------------------------------------------------------------------


def test_nbmock_serve_lists_seeded_notebooks_and_closes_idle_ones_as_its_clock_moves():
    server = NbmockProcess("--workers", "2")
    try:
        seeded = requests.post(
            f"{server.origin}/__mock__/workload/notebooks",
            json={
                "notebooks": [{"username": "alice", "idleSeconds": 11 * HOUR}, {"username": "bob"}]
            },
            timeout=10,
        )
        assert seeded.status_code == 200, seeded.text

        def listed() -> list[str]:
            token = requests.post(
                f"{server.base}/sharing/rest/generateToken",
                data={"username": "admin", "password": "admin1234", "f": "json"},
                timeout=10,
            ).json()["token"]
            answer = requests.get(
                f"{server.base}/admin/notebooks", params={"f": "json", "token": token}, timeout=10
            ).json()
            return sorted(nb["username"] for nb in answer["notebooks"])

        # Two workers: each answer must agree, whichever worker serves it.
        assert [listed() for _ in range(4)] == [["alice", "bob"]] * 4
        moved = requests.post(
            f"{server.origin}/__mock__/clock", json={"advance_seconds": HOUR + 60}, timeout=10
        )
        assert moved.status_code == 200
        assert [listed() for _ in range(4)] == [["bob"]] * 4
    finally:
        server.stop()
