"""A gunicorn worker that ties a thread to a connection only once its request has arrived.

gunicorn's sync worker blocks on each connection it accepts: two idle sockets
stall two workers until the timeout. Its ``gthread`` worker waits for idle
sockets in a poller, but a thread still blocks on a client that trickles its
header lines. ``HeadFirstWorker`` reads in the poller, without blocking, until
the request head is complete (and a ``Content-Length`` body up to the size
limit), then hands the bytes to a thread with the request already in memory.
Idle and trickling connections cost a buffer each, not a thread; one that does
not finish its request within ``REQUEST_READ_SECONDS`` is closed, as nginx's
``client_header_timeout`` does. What a thread still reads from the socket (a
chunked body, an HTTPS request) waits at most ``THREAD_IO_SECONDS`` per read.

HTTPS connections take gthread's own path: the TLS handshake needs a thread.
"""

from __future__ import annotations

import errno
import re
import selectors
import time
from functools import partial

from gunicorn.http.body import LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

from mockserver.web.wire import BODY_REFUSED

#: How long a client may take to send its request head (and a small body).
REQUEST_READ_SECONDS = 60.0
#: How long a thread waits on a socket read or write (a chunked body, an HTTPS head, a
#: slow reader of the answer) before it gives the connection up.
THREAD_IO_SECONDS = 15.0
#: A head longer than this goes to the parser at once, which refuses it (400/431).
MAX_HEAD_BYTES = 64 * 1024
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r\n", re.I)
#: A chunked body, or a client waiting for ``100 Continue``, is read by the thread.
_READ_BY_THREAD = re.compile(rb"\r\n(transfer-encoding|expect)[ \t]*:", re.I)


class BufferedConn(TConn):
    """A connection with the bytes read ahead in the poller, given to the parser first."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.ahead = b""

    def init(self) -> None:
        """Called by the thread for each request, once the socket is blocking again."""
        first = not self.initialized
        super().init()
        if first:
            self.hand_over_ahead()
        self.sock.settimeout(THREAD_IO_SECONDS)

    def hand_over_ahead(self) -> None:
        if self.ahead and self.parser is not None:
            self.parser.unreader.unread(self.ahead)
            self.ahead = b""


def request_is_read(data: bytes, max_body: int) -> bool:
    """Whether ``data`` holds what a thread needs to answer at once: the head, and a
    ``Content-Length`` body no larger than ``max_body`` (a larger one is refused unread)."""
    end = data.find(_HEAD_END)
    if end < 0:
        # A bare-LF head is refused by the parser: let it say so at once.
        return len(data) > MAX_HEAD_BYTES or b"\n\n" in data
    head = data[: end + 2]
    if _READ_BY_THREAD.search(head):
        return True
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        return True
    length = int(match.group(1))
    return length > max_body or len(data) >= end + len(_HEAD_END) + length


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
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))

    def _read_ahead(self, conn: BufferedConn, client) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if conn not in self.pending_conns:
            return
        if not data and not conn.ahead:
            self._stop_waiting(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.ahead += data
        # At the client's end of input, the parser answers what came, as gunicorn would.
        if not data or request_is_read(conn.ahead, self.max_body):
            self._stop_waiting(conn)
            conn.data_ready = True
            if conn.initialized:
                conn.hand_over_ahead()
            self.enqueue_req(conn)

    def murder_pending(self) -> None:
        """Close timed-out waiting connections; once stopping, those that sent nothing too,
        or they would hold the worker for the whole graceful timeout."""
        if not self.alive:
            for conn in [c for c in self.pending_conns if not getattr(c, "ahead", b"")]:
                self._stop_waiting(conn)
                self.nr_conns -= 1
                conn.close()
        super().murder_pending()

    def _stop_waiting(self, conn: BufferedConn) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
