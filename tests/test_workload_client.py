"""The official ArcGIS API for Python, unmodified, at work on notebooks, in both flavours.

What administrators automate: list who has what open, close what sat idle too long,
execute a notebook and wait for its ``Job``, open a notebook. The work is made to appear
through the control plane (``/__mock__/workload``), and time moves only when a test moves
the emulated clock: nothing here sleeps. The client polls a job's URL from a thread of
its own, so each wait on it has a deadline that fails the test.
"""

from __future__ import annotations

import datetime
import time

import pytest

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.core.deployment import of
from tests.arcgis_client import GIS, FlaskTransport

URL = "https://nbmock.test/arcgis"
HOUR = 3600
#: Seconds a test waits for the client's job thread after the clock has moved past its end.
DEADLINE = 60
USERS = (
    '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
    '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
    '[users.bob]\npassword = "bob-pw-1"\nrole = "Publisher"\n'
)
#: Each flavour as the client reaches it: Kubernetes through gis.admin (12.x shows it),
#: the standalone server through gis.notebook_server[0].
FLAVOURS = {
    "kubernetes": {"release_name": "12.1"},
    "notebook-server": {"flavour": "notebook-server"},
}


@pytest.fixture(params=list(FLAVOURS))
def site(request, tmp_path):
    users = tmp_path / "users.toml"
    users.write_text(USERS)
    app = create_app(users=users, clock=Clock(), **FLAVOURS[request.param])
    return request.param, app


def manager_of(flavour: str, gis):
    if flavour == "kubernetes":
        return gis.admin.notebooks.notebooks
    return gis.notebook_server[0].notebooks


def control(app, path: str, body: dict | None = None) -> dict:
    client = app.test_client()
    if body is None:
        answer = client.get(f"/__mock__/workload/{path}")
    else:
        answer = client.post(f"/__mock__/workload/{path}", json=body)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def advance(app, seconds: float) -> None:
    answer = app.test_client().post("/__mock__/clock", json={"advance_seconds": seconds})
    assert answer.status_code == 200


def sign_in(app):
    return GIS(URL, "admin", "admin1234", adapter={"https://": FlaskTransport(app)})


def close_idle_notebooks(gis_manager, hours: float, now: datetime.datetime) -> list[str]:
    """The README's example: close every notebook idle longer than ``hours``. It reads
    dateLastActivity as either flavour sends it (a number, or a string of digits)."""
    closed = []
    for notebook in gis_manager.list():
        last = int(notebook.properties["dateLastActivity"]) / 1000
        idle = now - datetime.datetime.fromtimestamp(last, datetime.UTC)
        if idle > datetime.timedelta(hours=hours):
            assert notebook.close() is True
            closed.append(notebook.properties["username"])
    return closed


def test_a_script_closes_every_notebook_idle_longer_than_n_hours(site):
    flavour, app = site
    control(
        app,
        "notebooks",
        {
            "notebooks": [
                {"username": "alice", "idleSeconds": 5 * HOUR, "count": 3},
                {"username": "bob", "idleSeconds": 1 * HOUR},
            ]
        },
    )
    advance(app, HOUR)  # alice's are now 6 h idle, bob's 2 h
    gis = sign_in(app)
    manager = manager_of(flavour, gis)
    assert sorted(nb.properties["username"] for nb in manager.list()) == ["alice"] * 3 + ["bob"]
    now = datetime.datetime.fromtimestamp(of(app).clock.now(), datetime.UTC)
    assert close_idle_notebooks(manager, 4, now) == ["alice"] * 3
    assert [nb.properties["username"] for nb in manager_of(flavour, sign_in(app)).list()] == ["bob"]


def test_list_shows_what_the_server_closed_by_itself_once_the_clock_passes_the_threshold(site):
    flavour, app = site
    control(app, "notebooks", {"notebooks": [{"username": "alice"}]})
    threshold_hours = {"kubernetes": 12, "notebook-server": 24}[flavour]
    advance(app, threshold_hours * HOUR - 60)
    assert len(manager_of(flavour, sign_in(app)).list()) == 1
    advance(app, 120)
    assert manager_of(flavour, sign_in(app)).list() == []


def test_the_standalone_list_sees_only_the_first_page_of_ten(tmp_path):
    """The client's list() sends neither start nor num [client], so it sees ten of twelve:
    a real trap for integrations, emulated as the Notebook Server answers [doc]."""
    users = tmp_path / "users.toml"
    users.write_text(USERS)
    app = create_app(users=users, clock=Clock(), flavour="notebook-server")
    control(app, "notebooks", {"notebooks": [{"username": "alice", "count": 12}]})
    manager = manager_of("notebook-server", sign_in(app))
    assert len(manager.list()) == 10
    assert manager.properties["total"] == 12


def seed_item(app, owner: str = "alice", title: str = "Nightly report") -> str:
    (item,) = control(app, "items", {"items": [{"owner": owner, "title": title}]})["items"]
    return item["id"]


def finish(job, app, seconds: float):
    """Move the clock past the job's end, then wait (with a deadline) for the client.

    With ``future=True`` the client may send its request from its own thread after
    this returns: the clock moves only once the emulator has the job, else the job
    would start after the move and never end.
    """
    deadline = time.monotonic() + DEADLINE
    while not _submitted(app):
        assert time.monotonic() < deadline, "the client never submitted its job"
        time.sleep(0.05)
    advance(app, seconds)
    return job._future.result(timeout=DEADLINE)  # Job.result() itself waits forever


def _submitted(app) -> bool:
    entries = app.test_client().get("/__mock__/journal").get_json()["entries"]
    return any(
        entry.get("path", "").endswith(("/openNotebook", "/executeNotebook")) for entry in entries
    )


def test_execute_notebook_returns_a_job_that_completes_as_the_clock_moves(site):
    flavour, app = site
    item_id = seed_item(app)
    control(app, "jobs", {"executeSeconds": 600})
    gis = sign_in(app)
    item = gis.content.get(item_id)
    assert item.type == "Notebook" and item.owner == "alice"
    job = manager_of(flavour, gis).execute_notebook(
        item, parameters={"region": "north", "limit": 5}, future=True
    )
    assert job.running() is True and job.done() is False  # the job's URL, on the clock
    status = finish(job, app, 601)
    assert status["status"] == "COMPLETED"
    assert job.done() is True
    (execution,) = control(app, "executions")["executions"]
    assert execution["itemId"] == item_id
    assert execution["notebookParameters"] == {"region": "north", "limit": 5}
    assert execution["username"] == "admin"


def test_execute_notebook_fails_with_the_configured_message(site):
    flavour, app = site
    item_id = seed_item(app)
    message = "Cell 3: KeyError 'region'"
    control(app, "jobs", {"executeSeconds": 30, "failure": message, "itemId": item_id})
    gis = sign_in(app)
    job = manager_of(flavour, gis).execute_notebook(gis.content.get(item_id), future=True)
    status = finish(job, app, 31)
    # The client hands a FAILED job's answer back rather than raising [client].
    assert status["status"] == "FAILED"
    assert status["messages"] == [message]


def test_open_notebook_waits_for_its_job_and_the_notebook_is_listed(site):
    flavour, app = site
    item_id = seed_item(app, owner="admin")
    gis = sign_in(app)
    manager = manager_of(flavour, gis)
    answer = manager.open_notebook(item_id)  # polls the job URL until COMPLETED [client]
    assert answer["status"] == "COMPLETED"
    (listed,) = manager_of(flavour, sign_in(app)).list()
    assert listed.properties["itemId"] == item_id
    assert listed.properties["username"] == "admin"


def test_open_notebook_as_a_future_completes_when_opening_takes_emulated_time(site):
    flavour, app = site
    item_id = seed_item(app, owner="admin")
    control(app, "jobs", {"openSeconds": 90})
    gis = sign_in(app)
    job = manager_of(flavour, gis).open_notebook(item_id, future=True)
    status = finish(job, app, 91)
    assert status["status"] == "COMPLETED"
    assert len(manager_of(flavour, sign_in(app)).list()) == 1
