"""What a script or a browser sees of the hosts, notebooks and jobs of both flavours' notebooks
resources, field by field (issue 25: the deliberate bugs mutmut planted in
``mockserver/workload/kubernetes.py`` and ``notebook_server.py`` that no test noticed).

In process, on a clock that moves only when a test moves it, so every time in an answer is
known exactly. Keys and their order are the documented ones (FIDELITY J1-J28); values the
emulator invents (a deployment's ``privateUrl``, a container's ports) are checked as the
ledger records them.
"""

from __future__ import annotations

import time
import uuid
from html.parser import HTMLParser

import pytest

from mockserver import create_app
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.notebookserver.releases import STANDARD_ID as SERVER_STANDARD_ID
from mockserver.runtimes.releases import STANDARD_ID
from tests.conftest import Api
from tests.workload_fixtures import seed, seed_item

USERS = (
    '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
    '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
)
#: 2027-01-15T08:00:00Z, a moment that is not midnight anywhere and not in a DST change.
EPOCH_S = 1_800_000_000
EPOCH_MS = EPOCH_S * 1000


class StillClock(Clock):
    """Time that moves only when the test moves it: every time an answer shows is exact."""

    def now(self) -> float:
        return EPOCH_S + self.offset_seconds


def make(tmp_path, flavour: str, release_name: str) -> Api:
    users = tmp_path / f"users-{flavour}-{release_name}.toml"
    users.write_text(USERS)
    return Api(
        create_app(users=users, clock=StillClock(), flavour=flavour, release_name=release_name)
    )


def kubernetes(tmp_path, release_name: str = "12.1") -> Api:
    return make(tmp_path, "kubernetes", release_name)


def server(tmp_path, release_name: str = "11.5") -> Api:
    return make(tmp_path, "notebook-server", release_name)


def get(api: Api, path: str, token: str, *, base_url: str = "http://localhost/", **params):
    """``api.get`` as a client that reached the site under ``base_url``."""
    response = api.client.get(
        f"/arcgis/admin/{path}",
        query_string={"f": "json", "token": token, **params},
        base_url=base_url,
    )
    assert response.status_code == 200, response.status_code
    return response.get_json(force=True)


def steer(api: Api, **body) -> None:
    answer = api.client.post("/__mock__/workload/jobs", json=body)
    assert answer.status_code == 200, answer.get_json()


def runtime(api: Api, token: str, runtime_id: str) -> dict:
    return api.get(f"notebooks/runtimes/{runtime_id}", token)


def configure(api: Api, **settings) -> None:
    """The workload's configuration as a state file holds it (Kubernetes' configuration
    resource is read-only here)."""
    state = api.client.get("/__mock__/state").get_json(force=True)
    state["workload"]["configuration"].update(settings)
    answer = api.client.post("/__mock__/state", json=state)
    assert answer.status_code == 200, answer.get_json()


def error(answer: dict) -> tuple[int, list]:
    assert answer.get("status") == "error", answer
    return answer["code"], answer["messages"]


class Listing(HTMLParser):
    """A directory page as a person reads it: its headings, the rows of its properties
    table, and its listing (the header, then each row's cells as (text, link or None))."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.properties: list[str] = []
        self.header: list[str] = []
        self.rows: list[list[tuple[str, str | None]]] = []
        self._table = ""
        self._tag = ""
        self._href: str | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "table":
            self._table = attr.get("class", "")
        elif tag == "tr" and self._table == "listing" and self.header:
            self.rows.append([])
        elif tag == "a":
            self._href = attr.get("href")
        if tag in ("h2", "th", "td"):
            self._tag, self._text, self._href = tag, "", None

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        text = self._text.strip()
        if tag == "table":
            self._table = ""
        elif tag == "h2":
            self.headings.append(text)
        elif tag == "th" and self._table == "properties":
            self.properties.append(text)
        elif tag == "th" and self._table == "listing":
            self.header.append(text)
        elif tag == "td" and self._table == "listing":
            self.rows[-1].append((text, self._href))
        if tag in ("h2", "th", "td"):
            self._text, self._href = "", None


def html_page(api: Api, path: str, token: str) -> Listing:
    response = api.client.get(f"/arcgis/admin/{path}", query_string={"token": token})
    assert response.status_code == 200 and response.mimetype == "text/html"
    return Listing(response.get_data(as_text=True))


# --- Kubernetes: notebooks and where they are ------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("http://localhost/", "http://localhost"),
        ("https://gis.example.com:7443/", "https://gis.example.com:7443"),
    ],
)
def test_kubernetes_notebook_urls_are_the_site_origin_then_the_context(tmp_path, base_url, origin):
    """J3: ``<base>/notebooks/<deploymentId>/notebooks/<itemId>.ipynb``, one slash apart,
    on whatever origin the caller reached; a job's results name the notebook the same way."""
    api = kubernetes(tmp_path)
    item = seed_item(api)
    token = api.token()
    started = api.post("notebooks/openNotebook", token, itemId=item)
    (listed,) = get(api, "notebooks", token, base_url=base_url)["notebooks"]
    deployment_id = listed["notebookDeploymentId"]
    assert listed["notebookUrl"] == (
        f"{origin}/arcgis/notebooks/{deployment_id}/notebooks/{item}.ipynb"
    )
    assert get(api, f"notebooks/{listed['id']}", token, base_url=base_url) == listed
    on_deployment = get(
        api, f"notebooks/deployments/{deployment_id}/notebooks", token, base_url=base_url
    )
    assert on_deployment == {"notebooks": [listed]}
    job = get(api, f"jobs/{started['jobId']}", token, base_url=base_url)
    assert job["results"] == {
        "notebookUrl": f"{origin}/arcgis/notebooks/{listed['id']}",
        "notebookId": listed["id"],
    }


def test_kubernetes_notebooks_page_lists_each_notebook_linked_by_its_id(tmp_path):
    api = kubernetes(tmp_path)
    (seeded,) = seed(api, username="alice", idleSeconds=60)
    token = api.token()
    page = html_page(api, "notebooks", token)
    # The list is laid out once, as its own table under its key; not again as a property.
    assert "notebooks" in page.headings
    assert page.properties == ["operations", "resources"]
    assert page.header == ["id", "username", "itemTitle", "runtime", "dateLastActivity"]
    (row,) = page.rows
    assert [text for text, _ in row] == [
        seeded["id"],
        "alice",
        "Notebook of alice",
        STANDARD_ID,
        str(EPOCH_MS - 60_000),
    ]
    # Only the id is a link, to the notebook's own page.
    assert [link is not None for _, link in row] == [True, False, False, False, False]
    assert row[0][1].split("?")[0] == f"/arcgis/admin/notebooks/{seeded['id']}"


@pytest.mark.parametrize("allow_hidden", [False, True])
def test_kubernetes_deployments_answer_the_documented_keys_with_each_hosts_values(
    tmp_path, allow_hidden
):
    """J4: a deployment's keys in the documented order; privateUrl names the pod by the first
    12 characters of the id [inferred]; allowHiddenFileDownloads is the configuration's."""
    api = kubernetes(tmp_path)
    item = seed_item(api)
    token = api.token()
    if allow_hidden:
        configure(api, allowHiddenFileDownloads=True)
    api.post("notebooks/openNotebook", token, itemId=item)
    standard = runtime(api, token, STANDARD_ID)
    (deployment,) = api.get("notebooks/deployments", token)["nbDeployments"]
    host_id = deployment["id"]
    assert len(host_id) == 32
    expected = {
        "privateUrl": f"http://nb-{host_id[:12]}.arcgis.svc.cluster.local:8888",
        "type": "openNotebook",
        "url": f"/notebooks/{host_id}",
        "notebookRuntimeVersion": standard["version"],
        "notebookRuntimeName": standard["name"],
        "dateCreated": EPOCH_MS,
        "allowHiddenFileDownloads": allow_hidden,
        "id": host_id,
        "notebookRuntimeId": STANDARD_ID,
        "username": "admin",
    }
    assert deployment == expected and list(deployment) == list(expected)
    assert api.get(f"notebooks/deployments/{host_id}", token) == deployment


# --- jobs, as both flavours list them --------------------------------------------------------

#: One execution's life on the still clock: queued 60 s, then running 600 s. Each moment:
#: seconds since it was submitted, its status then, and the endTime a list shows (0 until
#: the job has ended, then when it ended) [doc: 12.1 notebook jobs; FIDELITY J10, J28].
QUEUE_S, RUN_S = 60, 600
TIMELINE = [
    (0, "SUBMITTED", 0),
    (QUEUE_S, "EXECUTING", 0),
    (QUEUE_S + RUN_S - 1, "EXECUTING", 0),
    (QUEUE_S + RUN_S, "COMPLETED", EPOCH_MS + (QUEUE_S + RUN_S) * 1000),
    (QUEUE_S + RUN_S + 3600, "COMPLETED", EPOCH_MS + (QUEUE_S + RUN_S) * 1000),
]


def _submit_timed_execution(api: Api, failure: str | None = None) -> tuple[str, str]:
    item = seed_item(api)
    steer(api, queueSeconds=QUEUE_S, executeSeconds=RUN_S, failure=failure)
    started = api.post("notebooks/executeNotebook", api.token(), itemId=item)
    assert started["status"] == "success", started
    return started["jobId"], item


@pytest.mark.parametrize("failure", [None, "The kernel died."])
def test_kubernetes_12_1_job_list_shows_end_time_only_once_the_job_has_ended(tmp_path, failure):
    api = kubernetes(tmp_path, "12.1")
    job_id, _ = _submit_timed_execution(api, failure)
    for at, status, end_time in TIMELINE:
        api.clock.offset_seconds = at
        if failure is not None and status == "COMPLETED":
            status = "FAILED"
        assert api.get("notebooks/jobs", api.token()) == {
            "asyncNotebookJobs": [
                {
                    "jobId": job_id,
                    "name": "executeNotebook",
                    "startTime": EPOCH_MS,
                    "endTime": end_time,
                    "status": status,
                }
            ]
        }, at


@pytest.mark.parametrize("failure", [None, "The kernel died."])
def test_server_job_list_shows_end_time_only_once_the_job_has_ended(tmp_path, failure):
    api = server(tmp_path)
    job_id, _ = _submit_timed_execution(api, failure)
    for at, status, end_time in TIMELINE:
        api.clock.offset_seconds = at
        if failure is not None and status == "COMPLETED":
            status = "FAILED"
        listed = api.get("system/jobs", api.token())
        expected = {
            "jobId": job_id,
            "type": "executeNotebook",
            "status": status,
            "startTime": EPOCH_MS,
            "endTime": end_time,
            "username": "admin",
        }
        assert listed == {"asyncJobs": [expected]}, at
        assert list(listed["asyncJobs"][0]) == list(expected)


@pytest.mark.parametrize("release_name", ["11.4", "12.1"])
def test_kubernetes_running_job_answers_in_full_with_an_id_of_its_own(tmp_path, release_name):
    """J10: 11.4 lists running jobs in full; every release's notebooks/jobs/<id> shows one
    so. Its ``id`` is a UUID of its own beside ``jobId``, the same on every read [inferred]."""
    api = kubernetes(tmp_path, release_name)
    job_id, item = _submit_timed_execution(api)
    other_id, _ = _submit_timed_execution(api)
    api.clock.offset_seconds = QUEUE_S
    token = api.token()
    standard = runtime(api, token, STANDARD_ID)
    page = api.get(f"notebooks/jobs/{job_id}", token)
    expected = {
        "privateUrl": "",
        "inputs": {
            "itemId": item,
            "executionTimeoutInMinutes": 120,
            "updatePortalItem": True,
            "saveInjectedParameters": False,
            "runId": "",
            "taskId": "",
        },
        "type": "executeNotebook",
        "url": "",
        "notebookRuntimeVersion": standard["version"],
        "revision": EPOCH_MS,
        "notebookRuntimeName": standard["name"],
        "jobId": job_id,
        "dateCreated": EPOCH_MS,
        "id": page["id"],
        "notebookRuntimeId": STANDARD_ID,
        "username": "admin",
        "status": "EXECUTING",
    }
    assert page == expected and list(page) == list(expected)
    assert str(uuid.UUID(page["id"])) == page["id"] != job_id
    other = api.get(f"notebooks/jobs/{other_id}", token)
    assert other["id"] != page["id"]
    assert api.get(f"notebooks/jobs/{job_id}", token)["id"] == page["id"]
    if release_name == "11.4":
        # Oldest first; these two were submitted at the same moment, so by id.
        in_order = sorted([page, other], key=lambda job: job["jobId"])
        assert api.get("notebooks/jobs", token) == {"notebookJobs": in_order}


# --- the standalone server: containers -------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "host_name"),
    [
        ("http://localhost/", "localhost"),
        ("https://gis.example.com:11443/", "gis.example.com"),
        ("http://127.0.0.1:11080/", "127.0.0.1"),
    ],
)
def test_server_container_answers_the_documented_keys_with_its_values(
    tmp_path, base_url, host_name
):
    """J26: a container's keys in the documented order; hostName is the name the caller
    reached the site by, without its port; host, ports and sizes are the emulator's own
    [inferred]; id and containerId are the same."""
    api = server(tmp_path)
    (seeded,) = seed(api, username="alice", idleSeconds=60)
    token = api.token()
    standard = runtime(api, token, SERVER_STANDARD_ID)
    cid = seeded["hostId"]
    assert len(cid) == 32
    expected = {
        "hostName": host_name,
        "memory": 0,
        "imageName": "",
        "hostIp": "127.0.0.1",
        "cpus": 0,
        "httpPort": 30001,
        "containerUrl": f"/notebooks/{cid}",
        "httpsPort": 30002,
        "dateCreated": str(EPOCH_MS - 60_000),
        "id": cid,
        "containerId": cid,
        "username": "alice",
        "type": "openNotebook",
        "notebookRuntimeId": SERVER_STANDARD_ID,
        "notebookRuntimeVersion": standard["version"],
        "notebookRuntimeName": standard["name"],
        "containerHostname": cid[:12],
    }
    listed = get(api, "system/containers", token, base_url=base_url)
    assert listed == {"containers": [expected]}
    assert list(listed["containers"][0]) == list(expected)
    assert get(api, f"system/containers/{cid}", token, base_url=base_url) == expected


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("http://localhost/", "http://localhost"),
        ("https://gis.example.com:11443/", "https://gis.example.com:11443"),
    ],
)
def test_server_open_job_results_name_the_notebook_by_a_full_url(tmp_path, base_url, origin):
    """J11: once an open job ends its results name the notebook opened, as a URL a client
    can follow from anywhere: the origin it reached the site by, then the notebook's page."""
    api = server(tmp_path)
    item = seed_item(api)
    token = api.token()
    started = api.post("notebooks/openNotebook", token, itemId=item)
    job = get(api, f"system/jobs/{started['jobId']}", token, base_url=base_url)
    (notebook,) = api.get("notebooks", token)["notebooks"]
    assert job["status"] == "COMPLETED"
    assert job["results"] == {
        "notebookUrl": f"{origin}/arcgis/admin/notebooks/{notebook['id']}",
        "notebookId": notebook["id"],
    }
    followed = api.client.get(
        job["results"]["notebookUrl"], query_string={"f": "json", "token": token}
    )
    assert followed.get_json(force=True) == notebook


# --- the standalone server: what arrived when ------------------------------------------------


def _not_here(name: str) -> tuple[int, list]:
    return 404, [messages.NO_SUCH_RESOURCE.format(name=name)]


def test_server_container_notebooks_before_10_9_are_not_there_and_close_nothing(tmp_path):
    """J27: a container's notebooks arrived with 10.9 [doc]; on 10.8.1 each of their
    resources answers 404 naming the resource, and the notebook stays open."""
    old = server(tmp_path, "10.8.1")
    (seeded,) = seed(old, username="alice")
    token = old.token()
    cid, nid = seeded["hostId"], seeded["id"]
    here = f"system/containers/{cid}/notebooks"
    assert error(old.get(here, token)) == _not_here("containerNotebooks")
    assert error(old.get(f"{here}/{nid}", token)) == _not_here("containerNotebooks")
    for close in ("closeNotebook", "close"):
        assert error(old.post(f"{here}/{nid}/{close}", token)) == _not_here("containerNotebooks")
    assert [nb["id"] for nb in old.get("notebooks", token)["notebooks"]] == [nid]

    new = server(tmp_path, "10.9")
    (seeded,) = seed(new, username="alice")
    token = new.token()
    here = f"system/containers/{seeded['hostId']}/notebooks"
    assert new.get(f"{here}/{seeded['id']}", token)["id"] == seeded["id"]
    assert new.post(f"{here}/{seeded['id']}/close", token) == {"status": "success"}


def test_server_execute_notebook_before_10_8_is_not_there(tmp_path):
    old = server(tmp_path, "10.7.1")
    item = seed_item(old)
    token = old.token()
    assert error(old.post("notebooks/executeNotebook", token, itemId=item)) == _not_here(
        "executeNotebook"
    )
    assert old.get("system/jobs", token) == {"asyncJobs": []}


# --- the standalone server: a notebook under another container -------------------------------


def _long_notebook_id(api: Api, seeded: dict, length: int) -> str:
    """The seeded notebook renamed to an id of ``length`` characters, as a state file may
    hold it: the ids a refusal quotes are then longer than the emulator's own."""
    long_id = (seeded["id"] * 8)[:length]
    state = api.client.get("/__mock__/state").get_json(force=True)
    for notebook in state["workload"]["notebooks"]:
        if notebook["id"] == seeded["id"]:
            notebook["id"] = long_id
    answer = api.client.post("/__mock__/state", json=state)
    assert answer.status_code == 200, answer.get_json()
    return long_id


@pytest.mark.parametrize("length", [32, 80, 81, 200])
def test_server_notebook_asked_under_another_container_is_not_found_quoting_80_characters(
    tmp_path, length
):
    """J27: a container's notebook is one it hosts; another container's answers 404 as an
    unknown notebook does, its message quoting at most the id's first 80 characters, and
    closing it there closes nothing."""
    api = server(tmp_path)
    (mine,) = seed(api, username="admin")
    (theirs,) = seed(api, username="alice")
    nid = theirs["id"] if length == 32 else _long_notebook_id(api, theirs, length)
    token = api.token()
    assert api.get(f"notebooks/{nid}", token)["containerId"] == theirs["hostId"]
    refused = (404, [messages.NOTEBOOK_NOT_FOUND.format(id=nid[:80])])
    under_mine = f"system/containers/{mine['hostId']}/notebooks/{nid}"
    assert error(api.get(under_mine, token)) == refused
    for close in ("closeNotebook", "close"):
        assert error(api.post(f"{under_mine}/{close}", token)) == refused
    assert api.get("notebooks", token)["total"] == 2


# --- the standalone server: sessions ---------------------------------------------------------


@pytest.fixture
def local_zone_not_utc(monkeypatch):
    """The emulator's machine set to a zone five hours behind UTC, then back."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    assert time.timezone == 5 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


def test_server_session_last_activity_is_utc_iso_with_microseconds(tmp_path, local_zone_not_utc):
    """J27 [doc example "2019-01-01T00:00:00.705020Z"]: a kernel's last_activity is the
    notebook's last activity in UTC whatever the machine's zone, to the microsecond."""
    api = server(tmp_path)
    (seeded,) = seed(api, username="alice", idleSeconds=90.5)
    token = api.token()
    (notebook,) = api.get("notebooks", token)["notebooks"]
    assert notebook["dateLastActivity"] == str(EPOCH_MS - 90_500)
    (session,) = api.get(f"system/containers/{seeded['hostId']}/sessions", token)["sessions"]
    assert session["kernel"]["last_activity"] == "2027-01-15T07:58:29.500000Z"
    assert session["kernel"]["id"] == session["id"] == seeded["id"]


# --- opening and executing: the job's inputs, refusals, seeded ids (workload backend/model) ---
# (issue 25: mockserver/workload/backend.py's open, execute, seed_items, seed_notebooks and
# model.py's item_for, check_runtime, _host_alive, seed_open_notebook.)

LONG_ID = "f" * 100


def _state(api: Api) -> dict:
    return api.client.get("/__mock__/state").get_json(force=True)


def _load(api: Api, state: dict) -> None:
    answer = api.client.post("/__mock__/state", json=state)
    assert answer.status_code == 200, answer.get_json()


def _runtime_in_state(state: dict, runtime_id: str) -> dict:
    return next(r["runtime"] for r in state["runtimes"] if r["runtime"]["id"] == runtime_id)


def test_kubernetes_open_job_shows_the_item_and_runtime_it_was_given_as_inputs(tmp_path):
    from mockserver.runtimes.releases import ADVANCED_ID

    api = kubernetes(tmp_path)
    item = seed_item(api)
    token = api.token()
    for asked, runtime_id in (({}, STANDARD_ID), ({"notebookRuntimeId": ADVANCED_ID}, ADVANCED_ID)):
        started = api.post("notebooks/openNotebook", token, itemId=item, **asked)
        assert started["status"] == "success", started
        job = api.get(f"notebooks/jobs/{started['jobId']}", token)
        assert job["inputs"] == {
            "itemId": item,
            "notebookRuntimeId": runtime_id,
            "runId": "",
            "taskId": "",
        }


@pytest.mark.parametrize("path", ["notebooks/openNotebook", "notebooks/executeNotebook"])
def test_kubernetes_open_or_execute_without_an_item_is_refused_naming_item_id(tmp_path, path):
    api = kubernetes(tmp_path)
    answer = api.post(path, api.token())
    assert error(answer) == (400, [messages.REQUIRED.format(name="itemId")])


@pytest.mark.parametrize("path", ["notebooks/openNotebook", "notebooks/executeNotebook"])
def test_kubernetes_unknown_item_is_refused_quoting_its_first_80_characters(tmp_path, path):
    api = kubernetes(tmp_path)
    answer = api.post(path, api.token(), itemId=LONG_ID)
    assert error(answer) == (400, [messages.ITEM_NOT_A_NOTEBOOK.format(id=LONG_ID[:80])])


def test_kubernetes_open_on_an_unknown_runtime_is_refused_quoting_80_characters(tmp_path):
    api = kubernetes(tmp_path)
    item = seed_item(api)
    answer = api.post("notebooks/openNotebook", api.token(), itemId=item, notebookRuntimeId=LONG_ID)
    assert error(answer) == (400, [messages.RUNTIME_UNAVAILABLE.format(id=LONG_ID[:80])])


def test_kubernetes_open_on_advanced_without_the_privilege_is_forbidden_naming_it(tmp_path):
    from mockserver.runtimes.releases import ADVANCED_ID

    api = kubernetes(tmp_path, "11.4")  # 11.4 lets a Publisher in [doc]
    item = seed_item(api, owner="alice")
    alice = api.token("alice", "alice-pw-1")
    answer = api.post("notebooks/openNotebook", alice, itemId=item, notebookRuntimeId=ADVANCED_ID)
    assert error(answer) == (403, [messages.RUNTIME_NEEDS_ADVANCED.format(id=ADVANCED_ID)])


def test_server_execute_with_the_standard_runtime_disabled_is_refused_naming_it(tmp_path):
    api = server(tmp_path)
    item = seed_item(api)
    state = _state(api)
    _runtime_in_state(state, SERVER_STANDARD_ID)["disabled"] = True
    _load(api, state)
    answer = api.post("notebooks/executeNotebook", api.token(), itemId=item)
    assert error(answer) == (400, [messages.RUNTIME_UNAVAILABLE.format(id=SERVER_STANDARD_ID)])


def test_server_execute_on_an_advanced_only_standard_is_forbidden_to_a_publisher(tmp_path):
    api = server(tmp_path)
    item = seed_item(api, owner="alice")
    state = _state(api)
    _runtime_in_state(state, SERVER_STANDARD_ID)["requiresAdvancedPrivileges"] = True
    _load(api, state)
    answer = api.post("notebooks/executeNotebook", api.token("alice", "alice-pw-1"), itemId=item)
    assert error(answer) == (403, [messages.RUNTIME_NEEDS_ADVANCED.format(id=SERVER_STANDARD_ID)])


def _seeded_run(tmp_path, name: str) -> dict:
    """What one emulator started with server seed 7 answers to the same steps."""
    users = tmp_path / f"users-{name}.toml"
    users.write_text(USERS)
    api = Api(create_app(users=users, clock=StillClock(), flavour="kubernetes", seed=7))
    token = api.token()
    item = seed_item(api)
    (notebook,) = seed(api, username="admin")
    opened = api.post("notebooks/openNotebook", token, itemId=item)["jobId"]
    executed = api.post("notebooks/executeNotebook", token, itemId=item)["jobId"]
    return {
        "item": item,
        "notebook": notebook["id"],
        "notebookItem": notebook["itemId"],
        "host": notebook["hostId"],
        "open": opened,
        "execute": executed,
    }


def test_kubernetes_same_server_seed_gives_the_same_ids_to_seeds_opens_and_executions(tmp_path):
    first, second = _seeded_run(tmp_path, "a"), _seeded_run(tmp_path, "b")
    assert first == second
    assert len(set(first.values())) == len(first)


def test_seeded_item_keeps_the_id_it_was_given(tmp_path):
    api = kubernetes(tmp_path)
    given = "0123456789abcdef0123456789abcdef"
    answer = api.client.post(
        "/__mock__/workload/items", json={"items": [{"owner": "admin", "title": "R", "id": given}]}
    )
    assert answer.status_code == 200, answer.get_json()
    assert [item["id"] for item in answer.get_json()["items"]] == [given]


def test_seeded_notebook_on_an_existing_item_shows_that_items_title(tmp_path):
    api = kubernetes(tmp_path)
    item = seed_item(api)  # titled "Report"
    (notebook,) = seed(api, username="admin", itemId=item)
    assert notebook["itemId"] == item
    listed = api.get(f"notebooks/{notebook['id']}", api.token())
    assert listed["itemTitle"] == "Report"


def test_seeded_notebook_on_a_new_item_id_makes_that_item_with_the_title_given(tmp_path):
    api = kubernetes(tmp_path)
    given = "00112233445566778899aabbccddeeff"
    (notebook,) = seed(api, username="admin", itemId=given, title="Quarterly")
    assert notebook["itemId"] == given
    listed = api.get(f"notebooks/{notebook['id']}", api.token())
    assert listed["itemTitle"] == "Quarterly"


def test_seeded_notebook_on_an_unknown_runtime_is_refused_quoting_80_characters(tmp_path):
    api = kubernetes(tmp_path)
    answer = api.client.post(
        "/__mock__/workload/notebooks",
        json={"notebooks": [{"username": "admin", "runtimeId": LONG_ID}]},
    )
    assert answer.status_code == 400
    assert f"no runtime '{LONG_ID[:80]}' to open it on." in answer.get_data(as_text=True)
    assert LONG_ID[:81] not in answer.get_data(as_text=True)


def test_kubernetes_deployment_running_a_notebook_outlives_the_created_threshold(tmp_path):
    api = kubernetes(tmp_path)
    (notebook,) = seed(api, username="admin")
    api.clock.offset_seconds = 61 * 60  # past containerCreatedThreshold (60 minutes)
    deployments = api.get("notebooks/deployments", api.token())["nbDeployments"]
    assert [d["id"] for d in deployments] == [notebook["hostId"]]


def test_seeded_notebook_without_an_item_gets_a_new_item_not_a_state_files_odd_one(tmp_path):
    """A state file may hold an item under any id (here 'XXXX'); a notebook seeded without
    ``itemId`` still gets an item of its own, a fresh 32-hex id titled for its user."""
    api = kubernetes(tmp_path)
    seed_item(api)
    state = _state(api)
    odd = dict(state["workload"]["items"][0], id="XXXX")
    state["workload"]["items"].append(odd)
    _load(api, state)
    (notebook,) = seed(api, username="admin")
    assert notebook["itemId"] != "XXXX"
    assert len(notebook["itemId"]) == 32 and int(notebook["itemId"], 16) >= 0
    listed = api.get(f"notebooks/{notebook['id']}", api.token())
    assert listed["itemTitle"] == "Notebook of admin"


def test_profiled_advanced_runtime_with_a_long_id_is_forbidden_quoting_80_characters(tmp_path):
    """A profile's system runtime may carry an id longer than 80 characters; opening on it
    without the Advanced Notebooks privilege is forbidden, the message quoting 80 of them."""
    import json
    from pathlib import Path

    from mockserver.auth.privileges import ADVANCED_NOTEBOOKS, ROLES

    foreign = Path(__file__).parent / "data" / "foreign-deployment.json"
    profile = json.loads(foreign.read_text())
    advanced = next(
        entry["runtime"]
        for entry in profile["runtimes"]["system"]
        if entry["runtime"]["requiresAdvancedPrivileges"]
    )
    advanced["id"] = LONG_ID
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    privileges = json.dumps(sorted(ROLES["Administrator"] - {ADVANCED_NOTEBOOKS}))
    users = tmp_path / "users-profiled.toml"
    users.write_text(
        USERS + f'[users.carol]\npassword = "carol-pw-1"\nrole = "Administrator"\n'
        f"privileges = {privileges}\n"
    )
    api = Api(create_app(users=users, clock=StillClock(), profile=str(path)))
    item = seed_item(api, owner="carol")
    carol = api.token("carol", "carol-pw-1")
    answer = api.post("notebooks/openNotebook", carol, itemId=item, notebookRuntimeId=LONG_ID)
    assert error(answer) == (403, [messages.RUNTIME_NEEDS_ADVANCED.format(id=LONG_ID[:80])])
