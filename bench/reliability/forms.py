"""A fuzzer for the form and multipart parsers: raw bodies, built byte by byte.

Hypothesis writes request bodies the way a careless or hostile client
would — urlencoded with broken escapes, multipart with odd boundaries, bare
LFs, missing terminators, file parts, duplicate names, invalid UTF-8, the
wrong Content-Type, nothing at all — and sends them to every POST operation
in process. No answer may be an HTTP 500, and an answer that is not a
success must leave the deployment exactly as it was.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.servers import SEED_COPY, STANDARD_ID
from mockserver import create_app
from mockserver.core import deployment

RUNTIMES = "/arcgis/admin/notebooks/runtimes"
FIELDS = sorted({*SEED_COPY, "f", "token", "maxCPU", "sharedMemory", "sharedMemoryUnit"})
TARGETS = ("copy", "update", "unregister", "upgrade", "manifest", "generateToken")


@dataclass
class FormFuzzReport:
    requests: int = 0
    by_target: Counter = field(default_factory=Counter)
    by_outcome: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    #: (target, content type, body, where the token went) of the first few problems.
    reproducers: list[tuple] = field(default_factory=list, repr=False)


# --- what goes in a body -----------------------------------------------------

_tricky_values = st.sampled_from(
    [
        "", " ", "1", "1.0", "-1", "0", "1e309", "-1e309", "NaN", "inf", "-0", "1_000",
        "0x10", "4.0.0", "١", "½", "{}", "[]", "{\"a\": 1}", "{", "null", "true",
        "g", "m", "k", "b", "G", "gb", "\x00", "\r\n", "%", "%zz", "%00", "+", "&", "=",
        "a" * 5000, "😀", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
    ]
)  # fmt: skip
_values = st.one_of(_tricky_values, st.text(max_size=30), st.from_regex(r"-?\d{1,4}(\.\d{1,3})?"))
_names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
_pairs = st.lists(st.tuples(_names, _values), max_size=18)


@st.composite
def urlencoded_bodies(draw) -> tuple[str, bytes]:
    pairs = draw(_pairs)
    if draw(st.booleans()):  # start from a valid copy and spoil it
        pairs = list(SEED_COPY.items()) + pairs
    encoded = "&".join(
        f"{quote_plus(k, safe=draw(st.sampled_from(['', '%', '&=%'])))}={quote_plus(v)}"
        for k, v in pairs
    ).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        encoded += draw(st.binary(max_size=40))
    charset = draw(st.sampled_from(["", "; charset=utf-8", "; charset=latin-1", "; charset=nope"]))
    return "application/x-www-form-urlencoded" + charset, encoded


@st.composite
def multipart_bodies(draw) -> tuple[str, bytes]:
    boundary = draw(
        st.one_of(
            st.just("----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=70),
        )
    )
    newline = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    pairs = draw(_pairs)
    if draw(st.booleans()):
        pairs = list(SEED_COPY.items()) + pairs
    b = boundary.encode()
    body = b""
    for name, value in pairs:
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if draw(st.integers(0, 9)) == 0:
            disposition += f'; filename="{draw(st.text(max_size=10))}"'
        headers = [disposition.encode("utf-8", "surrogatepass")]
        if draw(st.integers(0, 9)) == 0:
            headers.append(
                b"Content-Type: " + draw(st.sampled_from([b"text/plain", b"application/json", b""]))
            )
        body += b"--" + b + newline + newline.join(headers) + newline + newline
        body += value.encode("utf-8", "surrogatepass") + newline
    if draw(st.booleans()):
        body += b"--" + b + b"--" + newline
    if draw(st.integers(0, 4)) == 0:
        body = body[: draw(st.integers(0, len(body)))]
    header_boundary = draw(st.sampled_from([boundary, "", "other", f'"{boundary}"']))
    content_type = "multipart/form-data" + (
        f"; boundary={header_boundary}" if header_boundary else ""
    )
    return content_type, body


@st.composite
def raw_bodies(draw) -> tuple[str | None, bytes]:
    content_type = draw(
        st.sampled_from(
            [
                None,
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/mixed; boundary=x",
                "application/json",
                "text/plain",
                "application/octet-stream",
            ]
        )
    )
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.just(json.dumps(SEED_COPY).encode()),
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
    )
    return content_type, body


@st.composite
def requests_(draw) -> tuple[str, str | None, bytes, str]:
    target = draw(st.sampled_from(TARGETS))
    content_type, body = draw(st.one_of(urlencoded_bodies(), multipart_bodies(), raw_bodies()))
    token_in = draw(st.sampled_from(["header", "header", "header", "query", "none"]))
    return target, content_type, body, token_in


# --- the run -----------------------------------------------------------------


def run_form_fuzz(examples: int, *, seed: int | None = 8, oversized: bool = True) -> FormFuzzReport:
    """``examples`` generated requests (plus one oversized body), checked one by one."""
    app = create_app()
    # Findings are counted in the report; tracebacks would only flood the output.
    app.logger.disabled = True
    logging.getLogger("nbmock").disabled = True
    dep = deployment.of(app)
    client = app.test_client()
    issued = client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)["token"]
    report = FormFuzzReport()

    def snapshot() -> str:
        meta = [dep.store.get_meta(k) for k in ("id_sequence", "last_revision")]
        return json.dumps([dep.store.list_runtimes(), meta])

    def a_copy() -> str:
        answer = client.post(
            f"{RUNTIMES}/{STANDARD_ID}/copy", data={**SEED_COPY, "f": "json", "token": issued}
        ).get_json(force=True)
        return answer["notebookRuntime"]["id"]

    copy_id = [a_copy()]

    def send(target: str, content_type: str | None, body: bytes, token_in: str):
        if len(dep.store.list_runtimes()) > 40:
            dep.runtimes.reset()
            copy_id[0] = a_copy()
        if dep.runtimes.store.get_runtime(copy_id[0]) is None:
            copy_id[0] = a_copy()
        path = {
            "copy": f"{RUNTIMES}/{STANDARD_ID}/copy",
            "update": f"{RUNTIMES}/{copy_id[0]}/update",
            "unregister": f"{RUNTIMES}/{copy_id[0]}/unregister",
            "upgrade": f"{RUNTIMES}/{copy_id[0]}/upgrade",
            "manifest": f"{RUNTIMES}/{STANDARD_ID}/manifest",
            "generateToken": "/arcgis/sharing/rest/generateToken",
        }[target]
        headers = {}
        query = {"f": "json"}
        if token_in == "header":
            headers["X-Esri-Authorization"] = f"Bearer {issued}"
        elif token_in == "query":
            query["token"] = issued  # on a POST: counts as missing
        if content_type is not None:
            headers["Content-Type"] = content_type
        before = snapshot()
        label = f"{target} {content_type!r} body={body[:120]!r}"
        report.requests += 1
        report.by_target[target] += 1
        try:
            response = client.post(path, query_string=query, data=body, headers=headers)
        except Exception as error:  # escaped every handler: a served emulator answers 500
            report.by_outcome["HTTP 500"] += 1
            report.problems.append(f"HTTP 500 ({type(error).__name__} escaped) for {label}")
            return
        outcome = _outcome(response)
        report.by_outcome[outcome] += 1
        if (response.status_code >= 500 or outcome == "code 500") and len(report.reproducers) < 5:
            report.reproducers.append((target, content_type, body, token_in))
        if response.status_code >= 500 or outcome == "code 500":
            report.problems.append(f"{outcome} for {label}: {response.data[:200]!r}")
        elif outcome != "success" and snapshot() != before:
            report.problems.append(f"refused ({outcome}) yet state changed: {label}")

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name != "shrink"],
    )
    @given(requests_())
    def fuzz(request) -> None:
        send(*request)

    fuzz()
    if oversized:
        limit = app.config["MAX_CONTENT_LENGTH"]
        send("copy", "application/x-www-form-urlencoded", b"name=" + b"a" * (limit + 1), "header")
        boundary = "x" * 20
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'.encode()
        send(
            "copy", f"multipart/form-data; boundary={boundary}", part + b"a" * (limit + 1), "header"
        )
    return report


def _outcome(response) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.get_json(force=True)
    except Exception:
        return "not JSON"
    if isinstance(body, dict) and body.get("status") == "error":
        return f"code {body.get('code')}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f"code {body['error'].get('code')}"
    return "success"
