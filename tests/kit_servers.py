"""Tiny servers on 127.0.0.1 that the kit's tests start, to play a hostile or slow deployment.

Each speaks just enough HTTP/1.1 by hand (a socket per connection, a
thread each) to do what no well-behaved server does: answer without end,
trickle bytes, or hold a request until the test lets it go. ``stop()``
closes everything, and every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Handler = Callable[["HostileServer", socket.socket, bytes], None]


class HostileServer:
    """Accepts connections and hands each request's head to ``handler`` (in its own thread)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.stopped = threading.Event()
        self._seen = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}/arcgis"
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.settimeout(1)
            while not self.stopped.is_set():
                head = _read_head(connection, self.stopped)
                if head is None:
                    return
                with self._seen:
                    self.requests.append(head)
                    self._seen.notify_all()
                self.handler(self, connection, head)

    def wait_for_requests(self, count: int, timeout: float = 60) -> None:
        """Block until ``count`` requests have arrived; fail the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"only {len(self.requests)} of {count} requests arrived in {timeout} s"
                    )
                self._seen.wait(left)

    def stop(self) -> None:
        self.stopped.set()
        self._listener.close()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_head(connection: socket.socket, stopped: threading.Event) -> bytes | None:
    """The request's head and its body (by Content-Length); None when the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        if stopped.is_set():
            return None
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def endless_answer(size: int, *, declared: bool) -> Handler:
    """Answers ``size`` bytes of JSON-looking text, with or without a Content-Length."""

    def answer(server: HostileServer, connection: socket.socket, head: bytes) -> None:
        framing = f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked"
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=utf-8\r\n{framing}\r\n\r\n".encode()
        )
        block = b'{"runtimes": [' + b" " * (1024 * 1024 - 14)
        sent = 0
        while sent < size and not server.stopped.is_set():
            piece = block[: size - sent]
            if declared:
                connection.sendall(piece)
            else:
                connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        if not declared:
            connection.sendall(b"0\r\n\r\n")

    return answer


#: Where a trickled answer dribbles: its head, or a body framed by length or by chunks.
TRICKLE_PHASES = ("head", "content-length body", "chunked body")


def trickle(interval: float, phase: str = "head") -> Handler:
    """Starts an answer, then sends one more byte of it every ``interval`` s, without end."""
    if phase not in TRICKLE_PHASES:
        raise ValueError(phase)

    def answer(server: HostileServer, connection: socket.socket, head: bytes) -> None:
        if phase == "head":
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            byte = b"a"
        elif phase == "content-length body":
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n{")
            byte = b" "
        else:
            connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
            byte = b"1\r\n \r\n"
        while not server.stopped.wait(interval):
            connection.sendall(byte)

    return answer


def answering(bodies: list[bytes]) -> Handler:
    """Answers each request with the next of ``bodies``, in turn, as HTTP 200 text."""
    turn = iter(range(1 << 30))

    def answer(server: HostileServer, connection: socket.socket, head: bytes) -> None:
        body = bodies[next(turn) % len(bodies)]
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    return answer


def echoing(texts: list[str]) -> Handler:
    """Answers each request with an ArcGIS error whose message is the next of ``texts``, in turn."""
    return answering(
        [
            ('{"status": "error", "messages": ["' + text + '"], "code": 403}').encode()
            for text in texts
        ]
    )


class GatedProxy:
    """Forwards to ``upstream`` until ``hold_after`` says so; then holds the next request.

    ``hold_after(method, path, status, body)`` is asked after each forwarded
    exchange. The request after the first ``True`` is held, not forwarded,
    until ``drop_held()``, which closes its connection unanswered (were it a
    copy, forwarding it behind the kit's back would leave a runtime the kit
    never saw). Every request after that is forwarded again. So a test can
    stop the kit at a known point (say, just after it created something),
    signal it there, and watch its cleanup pass through.
    """

    def __init__(self, upstream: str, hold_after: Callable[[str, str, int, bytes], bool]) -> None:
        import requests  # the tests' own dependency, here only

        self._requests = requests
        self.upstream = upstream.rstrip("/")
        self.hold_after = hold_after
        self.holding = threading.Event()
        self._armed = False
        self._dropped = threading.Event()
        self._lock = threading.Lock()
        self._next_hold: tuple[Callable[[str, str], bool], threading.Event] | None = None
        self.server = HostileServer(self._forward)
        self.origin = f"http://127.0.0.1:{self.server.port}"

    def wait_until_holding(self, timeout: float = 120) -> None:
        if not self.holding.wait(timeout):
            raise AssertionError(f"the kit never reached the held request in {timeout} s")

    def drop_held(self) -> None:
        self._dropped.set()

    def hold_next(self, matches: Callable[[str, str], bool]) -> threading.Event:
        """Hold (never forward) the next request ``matches(method, path)`` accepts, until stop.

        The event is set once that request has arrived and is held.
        """
        arrived = threading.Event()
        with self._lock:
            self._next_hold = (matches, arrived)
        return arrived

    def stop(self) -> None:
        self._dropped.set()
        self.server.stop()

    def _forward(self, server: HostileServer, connection: socket.socket, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        with self._lock:
            hold = self._armed and not self.holding.is_set()
            if hold:
                self.holding.set()
            held_until_stop = self._next_hold is not None and self._next_hold[0](method, path)
            if held_until_stop:
                arrived, self._next_hold = self._next_hold[1], None
        if held_until_stop:
            arrived.set()
            server.stopped.wait(600)
            connection.close()
            return
        if hold:
            while not self._dropped.wait(0.1):
                if server.stopped.is_set():
                    break
            connection.close()
            return
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() not in {"host", "connection", "content-length", "accept-encoding"}:
                headers[name] = value.strip()
        answer = self._requests.request(
            method, self.upstream + path, headers=headers, data=body or None, timeout=60,
            allow_redirects=False,
        )  # fmt: skip
        content = answer.content
        kept = [
            f"{name}: {value}"
            for name, value in answer.headers.items()
            if name.lower() not in {"connection", "content-length", "transfer-encoding",
                                    "content-encoding", "keep-alive"}
        ]  # fmt: skip
        connection.sendall(
            (
                f"HTTP/1.1 {answer.status_code} {answer.reason}\r\n"
                + "".join(line + "\r\n" for line in kept)
                + f"Content-Length: {len(content)}\r\n\r\n"
            ).encode("latin-1")
            + content
        )
        if not self.holding.is_set() and self.hold_after(method, path, answer.status_code, content):
            with self._lock:
                self._armed = True

    def __enter__(self) -> GatedProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
