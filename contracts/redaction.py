"""Keeping tokens and passwords out of everything the kit prints or writes.

Every credential the kit holds or receives is remembered here, and
``redact`` replaces each of them in a text: replies' reprs, failure
messages, reports and command-line errors all pass through it.
"""

from __future__ import annotations

import threading

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Keep ``value`` out of everything ``redact`` touches from now on."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every token and password the kit has seen replaced."""
    with _SECRETS_LOCK:
        known = sorted(_SECRETS, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "<redacted>")
    return text
