"""The workload model on its own: notebooks, hosts and jobs as the emulated clock moves.

No Flask, no store: each test builds a workload, moves ``now`` and reads what a
user of the API would then see. Nothing sleeps.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.core import messages
from mockserver.core.errors import Forbidden, InvalidParameters, NotFound, Refused
from mockserver.workload import model
from mockserver.workload.model import (
    COMPLETED,
    EXECUTING,
    FAILED,
    HOUR_MS,
    MINUTE_MS,
    SUBMITTED,
    Behaviour,
    Caller,
    Workload,
)

T0 = 1_800_000_000_000
STANDARD = {"id": "std", "name": "Standard", "version": "14.0", "requiresAdvancedPrivileges": False}
ADVANCED = {"id": "adv", "name": "Advanced", "version": "14.0", "requiresAdvancedPrivileges": True}
ALICE = Caller("alice", advanced=False)


def fresh(release: str = "12.1") -> Workload:
    return Workload(configuration=model.default_configuration(release))


def with_item(workload: Workload, owner: str = "alice", item_id: str = "item1") -> model.Item:
    return model.seed_item(workload, owner=owner, title="Daily", item_id=item_id, now_ms=T0, seed=1)


def seeded_notebook(workload: Workload, *, idle_ms: int = 0, username: str = "alice"):
    item = with_item(workload, owner=username, item_id=f"item-{username}-{len(workload.items)}")
    return model.seed_open_notebook(
        workload,
        item=item,
        runtime=STANDARD,
        username=username,
        last_activity_ms=T0 - idle_ms,
        now_ms=T0,
        seed=1,
    )


def execute(workload: Workload, *, now: int = T0, **params: str) -> model.Job:
    item = workload.items.get("item1") or with_item(workload)
    return model.execute_notebook(
        workload, item=item, runtime=STANDARD, caller=ALICE, params=params, now_ms=now, seed=1
    )


# --- idle notebooks close when the clock passes the threshold ----------------------------


def test_idle_notebook_closes_when_the_clock_passes_the_default_threshold():
    workload = fresh()
    notebook = seeded_notebook(workload)
    twelve_hours = 720 * MINUTE_MS  # [doc] idleNotebookThreshold 720 on Kubernetes
    assert [nb.id for nb in model.open_notebooks(workload, T0 + twelve_hours - 1)] == [notebook.id]
    assert model.open_notebooks(workload, T0 + twelve_hours) == []
    with pytest.raises(NotFound):
        model.open_notebook_of(workload, notebook.id, T0 + twelve_hours)


@given(
    threshold=st.integers(min_value=1, max_value=10_000),
    idle_minutes=st.integers(min_value=0, max_value=20_000),
    later_ms=st.integers(min_value=0, max_value=20_000 * MINUTE_MS),
)
def test_notebook_is_open_exactly_while_idle_time_is_under_the_threshold(
    threshold, idle_minutes, later_ms
):
    workload = fresh()
    workload.configuration["idleNotebookThreshold"] = threshold
    seeded_notebook(workload, idle_ms=idle_minutes * MINUTE_MS)
    now = T0 + later_ms
    idle_at_now = idle_minutes * MINUTE_MS + later_ms
    assert bool(model.open_notebooks(workload, now)) == (idle_at_now < threshold * MINUTE_MS)


def test_a_notebook_closed_by_the_clock_stays_closed_when_the_threshold_is_raised():
    workload = fresh()
    seeded_notebook(workload, idle_ms=13 * HOUR_MS)
    settled = model.settled(workload, T0)
    settled.configuration = model.updated_configuration(
        settled.configuration, {"idleNotebookThreshold": "2000"}
    )
    assert model.open_notebooks(settled, T0) == []
    # Unsettled, the raised threshold would have kept it: settling before a write matters.
    workload.configuration["idleNotebookThreshold"] = 2000
    assert len(model.open_notebooks(workload, T0)) == 1


def test_settling_is_pure_and_idempotent():
    workload = fresh()
    seeded_notebook(workload, idle_ms=13 * HOUR_MS)
    seeded_notebook(workload, idle_ms=HOUR_MS, username="bob")
    before = copy.deepcopy(workload.to_json())
    once = model.settled(workload, T0)
    assert workload.to_json() == before
    assert model.settled(once, T0).to_json() == once.to_json()
    assert [nb.username for nb in once.notebooks.values()] == ["bob"]


# --- hosts (deployments, containers) --------------------------------------------------------


def test_notebooks_of_one_user_on_one_runtime_share_a_host():
    workload = fresh()
    first = seeded_notebook(workload)
    second = seeded_notebook(workload)
    other = seeded_notebook(workload, username="bob")
    assert first.host_id == second.host_id != other.host_id
    assert len(model.live_hosts(workload, T0)) == 2


def test_terminating_a_host_closes_its_notebooks():
    workload = fresh()
    first = seeded_notebook(workload)
    seeded_notebook(workload)
    bobs = seeded_notebook(workload, username="bob")
    model.terminate_host(workload, first.host_id, T0)
    assert [nb.id for nb in model.open_notebooks(workload, T0)] == [bobs.id]
    with pytest.raises(NotFound):
        model.terminate_host(workload, first.host_id, T0)


def test_an_empty_host_goes_after_container_created_threshold():
    workload = fresh()
    notebook = seeded_notebook(workload)
    host = workload.hosts[notebook.host_id]
    model.close_notebook(workload, notebook.id, T0)
    limit = host.created_ms + 60 * MINUTE_MS  # [doc] containerCreatedThreshold 60
    assert [h.id for h in model.live_hosts(workload, limit - 1)] == [host.id]
    assert model.live_hosts(workload, limit) == []


# --- jobs move over emulated time -----------------------------------------------------------


def test_execution_moves_from_submitted_through_executing_to_completed():
    workload = fresh()
    workload.steering.queue_seconds = 5
    workload.steering.execution = Behaviour(duration_seconds=30)
    job = execute(workload)
    assert job.status(T0) == SUBMITTED
    assert job.status(T0 + 5_000) == EXECUTING
    assert job.status(T0 + 34_999) == EXECUTING
    assert job.status(T0 + 35_000) == COMPLETED
    assert job.failure is None


def test_execution_fails_with_the_steered_message_when_its_time_is_up():
    workload = fresh()
    workload.steering.execution = Behaviour(duration_seconds=10, failure="Cell 3 raised KeyError")
    job = execute(workload)
    assert job.status(T0 + 9_999) == EXECUTING
    assert job.status(T0 + 10_000) == FAILED
    assert job.failure == "Cell 3 raised KeyError"


def test_steering_by_item_overrides_the_default_for_that_item_only():
    workload = fresh()
    with_item(workload, item_id="slow")
    workload.steering.by_item["slow"] = Behaviour(duration_seconds=600, failure="boom")
    slow = model.execute_notebook(
        workload,
        item=workload.items["slow"],
        runtime=STANDARD,
        caller=ALICE,
        params={},
        now_ms=T0,
        seed=1,
    )
    default = execute(workload)
    assert (slow.ended_ms - T0, slow.failure) == (600_000, "boom")
    assert (default.ended_ms - T0, default.failure) == (60_000, None)


def test_execution_longer_than_the_limit_fails_at_the_limit():
    workload = fresh()
    workload.configuration["maxExecuteNotebookTimeMinutes"] = 2
    workload.steering.execution = Behaviour(duration_seconds=3600)
    job = execute(workload)
    assert job.ended_ms == T0 + 2 * MINUTE_MS
    assert job.status(job.ended_ms) == FAILED
    assert job.failure == messages.EXECUTION_TIMED_OUT.format(minutes=2)


def test_execution_records_its_parameters_as_sent():
    workload = fresh()
    job = execute(workload, notebookParameters='{"x": 1, "y": "text"}', updatePortalItem="False")
    (record,) = workload.executions
    assert record.job_id == job.id
    assert record.notebook_parameters == {"x": 1, "y": "text"}
    assert record.update_portal_item is False and record.save_injected_parameters is False
    assert job.inputs["executionTimeoutInMinutes"] == 120


@pytest.mark.parametrize(
    "params",
    [
        {"notebookParameters": "[1, 2]"},
        {"notebookParameters": "{not json"},
        {"notebookParameters": '"text"'},
        {"updatePortalItem": "yes"},
        {"saveInjectedParameters": "1"},
    ],
)
def test_bad_execute_parameters_are_refused_and_record_nothing(params):
    workload = fresh()
    with_item(workload)
    with pytest.raises(InvalidParameters):
        execute(workload, **params)
    assert workload.jobs == {} and workload.executions == []


def test_finished_jobs_leave_the_active_list_at_once_and_the_admin_list_after_clean_age():
    workload = fresh()
    job = execute(workload)
    assert [j.id for j in model.jobs_at(workload, T0, active_only=True)] == [job.id]
    assert model.jobs_at(workload, job.ended_ms, active_only=True) == []
    clean = job.ended_ms + 6 * HOUR_MS  # [doc] asyncJobsCleanAgeHours 6
    assert [j.id for j in model.jobs_at(workload, clean - 1)] == [job.id]
    assert model.jobs_at(workload, clean) == []


# --- opening -----------------------------------------------------------------------------------


def test_open_lists_the_notebook_once_its_job_completes():
    workload = fresh()
    workload.steering.open_seconds = 20
    item = with_item(workload)
    job = model.open_notebook(
        workload, item=item, runtime=STANDARD, caller=ALICE, now_ms=T0, seed=1, inputs={}
    )
    assert model.open_notebooks(workload, T0 + 19_999) == []
    (notebook,) = model.open_notebooks(workload, T0 + 20_000)
    assert job.status(T0 + 20_000) == COMPLETED and job.notebook_id == notebook.id
    assert (notebook.username, notebook.item_id, notebook.runtime_id) == ("alice", "item1", "std")


def test_opening_an_open_item_again_gives_the_same_notebook():
    workload = fresh()
    item = with_item(workload)
    first = model.open_notebook(
        workload, item=item, runtime=STANDARD, caller=ALICE, now_ms=T0, seed=1, inputs={}
    )
    second = model.open_notebook(
        workload, item=item, runtime=STANDARD, caller=ALICE, now_ms=T0 + 1, seed=1, inputs={}
    )
    assert first.notebook_id == second.notebook_id
    assert len(model.open_notebooks(workload, T0 + 1)) == 1


@pytest.mark.parametrize(
    ("runtime", "caller", "error"),
    [
        (None, ALICE, Refused),
        ({**STANDARD, "disabled": True}, ALICE, Refused),
        (ADVANCED, ALICE, Forbidden),
    ],
)
def test_open_on_an_unknown_disabled_or_forbidden_runtime_is_refused(runtime, caller, error):
    with pytest.raises(error):
        model.check_runtime(runtime, "rt", caller)


def test_open_on_advanced_runtime_with_the_privilege_passes():
    model.check_runtime(ADVANCED, "adv", Caller("admin", advanced=True))


def test_an_unknown_item_or_one_not_a_notebook_is_refused():
    workload = fresh()
    with pytest.raises(Refused):
        model.item_for(workload, "nope")
    with pytest.raises(InvalidParameters):
        model.item_for(workload, "")
    with_item(workload).type = "Web Map"
    with pytest.raises(Refused):
        model.item_for(workload, "item1")


def test_runtime_users_counts_notebooks_still_opening():
    workload = fresh()
    workload.steering.open_seconds = 60
    item = with_item(workload)
    model.open_notebook(
        workload, item=item, runtime=STANDARD, caller=ALICE, now_ms=T0, seed=1, inputs={}
    )
    assert len(model.runtime_users(workload, "std", T0)) == 1
    assert model.runtime_users(workload, "adv", T0) == []


# --- configuration -----------------------------------------------------------------------------


def test_configuration_per_release():
    assert "notebookEgressNetworkPolicy" not in model.default_configuration("11.4")
    assert model.default_configuration("11.5")["notebookEgressNetworkPolicy"] == {}
    assert model.default_configuration("12.1")["idleNotebookThreshold"] == 720


@pytest.mark.parametrize(
    "params",
    [
        {"idleNotebookThreshold": "0"},
        {"idleNotebookThreshold": "1.5"},
        {"idleNotebookThreshold": "nan"},
        {"webSocketSize": "lots"},
        {"allowHiddenFileDownloads": "maybe"},
        {"notebookEgressNetworkPolicy": "[]"},
        {"idleNotebookThreshold": "60", "containerCreatedThreshold": "-1"},
    ],
)
def test_bad_configuration_updates_are_refused_whole(params):
    current = model.default_configuration("12.1")
    with pytest.raises(InvalidParameters):
        model.updated_configuration(current, params)


def test_configuration_update_changes_only_what_was_given():
    current = model.default_configuration("12.1")
    updated = model.updated_configuration(
        current, {"idleNotebookThreshold": "60", "allowHiddenFileDownloads": "true", "x": "1"}
    )
    assert updated == {**current, "idleNotebookThreshold": 60, "allowHiddenFileDownloads": True}


# --- snapshots and ids ---------------------------------------------------------------------------


def test_json_round_trip_keeps_every_record():
    workload = fresh()
    seeded_notebook(workload)
    workload.steering.by_item["item1"] = Behaviour(5, "no")
    execute(workload, notebookParameters='{"a": [1]}')
    again = Workload.from_json(copy.deepcopy(workload.to_json()))
    assert again.to_json() == workload.to_json()


@pytest.mark.parametrize(
    "broken",
    [
        {"configuration": {}, "notebooks": [{"id": "x"}]},
        {"notebooks": []},
        {"configuration": {}, "jobs": "none"},
        {"configuration": {}, "items": [{"id": 1, "title": "t", "owner": "o", "created": 0}]},
        {"configuration": {}, "steering": {"open_seconds": 1, "nonsense": 2}},
    ],
)
def test_broken_snapshots_raise_value_error(broken):
    with pytest.raises(ValueError):
        Workload.from_json(broken)


def test_seeded_ids_repeat_and_unseeded_ids_differ():
    first, second = fresh(), fresh()
    assert model.next_id(first, 7, "job") == model.next_id(second, 7, "job")
    assert model.next_id(first, 7, "job").startswith("j")
    assert model.next_id(fresh(), None, "item") != model.next_id(fresh(), None, "item")
