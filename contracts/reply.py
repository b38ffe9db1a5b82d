"""An ArcGIS answer as the kit reads it, and the one rule that names its envelope.

ArcGIS refuses with HTTP 200 and an error in the body, in one of two
envelopes: the Administrator API's ``{"status": "error", "messages": [...],
"code": N}`` and the Portal's ``{"error": {"code", "message", "details"}}``
(docs/FIDELITY.md W4-W6). ``envelope`` is the kit's only reading of which one
an answer is: the checks (through ``Reply``), ``--compare`` and the
Schemathesis hooks all call it. The emulator keeps its own reading; the kit
never imports the emulator to judge it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.redaction import redact

#: Deeper than any ArcGIS answer: a deeper one is refused before the kit walks it.
MAX_JSON_DEPTH = 64
ADMIN_ERROR = "admin-error"
PORTAL_ERROR = "portal-error"
SUCCESS = "success"
RESOURCE = "resource"
NOT_JSON = "not-json"
ERRORS = frozenset({ADMIN_ERROR, PORTAL_ERROR})


def envelope(body: Any) -> str:
    """``admin-error``, ``portal-error``, ``success``, ``resource`` or ``not-json``."""
    if not isinstance(body, Mapping):
        return NOT_JSON
    if body.get("status") == "error":
        return ADMIN_ERROR
    if isinstance(body.get("error"), Mapping):
        return PORTAL_ERROR
    if body.get("status") == "success":
        return SUCCESS
    return RESOURCE


def error_code(body: Any) -> int | None:
    """The ArcGIS error code inside either error envelope (not the HTTP status); else None."""
    kind = envelope(body)
    if kind == ADMIN_ERROR:
        return body.get("code")
    if kind == PORTAL_ERROR:
        return body["error"].get("code")
    return None


def error_messages(body: Any) -> list[str]:
    """The messages of an error envelope: the admin ``messages``, or the Portal message and details."""
    kind = envelope(body)
    if kind == ADMIN_ERROR:
        return list(body.get("messages") or [])
    if kind == PORTAL_ERROR:
        error = body["error"]
        return [error.get("message", ""), *(error.get("details") or [])]
    return []


class NotJson(AssertionError):
    """An answer the kit cannot read as JSON: the check fails with why, the kit does not error.

    An ``AssertionError``, so pytest reports the check as failed (not as an
    error in the kit) and Hypothesis shrinks it like any other failure.
    """


def parse_json(text: str) -> Any:
    """``text`` as strict JSON, or ``NotJson`` saying why not.

    Strict: no ``NaN``/``Infinity`` (Python accepts them, JSON does not), no
    lone surrogate (it would break every later write of the text as UTF-8),
    no nesting deeper than ``MAX_JSON_DEPTH`` (the checks walk answers
    recursively), and no number too long to convert.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise NotJson(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        # JSONDecodeError, an integer beyond Python's digit limit, NaN or Infinity.
        raise NotJson(str(error)[:200]) from None
    problem = _unreadable_part(value)
    if problem:
        raise NotJson(problem)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _unreadable_part(value: Any) -> str | None:
    """Why a parsed value is one the kit will not carry, walking it without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                return "a string holds a lone surrogate (\\ud800-\\udfff), which no UTF-8 text can carry"
        elif isinstance(item, dict):
            pending.extend((key, depth + 1) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass
class Reply:
    """One HTTP answer, parsed the way ArcGIS answers are read."""

    status: int
    headers: Mapping[str, str]
    text: str
    method: str = ""
    path: str = ""
    raw: Any = field(default=None, repr=False, compare=False)  # the requests.Response

    @property
    def json(self) -> Any:
        """The answer's JSON; an answer that is not JSON fails the check (``NotJson``)."""
        try:
            return parse_json(self.text)
        except NotJson as error:
            raise NotJson(f"the answer is not JSON: {error}: {self!r}") from None

    @property
    def body(self) -> Any:
        """The answer's JSON, or None when it is not JSON: for code that reads any answer."""
        try:
            return parse_json(self.text)
        except NotJson:
            return None

    @property
    def envelope(self) -> str:
        return envelope(self.body)

    @property
    def code(self) -> int | None:
        return error_code(self.body)

    @property
    def messages(self) -> list[str]:
        return error_messages(self.body)

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 600 else self.text[:600] + "…"
        return redact(f"<Reply {self.method} {self.path} -> HTTP {self.status}: {text}>")

    __str__ = __repr__
