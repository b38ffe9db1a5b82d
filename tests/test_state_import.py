"""``POST /__mock__/state`` obeys the API's own rules (issue 11), and any export imports back."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.reliability.hostile_values import hostile_forms, hostile_snapshots
from contracts.strategies import copy_requests, update_requests
from mockserver import create_app
from mockserver.core import messages
from mockserver.core.counters import MAX_COUNTER
from mockserver.core.values import MEMORY_UNITS, NAME_MAX_LENGTH
from tests.conftest import SEED_COPY, STANDARD_ID, Api

COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"
UPDATE_FORM = {"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g"}


def export(api: Api) -> dict:
    return api.client.get("/__mock__/state").get_json(force=True)


def import_(api: Api, snapshot) -> tuple[int, dict]:
    text = snapshot if isinstance(snapshot, str) else json.dumps(snapshot)
    response = api.client.post(
        "/__mock__/state", data=text, headers={"Content-Type": "application/json"}
    )
    return response.status_code, response.get_json(force=True)


def with_copy(api: Api, token: str) -> dict:
    api.post(COPY, token, **SEED_COPY)
    return export(api)


def _all_operations_work(api: Api, token: str) -> None:
    for fmt in ("json", "pjson", "html"):
        listed = api.client.get(
            "/arcgis/admin/notebooks/runtimes", query_string={"f": fmt, "token": token}
        )
        assert listed.status_code == 200
    copied = api.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    assert api.post(f"notebooks/runtimes/{copied['id']}/update", token, **UPDATE_FORM) == {
        "status": "success"
    }


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda rt: rt.update(minMemoryUnit="x"), "minMemoryUnit"),
        (lambda rt: rt.update(name="\ud800"), "not valid Unicode"),
        (lambda rt: rt.update(name="\x00"), "control characters"),
        (lambda rt: rt.update(podPlacementPolicy={"a": [float("nan")]}), "podPlacementPolicy"),
        (lambda rt: rt.update(customResources={"\udfff": 1}), "not valid Unicode"),
        (lambda rt: rt.update(minCpu=8, maxCpu=2), "'minCpu' must not be greater"),
        (lambda rt: rt.update(maxMemory=-1), "maxMemory"),
    ],
)
def test_import_refuses_what_the_api_would_refuse(api, token, spoil, words):
    snapshot = with_copy(api, token)
    before = export(api)
    spoil(snapshot["runtimes"][-1]["runtime"])
    status, answer = import_(api, json.dumps(snapshot, allow_nan=True))
    assert status == 400
    assert words in answer["messages"][0]
    assert export(api) == before
    _all_operations_work(api, token)


#: A field to leave out of the imported runtime.
DROP = object()
UNITS = ", ".join(MEMORY_UNITS)
TEXT_RULE = f"'{{name}}' must be a non-empty string of at most {NAME_MAX_LENGTH}."
REVISION_RULE = f"'revision' must be an integer from 0 to {MAX_COUNTER}."
ELEVEN_UNKNOWN = {f"extra{n:02}": n for n in range(11)}


def _changed(runtime: dict, changes: dict) -> None:
    for name, value in changes.items():
        if value is DROP:
            del runtime[name]
        else:
            runtime[name] = value


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"revision": DROP}, "missing revision", id="missing"),
        pytest.param(
            {"minCpu": DROP, "revision": DROP}, "missing minCpu, revision", id="two-missing"
        ),
        pytest.param({"colour": "red"}, "unknown colour", id="unknown"),
        pytest.param(
            ELEVEN_UNKNOWN,
            "unknown " + ", ".join(list(ELEVEN_UNKNOWN)[:10]),
            id="unknown-listed-up-to-ten",
        ),
        pytest.param({"k" * 50: 1}, "unknown " + "k" * 40, id="unknown-cut-to-40"),
        pytest.param({"id": "   "}, TEXT_RULE.format(name="id"), id="blank-id"),
        pytest.param({"version": 14}, TEXT_RULE.format(name="version"), id="version-not-text"),
        pytest.param(
            {"deploymentDefaultPropertyId": "p" * (NAME_MAX_LENGTH + 1)},
            TEXT_RULE.format(name="deploymentDefaultPropertyId"),
            id="property-id-too-long",
        ),
        pytest.param(
            {"id": "a\nb"}, "'id' must hold printable characters only.", id="id-unprintable"
        ),
        pytest.param({"name": None}, messages.REQUIRED.format(name="name"), id="name-null"),
        pytest.param({"copied": "true"}, "'copied' must be true or false.", id="flag-as-text"),
        pytest.param(
            {"minCpu": "2"},
            messages.NOT_A_NUMBER.format(name="minCpu", value="'2'"),
            id="number-as-text",
        ),
        pytest.param(
            {"maxCpu": True},
            messages.NOT_A_NUMBER.format(name="maxCpu", value="True"),
            id="number-as-boolean",
        ),
        pytest.param({"minCpu": 0}, messages.NOT_POSITIVE.format(name="minCpu"), id="min-cpu-zero"),
        pytest.param(
            {"maxMemory": -1}, messages.NEGATIVE.format(name="maxMemory"), id="memory-negative"
        ),
        pytest.param(
            {"sharedMemorySizeUnit": None},
            messages.BAD_UNIT.format(name="sharedMemorySizeUnit", value="", units=UNITS),
            id="unit-null",
        ),
        pytest.param(
            {"maxSwapMemoryUnit": "G"},
            messages.BAD_UNIT.format(name="maxSwapMemoryUnit", value="G", units=UNITS),
            id="unit-upper-case",
        ),
        pytest.param(
            {"podPlacementPolicy": []},
            messages.NOT_AN_OBJECT.format(name="podPlacementPolicy"),
            id="policy-a-list",
        ),
        pytest.param({"revision": "7"}, REVISION_RULE, id="revision-as-text"),
        pytest.param({"revision": True}, REVISION_RULE, id="revision-boolean"),
        pytest.param({"revision": -1}, REVISION_RULE, id="revision-negative"),
        pytest.param({"revision": MAX_COUNTER + 1}, REVISION_RULE, id="revision-past-bound"),
        pytest.param(
            {"minCpu": 4.5, "maxCpu": 4},
            messages.MIN_ABOVE_MAX.format(low="minCpu", high="maxCpu"),
            id="cpu-min-above-max",
        ),
        pytest.param(
            {"minMemory": 3, "minMemoryUnit": "g", "maxMemory": 2048, "maxMemoryUnit": "m"},
            messages.MIN_ABOVE_MAX.format(low="minMemory", high="maxMemory"),
            id="memory-min-above-max-across-units",
        ),
    ],
)
def test_import_names_the_runtime_and_its_problem_and_changes_nothing(api, token, changes, problem):
    snapshot = with_copy(api, token)
    before = export(api)
    index = len(snapshot["runtimes"]) - 1
    _changed(snapshot["runtimes"][index]["runtime"], changes)
    status, answer = import_(api, snapshot)
    assert status == 400
    assert answer == {"status": "error", "messages": [f"runtimes[{index}]: {problem}"], "code": 400}
    assert export(api) == before


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"revision": 0}, id="revision-zero"),
        pytest.param({"name": "n" * NAME_MAX_LENGTH}, id="name-of-maximum-length"),
        pytest.param({"minCpu": 4, "maxCpu": 4}, id="cpu-min-equals-max"),
        pytest.param(
            {"minMemory": 2048, "minMemoryUnit": "m", "maxMemory": 2, "maxMemoryUnit": "g"},
            id="memory-min-equals-max-across-units",
        ),
        pytest.param({"minMemory": 0, "sharedMemorySize": 0}, id="memory-zero"),
    ],
)
def test_import_accepts_a_runtime_at_the_edges_of_the_rules(api, token, changes):
    snapshot = with_copy(api, token)
    runtime = snapshot["runtimes"][-1]["runtime"]
    _changed(runtime, changes)
    status, answer = import_(api, snapshot)
    assert status == 200, answer
    assert export(api)["runtimes"] == snapshot["runtimes"]
    listed = {listed["id"]: listed for listed in api.runtimes(token)}
    assert listed[runtime["id"]] == runtime


def test_import_accepts_the_largest_revision_with_its_counter(api, token):
    snapshot = with_copy(api, token)
    snapshot["runtimes"][-1]["runtime"]["revision"] = MAX_COUNTER
    snapshot["lastRevision"] = MAX_COUNTER
    status, answer = import_(api, snapshot)
    assert status == 200, answer
    assert export(api)["runtimes"] == snapshot["runtimes"]


def test_import_refuses_nesting_past_the_limit(api, token):
    snapshot = with_copy(api, token)
    snapshot["runtimes"][-1]["runtime"]["podPlacementPolicy"] = "@@"
    text = json.dumps(snapshot).replace('"@@"', '{"a": ' * 599 + "{}" + "}" * 599)
    status, answer = import_(api, text)
    assert status == 400 and "deeper than 32" in answer["messages"][0]
    _all_operations_work(api, token)


def test_seeded_copies_survive_an_id_sequence_below_the_existing_ids():
    api = Api(create_app(seed=11))
    token = api.token()
    for _ in range(3):
        api.post(COPY, token, **SEED_COPY)
    snapshot = export(api)
    snapshot["idSequence"] = 0
    assert import_(api, snapshot)[0] == 200
    for _ in range(5):
        assert api.post(COPY, token, **SEED_COPY)["status"] == "success"
    ids = [runtime["id"] for runtime in api.runtimes(token)]
    assert len(ids) == len(set(ids)) == 2 + 3 + 5


@pytest.mark.parametrize("counter", ["lastRevision", "idSequence"])
def test_counters_past_their_bound_are_refused(api, token, counter):
    snapshot = with_copy(api, token)
    for value in (MAX_COUNTER + 1, 2**62 - 1, -1):
        snapshot[counter] = value
        status, answer = import_(api, snapshot)
        assert status == 400 and counter in answer["messages"][0]


def test_a_revision_at_its_bound_refuses_writes_exports_back_and_reset_recovers(api, token):
    snapshot = with_copy(api, token)
    snapshot["lastRevision"] = MAX_COUNTER
    assert import_(api, snapshot)[0] == 200
    refused = api.post(COPY, token, **SEED_COPY)
    assert refused["status"] == "error" and "reset" in refused["messages"][0]
    assert import_(api, export(api))[0] == 200
    assert api.client.post("/__mock__/reset").status_code == 200
    assert api.post(COPY, token, **SEED_COPY)["status"] == "success"
    assert import_(api, export(api))[0] == 200


# --- properties -----------------------------------------------------------------------

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("copy"), copy_requests()),
        st.tuples(st.just("update"), update_requests()),
        st.tuples(st.just("unregister"), st.none()),
        st.tuples(st.just("hostile"), hostile_forms()),
        st.tuples(st.just("reimport"), st.none()),
    ),
    max_size=8,
)


def _apply(api: Api, token: str, steps) -> None:
    for name, form in steps:
        copies = [r["id"] for r in api.runtimes(token) if r["copied"]]
        if name == "copy":
            api.post(COPY, token, **form)
        elif name == "hostile":
            api.post(COPY, token, **form[1])
        elif name == "update" and copies:
            api.post(f"notebooks/runtimes/{copies[-1]}/update", token, **form)
        elif name == "unregister" and copies:
            api.post(f"notebooks/runtimes/{copies[0]}/unregister", token)
        elif name == "reimport":
            assert import_(api, export(api))[0] == 200


@PROPERTY
@given(steps=operations, seed=st.one_of(st.none(), st.integers(0, 5)))
def test_any_export_imports_back(steps, seed):
    api = Api(create_app(seed=seed))
    token = api.token()
    _apply(api, token, steps)
    snapshot = export(api)
    status, answer = import_(api, snapshot)
    assert status == 200, answer
    again = export(api)
    assert again["runtimes"] == snapshot["runtimes"]
    # And into a fresh emulator of the same release.
    fresh = Api(create_app(seed=seed))
    assert import_(fresh, snapshot)[0] == 200
    assert export(fresh)["runtimes"] == snapshot["runtimes"]


@PROPERTY
@given(steps=operations, later=st.integers(1, 4), seed=st.one_of(st.none(), st.integers(0, 3)))
def test_ids_stay_unique_and_revisions_keep_increasing_after_import(steps, later, seed):
    api = Api(create_app(seed=seed))
    token = api.token()
    _apply(api, token, steps)
    snapshot = export(api)
    snapshot["idSequence"] = 0  # as low as it goes: seeded ids must still not collide
    assert import_(api, snapshot)[0] == 200
    newest = max(r["revision"] for r in api.runtimes(token))
    for _ in range(later):
        copied = api.post(COPY, token, **SEED_COPY)["notebookRuntime"]
        assert copied["revision"] > newest
        newest = copied["revision"]
    ids = [r["id"] for r in api.runtimes(token)]
    assert len(ids) == len(set(ids))


@PROPERTY
@given(data=st.data())
def test_a_hostile_snapshot_is_refused_without_change_or_imports_cleanly(data):
    api = Api(create_app(seed=1))
    token = api.token()
    before = with_copy(api, token)
    kind, text = data.draw(hostile_snapshots(before))
    status, _answer = import_(api, text)
    assert status in (200, 400), kind
    if status == 400:
        assert export(api) == before
    _all_operations_work(api, token)
    assert import_(api, export(api))[0] == 200


def test_an_export_larger_than_the_api_body_limit_imports_back(api, token):
    """Found by make reliability's hostile values: 20 runtimes with 64 KiB objects make an
    export over 1 MiB, which the API's body limit refused on import (HTTP 413)."""
    big = '{"a": "' + "x" * (60 * 1024) + '"}'
    for _ in range(20):
        answer = api.post(COPY, token, **{**SEED_COPY, "customResources": big})
        assert answer["status"] == "success"
    snapshot = export(api)
    assert len(json.dumps(snapshot)) > api.app.config["MAX_CONTENT_LENGTH"]
    status, answer = import_(api, snapshot)
    assert status == 200, answer
    assert export(api)["runtimes"] == snapshot["runtimes"]
