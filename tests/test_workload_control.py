"""``/__mock__/workload``: what a test can make appear and steer, and what it refuses.

Every refusal is a 400 naming the problem and changes nothing; each sandbox has its own.
"""

from __future__ import annotations

import pytest

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.core.deployment import of
from tests.conftest import Api


@pytest.fixture
def app():
    return create_app(clock=Clock())


def post(app, path: str, body) -> tuple[int, dict]:
    answer = app.test_client().post(f"/__mock__/workload/{path}", json=body)
    return answer.status_code, answer.get_json()


def state(app) -> dict:
    return of(app).workload.snapshot().to_json()


def test_seeded_notebooks_are_open_for_their_user_idle_as_asked(app):
    code, answer = post(
        app, "notebooks", {"notebooks": [{"username": "alice", "idleSeconds": 7200, "count": 3}]}
    )
    assert code == 200
    assert [nb["username"] for nb in answer["notebooks"]] == ["alice"] * 3
    now = of(app).clock.now_ms()  # the clock runs with wall time: a second of slack
    for nb in answer["notebooks"]:
        assert now - nb["dateLastActivity"] == pytest.approx(7_200_000, abs=1000)
    assert len({nb["itemId"] for nb in answer["notebooks"]}) == 3  # an item each
    assert len({nb["hostId"] for nb in answer["notebooks"]}) == 1  # one host per user+runtime


def test_seeded_items_are_served_by_the_portal_to_their_owner(app):
    code, answer = post(app, "items", {"items": [{"owner": "admin", "title": "Report"}]})
    assert code == 200
    (item,) = answer["items"]
    api = Api(app)
    served = api.client.get(
        f"/arcgis/sharing/rest/content/items/{item['id']}",
        query_string={"f": "json", "token": api.token()},
    ).get_json(force=True)
    assert (served["id"], served["type"], served["owner"], served["title"]) == (
        item["id"],
        "Notebook",
        "admin",
        "Report",
    )


BAD_REQUESTS = [
    ("notebooks", {}, "'notebooks' must be a non-empty list"),
    ("notebooks", {"notebooks": []}, "'notebooks' must be a non-empty list"),
    ("notebooks", {"notebooks": ["alice"]}, "must be an object"),
    ("notebooks", {"notebooks": [{}]}, "'username' must be a user name"),
    ("notebooks", {"notebooks": [{"username": "a b"}]}, "'username' must be a user name"),
    ("notebooks", {"notebooks": [{"username": "alice", "idleSeconds": -1}]}, "idleSeconds"),
    ("notebooks", {"notebooks": [{"username": "alice", "idleSeconds": "1"}]}, "idleSeconds"),
    ("notebooks", {"notebooks": [{"username": "alice", "count": 0}]}, "'count'"),
    ("notebooks", {"notebooks": [{"username": "alice", "count": True}]}, "'count'"),
    ("notebooks", {"notebooks": [{"username": "alice", "runtimeId": "nope"}]}, "no runtime"),
    ("notebooks", {"notebooks": [{"username": "alice", "itemId": "xyz"}]}, "32 lowercase"),
    ("items", {"items": [{"title": "t"}]}, "'owner' must be a user name"),
    ("items", {"items": [{"owner": "alice", "title": ""}]}, "'title' must be printable"),
    ("items", {"items": [{"owner": "alice", "title": "a\u0000b"}]}, "'title' must be printable"),
    ("jobs", {"executeSeconds": float("inf")}, "executeSeconds"),
    ("jobs", {"executeSeconds": 1e12}, "executeSeconds"),
    ("jobs", {"failure": ""}, "'failure'"),
    ("jobs", {"failure": 3}, "'failure'"),
    ("jobs", {"openSeconds": None}, "openSeconds"),
    ("jobs", {"itemId": "0" * 32}, "send 'executeSeconds' or 'failure'"),
    ("jobs", {"colour": "red"}, "Unknown keys"),
]


@pytest.mark.parametrize(("path", "body", "words"), BAD_REQUESTS)
def test_bad_control_requests_are_400s_that_change_nothing(app, path, body, words):
    before = state(app)
    code, answer = post(app, path, body)
    assert code == 400, answer
    assert words in answer["messages"][0]
    assert state(app) == before


def test_steering_keeps_what_was_not_sent_and_reads_back(app):
    post(app, "jobs", {"executeSeconds": 30, "failure": "boom"})
    code, answer = post(app, "jobs", {"openSeconds": 5})
    assert code == 200
    assert answer["execution"] == {"seconds": 30.0, "failure": "boom"}
    assert answer["openSeconds"] == 5.0
    item = "a" * 32
    post(app, "jobs", {"itemId": item, "failure": None})
    got = app.test_client().get("/__mock__/workload/jobs").get_json()
    assert got["byItem"][item] == {"seconds": 30.0, "failure": None}
    assert got["execution"]["failure"] == "boom"


def test_a_reset_clears_the_workload(app):
    post(app, "notebooks", {"notebooks": [{"username": "alice"}]})
    post(app, "jobs", {"executeSeconds": 5})
    assert app.test_client().post("/__mock__/reset").status_code == 200
    snapshot = state(app)
    assert (
        snapshot["notebooks"] == [] and snapshot["steering"]["execution"]["duration_seconds"] == 60
    )


def test_each_sandbox_has_its_own_workload(app):
    client = app.test_client()
    made = client.post("/__mock__/sandboxes", json={}).get_json()
    sandbox = made["id"]
    code = client.post(
        f"/__mock__/sandboxes/{sandbox}/workload/notebooks",
        json={"notebooks": [{"username": "alice"}]},
    ).status_code
    assert code == 200
    assert state(app)["notebooks"] == []  # the main deployment has none
    steering = client.get(f"/__mock__/sandboxes/{sandbox}/workload/jobs").get_json()
    assert steering["execution"]["seconds"] == 60.0


#: Every way an imported snapshot's workload can hold what the rules compute with wrongly.
CORRUPTIONS = [
    ("steering.open_seconds", lambda w: w["steering"].__setitem__("open_seconds", "x")),
    ("steering.queue_seconds", lambda w: w["steering"].__setitem__("queue_seconds", -1)),
    (
        "execution duration",
        lambda w: w["steering"]["execution"].__setitem__("duration_seconds", None),
    ),
    ("execution failure", lambda w: w["steering"]["execution"].__setitem__("failure", 5)),
    (
        "by_item",
        lambda w: w["steering"]["by_item"].__setitem__(
            "x", {"duration_seconds": float("inf"), "failure": None}
        ),
    ),
    ("idle threshold text", lambda w: w["configuration"].__setitem__("idleNotebookThreshold", "x")),
    (
        "idle threshold flag",
        lambda w: w["configuration"].__setitem__("idleNotebookThreshold", True),
    ),
    ("clean age zero", lambda w: w["configuration"].__setitem__("asyncJobsCleanAgeHours", 0)),
    ("a list setting", lambda w: w["configuration"].__setitem__("webSocketSize", [1])),
    ("job times out of order", lambda w: w["jobs"][0].__setitem__("ended_ms", 0)),
    ("job inputs", lambda w: w["jobs"][0].__setitem__("inputs", [])),
]


@pytest.mark.parametrize("flavour", ["kubernetes", "notebook-server"])
@pytest.mark.parametrize(("what", "corrupt"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_a_snapshot_whose_workload_the_rules_cannot_use_is_refused(flavour, what, corrupt):
    app = create_app(clock=Clock(), flavour=flavour)
    client = app.test_client()
    item = post(app, "items", {"items": [{"owner": "admin", "title": "t"}]})[1]["items"][0]["id"]
    api = Api(app)
    assert api.post("notebooks/openNotebook", api.token(), itemId=item)["status"] == "success"
    snapshot = client.get("/__mock__/state").get_json()
    before = state(app)
    corrupt(snapshot["workload"])
    answer = client.post("/__mock__/state", json=snapshot)
    assert answer.status_code == 400, what
    assert state(app) == before
    # The API still answers: nothing half-imported.
    assert len(api.get("notebooks", api.token())["notebooks"]) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("configuration", "idleNotebookThreshold"),
        ("configuration", [["idleNotebookThreshold", 30]]),
        ("configuration", 7),
        ("steering", "fast"),
        ("steering", [["open_seconds", 1]]),
    ],
)
def test_a_snapshots_workload_part_that_is_no_object_is_refused_saying_so(name, value):
    """Found by the workload-model helper: ``dict()`` took a list of pairs as the
    configuration, and answered a string in Python's own words."""
    app = create_app(clock=Clock())
    client = app.test_client()
    snapshot = client.get("/__mock__/state").get_json()
    before = state(app)
    snapshot["workload"][name] = value
    answer = client.post("/__mock__/state", json=snapshot)
    assert answer.status_code == 400
    assert f"'{name}' must be an object." in answer.get_data(as_text=True)
    assert state(app) == before
