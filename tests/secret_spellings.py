"""Every spelling in which a server or a serialiser may hand a secret back.

Issue 24: a lower-cased, percent-encoded or split token reached
``report.md`` 86-95 times. ``ENCODINGS`` each spell the whole secret;
``WRAPPINGS`` then carry that spelling the way a text around it does (a
JSON string, a URL, a wrapped line). ``leaks`` is the test's oracle: which
of them can still be read in a text.
"""

from __future__ import annotations

import base64
import html
import json
import textwrap
import urllib.parse
from collections.abc import Callable

Spelling = Callable[[str], str]


def _b64(secret: str, prefix: str = "", urlsafe: bool = False) -> str:
    data = (prefix + secret).encode()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()


def _json_escaped_all(secret: str, upper: bool) -> str:
    escaped = "".join(
        f"\\u{unit:04x}"
        for unit in (
            int.from_bytes(secret.encode("utf-16-be")[i : i + 2], "big")
            for i in range(0, len(secret.encode("utf-16-be")), 2)
        )
    )
    return escaped.upper().replace("\\U", "\\u") if upper else escaped


ENCODINGS: dict[str, Spelling] = {
    "verbatim": lambda s: s,
    "lower-cased": str.lower,
    "upper-cased": str.upper,
    "case-swapped": str.swapcase,
    "percent-encoded": lambda s: urllib.parse.quote(s, safe=""),
    "percent-encoded, lower-case hex": lambda s: urllib.parse.quote(s, safe="").lower(),
    "percent-encoded, every byte": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "percent-encoded, every byte, lower-case hex": lambda s: "".join(
        f"%{b:02x}" for b in s.encode()
    ),
    "form-encoded": urllib.parse.quote_plus,
    "percent-encoded twice": lambda s: urllib.parse.quote(urllib.parse.quote(s, safe=""), safe=""),
    "base64": _b64,
    "base64, url-safe, unpadded": lambda s: _b64(s, urlsafe=True).rstrip("="),
    "base64 of user:secret (Basic auth)": lambda s: _b64(s, "admin:"),
    "base64 of u:secret": lambda s: _b64(s, "u:"),
    "base64 of x:secret": lambda s: _b64(s, "x:"),
    "base64, wrapped at 76": lambda s: base64.encodebytes(("p" * 70 + s).encode()).decode(),
    "JSON string": lambda s: json.dumps(s)[1:-1],
    "JSON string, ASCII only": lambda s: json.dumps(s, ensure_ascii=True)[1:-1],
    "JSON \\u escapes, lower-case hex": lambda s: _json_escaped_all(s, upper=False),
    "JSON \\u escapes, upper-case hex": lambda s: _json_escaped_all(s, upper=True),
    "JSON string twice": lambda s: json.dumps(json.dumps(s))[1:-1],
    "HTML-escaped": html.escape,
    "XML character references": lambda s: "".join(f"&#{ord(c)};" for c in s),
}

WRAPPINGS: dict[str, Spelling] = {
    "as is": lambda s: s,
    "upper-cased": str.upper,
    "in a JSON string": lambda s: json.dumps(s)[1:-1],
    "in a URL": lambda s: urllib.parse.quote(s, safe=""),
    "split across lines": lambda s: s[: len(s) // 2] + "\n        " + s[len(s) // 2 :],
    "a space between each character": " ".join,
    "wrapped at 7 columns": lambda s: "\n".join(textwrap.wrap(s, 7, break_on_hyphens=False)) or s,
    "in a repr, split": lambda s: repr(s[:3] + "\n" + s[3:])[1:-1],
}

#: A base64 spelling survives only wrappings that keep its letters' case.
CASE_BLIND = {"upper-cased"}


def spellings(secret: str) -> dict[str, str]:
    """Every encoding of ``secret`` under every wrapping that can carry it."""
    spelled = {}
    for encoding, encode in ENCODINGS.items():
        for wrapping, wrap in WRAPPINGS.items():
            if encoding.startswith("base64") and wrapping in CASE_BLIND:
                continue
            spelled[f"{encoding}, {wrapping}"] = wrap(encode(secret))
    return spelled


def leaks(text: str, spelled: dict[str, str]) -> list[str]:
    """Which of ``spelled`` (from ``spellings``) ``text`` still holds, whitespace aside (the oracle)."""
    squeezed = "".join(text.split())
    folded = squeezed.lower()
    found = []
    for name, spelling in spelled.items():
        needle = "".join(spelling.split())
        if needle and (needle in squeezed or needle.lower() in folded):
            found.append(name)
    return found
