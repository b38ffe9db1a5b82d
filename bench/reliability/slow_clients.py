"""Slow clients: a normal GET while many connections sit idle or trickle their headers.

A browser's speculative connections send nothing; a slowloris client sends one
header line every few seconds. Either must not hold the server hostage: with
``connections`` of them open, a normal request must be answered about as fast
as without them. Loopback only; every socket it opens it closes.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field

import requests

#: Slower than this for a GET the quiet server answers in milliseconds is a stall.
STALLED_SECONDS = 2.0


@dataclass
class SlowClientReport:
    connections: int = 0
    probes: int = 0
    quiet_median_ms: float = 0.0
    idle_median_ms: float = 0.0
    idle_max_ms: float = 0.0
    trickle_median_ms: float = 0.0
    trickle_max_ms: float = 0.0
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


def _open(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sockets.append(sock)
    return sockets


def _trickle(sockets: list[socket.socket], stop: threading.Event, every: float) -> None:
    """One header line per connection every ``every`` seconds; never the blank line."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    line = 0
    while not stop.wait(every):
        line += 1
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(f"X-Trickle-{line}: {line}\r\n".encode())


def run_slow_clients(
    origin: str,
    *,
    connections: int = 64,
    probes: int = 10,
    path: str = "/arcgis/sharing/rest/info?f=json",
    trickle_every: float = 2.0,
    probe_timeout: float = 30.0,
) -> SlowClientReport:
    """Median and worst GET time: quiet, then beside ``connections`` idle, then trickling."""
    port = int(origin.rsplit(":", 1)[1])
    url = origin + path
    report = SlowClientReport(connections=connections, probes=probes)
    started = time.monotonic()
    _probe_times(url, 2, probe_timeout)  # warm up: the first request of a worker imports
    quiet, failures = _probe_times(url, probes, probe_timeout)
    report.quiet_median_ms = statistics.median(quiet) * 1000 if quiet else 0.0
    for kind in ("idle", "trickle"):
        sockets = _open(port, connections)
        stop = threading.Event()
        trickler = None
        try:
            if kind == "trickle":
                trickler = threading.Thread(
                    target=_trickle, args=(sockets, stop, trickle_every), daemon=True
                )
                trickler.start()
            time.sleep(0.5)  # let the server accept them all before probing
            times, failed = _probe_times(url, probes, probe_timeout)
        finally:
            stop.set()
            if trickler is not None:
                trickler.join(timeout=5)
            for sock in sockets:
                sock.close()
        failures += [f"{kind}: {failure}" for failure in failed]
        median = statistics.median(times) * 1000 if times else float("inf")
        worst = max(times) * 1000 if times else float("inf")
        setattr(report, f"{kind}_median_ms", median)
        setattr(report, f"{kind}_max_ms", worst)
        if worst > STALLED_SECONDS * 1000:
            report.problems.append(
                f"with {connections} {kind} connections a GET took up to {worst / 1000:.1f} s"
            )
    report.problems += failures
    report.seconds = time.monotonic() - started
    return report


if __name__ == "__main__":
    import sys

    print(run_slow_clients(sys.argv[1], connections=int(sys.argv[2]) if sys.argv[2:] else 64))
