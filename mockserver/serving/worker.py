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

HTTPS connections take gthread's own path: the TLS handshake needs a thread.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import time
from functools import partial

from gunicorn.http.body import LengthReader
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from mockserver.serving.redact import redact
from mockserver.web.wire import BODY_REFUSED

#: How long a client may take to send its request head (and a small body).
REQUEST_READ_SECONDS = 60.0
#: How long a thread waits on one socket write (a slow reader of the answer).
THREAD_IO_SECONDS = 15.0
#: How long a thread may spend reading one request from its socket, all reads together.
THREAD_REQUEST_SECONDS = 15.0
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


class BufferedConn(TConn):
    """A connection with the bytes read ahead in the poller, given to the parser first."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.ahead = b""
        self.reading: RequestAhead | None = None

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

    def feed(self, piece: bytes) -> bool:
        """Add what the client sent; whether a thread should now take the request."""
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
            return self.chunks.ready(self.data, self.max_body)
        return len(self.data) >= self.body_start + (self.length or 0)

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


def closing_after_unread_bodies(app):
    """The WSGI ``app``, answering ``Connection: close`` where it left a body unread.

    gunicorn would announce keep-alive, then drain at most 64 KiB of the rest and
    close: a client that already sent its next request on that connection sees
    it dropped (a 413 answer followed by "Remote end closed connection").
    """

    def wsgi(environ, start_response):
        result = app(environ, start_response)
        response = getattr(start_response, "__self__", None)
        if response is not None and body_left_unread(environ):
            response.force_close()
        return result

    return wsgi


class HeadFirstWorker(ThreadWorker):
    """gthread, reading each request in the poller before a thread serves it."""

    #: Set by mockserver.serving.server before the workers fork: the app's body limit.
    max_body = 1024 * 1024

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = closing_after_unread_bodies(self.wsgi)

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
        conn = BufferedConn(self.cfg, client_sock, client_addr, listener.getsockname())
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
        poller (handed to a thread with its request, or closed), False while more is
        to come. ``waiting``: the connection is registered with the poller."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
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
            self.enqueue_req(conn)
            return True
        if reading.wants_continue():
            reading.continued = True
            with contextlib.suppress(OSError):
                conn.sock.send(_CONTINUE)  # a few bytes into an empty send buffer
        return False

    def murder_pending(self) -> None:
        """Close timed-out waiting connections; once stopping, those that sent nothing too,
        or they would hold the worker for the whole graceful timeout."""
        if not self.alive:
            for conn in [c for c in self.pending_conns if not _has_started(c)]:
                self._stop_waiting(conn)
                self.nr_conns -= 1
                conn.close()
        super().murder_pending()

    def _stop_waiting(self, conn: BufferedConn) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)


def _has_started(conn) -> bool:
    reading = getattr(conn, "reading", None)
    return bool(getattr(conn, "ahead", b"") or (reading is not None and reading.data))
