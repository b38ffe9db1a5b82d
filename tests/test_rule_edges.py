"""The runtime rules at their edges: what a user sees when a value sits on a boundary.

Each test here pins one edge that a deliberate bug (a mutant, docs/MUTATION.md)
would move without any other test noticing. Messages are compared through
``mockserver.core.messages``, so a change of wording moves the test with it.
"""

from __future__ import annotations

import json
import re

import pytest

from mockserver import create_app
from mockserver.core import deployment, messages
from mockserver.core.errors import InvalidParameters, Refused
from mockserver.runtimes import model
from mockserver.runtimes.model import Runtime
from mockserver.runtimes.releases import system_runtimes
from tests.conftest import SEED_COPY, STANDARD_ID, Api, ManualClock

COPY = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy"
#: What update requires [doc]; the standard runtime's minimums (0.5 CPU, 2 g) fit under it.
UPDATE = {"maxCpu": "2", "maxMemory": "8", "maxMemoryUnit": "g"}


@pytest.fixture
def standard() -> Runtime:
    body = system_runtimes("14.0")[0]
    return Runtime.from_dict({**body, "revision": 1})


@pytest.fixture
def user_copy(standard) -> Runtime:
    placed = {
        **SEED_COPY,
        "podPlacementPolicy": '{"nodeSelector": {"gpu": "yes"}}',
        "customResources": '{"limits": {"nvidia.com/gpu": 1}}',
    }
    return model.copy_of(standard, placed, new_id="mine", property_id="pmine")


def copy_refusal(source: Runtime, **params: str) -> list[str]:
    with pytest.raises(InvalidParameters) as caught:
        model.copy_of(source, params, new_id="new", property_id="pnew")
    return caught.value.messages


def update_refusal(current: Runtime, **params: str) -> list[str]:
    with pytest.raises(InvalidParameters) as caught:
        model.updated(current, params)
    return caught.value.messages


# --- refusals that must stay 400s, never 500s ----------------------------------


def refused_over_http(api: Api, token: str, **changes: str) -> dict:
    """A copy with ``changes`` that must be refused with code 400 and store nothing."""
    before = api.runtimes(token)
    response = api.client.post(COPY, data={**SEED_COPY, **changes, "f": "json", "token": token})
    assert response.status_code == 200, response.status_code
    answer = response.get_json(force=True)
    assert answer["status"] == "error" and answer["code"] == 400, answer
    assert api.runtimes(token) == before
    return answer


def test_a_value_longer_than_40_characters_is_echoed_as_its_first_40_and_an_ellipsis(api, token):
    long = "9x" * 30
    answer = refused_over_http(api, token, maxMemory=long)
    shown = long[:40] + "…"
    assert answer["messages"] == [messages.NOT_A_NUMBER.format(name="maxMemory", value=shown)]


def test_a_value_of_exactly_40_characters_is_echoed_whole(standard):
    exact = "y" * 40
    assert copy_refusal(standard, **{**SEED_COPY, "maxMemoryUnit": exact}) == [
        messages.BAD_UNIT.format(name="maxMemoryUnit", value=exact, units="g, m, k, b")
    ]
    over = "y" * 41
    assert copy_refusal(standard, **{**SEED_COPY, "maxMemoryUnit": over}) == [
        messages.BAD_UNIT.format(name="maxMemoryUnit", value=exact + "…", units="g, m, k, b")
    ]


def test_an_out_of_range_value_is_echoed_cut_to_40_characters(standard):
    huge = "1" * 45
    assert copy_refusal(standard, **{**SEED_COPY, "maxMemory": huge}) == [
        messages.OUT_OF_RANGE.format(name="maxMemory", value="1" * 40 + "…")
    ]


@pytest.mark.parametrize("field", ["customResources", "podPlacementPolicy"])
@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_an_infinite_number_inside_a_json_object_is_a_400(api, token, field, number):
    answer = refused_over_http(api, token, **{field: f'{{"a": {number}}}'})
    assert answer["messages"] == [messages.NOT_AN_OBJECT.format(name=field)]


def test_a_bad_swap_unit_is_a_400_naming_it(api, token):
    answer = refused_over_http(api, token, maxSwapMemoryUnit="tb")
    assert answer["messages"] == [
        messages.BAD_UNIT.format(name="maxSwapMemoryUnit", value="tb", units="g, m, k, b")
    ]


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"maxSwapMemory": "lots"},
            messages.NOT_A_NUMBER.format(name="maxSwapMemory", value="lots"),
        ),
        ({"maxSwapMemory": "-1"}, messages.NEGATIVE.format(name="maxSwapMemory")),
        (
            {"sharedMemorySize": "1e999"},
            messages.OUT_OF_RANGE.format(name="sharedMemorySize", value="1e999"),
        ),
        # update's spelling, accepted by copy too when copy's own is left out [inferred]
        (
            {"sharedMemorySize": "", "sharedMemory": "-2"},
            messages.NEGATIVE.format(name="sharedMemory"),
        ),
    ],
)
def test_a_bad_optional_memory_value_is_a_400_naming_it(api, token, changes, message):
    answer = refused_over_http(api, token, **changes)
    assert answer["messages"] == [message]


@pytest.mark.parametrize("field", ["customResources", "podPlacementPolicy"])
def test_json_nested_deeper_than_python_can_parse_is_a_400(api, token, field):
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    answer = refused_over_http(api, token, **{field: deep})
    assert answer["messages"] == [messages.NOT_AN_OBJECT.format(name=field)]


# --- update's rules ----------------------------------------------------------


def test_update_with_a_unit_sent_without_its_value_keeps_the_minimum_memory(standard):
    # The official client sends "" beside a default unit [client]; 2 g must not become 2 m.
    runtime = model.updated(standard, {**UPDATE, "minMemory": "", "minMemoryUnit": "m"})
    assert (runtime.minMemory, runtime.minMemoryUnit) == (2.0, "g")
    runtime = model.updated(standard, {**UPDATE, "minMemoryUnit": "k"})
    assert (runtime.minMemory, runtime.minMemoryUnit) == (2.0, "g")


def test_update_with_a_unit_sent_without_its_value_compares_the_kept_minimum(standard):
    # Kept 2 g against a new maximum of 1 g is refused, whatever unit came without a value.
    assert update_refusal(
        standard, maxCpu="2", maxMemory="1", maxMemoryUnit="g", minMemoryUnit="b"
    ) == [messages.MIN_ABOVE_MAX.format(low="minMemory", high="maxMemory")]


def test_update_sets_a_minimum_memory_sent_with_its_unit(standard):
    runtime = model.updated(standard, {**UPDATE, "minMemory": "512", "minMemoryUnit": "m"})
    assert (runtime.minMemory, runtime.minMemoryUnit) == (512.0, "m")
    runtime = model.updated(standard, {**UPDATE, "minMemory": "3"})
    assert (runtime.minMemory, runtime.minMemoryUnit) == (3.0, "g")


def test_update_refuses_min_cpu_zero_naming_min_cpu(standard):
    assert update_refusal(standard, **UPDATE, minCpu="0") == [
        messages.NOT_POSITIVE.format(name="minCpu")
    ]


@pytest.mark.parametrize("spelling", ["maxCpu", "maxCPU"])
def test_max_cpu_zero_is_refused_as_not_positive_naming_it(standard, spelling):
    params = {"maxMemory": "8", "maxMemoryUnit": "g", spelling: "0"}
    assert update_refusal(standard, **params) == [messages.NOT_POSITIVE.format(name=spelling)]
    copy_params = {k: v for k, v in SEED_COPY.items() if k != "maxCpu"}
    assert copy_refusal(standard, **copy_params, **{spelling: "0"}) == [
        messages.NOT_POSITIVE.format(name=spelling)
    ]


def test_negative_cpu_is_refused_as_not_positive(standard):
    assert update_refusal(standard, **{**UPDATE, "maxCpu": "-1"}) == [
        messages.NOT_POSITIVE.format(name="maxCpu")
    ]


def test_zero_memory_minimum_is_allowed_and_negative_refused(standard):
    assert model.updated(standard, {**UPDATE, "minMemory": "0"}).minMemory == 0.0
    assert update_refusal(standard, **UPDATE, minMemory="-0.5") == [
        messages.NEGATIVE.format(name="minMemory")
    ]


@pytest.mark.parametrize("blank", [" ", "   ", "\t", " \n "])
def test_a_whitespace_only_optional_value_counts_as_left_out(standard, blank):
    runtime = model.updated(
        standard,
        {
            **UPDATE,
            "minCpu": blank,
            "minMemory": blank,
            "maxSwapMemory": blank,
            "maxSwapMemoryUnit": blank,
            "sharedMemory": blank,
            "podPlacementPolicy": blank,
            "customResources": blank,
        },
    )
    assert (runtime.minCpu, runtime.minMemory) == (standard.minCpu, standard.minMemory)
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (16.0, "g")
    assert runtime.sharedMemorySize == standard.sharedMemorySize
    assert runtime.podPlacementPolicy == standard.podPlacementPolicy


def test_a_whitespace_only_required_value_counts_as_missing(standard):
    assert update_refusal(standard, maxCpu=" ", maxMemory="8", maxMemoryUnit="g") == [
        messages.REQUIRED.format(name="maxCpu")
    ]


def test_spaces_around_a_number_or_unit_are_ignored(standard):
    runtime = model.updated(standard, {"maxCpu": " 3 ", "maxMemory": "\t6", "maxMemoryUnit": "g "})
    assert (runtime.maxCpu, runtime.maxMemory, runtime.maxMemoryUnit) == (3.0, 6.0, "g")


@pytest.mark.parametrize("field", ["podPlacementPolicy", "customResources"])
def test_update_with_an_empty_object_replaces_a_non_empty_one(user_copy, field):
    assert getattr(user_copy, field) != {}
    assert getattr(model.updated(user_copy, {**UPDATE, field: "{}"}), field) == {}
    assert getattr(model.updated(user_copy, UPDATE), field) == getattr(user_copy, field)


def test_update_replaces_an_object_with_the_one_sent(user_copy):
    runtime = model.updated(user_copy, {**UPDATE, "customResources": '{"requests": {"x": 2}}'})
    assert runtime.customResources == {"requests": {"x": 2}}


def test_a_quantity_of_exactly_1e15_is_accepted(standard):
    runtime = model.updated(standard, {**UPDATE, "maxCpu": "1e15", "maxMemory": "1e15"})
    assert (runtime.maxCpu, runtime.maxMemory) == (1e15, 1e15)


@pytest.mark.parametrize("field", ["maxCpu", "maxMemory"])
@pytest.mark.parametrize("above", ["1.0000001e15", "1000000000000001"])
def test_a_quantity_just_above_1e15_is_out_of_range(standard, field, above):
    assert update_refusal(standard, **{**UPDATE, field: above}) == [
        messages.OUT_OF_RANGE.format(name=field, value=above)
    ]


def test_swap_left_out_on_update_is_double_the_new_maximum_in_its_unit(standard):
    runtime = model.updated(standard, {"maxCpu": "1", "maxMemory": "3000", "maxMemoryUnit": "m"})
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (6000.0, "m")


def test_shared_memory_unit_sent_with_its_value_is_applied(standard):
    runtime = model.updated(standard, {**UPDATE, "sharedMemory": "64", "sharedMemoryUnit": "m"})
    assert (runtime.sharedMemorySize, runtime.sharedMemorySizeUnit) == (64.0, "m")
    runtime = model.updated(standard, {**UPDATE, "sharedMemory": "2"})
    assert (runtime.sharedMemorySize, runtime.sharedMemorySizeUnit) == (2.0, "g")


def test_every_problem_of_an_update_is_reported_at_once(standard):
    assert update_refusal(
        standard, maxCpu="x", maxMemory="-1", maxMemoryUnit="tb", customResources="[]"
    ) == [
        messages.NOT_A_NUMBER.format(name="maxCpu", value="x"),
        messages.NEGATIVE.format(name="maxMemory"),
        messages.BAD_UNIT.format(name="maxMemoryUnit", value="tb", units="g, m, k, b"),
        messages.NOT_AN_OBJECT.format(name="customResources"),
    ]


# --- refusals that name the runtime -------------------------------------------


def test_copy_of_a_copy_names_the_copy(user_copy):
    with pytest.raises(Refused) as caught:
        model.copy_of(user_copy, SEED_COPY, new_id="x", property_id="px")
    assert caught.value.messages == [messages.COPY_OF_COPY.format(id="mine")]


def test_unregister_and_upgrade_of_a_system_runtime_name_it(standard):
    with pytest.raises(Refused) as unregister:
        model.check_unregister(standard)
    assert unregister.value.messages == [messages.SYSTEM_NOT_UNREGISTERABLE.format(id=STANDARD_ID)]
    with pytest.raises(Refused) as upgrade:
        model.upgraded(standard, "15.0")
    assert upgrade.value.messages == [messages.SYSTEM_NOT_UPGRADABLE.format(id=STANDARD_ID)]


def test_upgrade_of_a_current_copy_names_the_copy_and_the_version(user_copy):
    model.check_unregister(user_copy)  # a copy may go
    with pytest.raises(Refused) as caught:
        model.upgraded(user_copy, "14.0")
    assert caught.value.messages == [messages.ALREADY_CURRENT.format(id="mine", version="14.0")]


# --- revisions -----------------------------------------------------------------


def test_revisions_strictly_increase_in_the_order_of_the_changes_within_one_millisecond():
    clock = ManualClock(1_900_000_000_000)
    api = Api(create_app(clock=clock))
    token = api.token()
    first = api.post(COPY.removeprefix("/arcgis/admin/"), token, **SEED_COPY)["notebookRuntime"]
    second = api.post(COPY.removeprefix("/arcgis/admin/"), token, **SEED_COPY)["notebookRuntime"]
    seen = [first["revision"], second["revision"]]
    for runtime in (first, second, first):
        path = f"notebooks/runtimes/{runtime['id']}"
        assert api.post(f"{path}/update", token, **UPDATE)["status"] == "success"
        seen.append(api.get(path, token)["revision"])
    assert seen == list(range(seen[0], seen[0] + 5))
    # The two system runtimes were stamped first, at the same frozen millisecond.
    assert seen[0] == clock.epoch_ms + 2


def test_a_revision_is_the_wall_clock_millisecond_once_time_has_moved_on():
    clock = ManualClock(1_900_000_000_000)
    api = Api(create_app(clock=clock))
    token = api.token()
    clock.epoch_ms += 60_000
    runtime = api.post(COPY.removeprefix("/arcgis/admin/"), token, **SEED_COPY)["notebookRuntime"]
    assert runtime["revision"] == clock.epoch_ms


# --- JSON object values at their edges ------------------------------------------


def copied_over_http(api: Api, token: str, **changes: str) -> dict:
    """The runtime a copy with ``changes`` stored, read back as a client reads it."""
    answer = api.post(COPY.removeprefix("/arcgis/admin/"), token, **{**SEED_COPY, **changes})
    assert answer["status"] == "success", answer
    runtime_id = answer["notebookRuntime"]["id"]
    return api.get(f"notebooks/runtimes/{runtime_id}", token)


def written_out(size: int) -> str:
    """A JSON object that is ``size`` bytes long both as sent and as the emulator writes it."""
    text = '{"a": "' + "x" * (size - 9) + '"}'
    assert len(text) == size
    return text


@pytest.mark.parametrize("field", ["customResources", "podPlacementPolicy"])
def test_a_json_object_of_exactly_the_byte_limit_is_kept_and_one_byte_more_refused(
    api, token, field
):
    exact = written_out(model.JSON_MAX_BYTES)
    assert copied_over_http(api, token, **{field: exact})[field] == {"a": "x" * (len(exact) - 9)}
    answer = refused_over_http(api, token, **{field: written_out(model.JSON_MAX_BYTES + 1)})
    assert answer["messages"] == [
        messages.JSON_TOO_LARGE.format(name=field, limit=model.JSON_MAX_BYTES)
    ]


@pytest.mark.parametrize("field", ["customResources", "podPlacementPolicy"])
def test_a_compact_object_that_outgrows_the_byte_limit_once_written_out_is_refused(
    api, token, field
):
    # Sent without spaces it fits; written out as every answer writes it (", ") it does not.
    compact = '{"a":[' + ",".join(["1"] * 30_000) + "]}"
    assert len(compact) < model.JSON_MAX_BYTES
    answer = refused_over_http(api, token, **{field: compact})
    assert answer["messages"] == [
        messages.JSON_TOO_LARGE.format(name=field, limit=model.JSON_MAX_BYTES)
    ]


def test_non_ascii_text_counts_its_utf8_bytes_toward_the_limit_not_its_escapes(api, token):
    # 30,000 "é" are 60,000 bytes of UTF-8 (under 64 KiB) but 180,000 as \u00e9 escapes.
    text = "é" * 30_000
    stored = copied_over_http(api, token, customResources=f'{{"note": "{text}"}}')
    assert stored["customResources"] == {"note": text}


def test_fractions_and_nulls_inside_a_json_object_are_kept(api, token):
    sent = {"limits": {"cpu": 1.5, "memory": -0.25, "gpu": None}, "tolerations": [None, 2.5]}
    stored = copied_over_http(
        api, token, customResources=json.dumps(sent), podPlacementPolicy=json.dumps(sent)
    )
    assert stored["customResources"] == stored["podPlacementPolicy"] == sent


def nested_arrays(depth: int) -> str:
    """An object whose one value nests arrays until the whole is ``depth`` levels deep."""
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("field", ["customResources", "podPlacementPolicy"])
def test_arrays_count_toward_the_depth_limit_one_level_each(api, token, field):
    at_limit = nested_arrays(model.JSON_MAX_DEPTH)
    assert copied_over_http(api, token, **{field: at_limit})[field] == json.loads(at_limit)
    answer = refused_over_http(api, token, **{field: nested_arrays(model.JSON_MAX_DEPTH + 1)})
    assert answer["messages"] == [
        messages.JSON_TOO_DEEP.format(name=field, depth=model.JSON_MAX_DEPTH)
    ]


@pytest.mark.parametrize("number", ["1e999", "-1E400", "NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_hold_makes_the_text_not_json_whatever_else_it_holds(
    api, token, number
):
    # The text is refused as not JSON at all, not for the lone surrogate beside the number.
    text = f'{{"s": "\\ud800", "a": {number}, "z": "\\udfff"}}'
    answer = refused_over_http(api, token, customResources=text)
    assert answer["messages"] == [messages.NOT_AN_OBJECT.format(name="customResources")]


# --- the name rules at their edges ----------------------------------------------


def test_a_name_of_every_kind_of_invisible_character_together_is_refused(api, token):
    # A space (Zs), a line and a paragraph separator (Zl, Zp), a zero-width space (Cf).
    answer = refused_over_http(api, token, name="\u3000\u2028\u2029\u200b")
    assert answer["messages"] == [messages.NAME_INVISIBLE]


# --- the operations a runtime's directory page offers ------------------------------


def supported_operations(api: Api, token: str, runtime_id: str) -> set[str]:
    """The operations the runtime's HTML page links under "Supported operations"."""
    response = api.client.get(
        f"/arcgis/admin/notebooks/runtimes/{runtime_id}", query_string={"token": token}
    )
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    _, _, section = page.partition("<h2>Supported operations</h2>")
    return set(re.findall(rf'href="/arcgis/admin/notebooks/runtimes/{runtime_id}/(\w+)\?', section))


def copy_in(api: Api, token: str) -> str:
    return api.post(COPY.removeprefix("/arcgis/admin/"), token, **SEED_COPY)["notebookRuntime"][
        "id"
    ]


#: What each release offers on a system runtime and on a copy made in it [doc: copy and
#: unregister since 11.5, upgrade since 12.1]; a copy made now is current, so never upgradable.
OFFERED_BY_RELEASE = {
    "11.5": ({"copy", "update"}, {"update", "unregister"}),
    "12.0": ({"copy", "update"}, {"update", "unregister"}),
    "12.1": ({"copy", "update"}, {"update", "unregister"}),
}


@pytest.mark.parametrize("release_name", sorted(OFFERED_BY_RELEASE))
def test_a_system_runtime_offers_copy_and_a_current_copy_unregister_never_upgrade(release_name):
    api = Api(create_app(release_name=release_name))
    token = api.token()
    on_system, on_copy = OFFERED_BY_RELEASE[release_name]
    assert supported_operations(api, token, STANDARD_ID) == on_system
    assert supported_operations(api, token, copy_in(api, token)) == on_copy


def test_a_release_without_copy_offers_only_update_on_a_system_runtime():
    api = Api(create_app(release_name="11.4"))
    token = api.token()
    assert supported_operations(api, token, STANDARD_ID) == {"update"}


def test_a_copy_made_at_an_older_runtime_version_offers_upgrade_until_upgraded(tmp_path):
    state = tmp_path / "state.sqlite3"
    old = Api(create_app(state=state, release_name="12.0"))
    token = old.token()
    copy_id = copy_in(old, token)
    deployment.of(old.app).store.close()

    new = Api(create_app(state=state, release_name="12.1"))
    assert supported_operations(new, token, copy_id) == {"update", "unregister", "upgrade"}
    assert supported_operations(new, token, STANDARD_ID) == {"copy", "update"}
    assert new.post(f"notebooks/runtimes/{copy_id}/upgrade", token) == {"status": "success"}
    assert supported_operations(new, token, copy_id) == {"update", "unregister"}
