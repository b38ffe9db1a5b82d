"""Through a real ``nbmock serve``: gunicorn's own refusals are ``nosniff`` and quote no token.

A request gunicorn's parser refuses never reaches the app, so the app's headers
(mockserver.web.browser) never reached it either: its HTML page went out without
``X-Content-Type-Options``, quoting the refused line or header whole, token and all.
Every kind of malformed request gunicorn refuses is enumerated here, each with a
live token where gunicorn would quote it; the framings the app refuses itself
(a bad chunk) are kept beside them, so every refusal is held to the same rule.
"""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import pytest

from mockserver.testing import running
from tests.nbmock_process import NbmockProcess
from tests.secret_spellings import leaks, spellings

HOST = "Host: 127.0.0.1\r\n"
CHUNKED = "Transfer-Encoding: chunked\r\n"
GENERATE = "/arcgis/sharing/rest/generateToken"

#: (the status it gets, the request with the token ``T`` where the refusal may quote it).
MALFORMED = {
    "request line without a version": (400, "GARBAGE /x?token={T}\r\n" + HOST + "\r\n"),
    "request line with a space in the target": (
        400,
        "GET /x y?token={T} HTTP/1.1\r\n" + HOST + "\r\n",
    ),
    "request line with a control byte": (400, "GET /x\x01?token={T} HTTP/1.1\r\n" + HOST + "\r\n"),
    "request line ending in a bare LF": (400, "GET /x?token={T} HTTP/1.1\n" + HOST + "\n"),
    "HTTP/0.9 request line": (400, "GET /x?token={T}\r\n\r\n"),
    "request line of four words": (400, "GET /x?token={T} y HTTP/1.1\r\n" + HOST + "\r\n"),
    "method with a symbol": (400, "G@T /arcgis/x?token={T} HTTP/1.1\r\n" + HOST + "\r\n"),
    "method in lower case": (400, "get /arcgis/x?token={T} HTTP/1.1\r\n" + HOST + "\r\n"),
    "unknown HTTP version": (400, "GET /arcgis/x?token={T} HTTP/9.9\r\n" + HOST + "\r\n"),
    "protocol that is not HTTP": (400, "GET /arcgis/x?token={T} HTXP/1.1\r\n" + HOST + "\r\n"),
    "HTTP/2 preface": (400, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    "PROXY line nobody asked for": (
        400,
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET /x?token={T} HTTP/1.1\r\n" + HOST + "\r\n",
    ),
    "request line too long": (
        414,
        "GET /x?token={T}&" + "a" * 9000 + " HTTP/1.1\r\n" + HOST + "\r\n",
    ),
    "invalid header name": (400, "GET /x HTTP/1.1\r\n" + HOST + "X-T{T}(: 1\r\n\r\n"),
    "header without a colon": (
        400,
        "GET /x HTTP/1.1\r\n" + HOST + "Authorization Bearer {T}\r\n\r\n",
    ),
    "space before a header's colon": (400, "GET /x HTTP/1.1\r\n" + HOST + "X-Token : {T}\r\n\r\n"),
    "NUL in a header value": (400, "GET /x HTTP/1.1\r\n" + HOST + "X-Token: {T}\x00\r\n\r\n"),
    "obsolete header folding": (400, "GET /x HTTP/1.1\r\n" + HOST + "X-Token: a\r\n {T}\r\n\r\n"),
    "header too long": (
        431,
        "GET /x HTTP/1.1\r\n" + HOST + "X-Token: {T}" + "a" * 9000 + "\r\n\r\n",
    ),
    "too many headers": (
        431,
        "GET /x HTTP/1.1\r\n" + HOST + "".join(f"X-{i}: {{T}}\r\n" for i in range(120)) + "\r\n",
    ),
    "Content-Length with chunked": (
        400,
        "POST /arcgis/x?token={T} HTTP/1.1\r\n"
        + HOST
        + "Content-Length: 3\r\n"
        + CHUNKED
        + "\r\n0\r\n\r\n",
    ),
    "two Content-Lengths": (
        400,
        "POST /arcgis/x?token={T} HTTP/1.1\r\n"
        + HOST
        + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    ),
    "negative Content-Length": (
        400,
        "POST /arcgis/x?token={T} HTTP/1.1\r\n" + HOST + "Content-Length: -3\r\n\r\nabc",
    ),
    "unknown transfer coding": (
        400,
        "POST /arcgis/x?token={T} HTTP/1.1\r\n" + HOST + "Transfer-Encoding: gzip\r\n\r\nabc",
    ),
    "an expectation other than 100-continue": (
        417,
        "POST /arcgis/x HTTP/1.1\r\n" + HOST + "Expect: {T}\r\nContent-Length: 1\r\n\r\na",
    ),
    # The app refuses these itself (wire.check_body), in the ArcGIS envelope.
    "chunk size that is not hex": (
        200,
        f"POST {GENERATE} HTTP/1.1\r\n" + HOST + CHUNKED + "\r\nzz{T}\r\nabc\r\n0\r\n\r\n",
    ),
    "chunk without its CRLF": (
        200,
        f"POST {GENERATE} HTTP/1.1\r\n" + HOST + CHUNKED + "\r\n3\r\nabcXX{T}\r\n0\r\n\r\n",
    ),
    "chunk extension with a control byte": (
        200,
        f"POST {GENERATE} HTTP/1.1\r\n" + HOST + CHUNKED + "\r\n3;{T}\x01\r\nabc\r\n0\r\n\r\n",
    ),
}


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess("--workers", "1", ready_path="/__mock__/health")
    yield process
    process.stop()


def _exchange(port: int, request: bytes, seconds: float = 20) -> bytes:
    """The whole answer to ``request``: until the server closes, or its Content-Length is in."""
    deadline = time.monotonic() + seconds
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(request)
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            piece = sock.recv(65536)
            if not piece:
                return answer
            answer += piece
            head, blank, body = answer.partition(b"\r\n\r\n")
            if blank and len(body) >= _content_length(head):
                return answer
    pytest.fail(f"no whole answer within {seconds} s: {answer[:200]!r}")


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def _headers(head: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        pairs.append((name.strip().lower(), value.strip()))
    return pairs


#: How the token is spelt in the refused request: a page quoting it must mask each.
SPELLINGS = {"as sent": str, "lower-cased": str.lower, "upper-cased": str.upper}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_every_refusal_of_a_malformed_request_is_nosniff_and_quotes_no_token(
    server, kind, spelling
):
    status, template = MALFORMED[kind]
    token = server.token()
    request = template.replace("{T}", SPELLINGS[spelling](token)).encode("latin-1")
    answer = _exchange(server.port, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == str(status).encode(), head
    headers = _headers(head)
    assert headers.count(("x-content-type-options", "nosniff")) == 1, head
    lengths = [value for name, value in headers if name == "content-length"]
    assert lengths == [str(len(body))], head  # the page was masked, its length said anew
    assert leaks(answer.decode("latin-1"), spellings(token)) == [], answer
    assert leaks(server.output, spellings(token)) == []


def test_the_embedded_servers_refusals_are_nosniff_and_quote_no_token_nor_log_it(caplog):
    """``mockserver.testing.running``: werkzeug's server (http.server) refuses what it
    cannot parse with a page, a reason phrase and a log line quoting the request line;
    HTTP/0.9 it answered without any header."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    with running() as emulator:
        token = emulator.token()
        port = urlsplit(emulator.origin).port
        for kind, (_, template) in MALFORMED.items():
            for spelling, spell in SPELLINGS.items():
                request = template.replace("{T}", spell(token)).encode("latin-1")
                answer = _exchange(port, request)
                head, _, _ = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1."), (kind, answer[:200])
                headers = _headers(head)
                assert ("x-content-type-options", "nosniff") in headers, (kind, head)
                assert leaks(answer.decode("latin-1"), spellings(token)) == [], (kind, spelling)
    assert leaks(caplog.text, spellings(token)) == []
