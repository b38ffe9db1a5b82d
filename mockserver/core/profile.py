"""A deployment profile: the facts of one real Enterprise, laid over the emulator's defaults.

``nbmock capture`` (the contract kit) writes a profile from a live deployment;
``nbmock serve --profile FILE`` (and ``Settings.profile``) serves it. A profile
is data, JSON, in four optional sections, each with where and when it was
captured (``captured``):

- ``release``: ``fullVersion``, the admin root's ``currentVersion``,
  ``currentRuntimeVersion``, the sharing root's ``currentVersion``,
  ``enterpriseVersion`` and ``enterpriseBuild``, and which runtime
  ``operations`` exist;
- ``runtimes``: the system runtimes, each ``{"runtime": {...}, "manifest": {...}}``;
- ``portal``: the bodies of ``info``, ``portals/self`` (without ``user``) and of
  the ``servers`` listing, with ``<origin>``, ``<host>`` and ``<context>`` standing
  for where the deployment is reached;
- ``refusals``: how each refusal the kit provokes is answered (HTTP status,
  content type, code, messages), by name (``REFUSALS``).

Where a profile is silent the defaults stand; where it says otherwise it wins.
Everything is checked when the profile is read: a bad one is a ``ProfileError``
naming the file, the place and the problem, before the emulator starts.
Pure Python: no Flask, no store.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mockserver.core import messages
from mockserver.core.errors import ArcGISError, InvalidParameters
from mockserver.core.release import Release
from mockserver.notebookserver import model as server_model
from mockserver.runtimes import model
from mockserver.runtimes.catalogue import Catalogue
from mockserver.runtimes.manifests import checked as checked_manifest
from mockserver.runtimes.releases import RELEASES

#: The profile format this emulator reads; a newer one is refused, not half-read.
FORMAT = 1
#: A profile is committed beside the tests that use it: a few hundred runtimes of a few
#: thousand libraries at most. Larger is a mistake (a whole journal pasted in, say).
MAX_BYTES = 8 * 1024 * 1024
SECTIONS = ("release", "runtimes", "portal", "refusals")
TOP_KEYS = {"nbmockProfile", "name", "flavour", "captured", *SECTIONS}


@dataclass(frozen=True)
class Refusal:
    """A refusal the kit can provoke, with the emulator's own wording of it."""

    template: str
    code: int
    #: Provoking it needs a write the server would refuse (``--allow-writes``).
    needs_writes: bool = False


#: Every refusal a profile may reword, by the name ``nbmock capture`` gives it. The kit
#: restates these names (contracts/capture.py); tests/test_profiles.py holds them equal.
REFUSALS: dict[str, Refusal] = {
    "token_missing": Refusal(messages.TOKEN_REQUIRED, 499),
    "token_invalid": Refusal(messages.TOKEN_NOT_DECRYPTED, 498),
    "token_expired": Refusal(messages.TOKEN_EXPIRED, 498),
    "unknown_runtime": Refusal(messages.RUNTIME_NOT_FOUND, 404),
    "unknown_operation": Refusal(messages.NO_SUCH_RESOURCE, 404),
    "method_not_allowed": Refusal(messages.METHOD_NOT_SUPPORTED, 405),
    "unknown_format": Refusal(messages.BAD_FORMAT, 400),
    "min_above_max": Refusal(messages.MIN_ABOVE_MAX, 400, needs_writes=True),
    "bad_unit": Refusal(messages.BAD_UNIT, 400, needs_writes=True),
    "not_an_object": Refusal(messages.NOT_AN_OBJECT, 400, needs_writes=True),
    "not_a_number": Refusal(messages.NOT_A_NUMBER, 400, needs_writes=True),
    "not_positive": Refusal(messages.NOT_POSITIVE, 400, needs_writes=True),
}


class ProfileError(ValueError):
    """A profile that cannot be served; the message names the file, the place and why."""


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _matcher(template: str) -> re.Pattern[str]:
    """A regex that reads ``template``'s values back out of a message it made."""
    pattern = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>.*?)"
    return re.compile(pattern + r"\Z", re.DOTALL)


_MATCHERS = {name: _matcher(refusal.template) for name, refusal in REFUSALS.items()}


@dataclass(frozen=True)
class Wording:
    """How the profiled deployment answers one refusal."""

    messages: tuple[str, ...]
    code: int | None = None
    status: int | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Profile:
    """A checked profile; ``Profile.read(path)`` or ``Profile.from_mapping(data)``."""

    name: str
    flavour: str = "kubernetes"
    captured: Mapping[str, Any] = field(default_factory=dict)
    release_facts: Mapping[str, Any] = field(default_factory=dict)
    system_runtimes: tuple[dict[str, Any], ...] = ()
    manifests: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    portal_self: Mapping[str, Any] | None = None
    servers: tuple[dict[str, Any], ...] | None = None
    portal_info: Mapping[str, Any] | None = None
    wordings: Mapping[str, Wording] = field(default_factory=dict)
    sections: tuple[str, ...] = ()

    # --- reading ----------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path) -> Profile:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ProfileError(f"profile {path}: cannot be read ({error.strerror})") from None
        if len(raw) > MAX_BYTES:
            raise ProfileError(f"profile {path}: larger than {MAX_BYTES} bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProfileError(f"profile {path}: not UTF-8 text") from None
        except ValueError as error:
            raise ProfileError(f"profile {path}: not JSON ({error})") from None
        except RecursionError:
            raise ProfileError(f"profile {path}: nested too deeply") from None
        return cls.from_mapping(data, source=str(path), default_name=path.stem)

    @classmethod
    def from_mapping(
        cls, data: Any, *, source: str = "profile", default_name: str = "profile"
    ) -> Profile:
        where = _Where(source)
        if not isinstance(data, dict):
            raise where.error("", "must be a JSON object")
        unknown = sorted(str(key)[:40] for key in set(data) - TOP_KEYS)
        if unknown:
            raise where.error("", f"unknown key(s) {', '.join(unknown)}")
        if data.get("nbmockProfile", FORMAT) != FORMAT:
            raise where.error("nbmockProfile", f"this emulator reads format {FORMAT}")
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise where.error("name", "must be a non-empty line of text")
        flavour = data.get("flavour", "kubernetes")
        if flavour not in FLAVOURS:
            raise where.error("flavour", f"must be one of {', '.join(FLAVOURS)}")
        release = _release_facts(data.get("release"), where.at("release"))
        runtimes, manifests = _runtimes(data.get("runtimes"), where.at("runtimes"), flavour)
        portal_self, servers, info = _portal(data.get("portal"), where.at("portal"))
        return cls(
            name=name.strip()[:120],
            flavour=flavour,
            captured=_captured(data.get("captured"), where.at("captured")),
            release_facts=release,
            system_runtimes=runtimes,
            manifests=manifests,
            portal_self=portal_self,
            servers=servers,
            portal_info=info,
            wordings=_wordings(data.get("refusals"), where.at("refusals")),
            sections=tuple(section for section in SECTIONS if data.get(section)),
        )

    # --- what the emulator asks of it ------------------------------------------------

    def release(self, default: Release, releases: Mapping[str, Release] = RELEASES) -> Release:
        """The release to emulate: the one of ``releases`` (the flavour's) nearest the
        profile's, with its facts."""
        facts = self.release_facts
        if not facts:
            return default
        base = releases.get(_release_name(facts.get("currentVersion")) or "", default)
        if "currentVersion" in facts and base is default:
            base = _nearest_release(facts["currentVersion"], releases)
        changes: dict[str, Any] = {}
        for key, attribute in (
            ("fullVersion", "full_version"),
            ("currentRuntimeVersion", "runtime_version"),
            ("enterpriseBuild", "enterprise_build"),
            ("currentVersion", "admin_version"),
            ("portalVersion", "portal_version"),
            ("enterpriseVersion", "enterprise_version"),
        ):
            if key in facts:
                changes[attribute] = facts[key]
        if "operations" in facts:
            changes["operations"] = frozenset(facts["operations"])
        changes["provenance"] = f"profile {self.name}, on release {base.name}'s defaults"
        return replace(base, **changes)

    def catalogue(self) -> Catalogue:
        """The system runtimes to seed and their manifests; the defaults if none were captured."""
        if not self.system_runtimes:
            return Catalogue()
        return Catalogue(self.system_runtimes, self.manifests)

    def refusal(self, error: ArcGISError) -> tuple[ArcGISError, Wording | None]:
        """``error`` worded as the profiled deployment words it, and the wording used."""
        if not self.wordings:
            return error, None
        worded: list[str] = []
        used: Wording | None = None
        for message in error.messages:
            name, values = _recognised(message, error.code)
            wording = self.wordings.get(name) if name else None
            if wording is None:
                worded.append(message)
                continue
            used = used or wording
            worded += [_fill(template, values) for template in wording.messages]
        if used is None:
            return error, None
        code = used.code if used.code is not None else error.code
        # A copy keeps the error's class: the directory sends a browser to sign in on 498/499.
        reworded = copy.copy(error)
        reworded.messages = worded
        reworded.code = code
        return reworded, used

    def describe(self) -> dict[str, Any]:
        """What ``/__mock__/health`` says about the profile."""
        return {
            "name": self.name,
            "flavour": self.flavour,
            "sections": list(self.sections),
            "refusals": sorted(self.wordings),
            "captured": dict(self.captured),
        }


def load(profile: Profile | str | Path | None) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return Profile.read(profile)


# --- reading each section ------------------------------------------------------------


class _Where:
    def __init__(self, source: str, path: str = "") -> None:
        self.source = source
        self.path = path

    def at(self, key: str | int) -> _Where:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return _Where(self.source, self.path + step)

    def error(self, key: str, problem: str) -> ProfileError:
        place = self.at(key).path if key else self.path
        return ProfileError(f"profile {self.source}: {place or 'top level'}: {problem}")


def _object(value: Any, where: _Where, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error("", "must be a JSON object")
    unknown = sorted(str(key)[:40] for key in set(value) - keys - {"captured"})
    if unknown:
        raise where.error("", f"unknown key(s) {', '.join(unknown)}")
    _captured(value.get("captured"), where.at("captured"))
    return value


def _captured(value: Any, where: _Where) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    ):
        raise where.error("", 'must be {"from": URL, "at": time, "kit": version}')
    return value


def _text(value: Any, where: _Where, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise where.error(key, "must be a non-empty line of text")
    return value


def _release_facts(value: Any, where: _Where) -> dict[str, Any]:
    if value is None:
        return {}
    keys = {
        "fullVersion",
        "currentVersion",
        "currentRuntimeVersion",
        "portalVersion",
        "enterpriseVersion",
        "enterpriseBuild",
        "operations",
    }
    data = _object(value, where, keys)
    facts: dict[str, Any] = {}
    for key in ("fullVersion", "currentRuntimeVersion", "enterpriseBuild", "enterpriseVersion"):
        if key in data:
            facts[key] = _text(data[key], where, key)
    if "portalVersion" in data:
        # The sharing root writes it as a string ("2026.1"), but an older portal a number.
        if not isinstance(data["portalVersion"], str | int | float) or isinstance(
            data["portalVersion"], bool
        ):
            raise where.error("portalVersion", "must be a string or a number")
        facts["portalVersion"] = data["portalVersion"]
    if "currentVersion" in data:
        version = data["currentVersion"]
        if isinstance(version, bool) or not isinstance(version, int | float) or version <= 0:
            raise where.error(
                "currentVersion", "must be a positive number, as the admin root writes it"
            )
        facts["currentVersion"] = version
    if "operations" in data:
        operations = data["operations"]
        if not isinstance(operations, list) or not all(isinstance(o, str) for o in operations):
            raise where.error("operations", "must be a list of operation names")
        known = set().union(*(release.operations for release in RELEASES.values()))
        strange = sorted(set(operations) - known)
        if strange:
            raise where.error("operations", f"unknown operation(s) {', '.join(strange[:5])}")
        facts["operations"] = sorted(set(operations))
    return facts


class _BadField(ValueError):
    """One field of a captured runtime that its flavour's model accepts but a system
    runtime may not have."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(problem)
        self.name = name


def _kubernetes_runtime(body: Mapping[str, Any]) -> dict[str, Any]:
    runtime = model.stored_runtime(body)
    if runtime.copied:
        raise _BadField("copied", "a system runtime is not a copy")
    return runtime.to_dict()


#: What the standalone server derives on every answer (from the version and the clock),
#: never stores: its retirement date, whether it passed, and whether a GPU runtime is set.
_SERVER_DERIVED = ("deprecationDate", "deprecated", "useGPU")


def _server_runtime(body: Mapping[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in body.items() if key not in _SERVER_DERIVED}
    runtime = server_model.stored_runtime(kept)
    if not runtime.esriProvidedRuntime:
        raise _BadField("esriProvidedRuntime", "a system runtime is Esri's")
    return runtime.to_dict()


#: How a captured system runtime becomes a stored one, by the flavour it was captured from:
#: each flavour's own model decides what it may hold (the only per-flavour part of a profile).
RUNTIME_READERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "kubernetes": _kubernetes_runtime,
    "notebook-server": _server_runtime,
}
FLAVOURS = tuple(RUNTIME_READERS)


def _runtimes(
    value: Any, where: _Where, flavour: str
) -> tuple[tuple[dict[str, Any], ...], dict[str, dict[str, Any]]]:
    if value is None:
        return (), {}
    data = _object(value, where, {"system"})
    system = data.get("system")
    if not isinstance(system, list) or not system:
        raise where.error("system", "must list at least one system runtime")
    runtimes: list[dict[str, Any]] = []
    manifests: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(system):
        place = where.at("system").at(index)
        entry = _object(item, place, {"runtime", "manifest"})
        body = entry.get("runtime")
        if not isinstance(body, dict):
            raise place.error("runtime", "must be the runtime's JSON object")
        # The emulator stamps its own revisions; a captured one is only a record.
        candidate = {**body, "revision": 0}
        try:
            stored = RUNTIME_READERS[flavour](candidate)
        except InvalidParameters as invalid:
            raise place.error("runtime", " ".join(invalid.messages)) from None
        except _BadField as bad:
            raise place.error(f"runtime.{bad.name}", str(bad)) from None
        runtime_id = stored["id"]
        if runtime_id in manifests or any(r["id"] == runtime_id for r in runtimes):
            raise place.error("runtime.id", f"{runtime_id!r} appears twice")
        stored.pop("revision")
        runtimes.append(stored)
        if entry.get("manifest") is not None:
            try:
                manifests[runtime_id] = checked_manifest(entry["manifest"])
            except InvalidParameters as invalid:
                message = invalid.messages[0].replace("'manifestFile'", "the manifest")
                raise place.error("manifest", message) from None
    return tuple(runtimes), manifests


def _portal(
    value: Any, where: _Where
) -> tuple[dict[str, Any] | None, tuple[dict, ...] | None, dict[str, Any] | None]:
    if value is None:
        return None, None, None
    data = _object(value, where, {"self", "servers", "info"})
    info = data.get("info")
    if info is not None and (not isinstance(info, dict) or not info):
        raise where.error("info", "must be the info JSON object")
    portal_self = data.get("self")
    if portal_self is not None:
        if not isinstance(portal_self, dict) or not portal_self:
            raise where.error("self", "must be the portals/self JSON object")
        portal_self = {key: val for key, val in portal_self.items() if key != "user"}
    servers = data.get("servers")
    if servers is not None:
        if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
            raise where.error("servers", "must be the servers listing's list of objects")
        servers = tuple(servers)
    return portal_self, servers, info


def _wordings(value: Any, where: _Where) -> dict[str, Wording]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error("", "must be a JSON object of refusals by name")
    wordings = {}
    for name, item in value.items():
        place = where.at(str(name)[:40])
        if name not in REFUSALS:
            raise place.error("", f"unknown refusal; known: {', '.join(REFUSALS)}")
        entry = _object(item, place, {"status", "contentType", "code", "messages"})
        templates = entry.get("messages")
        if (
            not isinstance(templates, list)
            or not templates
            or not all(isinstance(t, str) and t.isprintable() for t in templates)
        ):
            raise place.error("messages", "must be a non-empty list of one-line messages")
        allowed = set(_fields(REFUSALS[name].template))
        for template in templates:
            try:
                used = set(_fields(template))
            except ValueError as problem:
                raise place.error("messages", f"{template[:60]!r}: {problem}") from None
            if used - allowed:
                wanted = ", ".join("{" + f + "}" for f in sorted(allowed)) or "none"
                raise place.error(
                    "messages", f"{template[:60]!r}: placeholders allowed here: {wanted}"
                )
        numbers = {}
        for key in ("status", "code"):
            number = entry.get(key)
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int) or not 100 <= number < 1000
            ):
                raise place.error(key, "must be an HTTP-like number (100 to 999)")
            numbers[key] = number
        content_type = entry.get("contentType")
        if content_type is not None and not (
            isinstance(content_type, str)
            and re.fullmatch(r"[\w.+-]+/[\w.+-]+(;[ \w=.+\"-]*)*", content_type)
        ):
            raise place.error(
                "contentType", "must be a Content-Type such as text/plain;charset=UTF-8"
            )
        wordings[name] = Wording(tuple(templates), numbers["code"], numbers["status"], content_type)
    return wordings


# --- helpers --------------------------------------------------------------------------


def _release_name(version: Any) -> str | None:
    if isinstance(version, bool) or not isinstance(version, int | float):
        return None
    return f"{float(version):.1f}"


def _version_number(name: str) -> float:
    """A release's name as an admin root writes its version: "11.5" 11.5, "10.7.1" 10.71."""
    major, _, minor = name.partition(".")
    return float(f"{major}.{minor.replace('.', '')}")


def _nearest_release(version: float, releases: Mapping[str, Release]) -> Release:
    """The newest known release at or below ``version`` (else the oldest): its rules apply."""
    ordered = sorted(releases.values(), key=lambda r: _version_number(r.name))
    below = [r for r in ordered if _version_number(r.name) <= float(version)]
    return below[-1] if below else ordered[0]


def _recognised(message: str, code: int) -> tuple[str | None, dict[str, str]]:
    """Which refusal's default wording made ``message``, and the values it carries."""
    for name, refusal in REFUSALS.items():
        if refusal.code != code:
            continue
        match = _MATCHERS[name].match(message)
        if match:
            return name, match.groupdict()
    return None, {}


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with the values the emulator's own message carried (``{{`` is a brace)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name:
            parts.append(values.get(name, "{" + name + "}"))
    return "".join(parts)
