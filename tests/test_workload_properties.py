"""Hostile values for every workload operation, in both flavours: never an HTTP 500, and a
refused request changes nothing.

Hypothesis writes each operation's parameters as any client might send them (any text,
JSON of any shape, numbers in any spelling); the workload is seeded with one open
notebook and one item, so the operations have something to act on.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.core.deployment import of
from mockserver.web import pipeline
from tests.conftest import Api

#: Each flavour's writing operations and the parameters they read.
OPERATIONS = {
    "kubernetes": {
        "notebooks/openNotebook": ("itemId", "notebookRuntimeId", "templateId"),
        "notebooks/executeNotebook": (
            "itemId",
            "updatePortalItem",
            "notebookParameters",
            "saveInjectedParameters",
        ),
    },
    "notebook-server": {
        "notebooks/openNotebook": ("itemId", "notebookRuntimeId", "templateId"),
        "notebooks/executeNotebook": (
            "itemId",
            "updatePortalItem",
            "notebookParameters",
            "saveInjectedParameters",
        ),
        "system/properties/update": ("properties",),
    },
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def parameter_values(draw, item_id: str) -> str:
    return draw(
        st.sampled_from(["", "true", "FALSE", "1e400", "-1", "0", "nan", item_id])
        | st.text(max_size=40)
        | json_values.map(json.dumps)
    )


def _post_only(app, path: str) -> bool:
    """Whether ``path`` is a declared operation of ``app`` that GET reaches only as its page
    in the directory (any other ``f``: code 405)."""
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return False
    operation = pipeline.declared(app).get(endpoint)
    return operation is not None and "GET" not in operation.methods


def site(flavour: str) -> tuple[Api, str]:
    app = create_app(clock=Clock(), flavour=flavour)
    client = app.test_client()
    client.post("/__mock__/workload/notebooks", json={"notebooks": [{"username": "admin"}]})
    item = client.post(
        "/__mock__/workload/items", json={"items": [{"owner": "admin", "title": "t"}]}
    ).get_json()["items"][0]["id"]
    return Api(app), item


@pytest.mark.parametrize("flavour", list(OPERATIONS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_parameters_get_an_answer_and_a_refusal_changes_nothing(flavour, data):
    api, item = site(flavour)
    token = api.token()
    path = data.draw(st.sampled_from(sorted(OPERATIONS[flavour])))
    names = OPERATIONS[flavour][path]
    form = {
        name: data.draw(parameter_values(item))
        for name in data.draw(st.lists(st.sampled_from(names), unique=True))
    }
    before = of(api.app).workload.snapshot().to_json()
    response = api.client.post(f"/arcgis/admin/{path}", data={**form, "f": "json", "token": token})
    assert response.status_code == 200, (path, form, response.status_code)
    answer = response.get_json(force=True)
    if answer.get("status") == "error":
        assert answer["code"] in {400, 403, 404}, answer
        assert of(api.app).workload.snapshot().to_json() == before
    else:
        assert answer["status"] == "success", answer


@pytest.mark.parametrize("flavour", list(OPERATIONS))
@settings(max_examples=25, deadline=None)
@given(start=st.text(max_size=12), num=st.text(max_size=12))
# Ids that name the workload's own POST operations (found by Hypothesis, which draws on the
# code's string constants): the full run met "openNotebook" answered code 405.
@example(start="openNotebook", num="")
@example(start="closeNotebook", num="")
@example(start="executeNotebook", num="1")
def test_any_paging_or_id_in_a_path_gets_an_answer(flavour, start, num):
    api, _item = site(flavour)
    token = api.token()
    listing = api.client.get(
        "/arcgis/admin/notebooks",
        query_string={"f": "json", "token": token, "start": start, "num": num},
    )
    assert listing.status_code == 200
    for path in ("notebooks/{}", "notebooks/jobs/{}", "system/jobs/{}", "system/containers/{}"):
        odd = api.client.get(
            "/arcgis/admin/" + path.format(quote(start, safe="") or "x"),
            query_string={"f": "json", "token": token},
        )
        if odd.status_code == 308:
            # An id of "/" decodes to a doubled slash, which werkzeug merges by a
            # redirect: it must stay on this site's admin API.
            assert urlsplit(odd.headers["Location"]).path.startswith("/arcgis/admin/"), odd
            continue
        assert odd.status_code in {200, 404}
        if odd.status_code == 200:
            body = odd.get_json(force=True)
            # An id that names an operation taken by POST only ("openNotebook") is that
            # operation, asked for by GET: code 405, as every such operation answers.
            refused = {405} if _post_only(api.app, odd.request.path) else {400, 404}
            assert body.get("status") != "error" or body["code"] in refused, body
