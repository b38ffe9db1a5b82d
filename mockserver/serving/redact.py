"""Masking credentials in free text: request lines, paths and log messages.

The journal masks parameters by name (mockserver.control.journal). Text that
is not split into parameters can still carry a credential: a client that typed
``&`` for ``?`` puts ``token=...`` in the path, and a server refusing a
malformed request line logs the line whole. ``redact`` masks both shapes: a
``name=value`` pair whose name is a credential's, and anything shaped like a
token this emulator issues, in any case (a lower-cased token is one guess per
letter from the live one) and however often percent-encoded beyond the
server's one decoding.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from collections.abc import Sequence
from urllib.parse import unquote

MASK = "***"

#: ``token=``, ``password=``, ``pwd=``, ``client_secret=``... in a query string,
#: a path or a form body, percent-encoded names included (``%74oken`` is rare enough
#: to leave out: a client that encodes names also puts them in the right place).
_SECRET_PAIR = re.compile(
    r"(?i)((?:^|[?&;/\s\"'])[\w.\-]*?(?:token|passw(?:or)?d|pwd|passphrase|secret"
    r"|credential|authorization|api_?key)s?(?:=|%3D))[^&\s\"']+"
)
#: A token this emulator issues (itsdangerous: base64 JSON list ``WyJ...`` + signature),
#: in any case (spelt out: a case-blind pattern costs three times as much).
_TOKEN_SHAPE = re.compile(r"[Ww][Yy][Jj][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
#: ``Authorization: Bearer x`` and the like, as a server may log a bad header.
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
#: Percent-encoded text (at least one escape), as far as it runs: a credential may be
#: spelt in it byte by byte, encoded once or more beyond what the server decoded.
_ENCODED_RUN = re.compile(r"[\w.~+-]*(?:%[0-9A-Fa-f]{2}[\w.~+-]*)+")
#: Decodings tried on an encoded run: a client that encodes more often than this
#: sends nothing a server would read as a credential.
MAX_DECODINGS = 4
#: What each of the shapes above must contain: most text (every access line of a
#: request without credentials in its path) has none of it, and is passed by one search.
_MAY_HOLD_A_SECRET = re.compile(r"(?i)=|%|bearer|WyJ")


def carries_token(text: str) -> bool:
    """Whether ``text`` holds something shaped like a token this emulator issues, as issued."""
    return "WyJ" in text and _TOKEN_SHAPE.search(text) is not None


def redact(text: str) -> str:
    """``text`` with every credential it may carry replaced by ``***``."""
    if not text or not _MAY_HOLD_A_SECRET.search(text):
        return text
    text = _masked_as_written(text)
    if "%" in text:
        text = _ENCODED_RUN.sub(_masked_run, text)
    return text


def _masked_as_written(text: str) -> str:
    text = _SECRET_PAIR.sub(lambda match: match.group(1) + MASK, text)
    text = _BEARER.sub(lambda match: match.group(1) + MASK, text)
    return _TOKEN_SHAPE.sub(MASK, text)


def _masked_run(match: re.Match) -> str:
    """An encoded run whole, or ``***`` if any of its decodings carries a credential."""
    run = decoded = match.group(0)
    for _ in range(MAX_DECODINGS):
        decoded, before = unquote(decoded, errors="replace"), decoded
        if decoded == before:
            break
        if _masked_as_written(decoded) != decoded:
            return MASK
    return run


def spread_credentials(pieces: Sequence[str]) -> set[int]:
    """The indices of ``pieces`` that a token spans when they are read one after
    another: a token spread over two parameters is a credential in neither alone."""
    joined = "".join(pieces)
    spans = [match.span() for match in _TOKEN_SHAPE.finditer(joined)]
    if "%" in joined:
        spans += [m.span() for m in _ENCODED_RUN.finditer(joined) if _masked_run(m) == MASK]
    if not spans:
        return set()
    ends = list(itertools.accumulate(len(piece) for piece in pieces))
    spread: set[int] = set()
    for start, end in spans:
        first, last = bisect.bisect_right(ends, start), bisect.bisect_left(ends, end)
        # A match runs on into the next piece when a token ends one (its signature's
        # letters go on): a piece that holds a credential whole is masked on its own.
        if first != last and not any(_carries_alone(pieces[i]) for i in range(first, last + 1)):
            spread.update(range(first, last + 1))
    return spread


def _carries_alone(piece: str) -> bool:
    if _TOKEN_SHAPE.search(piece):
        return True
    return "%" in piece and any(_masked_run(m) == MASK for m in _ENCODED_RUN.finditer(piece))


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
