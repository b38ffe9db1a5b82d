"""The request journal: what each client sent and what it got back, secrets masked.

An integration test reads it to assert what its client sent (WireMock's
request journal). Tokens, passwords and other credentials are replaced by
``MASK`` before anything is stored, so the journal can be shown in a CI log.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from mockserver.serving.redact import redact, spread_credentials

MASK = "***"

#: Parameter or response keys whose values are credentials (``token``,
#: ``password``, ``pwd``, ``passwd``, ``access_token``, ``newPassword``,
#: ``client_secret``, ``apiKey``, OAuth ``code``), but not ``tokenServicesUrl``
#: or ``isTokenBasedSecurity``.
SECRET_KEY = re.compile(
    r"(token|passw(or)?d|pwd|passphrase|secret|credential|authorization|api_?key)s?$|^code$",
    re.IGNORECASE,
)
#: Keys a response may hold that look like credentials but are not: the ArcGIS
#: error ``code`` must stay visible.
RESPONSE_KEEP = frozenset({"code"})
#: Answers that may hold JSON: ArcGIS labels its JSON ``text/plain`` (wire.JSON_CONTENT_TYPE),
#: the control plane answers ``application/json``; a text/plain body that is not JSON is skipped.
JSON_MIMETYPES = frozenset({"text/plain", "application/json"})
#: Responses larger than this are journaled without their body (``responseBytes``
#: says how large it was). A list of some hundred runtimes still fits.
MAX_RESPONSE_BYTES = 64 * 1024

#: The bounds of one entry: anyone can send a megabyte of junk to an emulated
#: operation, and it must not reach the journal whole. A parameter value is cut to
#: MAX_VALUE_CHARS (room for a realistic podPlacementPolicy), the path and the
#: parameter names to MAX_NAME_CHARS, and at most MAX_PARAMS parameters are kept;
#: every cut ends with CUT_MARKER and says how much was dropped.
MAX_VALUE_CHARS = 4096
MAX_NAME_CHARS = 256
MAX_PARAMS = 64
CUT_MARKER = "…[cut {count} characters]"
#: The bounds of the whole journal: its newest entries, at most this many and this
#: many bytes (entries are at most about 320 KiB each, so at least 25 always fit).
MAX_ENTRIES = 10_000
MAX_BYTES = 8 * 1024 * 1024


def masked_params(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters to journal: credentials masked, every part within the entry bounds."""
    # One search over every value at once passes the plain parameters nearly every
    # request sends; then only names can need masking. Joined as they are: a token
    # spread over two values ("W", "yJ...") must still be seen.
    joined = "".join(params.values())
    if (
        len(params) <= MAX_PARAMS
        and not _CREDENTIAL_HINT.search(joined)
        and not _holds_json_secret(joined)
    ):
        return {
            cut(key if key.isidentifier() else _masked_text(key), MAX_NAME_CHARS): MASK
            if _is_secret_key(key)
            else cut(value, MAX_VALUE_CHARS)
            for key, value in params.items()
        }
    return masked_params_one_by_one(params)


def masked_params_one_by_one(params: Mapping[str, str]) -> dict[str, str]:
    """``masked_params`` searching each value apart: the reference its fast path must equal."""
    kept: dict[str, str] = {}
    spread = spread_credentials(list(params.values()))
    for index, (key, value) in enumerate(params.items()):
        if index == MAX_PARAMS:
            kept["(more)"] = f"{len(params) - MAX_PARAMS} parameters not kept"
            break
        # Names are nearly always identifiers (maxCpu, f), which hold no credential.
        name = cut(key if key.isidentifier() else _masked_text(key), MAX_NAME_CHARS)
        if _is_secret_key(key) or index in spread:
            kept[name] = MASK
        else:
            kept[name] = cut(_masked_text(value), MAX_VALUE_CHARS)
    return kept


#: What a text holding a credential must contain: a token this emulator issues starts
#: ``WyJ`` in some case (serving/redact.py), a ``name=value`` pair has ``=`` (or ``%3D``),
#: a header ``bearer``, anything percent-encoded beyond the server's decoding ``%``.
_CREDENTIAL_HINT = re.compile(r"[Ww][Yy][Jj]|=|%|[Bb][Ee][Aa][Rr][Ee][Rr]")


#: A JSON member whose name is a credential's (``customResources={"password": ...}``).
_JSON_SECRET_MEMBER = re.compile(
    r'(?i)"[^"]*(token|passw(or)?d|pwd|passphrase|secret|credential|authorization|api_?key)s?'
    r'\\?"\s*:'  # \" too: JSON written inside a JSON string
)


#: The same member with its value, in text that is not JSON as a whole (cut, or malformed).
_JSON_SECRET_VALUE = re.compile(
    r'(?i)("[^"]*(?:token|passw(?:or)?d|pwd|passphrase|secret|credential|authorization'
    r'|api_?key)s?"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)'
)


def _holds_json_secret(text: str) -> bool:
    return "{" in text and _JSON_SECRET_MEMBER.search(text) is not None


def _masked_text(text: str) -> str:
    """``text`` with any credential it carries masked, whatever the parameter's name:
    ``x=<token>``, ``token%00=<token>``, ``redirect=https://...?token=<token>``, and a
    JSON value's credential-named members (``{"password": ...}``).

    By value, because a name is whatever the client typed; one search for the hints
    skips the regular expressions for the plain values nearly every request sends.
    """
    if _holds_json_secret(text):
        text = _masked_json(text)
    if _CREDENTIAL_HINT.search(text) is None:
        return text
    return redact(text)


def _masked_json(text: str) -> str:
    """A JSON text with its credential-named members masked, written again (nothing to mask:
    as it stands); text that is not JSON with the value after each such member masked."""
    try:
        payload = json.loads(text)
        masked = masked_response(payload)
    except (ValueError, RecursionError):
        return _JSON_SECRET_VALUE.sub(lambda match: f'{match.group(1)}"{MASK}"', text)
    return text if masked == payload else _ENCODER.encode(masked)


def cut(text: str, limit: int) -> str:
    """``text`` if it is at most ``limit`` characters, else its start and the cut marker."""
    if len(text) <= limit:
        return text
    return text[:limit] + CUT_MARKER.format(count=len(text) - limit)


def _is_secret_key(key: str) -> bool:
    # Clients send the same few names on every request: remember the short ones
    # (the search costs more than the rest of the masking), never a huge one.
    return _is_short_secret_key(key) if len(key) <= 64 else _secret_name(key)


@functools.lru_cache(maxsize=1024)
def _is_short_secret_key(key: str) -> bool:
    return _secret_name(key)


#: What a name may carry around its word that a server still reads as the name: ``token\x00``,
#: ``token[]``, `` token ``, ``password;`` (PHP, Rails and some proxies strip them).
_NAME_DECORATION = re.compile(r"[^0-9A-Za-z_]+")


def _secret_name(key: str) -> bool:
    return (
        SECRET_KEY.search(key) is not None
        or SECRET_KEY.search(_NAME_DECORATION.sub("", key)) is not None
    )


def masked_response(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {
            key: MASK
            if key not in RESPONSE_KEEP and SECRET_KEY.search(key) and value not in (None, "")
            else masked_response(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [masked_response(item) for item in payload]
    if isinstance(payload, str):
        return _masked_text(payload)  # a token echoed under any key, or inside a message
    return payload


def response_json(mimetype: str | None, data: bytes) -> tuple[str | None, Any]:
    """(the JSON answer as text to keep, its error envelope parsed if it is one).

    Most answers are kept verbatim: parsing and re-writing every runtime list
    would cost more than the rest of the request. Only an answer that may
    carry a credential is parsed, masked and written again.
    """
    if mimetype not in JSON_MIMETYPES or len(data) > MAX_RESPONSE_BYTES:
        return None, None
    text = data.decode("utf-8", errors="replace").strip()
    if not text.startswith(("{", "[")):
        return None, None
    head = text[:32]
    is_error = head.startswith('{"status": "error"') or head.startswith('{"error"')
    if not (is_error or "WyJ" in text or _may_hold_secret(text)):
        return text, None
    try:
        payload = json.loads(text)
    except ValueError:
        return None, None
    return _ENCODER.encode(masked_response(payload)), payload


#: Every word SECRET_KEY matches in a response's keys (``code`` aside: RESPONSE_KEEP keeps
#: it); ``wyj``: a token echoed in any case; ``%``: one echoed percent-encoded; ``bearer``:
#: ``Bearer x`` in a string, which ``_masked_text`` masks: an answer without any of these
#: is kept as masking it whole would keep it.
_SECRET_WORDS = (
    "token", "passw", "pwd", "passphrase", "secret", "credential", "authorization",
    "apikey", "api_key", "wyj", "%", "bearer",
)  # fmt: skip
_MAY_HOLD_SECRET = re.compile("|".join(map(re.escape, _SECRET_WORDS)), re.IGNORECASE)


def _may_hold_secret(text: str) -> bool:
    """``_MAY_HOLD_SECRET.search(text)``, a tenth of the cost on ASCII text (nearly every
    answer): there, ignoring case is lower-casing, and ``in`` beats a case-blind scan."""
    if text.isascii():
        lowered = text.lower()
        return any(word in lowered for word in _SECRET_WORDS)
    return _MAY_HOLD_SECRET.search(text) is not None


#: ``json.dumps(..., ensure_ascii=False)`` builds an encoder on every call; this one is built once.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def entry_text(entry: dict[str, Any], response_text: str | None) -> str:
    """The entry as JSON, the answer's own JSON text spliced in without a parse."""
    fields = _ENCODER.encode(entry)
    return f'{fields[:-1]}, "response": {response_text or "null"}}}'


def arcgis_code(payload: Any) -> int | None:
    """The ArcGIS error code inside either envelope, if the answer is an error."""
    if not isinstance(payload, dict):
        return None
    if payload.get("status") == "error" and isinstance(payload.get("code"), int):
        return payload["code"]
    error = payload.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return error["code"]
    return None
