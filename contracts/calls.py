"""The runtime operations as the checks send them, through a ``Target``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.reply import Reply
from contracts.target import Target

RUNTIMES = "notebooks/runtimes"

#: The smallest valid copy form (without a name), for checks about something else.
SIMPLE_COPY = {
    "minCpu": "0.5",
    "maxCpu": "2",
    "minMemory": "1",
    "minMemoryUnit": "g",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}


def copy(
    target: Target,
    source_id: str,
    form: Mapping[str, str],
    *,
    encoding: str = "urlencoded",
    refusal_expected: bool = False,
) -> Reply:
    return _post_form(target, source_id, "copy", form, encoding, refusal_expected)


def copied_runtime(reply: Reply) -> dict[str, Any]:
    """The runtime a successful copy answered with; fails the check with the reply otherwise."""
    body = reply.body
    assert isinstance(body, dict) and isinstance(body.get("notebookRuntime"), dict), (
        f"copy was not accepted: {reply!r}"
    )
    assert body.get("status") == "success", f"copy answer lacks status success: {reply!r}"
    return body["notebookRuntime"]


def update(
    target: Target,
    runtime_id: str,
    form: Mapping[str, str],
    *,
    encoding: str = "urlencoded",
    refusal_expected: bool = False,
) -> Reply:
    return _post_form(target, runtime_id, "update", form, encoding, refusal_expected)


def _post_form(
    target: Target,
    runtime_id: str,
    operation: str,
    form: Mapping[str, str],
    encoding: str,
    refusal_expected: bool,
) -> Reply:
    return target.admin(
        "POST",
        f"{RUNTIMES}/{runtime_id}/{operation}",
        data=form,
        multipart=encoding == "multipart",
        refusal_expected=refusal_expected,
    )


def unregister(target: Target, runtime_id: str) -> Reply:
    return target.admin("POST", f"{RUNTIMES}/{runtime_id}/unregister")


def read(target: Target, runtime_id: str) -> Reply:
    return target.admin("GET", f"{RUNTIMES}/{runtime_id}")


def assert_refused(reply: Reply, code: int = 400) -> None:
    assert reply.envelope == "admin-error", f"expected a refusal (code {code}), got {reply!r}"
    assert reply.code == code, f"expected code {code}, got {reply!r}"
