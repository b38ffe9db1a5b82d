"""The value classes that once broke the emulator, generated: copy, update and state import.

Hypothesis writes the JSON object parameters (``podPlacementPolicy``,
``customResources``) with lone surrogate escapes in keys and values, nesting
and size at and just past the model's limits, numbers in non-ASCII digits,
and names with control or only invisible characters; and state snapshots
carrying the same, or counters at and past their bounds; and uploaded files
(``manifestFile``, the API's only one) holding the same classes. Each goes in
process to copy, update (with or without the file) or ``POST /__mock__/state``.

What must hold (issue 11): no answer is an HTTP 500 or an ArcGIS code 500;
a refused request changes nothing (the exported state is the same before
and after); after an accepted one, every list and get still answers in
every format, the runtime's manifest too, and the exported state imports back.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.servers import SEED_COPY, STANDARD_ID
from mockserver import create_app
from mockserver.core.counters import MAX_COUNTER
from mockserver.core.values import NAME_MAX_LENGTH
from mockserver.runtimes.model import JSON_MAX_BYTES, JSON_MAX_DEPTH

RUNTIMES = "/arcgis/admin/notebooks/runtimes"
JSON_FIELDS = ("podPlacementPolicy", "customResources")
NUMBER_FIELDS = ("minCpu", "maxCpu", "minMemory", "maxMemory", "maxSwapMemory")
UPDATE_FORM = {"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g"}

# --- strategies -----------------------------------------------------------------

_LONE_SURROGATES = st.integers(0xD800, 0xDFFF).map(lambda n: f"\\u{n:04x}")


@st.composite
def surrogate_object_texts(draw) -> str:
    """A JSON object text with a lone surrogate escape in a key or a value, maybe nested."""
    escape = draw(_LONE_SURROGATES)
    text = draw(st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=4))
    text = json.dumps(text)[1:-1]
    where = draw(st.sampled_from(["key", "value", "nested key", "nested value", "array"]))
    piece = f"{text}{escape}{text}"
    return {
        "key": f'{{"{piece}": 1}}',
        "value": f'{{"k": "{piece}"}}',
        "nested key": f'{{"a": {{"b": {{"{piece}": null}}}}}}',
        "nested value": f'{{"a": [1, {{"b": "{piece}"}}]}}',
        "array": f'{{"a": ["ok", "{piece}"]}}',
    }[where]


@st.composite
def deep_object_texts(draw) -> str:
    """Objects (and arrays) nested at the depth limit, just past it, or far past it."""
    depth = draw(
        st.sampled_from([JSON_MAX_DEPTH - 1, JSON_MAX_DEPTH, JSON_MAX_DEPTH + 1])
        | st.integers(JSON_MAX_DEPTH + 2, 1200)
    )
    opener, closer = draw(st.sampled_from([('{"a": ', "}"), ('{"a": [', "]}")]))
    return opener * (depth - 1) + "{}" + closer * (depth - 1)


@st.composite
def large_object_texts(draw) -> str:
    """Objects whose encoded size is at, just under or just past the size limit."""
    delta = draw(st.sampled_from([-1, 0, 1, 2, 1000]) | st.integers(-50, 50))
    filler = draw(st.sampled_from(["x", "é", "😀"]))
    # '{"a": "' + text + '"}' : 9 bytes of frame.
    budget = JSON_MAX_BYTES + delta - 9
    count = max(budget // len(filler.encode()), 0)
    return '{"a": "' + filler * count + '"}'


def hostile_object_texts() -> st.SearchStrategy[str]:
    return st.one_of(surrogate_object_texts(), deep_object_texts(), large_object_texts())


def non_ascii_numbers() -> st.SearchStrategy[str]:
    """Numbers a ``\\d`` regex or ``float()`` would take: full-width, Arabic-Indic, mixed."""
    digit = st.sampled_from(["１", "２", "٣", "۴", "५", "৬", "๗", "８"])
    ascii_digit = st.sampled_from("123456789")
    return st.one_of(
        digit,
        st.tuples(ascii_digit, digit).map("".join),
        st.tuples(digit, st.just("."), ascii_digit).map("".join),
        st.tuples(ascii_digit, st.just("e"), digit).map("".join),
    )


def hostile_names() -> st.SearchStrategy[str]:
    """Names with control characters, only invisible characters, or past the length limit."""
    invisible = st.sampled_from(["\u200b", "\u3000", "\ufeff", "\u2060", " ", "\u00a0"])
    control = st.sampled_from(["\x00", "\n", "\r", "\t", "\x1b", "\x7f"])
    return st.one_of(
        st.tuples(st.text(max_size=5), control, st.text(max_size=5)).map("".join),
        st.lists(invisible, min_size=1, max_size=6).map("".join),
        st.integers(NAME_MAX_LENGTH + 1, NAME_MAX_LENGTH + 40).map(lambda n: "n" * n),
        st.just("n" * NAME_MAX_LENGTH),
    )


@st.composite
def hostile_forms(draw) -> tuple[str, dict[str, str]]:
    """(what it carries, a copy form) with one hostile value in it."""
    form = dict(SEED_COPY)
    kind = draw(st.sampled_from(["object", "number", "name"]))
    if kind == "object":
        form[draw(st.sampled_from(JSON_FIELDS))] = draw(hostile_object_texts())
    elif kind == "number":
        form[draw(st.sampled_from(NUMBER_FIELDS))] = draw(non_ascii_numbers())
    else:
        form["name"] = draw(hostile_names())
    return kind, form


@st.composite
def hostile_snapshots(draw, export: dict[str, Any]) -> tuple[str, str]:
    """(what it carries, snapshot JSON text): ``export`` with one runtime or counter spoiled."""
    snapshot = json.loads(json.dumps(export))
    runtime = snapshot["runtimes"][-1]["runtime"]
    kind = draw(
        st.sampled_from(
            ["object", "nan", "unit", "name", "number", "idSequence", "lastRevision", "revision"]
        )
    )
    marker = "@@HOSTILE@@"
    if kind == "object":
        runtime[draw(st.sampled_from(JSON_FIELDS))] = marker
        text = json.dumps(snapshot).replace(f'"{marker}"', draw(hostile_object_texts()))
        return kind, text
    if kind == "nan":
        runtime[draw(st.sampled_from(JSON_FIELDS))] = {"a": [1, {"b": marker}]}
        return kind, json.dumps(snapshot).replace(
            f'"{marker}"', draw(st.sampled_from(["NaN", "Infinity"]))
        )
    if kind == "unit":
        runtime[draw(st.sampled_from(["minMemoryUnit", "maxMemoryUnit"]))] = draw(
            st.sampled_from(["x", "G", "", "gb"])
        )
    elif kind == "name":
        # json.dumps writes a lone surrogate as its escape, as an attacker would.
        runtime["name"] = draw(hostile_names() | st.integers(0xD800, 0xDFFF).map(chr))
    elif kind == "number":
        runtime[draw(st.sampled_from(["minCpu", "maxMemory"]))] = draw(
            st.sampled_from([-1, 0, 1e16, "1", True])
        )
    elif kind in ("idSequence", "lastRevision"):
        snapshot[kind] = draw(st.sampled_from([MAX_COUNTER + 1, 2**62, -1, 1.5, "3"]))
    else:
        runtime["revision"] = draw(st.sampled_from([MAX_COUNTER + 1, -5, 2**63]))
    return kind, json.dumps(snapshot)


#: What an uploaded manifest can carry: one hostile value of each class, or bytes that are
#: no manifest (non-UTF-8, BOMs, truncated), or far too many libraries.
MANIFEST_FILE_KINDS = (
    "surrogate",
    "constant",
    "deep",
    "number",
    "huge number",
    "duplicate key",
    "encoding",
    "type",
    "bytes",
    "count",
    "plain",
)


@st.composite
def hostile_manifest_files(draw) -> tuple[str, bytes]:
    """(what it carries, an uploaded ``manifestFile``): a manifest, in either shape the
    API takes, with one hostile value somewhere in it, or bytes that are no manifest."""
    good = {"name": "rich", "version": "13.9.4", "channel": "conda-forge", "build_number": 0}
    marker = "@@HOSTILE@@"
    kind = draw(st.sampled_from(MANIFEST_FILE_KINDS))
    where = draw(st.sampled_from(["name", "version", "build_string", "channel", "extra key"]))
    row = dict(good)
    if kind == "surrogate":
        text = draw(st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=4))
        piece = json.dumps(text)[1:-1] + draw(_LONE_SURROGATES)
        if where == "extra key":
            row[marker] = 1
            hostile = f'"{piece}"'
        else:
            row[where] = marker
            hostile = f'"{piece}x"'
    elif kind == "constant":
        row[draw(st.sampled_from(["build_number", "extra"]))] = marker
        hostile = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
    elif kind == "deep":
        depth = draw(st.integers(JSON_MAX_DEPTH - 2, 1200))
        row["extra"] = marker
        hostile = "[" * depth + "]" * depth
    elif kind == "number":
        row["build_number"] = draw(st.sampled_from([2**64, -1, 1.5, True, 10**400]))
        hostile = None
    elif kind == "huge number":
        # Python's int() refuses over 4,300 digits with a ValueError, not the JSON decoder.
        row[draw(st.sampled_from(["build_number", "extra"]))] = marker
        digits = draw(st.sampled_from([4300, 4301, 100_000]) | st.integers(300, 5000))
        hostile = draw(st.sampled_from(["", "-"])) + "9" * digits
        hostile += draw(st.sampled_from(["", ".5", "e5", "e-99999", "e99999"]))
    elif kind == "duplicate key":
        # RFC 8259 leaves duplicate names to the reader; json.loads keeps the last.
        first = json.dumps(row)
        twice = draw(st.sampled_from(["name", "version", "build_number"]))
        text = (
            first[:-1]
            + f', "{twice}": '
            + draw(st.sampled_from(['"second"', "null", "1", "[]", '"\\udc00"']))
            + "}"
        )
        if draw(st.booleans()):
            text = '{"libraries": [' + text + '], "libraries": []}'
        else:
            text = "[" + text + "]"
        return kind, text.encode("utf-8")
    elif kind == "encoding":
        name = draw(st.sampled_from(["rich", "réel", "😀"]))
        text = json.dumps([dict(good, name=name)], ensure_ascii=False)
        codec = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]))
        return f"{kind} {codec}", text.encode(codec, "replace")
    elif kind == "type":
        row[draw(st.sampled_from(["name", "version"]))] = draw(
            st.sampled_from([None, 1, [], {}, "", " ", True])
        )
        hostile = None
    elif kind == "bytes":
        return kind, draw(
            st.sampled_from(
                [
                    b"",
                    b"\xff\xfe{}",
                    b"\xef\xbb\xbf[]",
                    b"\xef\xbb\xbf\xef\xbb\xbf[]",
                    b'{"libraries": [',
                    b"\x00" * 8,
                    b'[{"name": "\xc3\x28", "version": "1"}]',
                    b'[{"name": "\xed\xa0\x80", "version": "1"}]',
                ]
            )
            | st.binary(max_size=64)
        )
    elif kind == "count":
        rows = [dict(good, name=f"lib{i}") for i in range(draw(st.sampled_from([5000, 5001])))]
        return kind, json.dumps(rows).encode()
    else:
        hostile = None
    rows = [row] if draw(st.booleans()) else {"libraries": [row]}
    text = json.dumps(rows)
    if hostile is not None:
        text = text.replace(f'"{marker}"', hostile)
    return kind, text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class UploadSite:
    """One operation that reads an uploaded file: where it is, and what to send with it."""

    flavour: str
    operation: str  # "update" acts on a runtime made first; "register" makes one
    parameter: str
    form: dict[str, str]
    contents: Callable[[], st.SearchStrategy[tuple[str, bytes]]]

    @property
    def label(self) -> str:
        return f"{self.parameter} ({self.flavour} {self.operation})"


#: The standalone Notebook Server's register form (its update takes the same).
SERVER_FORM = {
    "name": "Hostile upload",
    "imageId": "sha256:" + "1e" * 32,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "2",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}
#: Every operation that reads a file from a multipart upload, in every flavour, with the
#: strategy of its hostile contents; tests/test_hardened_values.py fails when a
#: ``wire.uploaded_file`` call site appears without its line here.
UPLOAD_SITES = (
    UploadSite("kubernetes", "update", "manifestFile", UPDATE_FORM, hostile_manifest_files),
    UploadSite("notebook-server", "register", "manifestFile", SERVER_FORM, hostile_manifest_files),
    UploadSite("notebook-server", "update", "manifestFile", SERVER_FORM, hostile_manifest_files),
)


# --- the run ----------------------------------------------------------------------


@dataclass
class HostileValuesReport:
    requests: int = 0
    by_target: Counter = field(default_factory=Counter)
    by_outcome: Counter = field(default_factory=Counter)
    http_500: int = 0
    refused_yet_changed: int = 0
    by_file_kind: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def run_hostile_values(examples: int = 300, *, seed: int | None = None) -> HostileValuesReport:
    """``examples`` forms to copy and update and ``examples`` snapshots to import, in process."""
    app = create_app(seed=7)
    client = app.test_client()
    token = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]
    report = HostileValuesReport()

    def state() -> dict[str, Any]:
        return client.get("/__mock__/state").get_json(force=True)

    def a_copy() -> str:
        answer = client.post(
            f"{RUNTIMES}/{STANDARD_ID}/copy", data={**SEED_COPY, "f": "json", "token": token}
        ).get_json(force=True)
        return answer["notebookRuntime"]["id"]

    copy_id = a_copy()

    def check(target: str, kind: str, response, before: dict[str, Any]) -> None:
        _check(report, client, token, target, kind, response, before, state)

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name != "shrink"],
    )
    @given(hostile_forms())
    def forms(carried) -> None:
        nonlocal copy_id
        kind, form = carried
        if len(state()["runtimes"]) > 30:
            client.post("/__mock__/reset")
            copy_id = a_copy()
        before = state()
        response = client.post(
            f"{RUNTIMES}/{STANDARD_ID}/copy", data={**form, "f": "json", "token": token}
        )
        check("copy", kind, response, before)
        update = {**UPDATE_FORM, **{k: v for k, v in form.items() if k != "name"}}
        before = state()
        response = client.post(
            f"{RUNTIMES}/{copy_id}/update", data={**update, "f": "json", "token": token}
        )
        check("update", kind, response, before)

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name != "shrink"],
    )
    @given(st.data())
    def snapshots(data) -> None:
        before = state()
        kind, text = data.draw(hostile_snapshots(before))
        response = client.post(
            "/__mock__/state", data=text, headers={"Content-Type": "application/json"}
        )
        check("state import", kind, response, before)

    forms()
    snapshots()
    for site in UPLOAD_SITES:
        _run_upload_site(site, examples, seed, report)
    return report


def _run_upload_site(
    site: UploadSite, examples: int, seed: int | None, report: HostileValuesReport
) -> None:
    """``examples`` hostile files to ``site``, in a fresh app of its flavour; each must be
    refused without change, or taken with the runtime's manifest answering after."""
    app = create_app(flavour=site.flavour, seed=7)
    client = app.test_client()
    token = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]

    def post(path: str, **extra: Any):
        return client.post(
            f"{RUNTIMES}/{path}",
            data={**site.form, "f": "json", "token": token, **extra},
            content_type="multipart/form-data",
        )

    def state() -> dict[str, Any]:
        return client.get("/__mock__/state").get_json(force=True)

    if site.operation == "update":
        made = (
            post(f"{STANDARD_ID}/copy", **SEED_COPY)
            if site.flavour == "kubernetes"
            else post("register")
        )
        target_id = made.get_json(force=True)["notebookRuntime"]["id"]

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name != "shrink"],
    )
    @given(site.contents())
    def uploads(carried) -> None:
        kind, content = carried
        report.by_file_kind[f"{site.label} {kind.split()[0]}"] += 1
        if len(state()["runtimes"]) > 30:
            client.post("/__mock__/reset")  # register adds one per accepted file
        before = state()
        upload = (io.BytesIO(content), "upload.json", "application/json")
        path = f"{target_id}/update" if site.operation == "update" else "register"
        response = post(path, **{site.parameter: upload})
        _check(report, client, token, site.label, kind, response, before, state)
        if _outcome(response) != "success":
            return
        shown_id = (
            target_id
            if site.operation == "update"
            else response.get_json(force=True)["notebookRuntime"]["id"]
        )
        for fmt in ("json", "pjson", "html"):
            shown = client.get(
                f"{RUNTIMES}/{shown_id}/manifest", query_string={"f": fmt, "token": token}
            )
            if shown.status_code != 200:
                report.problems.append(
                    f"manifest f={fmt} answers {shown.status_code} after a {kind} {site.label}"
                )

    uploads()


def _check(report, client, token, target, kind, response, before, state) -> None:
    """Count ``response``; a 500 or a refusal that changed ``state()`` is a problem, and
    after a success every list answers in every format and the export imports back."""
    report.requests += 1
    report.by_target[target] += 1
    outcome = _outcome(response)
    report.by_outcome[outcome] += 1
    label = f"{target} with a hostile {kind}"
    if response.status_code >= 500 or outcome == "code 500":
        report.http_500 += 1
        report.problems.append(f"{outcome} for {label}: {response.data[:160]!r}")
        return
    if outcome != "success":
        if state() != before:
            report.refused_yet_changed += 1
            report.problems.append(f"refused ({outcome}) yet state changed: {label}")
        return
    for fmt in ("json", "pjson", "html"):
        listed = client.get(RUNTIMES, query_string={"f": fmt, "token": token})
        if listed.status_code != 200:
            report.problems.append(f"list f={fmt} answers {listed.status_code} after {label}")
    exported = client.get("/__mock__/state")
    back = client.post("/__mock__/state", json=exported.get_json(force=True))
    if back.status_code != 200:
        report.problems.append(f"the export after {label} does not import back: {back.data!r}")


def _outcome(response) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.get_json(force=True, silent=True)
    if isinstance(body, dict) and body.get("status") == "error":
        return f"code {body.get('code')}"
    return "success"
