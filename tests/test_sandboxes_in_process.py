"""Sandboxes in process (issue 25): the same rules tests/test_sandboxes.py checks through a
real ``nbmock serve``, here through the app's own WSGI dispatcher so that mutmut's mutants
of ``mockserver/sandboxes/`` meet them (a served process never sees a mutant)."""

from __future__ import annotations

import json
import re

import pytest

from mockserver.auth.users import DEFAULT_PASSWORD, DEFAULT_USERNAME
from mockserver.core import deployment
from mockserver.core.clock import Clock
from mockserver.runtimes.releases import RELEASES, STANDARD_ID
from mockserver.sandboxes.routes import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, SEED_RANGE
from mockserver.testing import IN_PROCESS_ORIGIN, in_process
from tests.conftest import SEED_COPY

SANDBOXES = f"{IN_PROCESS_ORIGIN}/__mock__/sandboxes"
JSON = {"Content-Type": "application/json"}
SEED_REFUSED = (
    f"'seed' must be an integer from {SEED_RANGE.start} to {SEED_RANGE.stop - 1}, or null."
)


class _StoppedClock(Clock):
    """Wall time stands still, so that expiry is checked to the millisecond."""

    def now(self) -> float:
        return 1_800_000_000 + self.offset_seconds


@pytest.fixture
def mock():
    return in_process(max_sandboxes=3, clock=_StoppedClock())


def _make(mock, body=None):
    return mock.session.post(SANDBOXES, data=json.dumps(body or {}), headers=JSON, timeout=30)


def _made(mock, **body):
    answer = _make(mock, body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _listed(mock) -> list[str]:
    return [s["id"] for s in mock.session.get(SANDBOXES, timeout=30).json()["sandboxes"]]


def _copy(mock, sandbox: dict, name: str = "c") -> dict:
    token = mock.session.post(
        f"{sandbox['url']}/sharing/rest/generateToken",
        data={"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD, "f": "json"},
    ).json()["token"]
    return mock.session.post(
        f"{sandbox['url']}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "name": name, "f": "json", "token": token},
    ).json()["notebookRuntime"]


def test_a_new_sandbox_is_described_with_its_own_context_urls_and_an_hour_to_live(mock):
    made = _made(mock)
    assert re.fullmatch(r"[0-9a-f]{12}", made["id"])
    assert made["context"] == f"sb-{made['id']}"
    assert made["url"] == f"{IN_PROCESS_ORIGIN}/sb-{made['id']}"
    assert made["controlUrl"] == f"{SANDBOXES}/{made['id']}"
    assert made["release"] == deployment.of(mock.app).release.name
    assert made["seed"] is None
    assert made["users"] == "server"
    assert made["expires"] - made["created"] == DEFAULT_TTL_SECONDS * 1000
    assert mock.session.get(f"{SANDBOXES}/{made['id']}").json() == made
    assert _listed(mock) == [made["id"]]


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_a_sandbox_keeps_the_release_seed_and_ttl_asked_for(mock, release):
    made = _made(mock, release=release, seed=7, ttl_seconds=MAX_TTL_SECONDS)
    assert (made["release"], made["seed"]) == (release, 7)
    assert made["expires"] - made["created"] == MAX_TTL_SECONDS * 1000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"colour": 1}, "Unknown sandbox fields: colour."),
        ({"b": 1, "a": 2}, "Unknown sandbox fields: a, b."),
        ({"release": "9.9"}, f"'release' must be one of {', '.join(RELEASES)} for kubernetes."),
        ({"seed": "7"}, SEED_REFUSED),
        ({"seed": True}, SEED_REFUSED),
        ({"seed": 1.5}, SEED_REFUSED),
        *[
            (
                {"ttl_seconds": ttl},
                f"'ttl_seconds' must be a number of seconds from 1 to {MAX_TTL_SECONDS}.",
            )
            for ttl in (0, -1, MAX_TTL_SECONDS + 1, MAX_TTL_SECONDS + 0.5, True, "60", None)
        ],
        ({"users": []}, "'users': users are an object of user names"),
        ({"users": {"ann": {}}}, "user 'ann' in 'users': 'password' is required"),
    ],
)
def test_a_bad_sandbox_request_is_refused_saying_why_and_makes_nothing(mock, body, message):
    refused = _make(mock, body)
    assert refused.status_code == 400
    assert refused.json()["messages"] == [message]
    assert _listed(mock) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "The body must be JSON (Content-Type: application/json)."),
        ("[1]", "The body must be a JSON object."),
        ("1e999", "The body must be a JSON object."),
    ],
)
def test_a_body_that_is_no_json_object_is_refused(mock, raw, message):
    refused = mock.session.post(SANDBOXES, data=raw, headers=JSON)
    assert refused.status_code == 400
    assert refused.json()["messages"] == [message]
    assert _listed(mock) == []


def test_an_empty_body_makes_a_sandbox_with_the_defaults(mock):
    answer = mock.session.post(SANDBOXES, data="  ", headers=JSON)
    assert answer.status_code == 201
    assert answer.json()["seed"] is None


def test_past_max_sandboxes_a_new_one_is_refused_with_429_until_one_is_deleted(mock):
    made = [_made(mock)["id"] for _ in range(3)]
    refused = _make(mock)
    assert refused.status_code == 429
    assert refused.json()["messages"] == [
        "This server holds at most 3 sandboxes (--max-sandboxes): "
        "delete one (DELETE /__mock__/sandboxes/<id>) or wait for one to expire."
    ]
    assert sorted(_listed(mock)) == sorted(made)
    assert mock.session.delete(f"{SANDBOXES}/{made[0]}").json() == {"status": "success"}
    assert _make(mock).status_code == 201


def test_sandboxes_are_listed_in_the_order_they_were_made_then_by_id(mock):
    made = []
    for _ in range(2):
        made.append(_made(mock)["id"])
        mock.advance_clock(1)
    same_millisecond = sorted(_made(mock)["id"] for _ in range(1))
    assert _listed(mock) == made + same_millisecond
    mock.session.delete(f"{SANDBOXES}/{made[0]}")
    twins = sorted(_made(mock)["id"] for _ in range(1)) + same_millisecond
    assert _listed(mock) == [made[1], *sorted(twins)]


def test_a_deleted_sandbox_is_gone_from_its_urls_the_listing_and_a_second_delete(mock):
    made = _made(mock)
    assert mock.session.delete(f"{SANDBOXES}/{made['id']}").status_code == 200
    message = f"No sandbox '{made['id']}' (deleted, expired or never made)."
    for answer in (
        mock.session.get(f"{SANDBOXES}/{made['id']}"),
        mock.session.delete(f"{SANDBOXES}/{made['id']}"),
        mock.session.get(f"{made['controlUrl']}/clock"),
    ):
        assert answer.status_code == 404
        assert answer.json()["messages"] == [message]
    assert mock.session.get(f"{made['url']}/admin/?f=json").status_code == 404
    assert _listed(mock) == []


def test_an_unknown_sandbox_id_is_named_cut_to_40_characters(mock):
    answer = mock.session.get(f"{SANDBOXES}/{'a' * 60}")
    assert answer.status_code == 404
    assert answer.json()["messages"] == [
        f"No sandbox '{'a' * 40}' (deleted, expired or never made)."
    ]


@pytest.mark.parametrize("ttl", [1, 90, 3600])
def test_a_sandbox_answers_until_its_ttl_and_not_from_then_on(mock, ttl):
    made = _made(mock, ttl_seconds=ttl)
    # The main deployment's clock decides expiry.
    mock.advance_clock(ttl - 1)
    assert mock.session.get(f"{SANDBOXES}/{made['id']}").status_code == 200
    assert _listed(mock) == [made["id"]]
    mock.advance_clock(1)
    assert mock.session.get(f"{SANDBOXES}/{made['id']}").status_code == 404
    assert _listed(mock) == []


def test_an_expired_sandbox_no_longer_counts_against_max_sandboxes(mock):
    for _ in range(3):
        _made(mock, ttl_seconds=60)
    mock.advance_clock(61)
    assert _make(mock).status_code == 201
    assert len(_listed(mock)) == 1


def test_a_sandboxs_runtimes_clock_and_journal_are_its_own(mock):
    sandbox = _made(mock)
    copied = _copy(mock, sandbox)
    runtimes = mock.session.get(
        f"{mock.admin_url}/notebooks/runtimes", params={"f": "json", "token": mock.token()}
    ).json()["runtimes"]
    assert copied["id"] not in [r["id"] for r in runtimes]
    moved = mock.session.post(f"{sandbox['controlUrl']}/clock", json={"advance_seconds": 600})
    assert moved.json()["offsetSeconds"] == 600
    assert mock.control("GET", "clock")["offsetSeconds"] == 0
    journal = mock.session.get(f"{sandbox['controlUrl']}/journal").json()["entries"]
    assert "copy" in [entry["operation"] for entry in journal]
    assert "copy" not in [entry["operation"] for entry in mock.journal()]


def test_two_sandboxes_with_the_same_seed_give_the_same_ids(mock):
    first = _copy(mock, _made(mock, seed=11))
    second = _copy(mock, _made(mock, seed=11))
    assert first["id"] == second["id"]


def test_a_sandbox_with_its_own_users_signs_in_only_them(mock):
    sandbox = _made(mock, users={"ann": {"password": "pw-ann1", "role": "Administrator"}})
    assert sandbox["users"] == "own"

    def signs_in(url, username, password):
        return (
            "token"
            in mock.session.post(
                f"{url}/sharing/rest/generateToken",
                data={"username": username, "password": password, "f": "json"},
            ).json()
        )

    assert signs_in(sandbox["url"], "ann", "pw-ann1")
    assert not signs_in(sandbox["url"], DEFAULT_USERNAME, DEFAULT_PASSWORD)
    assert not signs_in(mock.url, "ann", "pw-ann1")


@pytest.mark.parametrize("spelling", ["{id}//clock", "/{id}/clock", "{id}///clock"])
def test_a_sandbox_control_url_with_doubled_slashes_still_acts_on_that_sandbox(mock, spelling):
    sandbox = _made(mock)
    url = f"{SANDBOXES}/{spelling.format(id=sandbox['id'])}"
    moved = mock.session.post(url, json={"advance_seconds": 60})
    assert moved.status_code == 200
    assert mock.session.get(f"{sandbox['controlUrl']}/clock").json()["offsetSeconds"] == 60
    assert mock.control("GET", "clock")["offsetSeconds"] == 0


def test_a_bare_sandbox_control_url_without_a_verb_is_no_sandbox_verb(mock):
    sandbox = _made(mock)
    answer = mock.session.get(f"{sandbox['controlUrl']}/")
    assert answer.status_code == 404
