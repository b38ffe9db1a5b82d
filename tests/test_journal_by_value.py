"""The journal masks a credential by its value, whatever the parameter is called (issue 24).

The outside round stored live tokens sent as ``x=<token>``, ``token%00=<token>`` and
``redirect=https://...?token=<token>``: masking went by the parameter's name only.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.control import journal
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess

RUNTIMES = "/arcgis/admin/notebooks/runtimes"

#: Names a client may put a token under: none of them the ``token`` the API reads.
ODD_NAMES = (
    "x",
    "t",
    "data",
    "redirect",
    "returnUrl",
    "token\x00",
    "token ",
    " token",
    "token[]",
    "a[token]",
    "TOKEN",
    "_token",
    "tok en",
    "tokenx",
    "\u00e9",
)
#: Where in a value a token may sit.
PLACEMENTS = (
    "{}",
    " {} ",
    "https://example.com/?token={}",
    "https://example.com/cb?a=1&token={}&b=2",
    "https://example.com/cb#access_token={}",
    "/arcgis/admin?f=json&token={}",
    "Bearer {}",
    '{{"token": "{}"}}',
    "[{}]",
    "{}&f=json",
    "prefix-{}",
)
#: How the parameter travels: its name and value through ``quote`` or ``quote_plus``,
#: once or twice, in a query string or a form body.
ENCODINGS = ("plain", "plus", "twice")


def _encode(text: str, how: str) -> str:
    if how == "plain":
        return quote(text, safe="")
    if how == "plus":
        return quote_plus(text)
    return quote(quote(text, safe=""), safe="")


def _raw_pair(name: str, value: str, how: str) -> str:
    return f"{_encode(name, how)}={_encode(value, how)}"


def _journal_text(client) -> str:
    return client.get("/__mock__/journal").get_data(as_text=True)


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(
    name=st.sampled_from(ODD_NAMES) | st.text(min_size=1, max_size=12),
    placement=st.sampled_from(PLACEMENTS),
    how=st.sampled_from(ENCODINGS),
    channel=st.sampled_from(["query", "form", "multipart"]),
)
def test_a_live_token_under_any_parameter_name_never_reaches_the_journal(
    name, placement, how, channel
):
    api = Api(create_app())
    token = api.token()
    value = placement.format(token)
    if channel == "query":
        api.client.get(f"{RUNTIMES}?f=json&{_raw_pair(name, value, how)}")
    elif channel == "form":
        api.client.post(
            RUNTIMES,
            data=f"f=json&{_raw_pair(name, value, how)}",
            content_type="application/x-www-form-urlencoded",
        )
    else:
        api.client.post(
            RUNTIMES, data={"f": "json", name: value}, content_type="multipart/form-data"
        )
    journal = _journal_text(api.client)
    signature = token.rsplit(".", 1)[1]
    assert token not in journal
    assert signature not in journal
    assert quote(token, safe="") not in journal


def test_plain_values_with_equals_signs_are_kept_as_sent(api, token):
    """Masking by value must not hide what a test reads the journal for."""
    api.client.post(
        RUNTIMES,
        data={"f": "json", "token": token, "name": "a=b", "where": "x = 1", "t": "WyJ"},
    )
    params = api.client.get("/__mock__/journal").get_json(force=True)["entries"][-1]["params"]
    assert params["name"] == "a=b" and params["where"] == "x = 1" and params["t"] == "WyJ"
    assert params["token"] == "***"


#: Parameter names and values: plain ones, the hints a credential needs, tokens, names
#: the journal masks, and text long enough to be cut.
_PIECES = st.sampled_from(
    ["json", "a=b", "%3d", "%3D", "WyJ", "bearer ", "BeArEr", "token", "x", "\x00", "\u00e9", " "]
    + ["WyJhYWFhYWFhYSJd.abcdefghijklmnopqrstuv"]
)
_TEXTS = st.lists(_PIECES | st.text(max_size=6), max_size=5).map("".join) | st.text(
    min_size=4000, max_size=4200
)


@PROPERTY
@given(
    params=st.dictionaries(
        st.sampled_from(ODD_NAMES + ("f", "name", "password", "code")) | _TEXTS,
        _TEXTS,
        max_size=journal.MAX_PARAMS + 2,
    )
)
def test_masking_all_values_in_one_search_keeps_what_one_by_one_keeps(params):
    """The journal's fast path (one search over every value) is the value-by-value masking."""
    assert journal.masked_params(params) == journal.masked_params_one_by_one(params)


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess("--workers", "2", ready_path="/__mock__/health")
    yield process
    process.stop()


@pytest.mark.parametrize("how", ENCODINGS)
def test_the_findings_names_keep_no_token_in_the_served_journal(server, how):
    """Through ``nbmock serve``: every odd name, in a query string and in a form body."""
    token = server.token()
    for name in ODD_NAMES:
        for placement in PLACEMENTS:
            pair = _raw_pair(name, placement.format(token), how)
            requests.get(f"{server.base}/admin/notebooks/runtimes?f=json&{pair}", timeout=30)
            requests.post(
                f"{server.base}/admin/notebooks/runtimes",
                data=f"f=json&{pair}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=30,
            )
    journal = requests.get(f"{server.origin}/__mock__/journal", timeout=30).text
    assert token not in journal
    assert token.rsplit(".", 1)[1] not in journal


@pytest.mark.parametrize(
    "where",
    ["runtime name", "user in the path", "runtime id in the path"],
)
def test_a_token_echoed_in_an_answer_is_masked_in_the_journal(where):
    """An answer may echo what was sent (a copy's name, an unknown user or runtime in a
    message): the journal keeps the answer, so it is masked by value too."""
    api = Api(create_app())
    token = api.token()
    if where == "runtime name":
        answer = api.post(
            f"notebooks/runtimes/{STANDARD_ID}/copy", token, **{**SEED_COPY, "name": token}
        )
        assert answer["status"] == "success"  # the name is echoed in the answer
    elif where == "user in the path":
        api.client.get(f"/arcgis/sharing/rest/community/users/{token}", query_string={"f": "json"})
    else:
        api.client.get(f"{RUNTIMES}/{token}", query_string={"f": "json", "token": token})
    journal = _journal_text(api.client)
    assert token not in journal
    assert token.rsplit(".", 1)[1] not in journal


#: Member names a JSON value may hold a credential under (the journal's SECRET_KEY words).
JSON_SECRET_NAMES = (
    "password", "Password", "pwd", "token", "access_token", "client_secret",
    "apiKey", "api_key", "credentials", "Authorization", "passphrase",
)  # fmt: skip
SECRET = "hunter2-Zq9"
#: Where a JSON parameter's text can hold a credential-named member (name, value).
JSON_SHAPES = {
    "beside a plain member": lambda n, v: json.dumps({n: v, "gpu": 1}),
    "nested": lambda n, v: json.dumps({"nodeAffinity": {n: v}}),
    "in an array": lambda n, v: json.dumps([{n: v}]),
    "JSON inside a JSON string": lambda n, v: json.dumps({"a": json.dumps({n: v})}),
    "cut, not JSON as a whole": lambda n, v: json.dumps({n: v, "a": 1})[:-3],
}


@pytest.mark.parametrize("param", ["customResources", "podPlacementPolicy", "notes"])
@pytest.mark.parametrize("shape", JSON_SHAPES)
def test_a_credential_inside_a_json_parameter_never_reaches_the_journal(api, param, shape):
    """``customResources={"password": "…"}`` kept the password as sent in the journaled
    parameters (the answer's echo was masked): every credential-named member, in every
    place a JSON text can hold it, in every JSON-valued parameter, copy refused or not."""
    for name in JSON_SECRET_NAMES:
        value = JSON_SHAPES[shape](name, SECRET)
        api.client.post(
            f"{RUNTIMES}/{STANDARD_ID}/copy",
            data={**SEED_COPY, "f": "json", "token": api.token(), param: value},
        )
        entry = api.client.get("/__mock__/journal").get_json(force=True)["entries"][-1]
        assert SECRET not in json.dumps(entry), (name, shape, entry["params"][param])
        if shape == "beside a plain member":
            assert '"gpu": 1' in entry["params"][param]  # what is no credential stays
