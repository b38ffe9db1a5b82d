"""The /__mock__/ control plane, in process through the ``arcgis_mock`` fixture (the plugin)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from mockserver import create_app
from mockserver.control import context as control_context
from mockserver.testing import InProcessEmulator
from tests.conftest import REPO, SEED_COPY, STANDARD_ID


def copy(mock: InProcessEmulator, token: str, **changes: str) -> requests.Response:
    return mock.session.post(
        f"{mock.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, **changes, "f": "json", "token": token},
        timeout=30,
    )


def runtime_ids(mock: InProcessEmulator, token: str) -> list[str]:
    answer = mock.session.get(
        f"{mock.admin_url}/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
    ).json()
    return [runtime["id"] for runtime in answer["runtimes"]]


def test_health_names_release_and_context(arcgis_mock):
    assert arcgis_mock.control("GET", "health") | {"pid": 0} == {
        "status": "ok",
        "release": "12.1",
        "context": "arcgis",
        "profile": None,
        "pid": 0,
    }


def test_reset_removes_copies_and_restores_seeded_runtimes(arcgis_mock):
    token = arcgis_mock.token()
    seeded = runtime_ids(arcgis_mock, token)
    assert copy(arcgis_mock, token).json()["status"] == "success"
    assert len(runtime_ids(arcgis_mock, token)) == len(seeded) + 1
    arcgis_mock.reset()
    assert runtime_ids(arcgis_mock, token) == seeded
    assert arcgis_mock.journal("copy") == []


def test_fixture_gives_each_test_a_fresh_deployment_part_one(arcgis_mock):
    token = arcgis_mock.token()
    copy(arcgis_mock, token, name="left behind")
    arcgis_mock.fault("runtimes", status=503)
    arcgis_mock.advance_clock(3600)


def test_fixture_gives_each_test_a_fresh_deployment_part_two(arcgis_mock):
    token = arcgis_mock.token()
    names = arcgis_mock.session.get(
        f"{arcgis_mock.admin_url}/notebooks/runtimes", params={"f": "json", "token": token}
    ).json()
    assert "left behind" not in str(names)
    assert arcgis_mock.control("GET", "faults") == {"faults": []}
    assert abs(arcgis_mock.control("GET", "clock")["offsetSeconds"]) < 1


def test_same_seed_after_reset_gives_same_ids(arcgis_mock):
    token = arcgis_mock.token()
    runs = []
    for _ in range(2):
        arcgis_mock.reset(seed=42)
        runs.append(
            [copy(arcgis_mock, token, name=f"c{i}").json()["notebookRuntime"] for i in range(2)]
        )
    first, second = runs
    assert [(r["id"], r["deploymentDefaultPropertyId"]) for r in first] == [
        (r["id"], r["deploymentDefaultPropertyId"]) for r in second
    ]
    arcgis_mock.reset(seed=43)
    other = copy(arcgis_mock, token, name="c0").json()["notebookRuntime"]
    assert other["id"] != first[0]["id"]


def test_seed_endpoint_sets_the_seed_for_later_copies(arcgis_mock):
    token = arcgis_mock.token()
    assert arcgis_mock.control("POST", "seed", {"seed": 5}) == {"status": "success", "seed": 5}
    seeded = copy(arcgis_mock, token).json()["notebookRuntime"]["id"]
    arcgis_mock.reset()
    arcgis_mock.control("POST", "seed", {"seed": 5})
    assert copy(arcgis_mock, token).json()["notebookRuntime"]["id"] == seeded


def test_state_export_then_import_restores_runtimes(arcgis_mock):
    token = arcgis_mock.token()
    copy(arcgis_mock, token, name="kept")
    snapshot = arcgis_mock.control("GET", "state")
    assert "token_secret" not in str(snapshot)
    before = runtime_ids(arcgis_mock, token)
    arcgis_mock.reset()
    assert arcgis_mock.control("POST", "state", snapshot) == {"status": "success", "runtimes": 3}
    assert runtime_ids(arcgis_mock, token) == before
    # A copy after the import still gets a newer revision than any imported one.
    newest = max(item["runtime"]["revision"] for item in snapshot["runtimes"])
    assert copy(arcgis_mock, token).json()["notebookRuntime"]["revision"] > newest


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.update(release="9.9"),
        lambda s: s.update(format="other"),
        lambda s: s["runtimes"].append(s["runtimes"][0]),
        lambda s: s["runtimes"][0]["runtime"].update(maxCpu="lots"),
        lambda s: s["runtimes"][0]["runtime"].pop("name"),
        lambda s: s["runtimes"][0]["runtime"].update(revision=2**70),
        lambda s: s.update(runtimes="none"),
    ],
    ids=["release", "format", "duplicate", "type", "missing", "huge-revision", "not-a-list"],
)
def test_refused_state_import_changes_nothing(arcgis_mock, damage):
    token = arcgis_mock.token()
    copy(arcgis_mock, token, name="survivor")
    snapshot = arcgis_mock.control("GET", "state")
    before = runtime_ids(arcgis_mock, token)
    damage(snapshot)
    response = arcgis_mock.session.post(f"{arcgis_mock.control_url}/state", json=snapshot)
    assert response.status_code == 400
    assert response.json()["status"] == "error" and response.json()["messages"][0]
    assert runtime_ids(arcgis_mock, token) == before


def test_journal_records_what_the_client_sent_with_secrets_masked(arcgis_mock):
    token = arcgis_mock.token()
    copy(arcgis_mock, token, maxCpu="6.0")
    arcgis_mock.session.get(
        f"{arcgis_mock.admin_url}/notebooks/runtimes", params={"f": "json", "token": token}
    )
    arcgis_mock.session.get(
        f"{arcgis_mock.admin_url}/notebooks/runtimes",
        params={"f": "json"},
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    )
    journal = arcgis_mock.journal()
    assert [entry["operation"] for entry in journal] == [
        "generateToken",
        "copy",
        "runtimes",
        "runtimes",
    ]
    (copied,) = arcgis_mock.journal("copy")
    assert copied["method"] == "POST"
    assert copied["params"]["maxCpu"] == "6.0"
    assert copied["params"]["token"] == "***"
    assert copied["status"] == 200 and copied["code"] is None
    assert copied["response"]["notebookRuntime"]["maxCpu"] == 6
    assert journal[0]["params"]["password"] == "***"
    assert journal[0]["response"]["token"] == "***"
    text = str(arcgis_mock.control("GET", "journal"))
    assert token not in text and "admin1234" not in text


def test_journal_keeps_error_envelope_and_code(arcgis_mock):
    token = arcgis_mock.token()
    copy(arcgis_mock, token, minCpu="9")
    (entry,) = arcgis_mock.journal("copy")
    assert entry["code"] == 400
    assert entry["response"]["status"] == "error"


def test_error_fault_answers_in_arcgis_envelope_and_copies_nothing(arcgis_mock):
    token = arcgis_mock.token()
    before = runtime_ids(arcgis_mock, token)
    rule = {"operation": "copy", "error": {"code": 500, "message": "Injected"}, "times": 1}
    arcgis_mock.control("POST", "faults", rule)
    first = copy(arcgis_mock, token)
    assert first.status_code == 200
    assert first.json() == {"status": "error", "messages": ["Injected"], "code": 500}
    assert runtime_ids(arcgis_mock, token) == before
    assert copy(arcgis_mock, token).json()["status"] == "success"
    (described,) = arcgis_mock.control("GET", "faults")["faults"]
    assert described["remaining"] == 0 and described["matched"] == 1


def test_error_fault_on_portal_uses_portal_envelope(arcgis_mock):
    arcgis_mock.fault("generateToken", error={"code": 400, "message": "Nope", "details": ["d"]})
    answer = arcgis_mock.session.post(
        f"{arcgis_mock.portal_url}/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).json()
    assert answer == {"error": {"code": 400, "message": "Nope", "details": ["d"]}}


def test_status_fault_answers_that_http_status(arcgis_mock):
    arcgis_mock.fault("runtimes", status=503, times=2)
    url = f"{arcgis_mock.admin_url}/notebooks/runtimes?f=json"
    codes = [arcgis_mock.session.get(url).status_code for _ in range(3)]
    assert codes[:2] == [503, 503] and codes[2] == 200
    assert [entry["fault"] for entry in arcgis_mock.journal("runtimes")] == [
        "status",
        "status",
        None,
    ]


def test_drop_fault_is_a_connection_error_in_process(arcgis_mock):
    arcgis_mock.fault("info", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json")
    assert arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json").ok
    dropped, answered = arcgis_mock.journal("info")
    assert dropped["fault"] == "drop" and dropped["status"] is None
    assert answered["status"] == 200


def test_delay_fault_still_answers_normally(arcgis_mock):
    arcgis_mock.fault("info", delay_seconds=0.05, times=1)
    assert arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json").json()["authInfo"]
    assert arcgis_mock.journal("info")[0]["fault"] == "delay"


def test_probability_fault_hits_the_same_requests_for_the_same_seed(arcgis_mock):
    patterns = []
    for _ in range(2):
        arcgis_mock.reset()
        arcgis_mock.fault("info", status=502, probability=0.5, seed=11)
        url = f"{arcgis_mock.portal_url}/info?f=json"
        patterns.append([arcgis_mock.session.get(url).status_code for _ in range(30)])
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 502}


def test_delete_faults_clears_them(arcgis_mock):
    rule = arcgis_mock.fault("*", status=500)
    assert rule["operation"] == "*"
    arcgis_mock.clear_faults()
    assert arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json").ok


def test_one_fault_can_be_deleted_by_id(arcgis_mock):
    rule = arcgis_mock.fault("info", status=500)
    assert arcgis_mock.control("DELETE", f"faults/{rule['id']}") == {"status": "success"}
    missing = arcgis_mock.session.delete(f"{arcgis_mock.control_url}/faults/{rule['id']}")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": "nope", "status": 500},
        {"operation": "copy"},
        {"operation": "copy", "drop": True, "status": 500},
        {"operation": "copy", "delay_seconds": 3600},
        {"operation": "copy", "status": 500, "times": 0},
        {"operation": "copy", "status": 500, "probability": 0},
        {"operation": "copy", "error": "boom"},
        {"operation": "copy", "status": 500, "surprise": 1},
        [1, 2],
    ],
)
def test_bad_fault_rule_is_refused_and_adds_nothing(arcgis_mock, rule):
    response = arcgis_mock.session.post(f"{arcgis_mock.control_url}/faults", json=rule)
    assert response.status_code == 400
    assert response.json()["messages"][0]
    assert arcgis_mock.control("GET", "faults") == {"faults": []}


def test_non_json_control_body_is_refused(arcgis_mock):
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/clock",
        data="{nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["messages"][0]


def test_control_body_without_json_content_type_is_refused_and_changes_nothing(arcgis_mock):
    """A browser's text/plain POST needs no preflight: it must not move the clock."""
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/clock",
        data='{"advance_seconds": 7200}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["messages"][0]
    assert abs(arcgis_mock.control("GET", "clock")["offsetSeconds"]) < 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_control_requests_are_refused_and_change_nothing(arcgis_mock, headers):
    token = arcgis_mock.token()
    assert copy(arcgis_mock, token).json()["status"] == "success"
    before = runtime_ids(arcgis_mock, token)
    for path, body in (("state", {"runtimes": []}), ("faults", {"operation": "*", "status": 503})):
        response = arcgis_mock.session.post(
            f"{arcgis_mock.control_url}/{path}", json=body, headers=headers
        )
        assert response.status_code == 403
        assert "Cross-site" in response.json()["messages"][0]
    assert runtime_ids(arcgis_mock, token) == before
    assert arcgis_mock.control("GET", "faults") == {"faults": []}


def test_same_origin_and_originless_control_requests_pass(arcgis_mock):
    own = {"Origin": arcgis_mock.origin, "Sec-Fetch-Site": "same-origin"}
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/clock", json={"advance_seconds": 60}, headers=own
    )
    assert response.status_code == 200
    assert arcgis_mock.control("POST", "reset")["status"] == "success"


def test_journal_entry_is_cut_to_its_bound_with_a_marker(arcgis_mock):
    junk = "x" * 1_000_000
    arcgis_mock.session.post(
        f"{arcgis_mock.portal_url}/generateToken", data={"username": junk, "f": "json"}
    )
    (entry,) = arcgis_mock.journal("generateToken")
    kept = entry["params"]["username"]
    assert kept.startswith("xxx") and kept.endswith("characters]")
    assert "cut 995904 characters" in kept
    assert len(json.dumps(entry)) < 10_000


def test_journal_total_is_bounded_in_bytes():
    app = create_app()
    plane = control_context.of(app)
    plane.store.max_bytes = 200_000
    client = app.test_client()
    for _ in range(200):
        client.post(
            "/arcgis/sharing/rest/generateToken",
            data={f"p{i}": "y" * 4096 for i in range(10)} | {"f": "json"},
        )
    plane.store.prune_journal()
    entries, size = plane.store.journal_size()
    assert size <= 200_000
    assert 0 < entries < 200
    answer = client.get("/__mock__/journal", query_string={"limit": 10_000})
    assert len(answer.get_data()) < 300_000


def test_advancing_the_clock_expires_tokens_without_sleeping(arcgis_mock):
    token = arcgis_mock.token()
    url = f"{arcgis_mock.admin_url}/notebooks/runtimes"
    assert "runtimes" in arcgis_mock.session.get(url, params={"f": "json", "token": token}).json()
    moved = arcgis_mock.control("POST", "clock", {"advance_seconds": 7200})
    assert moved["offsetSeconds"] == pytest.approx(7200)
    answer = arcgis_mock.session.get(url, params={"f": "json", "token": token}).json()
    assert answer["code"] == 498


def test_clock_can_be_set_and_returned_to_real_time(arcgis_mock):
    target = 2_000_000_000
    assert arcgis_mock.control("POST", "clock", {"epoch_seconds": target})[
        "epochMs"
    ] // 1000 == pytest.approx(target, abs=2)
    assert abs(arcgis_mock.control("POST", "clock", {"real": True})["offsetSeconds"]) < 1


@pytest.mark.parametrize(
    "body", [{}, {"advance_seconds": "soon"}, {"advance_seconds": 1e12}, {"real": False}]
)
def test_bad_clock_move_is_refused(arcgis_mock, body):
    response = arcgis_mock.session.post(f"{arcgis_mock.control_url}/clock", json=body)
    assert response.status_code == 400
    assert abs(arcgis_mock.control("GET", "clock")["offsetSeconds"]) < 1


def test_control_token_is_required_when_set():
    app = create_app(control_token="s3cret")
    client = app.test_client()
    assert client.get("/__mock__/health").status_code == 200
    assert client.get("/__mock__/journal").status_code == 401
    assert (
        client.get("/__mock__/journal", headers={"X-Nbmock-Control-Token": "wrong"}).status_code
        == 401
    )
    ok = client.get("/__mock__/journal", headers={"X-Nbmock-Control-Token": "s3cret"})
    assert ok.status_code == 200
    bearer = client.post("/__mock__/reset", headers={"Authorization": "Bearer s3cret"})
    assert bearer.status_code == 200


def test_control_plane_off_leaves_only_health():
    client = create_app(control_enabled=False).test_client()
    assert client.get("/__mock__/health").status_code == 200
    refused = client.post("/__mock__/reset")
    assert refused.status_code == 403
    assert "--control-token" in refused.get_json(force=True)["messages"][0]


@pytest.mark.arcgis_mock(release_name="11.5", seed=3)
def test_marker_gives_a_test_its_own_options(arcgis_mock):
    assert arcgis_mock.control("GET", "health")["release"] == "11.5"
    assert arcgis_mock.control("GET", "state")["seed"] == 3


def test_control_plane_is_an_extension_that_keeps_no_app():
    """Flask's extension guide: one extension object serves any number of apps."""
    from mockserver.control import ControlPlane

    plane = ControlPlane()
    assert not hasattr(plane, "app")
    apps = [create_app(), create_app()]
    assert control_context.of(apps[0]) is not control_context.of(apps[1])
    for app in apps:
        assert app.test_client().get("/__mock__/health").status_code == 200


def test_control_plane_has_no_lazy_import_dodging_a_cycle():
    """Every import of the control plane is at its module's top: a lazy one hid the
    plane.py <-> routes.py cycle."""
    import ast
    from pathlib import Path

    import mockserver.control

    for path in Path(mockserver.control.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert id(node) in top, f"{path.name}:{node.lineno} imports inside a function"


def test_reset_asks_every_state_owner():
    from mockserver.core import owners

    app = create_app()
    calls = []

    class Recorder:
        def reset(self, tx):
            calls.append("reset")

        def export(self, tx):
            calls.append("export")
            return {"recorded": True}

        def load(self, tx, snapshot):
            calls.append(("load", snapshot.get("recorded")))

    owners.register(app, Recorder())
    client = app.test_client()
    assert client.post("/__mock__/reset").status_code == 200
    snapshot = client.get("/__mock__/state").get_json(force=True)
    assert snapshot["recorded"] is True
    assert client.post("/__mock__/state", json=snapshot).status_code == 200
    assert calls == ["reset", "export", ("load", True)]


def test_a_fault_rule_with_a_lone_surrogate_is_refused_and_answers_keep_working(arcgis_mock):
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/faults",
        data='{"operation": "runtimes", "error": {"code": 500, "message": "x\\ud800"}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["messages"][0]
    assert arcgis_mock.control("GET", "faults") == {"faults": []}


def _verbs_of_the_readmes_table() -> set[str]:
    """The control plane's verbs as the README's table names them (`GET health`, …)."""
    section = (REPO / "README.md").read_text().split("## Control plane: `/__mock__/`", 1)[1]
    table = section.split("\n\n| endpoint | does |", 1)[1].split("\n\n", 1)[0]
    return {
        name.split("/")[0] if not name.startswith("workload/") else name
        for cell in re.findall(r"^\| (.*?) \|", table, re.MULTILINE)
        for name in re.findall(r"`(?:GET|POST|DELETE) ([a-z/]+)", cell)
    }


def test_the_control_planes_root_says_what_is_under_it():
    """`nbmock serve` prints /__mock__/ as the control plane: asked for, it names every verb
    of the README's table (it answered only that "the README lists /__mock__/")."""
    api = create_app().test_client()
    answer = api.get("/__mock__/")
    assert answer.status_code == 404
    (message,) = answer.get_json()["messages"]
    listed = set(message.split(" there are ", 1)[1].rstrip(".").split(", "))
    assert _verbs_of_the_readmes_table() <= listed, message


def test_a_sandboxs_unknown_control_path_names_its_own_plane():
    api = create_app(max_sandboxes=1).test_client()
    sandbox = api.post("/__mock__/sandboxes", json={}).get_json()["id"]
    (message,) = api.get(f"/__mock__/sandboxes/{sandbox}/nope").get_json()["messages"]
    assert f"under /__mock__/sandboxes/{sandbox}/ there are clock," in message, message


def test_the_served_control_planes_root_says_what_is_under_it(served):
    answer = requests.get(f"{served.origin}/__mock__/", timeout=10)
    assert answer.status_code == 404
    assert "under /__mock__/ there are clock, faults, health," in answer.json()["messages"][0]
