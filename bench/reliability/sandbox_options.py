"""Hostile sandbox options (issue 24): every bad option a 400, and a failed create leaves nothing.

Hypothesis sends ``POST /__mock__/sandboxes`` bodies with one hostile value in
one option (``flavour``, ``release``, ``seed``, ``ttl_seconds``, ``users`` and every field of
a user): every JSON type, integers past 64 bits, NaN and infinities, lists,
objects, lone surrogates and other unusual text, deep nesting. Against
``nbmock serve`` with a state file:
- an option the API can take gets 201 (the sandbox is then deleted), any other
  a 400 in the control plane's JSON envelope; never a 500 or an HTML page;
- the sandboxes' folder holds the files of listed sandboxes only;
- the server's open descriptors do not grow with the refusals.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import servers
from mockserver.flavours import FLAVOURS
from mockserver.runtimes.releases import RELEASES

JSON = {"Content-Type": "application/json", "Connection": "close"}
WEEK = 7 * 24 * 3600
INT64 = range(-(2**63), 2**63)

# --- strategies -------------------------------------------------------------------


def unusual_texts() -> st.SearchStrategy[str]:
    """Text a parser may trip on: lone surrogates, controls, right-to-left, emoji, empty."""
    return st.one_of(
        st.integers(0xD800, 0xDFFF).map(chr),
        st.sampled_from(["", " ", "\x00", "\u202e12.1", "１２.１", "😀", "12.1\n", "12.1 "]),
        st.text(max_size=12),
    )


def huge_integers() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from([2**63, -(2**63) - 1, 10**26, -(10**26), 2**1000]),
        st.integers(),
    )


def any_json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """A value of any JSON type, NaN and infinities included, nested up to ``depth``."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        huge_integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        unusual_texts(),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(unusual_texts(), inner, max_size=3)
        ),
        max_leaves=depth * 3,
    )


def deep_values() -> st.SearchStrategy[Any]:
    """Arrays nested 50 to 800 deep (json.dumps writes them back whole)."""
    return st.integers(50, 800).map(lambda n: json.loads("[" * n + "]" * n))


@st.composite
def hostile_users(draw) -> Any:
    """A ``users`` value that is wrong somewhere: its type, an entry, or one field."""
    where = draw(
        st.sampled_from(["users", "entry", "password", "role", "privileges", "name", "count"])
    )
    value = draw(any_json_values())
    good = {"password": "pw-123456", "role": "Administrator"}
    if where == "users":
        return value
    if where == "count":  # past the cap, each entry good
        return {f"u{i}": good for i in range(draw(st.integers(21, 2000)))}
    if where == "entry":
        return {"dev": value}
    if where == "name":
        return {draw(unusual_texts()): good}
    return {"dev": {**good, where: value}}


@st.composite
def hostile_bodies(draw) -> tuple[str, dict[str, Any]]:
    """(the option, a create body with one hostile value in it)."""
    option = draw(st.sampled_from(["flavour", "release", "seed", "ttl_seconds", "users"]))
    if option == "users":
        return option, {"users": draw(hostile_users())}
    value = draw(
        st.one_of(any_json_values(), huge_integers(), unusual_texts(), deep_values())
        | st.sampled_from([math.nan, math.inf, -math.inf, [], {}, ["12.1"], {"12.1": 1}])
    )
    return option, {option: value}


def acceptable(option: str, value: Any) -> bool | None:
    """Whether the API takes ``value`` for ``option`` (None: the generator does not know)."""
    if option == "flavour":
        return isinstance(value, str) and value in FLAVOURS
    if option == "release":
        return isinstance(value, str) and value in RELEASES
    if option == "seed":
        return value is None or (type(value) is int and value in INT64)
    if option == "ttl_seconds":
        return type(value) in (int, float) and math.isfinite(value) and 0 < value <= WEEK
    return None


# --- the run ----------------------------------------------------------------------


@dataclass
class SandboxOptionsReport:
    requests: int = 0
    by_option: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    http_500: int = 0
    files_left: int = 0
    descriptors_before: int = 0
    descriptors_after: int = 0
    problems: list[str] = field(default_factory=list)


def run_sandbox_options(
    server: servers.Server, state: Path, examples: int = 200, *, timeout: float = 60
) -> SandboxOptionsReport:
    """``examples`` hostile creates against ``server``, served with ``--state state``."""
    report = SandboxOptionsReport()
    origin = server.origin
    folder = Path(f"{state}.sandboxes")

    def control(method: str, path: str, data: str | None = None) -> requests.Response:
        return requests.request(
            method, f"{origin}/__mock__/{path}", data=data, headers=JSON, timeout=timeout
        )

    def files_of_unlisted() -> list[str]:
        listed = {item["id"] for item in control("GET", "sandboxes").json()["sandboxes"]}
        names = os.listdir(folder) if folder.exists() else []
        return sorted(name for name in names if name.split(".", 1)[0] not in listed)

    # Every worker opens what it keeps open (the registry, a first sandbox) before counting.
    for _ in range(8):
        made = control("POST", "sandboxes", "{}").json()
        control("DELETE", f"sandboxes/{made['id']}")
        control("POST", "sandboxes", '{"seed": "x"}')
    report.descriptors_before = server.descriptors()

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name != "shrink"],
    )
    @given(hostile_bodies())
    def one(carried) -> None:
        option, body = carried
        text = json.dumps(body)  # NaN, Infinity and lone surrogates written as an attacker would
        response = control("POST", "sandboxes", text)
        report.requests += 1
        report.by_option[option] += 1
        report.by_status[response.status_code] += 1
        label = f"{option}={text[:120]}"
        answer = _json(response)
        if response.status_code == 201 and isinstance(answer, dict) and "id" in answer:
            control("DELETE", f"sandboxes/{answer['id']}")
        elif response.status_code != 400 or not (
            isinstance(answer, dict) and answer.get("status") == "error" and answer.get("messages")
        ):
            if response.status_code >= 500:
                report.http_500 += 1
            report.problems.append(f"{label}: HTTP {response.status_code} {response.text[:120]!r}")
        expected = acceptable(option, body[option])
        if expected is not None and expected != (response.status_code == 201):
            report.problems.append(f"{label}: HTTP {response.status_code}, expected the other")
        left = files_of_unlisted()
        if left:
            report.files_left += len(left)
            report.problems.append(f"{label}: left {left[:4]}")
            for name in left:
                os.remove(folder / name)

    one()
    report.descriptors_after = server.descriptors()
    if report.descriptors_after > report.descriptors_before + 4:
        report.problems.append(
            f"open descriptors grew from {report.descriptors_before} to "
            f"{report.descriptors_after} over {report.requests} creates"
        )
    return report


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
