"""A raw-socket fuzzer of HTTP framing against a served emulator.

Requests are written byte by byte, as no HTTP library would: chunked bodies
split every which way, chunk sizes that lie or do not parse, Content-Length
and Transfer-Encoding together, duplicated or folded headers, raw tabs,
control and non-ASCII bytes in the request line. Each is a copy whose form
would succeed, named for its case; the well-framed ones must be answered
``success`` with the name whole, the malformed ones refused. No answer may be
an HTTP 500, and afterwards no runtime may exist that a refused case named
(whole or cut). Loopback only; one connection at a time.
"""

from __future__ import annotations

import random
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

from bench.servers import SEED_COPY, STANDARD_ID

COPY_PATH = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy"
#: Long enough for the server's own read timeout on a body that stops arriving.
ANSWER_SECONDS = 30.0


@dataclass
class FramingCase:
    label: str
    well_framed: bool
    name: str
    data: bytes = field(repr=False)


@dataclass
class FramingReport:
    requests: int = 0
    well_framed: int = 0
    malformed: int = 0
    by_outcome: Counter = field(default_factory=Counter)
    by_label: Counter = field(default_factory=Counter)
    http_500: int = 0
    state_changes_from_refused: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _form(name: str, token: str) -> bytes:
    return urlencode({**SEED_COPY, "name": name, "f": "json", "token": token}).encode()


def _chunked(body: bytes, rng: random.Random, *, upper: bool = False, ext: bool = False) -> bytes:
    out, i = [], 0
    while i < len(body):
        size = rng.randint(1, max(1, len(body) // 3))
        piece = body[i : i + size]
        i += size
        digits = f"{len(piece):X}" if upper else f"{len(piece):x}"
        if ext:
            digits += ";name=value"
        out.append(digits.encode() + b"\r\n" + piece + b"\r\n")
    return b"".join(out) + b"0\r\n\r\n"


def _head(port: int, lines: list[str] | None = None, *, request_line: bytes | None = None) -> bytes:
    line = request_line or f"POST {COPY_PATH} HTTP/1.1".encode()
    headers = lines if lines is not None else [f"Host: 127.0.0.1:{port}"]
    headers = [*headers, "Content-Type: application/x-www-form-urlencoded", "Connection: close"]
    return line + b"\r\n" + "".join(f"{h}\r\n" for h in headers).encode("latin-1") + b"\r\n"


def cases(port: int, token: str, count: int, seed: int = 11) -> Iterator[FramingCase]:
    """``count`` cases, cycling through the kinds below with random variations."""
    rng = random.Random(seed)
    host = f"Host: 127.0.0.1:{port}"
    te = "Transfer-Encoding: chunked"

    def kinds(i: int) -> list[tuple[str, bool, bytes]]:
        name = f"frm{i}x"
        form = _form(name, token)
        cl = f"Content-Length: {len(form)}"
        odd = rng.choice([b"\t", b"\x01", b"\x7f", b"\xc3\xa9", b"\xff", b" ", b"\x00"])
        return [
            ("chunked", True, _head(port, [host, te]) + _chunked(form, rng)),
            ("chunked upper-case hex", True, _head(port, [host, te]) + _chunked(form, rng, upper=True)),
            ("chunked with extensions", True, _head(port, [host, te]) + _chunked(form, rng, ext=True)),
            ("chunked with a trailer", True, _head(port, [host, te]) + _chunked(form, rng)[:-2] + b"X-Trailer: 1\r\n\r\n"),
            ("content-length", True, _head(port, [host, cl]) + form),
            ("chunk size not hex", False, _head(port, [host, te]) + rng.choice([b"zz", b"0x10", b"-5", b"+5", b"", b" 5"]) + b"\r\n" + form + b"\r\n0\r\n\r\n"),
            ("chunk size beyond the body", False, _head(port, [host, te]) + b"%x\r\n" % (len(form) + rng.randint(1, 10**6)) + form + b"\r\n0\r\n\r\n"),
            ("chunk size below the body", False, _head(port, [host, te]) + b"%x\r\n" % max(1, len(form) // 2) + form + b"\r\n0\r\n\r\n"),
            ("chunk without its CRLF", False, _head(port, [host, te]) + b"%x\r\n" % len(form) + form + b"0\r\n\r\n"),
            ("chunked without the last chunk", False, _head(port, [host, te]) + _chunked(form, rng)[: -len(b"0\r\n\r\n")]),
            ("chunked over the size limit", False, _head(port, [host, te]) + _chunked(_form(name + "y" * (1024 * 1024), token), rng)),
            ("content-length and chunked", False, _head(port, [host, cl, te]) + _chunked(form, rng)),
            ("two content-lengths", False, _head(port, [host, cl, f"Content-Length: {len(form) + 1}"]) + form),
            ("content-length not a number", False, _head(port, [host, rng.choice(["Content-Length: 1e3", "Content-Length: -1", "Content-Length: 0x10", "Content-Length: 1 2"])]) + form),
            ("content-length beyond the body", False, _head(port, [host, f"Content-Length: {len(form) + 50}"]) + form),
            ("unknown transfer coding", False, _head(port, [host, "Transfer-Encoding: gzip, chunked"]) + _chunked(form, rng)),
            ("transfer-encoding not last chunked", False, _head(port, [host, "Transfer-Encoding: chunked, identity", cl]) + form),
            ("folded header", False, _head(port, [host, te, " folded-on"]) + _chunked(form, rng)),
            ("header without a colon", False, _head(port, [host, cl, "NoColonHere"]) + form),
            ("space before the colon", False, _head(port, [host, "Content-Length : 3"]) + form),
            ("two hosts", False, _head(port, [host, "Host: other.example", cl]) + form),
            ("bare LF line ends", False, _head(port, [host, cl]).replace(b"\r\n", b"\n") + form),
            ("control byte in a header", False, _head(port, [host, cl, "X-Odd: a\x01b"]) + form),
            ("raw odd byte in the request line", False, _head(port, [host, cl], request_line=b"POST " + COPY_PATH.encode() + odd + b"?token=" + token.encode() + b" HTTP/1.1") + form),
            ("odd byte in the method", False, _head(port, [host, cl], request_line=b"PO" + odd + b"ST " + COPY_PATH.encode() + b" HTTP/1.1") + form),
            ("unknown HTTP version", False, _head(port, [host, cl], request_line=f"POST {COPY_PATH} HTTP/{rng.choice(['2.0', '0.9', '1', 'x', '1.1.1'])}".encode()) + form),
            ("request line without a version", False, _head(port, [host, cl], request_line=f"POST {COPY_PATH}".encode()) + form),
            ("oversized header", False, _head(port, [host, cl, "X-Big: " + "b" * rng.choice([9000, 70_000])]) + form),
            ("too many headers", False, _head(port, [host, cl, *(f"X-H{n}: v" for n in range(120))]) + form),
        ]  # fmt: skip

    for i in range(count):
        options = kinds(i)
        label, well_framed, data = options[i % len(options)]
        yield FramingCase(label, well_framed, f"frm{i}x", data)


def _exchange(port: int, data: bytes) -> bytes | str:
    """The answer's bytes, or what happened instead (``closed``, ``timeout``, ``reset``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # nothing more comes: a server waiting for more sees EOF
        except OSError:
            pass
        answer = b""
        try:
            while piece := sock.recv(65536):
                answer += piece
        except TimeoutError:
            return answer or "timeout"
        except ConnectionResetError:
            return answer or "reset"
    return answer or "closed"


_STATUS = re.compile(rb"^HTTP/\d\.\d (\d{3})")


def _outcome(answer: bytes | str) -> tuple[str, bool]:
    """(outcome label, whether it reported success)."""
    if isinstance(answer, str):
        return answer, False
    match = _STATUS.match(answer)
    if not match:
        return "not HTTP", False
    status = int(match.group(1))
    body = answer.partition(b"\r\n\r\n")[2]
    if status == 200 and b'"status": "success"' in body:
        return "success", True
    code = re.search(rb'"code": (\d+)', body)
    return (f"HTTP {status}" + (f" code {code.group(1).decode()}" if code else "")), False


def run_framing_fuzz(
    origin: str, token: str, *, count: int = 1500, max_seconds: float = 300.0
) -> FramingReport:
    """``count`` raw requests (stopping early after ``max_seconds``), then one look at the state."""
    port = int(origin.rsplit(":", 1)[1])
    report = FramingReport()
    started = time.monotonic()
    sent: list[FramingCase] = []
    answered_success: set[str] = set()
    for case in cases(port, token, count):
        if time.monotonic() - started > max_seconds:
            report.problems.append(f"stopped after {report.requests} cases: {max_seconds:.0f} s")
            break
        outcome, success = _outcome(_exchange(port, case.data))
        report.requests += 1
        report.by_outcome[outcome] += 1
        report.by_label[case.label] += 1
        sent.append(case)
        if outcome.startswith("HTTP 5") or " code 500" in outcome:
            report.http_500 += 1
            report.problems.append(f"{case.label} ({case.name}): {outcome}")
        if success:
            answered_success.add(case.name)
        if case.well_framed:
            report.well_framed += 1
            if not success:
                report.problems.append(f"well-framed {case.label} ({case.name}) refused: {outcome}")
        else:
            report.malformed += 1
    listed = requests.get(
        f"{origin}/arcgis/admin/notebooks/runtimes",
        params={"f": "json", "token": token},
        timeout=60,
    ).json()["runtimes"]
    names = {runtime["name"] for runtime in listed}
    for case in sent:
        # A name cut short still starts with the case's name ("frm12x" + its padding).
        stored = {name for name in names if name.startswith(case.name)}
        if case.well_framed and case.name in answered_success and case.name not in names:
            report.problems.append(f"{case.label} ({case.name}) acknowledged but not listed")
        if not case.well_framed and stored:
            report.state_changes_from_refused += 1
            report.problems.append(
                f"malformed {case.label} ({case.name}) stored {sorted(stored)[0][:60]!r}"
            )
        if case.well_framed and case.name in names and case.name not in answered_success:
            report.problems.append(f"{case.label} ({case.name}) stored but not acknowledged")
    report.seconds = time.monotonic() - started
    return report
