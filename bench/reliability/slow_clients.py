"""Slow clients: a normal GET while many connections sit idle or trickle their requests.

A browser's speculative connections send nothing; a slowloris client sends one
header line every few seconds; a slow-body client sends its head at once, then
its body a byte at a time, in every framing HTTP/1.1 has; a slow reader sends
its requests and never reads the answers; a client told ``Connection: close``
keeps its end open (``SLOW_KINDS``). None
must hold the server hostage: with ``connections`` of one kind open, a normal
request must be answered about as fast as without them. Loopback only; every
socket it opens it closes.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

#: Slower than this for a GET the quiet server answers in milliseconds is a stall.
STALLED_SECONDS = 2.0


_POST = "POST /arcgis/sharing/rest/generateToken HTTP/1.1\r\nHost: 127.0.0.1\r\n"
#: A request whose answer the journal does not keep (the control plane's).
_PIPELINED = b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@dataclass(frozen=True)
class SlowKind:
    """One way to be slow: what a connection sends at once, then a piece every so often."""

    name: str
    opening: bytes
    piece: Callable[[int], bytes] | None
    #: The client's receive buffer, set before it connects: a small one fills at once.
    receive_buffer: int | None = None
    #: How many such connections, when fewer than the run's make the point.
    at_most: int | None = None


#: Every framing a request can trickle in: its head, a ``Content-Length`` body, a
#: chunked body (in its data, its size lines and its trailer), and a body behind
#: ``Expect: 100-continue``.
SLOW_KINDS: tuple[SlowKind, ...] = (
    SlowKind("idle", b"", None),
    SlowKind(
        "trickled head",
        b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        lambda n: f"X-Trickle-{n}: {n}\r\n".encode(),
    ),
    SlowKind(
        "trickled Content-Length body",
        (
            _POST + "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 4000\r\n\r\nf=json"
        ).encode(),
        lambda n: b"&",
    ),
    SlowKind(
        "trickled chunks",
        (_POST + "Transfer-Encoding: chunked\r\n\r\n").encode(),
        lambda n: b"1\r\n&\r\n",
    ),
    SlowKind(
        "trickled chunk-size line",
        (_POST + "Transfer-Encoding: chunked\r\n\r\n").encode(),
        lambda n: b"0",
    ),
    SlowKind(
        "trickled chunked trailer",
        (_POST + "Transfer-Encoding: chunked\r\n\r\n6\r\nf=json\r\n0\r\n").encode(),
        lambda n: f"X-Trailer-{n}: {n}\r\n".encode(),
    ),
    SlowKind(
        "trickled body after Expect: 100-continue",
        (_POST + "Expect: 100-continue\r\nContent-Length: 4000\r\n\r\n").encode(),
        lambda n: b"&",
    ),
    SlowKind(
        "trickled chunks after Expect: 100-continue",
        (_POST + "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n").encode(),
        lambda n: b"1\r\n&\r\n",
    ),
    # Slow on the way back: answers the client does not read, and a close it does not finish.
    # Answers enough to fill the client's receive buffer and the server's send buffer
    # (about 1 MB on Linux loopback): the server must stop writing and wait, not block.
    # A few such clients make the point; each costs the server thousands of requests.
    SlowKind(
        "pipelined requests whose answers are never read",
        _PIPELINED * 5000,
        None,
        receive_buffer=4096,
        at_most=4,
    ),
    SlowKind(
        "Connection: close never closed by the client",
        b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        None,
    ),
)


@dataclass
class SlowClientReport:
    connections: int = 0
    probes: int = 0
    quiet_median_ms: float = 0.0
    #: Per kind of slow client: the median and the worst GET beside it, in ms.
    median_ms: dict[str, float] = field(default_factory=dict)
    max_ms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _probe_times(url: str, probes: int, timeout: float) -> tuple[list[float], list[str]]:
    """Seconds each fresh-connection GET took; failures are named, not timed."""
    times, failures = [], []
    for _ in range(probes):
        started = time.monotonic()
        try:
            response = requests.get(url, timeout=timeout, headers={"Connection": "close"})
            if response.status_code != 200:
                failures.append(f"HTTP {response.status_code}")
        except requests.RequestException as error:
            failures.append(type(error).__name__)
            continue
        times.append(time.monotonic() - started)
    return times, failures


def _open(port: int, count: int, receive_buffer: int | None = None) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def _trickle(
    sockets: list[socket.socket], kind: SlowKind, stop: threading.Event, every: float
) -> None:
    """``kind``'s opening on every connection, then one piece each every ``every`` seconds;
    never the end of the request."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.sendall(kind.opening)
    count = 0
    while kind.piece is not None and not stop.wait(every):
        count += 1
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(kind.piece(count))


def run_slow_clients(
    origin: str,
    *,
    connections: int = 64,
    probes: int = 10,
    path: str = "/arcgis/sharing/rest/info?f=json",
    trickle_every: float = 2.0,
    probe_timeout: float = 30.0,
    kinds: tuple[SlowKind, ...] = SLOW_KINDS,
) -> SlowClientReport:
    """Median and worst GET time: quiet, then beside ``connections`` slow clients of each kind."""
    port = int(origin.rsplit(":", 1)[1])
    url = origin + path
    report = SlowClientReport(connections=connections, probes=probes)
    started = time.monotonic()
    _probe_times(url, 2, probe_timeout)  # warm up: the first request of a worker imports
    quiet, failures = _probe_times(url, probes, probe_timeout)
    report.quiet_median_ms = statistics.median(quiet) * 1000 if quiet else 0.0
    for kind in kinds:
        sockets = _open(port, min(connections, kind.at_most or connections), kind.receive_buffer)
        stop = threading.Event()
        trickler = threading.Thread(
            target=_trickle, args=(sockets, kind, stop, trickle_every), daemon=True
        )
        try:
            trickler.start()
            time.sleep(0.5)  # let the server accept them all before probing
            times, failed = _probe_times(url, probes, probe_timeout)
        finally:
            stop.set()
            trickler.join(timeout=5)
            for sock in sockets:
                sock.close()
        failures += [f"{kind.name}: {failure}" for failure in failed]
        worst = max(times) * 1000 if times else float("inf")
        report.median_ms[kind.name] = statistics.median(times) * 1000 if times else float("inf")
        report.max_ms[kind.name] = worst
        if worst > STALLED_SECONDS * 1000:
            report.problems.append(
                f"with {connections} connections of kind '{kind.name}' "
                f"a GET took up to {worst / 1000:.1f} s"
            )
    report.problems += failures
    report.seconds = time.monotonic() - started
    return report


if __name__ == "__main__":
    import sys

    print(run_slow_clients(sys.argv[1], connections=int(sys.argv[2]) if sys.argv[2:] else 64))
