"""The copy operation and the runtime reads, through the HTTP layer."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.runtimes.releases import ADVANCED_ID
from tests.conftest import SEED_COPY, STANDARD_ID, Api

COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"


class FrozenClock(Clock):
    """A clock stuck on one millisecond, so every change collides in time."""

    def now(self) -> float:
        return 1_778_498_325.187


def test_urlencoded_copy_answers_in_the_seeds_shape(api, token):
    answer = api.post(COPY, token, **SEED_COPY)
    assert list(answer) == ["notebookRuntime", "status"]
    assert answer["status"] == "success"
    runtime = answer["notebookRuntime"]
    assert list(runtime) == [
        "id", "name", "requiresAdvancedPrivileges", "copied", "version", "esriProvidedRuntime",
        "deploymentDefaultPropertyId", "minCpu", "maxCpu", "minMemory", "minMemoryUnit",
        "maxMemory", "maxMemoryUnit", "maxSwapMemory", "maxSwapMemoryUnit", "sharedMemorySize",
        "sharedMemorySizeUnit", "podPlacementPolicy", "customResources", "revision",
    ]  # fmt: skip
    assert uuid.UUID(runtime["id"]).version == 4
    assert re.fullmatch(r"p[a-z0-9]{20}", runtime["deploymentDefaultPropertyId"])


def test_integral_numbers_are_written_as_integers_and_fractions_kept(api, token):
    response = api.client.post(
        f"/arcgis/admin/{COPY}",
        data={**SEED_COPY, "minCpu": "0.5", "f": "json", "token": token},
    )
    text = response.get_data(as_text=True)
    assert '"minCpu": 0.5' in text
    assert '"maxCpu": 4,' in text and '"maxMemory": 14,' in text


def test_copied_runtime_is_readable_and_listed_after_the_system_ones(api, token):
    runtime = api.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    assert api.get(f"notebooks/runtimes/{runtime['id']}", token) == runtime
    ids = [r["id"] for r in api.runtimes(token)]
    assert ids == [STANDARD_ID, ADVANCED_ID, runtime["id"]]


def test_copy_of_advanced_requires_advanced_privileges(api, token):
    runtime = api.post(f"notebooks/runtimes/{ADVANCED_ID}/copy", token, **SEED_COPY)
    assert runtime["notebookRuntime"]["requiresAdvancedPrivileges"] is True


def test_revisions_strictly_increase_even_within_one_millisecond():
    api = Api(create_app(clock=FrozenClock()))
    token = api.token()
    revisions = [
        api.post(COPY, token, **SEED_COPY)["notebookRuntime"]["revision"] for _ in range(20)
    ]
    assert revisions == sorted(set(revisions))
    assert revisions[0] > 1_778_498_325_187  # seeding took the first milliseconds


def test_refused_copy_names_each_parameter_and_changes_nothing(api, token):
    before = api.runtimes(token)
    answer = api.post(COPY, token, **{**SEED_COPY, "maxMemoryUnit": "tb", "minCpu": "x"})
    assert answer == {
        "status": "error",
        "messages": [
            "Invalid value for 'minCpu': 'x' is not a number.",
            "Invalid value for 'maxMemoryUnit': 'tb'. Valid values are g, m, k, b.",
        ],
        "code": 400,
    }
    assert api.runtimes(token) == before


def test_copy_of_unknown_runtime_is_404_and_changes_nothing(api, token):
    before = api.runtimes(token)
    answer = api.post("notebooks/runtimes/no-such-id/copy", token, **SEED_COPY)
    assert answer == {
        "status": "error",
        "messages": ["Notebook runtime 'no-such-id' does not exist."],
        "code": 404,
    }
    assert api.runtimes(token) == before


def test_copy_of_a_copy_is_refused(api, token):
    runtime = api.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    answer = api.post(f"notebooks/runtimes/{runtime['id']}/copy", token, **SEED_COPY)
    assert answer["code"] == 400 and "only system runtimes can be copied" in answer["messages"][0]


def test_pjson_is_indented_and_json_is_compact(api, token):
    compact = api.client.get(
        "/arcgis/admin/notebooks/runtimes", query_string={"f": "json", "token": token}
    )
    pretty = api.client.get(
        "/arcgis/admin/notebooks/runtimes", query_string={"f": "pjson", "token": token}
    )
    assert "\n" not in compact.get_data(as_text=True)
    assert pretty.get_data(as_text=True).startswith('{\n  "currentRuntimeVersion"')
    assert json.loads(compact.data) == json.loads(pretty.data)
    assert compact.content_type == pretty.content_type == "text/plain;charset=UTF-8"


ARCGIS_JSON = "text/plain;charset=UTF-8"  # [capture] W11


def test_every_json_answer_is_labelled_as_arcgis_labels_it(api, token):
    """Resources, operations, both error envelopes and generateToken: text/plain;charset=UTF-8."""
    answers = [
        api.client.get("/arcgis/admin", query_string={"f": "pjson", "token": token}),
        api.client.post(
            f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "f": "json", "token": token},
        ),
        api.client.get("/arcgis/admin/notebooks/runtimes", query_string={"f": "json"}),
        api.client.get("/arcgis/sharing/rest/community/self", query_string={"f": "json"}),
        api.client.post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
        ),
        api.client.get("/arcgis/sharing/rest/info", query_string={"f": "pjson"}),
    ]
    assert [answer.headers["Content-Type"] for answer in answers] == [ARCGIS_JSON] * len(answers)
    assert all(isinstance(json.loads(answer.data), dict) for answer in answers)


def test_html_is_the_default_format(api, token):
    response = api.client.get(
        f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}", query_string={"token": token}
    )
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "ArcGIS Notebook Python 3 Standard" in page
    assert f'href="/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy?f=html&amp;token=' in page


def test_unknown_format_is_refused(api, token):
    answer = api.get("notebooks/runtimes", token, f="xml")
    assert answer["code"] == 400 and "'f'" in answer["messages"][0]


def test_get_on_copy_is_refused_in_the_admin_envelope(api, token):
    answer = api.get(COPY, token)
    assert answer["status"] == "error" and answer["code"] == 405


def test_unknown_operation_is_404_in_the_admin_envelope(api, token):
    answer = api.get(f"notebooks/runtimes/{STANDARD_ID}/explode", token)
    assert answer == {
        "status": "error",
        "messages": ["Could not find resource or operation 'explode' on the system."],
        "code": 404,
    }


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\xff\xfe\xfa garbage", "application/x-www-form-urlencoded"),
        (
            b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n",
            "multipart/form-data; boundary=x",
        ),
        (b"not multipart at all", "multipart/form-data"),
        (b"name=%FF%FE&minCpu=1", "application/x-www-form-urlencoded"),
        (b'{"name": "json body"}', "application/json"),
    ],
)
def test_malformed_bodies_get_an_arcgis_error_not_a_crash(api, token, body, content_type):
    before = api.runtimes(token)
    response = api.client.post(
        f"/arcgis/admin/{COPY}?f=json",
        data=body,
        content_type=content_type,
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.get_json(force=True)["status"] == "error"
    assert api.runtimes(token) == before


def test_parameters_that_are_not_utf8_are_refused_and_change_nothing(api, token):
    before = api.runtimes(token)
    body = "&".join(f"{k}={v}" for k, v in {**SEED_COPY, "f": "json"}.items() if k != "name")
    for raw, content_type in [
        (b"name=caf%E9&" + body.encode(), "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\ncaf\xe9\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ]:
        response = api.client.post(
            f"/arcgis/admin/{COPY}?f=json",
            data=raw,
            content_type=content_type,
            headers={"X-Esri-Authorization": f"Bearer {token}"},
        )
        assert response.get_json(force=True) == {
            "status": "error",
            "messages": ["Request parameters must be UTF-8 encoded."],
            "code": 400,
        }
    assert api.runtimes(token) == before


def test_utf8_names_are_kept_exactly(api, token):
    name = "Café 数据 🚀"
    runtime = api.post(COPY, token, **{**SEED_COPY, "name": name})["notebookRuntime"]
    assert runtime["name"] == name
    assert api.get(f"notebooks/runtimes/{runtime['id']}", token)["name"] == name
