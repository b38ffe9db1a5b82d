"""The auth matrix: every admin operation × every way of asking without the right.

Each cell must be refused with an authentication or authorisation code
(499, 498 or 403), never a 500, and leave the deployment exactly as it was.
The same operations with a valid administrator token succeed, so a cell
refused for another reason (a bad parameter, a wrong path) is caught.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask

from bench.servers import SEED_COPY, STANDARD_ID
from mockserver import create_app
from mockserver.auth.tokens import Token, TokenService
from mockserver.core import deployment
from mockserver.core.clock import Clock

AUTH_CODES = {403, 498, 499}
ADMIN = "/arcgis/admin"
RUNTIMES = f"{ADMIN}/notebooks/runtimes"


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    # "{copy}" stands for a copied runtime's id; "{notebook}", "{host}" and "{item}" for an
    # open notebook, the deployment or container hosting it, and a Notebook item, all seeded
    # afresh for each operation so that its positive control has something of its own to act on.
    path: str
    form: dict[str, str] = field(default_factory=dict)
    admin_root: bool = False  # needs any admin privilege, not the notebook ones
    changes: bool = False  # done, it must change the deployment (so its refusals are real)
    # Whom it refuses for lacking a privilege. The standalone flavour's notebook resources
    # accept "Create and Edit Notebooks" (pub) or manageServers (ops) alone, Kubernetes'
    # neither (docs/FIDELITY.md N18, J16): there only the Viewer lacks the right.
    lacking: tuple[str, ...] = ("pub", "viewer", "ops")


OPERATIONS = (
    Operation("admin root", "GET", ADMIN, admin_root=True),
    Operation("notebooks", "GET", f"{ADMIN}/notebooks"),
    Operation("list runtimes", "GET", RUNTIMES),
    Operation("get runtime", "GET", f"{RUNTIMES}/{STANDARD_ID}"),
    Operation("manifest (GET)", "GET", f"{RUNTIMES}/{STANDARD_ID}/manifest"),
    Operation("manifest (POST)", "POST", f"{RUNTIMES}/{STANDARD_ID}/manifest"),
    Operation("copy", "POST", f"{RUNTIMES}/{STANDARD_ID}/copy", SEED_COPY),
    Operation(
        "update",
        "POST",
        RUNTIMES + "/{copy}/update",
        {"maxCpu": "2", "maxMemory": "6", "maxMemoryUnit": "g"},
    ),
    Operation("unregister", "POST", RUNTIMES + "/{copy}/unregister"),
    Operation("upgrade", "POST", RUNTIMES + "/{copy}/upgrade"),
    # Notebooks at work (docs/FIDELITY.md J rows): the reads an idle site answers.
    Operation("notebook deployments", "GET", f"{ADMIN}/notebooks/deployments"),
    Operation("notebook jobs", "GET", f"{ADMIN}/notebooks/jobs"),
    Operation("notebook configuration", "GET", f"{ADMIN}/notebooks/configuration"),
    Operation("notebook", "GET", f"{ADMIN}/notebooks/{{notebook}}"),
    Operation("deployment", "GET", f"{ADMIN}/notebooks/deployments/{{host}}"),
    Operation("deployment notebooks", "GET", f"{ADMIN}/notebooks/deployments/{{host}}/notebooks"),
    Operation("notebook job", "GET", f"{ADMIN}/notebooks/jobs/{{job}}"),
    Operation("job", "GET", f"{ADMIN}/jobs/{{job}}"),
    # ... and the writes (J rows: open, execute, close, terminate).
    Operation(
        "open notebook",
        "POST",
        f"{ADMIN}/notebooks/openNotebook",
        {"itemId": "{item}"},
        changes=True,
    ),
    Operation(
        "execute notebook",
        "POST",
        f"{ADMIN}/notebooks/executeNotebook",
        {"itemId": "{item}"},
        changes=True,
    ),
    Operation(
        "close notebook", "POST", f"{ADMIN}/notebooks/{{notebook}}/closeNotebook", changes=True
    ),
    Operation(
        "terminate deployment",
        "POST",
        f"{ADMIN}/notebooks/deployments/{{host}}/terminateDeployment",
        changes=True,
    ),
)

CONTAINER = f"{ADMIN}/system/containers/{{host}}"

# The standalone Notebook Server (docs/FIDELITY.md J rows): its own workload routes, reads
# and writes; its runtimes are the same views as Kubernetes', asked above.
# Who lacks the standalone's notebook privileges; its properties need an admin privilege.
SERVER_USERS = ("viewer",)
ADMIN_USERS = ("pub", "viewer")
NOTEBOOK_SERVER_OPERATIONS = (
    Operation("notebooks", "GET", f"{ADMIN}/notebooks", lacking=SERVER_USERS),
    Operation("notebook", "GET", f"{ADMIN}/notebooks/{{notebook}}", lacking=SERVER_USERS),
    Operation("system", "GET", f"{ADMIN}/system", lacking=SERVER_USERS),
    Operation("properties", "GET", f"{ADMIN}/system/properties", lacking=ADMIN_USERS),
    Operation(
        "update properties",
        "POST",
        f"{ADMIN}/system/properties/update",
        {"properties": json.dumps({"idleNotebookThreshold": 600})},
        changes=True,
        lacking=ADMIN_USERS,
    ),
    Operation("containers", "GET", f"{ADMIN}/system/containers", lacking=SERVER_USERS),
    Operation("container", "GET", CONTAINER, lacking=SERVER_USERS),
    Operation("container sessions", "GET", f"{CONTAINER}/sessions", lacking=SERVER_USERS),
    Operation("container notebooks", "GET", f"{CONTAINER}/notebooks", lacking=SERVER_USERS),
    Operation("container statistics", "GET", f"{CONTAINER}/statistics", lacking=SERVER_USERS),
    Operation("jobs", "GET", f"{ADMIN}/system/jobs", lacking=SERVER_USERS),
    Operation("job", "GET", f"{ADMIN}/system/jobs/{{job}}", lacking=SERVER_USERS),
    Operation(
        "container notebook",
        "GET",
        f"{CONTAINER}/notebooks/{{notebook}}",
        lacking=SERVER_USERS,
    ),
    Operation(
        "close container notebook (older path)",
        "POST",
        f"{CONTAINER}/notebooks/{{notebook}}/close",
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "open notebook",
        "POST",
        f"{ADMIN}/notebooks/openNotebook",
        {"itemId": "{item}"},
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "execute notebook",
        "POST",
        f"{ADMIN}/notebooks/executeNotebook",
        {"itemId": "{item}"},
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "close notebook",
        "POST",
        f"{ADMIN}/notebooks/{{notebook}}/closeNotebook",
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "close notebook (older path)",
        "POST",
        f"{ADMIN}/notebooks/{{notebook}}/close",
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "close container notebook",
        "POST",
        f"{CONTAINER}/notebooks/{{notebook}}/closeNotebook",
        changes=True,
        lacking=SERVER_USERS,
    ),
    Operation(
        "terminate container",
        "POST",
        f"{CONTAINER}/terminateContainer",
        changes=True,
        lacking=SERVER_USERS,
    ),
)

OPERATIONS_BY_FLAVOUR = {
    "kubernetes": OPERATIONS,
    "notebook-server": NOTEBOOK_SERVER_OPERATIONS,
}


@dataclass
class AuthReport:
    operations: int = 0
    cells: int = 0
    refused: int = 0
    by_condition: Counter = field(default_factory=Counter)
    by_code: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list, repr=False)
    passwords: list[str] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Attempt:
    condition: str
    token: str | None
    channel: str  # "param" (query for GET, form for POST), "header", "post-query"
    referer: str | None = None


def users_file(directory: Path) -> tuple[Path, dict[str, str]]:
    """A users TOML with random passwords: an administrator and three who lack a privilege."""
    passwords = {name: secrets.token_urlsafe(12) for name in ("boss", "pub", "ops", "viewer")}
    text = f"""
[users.boss]
password = "{passwords["boss"]}"
role = "Administrator"

[users.pub]
password = "{passwords["pub"]}"
role = "Publisher"

[users.ops]
password = "{passwords["ops"]}"
privileges = ["portal:admin:manageServers"]

[users.viewer]
password = "{passwords["viewer"]}"
role = "Viewer"
"""
    path = directory / "users.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path, passwords


class Deployment:
    """An in-process emulator with a movable clock, and ways to sign in to it."""

    def __init__(self, users: Path, passwords: dict[str, str], flavour: str = "kubernetes") -> None:
        self.clock = Clock()
        self.app: Flask = create_app(users=users, clock=self.clock, flavour=flavour)
        self.client = self.app.test_client()
        self.passwords = passwords
        self.issued: list[str] = []
        # Issued before the clock moves two minutes on, for one minute: expired.
        self.expired = self.token("boss", expiration="1")
        self.clock.advance(120)
        self.referer_token = self.token("boss", client="referer", referer="https://app.example")
        self.user_tokens = {user: self.token(user) for user in ("pub", "ops", "viewer")}

    def token(self, username: str, **extra: str) -> str:
        answer = self.client.post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": username, "password": self.passwords[username], "f": "json", **extra},
        ).get_json(force=True)
        self.issued.append(answer["token"])
        return answer["token"]

    def snapshot(self) -> str:
        dep = deployment.of(self.app)
        meta = {key: dep.store.get_meta(key) for key in ("id_sequence", "last_revision")}
        work = dep.workload.snapshot().to_json()
        return json.dumps([dep.store.list_runtimes(), meta, work], sort_keys=True)

    def seed_work(self, admin_token: str, op: Operation) -> dict[str, str]:
        """The records one operation acts on: an open notebook of the administrator, its
        host, a Notebook item, and where the operation needs them a running job and a
        copied runtime."""
        opened = self.client.post(
            "/__mock__/workload/notebooks", json={"notebooks": [{"username": "boss"}]}
        ).get_json(force=True)["notebooks"][0]
        item = self.client.post(
            "/__mock__/workload/items", json={"items": [{"owner": "boss", "title": "Matrix"}]}
        ).get_json(force=True)["items"][0]
        names = {"notebook": opened["id"], "host": opened["hostId"], "item": item["id"]}
        if "{job}" in op.path:
            started = self.client.post(
                f"{ADMIN}/notebooks/executeNotebook",
                data={"itemId": item["id"], "f": "json", "token": admin_token},
            ).get_json(force=True)
            names["job"] = started["jobId"]
        if "{copy}" in op.path:
            answer = self.client.post(
                f"{RUNTIMES}/{STANDARD_ID}/copy",
                data={**SEED_COPY, "f": "json", "token": admin_token},
            ).get_json(force=True)
            names["copy"] = answer["notebookRuntime"]["id"]
        return names

    def call(self, op: Operation, attempt: Attempt, fmt: str, names: dict[str, str]):
        path = fill(op.path, names)
        query = {"f": fmt}
        form = {key: fill(value, names) for key, value in op.form.items()}
        headers = {}
        if attempt.referer:
            headers["Referer"] = attempt.referer
        if attempt.token is not None:
            if attempt.channel == "header":
                headers["X-Esri-Authorization"] = f"Bearer {attempt.token}"
            elif attempt.channel == "post-query" or op.method == "GET":
                query["token"] = attempt.token
            else:
                form["token"] = attempt.token
        if op.method == "GET":
            return self.client.get(path, query_string={**form, **query}, headers=headers)
        return self.client.post(path, query_string=query, data=form, headers=headers)


def attempts_for(dep: Deployment, op: Operation) -> list[Attempt]:
    other = TokenService(secrets.token_hex(32)).issue(Token("boss", dep.clock.now_ms() + 3_600_000))
    valid = dep.token("boss")
    attempts = [
        Attempt("no token", None, "param"),
        Attempt("no token", "", "param"),
        Attempt("malformed", "not-a-token", "param"),
        Attempt("malformed", "not-a-token", "header"),
        Attempt("malformed", valid[:-6], "param"),
        Attempt("malformed", valid[::-1], "param"),
        Attempt("malformed", other, "param"),  # signed by another deployment
        Attempt("malformed", other, "header"),
    ]
    # Expired: issued for one minute, then the clock moves on by two.
    attempts += [Attempt("expired", dep.expired, channel) for channel in ("param", "header")]
    bound = dep.referer_token
    attempts += [
        Attempt("wrong referer", bound, "param", referer="https://elsewhere.example"),
        Attempt("wrong referer", bound, "header", referer="https://elsewhere.example"),
        Attempt("wrong referer", bound, "param", referer=None),
    ]
    lacking = ("pub", "viewer") if op.admin_root else op.lacking
    for user in lacking:
        attempts += [
            Attempt("valid without privilege", dep.user_tokens[user], channel)
            for channel in ("param", "header")
        ]
    if op.method == "POST":
        attempts.append(Attempt("token only in POST query string", valid, "post-query"))
    return attempts


def fill(text: str, names: dict[str, str]) -> str:
    for name, value in names.items():
        text = text.replace("{" + name + "}", value)
    return text


def run_auth_matrix(
    workdir: Path,
    users: Path | None = None,
    passwords: dict[str, str] | None = None,
    flavours: tuple[str, ...] = tuple(OPERATIONS_BY_FLAVOUR),
) -> AuthReport:
    """Every cell of the matrix, in process, for each flavour's operations;
    ``users``/``passwords`` as ``users_file`` makes them."""
    if users is None or passwords is None:
        users, passwords = users_file(workdir)
    report = AuthReport(passwords=list(passwords.values()))
    for flavour in flavours:
        run_flavour(Deployment(users, passwords, flavour), flavour, report)
    return report


def run_flavour(dep: Deployment, flavour: str, report: AuthReport) -> None:
    admin_token = dep.token("boss")
    for op in OPERATIONS_BY_FLAVOUR[flavour]:
        names = dep.seed_work(admin_token, op)
        report.operations += 1
        for attempt in attempts_for(dep, op):
            for fmt in ("json", "pjson", "html"):
                before = dep.snapshot()
                response = dep.call(op, attempt, fmt, names)
                report.cells += 1
                report.by_condition[attempt.condition] += 1
                verdict = refusal(response, fmt)
                label = f"{flavour}: {op.name} × {attempt.condition} ({attempt.channel}, f={fmt})"
                if verdict is None:
                    report.problems.append(f"{label}: not refused (HTTP {response.status_code})")
                else:
                    report.refused += 1
                    report.by_code[verdict] += 1
                if dep.snapshot() != before:
                    report.problems.append(f"{label}: the deployment changed")
        # The positive control: the same operation with the right token goes through.
        before = dep.snapshot()
        answer = dep.call(op, Attempt("valid", admin_token, "param"), "json", names)
        body = answer.get_json(silent=True) or {}
        if answer.status_code != 200 or body.get("status") == "error" or "error" in body:
            report.problems.append(
                f"{flavour}: {op.name}: not done even with an administrator token ({body})"
            )
        elif op.changes and dep.snapshot() == before:
            report.problems.append(f"{flavour}: {op.name}: done, yet the deployment is unchanged")
    report.issued_tokens += dep.issued


def refusal(response, fmt: str) -> int | None:
    """The ArcGIS code of an auth refusal, or None if the answer was anything else."""
    if response.status_code >= 500:
        return None
    if fmt == "html" and response.status_code == 302:
        # A browser without a usable token is sent to sign in (docs/FIDELITY.md H9).
        location = urlsplit(response.headers.get("Location", ""))
        if location.path != f"{ADMIN}/login":
            return None
        return 498 if parse_qs(location.query).get("reason") == ["expired"] else 499
    if fmt == "html":
        text = response.get_data(as_text=True)
        for code in AUTH_CODES:
            if f"Error: {code}" in text:
                return code
        return None
    try:
        body = response.get_json(force=True)
    except Exception:
        return None
    code = body.get("code") if body.get("status") == "error" else None
    if code is None and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
    return code if code in AUTH_CODES else None
