"""Tokens and privileges (ledger T4, T5, T7, T9-T12, T16) on every runtime operation."""

from __future__ import annotations

import pytest

from contracts import calls
from contracts.expectations import NOTEBOOK_PRIVILEGE_ALONE_SUFFICES, TOKEN_REQUIRED
from contracts.reply import Reply
from contracts.target import Credentials, Target


def test_token_without_client_is_usable_from_caller(target: Target, credentials) -> None:
    """T4: a token asked for without ``client``, ``referer`` or ``ip`` works for its caller."""
    token = target.generate_token(
        credentials.username, credentials.password, client=None, referer=None
    )
    reply = target.admin("GET", calls.RUNTIMES, token=token)
    assert reply.envelope == "resource", reply


def test_referer_bound_token_refused_elsewhere(target: Target) -> None:
    """T5: the kit's token, bound to its referer, is refused with another ``Referer``."""
    if target.credentials.token:
        pytest.skip("the run uses a given token, whose binding the kit does not know")
    reply = target.admin("GET", calls.RUNTIMES, headers={"Referer": "https://elsewhere.example"})
    calls.assert_refused(reply, 498)


def test_query_token_on_post_is_missing(target: Target) -> None:
    """T7: a token only in a POST's query string counts as no token (499)."""
    runtime_id = target.made_up_id()
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/{runtime_id}/unregister",
        token_in="query",
        refusal_expected=True,
    )
    calls.assert_refused(reply, 499)


def test_expired_token_is_498(target: Target, expired_token: str) -> None:
    """T10: an expired token is refused with code 498 and the one message "Token Expired."."""
    reply = target.admin("GET", calls.RUNTIMES, token=expired_token)
    calls.assert_refused(reply, 498)
    assert reply.messages == ["Token Expired."], reply


def test_token_without_privilege_is_403(target: Target, limited_token: str) -> None:
    """T12: a valid token of a user without the notebook privileges gets code 403."""
    reply = target.admin("GET", calls.RUNTIMES, token=limited_token)
    calls.assert_refused(reply, 403)


OPERATIONS = ["root", "notebooks", "list", "read", "manifest", "copy", "update", "unregister"]
CREDENTIALS = {"missing": 499, "invalid": 498, "expired": 498, "unprivileged": 403}


def _send(target: Target, operation: str, source_id: str, token) -> Reply:
    if operation == "root":
        return target.admin("GET", "", token=token)
    if operation == "notebooks":
        return target.admin("GET", "notebooks", token=token)
    if operation == "list":
        return target.admin("GET", calls.RUNTIMES, token=token)
    if operation == "read":
        return target.admin("GET", f"{calls.RUNTIMES}/{source_id}", token=token)
    if operation == "manifest":
        return target.admin("GET", f"{calls.RUNTIMES}/{source_id}/manifest", token=token)
    if operation == "copy":
        form = {
            "name": target.name("refused-token"),
            "minCpu": "1",
            "maxCpu": "1",
            "minMemory": "1",
            "minMemoryUnit": "g",
            "maxMemory": "1",
            "maxMemoryUnit": "g",
        }
        return target.admin(
            "POST",
            f"{calls.RUNTIMES}/{source_id}/copy",
            data=form,
            token=token,
            refusal_expected=True,
        )
    form = {"maxCpu": "1", "maxMemory": "1", "maxMemoryUnit": "g"} if operation == "update" else {}
    return target.admin(
        "POST",
        f"{calls.RUNTIMES}/{target.made_up_id()}/{operation}",
        data=form,
        token=token,
        refusal_expected=True,
    )


@pytest.mark.flavour("kubernetes")
@pytest.mark.parametrize("credential", list(CREDENTIALS))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_refuses_missing_invalid_expired_and_unprivileged_tokens(
    target: Target,
    source_runtime: dict,
    request: pytest.FixtureRequest,
    operation: str,
    credential: str,
) -> None:
    """T9, T10, T12: no token 499, a bad or expired one 498, one without privileges 403."""
    if credential == "missing":
        token = None
    elif credential == "invalid":
        token = "not-a-token-" + "x" * 20
    elif credential == "expired":
        token = request.getfixturevalue("expired_token")
    else:
        token = request.getfixturevalue("limited_token")
    reply = _send(target, operation, source_runtime["id"], token)
    calls.assert_refused(reply, CREDENTIALS[credential])
    if credential == "missing":
        assert reply.messages == [TOKEN_REQUIRED], reply


def test_undecryptable_token_is_498(target: Target) -> None:
    """T16: a token the server never issued: code 498 "Could not decrypt token. Token may not be valid."."""
    reply = target.admin("GET", calls.RUNTIMES, token="not-a-token-" + "z" * 20)
    calls.assert_refused(reply, 498)
    assert reply.messages == ["Could not decrypt token. Token may not be valid."], reply


@pytest.mark.flavour("kubernetes")
def test_notebook_access_follows_the_release(target: Target, notebook_user: Credentials) -> None:
    """T11: "Create and edit notebooks" without an admin privilege lists runtimes on 11.4; later
    releases refuse it with code 403. The in-process emulator also asks an 11.4 sibling."""
    probes = [target]
    if target.can_make_siblings and _release(target) not in NOTEBOOK_PRIVILEGE_ALONE_SUFFICES:
        probes.append(target.sibling("11.4"))
    for probe in probes:
        token = probe.generate_token(notebook_user.username, notebook_user.password)
        reply = probe.admin("GET", calls.RUNTIMES, token=token)
        if _release(probe) in NOTEBOOK_PRIVILEGE_ALONE_SUFFICES:
            assert reply.envelope == "resource", reply
        else:
            calls.assert_refused(reply, 403)


def _release(target: Target) -> str:
    """``12.1`` for ``fullVersion`` ``12.1.0`` (``currentVersion`` is a number, A1)."""
    return target.admin("GET", "").json["fullVersion"].rsplit(".", 1)[0]
