"""A path no API serves (``/nowhere``, ``/arcgis/nothing``, ``/sb-<id>/nothing``): ledger W8a.

Flask's default HTML 404 answered these, whatever ``f`` asked for. Paths are
generated outside every API, under the web context and under a sandbox's, in
both flavours, with every method and format and a live token in the path or
the query; in process (the answer is the app's) and through ``nbmock serve``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.flavours import FLAVOURS
from tests.conftest import Api
from tests.nbmock_process import NbmockProcess
from tests.secret_spellings import leaks, spellings

CONTEXT = "arcgis"
#: First segments that are someone's: the web context, the control plane, the favicon.
TAKEN = {CONTEXT, "__mock__", "favicon.ico"}
#: Second segments under a context that an API serves (or the directory's way in).
SERVED = {"admin", "sharing", "home"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORMATS = (None, "json", "pjson", "html", "xml")
#: werkzeug's own error page: ``<title>404 Not Found</title>`` then ``<h1>``.
FLASK_PAGE = re.compile(r"<title>\d{3} [^<]*</title>\s*<h1>")

segments = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        st.sampled_from("-._~!$&'()*+,;=:@ "),
        st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=12,
).filter(lambda text: text not in (".", ".."))


@dataclass(frozen=True)
class Probe:
    method: str
    segments: tuple[str, ...]
    fmt: str | None
    token_in_query: bool
    #: How the token rides in the path: None, a segment, ``x&token=``, or inside a segment.
    token_in_path: str | None

    def path(self, token: str) -> tuple[str, str]:
        """(the decoded path, as the server reads it; the path as sent, percent-encoded)."""
        parts = list(self.segments)
        if self.token_in_path == "segment":
            parts.append(token)
        elif self.token_in_path == "pair":
            parts[-1] += f"&token={token}"
        elif self.token_in_path == "inside":
            parts[-1] = f"{parts[-1]}{token}{parts[-1]}"
        decoded = "/" + "/".join(parts)
        return decoded, "/" + "/".join(quote(part, safe="&=;:@!$'()*+,~") for part in parts)

    def params(self, token: str) -> dict[str, str]:
        params = {"f": self.fmt} if self.fmt else {}
        if self.token_in_query:
            params["token"] = token
        return params


@st.composite
def probes(draw, prefixes: tuple[str, ...]) -> Probe:
    """A request for a path no API serves: outside any context, or under one of ``prefixes``."""
    prefix = draw(st.sampled_from((None, *prefixes)))
    rest = draw(st.lists(segments, min_size=1, max_size=4))
    # A look-alike of a served segment (``admin0``, ``sharing-x``, ``arcgis.bak``,
    # ``__mock__x``): a prefix test without its slash took ``/arcgis/admin0`` for the admin API.
    lookalike = draw(st.booleans())
    if prefix is None:
        first = rest[0]
        if lookalike:
            rest[0] = draw(st.sampled_from(sorted(TAKEN))) + first
        elif first in TAKEN or first.startswith("sb-"):
            rest[0] = "x" + first
        parts = tuple(rest)
    else:
        if lookalike:
            rest[0] = draw(st.sampled_from(sorted(SERVED))) + rest[0]
        elif rest[0] in SERVED:
            rest[0] = "x" + rest[0]
        parts = (prefix, *rest)
    return Probe(
        method=draw(st.sampled_from(METHODS)),
        segments=parts,
        fmt=draw(st.sampled_from(FORMATS)),
        token_in_query=draw(st.booleans()),
        token_in_path=draw(st.sampled_from((None, "segment", "pair", "inside"))),
    )


def check_answer(probe: Probe, decoded: str, token: str, status: int, headers, body: str) -> None:
    """What any client must see for a path no API serves."""
    assert status in (404, 405), (decoded, status, body[:300])
    assert headers.get("X-Content-Type-Options") == "nosniff", decoded
    assert not FLASK_PAGE.search(body), (decoded, body[:300])
    assert leaks(body + headers.get("Location", ""), spellings(token)) == [], (decoded, body)
    if (probe.fmt or "html") == "html":
        assert headers["Content-Type"].startswith("text/html"), headers
        assert f"Error: {status}" in body
        return
    envelope = json.loads(body)
    assert envelope["status"] == "error" and envelope["code"] == status, envelope
    if status == 404:
        message = envelope["messages"][0]
        assert message.startswith("Could not find resource or operation '"), message
        if probe.token_in_path is None:
            assert decoded[:100] in message, (decoded, message)
    else:
        assert headers.get("Allow"), headers


def _with_a_sandbox(flavour: str) -> tuple[Api, str, str]:
    api = Api(create_app(flavour=flavour, max_sandboxes=2))
    sandbox = api.client.post("/__mock__/sandboxes", json={"flavour": flavour}).get_json()
    return api, sandbox["context"], api.token()


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_a_path_no_api_serves_gets_an_arcgis_404_never_flasks_page_nor_the_token(flavour):
    api, sandbox_context, token = _with_a_sandbox(flavour)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(probe=probes((CONTEXT, sandbox_context)))
    def answered(probe: Probe) -> None:
        decoded, sent = probe.path(token)
        response = api.client.open(sent, method=probe.method, query_string=probe.params(token))
        check_answer(
            probe,
            decoded,
            token,
            response.status_code,
            response.headers,
            response.get_data(as_text=True),
        )

    answered()


@pytest.fixture(scope="module", params=sorted(FLAVOURS))
def served(request):
    server = NbmockProcess("--flavour", request.param, ready_path="/__mock__/health")
    try:
        sandbox = requests.post(
            f"{server.origin}/__mock__/sandboxes", json={"flavour": request.param}, timeout=30
        ).json()
        yield server, sandbox["context"], server.token()
    finally:
        server.stop()


def test_served_a_path_no_api_serves_gets_an_arcgis_404_never_flasks_page_nor_the_token(served):
    server, sandbox_context, token = served

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(probe=probes((CONTEXT, sandbox_context)))
    def answered(probe: Probe) -> None:
        decoded, sent = probe.path(token)
        response = requests.request(
            probe.method,
            server.origin + sent,
            params=probe.params(token),
            timeout=30,
            allow_redirects=False,
        )
        check_answer(probe, decoded, token, response.status_code, response.headers, response.text)

    answered()
    assert leaks(server.output, spellings(token)) == []


def test_the_clients_authentication_probes_still_get_http_404():
    """F15: the official client's probes read only the status and ``WWW-Authenticate``."""
    api = Api(create_app())
    for probe in ("/arcgis/info", "/arcgis/rest/info", "/arcgis/rest/services"):
        response = api.client.get(probe, query_string={"f": "json"})
        assert response.status_code == 404
        assert json.loads(response.get_data(as_text=True))["code"] == 404
