"""One request as the kit sends it: its answer read whole, within a size cap.

A server the kit checks may be hostile. ``requests`` buffers a whole
answer, however large (a 200 MB answer took 914 MB of memory). So the kit
streams each answer and stops at ``max_bytes`` (``AnswerTooLarge``, an
``AssertionError``: the check that asked fails, saying why).
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3

#: Enough for any ArcGIS answer the checks read (a listing, a manifest), far below a flood.
DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024
#: Each read of the connection; a real deployment answers these calls in seconds.
DEFAULT_DEADLINE_SECONDS = 60.0
_CHUNK = 64 * 1024


class AnswerTooLarge(AssertionError):
    """The answer is larger than the kit reads; it stopped reading and closed the connection."""


def fetch(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    deadline: float = DEFAULT_DEADLINE_SECONDS,
    max_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    **send: Any,
) -> requests.Response:
    """Send one request and read its whole answer into ``response.content``, within the cap.

    ``what`` names the request in the failures (never its URL, which may
    carry a token). Errors of the connection are ``requests``' own.
    """
    response = session.request(method, url, stream=True, timeout=deadline, **send)
    try:
        response._content = _read_capped(response, what, max_bytes)
    except urllib3.exceptions.HTTPError as error:  # what requests' own reading would wrap
        raise requests.ConnectionError(str(error)) from None
    finally:
        response.close()
    response._content_consumed = True
    return response


def _read_capped(response: requests.Response, what: str, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(_too_large(what, max_bytes, f"it declares {declared} bytes"))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.raw.stream(_CHUNK, decode_content=True):
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(_too_large(what, max_bytes, "it went on past that"))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, max_bytes: int, why: str) -> str:
    return (
        f"the answer to {what} is larger than the kit reads ({max_bytes} bytes): {why}; "
        "the kit stopped reading and closed the connection"
    )
