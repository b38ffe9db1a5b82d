"""Every spelling of a sandbox's control URL stays in that sandbox (issue 24).

A client that appends to a ``controlUrl`` may double a slash, keep a trailing one,
or percent-encode one; ``requests`` and ``curl -L`` then follow whatever redirect
the server answers, re-sending a POST on 307/308. Whatever the spelling, a request
addressed to a sandbox must never act on the main deployment: its clock, faults,
journal and runtimes stay as they were. Loopback only; sends each request as
written (http.client does not normalise paths).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

JSON = {"Content-Type": "application/json"}
REDIRECTS = (301, 302, 303, 307, 308)

#: The control plane's writes a sandbox has, each with a body that would change state.
CONTROL_WRITES: dict[str, tuple[str, dict | None]] = {
    "clock": ("POST", {"advance_seconds": 30 * 24 * 3600}),
    "reset": ("POST", {}),
    "seed": ("POST", {"seed": 99}),
    "faults": (
        "POST",
        {"operation": "runtimes", "error": {"code": 500, "message": "boom"}, "times": 1},
    ),
    "journal": ("DELETE", None),
}


def path_forms(control_path: str, verb: str) -> list[str]:
    """Every way a client may spell ``<controlUrl>/<verb>``: doubled, tripled or encoded
    slashes around the id and the verb, and a trailing slash or two."""
    prefix, sandbox_id = control_path.rstrip("/").rsplit("/", 1)
    return [
        f"{prefix}{before_id}{sandbox_id}{before_verb}{verb}{trailing}"
        for before_id in ("/", "//", "/%2F")
        for before_verb in ("/", "//", "///", "/%2F/", "/%2f")
        for trailing in ("", "/", "//")
    ]


def send_following_redirects(
    origin: str, method: str, target: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    """Send ``target`` as written, then follow redirects as requests and curl -L do
    (307/308 re-send the method and body; the others become a GET)."""
    host, port = origin.split("//", 1)[1].rsplit(":", 1)
    url = origin + target
    for _ in range(6):
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            status, location, text = answer.status, answer.getheader("Location"), answer.read()
        finally:
            connection.close()
        if status not in REDIRECTS or not location:
            return status, text
        url = urljoin(url, location)
        if status not in (307, 308):
            method, body = "GET", b""
    return 0, b"more than five redirects"


@dataclass
class SandboxPathReport:
    requests: int = 0
    problems: list[str] = field(default_factory=list)


def _main_state(origin: str) -> dict:
    def get(path: str) -> dict:
        return requests.get(f"{origin}/__mock__/{path}", timeout=30).json()

    return {
        "clock": get("clock")["offsetSeconds"],
        "faults": get("faults")["faults"],
        "journal": len(get("journal")["entries"]),
    }


def run_sandbox_path_forms(origin: str, verbs: tuple[str, ...] = tuple(CONTROL_WRITES)):
    """Each verb in every spelling, against a fresh sandbox; the main deployment must not move."""
    report = SandboxPathReport()
    before = _main_state(origin)
    for verb in verbs:
        sandbox = requests.post(
            f"{origin}/__mock__/sandboxes", data="{}", headers=JSON, timeout=30
        ).json()
        method, payload = CONTROL_WRITES[verb]
        body = b"" if payload is None else json.dumps(payload).encode()
        try:
            for form in path_forms(urlsplit(sandbox["controlUrl"]).path, verb):
                status, text = send_following_redirects(origin, method, form, body, JSON)
                report.requests += 1
                if status >= 500 or status == 0:
                    report.problems.append(f"{method} {form}: HTTP {status} {text[:80]!r}")
                after = _main_state(origin)
                if after != before:
                    report.problems.append(
                        f"{method} {form} changed the main deployment: {before} -> {after}"
                    )
                    before = after
        finally:
            requests.delete(f"{origin}/__mock__/sandboxes/{sandbox['id']}", timeout=30)
    return report
