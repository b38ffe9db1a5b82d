"""Load generators: ``wrk`` when installed, else a small Python one.

Both report the same figures: requests per second, p50 and p99 latency and
errors, where an error is a socket error, an HTTP status >= 400 or an ArcGIS
error envelope answered with HTTP 200 (the emulator's way of refusing).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Request:
    """One request, replayed over and over."""

    method: str
    url: str
    form: dict[str, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: A body sent as is (moto's JSON), instead of ``form``.
    content: str | None = None
    content_type: str = "application/x-www-form-urlencoded"

    @property
    def has_body(self) -> bool:
        return self.form is not None or self.content is not None

    @property
    def body(self) -> str:
        if self.content is not None:
            return self.content
        return urlencode(self.form) if self.form else ""


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: The server's CPU microseconds per completed request (bench/cpu.py), where measured.
    cpu_us: float | None = None
    #: The machine's one-minute load average when the run started.
    load: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def drive(request: Request, *, seconds: float, connections: int, threads: int = 2) -> Result:
    if shutil.which("wrk"):
        return _wrk(request, seconds=seconds, connections=connections, threads=threads)
    return _python(request, seconds=seconds, connections=connections)


# --- wrk ---------------------------------------------------------------------

_LUA = """
wrk.method = "{method}"
{body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body)
  if status >= 400 or string.find(body, '"error"', 1, true) then failed = failed + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("failed") end
  local e = summary.errors
  io.write(string.format("NBMOCK requests=%d duration_us=%d p50_us=%d p99_us=%d failed=%d socket=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    total, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(request: Request, *, seconds: float, connections: int, threads: int) -> Result:
    body = ""
    if request.has_body:
        body = (
            f"wrk.body = {_lua_string(request.body)}\n"
            f'wrk.headers["Content-Type"] = {_lua_string(request.content_type)}'
        )
    headers = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}"
        for name, value in request.headers
    )
    # The script holds a token: private file, removed at once.
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        os.chmod(script.name, 0o600)
        script.write(_LUA.format(method=request.method, body=body, headers=headers))
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                request.url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(script.name)
    match = re.search(
        r"NBMOCK requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) failed=(\d+) socket=(\d+)",
        completed.stdout,
    )
    if not match:
        # wrk's own output never holds the token (it prints no URLs), but keep it short.
        raise RuntimeError(f"wrk gave no summary: {completed.stderr.strip()[:200]}")
    requests, duration_us, p50, p99, failed, socket_errors = map(int, match.groups())
    return Result(requests, duration_us / 1e6, p50 / 1000, p99 / 1000, failed + socket_errors)


# --- Python fallback ---------------------------------------------------------


def _worker(request: Request, seconds: float, connections: int, queue) -> None:
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = request.body.encode() if request.has_body else None
    headers = dict(request.headers)
    if body:
        headers["Content-Type"] = request.content_type
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        mine: list[float] = []
        failed = 0
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                conn.request(request.method, target, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                if response.status >= 400 or b'"error"' in payload:
                    failed += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    workers = [threading.Thread(target=loop) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, errors[0]))


def _python(request: Request, *, seconds: float, connections: int) -> Result:
    processes = max(1, min(2, connections))
    per_process = [
        connections // processes + (i < connections % processes) for i in range(processes)
    ]
    queue: multiprocessing.Queue = multiprocessing.Queue()
    started = time.monotonic()
    children = [
        multiprocessing.Process(target=_worker, args=(request, seconds, n, queue))
        for n in per_process
    ]
    for child in children:
        child.start()
    latencies: list[float] = []
    errors = 0
    for _ in children:
        mine, failed = queue.get(timeout=seconds + 60)
        latencies.extend(mine)
        errors += failed
    for child in children:
        child.join()
    elapsed = time.monotonic() - started
    if not latencies:
        return Result(0, elapsed, 0.0, 0.0, errors)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)
