"""Every answer is ``nosniff``; every answer carrying a token is ``no-store`` (issue 24).

The outside round found ``generateToken``'s JSON cacheable and ``X-Content-Type-Options``
missing everywhere. The routes are enumerated from the app's own ``url_map`` (sandbox
routes included), each with every method it takes and one it does not, in every
format, with and without a token, so a new route is covered the day it is added.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import requests

from mockserver import create_app, sandboxes
from mockserver.flavours import FLAVOURS
from tests.conftest import STANDARD_ID, Api
from tests.nbmock_process import NbmockProcess

#: A token the emulator issues: base64 of a JSON list (``["``), a dot, a signature.
TOKEN = re.compile(r"WyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
FORMATS = (None, "json", "pjson", "html")
ARGUMENTS = {
    "runtime_id": STANDARD_ID,
    "portal_id": "0123456789ABCDEF",
    "username": "admin",
    "rest": "clock",
    "fault_id": "1",
    "filename": "nothing.css",
    # The notebooks workload's (mockserver/workload): ids no item or job has.
    "notebook_id": "0123456789abcdef0123456789abcdef",
    "container_id": "nothing",
    "deployment_id": "nothing",
    "job_id": "nothing",
    "item_id": "0123456789abcdef0123456789abcdef",
}


def _app_with_a_sandbox(flavour: str):
    app = create_app(flavour=flavour, max_sandboxes=2)
    api = Api(app)
    sandbox = api.client.post("/__mock__/sandboxes", json={}).get_json()
    return api, sandbox["id"]


def _requests(app, sandbox_id: str):
    """(method, path) for every rule of ``app`` and of its sandbox's app (at its own
    context) with each method it takes, and PUT."""
    registry = sandboxes.of(app)
    sandbox_app = registry.app(registry.find(sandbox_id=sandbox_id))
    rules = [*app.url_map.iter_rules(), *sandbox_app.url_map.iter_rules()]
    for rule in rules:
        values = {**ARGUMENTS, "sandbox_id": sandbox_id}
        path = rule.rule
        for argument in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{argument}>", values[argument], path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) + ["PUT"]:
            yield method, path


def _answers(api: Api, sandbox_id: str):
    token = api.token()
    for method, path in _requests(api.app, sandbox_id):
        if method == "DELETE" and "sandboxes" in path:
            continue  # would end the sandbox the other requests use; deleted last, below
        for fmt in FORMATS:
            for with_token in (False, True):
                params = {"f": fmt} if fmt else {}
                if with_token:
                    params["token"] = token
                if method == "GET":
                    response = api.client.get(path, query_string=params)
                else:
                    response = api.client.open(path, method=method, data=params)
                yield f"{method} {path} {params.get('f')} token={with_token}", response
    for path in (f"/__mock__/sandboxes/{sandbox_id}", "/__mock__/journal", "/__mock__/faults"):
        yield f"DELETE {path}", api.client.delete(path)


def _everything_a_client_reads(response) -> str:
    return response.headers.get("Location", "") + response.get_data(as_text=True)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_every_answer_of_every_route_is_nosniff_and_no_token_answer_is_cacheable(flavour):
    api, sandbox_id = _app_with_a_sandbox(flavour)
    seen, with_tokens, labels = 0, 0, []
    for label, response in _answers(api, sandbox_id):
        seen += 1
        labels.append(label)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", label
        if TOKEN.search(_everything_a_client_reads(response)):
            with_tokens += 1
            assert response.headers.get("Cache-Control") == "no-store", label
        if label.split()[1].startswith("/__mock__/"):
            assert response.headers.get("Cache-Control") == "no-store", label
    assert any(f"/sb-{sandbox_id}/" in label for label in labels)
    assert seen > 300 and with_tokens > 10  # the enumeration reached the sign-ins and pages


@pytest.mark.parametrize("fmt", ["json", "pjson", "html"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_sign_in_answer_is_never_stored(method, fmt):
    api = Api(create_app())
    form = {"username": "admin", "password": "admin1234", "f": fmt}
    for path in ("/arcgis/sharing/rest/generateToken", "/arcgis/admin/login"):
        if method == "GET":
            response = api.client.get(path, query_string=form)
        else:
            response = api.client.post(path, data=form)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if TOKEN.search(_everything_a_client_reads(response)):
            assert response.headers["Cache-Control"] == "no-store", (path, method, fmt)
    answer = api.client.post("/arcgis/sharing/rest/generateToken", data={**form, "f": "json"})
    assert TOKEN.search(answer.get_data(as_text=True))
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_oauth_redirect_with_its_token_is_never_stored():
    api = Api(create_app())
    host = "https://nbmock.test"
    query = {
        "response_type": "token",
        "client_id": "pythonapi",
        "redirect_uri": host,
        "state": "s",
        "expiration": "600",
    }
    page = api.client.get(
        f"/arcgis/sharing/rest/oauth2/authorize?{urlencode(query)}", base_url=host
    )
    oauth_state = re.search(r'"oauth_state": ?"([^"]+)"', page.get_data(as_text=True))[1]
    signed_in = api.client.post(
        "/arcgis/sharing/oauth2/signin",
        data={"oauth_state": oauth_state, "username": "admin", "password": "admin1234"},
        base_url=host,
    )
    assert TOKEN.search(signed_in.headers["Location"])
    assert signed_in.headers["Cache-Control"] == "no-store"
    assert signed_in.headers["X-Content-Type-Options"] == "nosniff"


def test_served_answers_carry_the_headers_errors_included():
    """Through ``nbmock serve``: a token, an ArcGIS error, a 404 and the control plane."""
    server = NbmockProcess(ready_path="/__mock__/health")
    try:
        signed_in = requests.post(
            f"{server.base}/sharing/rest/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
            timeout=10,
        )
        assert signed_in.headers["Cache-Control"] == "no-store"
        answers = [
            signed_in,
            requests.get(f"{server.base}/admin/notebooks/runtimes?f=json", timeout=10),
            requests.get(f"{server.origin}/nowhere?f=json", timeout=10),
            requests.get(f"{server.origin}/__mock__/state", timeout=10),
            requests.post(f"{server.origin}/__mock__/clock", data="x", timeout=10),
        ]
        for answer in answers:
            assert answer.headers.get("X-Content-Type-Options") == "nosniff", answer.url
    finally:
        server.stop()
