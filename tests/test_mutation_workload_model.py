"""The workload's rules where a deliberate bug went unnoticed (issue 25: mutmut's survivors).

Each test states what an administrator or a script would see: the exact error text and
what it quotes, where a limit starts and ends, what a job records and shows, which ids a
seeded deployment makes. No Flask, no store, no sleeping: the model's public functions
on the emulated clock, as tests/test_workload_model.py uses them.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mockserver.core import messages
from mockserver.core.errors import InvalidParameters, NotFound
from mockserver.workload import model
from mockserver.workload.model import (
    COMPLETED,
    EXECUTING,
    FAILED,
    MINUTE_MS,
    SUBMITTED,
    Behaviour,
    Caller,
    Workload,
)

T0 = 1_800_000_000_000
STANDARD = {"id": "std", "name": "Standard", "version": "14.0", "requiresAdvancedPrivileges": False}
ALICE = Caller("alice", advanced=False)
BOB = Caller("bob", advanced=False)
LARGEST = 2**31 - 1
#: Ids as the deployment makes them: jobs as 12.1's notebook jobs page shows them [doc];
#: the rest 32 hex digits, a random UUID's (version 4) as Portal item ids are.
JOB_ID = re.compile(r"j[a-z0-9]{32}")
HEX_ID = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


def seeded(workload, item, runtime, username, last_activity_ms=T0):
    """An open notebook seeded through the control plane's rule, at T0, with seed 1."""
    return model.seed_open_notebook(
        workload,
        item=item,
        runtime=runtime,
        username=username,
        last_activity_ms=last_activity_ms,
        now_ms=T0,
        seed=1,
    )


def kubernetes() -> Workload:
    return Workload(configuration=model.default_configuration("12.1"))


def standalone() -> Workload:
    """The Notebook Server's workload: its configuration is system/properties."""
    return Workload(configuration=model.server_properties("11.0"))


def item(workload: Workload, item_id: str = "item1", owner: str = "alice") -> model.Item:
    found = workload.items.get(item_id)
    if found is not None:
        return found
    return model.seed_item(workload, owner=owner, title="Daily", item_id=item_id, now_ms=T0, seed=1)


def execute(workload: Workload, *, now: int = T0, seed: int | None = 1, **params: str):
    return model.execute_notebook(
        workload,
        item=item(workload),
        runtime=STANDARD,
        caller=ALICE,
        params=params,
        now_ms=now,
        seed=seed,
    )


def open_(workload: Workload, *, item_id: str = "item1", caller: Caller = ALICE, now: int = T0):
    return model.open_notebook(
        workload,
        item=item(workload, item_id),
        runtime=STANDARD,
        caller=caller,
        now_ms=now,
        seed=1,
        inputs={"itemId": item_id, "notebookRuntimeId": "std"},
    )


def refusal(call) -> list[str]:
    """The messages of the ArcGIS error ``call`` raises (the test fails if it raises none)."""
    with pytest.raises((InvalidParameters, NotFound)) as raised:
        call()
    return raised.value.messages


# --- error messages: the parameter's name and the first 40 (80) characters sent ------------

LONG_FLAG = "y" * 50
LONG_TEXT = "x" * 50
LONG_NUMBER = "9" * 50
LONG_NAME = "p" * 100
LONG_ID = "d" * 100
CONFIG = model.default_configuration("12.1")
PROPERTIES = model.server_properties("11.0")

REFUSALS = [
    pytest.param(
        lambda: execute(kubernetes(), updatePortalItem=LONG_FLAG),
        messages.NOT_A_BOOLEAN.format(name="updatePortalItem", value=LONG_FLAG[:40]),
        id="execute-flag-not-true-or-false",
    ),
    pytest.param(
        lambda: execute(kubernetes(), notebookParameters="[1, 2]"),
        messages.NOT_JSON_OBJECT_TEXT.format(name="notebookParameters"),
        id="execute-parameters-not-an-object",
    ),
    pytest.param(
        lambda: model.updated_configuration(CONFIG, {"idleNotebookThreshold": LONG_TEXT}),
        messages.NOT_AN_INTEGER.format(name="idleNotebookThreshold", value=LONG_TEXT[:40]),
        id="configuration-not-a-whole-number",
    ),
    pytest.param(
        lambda: model.updated_configuration(CONFIG, {"webSocketSize": LONG_NUMBER}),
        messages.OUT_OF_RANGE.format(name="webSocketSize", value=LONG_NUMBER[:40]),
        id="configuration-number-out-of-range",
    ),
    pytest.param(
        lambda: model.updated_configuration(CONFIG, {"allowHiddenFileDownloads": LONG_FLAG}),
        messages.NOT_A_BOOLEAN.format(name="allowHiddenFileDownloads", value=LONG_FLAG[:40]),
        id="configuration-flag-not-true-or-false",
    ),
    pytest.param(
        lambda: model.updated_configuration(CONFIG, {"notebookEgressNetworkPolicy": "[]"}),
        messages.NOT_AN_OBJECT.format(name="notebookEgressNetworkPolicy"),
        id="configuration-policy-not-an-object",
    ),
    pytest.param(
        lambda: model.updated_configuration(CONFIG, {"notebookEgressNetworkPolicy": "{x"}),
        messages.NOT_AN_OBJECT.format(name="notebookEgressNetworkPolicy"),
        id="configuration-policy-not-json",
    ),
    pytest.param(
        lambda: model.updated_properties(PROPERTIES, "[1]"),
        messages.NOT_JSON_OBJECT_TEXT.format(name="properties"),
        id="properties-not-an-object",
    ),
    pytest.param(
        lambda: model.updated_properties(PROPERTIES, f'{{"{LONG_NAME}": 1}}'),
        messages.UNKNOWN_PROPERTY.format(name=LONG_NAME[:80]),
        id="properties-unknown-name",
    ),
    pytest.param(
        lambda: model.updated_properties(PROPERTIES, '{"webSocketSize": 2147483648}'),
        messages.OUT_OF_RANGE.format(name="webSocketSize", value="2147483648"),
        id="properties-number-out-of-range",
    ),
    pytest.param(
        lambda: model.updated_properties(PROPERTIES, f'{{"dockerConnectionHost": "{"h" * 256}"}}'),
        messages.BAD_TEXT.format(name="dockerConnectionHost", limit=255),
        id="properties-text-too-long",
    ),
    pytest.param(
        lambda: model.host_of(kubernetes(), LONG_ID, T0),
        messages.DEPLOYMENT_NOT_FOUND.format(id=LONG_ID[:80]),
        id="unknown-deployment",
    ),
    pytest.param(
        lambda: model.job_of(kubernetes(), LONG_ID, T0),
        messages.JOB_NOT_FOUND.format(id=LONG_ID[:80]),
        id="unknown-job",
    ),
    pytest.param(
        lambda: model.close_notebook(kubernetes(), LONG_ID, T0),
        messages.NOTEBOOK_NOT_FOUND.format(id=LONG_ID[:80]),
        id="unknown-notebook",
    ),
]


@pytest.mark.parametrize(("call", "message"), REFUSALS)
def test_a_refusal_names_the_parameter_and_quotes_what_was_sent(call, message):
    assert refusal(call) == [message]


def test_a_refused_execution_starts_no_job_and_records_nothing():
    workload = kubernetes()
    item(workload)
    refusal(lambda: execute(workload, notebookParameters="[1, 2]", updatePortalItem="maybe"))
    assert workload.jobs == {} and workload.executions == []


# --- whole numbers: 1 to 2**31 - 1 ------------------------------------------------------------


@given(number=st.integers(min_value=-(2**33), max_value=2**33))
@example(number=0)
@example(number=1)
@example(number=2)
@example(number=LARGEST - 1)
@example(number=LARGEST)
@example(number=LARGEST + 1)
@example(number=LARGEST + 2)
@example(number=2**32 - 1)
@example(number=2**32)
def test_a_whole_number_setting_is_taken_iff_from_1_to_2_31_minus_1(number):
    params = {"idleNotebookThreshold": str(number)}
    if 1 <= number <= LARGEST:
        updated = model.updated_configuration(CONFIG, params)
        assert updated == {**CONFIG, "idleNotebookThreshold": number}
    elif number <= 0:
        assert refusal(lambda: model.updated_configuration(CONFIG, params)) == [
            messages.NOT_POSITIVE.format(name="idleNotebookThreshold")
        ]
    else:
        assert refusal(lambda: model.updated_configuration(CONFIG, params)) == [
            messages.OUT_OF_RANGE.format(name="idleNotebookThreshold", value=str(number))
        ]


# --- flags: "true"/"false"; empty keeps the default ---------------------------------------------


def test_an_empty_flag_keeps_its_default():
    job = execute(kubernetes(), updatePortalItem="", saveInjectedParameters="")
    assert (job.inputs["updatePortalItem"], job.inputs["saveInjectedParameters"]) == (True, False)
    for current in (False, True):
        configuration = {**CONFIG, "allowHiddenFileDownloads": current}
        updated = model.updated_configuration(configuration, {"allowHiddenFileDownloads": ""})
        assert updated == configuration


# --- what an execution's job records and shows ----------------------------------------------


def test_an_execution_job_shows_its_inputs_runtime_and_revision():
    workload = kubernetes()
    job = execute(workload, now=T0 + 7)
    assert job.inputs == {
        "itemId": "item1",
        "executionTimeoutInMinutes": 120,
        "updatePortalItem": True,
        "saveInjectedParameters": False,
    }
    assert (job.runtime_id, job.runtime_name, job.runtime_version) == ("std", "Standard", "14.0")
    assert job.revision == T0 + 7
    (record,) = workload.executions
    assert (record.update_portal_item, record.save_injected_parameters) == (True, False)
    sent = execute(workload, notebookParameters='{"x": 1}', saveInjectedParameters="TRUE")
    assert sent.inputs == {
        "itemId": "item1",
        "executionTimeoutInMinutes": 120,
        "updatePortalItem": True,
        "saveInjectedParameters": True,
        "notebookParameters": '{"x": 1}',
    }


def test_a_standalone_execution_is_limited_to_120_minutes():
    """system/properties has no maxExecuteNotebookTimeMinutes: the 120-minute default holds."""
    workload = standalone()
    workload.steering.execution = Behaviour(duration_seconds=3 * 3600)
    job = execute(workload)
    assert job.inputs["executionTimeoutInMinutes"] == 120
    assert job.ended_ms == T0 + 120 * MINUTE_MS
    assert job.status(job.ended_ms) == FAILED
    assert job.failure == messages.EXECUTION_TIMED_OUT.format(minutes=120)


@pytest.mark.parametrize("seconds", [119 * 60, 120 * 60])
def test_an_execution_up_to_the_limit_completes(seconds):
    workload = kubernetes()
    workload.steering.execution = Behaviour(duration_seconds=seconds)
    job = execute(workload)
    assert job.ended_ms == T0 + seconds * 1000
    assert (job.status(job.ended_ms), job.failure) == (COMPLETED, None)


# --- ids -----------------------------------------------------------------------------------------


def scenario(seed: int | None) -> list[str]:
    """The ids a deployment makes for one open and one execution."""
    workload = kubernetes()
    opened = model.open_notebook(
        workload,
        item=item(workload),
        runtime=STANDARD,
        caller=ALICE,
        now_ms=T0,
        seed=seed,
        inputs={},
    )
    notebook = workload.notebooks[opened.notebook_id]
    executed = execute(workload, seed=seed)
    return [opened.id, notebook.id, notebook.host_id, executed.id]


def test_a_seeded_deployment_makes_the_same_ids_on_every_run():
    first, second = scenario(seed=1), scenario(seed=1)
    assert first == second
    assert len(set(first)) == 4
    assert scenario(seed=2) != first


def test_an_unseeded_deployment_makes_new_ids_on_every_run():
    first, second = scenario(seed=None), scenario(seed=None)
    assert not set(first) & set(second)


@pytest.mark.parametrize(
    ("release", "has_policy"),
    [("10.9.1", False), ("11.4", False), ("11.5", True), ("12.1", True)],
)
def test_the_egress_policy_setting_appears_from_11_5(release, has_policy):
    configuration = model.default_configuration(release)
    assert configuration == {
        **model.KUBERNETES_CONFIGURATION,
        **({"notebookEgressNetworkPolicy": {}} if has_policy else {}),
    }


@pytest.mark.parametrize("seed", [1, None])
def test_job_ids_are_j_and_32_lower_case_letters_or_digits(seed):
    open_job, notebook_id, host_id, execute_job = scenario(seed)
    assert JOB_ID.fullmatch(open_job) and JOB_ID.fullmatch(execute_job)
    assert HEX_ID.fullmatch(notebook_id) and HEX_ID.fullmatch(host_id)


# --- opening ---------------------------------------------------------------------------------------


def test_an_open_job_waits_in_the_queue_then_opens():
    workload = kubernetes()
    workload.steering.queue_seconds = 5
    workload.steering.open_seconds = 10
    job = open_(workload)
    assert [job.status(T0 + ms) for ms in (0, 4_999, 5_000, 14_999, 15_000)] == [
        SUBMITTED,
        SUBMITTED,
        EXECUTING,
        EXECUTING,
        COMPLETED,
    ]
    assert model.open_notebooks(workload, T0 + 14_999) == []
    (notebook,) = model.open_notebooks(workload, T0 + 15_000)
    assert workload.hosts[notebook.host_id].created_ms == T0 + 5_000


def test_an_open_job_shows_its_runtime_and_revision():
    job = open_(kubernetes(), now=T0 + 3)
    assert (job.runtime_id, job.runtime_name, job.runtime_version) == ("std", "Standard", "14.0")
    assert job.revision == T0 + 3
    assert job.inputs == {"itemId": "item1", "notebookRuntimeId": "std"}


def test_each_user_and_item_gets_a_notebook_of_its_own():
    workload = kubernetes()
    item(workload, "item2")
    alices = open_(workload, item_id="item1").notebook_id
    alices_other = open_(workload, item_id="item2").notebook_id
    bobs = open_(workload, item_id="item1", caller=BOB).notebook_id
    assert len({alices, alices_other, bobs}) == 3
    assert open_(workload, item_id="item2", now=T0 + 1).notebook_id == alices_other
    notebooks = model.open_notebooks(workload, T0 + 1)
    assert sorted((nb.username, nb.item_id) for nb in notebooks) == [
        ("alice", "item1"),
        ("alice", "item2"),
        ("bob", "item1"),
    ]


# --- lists ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("active_only", [False, True])
def test_jobs_are_listed_oldest_first_and_by_id_when_submitted_together(active_only):
    """The emulated clock stands still until moved: jobs submitted together are common."""
    workload = kubernetes()
    together = [execute(workload).id for _ in range(6)]
    later = execute(workload, now=T0 + 1).id
    assert together != sorted(together), "the ids must not come out sorted by chance"
    listed = [job.id for job in model.jobs_at(workload, T0 + 1, active_only=active_only)]
    assert listed == [*sorted(together), later]


# --- configuration and properties ---------------------------------------------------------------


def test_a_setting_the_configuration_does_not_have_is_ignored():
    """A snapshot's configuration may lack a documented key: an update does not add it."""
    configuration = {"idleNotebookThreshold": 720}
    params = {"allowHiddenFileDownloads": "true", "notebookEgressNetworkPolicy": "{}"}
    assert model.updated_configuration(configuration, params) == configuration


def test_an_egress_policy_is_stored_as_the_object_sent():
    policy = '{"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}'
    updated = model.updated_configuration(CONFIG, {"notebookEgressNetworkPolicy": policy})
    assert updated == {
        **CONFIG,
        "notebookEgressNetworkPolicy": {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    }


@pytest.mark.parametrize("length", [1, 2, 254, 255])
def test_a_text_property_of_1_to_255_characters_is_taken(length):
    text = "h" * length
    updated = model.updated_properties(PROPERTIES, f'{{"dockerConnectionHost": "{text}"}}')
    assert updated == {**PROPERTIES, "dockerConnectionHost": text}


@pytest.mark.parametrize("text", ["", "h" * 256, "h" * 1000])
def test_a_text_property_empty_or_over_255_characters_is_refused(text):
    raw = f'{{"dockerConnectionHost": "{text}"}}'
    assert refusal(lambda: model.updated_properties(PROPERTIES, raw)) == [
        messages.BAD_TEXT.format(name="dockerConnectionHost", limit=255)
    ]


#: A snapshot may give the standalone configuration a flag (none of the documented
#: properties is one): properties/update sets it as configuration/update sets its flags.
FLAGGED = {**PROPERTIES, "allowHiddenFileDownloads": False}


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("true", True), ('"True"', True), ('"false"', False), ("false", False), ('""', False)],
)
def test_a_flag_property_is_set_from_true_or_false_and_kept_when_empty(sent, expected):
    raw = f'{{"allowHiddenFileDownloads": {sent}}}'
    assert model.updated_properties(FLAGGED, raw) == {
        **FLAGGED,
        "allowHiddenFileDownloads": expected,
    }


def test_a_flag_property_neither_true_nor_false_is_refused():
    raw = '{"allowHiddenFileDownloads": "maybe"}'
    assert refusal(lambda: model.updated_properties(FLAGGED, raw)) == [
        messages.NOT_A_BOOLEAN.format(name="allowHiddenFileDownloads", value="maybe")
    ]


# --- settling a configuration that lacks a rule's setting -------------------------------------


def test_settings_a_configuration_lacks_take_their_documented_defaults():
    """system/properties has no asyncJobsCleanAgeHours, and an imported snapshot may leave
    any rule setting out: idle 720 minutes, empty host 60, clean age 6 hours, limit 120."""
    workload = Workload(configuration={})
    notebook = seeded(workload, item(workload), STANDARD, "alice")
    assert [nb.id for nb in model.open_notebooks(workload, T0 + 720 * MINUTE_MS - 1)] == [
        notebook.id
    ]
    assert model.open_notebooks(workload, T0 + 720 * MINUTE_MS) == []
    model.close_notebook(workload, notebook.id, T0)
    assert len(model.live_hosts(workload, T0 + 60 * MINUTE_MS - 1)) == 1
    assert model.live_hosts(workload, T0 + 60 * MINUTE_MS) == []
    job = execute(workload)
    assert job.inputs["executionTimeoutInMinutes"] == 120
    clean = job.ended_ms + 6 * 60 * MINUTE_MS
    assert [j.id for j in model.jobs_at(workload, clean - 1)] == [job.id]
    assert model.jobs_at(workload, clean) == []


def test_standalone_jobs_are_cleaned_six_hours_after_they_end():
    workload = standalone()
    job = execute(workload)
    clean = job.ended_ms + 6 * 60 * MINUTE_MS
    assert model.job_of(workload, job.id, clean - 1).id == job.id
    with pytest.raises(NotFound):
        model.job_of(workload, job.id, clean)


# --- hosts, items and seeded notebooks as the API shows them ------------------------------------

ADVANCED = {"id": "adv", "name": "Advanced", "version": "14.1", "requiresAdvancedPrivileges": True}


def test_a_host_shows_its_user_runtime_and_when_it_was_made():
    workload = kubernetes()
    workload.steering.queue_seconds = 2
    job = open_(workload)
    host = workload.hosts[workload.notebooks[job.notebook_id].host_id]
    assert (host.username, host.runtime_id, host.runtime_name, host.runtime_version) == (
        "alice",
        "std",
        "Standard",
        "14.0",
    )
    assert host.created_ms == T0 + 2_000
    assert HEX_ID.fullmatch(host.id)


def test_each_user_and_runtime_gets_a_host_of_its_own():
    workload = kubernetes()
    item(workload, "item1")
    item(workload, "item2")
    item(workload, "item3")
    on_standard = seeded(workload, workload.items["item1"], STANDARD, "alice")
    on_advanced = seeded(workload, workload.items["item2"], ADVANCED, "alice")
    bobs = seeded(workload, workload.items["item3"], STANDARD, "bob")
    assert len({on_standard.host_id, on_advanced.host_id, bobs.host_id}) == 3
    advanced_host = workload.hosts[on_advanced.host_id]
    assert (advanced_host.runtime_id, advanced_host.runtime_name) == ("adv", "Advanced")
    assert advanced_host.runtime_version == "14.1"
    again = open_(workload, item_id="item3")
    assert workload.notebooks[again.notebook_id].host_id == on_standard.host_id


def test_a_seeded_notebook_counts_as_open_from_its_last_activity():
    workload = kubernetes()
    notebook = seeded(workload, item(workload), STANDARD, "alice", last_activity_ms=T0 - 5_000)
    assert (notebook.opened_ms, notebook.last_activity_ms, notebook.revision) == (
        T0 - 5_000,
        T0 - 5_000,
        T0,
    )
    assert (notebook.item_id, notebook.item_title, notebook.username) == ("item1", "Daily", "alice")
    assert (notebook.runtime_id, workload.hosts[notebook.host_id].created_ms) == ("std", T0 - 5_000)
    # Activity said to come later than now: open from now, idle from the activity.
    later = seeded(workload, item(workload, "item2"), STANDARD, "bob", last_activity_ms=T0 + 5_000)
    assert (later.opened_ms, later.last_activity_ms) == (T0, T0 + 5_000)


def test_a_seeded_item_is_a_notebook_with_the_given_or_a_fresh_id():
    workload = kubernetes()
    named = model.seed_item(
        workload, owner="alice", title="Daily", item_id="abc", now_ms=T0, seed=1
    )
    fresh = model.seed_item(workload, owner="bob", title="Weekly", item_id=None, now_ms=T0, seed=1)
    assert (named.id, named.title, named.owner, named.created, named.type) == (
        "abc",
        "Daily",
        "alice",
        T0,
        "Notebook",
    )
    assert HEX_ID.fullmatch(fresh.id) and (fresh.owner, fresh.title) == ("bob", "Weekly")
    assert workload.items == {"abc": named, fresh.id: fresh}
    assert model.item_for(workload, fresh.id) is fresh


def test_the_id_count_is_kept_so_a_reloaded_deployment_makes_new_ids():
    workload = kubernetes()
    made = scenario_in(workload, "first", ALICE)
    assert workload.sequence == len(made)
    reloaded = Workload.from_json(workload.to_json())
    assert reloaded.sequence == len(made)
    assert not set(scenario_in(reloaded, "second", BOB)) & set(made)


def scenario_in(workload: Workload, item_id: str, caller: Caller) -> list[str]:
    """An execution, and an open of a notebook not open yet by a user with no host yet:
    the four ids they make."""
    job = execute(workload)
    opened = open_(workload, item_id=item_id, caller=caller)
    notebook = workload.notebooks[opened.notebook_id]
    return [job.id, opened.id, notebook.id, notebook.host_id]


# --- the rule settings as configured ------------------------------------------------------------


def test_standalone_notebooks_close_after_1440_idle_minutes():
    workload = standalone()
    notebook = seeded(workload, item(workload), STANDARD, "alice")
    day = 1440 * MINUTE_MS
    assert [nb.id for nb in model.open_notebooks(workload, T0 + day - 1)] == [notebook.id]
    assert model.open_notebooks(workload, T0 + day) == []


def test_finished_jobs_are_cleaned_after_the_configured_clean_age():
    workload = kubernetes()
    workload.configuration = model.updated_configuration(
        workload.configuration, {"asyncJobsCleanAgeHours": "1"}
    )
    job = execute(workload)
    assert [j.id for j in model.jobs_at(workload, job.ended_ms + 60 * MINUTE_MS - 1)] == [job.id]
    assert model.jobs_at(workload, job.ended_ms + 60 * MINUTE_MS) == []


def test_an_empty_host_goes_after_the_configured_container_threshold():
    workload = kubernetes()
    workload.configuration = model.updated_configuration(
        workload.configuration, {"containerCreatedThreshold": "5"}
    )
    job = open_(workload)
    host_id = workload.notebooks[job.notebook_id].host_id
    model.close_notebook(workload, job.notebook_id, T0)
    assert [h.id for h in model.live_hosts(workload, T0 + 5 * MINUTE_MS - 1)] == [host_id]
    assert model.live_hosts(workload, T0 + 5 * MINUTE_MS) == []


def test_seeded_item_ids_repeat_on_every_run():
    def fresh_item_id() -> str:
        workload = kubernetes()
        made = model.seed_item(workload, owner="a", title="t", item_id=None, now_ms=T0, seed=3)
        return made.id

    assert fresh_item_id() == fresh_item_id()


# --- what the control plane accepts for steering (its 400 quotes the ValueError) -------------

SECONDS_RULE = "'steering.open_seconds' must be a finite number of seconds."
RANGE_RULE = f"'steering.open_seconds' must be from 0 to {model.MAX_SECONDS} seconds."


@pytest.mark.parametrize(
    ("value", "taken"),
    [(0, 0.0), (0.5, 0.5), (60, 60.0), (model.MAX_SECONDS, float(model.MAX_SECONDS))],
)
def test_a_duration_from_0_to_a_century_is_taken(value, taken):
    assert model.checked_seconds(value, "steering.open_seconds") == taken


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, SECONDS_RULE),
        (False, SECONDS_RULE),
        ("60", SECONDS_RULE),
        (None, SECONDS_RULE),
        (float("nan"), SECONDS_RULE),
        (float("inf"), SECONDS_RULE),
        (-1, RANGE_RULE),
        (-0.001, RANGE_RULE),
        (model.MAX_SECONDS + 1, RANGE_RULE),
    ],
)
def test_a_duration_not_a_finite_number_of_seconds_in_range_is_refused(value, message):
    with pytest.raises(ValueError) as raised:
        model.checked_seconds(value, "steering.open_seconds")
    assert str(raised.value) == message


MESSAGE_RULE = f"'failure' must be null or a message of 1 to {model.MAX_MESSAGE} characters."


@pytest.mark.parametrize("value", [None, "x", "Cell 3 raised KeyError", "m" * model.MAX_MESSAGE])
def test_a_failure_message_of_1_to_2000_characters_or_none_is_taken(value):
    assert model.checked_message(value, "failure") == value


@pytest.mark.parametrize("value", ["", "   ", "m" * (model.MAX_MESSAGE + 1), 5, ["boom"]])
def test_a_failure_message_empty_too_long_or_not_text_is_refused(value):
    with pytest.raises(ValueError) as raised:
        model.checked_message(value, "failure")
    assert str(raised.value) == MESSAGE_RULE


# --- a state snapshot: what loads, and the exact reason one is refused ---------------------------
# The control plane's state import answers 400 with these ValueError texts.


def snapshot() -> dict:
    """A snapshot holding one of everything, as to_json writes it."""
    workload = kubernetes()
    workload.steering.open_seconds = 4
    workload.steering.queue_seconds = 2
    workload.steering.execution = Behaviour(duration_seconds=30, failure="Cell 1 failed")
    workload.steering.by_item["item9"] = Behaviour(duration_seconds=5)
    open_(workload)
    execute(workload, notebookParameters='{"a": 1}')
    return workload.to_json()


def test_a_snapshot_loads_back_as_it_was_written():
    data = snapshot()
    loaded = Workload.from_json(data)
    assert loaded.to_json() == data
    assert loaded.steering.open_seconds == 4 and loaded.steering.queue_seconds == 2
    assert loaded.steering.execution == Behaviour(duration_seconds=30, failure="Cell 1 failed")
    assert loaded.steering.by_item == {"item9": Behaviour(duration_seconds=5)}
    assert (len(loaded.notebooks), len(loaded.hosts), len(loaded.jobs)) == (1, 1, 2)
    assert (len(loaded.items), len(loaded.executions), loaded.sequence) == (1, 1, 4)


def test_a_snapshot_of_only_a_configuration_loads_as_a_fresh_deployment():
    loaded = Workload.from_json({"configuration": dict(CONFIG)})
    assert loaded.to_json() == kubernetes().to_json()
    # Its ids are a fresh deployment's: the count starts from nothing.
    assert model.next_id(loaded, 1, "job") == model.next_id(kubernetes(), 1, "job")


def test_a_snapshot_with_partial_steering_keeps_the_defaults_for_the_rest():
    loaded = Workload.from_json({"configuration": dict(CONFIG), "steering": {"open_seconds": 5}})
    assert loaded.steering == model.Steering(open_seconds=5)


def test_a_standalone_snapshot_loads_without_the_kubernetes_settings():
    data = standalone().to_json()
    assert Workload.from_json(data).to_json() == data


def broken(change) -> dict:
    data = snapshot()
    change(data)
    return data


def _set(path: str, value):
    """A change that sets ``value`` at ``path`` ("jobs.0.inputs")."""

    def change(data):
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


WHOLE_RULE = "configuration.{name} must be a whole number from 1 to 2147483647."
LONG_JOB_ID = "j" * 50

SNAPSHOT_REFUSALS = [
    ("notebooks.0.opened_ms", "5", "Notebook.opened_ms must be an integer."),
    ("notebooks.0.revision", True, "Notebook.revision must be an integer."),
    ("items.0.title", 7, "Item.title must be a string."),
    ("hosts.0.username", None, "Host.username must be a string."),
    (
        "configuration.webSocketSize",
        [16],
        "configuration.webSocketSize must be a number, flag, text or object.",
    ),
    ("configuration.idleNotebookThreshold", 0, WHOLE_RULE.format(name="idleNotebookThreshold")),
    ("configuration.idleNotebookThreshold", True, WHOLE_RULE.format(name="idleNotebookThreshold")),
    ("configuration.idleNotebookThreshold", "60", WHOLE_RULE.format(name="idleNotebookThreshold")),
    (
        "configuration.asyncJobsCleanAgeHours",
        LARGEST + 1,
        WHOLE_RULE.format(name="asyncJobsCleanAgeHours"),
    ),
    (
        "configuration.asyncJobsCleanAgeHours",
        2**32,
        WHOLE_RULE.format(name="asyncJobsCleanAgeHours"),
    ),
    ("steering.open_seconds", -1, RANGE_RULE),
    ("steering.queue_seconds", "1", "'steering.queue_seconds' must be a finite number of seconds."),
    (
        "steering.execution.duration_seconds",
        None,
        "'steering execution duration_seconds' must be a finite number of seconds.",
    ),
    (
        "steering.execution.failure",
        "",
        f"'steering execution failure' must be null or a message of 1 to {model.MAX_MESSAGE} characters.",
    ),
    (
        "steering.by_item.item9.duration_seconds",
        -5,
        f"'steering item9 duration_seconds' must be from 0 to {model.MAX_SECONDS} seconds.",
    ),
    (
        "steering.by_item.item9.failure",
        " ",
        f"'steering item9 failure' must be null or a message of 1 to {model.MAX_MESSAGE} characters.",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), SNAPSHOT_REFUSALS)
def test_a_snapshot_with_a_wrong_value_is_refused_naming_it(path, value, message):
    with pytest.raises(ValueError) as raised:
        Workload.from_json(broken(_set(path, value)))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "change",
    [
        _set("jobs.0.inputs", ["itemId"]),
        _set("jobs.0.started_ms", T0 - 1),
        _set("jobs.0.ended_ms", 0),
    ],
    ids=["inputs-not-an-object", "started-before-submitted", "ended-before-started"],
)
def test_a_snapshot_job_without_inputs_or_times_in_order_is_refused(change):
    data = broken(change)
    data["jobs"][0]["id"] = LONG_JOB_ID
    with pytest.raises(ValueError) as raised:
        Workload.from_json(data)
    assert str(raised.value) == f"job {LONG_JOB_ID[:40]} must have inputs and times in order."


@pytest.mark.parametrize("value", [1, 2, LARGEST - 1, LARGEST])
def test_a_snapshot_rule_setting_from_1_to_2_31_minus_1_loads(value):
    data = broken(_set("configuration.idleNotebookThreshold", value))
    assert Workload.from_json(data).configuration["idleNotebookThreshold"] == value


def test_a_snapshot_that_is_no_workload_is_refused_saying_so():
    with pytest.raises(ValueError) as raised:
        Workload.from_json({"notebooks": []})
    assert str(raised.value).startswith("'workload' is not a workload snapshot (")
