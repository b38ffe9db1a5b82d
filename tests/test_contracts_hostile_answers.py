"""The kit against answers no conforming server sends: each fails the check with why, never errors.

Issue 24: deep JSON gave 174 ``RecursionError`` test errors. Whatever a
server answers, reading it as JSON either gives a value or fails the check
with "the answer is not JSON: ..." (an ``AssertionError``): no other
exception comes out of the kit.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import calls
from contracts.reply import MAX_JSON_DEPTH, NotJson, Reply
from contracts.target import Credentials, Target
from tests.hostile_answers import ORIGIN, canned_session
from tests.kit_servers import HostileServer, answering
from tests.test_contracts_hostile_servers import run_verify


def deep_nesting() -> st.SearchStrategy[bytes]:
    """Arrays, objects or both, nested past the kit's depth and past Python's recursion limit."""
    return st.builds(
        lambda depth, opener, inner: (opener * depth + inner + _closer(opener) * depth).encode(),
        st.one_of(st.integers(MAX_JSON_DEPTH + 1, 3000), st.sampled_from([20_000, 200_000])),
        st.sampled_from(["[", '{"a":']),
        st.sampled_from(["1", "[]", "{}", '"x"']),
    )


def _closer(opener: str) -> str:
    return "]" if opener == "[" else "}"


def huge_numbers() -> st.SearchStrategy[bytes]:
    digits = st.integers(4301, 50_000).map(lambda n: "9" * n)
    exponents = st.integers(309, 10**6).map(lambda e: f"1e{e}")
    return st.one_of(digits, exponents, st.just("-1e-99999")).map(
        lambda number: f'{{"maxCpu": {number}, "runtimes": [{number}]}}'.encode()
    )


def lone_surrogates() -> st.SearchStrategy[bytes]:
    surrogate = st.integers(0xD800, 0xDFFF).map(lambda point: f"\\u{point:04x}")
    return st.builds(
        lambda escape, where: (
            f'{{"{escape}": 1}}' if where == "key" else f'{{"runtimes": [{{"id": "x{escape}"}}]}}'
        ).encode(),
        surrogate,
        st.sampled_from(["key", "value"]),
    )


def not_json_at_all() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(
            [
                b"",
                b"NaN",
                b'{"maxCpu": Infinity}',
                b"[-Infinity]",
                b"\xef\xbb\xbf{}",  # a byte-order mark
                b"<html><body>Sign in</body></html>",
                b'{"runtimes": [',
                b"\xff\xfe\x00{",
                b'{"a": "\xc3"}',  # a cut UTF-8 sequence
            ]
        ),
        st.binary(max_size=64),
    )


def hostile_answers() -> st.SearchStrategy[tuple[bytes, str]]:
    """(body, Content-Type): deep, huge, surrogate or broken bodies under right and wrong types."""
    content_types = st.sampled_from(
        [
            "text/plain;charset=utf-8",
            "application/json",
            "text/html",
            "application/octet-stream",
            "application/json;charset=no-such-charset",
            "text/plain;charset=utf-16",
            "image/png",
        ]
    )
    bodies = st.one_of(deep_nesting(), huge_numbers(), lone_surrogates(), not_json_at_all())
    return st.tuples(bodies, content_types)


def hostile_target(body: bytes, content_type: str) -> Target:
    return Target(
        canned_session(body, content_type),
        f"{ORIGIN}/arcgis",
        Credentials(token="hostile-kit-token"),
        allow_writes=True,
    )


def _not_json_or_value(read) -> None:
    """``read()`` gives a value or fails with "the answer is not JSON"; nothing else escapes."""
    try:
        read()
    except NotJson as failure:
        assert "the answer is not JSON" in str(failure)
        assert isinstance(failure, AssertionError)


@settings(max_examples=150, deadline=None)
@given(hostile_answers())
def test_a_hostile_answer_reads_as_json_or_fails_the_check_with_why(answer):
    body, content_type = answer
    reply = hostile_target(body, content_type).admin("GET", "notebooks/runtimes")
    _not_json_or_value(lambda: reply.json)
    # What reads any answer (envelope, code, messages, repr) never raises.
    assert reply.envelope in {"admin-error", "portal-error", "success", "resource", "not-json"}
    reply.code, reply.messages, repr(reply)  # noqa: B018


@settings(max_examples=60, deadline=None)
@given(hostile_answers())
def test_a_hostile_answer_to_a_check_is_a_failure_never_an_error(answer):
    """The checks and the fixtures' calls through the kit fail (AssertionError) on such answers."""
    body, content_type = answer
    target = hostile_target(body, content_type)
    for step in (
        target.runtimes,
        lambda: calls.copied_runtime(calls.read(target, "x")),
        lambda: target.admin("GET", "").json["fullVersion"],
    ):
        try:
            step()
        except AssertionError:
            pass
        except (KeyError, TypeError, IndexError) as error:
            # JSON (in the answer's declared charset) of the wrong shape: the check's own business.
            is_json = target.admin("GET", "").body is not None
            assert is_json, f"{type(error).__name__} on a non-JSON answer: {error}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
def test_deep_json_is_not_json_with_the_depth_named(depth):
    reply = Reply(200, {}, "[" * depth + "]" * depth, "GET", "notebooks/runtimes")
    with pytest.raises(
        NotJson, match=f"the answer is not JSON: nested deeper than {MAX_JSON_DEPTH}"
    ):
        reply.json  # noqa: B018
    assert reply.body is None and reply.envelope == "not-json"


def test_json_within_the_depth_reads_as_before():
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert Reply(200, {}, nested).json is not None
    assert Reply(200, {}, '{"status": "success"}').json == {"status": "success"}


def test_verify_against_deep_json_fails_checks_and_errors_none():
    """Through ``nbmock verify``: each answer nested deeper (arrays, objects), in turn.

    Issue 24 saw 174 ``RecursionError`` test errors; each check must fail with
    why, and none error.
    """
    depths = [MAX_JSON_DEPTH + 1, 1_000, 5_000, 50_000, 200_000]
    bodies = [
        (opener * depth + "1" + _closer(opener) * depth).encode()
        for depth in depths
        for opener in ("[", '{"a":')
    ]
    with HostileServer(answering(bodies)) as server:
        code, output, _ = run_verify("--target", server.base, "--request-deadline", "20")
        answered = len(server.requests)
    summary = output.strip().splitlines()[-1]
    assert code == 1, output[-3000:]
    assert answered >= len(bodies), f"only {answered} of {len(bodies)} depths were answered"
    assert " failed" in summary and "error" not in summary, summary
    assert "RecursionError" not in output and "Traceback" not in output, output[-3000:]
    assert f"the answer is not JSON: nested deeper than {MAX_JSON_DEPTH} levels" in output


@settings(max_examples=40, deadline=None)
@given(st.one_of(deep_nesting(), huge_numbers(), lone_surrogates(), not_json_at_all()))
def test_the_schema_checks_read_hostile_answers_as_not_json_too(body):
    """The Schemathesis checks' deserializer is the same strict reading: a value or NotJson."""
    from types import SimpleNamespace

    from contracts.test_openapi_contract import _arcgis_json

    _not_json_or_value(lambda: _arcgis_json(None, SimpleNamespace(content=body)))
