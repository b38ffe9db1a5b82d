"""No spelling of a live token reaches the journal or the access log, wherever it is sent.

The journal masked a token it recognised by shape (``WyJ…``, as issued) and any value
under a credential's name; the same token lower-cased, upper-cased, percent-encoded
beyond the server's one decoding, or spread over two parameters was kept whole. Every
place a client can put a token (a parameter's value or name, in the query, a form or a
multipart body; the path; a header) is enumerated against every spelling, through
``nbmock serve`` (journal and access log) and in process (the journal's own rules).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.control import journal
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess
from tests.secret_spellings import leaks, spellings

RUNTIMES = "/arcgis/admin/notebooks/runtimes"


def _every_byte(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


#: How a client may spell the token; each is what the server holds after its one decoding.
SPELLINGS: dict[str, Callable[[str], str]] = {
    "as sent": lambda token: token,
    "lower-cased": str.lower,
    "upper-cased": str.upper,
    "percent-encoded": _every_byte,
    "percent-encoded, lower-case hex": lambda token: _every_byte(token).lower(),
    "percent-encoded twice": lambda token: quote(_every_byte(token), safe=""),
    "inside a longer value": lambda token: f"note:{token}-end",
    "lower-cased inside a longer value": lambda token: f"note:{token.lower()}-end",
}


def _split(text: str) -> tuple[str, str]:
    middle = len(text) // 2
    return text[:middle], text[middle:]


#: Where a client may put it: (method, path, params, form, files, headers) for a spelling.
Place = Callable[[str], dict]
PLACES: dict[str, Place] = {
    "query value, named token": lambda s: {"params": {"token": s}},
    "query value, another name": lambda s: {"params": {"q": s}},
    "query name": lambda s: {"params": {s: "1"}},
    "query, two parameters": lambda s: {"params": dict(zip(("a", "b"), _split(s), strict=True))},
    "form value, named token": lambda s: {"method": "POST", "data": {"token": s}},
    "form value, another name": lambda s: {"method": "POST", "data": {"note": s}},
    "form name": lambda s: {"method": "POST", "data": {s: "1"}},
    "form, two parameters": lambda s: {
        "method": "POST",
        "data": dict(zip(("a", "b"), _split(s), strict=True)),
    },
    "multipart value": lambda s: {"method": "POST", "files": {"note": (None, s)}},
    "multipart, two parts": lambda s: {
        "method": "POST",
        "files": {name: (None, half) for name, half in zip(("a", "b"), _split(s), strict=True)},
    },
    "query and form, one half each": lambda s: {
        "method": "POST",
        "params": {"a": _split(s)[0]},
        "data": {"b": _split(s)[1]},
    },
    "path segment": lambda s: {"path": f"{RUNTIMES}/{s}"},
    "path, as a pair": lambda s: {"path": f"{RUNTIMES}&token={s}"},
    "header, X-Esri-Authorization": lambda s: {"headers": {"X-Esri-Authorization": f"Bearer {s}"}},
    "header, Authorization": lambda s: {"headers": {"Authorization": f"Bearer {s}"}},
    "header, any name": lambda s: {"headers": {"X-Anything": s}},
    "header, Referer with a token": lambda s: {"headers": {"Referer": f"http://h/?token={s}"}},
    "header, Cookie": lambda s: {"headers": {"Cookie": f"token={s}"}},
}


def _held(text: str, token: str) -> list[str]:
    """Which readings of ``token`` ``text`` holds: any spelling (tests/secret_spellings.py),
    or either half of it in any case (a token spread over two parameters)."""
    found = leaks(text, spellings(token))
    folded = text.lower()
    found += [f"half {i}" for i, half in enumerate(_split(token)) if half.lower() in folded]
    return found


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess("--workers", "2", ready_path="/__mock__/health")
    yield process
    process.stop()


def _wait_for_the_access_line(server, before: int, marker: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(marker in line for line in server.lines[before:]):
            return
        time.sleep(0.05)
    pytest.fail(f"no access line with {marker!r} within 20 s")


@pytest.mark.parametrize("place", sorted(PLACES))
def test_no_spelling_of_a_live_token_in_any_place_reaches_the_served_journal_or_log(server, place):
    token = server.token()
    for spelling, spell in SPELLINGS.items():
        requests.delete(f"{server.origin}/__mock__/journal", timeout=30).raise_for_status()
        before = len(server.lines)
        sent = {"method": "GET", "path": RUNTIMES, **PLACES[place](spell(token))}
        method, path = sent.pop("method"), sent.pop("path")
        sent["params"] = {"f": "json", **sent.get("params", {})}
        requests.request(method, server.base.removesuffix("/arcgis") + path, timeout=30, **sent)
        entries = requests.get(f"{server.origin}/__mock__/journal", timeout=30)
        assert entries.json()["entries"], (place, spelling)  # the request was journaled
        # The journal's own read is logged after the request's line: all of it is in.
        _wait_for_the_access_line(server, before, "/__mock__/journal")
        log = "".join(server.lines[before:])
        assert _held(entries.text, token) == [], (place, spelling, entries.text[:600])
        assert _held(log, token) == [], (place, spelling, log)


@functools.cache
def _issued_token() -> str:
    return Api(create_app()).token()


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_AROUND = st.text(alphabet="abcxyz0123456789 =&:/?-_.%", max_size=8)


@PROPERTY
@given(
    spelling=st.sampled_from(sorted(SPELLINGS)),
    before=_AROUND,
    after=_AROUND,
    cut=st.integers(min_value=1, max_value=90),
    names=st.lists(st.sampled_from(["a", "b", "f", "note", "x y", "q"]), min_size=3, max_size=3),
)
def test_a_token_spelt_and_cut_anywhere_across_parameters_never_reaches_the_journal(
    spelling, before, after, cut, names
):
    """In process: the journal's masking of one request's parameters, a spelling of the
    token inside any text, cut at any point between two parameters."""
    token = _issued_token()
    text = before + SPELLINGS[spelling](token) + after
    cut = min(cut, len(text) - 1)
    params = {f"{names[0]}1": text[:cut], f"{names[1]}2": text[cut:], f"{names[2]}3": "json"}
    kept = journal.masked_params(params)
    assert _held(repr(kept), token) == [], kept
    assert kept == journal.masked_params_one_by_one(params)


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_a_spelt_token_echoed_in_an_answer_never_reaches_the_journal(spelling):
    """A copy's answer echoes its name: the journal keeps answers, masked by value."""
    api = Api(create_app())
    token, other = api.token(), api.token()
    answer = api.post(
        f"notebooks/runtimes/{STANDARD_ID}/copy",
        other,
        **{**SEED_COPY, "name": SPELLINGS[spelling](token)},
    )
    assert "notebookRuntime" in answer or answer.get("code") == 400, answer
    kept = api.client.get("/__mock__/journal").get_data(as_text=True)
    assert _held(kept, token) == [], (spelling, kept[-800:])
