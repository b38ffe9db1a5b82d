"""Keeping tokens and passwords out of everything the kit prints or writes.

Every credential the kit holds or receives is remembered here, and
``redact`` replaces each of them in a text: replies' reprs, failure
messages, reports and command-line errors all pass through it.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote, quote_plus

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Keep ``value`` out of everything ``redact`` touches from now on."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def _spellings(secret: str) -> set[str]:
    """How a secret may show in a text: as is, percent-encoded in a URL or a form, and
    escaped inside a JSON string (a password with a quote or a backslash in it)."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def redact(text: str) -> str:
    """``text`` with every token and password the kit has seen replaced, however spelled."""
    with _SECRETS_LOCK:
        known = sorted(
            {spelling for secret in _SECRETS for spelling in _spellings(secret)},
            key=len,
            reverse=True,
        )
    for secret in known:
        text = text.replace(secret, "<redacted>")
    return text
