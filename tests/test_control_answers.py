"""The control plane answers JSON, whatever happens, and a gone sandbox's URL says so (issue 24).

The outside round got HTML from the control plane on a bug (HTTP 500) and on any
path it does not have, and Flask's generic HTML 404 from a deleted sandbox's URLs,
even with ``f=json``.
"""

from __future__ import annotations

import json
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.core import messages
from tests.conftest import STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _is_control_envelope(response, status: int | None = None) -> bool:
    if response.mimetype != "application/json":
        return False
    body = response.get_json(force=True)
    return (
        body.get("status") == "error"
        and isinstance(body.get("messages"), list)
        and body.get("code") == response.status_code
        and (status is None or response.status_code == status)
    )


def _control_endpoints(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every control-plane route of ``app``, arguments filled."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/__mock__"):
            continue
        path = (
            rule.rule.replace("<int:fault_id>", "1")
            .replace("<sandbox_id>", "0123456789ab")
            .replace("<path:rest>", "clock")
        )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


ENDPOINTS = _control_endpoints(create_app(max_sandboxes=2))


@pytest.mark.parametrize(("endpoint", "method", "path"), ENDPOINTS)
def test_a_bug_in_any_control_route_is_a_json_500(endpoint, method, path):
    app = create_app(max_sandboxes=2)

    def broken(**_arguments):
        raise RuntimeError("a bug")

    app.view_functions[endpoint] = broken
    response = app.test_client().open(path, method=method, json={})
    assert response.status_code == 500
    assert _is_control_envelope(response, 500), response.data[:200]
    assert response.get_json()["messages"] == [messages.INTERNAL_ERROR]


def test_every_control_route_was_enumerated():
    endpoints = {endpoint for endpoint, _, _ in ENDPOINTS}
    assert {"nbmock_control.post_state", "nbmock_sandboxes.create", "nbmock_control.health"} <= (
        endpoints
    )


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
segments = st.lists(
    st.one_of(
        st.sampled_from(
            ["state", "clock", "faults", "journal", "sandboxes", "reset", "seed", "health", ""]
        ),
        st.text(string.ascii_letters + string.digits + "-_.%~", min_size=1, max_size=12),
    ),
    max_size=4,
)


@PROPERTY
@given(parts=segments, method=st.sampled_from(METHODS), trailing=st.booleans())
def test_no_control_plane_path_answers_html_or_500(parts, method, trailing):
    app = create_app(max_sandboxes=2)
    path = "/__mock__/" + "/".join(parts) + ("/" if trailing and parts else "")
    response = app.test_client().open(path, method=method)
    assert response.status_code != 500, path
    if 300 <= response.status_code < 400:
        assert response.headers["Location"]  # werkzeug's slash redirects stay redirects
    else:
        assert response.mimetype == "application/json", (method, path, response.data[:120])
        if response.status_code >= 400:
            assert _is_control_envelope(response), (method, path)


def test_a_method_a_control_verb_does_not_take_is_a_json_405_naming_it(api):
    response = api.client.put("/__mock__/clock")
    assert _is_control_envelope(response, 405)
    assert "PUT" in response.get_json()["messages"][0]
    assert "POST" in response.headers["Allow"]


# --- a deleted sandbox's URLs -----------------------------------------------------------


def _deleted_sandbox(client) -> dict:
    sandbox = client.post("/__mock__/sandboxes", json={}).get_json()
    assert client.delete(f"/__mock__/sandboxes/{sandbox['id']}").status_code == 200
    return sandbox


def _context_paths(context: str) -> list[str]:
    return [
        f"/{context}",
        f"/{context}/",
        f"/{context}/sharing/rest/info",
        f"/{context}/sharing/rest/generateToken",
        f"/{context}/admin",
        f"/{context}/admin/notebooks/runtimes",
        f"/{context}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        f"/{context}/anything/else",
    ]


@pytest.mark.parametrize("fmt", ["json", "pjson"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_deleted_sandboxs_context_answers_an_arcgis_json_404(fmt, method):
    api = Api(create_app(max_sandboxes=2))
    sandbox = _deleted_sandbox(api.client)
    for path in _context_paths(sandbox["context"]):
        response = api.client.open(path, method=method, data={"f": fmt}, query_string={"f": fmt})
        assert response.status_code == 404, path
        body = json.loads(response.get_data(as_text=True))
        if "/sharing/" in path:
            assert body["error"]["code"] == 404 and sandbox["id"] in body["error"]["message"]
        else:
            assert body["code"] == 404 and sandbox["id"] in body["messages"][0], path


def test_a_deleted_sandboxs_page_says_it_is_gone_in_html():
    api = Api(create_app(max_sandboxes=2))
    sandbox = _deleted_sandbox(api.client)
    response = api.client.get(f"/{sandbox['context']}/admin/notebooks/runtimes")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "deleted, expired or never made" in response.get_data(as_text=True)


def test_a_deleted_sandboxs_control_urls_answer_the_json_404():
    api = Api(create_app(max_sandboxes=2))
    sandbox = _deleted_sandbox(api.client)
    for verb in ("", "/clock", "/state", "/faults", "/journal", "//clock", "/reset/"):
        for method in ("GET", "POST", "DELETE"):
            response = api.client.open(f"/__mock__/sandboxes/{sandbox['id']}{verb}", method=method)
            if 300 <= response.status_code < 400:
                continue  # a slash redirect, checked where it leads by test_sandboxes
            assert _is_control_envelope(response), (verb, method, response.data[:120])
            assert response.status_code in (404, 405), (verb, method)


def test_served_gone_sandbox_and_unknown_control_paths_answer_json():
    server = NbmockProcess(ready_path="/__mock__/health")
    try:
        created = requests.post(f"{server.origin}/__mock__/sandboxes", json={}, timeout=30).json()
        control = created["controlUrl"]
        assert requests.delete(control, timeout=30).status_code == 200
        answers = [
            requests.get(f"{created['url']}/admin/notebooks/runtimes?f=json", timeout=30),
            requests.post(f"{created['url']}/sharing/rest/info", data={"f": "json"}, timeout=30),
            requests.get(control, timeout=30),
            requests.post(f"{control}/clock", json={"advance_seconds": 1}, timeout=30),
            requests.get(f"{server.origin}/__mock__/no-such-verb", timeout=30),
        ]
        for answer in answers:
            assert answer.status_code == 404, answer.url
            assert answer.headers["Content-Type"].split(";")[0] in (
                "application/json",
                "text/plain",
            )
            body = answer.json()
            assert body.get("status") == "error" or "error" in body, answer.url
    finally:
        server.stop()
