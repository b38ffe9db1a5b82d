"""What the control plane's hooks and the journal's masking of JSON must keep, as a client of
the control plane sees it (issue 25): which fault comes first, when a delayed answer's
operation runs, what one request journals and what a credential inside a JSON value
becomes.

A delay is observed through the hook ``nbmock serve`` gives the app (``wire.ANSWER_LATER``),
called with the seconds to hold the answer: only the test without that hook sleeps, 10 ms.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import struct

import pytest
from flask import request
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.control import context, hooks
from mockserver.control.journal import MASK, masked_params, masked_response, response_json
from mockserver.core import deployment
from mockserver.core.clock import Clock
from mockserver.web import wire
from tests.conftest import SEED_COPY, STANDARD_ID, Api

CONTROL = "/__mock__"
RUNTIMES = "/arcgis/admin/notebooks/runtimes"
INFO = "/arcgis/sharing/rest/info"


class HeldAnswers:
    """``wire.ANSWER_LATER`` as ``nbmock serve`` provides it, recording each call: the seconds
    asked for, and whether the connection had already been dropped when it was asked.
    ``runtimes_then`` counts the runtimes at each call: what the operation had done by then."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, bool]] = []
        self.runtimes_then: list[int] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append((seconds, bool(request.environ.get(hooks.DROPPED))))
        self.runtimes_then.append(len(deployment.current().runtimes.list()))


@pytest.fixture
def api() -> Api:
    return Api(create_app(clock=Clock(), seed=7))


def fault(api: Api, **rule) -> None:
    answer = api.client.post(f"{CONTROL}/faults", json=rule)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def journal(api: Api, operation: str | None = None) -> list[dict]:
    query = {"operation": operation} if operation else {}
    return api.client.get(f"{CONTROL}/journal", query_string=query).get_json()["entries"]


def copy_held(api: Api, token: str, held: HeldAnswers):
    return api.client.post(
        f"{RUNTIMES}/{STANDARD_ID}/copy",
        data={**SEED_COPY, "f": "json", "token": token},
        environ_base={wire.ANSWER_LATER: held},
    )


def test_a_delay_alone_carries_the_copy_out_and_holds_its_answer_once(api):
    token = api.token()
    before = len(api.runtimes(token))
    fault(api, operation="copy", delay_seconds=2.5, times=1)
    held = HeldAnswers()
    answer = copy_held(api, token, held)
    assert answer.get_json(force=True)["status"] == "success"
    assert held.calls == [(2.5, False)]
    # The copy was made before its answer was held: a client that gives up waiting has it.
    assert held.runtimes_then == [before + 1]
    assert len(api.runtimes(token)) == before + 1
    (entry,) = journal(api, "copy")
    assert (entry["fault"], entry["status"]) == ("delay", 200)


@pytest.mark.parametrize(
    "effect",
    [
        {"error": {"code": 500, "message": "Injected."}},
        {"status": 503},
        {"drop": True},
    ],
    ids=["error", "status", "drop"],
)
def test_a_delay_with_another_fault_holds_its_answer_once_and_runs_nothing(api, effect):
    token = api.token()
    before = len(api.runtimes(token))
    fault(api, operation="copy", delay_seconds=1.5, times=1, **effect)
    held = HeldAnswers()
    copy_held(api, token, held)
    # Held once, and a dropped connection before it was dropped: the delay, then the fault.
    assert held.calls == [(1.5, False)]
    assert held.runtimes_then == [before]
    assert len(api.runtimes(token)) == before
    (entry,) = journal(api, "copy")
    assert entry["fault"] == next(iter(effect))


def test_a_dropped_request_is_journaled_without_a_status_or_an_answer(api):
    fault(api, operation="info", drop=True, times=1)
    api.client.get(INFO, query_string={"f": "json"})
    (entry,) = journal(api, "info")
    assert (entry["status"], entry["response"], entry["fault"]) == (None, None, "drop")


@pytest.fixture
def connection():
    """A real TCP connection on loopback: (the server's end, the client's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        served, _ = listener.accept()
    with served, client:
        yield served, client


@pytest.mark.parametrize("server", ["gunicorn.socket", "werkzeug.socket"])
def test_a_drop_fault_ends_the_client_s_connection_as_a_crash_would(api, connection, server):
    served, client = connection
    fault(api, operation="info", drop=True, times=1)
    answer = api.client.get(INFO, query_string={"f": "json"}, environ_base={server: served})
    # What a WSGI caller without the socket sees (Flask's test client, the server's log).
    assert answer.status_code == 500 and answer.get_data() == b""
    assert answer.headers[hooks.DROPPED_HEADER] == "1"
    # Ended at once, before any answer: the client reads the end of the stream ...
    assert client.recv(1024) == b""
    # ... and the server's close will be a reset (SO_LINGER on, zero seconds).
    linger = struct.unpack("ii", served.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
    assert linger[0] != 0 and linger[1] == 0


def test_a_drop_fault_on_a_connection_already_gone_is_still_journaled_dropped(api, connection):
    served, _client = connection
    served.close()  # the server's socket calls now fail with OSError
    fault(api, operation="info", drop=True, times=1)
    answer = api.client.get(
        INFO, query_string={"f": "json"}, environ_base={"gunicorn.socket": served}
    )
    assert answer.headers[hooks.DROPPED_HEADER] == "1"
    (entry,) = journal(api, "info")
    assert (entry["status"], entry["fault"]) == (None, "drop")


def test_an_answer_without_a_delay_is_never_held(api):
    held = HeldAnswers()
    api.client.get(INFO, query_string={"f": "json"}, environ_base={wire.ANSWER_LATER: held})
    assert held.calls == []


def test_without_a_server_to_hold_it_a_delay_still_answers_and_is_journaled(api):
    fault(api, operation="info", delay_seconds=0.01, times=1)
    answer = api.client.get(INFO, query_string={"f": "json"})
    assert answer.status_code == 200 and "authInfo" in answer.get_json(force=True)
    assert [entry["fault"] for entry in journal(api, "info")] == ["delay"]


def test_one_copy_is_one_journal_entry(api):
    token = api.token()
    api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    entries = journal(api, "copy")
    assert [(entry["method"], entry["status"]) for entry in entries] == [("POST", 200)]


def test_the_body_s_value_is_journaled_when_a_post_sends_a_parameter_in_both_places(api):
    token = api.token()
    api.client.post(
        f"{RUNTIMES}/{STANDARD_ID}/copy?name=from-query&f=json",
        data={**SEED_COPY, "name": "from-body", "token": token},
    )
    (entry,) = journal(api, "copy")
    assert entry["params"]["name"] == "from-body"
    assert entry["params"]["token"] == MASK


def test_a_get_journals_its_query_only(api):
    token = api.token()
    api.client.get(RUNTIMES, query_string={"f": "json", "token": token, "x": "1"})
    (entry,) = journal(api, "runtimes")
    assert entry["params"] == {"f": "json", "token": MASK, "x": "1"}
    assert (entry["method"], entry["path"], entry["code"]) == ("GET", RUNTIMES, None)


def test_control_requests_and_a_journal_turned_off_journal_nothing():
    on = Api(create_app(clock=Clock()))
    on.client.get(f"{CONTROL}/health")
    assert journal(on) == []
    off = Api(create_app(clock=Clock(), journal=False))
    token = off.token()
    off.get("notebooks/runtimes", token)
    off.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    assert journal(off) == []


def test_a_body_too_large_to_read_is_journaled_as_unreadable():
    api = Api(create_app(clock=Clock(), max_body=1024))
    answer = api.client.post(INFO, data={"f": "json", "junk": "x" * 4096})
    assert answer.status_code == 413
    (entry,) = journal(api)
    assert (entry["params"], entry["status"], entry["code"]) == ({"(body)": "unreadable"}, 413, 413)


def test_a_multipart_part_without_a_name_is_journaled_unnamed(api):
    boundary = "nbmockboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nlost\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\njson\r\n'
        f"--{boundary}--\r\n"
    )
    api.client.post(INFO, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    (entry,) = journal(api, "info")
    assert entry["params"] == {"(unnamed)": "lost", "f": "json"}


def test_a_journal_the_state_cannot_take_leaves_the_answer_and_says_so(api, caplog, monkeypatch):
    store = context.of(api.app).store

    def locked(*_args, **_kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(store, "append_journal", locked)
    with caplog.at_level(logging.ERROR, logger="nbmock"):
        answer = api.client.get(INFO, query_string={"f": "json"})
    assert answer.status_code == 200 and "authInfo" in answer.get_json(force=True)
    assert "journal entry not kept: attempt to write a readonly database" in caplog.text


def test_the_journal_s_clock_is_the_deployment_s(api):
    api.client.post(f"{CONTROL}/clock", json={"advance_seconds": 3600})
    now_ms = api.clock.now_ms()
    api.client.get(INFO, query_string={"f": "json"})
    (entry,) = journal(api, "info")
    assert now_ms <= entry["time"] <= now_ms + 60_000


# --- a credential inside a JSON value (journal._masked_json) -------------------------------


def test_a_json_value_with_a_credential_member_is_written_again_masked():
    value = '{"user": "u", "password": "hunter2", "n": 1}'
    kept = masked_params({"podPlacementPolicy": value})["podPlacementPolicy"]
    assert json.loads(kept) == {"user": "u", "password": MASK, "n": 1}


def test_a_json_value_whose_credential_member_is_empty_is_kept_as_sent():
    value = '{ "password" : "",  "n": 1 }'
    assert masked_params({"podPlacementPolicy": value}) == {"podPlacementPolicy": value}


@pytest.mark.parametrize(
    "value",
    [
        '{"password": "hunter2", "cut": ',
        '{"password": hunter2, "cut": ',
        "[" * 1100 + '{"password": "hunter2"}' + "]" * 1100,
    ],
    ids=["cut", "malformed", "too-deep"],
)
def test_a_credential_member_in_text_that_does_not_parse_is_masked_where_it_stands(value):
    kept = masked_params({"policy": value})["policy"]
    assert "hunter2" not in kept
    assert f'"password": "{MASK}"' in kept


# --- the journal keeps an answer as sent only when masking it would change nothing ---------

#: Pieces of text that make a credential, or nearly: the generator joins them with others.
CREDENTIAL_PIECES = (
    "Bearer ", "bearer\t", "token=", "password", "pwd", "code", "WyJ", "wyj", "%3D", "%41",
    "apiKey", "secret", "=", "&", "eyJhbGciOiJIUzI1NiJ9.", "WyJhZG1pbiJd.Zm9vYmFyYmF6cXV4eHl6",
)  # fmt: skip
JSON_TEXT = st.lists(st.sampled_from(CREDENTIAL_PIECES) | st.text(max_size=6), max_size=5).map(
    "".join
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    payload=st.dictionaries(JSON_TEXT, JSON_VALUES, max_size=3) | st.lists(JSON_VALUES, max_size=3)
)
def test_journaling_an_answer_keeps_what_masking_it_whole_keeps(payload):
    data = json.dumps(payload, ensure_ascii=False).encode()
    kept, _envelope = response_json("text/plain", data)
    assert json.loads(kept) == masked_response(payload)
