"""The standalone Notebook Server's notebooks at work over HTTP: in process, and through
``nbmock serve``. Shapes are the Notebook Server's pages'; time moves only when a test
moves the clock.
"""

from __future__ import annotations

import json

import pytest
import requests

from mockserver import create_app
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.notebookserver.releases import ADVANCED_ID, STANDARD_ID
from tests.conftest import Api
from tests.nbmock_process import NbmockProcess
from tests.workload_fixtures import seed, seed_item

HOUR = 3600
USERS = (
    '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
    '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
)


def make(tmp_path, release_name: str = "11.5") -> Api:
    users = tmp_path / "users.toml"
    users.write_text(USERS)
    return Api(
        create_app(users=users, clock=Clock(), flavour="notebook-server", release_name=release_name)
    )


@pytest.fixture
def api(tmp_path) -> Api:
    return make(tmp_path)


def error(answer: dict) -> tuple[int, list[str]]:
    assert answer["status"] == "error", answer
    return answer["code"], answer["messages"]


def test_notebooks_answer_in_pages_of_start_and_num(api):
    seed(api, username="alice", count=12, idleSeconds=60)
    token = api.token()
    first = api.get("notebooks", token)
    assert list(first) == ["total", "notebooks", "num", "start"]  # [doc] keys and order
    assert (first["total"], first["num"], first["start"], len(first["notebooks"])) == (
        12,
        10,
        1,
        10,
    )
    entry = first["notebooks"][0]
    assert list(entry) == [
        "itemId",
        "notebookUrl",
        "dateLastActivity",
        "id",
        "containerId",
        "username",
    ]
    assert isinstance(entry["dateLastActivity"], str) and entry["dateLastActivity"].isdigit()
    assert entry["notebookUrl"] == (
        f"/notebooks/{entry['containerId']}/notebooks/{entry['itemId']}.ipynb"
    )
    rest = api.get("notebooks", token, start=11, num=10)
    assert [nb["id"] for nb in first["notebooks"] + rest["notebooks"]] == [
        nb["id"] for nb in api.get("notebooks", token, num=100)["notebooks"]
    ]
    assert api.get("notebooks", token, num=1000)["num"] == 100  # at most 100 [doc]
    assert api.get("notebooks", token, start=13)["notebooks"] == []
    assert api.get(f"notebooks/{entry['id']}", token) == entry


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start": "0"}, "'start'"),
        ({"start": "x"}, "'start'"),
        ({"num": "-1"}, "'num'"),
        ({"num": "2.5"}, "'num'"),
    ],
)
def test_bad_paging_is_a_400(api, params, words):
    code, problems = error(api.get("notebooks", api.token(), **params))
    assert code == 400 and words in problems[0]


@pytest.mark.parametrize("operation", ["closeNotebook", "close"])
def test_close_notebook_by_either_name_closes_it(api, operation):
    (nb,) = seed(api, username="alice")
    token = api.token()
    assert api.post(f"notebooks/{nb['id']}/{operation}", token) == {"status": "success"}
    assert api.get("notebooks", token)["total"] == 0
    code, _ = error(api.post(f"notebooks/{nb['id']}/{operation}", token))
    assert code == 404


def test_open_notebook_answers_a_system_jobs_url(api):
    item = seed_item(api)
    token = api.token()
    started = api.post("notebooks/openNotebook", token, itemId=item)
    assert list(started) == ["jobId", "jobUrl", "status"]
    assert started["jobUrl"].endswith(f"/arcgis/admin/system/jobs/{started['jobId']}")
    job = api.get(f"system/jobs/{started['jobId']}", token)
    assert job["status"] == "COMPLETED" and job["type"] == "openNotebook"
    (listed,) = api.get("notebooks", token)["notebooks"]
    assert listed["itemId"] == item and listed["username"] == "admin"
    assert [j["jobId"] for j in api.get("system/jobs", token)["asyncJobs"]] == [started["jobId"]]


def test_open_on_an_unknown_runtime_is_refused_and_opens_nothing(api):
    item = seed_item(api)
    token = api.token()
    code, problems = error(
        api.post("notebooks/openNotebook", token, itemId=item, notebookRuntimeId="nope")
    )
    assert code == 400 and "nope" in problems[0]
    assert (
        api.get("notebooks", token)["total"] == 0
        and api.get("system/jobs", token)["asyncJobs"] == []
    )


def test_execute_notebook_arrived_in_10_8(tmp_path):
    old = make(tmp_path, "10.7.1")
    code, _ = error(old.post("notebooks/executeNotebook", old.token(), itemId="0" * 32))
    assert code == 404
    new = make(tmp_path, "10.8")
    item = seed_item(new)
    started = new.post("notebooks/executeNotebook", new.token(), itemId=item)
    assert started["status"] == "success"


def test_an_execution_moves_with_the_clock(api):
    item = seed_item(api)
    api.client.post("/__mock__/workload/jobs", json={"executeSeconds": 120})
    token = api.token()
    started = api.post(
        "notebooks/executeNotebook", token, itemId=item, notebookParameters='{"a": 1}'
    )
    assert api.get(f"system/jobs/{started['jobId']}", token)["status"] == "EXECUTING"
    api.clock.advance(121)
    job = api.get(f"system/jobs/{started['jobId']}", api.token())
    assert (job["status"], job["messages"]) == ("COMPLETED", [])
    assert job["inputs"]["notebookParameters"] == '{"a": 1}'


def test_containers_host_the_open_notebooks_and_terminating_one_closes_them(api):
    seed(api, username="alice", count=2)
    token = api.token()
    (container,) = api.get("system/containers", token)["containers"]
    assert container["username"] == "alice" and container["notebookRuntimeId"] == STANDARD_ID
    assert list(container)[:3] == ["hostName", "memory", "imageName"]  # [doc] order
    cid = container["id"]
    assert api.get(f"system/containers/{cid}", token) == container
    sessions = api.get(f"system/containers/{cid}/sessions", token)["sessions"]
    assert len(sessions) == 2 and {s["kernel"]["name"] for s in sessions} == {"python3"}
    notebooks = api.get(f"system/containers/{cid}/notebooks", token)["notebooks"]
    assert len(notebooks) == 2
    one = notebooks[0]["id"]
    assert api.post(f"system/containers/{cid}/notebooks/{one}/closeNotebook", token) == {
        "status": "success"
    }
    assert api.get("notebooks", token)["total"] == 1
    assert api.post(f"system/containers/{cid}/terminateContainer", token) == {"status": "success"}
    assert api.get("notebooks", token)["total"] == 0
    # An empty container lives containerCreatedThreshold minutes [inferred]; this one was
    # terminated, so it is gone at once.
    assert api.get("system/containers", token)["containers"] == []


def test_container_notebooks_arrived_in_10_9(tmp_path):
    old = make(tmp_path, "10.8.1")
    seed(old, username="alice")
    token = old.token()
    (container,) = old.get("system/containers", token)["containers"]
    code, _ = error(old.get(f"system/containers/{container['id']}/notebooks", token))
    assert code == 404


def test_properties_govern_when_idle_notebooks_close(api):
    token = api.token()
    properties = api.get("system/properties", token)
    assert properties["idleNotebookThreshold"] == 1440  # [client] default
    assert properties["maxContainersPerNode"] == 20
    seed(api, username="alice", idleSeconds=2 * HOUR)
    answer = api.post("system/properties/update", token, properties='{"idleNotebookThreshold": 60}')
    assert answer == {"status": "success"}
    assert api.get("notebooks", token)["total"] == 0  # idle 2 h > 60 min: closed


def test_the_properties_update_page_shows_the_properties_as_they_stand(api):
    """The form's box was empty: an administrator had to retype every property. It shows
    them as they stand, and sending it unchanged changes nothing."""
    from tests.html_forms import form_fields

    token = api.token()
    api.post("system/properties/update", token, properties='{"idleNotebookThreshold": 90}')
    before = api.get("system/properties", token)
    page = api.client.get(
        "/arcgis/admin/system/properties/update", query_string={"f": "html", "token": token}
    ).get_data(as_text=True)
    shown = form_fields(page)["properties"]
    assert json.loads(shown) == before
    assert api.post("system/properties/update", token, properties=shown) == {"status": "success"}
    assert api.get("system/properties", token) == before


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ("", "properties"),
        ("[1]", "properties"),
        ('{"colour": "red"}', "colour"),
        ('{"idleNotebookThreshold": 0}', "idleNotebookThreshold"),
        ('{"idleNotebookThreshold": "soon"}', "idleNotebookThreshold"),
        ('{"dockerConnectionHost": ""}', "dockerConnectionHost"),
    ],
)
def test_bad_property_updates_are_400s_that_change_nothing(api, properties, words):
    token = api.token()
    before = api.get("system/properties", token)
    code, problems = error(api.post("system/properties/update", token, properties=properties))
    assert code == 400 and any(words in p for p in problems)
    assert api.get("system/properties", token) == before


def test_a_notebook_user_sees_only_their_own(api):
    seed(api, username="alice")
    seed(api, username="bob")
    alice = api.token("alice", "alice-pw-1")
    assert [nb["username"] for nb in api.get("notebooks", alice)["notebooks"]] == ["alice"]
    assert [c["username"] for c in api.get("system/containers", alice)["containers"]] == ["alice"]
    assert api.get("notebooks", api.token())["total"] == 2


def test_a_runtime_open_notebooks_use_cannot_be_unregistered(api):
    token = api.token()
    registered = api.post(
        "notebooks/runtimes/register",
        token,
        name="Custom",
        imageId="sha256:" + "c0" * 32,
        requiresAdvancedPrivileges="false",
        maxCPU="2",
        maxMemory="4",
        maxMemoryUnit="g",
    )
    runtime_id = registered["notebookRuntime"]["id"]
    (nb,) = seed(api, username="alice", runtimeId=runtime_id)
    code, problems = error(api.post(f"notebooks/runtimes/{runtime_id}/unregister", token))
    assert code == 400 and problems == [messages.RUNTIME_IN_USE.format(id=runtime_id, count=1)]
    api.post(f"notebooks/{nb['id']}/closeNotebook", token)
    assert api.post(f"notebooks/runtimes/{runtime_id}/unregister", token) == {"status": "success"}
    assert runtime_id != ADVANCED_ID


def test_pjson_and_html_pages(api):
    seed(api, username="alice")
    token = api.token()
    page = api.client.get("/arcgis/admin/notebooks", query_string={"f": "html", "token": token})
    assert page.status_code == 200 and b"alice" in page.data
    form = api.client.get(
        "/arcgis/admin/system/properties/update", query_string={"f": "html", "token": token}
    )
    assert form.status_code == 200 and b"properties" in form.data
    pretty = api.client.get("/arcgis/admin/system", query_string={"f": "pjson", "token": token})
    assert pretty.get_json(force=True) == {"resources": ["containers", "properties", "jobs"]}


def test_nbmock_serve_serves_the_workload_and_its_control_plane():
    server = NbmockProcess("--flavour", "notebook-server", "--workers", "1")
    try:
        seeded = requests.post(
            f"{server.origin}/__mock__/workload/notebooks",
            json={"notebooks": [{"username": "alice", "count": 11, "idleSeconds": 60}]},
            timeout=10,
        )
        assert seeded.status_code == 200, seeded.text
        token = requests.post(
            f"{server.base}/admin/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
            timeout=10,
        ).json()["token"]
        listing = requests.get(
            f"{server.base}/admin/notebooks", params={"f": "json", "token": token}, timeout=10
        ).json()
        assert (listing["total"], len(listing["notebooks"])) == (11, 10)
        moved = requests.post(
            f"{server.origin}/__mock__/clock", json={"advance_seconds": 25 * HOUR}, timeout=10
        )
        assert moved.status_code == 200
        token = requests.post(
            f"{server.base}/admin/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
            timeout=10,
        ).json()["token"]
        after = requests.get(
            f"{server.base}/admin/notebooks", params={"f": "json", "token": token}, timeout=10
        ).json()
        assert after["total"] == 0  # idle past 1440 minutes: closed by the server
    finally:
        server.stop()
