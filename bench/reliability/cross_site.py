"""Cross-site requests, as any web page can make a browser send them (issue 11).

Every control-plane POST and every emulated POST operation (copy, update,
unregister, upgrade, generateToken, the OAuth sign-in), in each body type a
browser sends without a preflight, with each cross-site marker (a foreign
``Origin``, ``Origin: null``, ``Sec-Fetch-Site: cross-site``), and control
bodies that are not JSON. Each must be refused (HTTP 403 or 415) with no
HTTP 500, and leave the exported state, the fault rules and the clock as
they were. The same requests without an ``Origin`` (an API client) must pass.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from bench.servers import SEED_COPY, STANDARD_ID
from mockserver import create_app

RUNTIMES = "/arcgis/admin/notebooks/runtimes"
MARKERS = (
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://localhost.evil.example", "Sec-Fetch-Site": "cross-site"},
)
CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class CrossSiteReport:
    requests: int = 0
    refused: int = 0
    by_status: Counter = field(default_factory=Counter)
    http_500: int = 0
    state_changes: int = 0
    originless_passed: int = 0
    problems: list[str] = field(default_factory=list)


def run_cross_site() -> CrossSiteReport:
    app = create_app(seed=5)
    client = app.test_client()
    report = CrossSiteReport()
    token = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]
    copy_id = client.post(
        f"{RUNTIMES}/{STANDARD_ID}/copy", data={**SEED_COPY, "f": "json", "token": token}
    ).get_json(force=True)["notebookRuntime"]["id"]

    def observed() -> tuple:
        return (
            client.get("/__mock__/state").get_json(force=True),
            client.get("/__mock__/faults").get_json(force=True),
            round(client.get("/__mock__/clock").get_json(force=True)["offsetSeconds"]),
        )

    form = {"f": "json", "token": token}
    targets = {
        "control reset": ("/__mock__/reset", {}),
        "control state": ("/__mock__/state", {"runtimes": []}),
        "control faults": ("/__mock__/faults", {"operation": "*", "status": 503}),
        "control clock": ("/__mock__/clock", {"advance_seconds": 7200}),
        "control seed": ("/__mock__/seed", {"seed": 1}),
        "copy": (f"{RUNTIMES}/{STANDARD_ID}/copy", {**SEED_COPY, **form}),
        "update": (
            f"{RUNTIMES}/{copy_id}/update",
            {"maxCpu": "3", "maxMemory": "5", "maxMemoryUnit": "g", **form},
        ),
        "unregister": (f"{RUNTIMES}/{copy_id}/unregister", form),
        "upgrade": (f"{RUNTIMES}/{copy_id}/upgrade", form),
        "generateToken": (
            "/arcgis/sharing/rest/generateToken",
            {"username": "admin", "password": "admin1234", "f": "json"},
        ),
        "oauth sign-in": (
            "/arcgis/sharing/oauth2/signin",
            {"username": "admin", "password": "admin1234"},
        ),
    }
    baseline = observed()
    for name, (path, fields) in targets.items():
        for marker in MARKERS:
            for content_type in CONTENT_TYPES:
                body, headers = _body(fields, content_type)
                if content_type == "multipart/form-data":
                    response = client.post(
                        path, data=body, content_type=content_type, headers=marker
                    )
                else:
                    response = client.post(path, data=body, headers={**headers, **marker})
                _count(report, response, f"{name} {content_type} {marker}")
                if observed() != baseline:
                    report.state_changes += 1
                    report.problems.append(f"cross-site {name} changed state ({marker})")
                    client.post("/__mock__/reset")
                    baseline = observed()
        if name.startswith("control"):
            # Not cross-site, but not JSON either: what a no-preflight form would send.
            response = client.post(
                path, data=json.dumps(fields), headers={"Content-Type": "text/plain"}
            )
            _count(report, response, f"{name} text/plain without Origin")
            if observed() != baseline:
                report.state_changes += 1
                report.problems.append(f"non-JSON {name} changed state")
    # The same calls from an API client (no Origin) must pass.
    for name in ("control clock", "copy", "generateToken"):
        path, fields = targets[name]
        if name.startswith("control"):
            response = client.post(path, json=fields)
        else:
            response = client.post(path, data=fields)
        if response.status_code == 200 and "error" not in (response.get_json(force=True) or {}):
            report.originless_passed += 1
        else:
            report.problems.append(f"{name} without Origin refused: {response.status_code}")
    return report


def _body(fields: dict, content_type: str) -> tuple[bytes | dict, dict[str, str]]:
    if content_type == "multipart/form-data":
        return {key: str(value) for key, value in fields.items()}, {}
    if content_type == "text/plain":
        return json.dumps(fields).encode(), {"Content-Type": "text/plain"}
    from urllib.parse import urlencode

    encoded = urlencode({key: str(value) for key, value in fields.items()}).encode()
    return encoded, {"Content-Type": content_type}


def _count(report: CrossSiteReport, response, label: str) -> None:
    report.requests += 1
    report.by_status[response.status_code] += 1
    if response.status_code >= 500:
        report.http_500 += 1
        report.problems.append(f"HTTP {response.status_code} for {label}")
    elif response.status_code in (403, 415):
        report.refused += 1
    else:
        report.problems.append(f"not refused ({response.status_code}) for {label}")
