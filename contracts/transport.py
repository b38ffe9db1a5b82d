"""One request as the kit sends it: read whole within a size cap, and within a total deadline.

A server the kit checks may be slow or hostile. ``requests`` bounds each
socket read, not the request: a server sending one byte every 20 s keeps a
60 s read timeout waiting forever. And it buffers a whole answer, however
large. So the kit streams each answer and stops at ``max_bytes``
(``AnswerTooLarge``), and gives each request one deadline for the connection
and the whole answer (``AnswerTooSlow``): a watchdog thread shuts the
request's socket down when its time is up, which ends whatever read is
blocked on it.

Both are ``AssertionError``s: the check that asked fails, saying why.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Enough for any ArcGIS answer the checks read (a listing, a manifest), far below a flood.
DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024
#: Connection and whole answer; a real deployment answers these calls in seconds.
DEFAULT_DEADLINE_SECONDS = 60.0
_CHUNK = 64 * 1024


class AnswerTooLarge(AssertionError):
    """The answer is larger than the kit reads; it stopped reading and closed the connection."""


class AnswerTooSlow(AssertionError):
    """No complete answer within the request's deadline; the kit closed the connection."""


class _InFlight:
    """One request's deadline and the connection it is using, for the watchdog to cut."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.done = False
        self.connection: HTTPConnection | None = None
        self._lock = threading.Lock()

    def uses(self, connection: HTTPConnection) -> None:
        with self._lock:
            self.connection = connection
            if self.expired:
                _shut(connection)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self.connection is not None:
                _shut(self.connection)


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return  # still connecting: the connect timeout (the time left) bounds it
    # The plain socket's shutdown, also under TLS: it ends a read blocked in another thread
    # without touching the TLS object that read is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_CURRENT = threading.local()


class _Watchdog:
    """One daemon thread that expires requests whose deadline has passed."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._due: list[tuple[float, int, _InFlight]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, in_flight: _InFlight) -> None:
        with self._condition:
            heapq.heappush(self._due, (in_flight.deadline, next(self._order), in_flight))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="nbmock-kit-deadlines", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        # Ctrl-C and SIGTERM must reach the main thread, whose blocked read they interrupt.
        with contextlib.suppress(AttributeError, ValueError):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            with self._condition:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._condition.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                _, _, in_flight = heapq.heappop(self._due)
            in_flight.expire()


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[_InFlight]:
    in_flight = _InFlight(time.monotonic() + seconds)
    _CURRENT.in_flight = in_flight
    _WATCHDOG.watch(in_flight)
    try:
        yield in_flight
    finally:
        in_flight.done = True
        _CURRENT.in_flight = None


class _WatchedConnection(HTTPConnection):
    def connect(self) -> None:
        _register(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)  # a kept-alive connection is reused without connecting again
        super().request(*args, **kwargs)


class _WatchedTLSConnection(HTTPSConnection):
    def connect(self) -> None:
        _register(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


def _register(connection: HTTPConnection) -> None:
    in_flight = getattr(_CURRENT, "in_flight", None)
    if in_flight is not None:
        in_flight.uses(connection)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


class WatchedAdapter(HTTPAdapter):
    """``requests``' adapter whose connections the deadline watchdog can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTLSPool}


def watched_session() -> requests.Session:
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, WatchedAdapter())
    return session


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
    """Send one request and read its whole answer into ``response.content``, within both bounds.

    ``what`` names the request in the failures (never its URL, which may
    carry a token). Errors of the connection are ``requests``' own.
    """
    with _deadline(deadline) as in_flight:
        try:
            response = session.request(
                method, url, stream=True, timeout=(deadline, deadline), **send
            )
            try:
                response._content = _read_capped(response, what, max_bytes, in_flight)
            finally:
                response.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if in_flight.expired:
                raise AnswerTooSlow(_too_slow(what, deadline)) from None
            raise requests.ConnectionError(str(error)) from None
    if in_flight.expired:
        raise AnswerTooSlow(_too_slow(what, deadline))
    response._content_consumed = True
    return response


def _too_slow(what: str, deadline: float) -> str:
    return (
        f"no complete answer to {what} within {deadline:g} s (connection and whole answer); "
        "the kit closed the connection"
    )


def _read_capped(
    response: requests.Response, what: str, max_bytes: int, in_flight: _InFlight
) -> bytes:
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
        if in_flight.expired:
            break
    return b"".join(chunks)


def _too_large(what: str, max_bytes: int, why: str) -> str:
    return (
        f"the answer to {what} is larger than the kit reads ({max_bytes} bytes): {why}; "
        "the kit stopped reading and closed the connection"
    )
