"""A gunicorn worker that ties a thread to a connection only once its request has arrived.

gunicorn's sync worker blocks on each connection it accepts: two idle sockets
stall two workers until the timeout. Its ``gthread`` worker waits for idle
sockets in a poller, but a thread still blocks on a client that trickles its
header lines. ``HeadFirstWorker`` reads in the poller, without blocking, until
the request head is complete, and its body too (``Content-Length`` or chunked, up
to the size limit; a client that expects ``100 Continue`` is told to go on from
the poller), then hands the bytes to a thread with the request already in
memory. Idle and trickling connections cost a buffer each, not a thread, whatever
their framing; one that does not finish its request within
``REQUEST_READ_SECONDS`` is closed, as nginx's ``client_header_timeout`` does.

What a thread still reads from the socket (an HTTPS request, a body whose framing
the poller leaves to the parser) has ``THREAD_REQUEST_SECONDS`` for the whole
request, not per read: a client trickling a byte at a time cannot hold a thread
for longer than that.

A request that arrived whole is served on the poller's own thread
(``serve_inline``, the default over a state file): no thread pool, no handoff
between threads and back, one thread per worker holding the GIL. What the app
writes is kept and sent by the poller without blocking, so a client that reads
its answer slowly holds a buffer, not the worker (``WRITE_SECONDS`` without
progress closes it); a fault's delay holds the answer in the poller, not a thread
(``wire.ANSWER_LATER``). With a state database (PostgreSQL), whose every query
waits on the network, requests go to the thread pool, as do HTTPS connections
(the TLS handshake needs a thread) and any request whose framing the poller
leaves to the parser.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import heapq
import itertools
import logging
import re
import selectors
import socket
import time
from collections import deque
from concurrent.futures import Future
from functools import partial

from gunicorn import util as gunicorn_util
from gunicorn.http.body import LengthReader
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from mockserver.serving.redact import redact
from mockserver.web.wire import ANSWER_LATER, BODY_REFUSED

#: How long a client may take to send its request head (and a small body).
REQUEST_READ_SECONDS = 60.0
#: How long a thread waits on one socket write (a slow reader of the answer).
THREAD_IO_SECONDS = 15.0
#: How long a thread may spend reading one request from its socket, all reads together.
THREAD_REQUEST_SECONDS = 15.0
#: How long an answer sent from the poller may go without the client taking any of it.
WRITE_SECONDS = 15.0
#: A graceful close reads what the client still sends (so the kernel does not reset the
#: connection over unread bytes) for this long, and this much, as gunicorn's does.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 65536
#: A head longer than this goes to the parser at once, which refuses it (400/431).
MAX_HEAD_BYTES = 64 * 1024
#: A chunk-size line or a trailer line longer than this is the parser's to refuse.
MAX_CHUNK_LINE_BYTES = 4096
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r\n", re.I)
_ANY_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:", re.I)
_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding[ \t]*:([^\r\n]*)\r\n", re.I)
_ANY_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.I)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:([^\r\n]*)(?=\r\n)", re.I)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: What every answer of the emulator carries (mockserver.web.browser), gunicorn's own too.
_NOSNIFF = b"X-Content-Type-Options: nosniff"


class DeadlineUnreader(SocketUnreader):
    """A socket reader with one deadline for the whole request, not one per read."""

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.deadline = time.monotonic() + THREAD_REQUEST_SECONDS

    def chunk(self, size_hint=None) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(min(remaining, THREAD_IO_SECONDS))
        return super().chunk(size_hint)


class _Shutdown:
    """In an answer kept for the poller: the app shut the connection here (a drop fault)."""


class ClientSocket:
    """A plain-HTTP client socket as gunicorn and the app use it.

    Between ``keep_answer`` and ``kept``, what they write is kept in order and
    the socket's own blocking mode is left alone (the poller's: non-blocking);
    otherwise every call is the socket's own.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.answer: list | None = None
        #: Seconds the kept answer is to wait before the poller sends it.
        self.delay = 0.0

    def __getattr__(self, name: str):
        return getattr(self.sock, name)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int, *flags) -> bytes:
        return self.sock.recv(size, *flags)

    def keep_answer(self) -> None:
        self.answer, self.delay = [], 0.0

    def kept(self) -> list:
        answer, self.answer = self.answer or [], None
        return answer

    def hold(self, seconds: float) -> None:
        """``wire.ANSWER_LATER``: send the kept answer ``seconds`` from now."""
        self.delay = max(self.delay, seconds)

    def sendall(self, data) -> None:
        if self.answer is None:
            self.sock.sendall(data)
        else:
            self.answer.append(bytes(data))

    def send(self, data, *flags) -> int:
        if self.answer is None:
            return self.sock.send(data, *flags)
        self.answer.append(bytes(data))
        return len(data)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        if self.answer is None:
            return self.sock.sendfile(file, offset, count)
        file.seek(offset)
        data = file.read(count) if count else file.read()
        self.answer.append(data)
        return len(data)

    def shutdown(self, how: int) -> None:
        if self.answer is None:
            self.sock.shutdown(how)
        else:
            self.answer.append(_Shutdown)

    def setblocking(self, flag: bool) -> None:
        if self.answer is None:
            self.sock.setblocking(flag)

    def settimeout(self, value) -> None:
        if self.answer is None:
            self.sock.settimeout(value)


class BufferedConn(TConn):
    """A connection with the bytes read ahead in the poller, given to the parser first."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.ahead = b""
        self.reading: RequestAhead | None = None

    #: Set by the worker for connections its poller serves: closes them without blocking.
    linger = None

    def close(self, graceful: bool = False) -> None:
        if graceful and self.linger is not None:
            self.linger(self)
        else:
            super().close(graceful)

    def init(self) -> None:
        """Called by the thread for each request, once the socket is blocking again."""
        first = not self.initialized
        super().init()
        if first:
            self.parser.unreader = DeadlineUnreader(self.sock)
            self.hand_over_ahead()
        self.parser.unreader.deadline = time.monotonic() + THREAD_REQUEST_SECONDS
        self.sock.settimeout(THREAD_IO_SECONDS)

    def hand_over_ahead(self) -> None:
        if self.ahead and self.parser is not None:
            self.parser.unreader.unread(self.ahead)
            self.ahead = b""


class ChunkedScan:
    """How far a chunked body has arrived, scanned once across the poller's reads.

    It only finds where the body ends: the parser decodes it. Anything it does
    not understand is left to the parser to refuse, at once.
    """

    def __init__(self, start: int) -> None:
        self.position = start
        self.size = 0
        self.data_left = -1  # bytes of chunk data (and its CRLF) still to come; -1: a size line
        self.in_trailer = False
        self.ended = False  # the blank line after the last chunk has come

    def ready(self, data: bytes, max_body: int) -> bool:
        """Whether a thread should take the request: the body is whole, too large, or
        framed in a way only the parser can judge."""
        while True:
            if self.data_left >= 0:
                if len(data) < self.position + self.data_left:
                    return False
                self.position += self.data_left
                if data[self.position - 2 : self.position] != b"\r\n":
                    return True
                self.data_left = -1
                continue
            line_end = data.find(b"\n", self.position)
            if line_end < 0:
                return len(data) - self.position > MAX_CHUNK_LINE_BYTES
            line = data[self.position : line_end]
            if not line.endswith(b"\r") or len(line) > MAX_CHUNK_LINE_BYTES:
                return True
            self.position = line_end + 1
            if self.in_trailer:
                if line == b"\r":
                    self.ended = True
                    return True  # the blank line after the last chunk: the body is whole
                continue
            size_text = line[:-1].split(b";", 1)[0].strip(b" \t")
            if not _HEX_SIZE.fullmatch(size_text):
                return True
            chunk = int(size_text, 16)
            if chunk == 0:
                self.in_trailer = True
                continue
            self.size += chunk
            if self.size > max_body:
                return True  # refused from what is in memory, unread
            self.data_left = chunk + 2


class RequestAhead:
    """The request a connection is sending, as far as the poller has read it."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.data = b""
        self.body_start = -1
        self.length: int | None = None
        self.chunks: ChunkedScan | None = None
        self.expects_continue = False
        self.continued = False
        #: The head and the whole body are in ``data``: the parser will need no more.
        self.whole = False

    def feed(self, piece: bytes) -> bool:
        """Add what the client sent; whether a thread should now take the request
        (``whole`` then says whether it is all in memory)."""
        self.data += piece
        if self.body_start < 0:
            end = self.data.find(_HEAD_END)
            if end < 0:
                # A bare-LF head is refused by the parser: let it say so at once.
                return len(self.data) > MAX_HEAD_BYTES or b"\n\n" in self.data
            self.body_start = end + len(_HEAD_END)
            if not self._framed_for_the_poller(self.data[: end + 2]):
                return True
        if self.chunks is not None:
            if len(self.data) - self.body_start > 2 * self.max_body + MAX_HEAD_BYTES:
                return True  # framing overhead beyond reason: the thread's deadline bounds it
            ready = self.chunks.ready(self.data, self.max_body)
            self.whole = ready and self.chunks.ended
            return ready
        self.whole = len(self.data) >= self.body_start + (self.length or 0)
        return self.whole

    def _framed_for_the_poller(self, head: bytes) -> bool:
        """Note how the body is framed; False when the parser must judge it at once
        (an unknown or doubled framing, a body over the limit)."""
        expect = _EXPECT.findall(head)
        self.expects_continue = (
            len(expect) == 1
            and expect[0].strip().lower() == b"100-continue"
            and head.split(b"\r\n", 1)[0].endswith(b" HTTP/1.1")
        )
        codings = _ANY_TRANSFER_ENCODING.findall(head)
        if codings:
            coding = _TRANSFER_ENCODING.search(head)
            if len(codings) > 1 or coding is None or _ANY_CONTENT_LENGTH.search(head):
                return False
            if coding.group(1).split(b",")[-1].strip().lower() != b"chunked":
                return False
            self.chunks = ChunkedScan(self.body_start)
            return True
        if _ANY_CONTENT_LENGTH.search(head):
            match = _CONTENT_LENGTH.search(head)
            if match is None or len(_ANY_CONTENT_LENGTH.findall(head)) > 1:
                return False
            self.length = int(match.group(1))
            return self.length <= self.max_body
        return True

    def wants_continue(self) -> bool:
        """Whether the client waits for ``100 Continue`` before it sends the body."""
        return self.expects_continue and not self.continued and self.body_start >= 0

    def handed_over(self) -> bytes:
        """What the parser reads first. The expectation is met here (``100 Continue``
        from the poller, or a refusal that needs no body), so the thread must not
        answer it again."""
        if not self.expects_continue:
            return self.data
        head, body = self.data[: self.body_start], self.data[self.body_start :]
        return _EXPECT.sub(b"", head, count=1) + body


def refusal_answer(answer: bytes) -> bytes:
    """gunicorn's own error answer (``util.write_error``: its status line, headers and
    HTML page at once) with ``nosniff`` added and any credential in the page masked.

    gunicorn quotes what it refused in the page: a request line, a header, an
    ``Expect`` value, with whatever token the client put there. Anything else
    is passed as it is.
    """
    head, blank, page = answer.partition(b"\r\n\r\n")
    if not blank or not head.startswith(b"HTTP/"):
        return answer
    # gunicorn writes the page as Latin-1: every byte stays itself through the masking.
    page = redact(page.decode("latin-1")).encode("latin-1")
    lines = [
        line
        for line in head.split(b"\r\n")
        if not line.lower().startswith((b"content-length:", b"x-content-type-options:"))
    ]
    lines += [b"Content-Length: %d" % len(page), _NOSNIFF]
    return b"\r\n".join(lines) + blank + page


class RefusalSocket:
    """The client's socket as gunicorn's ``handle_error`` writes to it: every write goes
    through ``refusal_answer``; everything else is the socket's own."""

    def __init__(self, sock) -> None:
        self._sock = sock

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        # write_error sends the whole answer in one sendall (gunicorn 27); were it to
        # write otherwise, tests/test_server_refusal_pages.py would see nosniff missing.
        self._sock.sendall(refusal_answer(data))


def body_left_unread(environ: dict) -> bool:
    """Whether the app answered without reading the request body to its end."""
    if environ.get(BODY_REFUSED):
        return True
    reader = getattr(environ.get("wsgi.input"), "reader", None)
    return isinstance(reader, LengthReader) and reader.length > 0


def offering_to_answer_later(app):
    """The WSGI ``app``, told how to hold its answer back when the poller sends it."""

    def wsgi(environ, start_response):
        sock = environ.get("gunicorn.socket")
        if isinstance(sock, ClientSocket) and sock.answer is not None:
            environ[ANSWER_LATER] = sock.hold
        return app(environ, start_response)

    return wsgi


_DATE_OF_SECOND: list = [None, ""]


def _http_date(timestamp: float | None = None) -> str:
    """``gunicorn.util.http_date``, the current second's kept."""
    if timestamp is not None:
        return email.utils.formatdate(timestamp, localtime=False, usegmt=True)
    second = int(time.time())
    if _DATE_OF_SECOND[0] != second:
        _DATE_OF_SECOND[:] = [second, email.utils.formatdate(second, usegmt=True)]
    return _DATE_OF_SECOND[1]


def _done(result) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def _whole(environ: dict) -> bool:
    """Whether the request, body and all, is in memory (served by the poller), and the
    app did not refuse its body: what it left unread is then drained from memory."""
    sock = environ.get("gunicorn.socket")
    return (
        isinstance(sock, ClientSocket) and sock.answer is not None and not environ.get(BODY_REFUSED)
    )


def closing_after_unread_bodies(app):
    """The WSGI ``app``, answering ``Connection: close`` where it left a body unread
    that is not all in memory.

    gunicorn would announce keep-alive, then drain at most 64 KiB of the rest and
    close: a client that already sent its next request on that connection sees
    it dropped (a 413 answer followed by "Remote end closed connection").
    """

    def wsgi(environ, start_response):
        result = app(environ, start_response)
        response = getattr(start_response, "__self__", None)
        if response is not None and body_left_unread(environ) and not _whole(environ):
            response.force_close()
        return result

    return wsgi


class HeadFirstWorker(ThreadWorker):
    """gthread, reading each request in the poller; one that arrived whole is served there
    too (``serve_inline``), the others by a thread."""

    #: Set by mockserver.serving.server before the workers fork: the app's body limit.
    max_body = 1024 * 1024
    #: Set by mockserver.serving.server: False where the app waits on a database server.
    serve_inline = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ready: deque[BufferedConn] = deque()
        self._serving = False
        self._timers: list = []
        self._timer_order = itertools.count()
        #: Connections whose answer waits for the client to read: the deadline of each.
        self._writers: dict[BufferedConn, float] = {}
        #: Closed connections still reading what the client sends: the deadline of each.
        self._lingering: dict[socket.socket, float] = {}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = offering_to_answer_later(closing_after_unread_bodies(self.wsgi))

    def init_process(self) -> None:
        # The logging module's documented optimisations: no log line names its caller,
        # thread or multiprocessing process (every log record looked them up), and
        # gunicorn's Date header formatted once a second, not once an answer.
        logging._srcfile = None
        logging.logThreads = False
        logging.logMultiprocessing = False
        gunicorn_util.http_date = _http_date
        super().init_process()

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's refusal (a malformed request line or header, a request too large to
        parse) or its 500 page, sent with ``nosniff`` and no credential it quoted."""
        super().handle_error(req, RefusalSocket(client), addr, exc)

    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        if self.serve_inline and not self.cfg.is_ssl:
            client_sock = ClientSocket(client_sock)
        conn = BufferedConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if isinstance(client_sock, ClientSocket):
            conn.linger = self._linger
        if self.cfg.is_ssl:
            client_sock.setblocking(True)
            self.enqueue_req(conn)
            return
        self._read_in_poller(conn)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection's next request: read it in the poller too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.cfg.is_ssl or not isinstance(conn, BufferedConn):
            self.enqueue_req(conn)
            return
        self._read_in_poller(conn)

    def _read_in_poller(self, conn: BufferedConn) -> None:
        conn.timeout = time.monotonic() + REQUEST_READ_SECONDS
        conn.reading = RequestAhead(self.max_body)
        # The request is most often there already (the poller saw a kept-alive
        # connection readable; a client writes right after it connects): read it now,
        # and wait in the poller only for what has not arrived. That saves a
        # registration, a turn of the poller and an unregistration per request.
        if self._take_what_arrived(conn, waiting=False):
            return
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))

    def _read_ahead(self, conn: BufferedConn, client) -> None:
        if conn in self.pending_conns:
            self._take_what_arrived(conn, waiting=True)

    def _take_what_arrived(self, conn: BufferedConn, *, waiting: bool) -> bool:
        """Read what the client sent so far; True once the connection has left the
        poller (its request served or handed to a thread, or closed), False while more
        is to come. ``waiting``: the connection is registered with the poller."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        return self._arrived(conn, data, waiting=waiting)

    def _arrived(self, conn: BufferedConn, data: bytes, *, waiting: bool) -> bool:
        reading = conn.reading
        if not data and not reading.data:
            if waiting:
                self._stop_waiting(conn)
            self.nr_conns -= 1
            conn.close()
            return True
        # At the client's end of input, the parser answers what came, as gunicorn would.
        if reading.feed(data) or not data:
            if waiting:
                self._stop_waiting(conn)
            conn.ahead, conn.reading = reading.handed_over(), None
            conn.data_ready = True
            if conn.initialized:
                conn.hand_over_ahead()
            if reading.whole and isinstance(conn.sock, ClientSocket):
                self._ready.append(conn)
                if not self._serving:
                    self._serve_ready()
            else:
                super().enqueue_req(conn)
            return True
        if reading.wants_continue():
            reading.continued = True
            with contextlib.suppress(OSError):
                conn.sock.send(_CONTINUE)  # a few bytes into an empty send buffer
        return False

    def enqueue_req(self, conn) -> None:
        """gunicorn's ``finish_request`` found the next request begun in the parser's
        buffer (a pipelining client): read it on in the poller, as any other."""
        if not isinstance(conn.sock, ClientSocket):
            super().enqueue_req(conn)
            return
        begun = conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + REQUEST_READ_SECONDS
        conn.reading = RequestAhead(self.max_body)
        if self._arrived(conn, begun, waiting=False):
            return
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))

    def _serve_ready(self) -> None:
        """Serve the requests that arrived whole, one after another, on this thread. One
        that comes meanwhile (the next of a pipelining client) waits for the poller's next
        turn: a client sending many at once takes its turn with the others."""
        self._serving = True
        try:
            for _ in range(len(self._ready)):
                self._serve_inline(self._ready.popleft())
        finally:
            self._serving = False

    def _serve_inline(self, conn: BufferedConn) -> None:
        sock = conn.sock
        sock.keep_answer()
        try:
            keep = self.handle(conn) is True
        finally:
            answer = sock.kept()
        if sock.delay > 0:
            self._later(sock.delay, partial(self._send_answer, conn, answer, keep))
        else:
            self._send_answer(conn, answer, keep)

    def _send_answer(self, conn: BufferedConn, answer: list, keep: bool) -> None:
        """Send what the app wrote, without blocking; a shutdown it asked for (a drop
        fault) happens at its place in the answer."""
        parts = []
        for part in answer:
            if part is _Shutdown:
                with contextlib.suppress(OSError):
                    conn.sock.sock.send(b"".join(parts))
                with contextlib.suppress(OSError):
                    conn.sock.sock.shutdown(socket.SHUT_RDWR)
                self.finish_request(conn, _done(False))
                return
            parts.append(part)
        self._write(conn, memoryview(b"".join(parts)), keep)

    def _write(self, conn: BufferedConn, rest: memoryview, keep: bool) -> None:
        try:
            while rest:
                rest = rest[conn.sock.sock.send(rest) :]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.finish_request(conn, _done(False))  # the client is gone
            return
        if not rest:
            self.finish_request(conn, _done(keep))
            return
        # The client's receive buffer is full: the poller sends the rest as it reads.
        self._writers[conn] = time.monotonic() + WRITE_SECONDS
        self.poller.register(
            conn.sock, selectors.EVENT_WRITE, partial(self._write_ready, conn, rest, keep)
        )

    def _write_ready(self, conn: BufferedConn, rest: memoryview, keep: bool, _client) -> None:
        self.poller.unregister(conn.sock)
        del self._writers[conn]
        self._write(conn, rest, keep)

    def _linger(self, conn: BufferedConn) -> None:
        """gunicorn's graceful close (``util.close_graceful``: send FIN, read what the
        client still sends for up to ``LINGER_SECONDS``, then close) in the poller, so a
        client that keeps its end open holds a socket, not the worker."""
        sock = conn.sock.sock
        try:
            sock.setblocking(False)
            sock.shutdown(socket.SHUT_WR)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, [0]))
        except (OSError, ValueError, KeyError):
            with contextlib.suppress(OSError):
                sock.close()
            return
        self._lingering[sock] = time.monotonic() + LINGER_SECONDS

    def _drain(self, drained: list, sock) -> None:
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        drained[0] += len(data)
        if not data or drained[0] >= LINGER_MAX_BYTES:
            self._end_linger(sock)

    def _end_linger(self, sock) -> None:
        self.poller.unregister(sock)
        del self._lingering[sock]
        with contextlib.suppress(OSError):
            sock.close()

    def _later(self, seconds: float, action) -> None:
        heapq.heappush(self._timers, (time.monotonic() + seconds, next(self._timer_order), action))

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gunicorn's turn of the poller, woken in time for the first held answer, at once
        when requests wait their turn."""
        if self._ready:
            timeout = 0.0
        elif self._timers:
            timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)
        while self._timers and self._timers[0][0] <= time.monotonic():
            heapq.heappop(self._timers)[2]()
        if self._ready and not self._serving:
            self._serve_ready()

    def murder_pending(self) -> None:
        """Close timed-out waiting connections; once stopping, those that sent nothing too,
        or they would hold the worker for the whole graceful timeout."""
        if not self.alive:
            for conn in [c for c in self.pending_conns if not _has_started(c)]:
                self._stop_waiting(conn)
                self.nr_conns -= 1
                conn.close()
        now = time.monotonic()
        for sock in [s for s, deadline in self._lingering.items() if deadline <= now]:
            self._end_linger(sock)
        for conn in [c for c, deadline in self._writers.items() if deadline <= now]:
            self.poller.unregister(conn.sock)
            del self._writers[conn]
            self.nr_conns -= 1
            conn.close()  # a client that stopped reading its answer
        super().murder_pending()

    def _stop_waiting(self, conn: BufferedConn) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)


def _has_started(conn) -> bool:
    reading = getattr(conn, "reading", None)
    return bool(getattr(conn, "ahead", b"") or (reading is not None and reading.data))
