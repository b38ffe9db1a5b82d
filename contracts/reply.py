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
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def envelope(self) -> str:
        return envelope(self.json)

    @property
    def code(self) -> int | None:
        return error_code(self.json)

    @property
    def messages(self) -> list[str]:
        return error_messages(self.json)

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 600 else self.text[:600] + "…"
        return redact(f"<Reply {self.method} {self.path} -> HTTP {self.status}: {text}>")

    __str__ = __repr__
