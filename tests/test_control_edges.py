"""The control plane's rules at their edges (issue 25): what a test author sees when a fault
rule, the journal's bounds, the clock's bounds, a reset or ``after=N`` go wrong."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from pathlib import Path

import pytest

from mockserver import create_app
from mockserver.control import context as control_context
from mockserver.control import store as control_store
from mockserver.control.faults import FaultRule
from mockserver.control.journal import (
    MAX_NAME_CHARS,
    MAX_PARAMS,
    MAX_RESPONSE_BYTES,
    MAX_VALUE_CHARS,
)
from mockserver.control.routes import MAX_CLOCK_SECONDS
from mockserver.control.shared import start_of_run
from mockserver.core import deployment, messages, statefile
from mockserver.core.clock import Clock
from mockserver.testing import InProcessEmulator, in_process
from tests.conftest import SEED_COPY, STANDARD_ID

INFO = "info"


def _info_codes(mock, count: int) -> list[int]:
    url = f"{mock.portal_url}/info?f=json"
    return [mock.session.get(url).status_code for _ in range(count)]


# --- fault rules ---------------------------------------------------------------------


@pytest.mark.parametrize("seeds", [(1, 2), (11, 12), (0, 7)])
def test_probability_faults_with_different_seeds_hit_different_requests(arcgis_mock, seeds):
    patterns = []
    for seed in seeds:
        arcgis_mock.reset()
        arcgis_mock.fault(INFO, status=502, probability=0.5, seed=seed)
        patterns.append(_info_codes(arcgis_mock, 40))
    assert patterns[0] != patterns[1]
    for pattern in patterns:
        assert set(pattern) == {200, 502}


@pytest.mark.parametrize("probability", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("times", [1, 3])
def test_a_probability_fault_with_times_fires_exactly_times_times(arcgis_mock, probability, times):
    rule = arcgis_mock.fault(INFO, status=503, probability=probability, seed=5, times=times)
    codes = _info_codes(arcgis_mock, 120)
    assert codes.count(503) == times
    (listed,) = arcgis_mock.control("GET", "faults")["faults"]
    assert listed["id"] == rule["id"]
    assert listed["remaining"] == 0
    assert listed["matched"] >= times
    # Spent: no later request is hit.
    assert _info_codes(arcgis_mock, 20) == [200] * 20


@pytest.mark.parametrize("seed", [0, 3])
def test_a_probability_fault_hits_the_nth_matching_request_exactly_when_its_rule_says(
    arcgis_mock, seed
):
    # The pattern is a function of the seed and the match's number, counted from 1: a test
    # author can predict it (FaultRule.fires_on) and get it again on every run.
    arcgis_mock.fault(INFO, status=502, probability=0.5, seed=seed)
    rule = FaultRule(operation=INFO, status=502, probability=0.5, seed=seed)
    expected = [502 if rule.fires_on(number) else 200 for number in range(1, 41)]
    assert _info_codes(arcgis_mock, 40) == expected


# --- the journal's bounds ------------------------------------------------------------

LONG = "x" * 70  # beyond the 64 characters under which a name's verdict is remembered


@pytest.mark.parametrize(
    "name, masked",
    [
        (f"{LONG}token", True),
        (f"{LONG}_apiKeys", True),
        (f"{LONG}password[]", True),
        (f"{LONG}Passwd\x00", True),
        (f"{LONG}tokenServicesUrl", False),
        (LONG, False),
    ],
)
def test_a_parameter_named_like_a_credential_is_masked_however_long_its_name(
    arcgis_mock, name, masked
):
    arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info", params={name: "v4lue", "f": "json"})
    (entry,) = arcgis_mock.journal(INFO)
    assert entry["params"] == {name: "***" if masked else "v4lue", "f": "json"}


def _journal_app(monkeypatch, *, every_appends: int, every_bytes: int, **bounds):
    """An emulator whose journal keeps ``max_entries`` and ``max_bytes`` (ControlPlane's
    ``journal_limit`` and ``journal_bytes``), pruned every so many appends and bytes."""
    monkeypatch.setattr(control_store, "PRUNE_EVERY_APPENDS", every_appends)
    monkeypatch.setattr(control_store, "PRUNE_EVERY_BYTES", every_bytes)
    app = create_app()
    plane = control_context.of(app)
    plane.store = control_store.ControlStore(deployment.of(app).store, **bounds)
    return app.test_client(), plane.store


def _kept(store) -> list[tuple[int, str]]:
    return store.journal(after=0, limit=100_000)


def test_the_journal_is_cut_to_its_newest_entries_every_so_many_appends(monkeypatch):
    client, store = _journal_app(
        monkeypatch, every_appends=4, every_bytes=10**12, max_entries=3, max_bytes=10**12
    )
    seqs: list[int] = []
    for number in range(1, 14):
        client.get("/arcgis/sharing/rest/info?f=json")
        seqs.append(_kept(store)[-1][0])
        # Pruned on the 4th, 8th, 12th append: the 3 newest kept, then one more a request.
        expected = seqs if number < 4 else seqs[-(3 + number % 4) :]
        assert [seq for seq, _ in _kept(store)] == expected, number
        assert store.journal_size()[0] == len(expected)


def _entry_length() -> int:
    """The length of the journal entry of one ``GET info?f=json`` (the same every time)."""
    app = create_app()
    app.test_client().get("/arcgis/sharing/rest/info?f=json")
    ((_, text),) = _kept(control_context.of(app).store)
    return len(text)


@pytest.mark.parametrize("slack", [0, 1], ids=["slack-reached-exactly", "one-byte-more"])
def test_the_journal_is_cut_to_its_byte_bound_once_enough_bytes_came_in(monkeypatch, slack):
    length = _entry_length()
    every = 3 * length + slack  # pruned on the 3rd entry since the last prune, or the 4th
    client, store = _journal_app(
        monkeypatch, every_appends=10**9, every_bytes=every, max_entries=10**6, max_bytes=length
    )
    kept: list[tuple[int, str]] = []
    since_prune = 0
    for number in range(1, 14):
        client.get("/arcgis/sharing/rest/info?f=json")
        newest = _kept(store)[-1]
        assert len(newest[1]) == length
        kept.append(newest)
        since_prune += length
        if since_prune >= every:  # the byte slack is spent: the newest entries within the bound
            since_prune = 0
            kept = kept[-1:]
        assert _kept(store) == kept, number
        assert store.journal_size() == (len(kept), len(kept) * length)


def _portal_error_entry(mock, operation: str) -> dict:
    (entry,) = mock.journal(operation)
    return entry


def test_the_journal_gives_the_arcgis_code_of_a_portal_error(arcgis_mock):
    arcgis_mock.session.post(
        f"{arcgis_mock.portal_url}/generateToken",
        data={"username": "admin", "password": "wrong", "f": "json"},
    )
    answer = _portal_error_entry(arcgis_mock, "generateToken")
    assert answer["response"]["error"]["code"] == 400
    assert answer["code"] == 400
    arcgis_mock.fault(INFO, error={"code": 418, "message": "Teapot"})
    arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json")
    assert _portal_error_entry(arcgis_mock, INFO)["code"] == 418


@pytest.mark.parametrize("with_values", [False, True], ids=["plain-values", "values-with-pairs"])
def test_a_credential_in_a_parameters_name_or_value_is_masked_whatever_the_name(
    arcgis_mock, with_values
):
    token = arcgis_mock.token()
    arcgis_mock.reset()
    params = {f"next?token={token}": "1", "f": "json"}
    if with_values:
        params |= {"redirect": f"https://example.test/?token={token}", "password": "p=ss"}
    arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info", params=params)
    (entry,) = arcgis_mock.journal(INFO)
    assert token not in json.dumps(entry)
    expected = {"next?token=***": "1", "f": "json"}
    if with_values:
        expected |= {"redirect": "https://example.test/?token=***", "password": "***"}
    assert entry["params"] == expected


@pytest.mark.parametrize(
    "name, journaled",
    [
        ("password=hunter2", "password=***"),
        ("Ünïcode password=hunter2", "Ünïcode password=***"),
        ("{token}", "***"),  # a token of ours, in an answer naming no credential
        ("Ünïcode {token}", "Ünïcode ***"),
    ],
)
def test_a_credential_echoed_in_a_successful_answer_is_masked_in_the_journal(
    arcgis_mock, name, journaled
):
    token = arcgis_mock.token()
    name = name.format(token=token)
    answer = arcgis_mock.session.post(
        f"{arcgis_mock.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "name": name, "f": "json", "token": token},
    ).json()
    assert answer["notebookRuntime"]["name"] == name
    (entry,) = arcgis_mock.journal("copy")
    assert entry["response"]["notebookRuntime"]["name"] == journaled
    assert token not in json.dumps(entry) and "hunter2" not in json.dumps(entry)


@pytest.mark.parametrize("where", ["value", "name"])
def test_a_parameter_exactly_at_its_bound_is_kept_whole_and_one_more_is_cut(arcgis_mock, where):
    bound = MAX_VALUE_CHARS if where == "value" else MAX_NAME_CHARS
    for length in (bound, bound + 1):
        arcgis_mock.reset()
        text = "v" * length
        pair = {"p": text} if where == "value" else {text: "1"}
        arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info", params={**pair, "f": "json"})
        (entry,) = arcgis_mock.journal(INFO)
        kept = [
            value if where == "value" else name
            for name, value in entry["params"].items()
            if name != "f"
        ]
        expected = text if length == bound else "v" * bound + "…[cut 1 characters]"
        assert kept == [expected]


def test_an_answer_of_at_most_64_kib_is_journaled_and_a_larger_one_only_sized(arcgis_mock):
    arcgis_mock.fault(INFO, error={"code": 500, "message": "m"})
    url = f"{arcgis_mock.portal_url}/info?f=json"
    base = len(arcgis_mock.session.get(url).content)
    for size in (MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES + 1):
        arcgis_mock.reset()
        arcgis_mock.fault(INFO, error={"code": 500, "message": "m" * (1 + size - base)})
        assert len(arcgis_mock.session.get(url).content) == size
        (entry,) = arcgis_mock.journal(INFO)
        if size == MAX_RESPONSE_BYTES:
            assert entry["response"]["error"]["message"] == "m" * (1 + size - base)
            assert "responseBytes" not in entry and entry["code"] == 500
        else:
            assert entry["response"] is None and entry["responseBytes"] == size


def test_pruning_an_empty_journal_keeps_it_empty_and_working():
    app = create_app()
    store = control_context.of(app).store
    store.prune_journal()
    store.prune_journal(by_bytes=False)
    assert store.journal_size() == (0, 0)
    app.test_client().get("/arcgis/sharing/rest/info?f=json")
    assert store.journal_size()[0] == 1


def _journaled_params(mock, count: int) -> dict[str, str]:
    form = {f"p{index:03d}": str(index) for index in range(count)}
    mock.session.post(f"{mock.portal_url}/generateToken", data=form)
    (entry,) = mock.journal("generateToken")
    return entry["params"]


@pytest.mark.parametrize("count", [MAX_PARAMS - 1, MAX_PARAMS])
def test_a_request_of_at_most_64_parameters_is_journaled_whole(arcgis_mock, count):
    assert MAX_PARAMS == 64
    params = _journaled_params(arcgis_mock, count)
    assert params == {f"p{index:03d}": str(index) for index in range(count)}


@pytest.mark.parametrize("count", [MAX_PARAMS + 1, MAX_PARAMS + 2, 3 * MAX_PARAMS])
def test_a_request_of_more_than_64_parameters_keeps_64_and_says_how_many_were_dropped(
    arcgis_mock, count
):
    params = _journaled_params(arcgis_mock, count)
    kept = {name: value for name, value in params.items() if name != "(more)"}
    assert kept == {f"p{index:03d}": str(index) for index in range(MAX_PARAMS)}
    assert params["(more)"] == f"{count - MAX_PARAMS} parameters not kept"


# --- the clock's bounds --------------------------------------------------------------

CENTURY = MAX_CLOCK_SECONDS


def _move_clock(mock, body: dict):
    return mock.session.post(f"{mock.control_url}/clock", json=body)


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
@pytest.mark.parametrize("beyond", [1, 100 * 365 * 24 * 3600, 10**12])
def test_the_clock_refuses_a_move_beyond_a_century_either_way_and_stays(
    arcgis_mock, direction, beyond
):
    arcgis_mock.advance_clock(direction * 60)
    before = arcgis_mock.control("GET", "clock")["offsetSeconds"]
    refused = _move_clock(arcgis_mock, {"advance_seconds": direction * (CENTURY + beyond)})
    assert refused.status_code == 400
    assert refused.json()["messages"] == [
        "The clock can move at most a century from wall-clock time."
    ]
    assert arcgis_mock.control("GET", "clock")["offsetSeconds"] == before


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
def test_an_epoch_more_than_a_century_away_is_refused_either_way(arcgis_mock, direction):
    now = arcgis_mock.control("GET", "clock")["epochMs"] / 1000
    far = now + direction * (CENTURY + 30 * 24 * 3600)
    refused = _move_clock(arcgis_mock, {"epoch_seconds": far})
    assert refused.status_code == 400
    assert abs(arcgis_mock.control("GET", "clock")["offsetSeconds"]) < 1


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
def test_the_clock_moves_up_to_a_century_either_way(arcgis_mock, direction):
    moved = _move_clock(arcgis_mock, {"advance_seconds": direction * (CENTURY - 3600)})
    assert moved.status_code == 200
    assert moved.json()["offsetSeconds"] == direction * (CENTURY - 3600)


def test_a_fresh_emulator_without_a_clock_of_its_own_runs_on_wall_clock_time():
    client = create_app().test_client()
    assert client.get("/__mock__/clock").get_json()["offsetSeconds"] == 0.0


@pytest.mark.parametrize("epoch_seconds", [0.0, 1_000_000_000.0, 4_102_444_800.0])
def test_a_clock_set_in_process_is_the_time_the_emulator_answers(epoch_seconds):
    clock = Clock()
    client = create_app(clock=clock).test_client()
    clock.set(epoch_seconds)
    answered = client.get("/__mock__/clock").get_json()["epochMs"] / 1000
    # Wall time runs on between set() and the answer; a wrong sign is decades off.
    assert epoch_seconds <= answered < epoch_seconds + 60


# --- reset and the seed --------------------------------------------------------------


def _copy_ids(mock, count: int = 2) -> list[tuple[str, str]]:
    token = mock.token()
    ids = []
    for index in range(count):
        answer = mock.session.post(
            f"{mock.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "name": f"c{index}", "f": "json", "token": token},
        ).json()
        runtime = answer["notebookRuntime"]
        ids.append((runtime["id"], runtime["deploymentDefaultPropertyId"]))
    return ids


def test_a_reset_without_a_seed_keeps_the_seed_the_server_started_with():
    seeded = in_process(seed=7)
    first = _copy_ids(seeded)
    seeded.control("POST", "reset", {})
    assert _copy_ids(seeded) == first
    seeded.control("POST", "reset")  # no body at all: the same
    assert _copy_ids(seeded) == first
    # They are the seed's ids, not the first run's by chance: another server seeded 7
    # gives them too, and one seeded 8 does not.
    assert _copy_ids(in_process(seed=7)) == first
    assert _copy_ids(in_process(seed=8)) != first


def test_a_reset_with_a_null_seed_gives_random_ids_again():
    seeded = in_process(seed=7)
    first = _copy_ids(seeded)
    seeded.control("POST", "reset", {"seed": None})
    assert _copy_ids(seeded) != first


# --- the journal's after=N -----------------------------------------------------------


def test_journal_after_n_gives_exactly_the_entries_after_the_nth(arcgis_mock):
    url = f"{arcgis_mock.portal_url}/info?f=json"
    for _ in range(5):
        arcgis_mock.session.get(url)
    everything = arcgis_mock.journal()
    seqs = [entry["seq"] for entry in everything]
    assert len(seqs) == 5 and seqs == sorted(seqs)
    for index, seq in enumerate(seqs):
        after = arcgis_mock.control("GET", "journal", after=seq)["entries"]
        assert [entry["seq"] for entry in after] == seqs[index + 1 :]
    assert arcgis_mock.control("GET", "journal", after=0)["entries"] == everything
    limited = arcgis_mock.control("GET", "journal", after=seqs[0], limit=2)["entries"]
    assert [entry["seq"] for entry in limited] == seqs[1:3]


# --- what a fault rule says back, and what it refuses --------------------------------


def _post_rule(mock, rule):
    return mock.session.post(f"{mock.control_url}/faults", json=rule)


@pytest.mark.parametrize(
    "rule, message",
    [
        (["copy"], "A fault rule is a JSON object."),
        ("copy", 'Send a rule object, a list of rules, or {"faults": [...]}.'),
        ({"faults": "copy"}, 'Send a rule object, a list of rules, or {"faults": [...]}.'),
        ({"status": 500}, "'operation' is required: an operation name or '*'."),
        ({"operation": "", "status": 500}, "'operation' is required: an operation name or '*'."),
        ({"operation": 5, "status": 500}, "'operation' is required: an operation name or '*'."),
        ({"operation": "copy", "surprise": 1, "another": 2}, "Unknown fault rule keys: another, surprise."),
        ({"operation": "copy", "error": "boom"}, '\'error\' is an object: {"code": 500, "message": "..."}.'),
        ({"operation": "copy", "error": {"code": 1, "why": 2, "how": 3}}, "Unknown 'error' keys: how, why."),
        ({"operation": "copy", "error": {"code": "500"}}, "'error.code' must be an integer."),
        ({"operation": "copy", "error": {"code": True}}, "'error.code' must be an integer."),
        ({"operation": "copy", "error": {"message": 5}}, "'error.message' must be a string."),
        ({"operation": "copy", "error": {"details": "d"}}, "'error.details' must be a list of strings."),
        ({"operation": "copy", "error": {"details": [1]}}, "'error.details' must be a list of strings."),
        ({"operation": "copy", "status": 99}, "'status' must be an integer from 100 to 599."),
        ({"operation": "copy", "status": 600}, "'status' must be an integer from 100 to 599."),
        ({"operation": "copy", "status": True}, "'status' must be an integer from 100 to 599."),
        ({"operation": "copy", "status": 500.0}, "'status' must be an integer from 100 to 599."),
        ({"operation": "copy", "drop": 1}, "'drop' must be true or false."),
        ({"operation": "copy", "delay_seconds": -0.5}, "'delay_seconds' must be a number from 0 to 30."),
        ({"operation": "copy", "delay_seconds": 30.01}, "'delay_seconds' must be a number from 0 to 30."),
        ({"operation": "copy", "delay_seconds": "1"}, "'delay_seconds' must be a number from 0 to 30."),
        ({"operation": "copy", "delay_seconds": True}, "'delay_seconds' must be a number from 0 to 30."),
        ({"operation": "copy", "drop": True, "status": 500}, "'drop' closes the connection: it cannot also send 'error' or 'status'."),
        ({"operation": "copy", "drop": True, "error": {}}, "'drop' closes the connection: it cannot also send 'error' or 'status'."),
        ({"operation": "copy"}, "Say what the fault does: 'error', 'status', 'drop' or 'delay_seconds'."),
        ({"operation": "copy", "delay_seconds": 0}, "Say what the fault does: 'error', 'status', 'drop' or 'delay_seconds'."),
        ({"operation": "copy", "status": 199, "error": {}}, "'status' with 'error' must be an HTTP status of 200 or more."),
        ({"operation": "copy", "status": 500, "times": 0}, "'times' must be an integer from 1 to 1000000."),
        ({"operation": "copy", "status": 500, "times": 1_000_001}, "'times' must be an integer from 1 to 1000000."),
        ({"operation": "copy", "status": 500, "probability": 1.5}, "'probability' must be a number from 0 to 1."),
        ({"operation": "copy", "status": 500, "probability": 0}, "'probability' must be more than 0 and at most 1."),
        ({"operation": "copy", "status": 500, "seed": "1"}, "'seed' must be an integer."),
        ({"operation": "copy", "status": 500, "seed": False}, "'seed' must be an integer."),
        ({"operation": "copy", "status": 500, "seed": 1.0}, "'seed' must be an integer."),
    ],
)  # fmt: skip
def test_a_bad_fault_rule_is_refused_saying_what_is_wrong_and_adds_nothing(
    arcgis_mock, rule, message
):
    response = _post_rule(arcgis_mock, rule)
    assert (response.status_code, response.json()) == (
        400,
        {"status": "error", "messages": [message], "code": 400},
    )
    assert arcgis_mock.control("GET", "faults") == {"faults": []}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_probability_or_delay_that_is_no_finite_number_is_refused(arcgis_mock, number):
    for key, message in (
        ("probability", "'probability' must be a number from 0 to 1."),
        ("delay_seconds", "'delay_seconds' must be a number from 0 to 30."),
    ):
        response = arcgis_mock.session.post(
            f"{arcgis_mock.control_url}/faults",
            data=f'{{"operation": "copy", "status": 500, "{key}": {number}}}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["messages"] == [message]
    assert arcgis_mock.control("GET", "faults") == {"faults": []}


def test_an_unknown_operation_is_refused_listing_the_known_ones(arcgis_mock):
    answer = _post_rule(arcgis_mock, {"operation": "x" * 200, "status": 500}).json()
    (message,) = answer["messages"]
    assert message.startswith(f"Unknown operation '{'x' * 80}'. Known: ")
    known = message.split("Known: ", 1)[1].removesuffix(", *.").split(", ")
    assert known == sorted(known) and {"copy", "info", "generateToken"} <= set(known)


@pytest.mark.parametrize(
    "rule, described",
    [
        ({"operation": "copy", "status": 503}, {"status": 503}),
        ({"operation": "*", "drop": True, "times": 2}, {"drop": True, "times": 2, "remaining": 2}),
        ({"operation": "info", "delay_seconds": 0.5}, {"delay_seconds": 0.5}),
        (
            {"operation": "copy", "error": {}},
            {"error": {"code": 500, "message": "Injected fault.", "details": []}},
        ),
        (
            {"operation": "copy", "error": {"code": 403, "message": "No", "details": ["d"]}, "status": 200},
            {"error": {"code": 403, "message": "No", "details": ["d"]}, "status": 200},
        ),
        (
            {"operation": "info", "status": 502, "probability": 0.25, "seed": 9},
            {"status": 502, "probability": 0.25, "seed": 9},
        ),
        ({"operation": "info", "status": 502, "probability": 1}, {"status": 502}),
        # No seed given: the pattern is seed 0's, and the rule says so.
        (
            {"operation": "info", "status": 502, "probability": 0.25},
            {"status": 502, "probability": 0.25, "seed": 0},
        ),
    ],
)  # fmt: skip
def test_a_fault_rule_is_described_back_with_only_what_it_does(arcgis_mock, rule, described):
    (added,) = arcgis_mock.control("POST", "faults", rule)["faults"]
    expected = {"id": added["id"], "operation": rule["operation"], **described, "matched": 0}
    assert added == expected
    assert arcgis_mock.control("GET", "faults") == {"faults": [expected]}


def test_several_rules_are_added_together_or_not_at_all(arcgis_mock):
    good = {"operation": "info", "status": 503}
    refused = _post_rule(arcgis_mock, {"faults": [good, {"operation": "info"}]})
    assert refused.status_code == 400
    assert arcgis_mock.control("GET", "faults") == {"faults": []}
    added = arcgis_mock.control("POST", "faults", [good, {**good, "times": 1}])["faults"]
    assert [rule["id"] for rule in added] == sorted(rule["id"] for rule in added)
    assert len(arcgis_mock.control("GET", "faults")["faults"]) == 2


@pytest.mark.parametrize(
    "status, body",
    [(503, "503 Service Unavailable\n"), (429, "429 Too Many Requests\n"), (599, "599 Injected\n")],
)
def test_a_status_fault_answers_the_proxys_plain_text(arcgis_mock, status, body):
    arcgis_mock.fault(INFO, status=status, times=1)
    response = arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json")
    assert (response.status_code, response.text) == (status, body)
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("where", ["portal", "admin"])
def test_an_error_fault_answers_in_the_resources_own_envelope(arcgis_mock, where):
    error = {"code": 403, "message": "Injected no", "details": ["why"]}
    token = arcgis_mock.token()
    if where == "portal":
        arcgis_mock.fault("portalSelf", error=error, times=1)
        url = f"{arcgis_mock.portal_url}/portals/self"
        expected = {"error": error}
    else:
        arcgis_mock.fault("runtimes", error=error, status=502, times=1)
        url = f"{arcgis_mock.admin_url}/notebooks/runtimes"
        expected = {"status": "error", "messages": ["Injected no", "why"], "code": 403}
    response = arcgis_mock.session.get(url, params={"f": "json", "token": token})
    assert response.json() == expected
    assert response.status_code == (200 if where == "portal" else 502)


def test_a_rule_for_one_operation_leaves_the_others_alone(arcgis_mock):
    arcgis_mock.fault("generateToken", status=503)
    assert _info_codes(arcgis_mock, 3) == [200, 200, 200]
    arcgis_mock.fault("*", status=502, times=2)
    assert _info_codes(arcgis_mock, 3) == [502, 502, 200]


# --- health and the state file (mockserver/core/statefile.py) ---------------------------
# nbmock serve watches its state file this way; tests/test_hardening_server.py checks it
# through a served process, these in process so that mutmut's mutants meet them.


def _on_a_state_file(tmp_path, name: str = "state.sqlite3"):
    path = tmp_path / name
    app = create_app(state=str(path))
    identity = statefile.record_identity(deployment.of(app).store, str(path))
    statefile.init_app(app, identity)
    return app, path, identity


def _health(app) -> tuple[int, dict]:
    answer = app.test_client().get("/__mock__/health")
    return answer.status_code, answer.get_json()


def test_health_is_ok_on_the_state_file_the_run_started_on(tmp_path):
    app, _, _ = _on_a_state_file(tmp_path)
    status, answer = _health(app)
    assert (status, answer["status"]) == (200, "ok")


def test_a_state_file_keeps_its_identity_across_runs_and_another_file_has_its_own(tmp_path):
    app, path, identity = _on_a_state_file(tmp_path)
    again = statefile.record_identity(deployment.of(app).store, str(path))
    assert again == identity
    assert re.fullmatch(r"[0-9a-f]{32}", identity.state_id)
    other = _on_a_state_file(tmp_path, "other.sqlite3")[2]
    assert other.state_id != identity.state_id
    assert (other.device, other.inode) != (identity.device, identity.inode)


def test_a_deleted_state_file_fails_health_saying_so(tmp_path, caplog):
    app, path, _ = _on_a_state_file(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    status, answer = _health(app)
    assert status == 503
    assert answer["messages"] == [messages.STATE_FILE_GONE.format(path=path)]


def test_a_state_file_replaced_by_another_database_fails_health_saying_so(tmp_path):
    app, path, _ = _on_a_state_file(tmp_path)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    os.replace(other, path)
    status, answer = _health(app)
    assert status == 503
    assert answer["messages"] == [messages.STATE_FILE_REPLACED.format(path=path)]


def test_a_state_file_whose_database_is_another_runs_fails_health_saying_so(tmp_path):
    app, path, _ = _on_a_state_file(tmp_path)
    with deployment.of(app).store.transaction() as tx:
        tx.set_meta(statefile.STATE_ID, "0" * 32)
    status, answer = _health(app)
    assert status == 503
    assert answer["messages"] == [messages.STATE_FILE_REPLACED.format(path=path)]


def test_a_worker_on_a_gone_state_file_logs_why_at_once(tmp_path, caplog):
    path = tmp_path / "state.sqlite3"
    app = create_app(state=str(path))
    identity = statefile.record_identity(deployment.of(app).store, str(path))
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="nbmock"):
        statefile.init_app(app, identity)
    assert caplog.messages == [
        f"nbmock: worker {os.getpid()}: {messages.STATE_FILE_GONE.format(path=path)}"
    ]


def test_a_sound_state_logs_nothing_at_start(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="nbmock"):
        _on_a_state_file(tmp_path)
    assert caplog.messages == []


def _failing_writes(app, monkeypatch) -> sqlite3.OperationalError:
    failure = sqlite3.OperationalError("attempt to write a readonly database")

    def refuse(*args, **kwargs):
        raise failure

    for method in ("transaction", "write"):
        monkeypatch.setattr(deployment.of(app).store, method, refuse)
    return failure


@pytest.mark.parametrize("on_file", [True, False], ids=["file", "in-memory"])
def test_a_state_that_cannot_be_written_fails_health_naming_the_file(
    tmp_path, monkeypatch, on_file
):
    if on_file:
        app, path, _ = _on_a_state_file(tmp_path)
    else:
        app, path = create_app(), "(in memory)"
        statefile.init_app(app, None)
    failure = _failing_writes(app, monkeypatch)
    status, answer = _health(app)
    assert status == 503
    assert answer["messages"] == [messages.STATE_FILE_NOT_WRITABLE.format(path=path, error=failure)]


@pytest.mark.parametrize(
    ("where", "portal"),
    [
        ("/arcgis/sharing/rest/generateToken", True),
        (f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy", False),
    ],
)
@pytest.mark.parametrize("on_file", [True, False], ids=["file", "in-memory"])
def test_a_write_the_state_refuses_answers_503_and_logs_the_file(
    tmp_path, monkeypatch, caplog, where, portal, on_file
):
    if on_file:
        app, path, _ = _on_a_state_file(tmp_path)
    else:
        app, path = create_app(), "(in memory)"
        statefile.init_app(app, None)
    client = app.test_client()
    token = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]
    failure = _failing_writes(app, monkeypatch)
    with caplog.at_level(logging.ERROR, logger="nbmock"):
        answer = client.post(
            where,
            data={
                **SEED_COPY,
                "username": "admin",
                "password": "a wrong one",  # a failed sign-in is written down
                "f": "json",
                "token": token,
            },
        )
    assert answer.status_code == 503
    body = answer.get_json(force=True)
    if portal:
        assert body["error"]["code"] == 503
        assert body["error"]["message"] == messages.STATE_UNAVAILABLE
    else:
        assert body == {"status": "error", "messages": [messages.STATE_UNAVAILABLE], "code": 503}
    assert caplog.messages == [
        f"nbmock: worker {os.getpid()}: POST {where}: "
        + messages.STATE_FILE_NOT_WRITABLE.format(path=path, error=failure)
    ]


def test_an_unreadable_state_file_is_named_with_sqlites_reason():
    error = sqlite3.DatabaseError("file is not a database")
    assert str(statefile.unreadable("/srv/state.sqlite3", error)) == (
        messages.STATE_FILE_UNREADABLE.format(path="/srv/state.sqlite3", error=error)
    )


# --- a snapshot of another release ------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "named"),
    [("10.9.1", "'10.9.1'"), ("9" * 30, repr("9" * 20)), (None, "'None'"), (11.3, "'11.3'")],
)
def test_a_snapshot_of_another_release_is_refused_naming_both_releases(arcgis_mock, release, named):
    snapshot = arcgis_mock.control("GET", "state")
    serving = snapshot["release"]
    snapshot["release"] = release
    refused = arcgis_mock.session.post(f"{arcgis_mock.control_url}/state", json=snapshot)
    assert refused.status_code == 400
    assert refused.json()["messages"] == [
        f"The snapshot is of release {named}; this emulator serves {serving!r}."
    ]


# --- what the control plane says when its input is wrong -----------------------------

LONE_SURROGATE = (
    "The body holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)."
)


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("clock", "{nope", "The body must be JSON (Content-Type: application/json)."),
        ("clock", "[]", "The body must be a JSON object."),
        ("faults", '{"operation": "info", "error": {"message": "\\ud800"}}', LONE_SURROGATE),
        ("reset", '{"seed": "7"}', "'seed' must be an integer or null."),
        ("seed", '{"seed": 1.5}', "'seed' must be an integer or null."),
        ("seed", '{"seed": true}', "'seed' must be an integer or null."),
        ("clock", '{"advance_seconds": true}', "'advance_seconds' must be a finite number of seconds."),
        ("clock", '{"advance_seconds": NaN}', "'advance_seconds' must be a finite number of seconds."),
        ("clock", '{"epoch_seconds": "soon"}', "'epoch_seconds' must be a finite number of seconds."),
    ],
)  # fmt: skip
def test_a_wrong_control_body_is_refused_saying_what_is_wrong_and_changes_nothing(
    arcgis_mock, path, body, message
):
    before = arcgis_mock.control("GET", "state")
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/{path}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["messages"]) == (400, [message])
    assert arcgis_mock.control("GET", "state") == before
    assert arcgis_mock.control("GET", "clock")["offsetSeconds"] == 0


@pytest.mark.parametrize(
    "query, name",
    [("after=x", "after"), ("after=-1", "after"), ("limit=-1", "limit"), ("limit=1.5", "limit")],
)
def test_a_wrong_journal_query_is_refused_naming_the_parameter(arcgis_mock, query, name):
    response = arcgis_mock.session.get(f"{arcgis_mock.control_url}/journal?{query}")
    assert response.status_code == 400
    assert response.json()["messages"] == [f"'{name}' must be a non-negative integer."]


def test_an_empty_after_or_limit_reads_as_left_out(arcgis_mock):
    for _ in range(3):
        arcgis_mock.session.get(f"{arcgis_mock.portal_url}/info?f=json")
    everything = arcgis_mock.control("GET", "journal")["entries"]
    assert len(everything) == 3
    answer = arcgis_mock.session.get(f"{arcgis_mock.control_url}/journal?after=&limit=")
    assert answer.json()["entries"] == everything


# --- what a new nbmock serve run starts from (control/shared.start_of_run) -----------


def _worker(path) -> InProcessEmulator:
    return InProcessEmulator(create_app(state=str(path)))


def _dirty(worker: InProcessEmulator) -> None:
    worker.fault(INFO, status=503)
    worker.control("POST", "clock", {"advance_seconds": 3600})
    worker.control("POST", "seed", {"seed": 5})


def _settings(worker: InProcessEmulator) -> tuple[list, float, object]:
    return (
        worker.control("GET", "faults")["faults"],
        worker.control("GET", "clock")["offsetSeconds"],
        worker.control("GET", "state")["seed"],
    )


@pytest.mark.parametrize("seed", [11, None])
def test_a_new_run_on_a_state_file_drops_the_last_runs_faults_and_clock_and_takes_its_seed(
    tmp_path, seed
):
    earlier = _worker(tmp_path / "state.sqlite3")
    _dirty(earlier)
    start_of_run(deployment.of(earlier.app).store, seed)
    # A worker of the new run, and one that was already running: both see the new run.
    for worker in (_worker(tmp_path / "state.sqlite3"), earlier):
        assert _settings(worker) == ([], 0, seed)
        assert [worker.session.get(f"{worker.portal_url}/info?f=json").status_code] == [200]


@pytest.mark.parametrize("seed", [11, None])
def test_a_replica_joining_a_shared_state_keeps_its_faults_and_clock_and_sets_a_seed_if_given(
    tmp_path, monkeypatch, seed
):
    running = _worker(tmp_path / "state.sqlite3")
    _dirty(running)
    before = _settings(running)
    store = deployment.of(running.app).store
    monkeypatch.setattr(store, "shared", True)
    start_of_run(store, seed)
    faults, offset, kept_seed = _settings(running)
    assert (faults, offset) == before[:2] and offset == pytest.approx(3600)
    assert kept_seed == (5 if seed is None else seed)


@pytest.mark.parametrize("shared", [False, True], ids=["state-file", "shared-database"])
def test_a_new_run_on_a_state_no_change_ever_touched_starts_and_takes_changes(
    tmp_path, monkeypatch, shared
):
    worker = _worker(tmp_path / "state.sqlite3")
    store = deployment.of(worker.app).store
    monkeypatch.setattr(store, "shared", shared)
    start_of_run(store, 7)
    assert worker.control("GET", "state")["seed"] == 7
    worker.fault(INFO, status=503)
    assert worker.session.get(f"{worker.portal_url}/info?f=json").status_code == 503


@pytest.mark.parametrize("shared", [False, True], ids=["state-file", "shared-database"])
def test_a_worker_that_missed_a_change_still_sees_the_new_run(tmp_path, monkeypatch, shared):
    # A's last look was after its own clock move; B's later fault rule it has not seen.
    first = _worker(tmp_path / "state.sqlite3")
    first.control("POST", "clock", {"advance_seconds": 3600})
    second = _worker(tmp_path / "state.sqlite3")
    second.fault(INFO, status=503)
    store = deployment.of(first.app).store
    monkeypatch.setattr(store, "shared", shared)
    start_of_run(store, 11)
    offset = first.control("GET", "clock")["offsetSeconds"]
    assert offset == (pytest.approx(3600) if shared else 0)
    # and every worker can still change the settings afterwards
    first.control("POST", "clock", {"real": True})
    assert second.control("GET", "clock")["offsetSeconds"] == 0


@pytest.mark.parametrize("seed", [5, None])
def test_a_snapshot_brings_its_seed_back(arcgis_mock, seed):
    arcgis_mock.control("POST", "seed", {"seed": seed})
    snapshot = arcgis_mock.control("GET", "state")
    arcgis_mock.control("POST", "seed", {"seed": 99})
    arcgis_mock.control("POST", "state", snapshot)
    assert arcgis_mock.control("GET", "state")["seed"] == seed


@pytest.mark.parametrize("seed", ["5", True, 1.5])
def test_a_snapshot_whose_seed_is_no_integer_is_refused_and_changes_nothing(arcgis_mock, seed):
    arcgis_mock.control("POST", "seed", {"seed": 3})
    snapshot = arcgis_mock.control("GET", "state")
    arcgis_mock.control("POST", "seed", {"seed": 4})
    response = arcgis_mock.session.post(
        f"{arcgis_mock.control_url}/state", json={**snapshot, "seed": seed}
    )
    assert response.status_code == 400
    assert response.json()["messages"] == ["'seed' must be an integer or null."]
    assert arcgis_mock.control("GET", "state")["seed"] == 4


def test_a_replica_already_running_makes_ids_from_the_seed_a_joining_replica_set(tmp_path):
    running = _worker(tmp_path / "shared.sqlite3")
    running.control("POST", "reset", {"seed": 5})
    store = deployment.of(running.app).store
    store.shared = True  # this Store object only lives in this test
    start_of_run(store, 11)
    elsewhere = _worker(tmp_path / "reference.sqlite3")
    elsewhere.control("POST", "reset", {"seed": 11})
    ids = []
    for worker in (running, elsewhere):
        answer = worker.session.post(
            f"{worker.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "f": "json", "token": worker.token()},
        ).json()
        ids.append(answer["notebookRuntime"]["id"])
    assert ids[0] == ids[1]


def test_a_credential_named_key_in_an_echoed_json_object_is_masked_and_an_empty_one_kept(
    arcgis_mock,
):
    token = arcgis_mock.token()
    resources = {"password": "hunter2", "apiKey": "", "code": 7, "x": [{"client_secret": "s3"}]}
    arcgis_mock.session.post(
        f"{arcgis_mock.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "customResources": json.dumps(resources), "f": "json", "token": token},
    )
    (entry,) = arcgis_mock.journal("copy")
    journaled = entry["response"]["notebookRuntime"]["customResources"]
    # An empty credential says nothing, and an ArcGIS `code` is no OAuth code: both kept.
    assert journaled == {
        "password": "***",
        "apiKey": "",
        "code": 7,
        "x": [{"client_secret": "***"}],
    }


def test_a_snapshot_that_names_no_flavour_is_a_kubernetes_one(arcgis_mock):
    snapshot = arcgis_mock.control("GET", "state")
    assert snapshot.pop("flavour") == "kubernetes"
    assert arcgis_mock.control("POST", "state", snapshot)["status"] == "success"


@pytest.mark.parametrize("flavour", ["standalone", "Kubernetes", "x" * 30])
def test_a_snapshot_of_another_flavour_is_refused_naming_both(arcgis_mock, flavour):
    snapshot = {**arcgis_mock.control("GET", "state"), "flavour": flavour}
    response = arcgis_mock.session.post(f"{arcgis_mock.control_url}/state", json=snapshot)
    assert response.status_code == 400
    assert response.json()["messages"] == [
        f"The snapshot is of flavour {flavour[:20]!r}; this emulator serves 'kubernetes'."
    ]
