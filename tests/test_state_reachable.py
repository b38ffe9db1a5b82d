"""State import produces only states the API itself can reach (issue 24).

An import that marked Esri's Standard runtime a copy let ``unregister`` delete a
system runtime. Each test below spoils an export in one way no sequence of API
calls could produce, and checks the answer names what is wrong, nothing changed,
and the system runtimes are still safe from ``unregister``.
"""

from __future__ import annotations

import copy
import json
import re
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess

#: An id that climbs out of wherever it is used as a path, the outside round's example.
#: Built from parts so the repository's own scan for references outside it
#: (tests/test_repository_self_contained.py) does not take it for one.
PATH_LIKE_ID = "/".join(("..", "..", "x", "<b>?a=1#"))

ADVANCED_ID = "3b7c1f5e-9a2d-4e8b-b6c4-5f0e2a7d9c31"
SYSTEM_IDS = (STANDARD_ID, ADVANCED_ID)
COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
PROPERTY_ID = re.compile(r"p[a-z0-9]{20}")


def export(api: Api) -> dict:
    return api.client.get("/__mock__/state").get_json(force=True)


def import_(api: Api, snapshot: dict) -> tuple[int, dict]:
    response = api.client.post(
        "/__mock__/state", data=json.dumps(snapshot), headers={"Content-Type": "application/json"}
    )
    return response.status_code, response.get_json(force=True)


def two_copies(api: Api, token: str) -> dict:
    """An export with the two system runtimes and two copies of Standard."""
    for _ in range(2):
        assert api.post(COPY, token, **SEED_COPY)["status"] == "success"
    return export(api)


def _system_runtimes_are_safe(api: Api, token: str) -> None:
    for system_id in SYSTEM_IDS:
        answer = api.post(f"notebooks/runtimes/{system_id}/unregister", token)
        assert answer["status"] == "error", answer
    listed = {runtime["id"] for runtime in api.runtimes(token)}
    assert set(SYSTEM_IDS) <= listed


def _entry(snapshot: dict, runtime_id: str) -> dict:
    return next(e for e in snapshot["runtimes"] if e["runtime"]["id"] == runtime_id)


def _copies(snapshot: dict) -> list[dict]:
    return [e for e in snapshot["runtimes"] if e["runtime"]["id"] not in SYSTEM_IDS]


# Every field of a system runtime that no call changes, with a value it never has.
SYSTEM_FIELDS = {
    "copied": True,
    "esriProvidedRuntime": False,
    "version": "99.0",
    "name": "Renamed",
    "requiresAdvancedPrivileges": None,  # flipped below
    "deploymentDefaultPropertyId": "p" + "0" * 20,
}


def _system_spoils():
    for system_id in SYSTEM_IDS:
        for field, value in SYSTEM_FIELDS.items():

            def spoil(snapshot, system_id=system_id, field=field, value=value):
                runtime = _entry(snapshot, system_id)["runtime"]
                runtime[field] = not runtime[field] if value is None else value

            yield pytest.param(spoil, field, id=f"{system_id[:4]}-{field}")

        def with_source(snapshot, system_id=system_id):
            other = ADVANCED_ID if system_id == STANDARD_ID else STANDARD_ID
            _entry(snapshot, system_id)["sourceId"] = other

        yield pytest.param(with_source, "sourceId", id=f"{system_id[:4]}-has-a-source")

        def missing(snapshot, system_id=system_id):
            snapshot["runtimes"].remove(_entry(snapshot, system_id))

        yield pytest.param(missing, "missing", id=f"{system_id[:4]}-missing")


def _copy_spoils():
    def field(name, value):
        def spoil(snapshot):
            _copies(snapshot)[0]["runtime"][name] = value

        return spoil

    def source(choose):
        def spoil(snapshot):
            first, second = _copies(snapshot)
            first["sourceId"] = choose(first, second)

        return spoil

    cases = {
        "not-copied": (field("copied", False), "'copied' true"),
        "esri-provided": (field("esriProvidedRuntime", True), "'esriProvidedRuntime' false"),
        "id-a-path": (field("id", PATH_LIKE_ID), "'id'"),
        "id-upper-case": (field("id", str(uuid.uuid4()).upper()), "'id'"),
        "id-uuid1": (field("id", str(uuid.uuid1())), "'id'"),
        "id-braced": (field("id", "{" + str(uuid.uuid4()) + "}"), "'id'"),
        "property-id": (field("deploymentDefaultPropertyId", "P" + "a" * 20), "PropertyId"),
        "version-future": (field("version", "99.0"), "'version'"),
        "version-text": (field("version", "latest"), "'version'"),
        "privileges-not-its-source": (field("requiresAdvancedPrivileges", True), "Privileges"),
        "own-source": (source(lambda first, _: first["runtime"]["id"]), "'sourceId'"),
        "copy-of-a-copy": (source(lambda _, second: second["runtime"]["id"]), "'sourceId'"),
        "no-source": (source(lambda _first, _second: None), "'sourceId'"),
        "unknown-source": (source(lambda _first, _second: str(uuid.uuid4())), "'sourceId'"),
    }
    for name, (spoil, words) in cases.items():
        yield pytest.param(spoil, words, id=name)

    def revision_counter_behind(snapshot):
        snapshot["lastRevision"] = _copies(snapshot)[-1]["runtime"]["revision"] - 1

    yield pytest.param(revision_counter_behind, "'lastRevision'", id="last-revision-behind")


@pytest.mark.parametrize(("spoil", "words"), [*_system_spoils(), *_copy_spoils()])
def test_import_of_a_state_the_api_cannot_reach_is_a_400_naming_it_and_changes_nothing(
    api, token, spoil, words
):
    snapshot = two_copies(api, token)
    before = copy.deepcopy(snapshot)
    spoil(snapshot)
    status, answer = import_(api, snapshot)
    assert status == 400, answer
    assert answer["status"] == "error" and answer["code"] == 400
    assert words in answer["messages"][0], answer
    assert export(api) == before
    _system_runtimes_are_safe(api, token)


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)


@PROPERTY
@given(
    new_id=st.one_of(
        printable,
        st.uuids().map(str).map(str.upper),
        st.uuids(version=1).map(str),
        st.uuids(version=4).map(lambda u: u.hex),
        st.uuids(version=4).map(lambda u: f"{u}/.."),
    )
)
def test_import_refuses_every_copy_id_copy_would_not_make(new_id):
    api = Api(create_app(seed=3))
    token = api.token()
    snapshot = two_copies(api, token)
    before = copy.deepcopy(snapshot)
    _copies(snapshot)[0]["runtime"]["id"] = new_id
    status, answer = import_(api, snapshot)
    if UUID4.fullmatch(new_id):
        assert status == 200, answer
    else:
        assert status == 400, (new_id, answer)
        assert export(api) == before


@PROPERTY
@given(property_id=printable)
def test_import_refuses_every_property_id_copy_would_not_make(property_id):
    api = Api(create_app(seed=3))
    token = api.token()
    snapshot = two_copies(api, token)
    _copies(snapshot)[0]["runtime"]["deploymentDefaultPropertyId"] = property_id
    status, answer = import_(api, snapshot)
    assert status == (200 if PROPERTY_ID.fullmatch(property_id) else 400), answer


def test_a_served_import_cannot_make_unregister_delete_a_system_runtime():
    """The finding, through ``nbmock serve``: Standard marked a copy, then unregistered."""
    server = NbmockProcess()
    try:
        _served_import_refusals(server)
    finally:
        server.stop()


def _served_import_refusals(server: NbmockProcess) -> None:
    session = requests.Session()
    state = f"{server.origin}/__mock__/state"
    before = session.get(state, timeout=10).json()
    for changes in (
        {"esriProvidedRuntime": False, "copied": True},
        {"version": "99.0"},
    ):
        snapshot = copy.deepcopy(before)
        _entry(snapshot, STANDARD_ID)["runtime"].update(changes)
        refused = session.post(state, json=snapshot, timeout=10)
        assert refused.status_code == 400, refused.text
        assert refused.json()["messages"][0].startswith("runtimes[0]: the system runtime")
    token = server.token()
    unregister = session.post(
        f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}/unregister",
        data={"f": "json", "token": token},
        timeout=10,
    ).json()
    assert unregister["status"] == "error"
    assert session.get(state, timeout=10).json()["runtimes"] == before["runtimes"]


# --- the standalone Notebook Server flavour: the same class, its own rules ----------------

SERVER_REGISTER = {
    "name": "Registered",
    "imageId": "sha256:" + "1e" * 32,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "2",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}


def _server_with_two_registered() -> tuple[Api, str, dict, list[str]]:
    from mockserver.notebookserver.releases import esri_runtimes

    api = Api(create_app(flavour="notebook-server"))
    token = api.token()
    for _ in range(2):
        made = api.post("notebooks/runtimes/register", token, **SERVER_REGISTER)
        assert "notebookRuntime" in made, made
    esri_ids = [body["id"] for body in esri_runtimes("0")]
    return api, token, export(api), esri_ids


def _server_spoils():
    def esri_flag(position):
        def spoil(snapshot, esri_ids):
            _entry(snapshot, esri_ids[position])["runtime"]["esriProvidedRuntime"] = False

        return spoil

    def registered(field, value):
        def spoil(snapshot, esri_ids):
            entry = next(e for e in snapshot["runtimes"] if e["runtime"]["id"] not in esri_ids)
            entry["runtime"][field] = value

        return spoil

    def missing(position):
        def spoil(snapshot, esri_ids):
            snapshot["runtimes"].remove(_entry(snapshot, esri_ids[position]))

        return spoil

    def behind(snapshot, _esri_ids):
        snapshot["lastRevision"] = max(e["runtime"]["revision"] for e in snapshot["runtimes"]) - 1

    cases = {
        "standard-not-esris": (esri_flag(0), "'esriProvidedRuntime' must be true"),
        "advanced-not-esris": (esri_flag(1), "'esriProvidedRuntime' must be true"),
        "registered-as-esris": (registered("esriProvidedRuntime", True), "only Esri's"),
        "id-a-path": (registered("id", PATH_LIKE_ID), "'id'"),
        "id-upper-case": (registered("id", str(uuid.uuid4()).upper()), "'id'"),
        "id-uuid1": (registered("id", str(uuid.uuid1())), "'id'"),
        "standard-missing": (missing(0), "missing"),
        "advanced-missing": (missing(1), "missing"),
        "last-revision-behind": (behind, "'lastRevision'"),
    }
    for name, (spoil, words) in cases.items():
        yield pytest.param(spoil, words, id=name)


@pytest.mark.parametrize(("spoil", "words"), list(_server_spoils()))
def test_a_notebook_server_import_the_api_cannot_reach_is_refused_and_changes_nothing(spoil, words):
    api, token, snapshot, esri_ids = _server_with_two_registered()
    before = copy.deepcopy(snapshot)
    spoil(snapshot, esri_ids)
    status, answer = import_(api, snapshot)
    assert status == 400, answer
    assert words in answer["messages"][0], answer
    assert export(api) == before
    for esri_id in esri_ids:
        refused = api.post(f"notebooks/runtimes/{esri_id}/unregister", token)
        assert refused["status"] == "error", refused


def test_a_served_notebook_server_import_cannot_make_unregister_delete_esris_runtime():
    server = NbmockProcess("--flavour", "notebook-server")
    try:
        state = f"{server.origin}/__mock__/state"
        before = requests.get(state, timeout=10).json()
        snapshot = copy.deepcopy(before)
        standard = snapshot["runtimes"][0]["runtime"]
        standard["esriProvidedRuntime"] = False
        refused = requests.post(state, json=snapshot, timeout=10)
        assert refused.status_code == 400, refused.text
        unregister = requests.post(
            f"{server.base}/admin/notebooks/runtimes/{standard['id']}/unregister",
            data={"f": "json", "token": server.token()},
            timeout=10,
        ).json()
        assert unregister["status"] == "error"
        assert requests.get(state, timeout=10).json()["runtimes"] == before["runtimes"]
    finally:
        server.stop()
