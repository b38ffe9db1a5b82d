"""``nbmock capture``: a live deployment's observable facts, written as a deployment profile.

What it records (each section stamped with where and when, and the kit's version):

- the flavour and release: the admin root's ``fullVersion`` and ``currentVersion``,
  the sharing root's version, ``enterpriseVersion`` and build, the runtimes list's
  ``currentRuntimeVersion``, and which runtime operations exist (probed on a
  made-up runtime id, which no deployment holds);
- every system runtime, as its own resource answers it, with its manifest;
- the Portal facts the official client reads: ``info``, ``portals/self`` (without
  ``user``) and the ``servers`` listing, with ``<origin>``, ``<host>`` and
  ``<context>`` in place of where the deployment was reached;
- how each refusal the kit can provoke is answered: HTTP status, Content-Type,
  code and messages, the values the kit sent put back as placeholders
  (``{id}``, ``{name}``...). Read-only, the refusals of a missing, bad or
  expired token, an unknown runtime or operation, a GET on an operation and an
  unknown ``f``; with ``allow_writes``, also refused copies and updates.

The kit's safety rules hold throughout (contracts/safety.py): read-only unless
told, every write one the server should refuse or one on a runtime the run
made under its prefix, and the run's leftovers unregistered at the end. No
token, password or user name goes into the profile (the user name only when
asked), and its size is bounded.

The emulator reads the profile (``nbmock serve --profile``); the kit never
imports the emulator, so the refusal names below restate the emulator's
(mockserver/core/profile.py ``REFUSALS``), and tests/test_profiles.py holds them equal.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contracts.calls import SIMPLE_COPY
from contracts.redaction import redact, url_without_credentials
from contracts.reply import ERRORS, Reply, envelope, error_code, error_messages
from contracts.target import Target

FORMAT = 1
RUNTIMES = "notebooks/runtimes"
#: An operation no ArcGIS deployment has: how the server answers an unknown one.
NO_SUCH_OPERATION = "nbmockkitnosuchop"
#: Operations that act on a runtime, probed on a made-up id to learn which exist.
PROBED_OPERATIONS = ("copy", "update", "unregister", "upgrade")
ALWAYS_OPERATIONS = ("runtimes", "runtime", "manifest")
#: A profile is committed: these bound what one capture may put in it.
MAX_SYSTEM_RUNTIMES = 200
MAX_MESSAGE = 1000
MAX_BYTES = 8 * 1024 * 1024
NOT_AN_OBJECT_VALUE = "[1, 2]"

#: The refusals a profile may carry, by name: the emulator's own list, restated.
READ_ONLY_REFUSALS = (
    "token_missing",
    "token_invalid",
    "token_expired",
    "unknown_runtime",
    "unknown_operation",
    "method_not_allowed",
    "unknown_format",
)
WRITE_REFUSALS = ("min_above_max", "bad_unit", "not_an_object", "not_a_number", "not_positive")
REFUSAL_NAMES = READ_ONLY_REFUSALS + WRITE_REFUSALS


def kit_version() -> str:
    try:
        return version("arcgis-notebook-mock")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Capture:
    """One capture run against ``target``; ``profile()`` is what it found."""

    target: Target
    wait_for_expiry: bool = False
    record_username: bool = False
    name: str | None = None
    #: What could not be captured, and why (printed, and kept in the profile).
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log: Callable[[str], None] = print
    #: Whether the flavour has the copies through which the kit provokes refused writes.
    refuse_writes: bool = True

    def stamp(self) -> dict[str, Any]:
        stamp = {
            "from": url_without_credentials(self.target.base_url),
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "kit": kit_version(),
        }
        if self.record_username and self.target.credentials.username:
            stamp["as"] = self.target.credentials.username
        return stamp

    # --- the whole profile ---------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        flavour = self.flavour()
        facts = FLAVOURS[flavour](self)
        self.refuse_writes = flavour in REFUSED_WRITES
        profile: dict[str, Any] = {
            "nbmockProfile": FORMAT,
            "name": self.name or urlsplit(self.target.base_url).netloc,
            "flavour": flavour,
            "captured": self.stamp(),
            **facts,
            "portal": self.portal(),
            "refusals": self.refusals(),
        }
        if self.missing:
            profile["captured"]["notCaptured"] = "; ".join(self.missing)
        return self.scrubbed(profile)

    def flavour(self) -> str:
        """Which flavour of the notebook API the deployment speaks, as the kit judges it."""
        judged = self.target.flavour
        if judged not in FLAVOURS:
            raise RuntimeError(
                f"{self.target.base_url}: cannot tell which notebook API it serves "
                f"({self.target.flavour_evidence}); nothing captured"
            )
        return judged

    # --- portal ----------------------------------------------------------------------

    def portal(self) -> dict[str, Any]:
        section: dict[str, Any] = {"captured": self.stamp()}
        info = self.target.portal("GET", "info")
        if envelope(info.json) == "resource":
            section["info"] = self.placed(info.json)
        me = self.target.portal("GET", "portals/self", token=self.target.token)
        if envelope(me.json) == "resource":
            section["self"] = self.placed({k: v for k, v in me.json.items() if k != "user"})
        servers = self.target.portal("GET", "portals/self/servers", token=self.target.token)
        if envelope(servers.json) == "resource" and isinstance(servers.json.get("servers"), list):
            section["servers"] = self.placed(servers.json["servers"])
        else:
            self.missing.append(f"portal servers ({_short(servers)})")
        return section

    def placed(self, value: Any) -> Any:
        """``value`` with where the deployment was reached replaced by placeholders."""
        parts = urlsplit(self.target.base_url)
        context = parts.path.strip("/").split("/", 1)[0]
        places = [
            (f"{parts.scheme}://{parts.netloc}", "<origin>"),
            (f"{parts.netloc}/{context}", "<host>/<context>"),
        ]
        if isinstance(value, dict):
            return {key: self.placed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.placed(item) for item in value]
        if isinstance(value, str):
            for real, placeholder in places:
                value = value.replace(real, placeholder)
            if context:
                value = value.replace(f"<origin>/{context}", "<origin>/<context>")
        return value

    # --- refusals -----------------------------------------------------------------------

    def refusals(self) -> dict[str, Any]:
        target = self.target
        found: dict[str, Any] = {}
        source = self.source_id()
        made_up = target.made_up_id()

        def keep(name: str, reply: Reply, values: Mapping[str, str]) -> None:
            entry = _refusal(reply, values)
            if entry is None:
                self.missing.append(f"{name} (not refused: {_short(reply)})")
                return
            found[name] = {"captured": self.stamp(), **entry}

        keep("token_missing", target.admin("GET", RUNTIMES, token=None), {})
        keep("token_invalid", target.admin("GET", RUNTIMES, token="not-a-token-" + "z" * 20), {})
        expired = self.expired_token()
        if expired is not None:
            keep("token_expired", target.admin("GET", RUNTIMES, token=expired), {})
        keep("unknown_runtime", target.admin("GET", f"{RUNTIMES}/{made_up}"), {"id": made_up})
        keep(
            "unknown_operation",
            target.admin("GET", f"{RUNTIMES}/{source}/{NO_SUCH_OPERATION}"),
            {"name": NO_SUCH_OPERATION},
        )
        keep(
            "method_not_allowed",
            target.admin("GET", f"{RUNTIMES}/{source}/update"),
            {"method": "GET"},
        )
        keep("unknown_format", target.admin("GET", RUNTIMES, params={"f": "xml"}), {})
        if not self.refuse_writes:
            self.missing.append(
                "refused writes: the kit provokes them through copies, which this flavour lacks"
            )
        elif target.allow_writes:
            found.update(self.write_refusals(source))
        else:
            self.missing.append(
                "refused copies and updates: "
                + ", ".join(WRITE_REFUSALS)
                + " (needs --allow-writes)"
            )
        return found

    def expired_token(self) -> str | None:
        """A token whose minute has run out, or None (and why) when the run cannot wait."""
        target = self.target
        if not target.credentials.can_sign_in:
            self.missing.append("token_expired (needs a user name and password, not a token)")
            return None
        if not (target.can_move_clock or self.wait_for_expiry):
            self.missing.append("token_expired (pass --wait-for-expiry to wait 61 s)")
            return None
        short = target.generate_token(
            target.credentials.username, target.credentials.password, expiration=1
        )
        if target.can_move_clock:
            target.advance_clock(61)
        else:
            self.log("nbmock capture: waiting 61 s for a one-minute token to expire")
            time.sleep(61)
        return short

    def write_refusals(self, source: str) -> dict[str, Any]:
        """Refused copies, then the same refusals of an update to a copy this run made."""
        target = self.target
        refused_forms = {
            "not_positive": ({"minCpu": "0"}, {"name": "minCpu"}),
            "min_above_max": ({"minCpu": "3", "maxCpu": "1"}, {"low": "minCpu", "high": "maxCpu"}),
            "bad_unit": ({"maxMemoryUnit": "G"}, {"name": "maxMemoryUnit", "value": "G"}),
            "not_an_object": (
                {"podPlacementPolicy": NOT_AN_OBJECT_VALUE},
                {"name": "podPlacementPolicy"},
            ),
            "not_a_number": ({"maxCpu": "lots"}, {"name": "maxCpu", "value": "lots"}),
        }
        found: dict[str, Any] = {}
        for name, (change, values) in refused_forms.items():
            form = {**SIMPLE_COPY, "name": target.name("capture-refused"), **change, "f": "json"}
            reply = target.admin(
                "POST", f"{RUNTIMES}/{source}/copy", data=form, refusal_expected=True
            )
            entry = _refusal(reply, values)
            if entry is None:
                self.missing.append(f"{name} (copy not refused: {_short(reply)})")
                continue
            found[name] = {"captured": self.stamp(), **entry}
        made = target.admin(
            "POST",
            f"{RUNTIMES}/{source}/copy",
            data={**SIMPLE_COPY, "name": target.name("capture-update"), "f": "json"},
        )
        runtime = (made.json or {}).get("notebookRuntime") if isinstance(made.json, dict) else None
        if not isinstance(runtime, dict):
            self.notes.append(f"no copy to send refused updates to: {_short(made)}")
            return found
        update = {"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g", "f": "json"}
        for name, (change, values) in refused_forms.items():
            if name == "not_positive":
                change = {"maxCpu": "0"}
                values = {"name": "maxCpu"}
            reply = target.admin(
                "POST", f"{RUNTIMES}/{runtime['id']}/update", data={**update, **change}
            )
            entry = _refusal(reply, values)
            if name in found and entry is not None and entry["messages"] != found[name]["messages"]:
                self.notes.append(
                    f"{name}: an update words it {entry['messages']!r}, a copy "
                    f"{found[name]['messages']!r}; the profile keeps the copy's"
                )
        return found

    # --- helpers ----------------------------------------------------------------------

    def source_id(self) -> str:
        systems = self.target.system_runtimes()
        if not systems:
            raise RuntimeError(f"{self.target.base_url} lists no system runtime")
        return systems[0]["id"]

    def scrubbed(self, profile: dict[str, Any]) -> dict[str, Any]:
        """The profile with no secret and, unless asked, no user name; refused if too large.

        A deployment may echo what it was sent anywhere (a refusal quoting the token, a
        URL carrying it, a name holding the password): every string, keys included, loses
        each token and password the kit has held, however spelled, before anything is
        written; the written text is then checked once more as a whole.
        """
        username = self.target.credentials.username
        if username and not self.record_username:
            profile = self.walked(profile, lambda text: self.without_username(text, username))
        profile = self.walked(profile, self.without_secrets)
        text = json.dumps(profile, ensure_ascii=False)
        if redact(text) != text:
            raise RuntimeError("a token or password reached the profile; nothing written")
        if len(text.encode()) > MAX_BYTES:
            raise RuntimeError(f"the profile would be larger than {MAX_BYTES} bytes")
        return profile

    def walked(self, value: Any, change: Callable[[str], str]) -> Any:
        """``value`` with ``change`` applied to every string in it, keys included."""
        if isinstance(value, dict):
            return {change(key): self.walked(item, change) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walked(item, change) for item in value]
        return change(value) if isinstance(value, str) else value

    def without_secrets(self, text: str) -> str:
        cleaned = redact(text)
        if cleaned != text:
            self.notes.append("the deployment echoed a token or password; it became <redacted>")
        return cleaned

    def without_username(self, text: str, username: str) -> str:
        """``text`` with the signed-in user's name replaced where it stands as a name.

        As a word only, and never as a URL path segment: a user called ``admin`` must
        not turn the servers' ``<origin>/<context>/admin`` into ``.../<username>``
        (``/users/<name>``, percent-encoded or not, is a name, though).
        """
        name = re.escape(username)
        pattern = rf"(?:(?<![\w.@/-])|(?<=/users/)|(?<=users%2[Ff])){name}(?![\w@-])"
        cleaned = re.sub(pattern, "<username>", text)
        if cleaned != text:
            self.notes.append("the signed-in user's name became <username>")
        return cleaned


def _kubernetes(capture: Capture) -> dict[str, Any]:
    """Release and system runtimes of Enterprise on Kubernetes."""
    target = capture.target
    root = target.admin("GET", "")
    sharing = target.request("GET", "sharing/rest", token=None)
    listed = target.admin("GET", RUNTIMES)
    release: dict[str, Any] = {"captured": capture.stamp()}
    if envelope(root.json) == "resource":
        for key in ("fullVersion", "currentVersion"):
            if key in root.json:
                release[key] = root.json[key]
    else:
        capture.missing.append(f"admin root ({_short(root)})")
    _sharing_facts(sharing, release)
    body = listed.json if isinstance(listed.json, dict) else {}
    if "currentRuntimeVersion" in body:
        release["currentRuntimeVersion"] = body["currentRuntimeVersion"]
    release["operations"] = _operations(capture)
    systems = [r for r in body.get("runtimes", []) if not r.get("copied")]
    return {
        "release": release,
        "runtimes": {"captured": capture.stamp(), "system": _system_runtimes(capture, systems)},
    }


def _operations(capture: Capture) -> list[str]:
    """The runtime operations that exist: each answers a made-up runtime otherwise than an
    operation that exists nowhere does."""
    target = capture.target
    made_up = target.made_up_id()
    unknown = target.admin(
        "POST", f"{RUNTIMES}/{made_up}/{NO_SUCH_OPERATION}", refusal_expected=True
    )
    nowhere = _shape(unknown, NO_SUCH_OPERATION)
    operations = list(ALWAYS_OPERATIONS)
    for operation in PROBED_OPERATIONS:
        form = {"name": target.name("capture-probe"), **SIMPLE_COPY} if operation == "copy" else {}
        reply = target.admin(
            "POST", f"{RUNTIMES}/{made_up}/{operation}", data=form, refusal_expected=True
        )
        if _shape(reply, operation) != nowhere:
            operations.append(operation)
    return sorted(operations)


def _notebook_server(capture: Capture) -> dict[str, Any]:
    """Release and Esri's runtimes of a standalone ArcGIS Notebook Server.

    Its admin root names the release as ``version`` [doc: notebook-server root]; its
    runtime operations are not probed: register and restore act on the whole site, so
    the profile stays silent on them and the release's own stand.
    """
    target = capture.target
    root = target.admin("GET", "")
    sharing = target.request("GET", "sharing/rest", token=None)
    listed = target.admin("GET", RUNTIMES)
    release: dict[str, Any] = {"captured": capture.stamp()}
    version = root.json.get("version") if envelope(root.json) == "resource" else None
    try:
        release["currentVersion"] = float(version)
    except (TypeError, ValueError):
        capture.missing.append(f"admin root version ({_short(root)})")
    _sharing_facts(sharing, release)
    body = listed.json if isinstance(listed.json, dict) else {}
    if "currentRuntimeVersion" in body:
        release["currentRuntimeVersion"] = body["currentRuntimeVersion"]
    capture.missing.append("runtime operations (register and restore act on the whole site)")
    esri = [r for r in body.get("runtimes", []) if r.get("esriProvidedRuntime")]
    return {
        "release": release,
        "runtimes": {"captured": capture.stamp(), "system": _system_runtimes(capture, esri)},
    }


def _sharing_facts(sharing: Reply, release: dict[str, Any]) -> None:
    if envelope(sharing.json) == "resource":
        for key, into in (
            ("currentVersion", "portalVersion"),
            ("enterpriseVersion", "enterpriseVersion"),
            ("enterpriseBuild", "enterpriseBuild"),
        ):
            if key in sharing.json:
                release[into] = sharing.json[key]


def _system_runtimes(capture: Capture, systems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each runtime as its own resource answers it, with its manifest."""
    target = capture.target
    if len(systems) > MAX_SYSTEM_RUNTIMES:
        raise RuntimeError(f"more than {MAX_SYSTEM_RUNTIMES} system runtimes: not a profile")
    runtimes = []
    for listed_runtime in systems:
        runtime_id = listed_runtime["id"]
        own = target.admin("GET", f"{RUNTIMES}/{runtime_id}")
        entry: dict[str, Any] = {
            "runtime": own.json if envelope(own.json) == "resource" else listed_runtime
        }
        manifest = target.admin("GET", f"{RUNTIMES}/{runtime_id}/manifest")
        if envelope(manifest.json) == "resource":
            entry["manifest"] = manifest.json
        else:
            capture.missing.append(f"manifest of {runtime_id} ({_short(manifest)})")
        runtimes.append(entry)
    return runtimes


#: The flavours whose refused writes the kit can provoke (through copies).
REFUSED_WRITES = frozenset({"kubernetes"})
#: How each flavour's release and runtimes are captured; portal and refusals are shared.
FLAVOURS: dict[str, Callable[[Capture], dict[str, Any]]] = {
    "kubernetes": _kubernetes,
    "notebook-server": _notebook_server,
}


def _shape(reply: Reply, operation: str) -> tuple[Any, ...]:
    messages = tuple(m.replace(operation, "<op>") for m in error_messages(reply.json))
    return reply.status, error_code(reply.json), messages


def _refusal(reply: Reply, values: Mapping[str, str]) -> dict[str, Any] | None:
    """A refusal as a profile keeps it, or None when the answer was not an ArcGIS error."""
    if envelope(reply.json) not in ERRORS:
        return None
    messages = [_bounded_template(message, values) for message in error_messages(reply.json)]
    return {
        "status": reply.status,
        "contentType": reply.headers.get("Content-Type", ""),
        "code": error_code(reply.json),
        "messages": [message for message in messages if message] or ["(no message)"],
    }


def _bounded_template(message: str, values: Mapping[str, str]) -> str:
    """``_template`` of as much of ``message`` as fits in ``MAX_MESSAGE``: cut before it is
    templated, never through a placeholder or a doubled brace, which can only lengthen it."""
    size = MAX_MESSAGE
    while True:
        text = _template(message[:size], values)
        if len(text) <= MAX_MESSAGE:
            return text
        size -= len(text) - MAX_MESSAGE


def _template(message: str, values: Mapping[str, str]) -> str:
    """``message`` with the values the kit sent as ``{placeholders}`` (braces doubled)."""
    text = message.replace("{", "{{").replace("}", "}}")
    for name, value in sorted(values.items(), key=lambda item: -len(item[1])):
        for quote in ("'", '"'):
            text = text.replace(f"{quote}{value}{quote}", f"{quote}{{{name}}}{quote}")
        if len(value) >= 3:
            text = text.replace(value, "{" + name + "}")
    return text


def _short(reply: Reply) -> str:
    return redact(f"HTTP {reply.status}, {reply.text[:120]!r}")


def write_profile(path: Path, profile: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def capture(
    target: Target,
    out: Path,
    *,
    wait_for_expiry: bool = False,
    record_username: bool = False,
    name: str | None = None,
    log: Callable[[str], None] = print,
) -> Capture:
    """Capture ``target`` into ``out``; whatever the run made is unregistered, come what may."""
    run = Capture(
        target,
        wait_for_expiry=wait_for_expiry,
        record_username=record_username,
        name=name,
        log=log,
    )
    try:
        profile = run.profile()
    finally:
        with contextlib.suppress(Exception):
            left = target.cleanup()
            if left:
                run.notes.append(f"could not unregister {', '.join(left)}")
    write_profile(out, profile)
    return run
