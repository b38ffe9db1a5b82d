"""Recorded exchanges: the same requests sent to targets, answers normalised and compared.

LocalStack-style: what differs on every run (runtime ids, revisions,
property ids, tokens, expiry times, the run prefix) is replaced by stable
placeholders before two answers are compared, so that what is left is what
a client would notice: status, envelope, keys and their order, types and
values. Used by ``nbmock verify --compare`` (two targets), ``--record``
(snapshots) and the snapshot replay test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contracts.calls import SIMPLE_COPY
from contracts.reply import Reply, envelope
from contracts.target import Target

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
_PLACEHOLDER = re.compile(r"\{(source|made-up|id:\d+|system:\d+)\}")
#: Where a target has fewer system runtimes than the other: an id that exists nowhere.
ABSENT_ID = "00000000-0000-4000-8000-000000000000"
GENERATED_KEYS = {
    "revision": "<revision>",
    "deploymentDefaultPropertyId": "<property-id>",
    "expires": "<epoch-ms>",
    "token": "<token>",
    # portals/self: true when the portal is reached over HTTPS, a fact of the URL compared.
    "allSSL": "<follows-the-scheme>",
}

SEED_SNAPSHOT = SNAPSHOTS / "0001-seed-copy.json"


def seed_copy_form() -> dict[str, str]:
    """The seed page's copy parameters (its example request, without ``f`` and the
    run prefix), read from the first snapshot: the one place the project keeps them."""
    request = json.loads(SEED_SNAPSHOT.read_text())["exchanges"][0]["request"]
    form = {key: value for key, value in request["form"].items() if key != "f"}
    form["name"] = form["name"].removeprefix("<prefix>")
    return form


@dataclass
class Bindings:
    """Placeholders <-> a target's real values, for one play of a list of exchanges."""

    target: Target
    source_id: str
    ids: dict[str, str] = field(default_factory=dict)  # "{id:1}" -> real id
    made_up: str = ""
    #: The target's system runtime ids, for ``{system:N}`` (1-based).
    system_ids: list[str] = field(default_factory=list)
    #: Keep system runtime ids as they are: a compare of two deployments must show them.
    literal_ids: bool = False

    def resolve(self, text: str) -> str:
        def real(match: re.Match) -> str:
            name = match.group(1)
            if name == "source":
                return self.source_id
            if name.startswith("system:"):
                index = int(name.split(":")[1]) - 1
                return self.system_ids[index] if index < len(self.system_ids) else ABSENT_ID
            if name == "made-up":
                if not self.made_up:
                    self.made_up = self.target.made_up_id()
                return self.made_up
            return self.ids.get("{" + name + "}", "00000000-0000-4000-8000-000000000000")

        return _PLACEHOLDER.sub(real, text.replace("<prefix>", self.target.prefix))

    def label(self, real_id: str) -> str:
        for placeholder, value in self.ids.items():
            if value == real_id:
                return placeholder
        placeholder = f"{{id:{len(self.ids) + 1}}}"
        self.ids[placeholder] = real_id
        return placeholder

    def normalise(self, value: Any, key: str | None = None) -> Any:
        if key in GENERATED_KEYS and value is not None:
            return GENERATED_KEYS[key]
        if isinstance(value, Mapping):
            if "id" in value and "copied" in value and value.get("copied"):
                self.label(str(value["id"]))
            return {k: self.normalise(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalise(item) for item in value]
        if isinstance(value, str):
            origin = "/".join(self.target.base_url.split("/")[:3])
            host = origin.split("://", 1)[-1]
            text = value.replace(self.target.prefix, "<prefix>").replace(origin, "<origin>")
            # portals/self names the portal as host[:port]/<context>, without a scheme.
            text = text.replace(host, "<host>")
            text = context_placed(text, self.target)
            for placeholder, real in self.ids.items():
                text = text.replace(real, placeholder)
            if self.made_up:
                text = text.replace(self.made_up, "{made-up}")
            return text if self.literal_ids else text.replace(self.source_id, "{source}")
        return value


def context_placed(value: Any, target: Target) -> Any:
    """``value`` with ``<origin>/`` or ``<host>/`` and the target's web context as
    ``…/<context>``: two deployments may sit under different ones (a sandbox's sb-…, an
    Enterprise's own name), and a profile records where it was reached so."""
    context = urlsplit(target.base_url).path.strip("/").split("/", 1)[0]
    if not context:
        return value
    if isinstance(value, Mapping):
        return {key: context_placed(item, target) for key, item in value.items()}
    if isinstance(value, list):
        return [context_placed(item, target) for item in value]
    if isinstance(value, str):
        return re.sub(rf"(<origin>|<host>)/{re.escape(context)}(?![\w.-])", r"\1/<context>", value)
    return value


def source_of(target: Target) -> str:
    systems = target.system_runtimes()
    plain = [runtime for runtime in systems if not runtime.get("requiresAdvancedPrivileges")]
    return (plain or systems)[0]["id"]


def play(
    target: Target, exchanges: Iterable[Mapping[str, Any]], *, literal_ids: bool = False
) -> list[dict[str, Any]]:
    """Send each exchange's request to ``target``; the exchanges with normalised answers.

    ``literal_ids`` keeps system runtime ids in the answers (``--compare``: two
    deployments whose runtimes differ must show it); snapshots replace the source's.
    """
    systems = [runtime["id"] for runtime in target.system_runtimes()]
    bindings = Bindings(target, source_of(target), system_ids=systems, literal_ids=literal_ids)
    played = []
    for exchange in exchanges:
        request = exchange["request"]
        kind = request.get("token", "own")
        token = (
            _expired_token(target)
            if kind == "expired"
            else {"own": target.token, "none": None, "invalid": "not-a-token-" + "z" * 20}[kind]
        )
        form = {k: bindings.resolve(v) for k, v in (request.get("form") or {}).items()}
        reply = target.request(
            request["method"],
            bindings.resolve(request["path"]),
            params={k: bindings.resolve(v) for k, v in (request.get("params") or {}).items()},
            data=form or None,
            multipart=request.get("encoding") == "multipart",
            token=token,
            refusal_expected=bool(request.get("refusal_expected")),
        )
        played.append({"request": dict(request), "response": _normalised(reply, bindings)})
    for runtime_id in list(target.created):
        target.unregister_created(runtime_id)
    return played


def _expired_token(target: Target) -> str:
    """A one-minute token of the kit's user, its minute run out on the target's clock."""
    credentials = target.require_credentials()
    short = target.generate_token(credentials.username, credentials.password, expiration=1)
    target.advance_clock(61)
    return short


def _normalised(reply: Reply, bindings: Bindings) -> dict[str, Any]:
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("runtimes"), list):
        # A shared server lists other people's copies: keep the system runtimes and ours.
        ours = set(bindings.ids.values())
        body = {
            **body,
            "runtimes": [r for r in body["runtimes"] if not r.get("copied") or r.get("id") in ours],
        }
    return {
        "status": reply.status,
        "content_type": reply.headers.get("Content-Type", "").split(";")[0],
        "body": bindings.normalise(body) if body is not None else "<not json>",
    }


def differences(expected: Any, actual: Any, where: str = "body") -> list[str]:
    """Each way ``actual`` departs from ``expected``: keys (and order), types, values."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        found = []
        if list(expected) != list(actual):
            missing = [k for k in expected if k not in actual]
            extra = [k for k in actual if k not in expected]
            if missing or extra:
                found.append(f"{where}: keys differ, missing {missing}, extra {extra}")
            else:
                found.append(f"{where}: key order {list(actual)} instead of {list(expected)}")
        for key in expected:
            if key in actual:
                found += differences(expected[key], actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items instead of {len(expected)}"]
        found = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found += differences(left, right, f"{where}[{index}]")
        return found
    if type(expected) is not type(actual):
        return [
            f"{where}: {type(actual).__name__} {actual!r} instead of {type(expected).__name__} {expected!r}"
        ]
    if expected != actual:
        return [f"{where}: {actual!r} instead of {expected!r}"]
    return []


def compare_exchange(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Differences in status, content type, envelope and body between two played exchanges."""
    found = []
    left, right = expected["response"], actual["response"]
    if left["status"] != right["status"]:
        found.append(f"HTTP status {right['status']} instead of {left['status']}")
    if left.get("content_type") != right.get("content_type"):
        found.append(
            f"content type {right.get('content_type')!r} instead of {left.get('content_type')!r}"
        )
    if envelope(left["body"]) != envelope(right["body"]):
        found.append(f"envelope {envelope(right['body'])} instead of {envelope(left['body'])}")
    return found + differences(left["body"], right["body"])


# --- the requests sent by --compare and --record ---------------------------------


def _request(method: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"request": {"method": method, "path": path, **extra}}


def standard_exchanges(
    *,
    allow_writes: bool,
    generated_copies: int = 5,
    system_runtimes: int = 1,
    expired_token: bool = False,
) -> list[dict[str, Any]]:
    """Reads, refusals and (with writes) copy lifecycles: the same list for every target.

    ``system_runtimes``: how many system runtimes to read one by one, with their
    manifests; ``expired_token``: also a request with an expired token (both
    targets must move their clocks: emulators). Each exchange names the facts a
    deployment profile must have captured for it (``needs``): ``writes`` for
    what only the emulator's rules decide, else the refusal whose wording it shows.
    """
    runtimes = "admin/notebooks/runtimes"
    exchanges = [
        _request("GET", "admin", needs=["release"]),
        _request("GET", runtimes, needs=["release", "runtimes"]),
        _request("GET", f"{runtimes}/{{source}}", needs=["runtimes"]),
        _request("GET", f"{runtimes}/{{source}}/manifest", needs=["runtimes"]),
    ]
    for index in range(1, system_runtimes + 1):
        exchanges += [
            _request("GET", f"{runtimes}/{{system:{index}}}", needs=["runtimes"]),
            _request("GET", f"{runtimes}/{{system:{index}}}/manifest", needs=["runtimes"]),
        ]
    exchanges += [
        _request("GET", f"{runtimes}/{{made-up}}", needs=["unknown_runtime"]),
        _request("GET", runtimes, token="none", needs=["token_missing"]),
        _request("GET", runtimes, token="invalid", needs=["token_invalid"]),
        _request("GET", runtimes, params={"f": "xml"}, needs=["unknown_format"]),
        _request("GET", f"{runtimes}/{{source}}/copy", needs=["method_not_allowed"]),
        _request("GET", f"{runtimes}/{{source}}/nbmockkitnosuchop", needs=["unknown_operation"]),
        _request("GET", "sharing/rest", needs=["release"]),
        _request("GET", "sharing/rest/info", needs=["portal"]),
        _request("GET", "sharing/rest/portals/self", token="none", needs=["portal"]),
        _request("GET", "sharing/rest/portals/self/servers", needs=["portal"]),
        _request(
            "POST",
            f"{runtimes}/{{source}}/copy",
            form={**SIMPLE_COPY, "name": "<prefix>refused", "minCpu": "0"},
            refusal_expected=True,
            needs=["not_positive"],
        ),
        _request(
            "POST",
            f"{runtimes}/{{source}}/copy",
            form={**SIMPLE_COPY, "name": "<prefix>refused", "maxMemoryUnit": "G"},
            refusal_expected=True,
            needs=["bad_unit"],
        ),
        _request(
            "POST",
            f"{runtimes}/{{made-up}}/unregister",
            refusal_expected=True,
            needs=["unknown_runtime"],
        ),
    ]
    if expired_token:
        exchanges.append(_request("GET", runtimes, token="expired", needs=["token_expired"]))
    if allow_writes:
        for index, form in enumerate(_generated_copy_forms(generated_copies), start=1):
            exchanges += [
                _request(
                    "POST",
                    f"{runtimes}/{{source}}/copy",
                    form=form,
                    encoding="multipart" if index % 2 else "urlencoded",
                    needs=["writes"],
                ),
                _request("GET", f"{runtimes}/{{id:{index}}}", needs=["writes"]),
                _request(
                    "POST",
                    f"{runtimes}/{{id:{index}}}/update",
                    form={"maxCpu": "3", "maxMemory": "6", "maxMemoryUnit": "g"},
                    needs=["writes"],
                ),
                _request("GET", f"{runtimes}/{{id:{index}}}", needs=["writes"]),
            ]
        exchanges.append(_request("GET", runtimes, needs=["writes"]))
        for index in range(1, generated_copies + 1):
            exchanges += [
                _request("POST", f"{runtimes}/{{id:{index}}}/unregister", needs=["writes"]),
                _request("GET", f"{runtimes}/{{id:{index}}}", needs=["writes", "unknown_runtime"]),
            ]
    return exchanges


def _generated_copy_forms(count: int) -> list[dict[str, str]]:
    """``count`` valid copy forms from the kit's strategy, the same on every run."""
    from hypothesis import HealthCheck, Phase, given, settings

    from contracts.strategies import copy_requests

    forms: list[dict[str, str]] = []

    @settings(
        max_examples=count * 3,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(copy_requests())
    def collect(form: dict[str, str]) -> None:
        if len(forms) < count:
            forms.append({**form, "name": "<prefix>" + form["name"]})

    collect()
    return forms


# --- snapshots --------------------------------------------------------------------


def uncaptured(exchange: Mapping[str, Any], profile: Mapping[str, Any] | None) -> list[str]:
    """What ``exchange`` shows that ``profile`` (as ``/__mock__/health`` describes it) did
    not capture; nothing without a profile, where every answer is the emulator's claim."""
    if profile is None:
        return []
    have = set(profile.get("sections") or []) | set(profile.get("refusals") or [])
    return [need for need in exchange["request"].get("needs", []) if need not in have]


def write_snapshot(path: Path, description: str, played: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"description": description, "exchanges": played}, indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )


def snapshot_files(directory: Path = SNAPSHOTS) -> list[Path]:
    return sorted(directory.glob("*.json"))


def replay(target: Target, snapshot: Path) -> list[str]:
    """Send a snapshot's requests to ``target``; every difference from its recorded answers."""
    recorded = json.loads(snapshot.read_text(encoding="utf-8"))["exchanges"]
    played = play(target, recorded)
    found = []
    for index, (expected, actual) in enumerate(zip(recorded, played, strict=True), start=1):
        # A snapshot recorded before contexts were placed names its own: read it as one.
        expected = {**expected, "response": context_placed(expected["response"], target)}
        request = expected["request"]
        for difference in compare_exchange(expected, actual):
            found.append(
                f"{snapshot.name} #{index} {request['method']} {request['path']}: {difference}"
            )
    return found
