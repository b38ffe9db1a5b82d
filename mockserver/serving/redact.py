"""Masking credentials in free text: request lines, paths and log messages.

The journal masks parameters by name (mockserver.control.journal). Text that
is not split into parameters can still carry a credential: a client that typed
``&`` for ``?`` puts ``token=...`` in the path, and a server refusing a
malformed request line logs the line whole. ``redact`` masks both shapes: a
``name=value`` pair whose name is a credential's, and anything shaped like a
token this emulator issues.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

#: ``token=``, ``password=``, ``pwd=``, ``client_secret=``... in a query string,
#: a path or a form body, percent-encoded names included (``%74oken`` is rare enough
#: to leave out: a client that encodes names also puts them in the right place).
_SECRET_PAIR = re.compile(
    r"(?i)((?:^|[?&;/\s\"'])[\w.\-]*?(?:token|passw(?:or)?d|pwd|passphrase|secret"
    r"|credential|authorization|api_?key)s?(?:=|%3D))[^&\s\"']*"
)
#: A token this emulator issues (itsdangerous: base64 JSON list ``WyJ...`` + signature).
_TOKEN_SHAPE = re.compile(r"WyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
#: ``Authorization: Bearer x`` and the like, as a server may log a bad header.
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
#: What each of the three shapes above must contain: most text (every access line of a
#: request without credentials in its path) has none of it, and is passed by one search.
_MAY_HOLD_A_SECRET = re.compile(r"(?i)=|%3D|bearer|WyJ")


def carries_token(text: str) -> bool:
    """Whether ``text`` holds something shaped like a token this emulator issues."""
    return "WyJ" in text and _TOKEN_SHAPE.search(text) is not None


def redact(text: str) -> str:
    """``text`` with every credential it may carry replaced by ``***``."""
    if not text or not _MAY_HOLD_A_SECRET.search(text):
        return text
    text = _SECRET_PAIR.sub(lambda match: match.group(1) + MASK, text)
    text = _BEARER.sub(lambda match: match.group(1) + MASK, text)
    return _TOKEN_SHAPE.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Masks credentials in every record of the logger it is added to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_loggers(*names: str) -> None:
    """Add one ``RedactingFilter`` to each named logger (once, however often called)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(RedactingFilter())
