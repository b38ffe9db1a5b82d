"""The whole runtimes surface: workflows, release profiles and the HTML directory."""

from __future__ import annotations

import html
import io
import json
import re

import pytest

from mockserver import create_app
from mockserver.core import deployment
from mockserver.runtimes.releases import ADVANCED_ID, RELEASES
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.html_forms import form_fields

RUNTIMES = "notebooks/runtimes"


def client_update_parts(runtime: dict, **changes: str) -> dict[str, str]:
    """The 15 multipart parts the official client's KubeRuntime.update sends [client]."""
    parts = {
        "name": runtime["name"],
        "version": runtime["version"],
        "imageId": "",
        "containerType": "",
        "imagePullString": "",
        "requiresAdvancedPrivileges": str(runtime["requiresAdvancedPrivileges"]).lower(),
        "maxCpu": f"{float(runtime['maxCpu'])}",
        "maxMemory": f"{float(runtime['maxMemory'])}",
        "maxMemoryUnit": "g",
        "maxSwapMemory": "",
        "maxSwapMemoryUnit": "g",
        "sharedMemory": "",
        "sharedMemoryUnit": "m",
        "dockerRuntime": "",
        "f": "json",
    }
    parts.update(changes)
    assert len(parts) == 15
    return parts


def test_copy_read_update_read_unregister_read_list_workflow(api, token):
    copied = api.post(f"{RUNTIMES}/{STANDARD_ID}/copy", token, **SEED_COPY)["notebookRuntime"]
    url = f"{RUNTIMES}/{copied['id']}"
    assert api.get(url, token) == copied

    response = api.client.post(
        f"/arcgis/admin/{url}/update",
        data=client_update_parts(copied, maxCpu="6.0", maxMemory="20.0"),
        content_type="multipart/form-data",
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    )
    assert response.get_json(force=True) == {"status": "success"}
    after = api.get(url, token)
    assert (after["maxCpu"], after["maxMemory"], after["maxSwapMemory"]) == (6, 20, 40)
    assert after["revision"] > copied["revision"]
    assert {
        k: v
        for k, v in after.items()
        if k not in {"maxCpu", "maxMemory", "maxSwapMemory", "revision"}
    } == {
        k: v
        for k, v in copied.items()
        if k not in {"maxCpu", "maxMemory", "maxSwapMemory", "revision"}
    }

    assert api.post(f"{url}/unregister", token) == {"status": "success"}
    gone = api.get(url, token)
    assert gone["code"] == 404 and gone["status"] == "error"
    assert [r["id"] for r in api.runtimes(token)] == [STANDARD_ID, ADVANCED_ID]


def test_system_runtimes_can_be_updated(api, token):
    answer = api.post(
        f"{RUNTIMES}/{STANDARD_ID}/update", token, maxCPU="2", maxMemory="6", maxMemoryUnit="g"
    )
    assert answer == {"status": "success"}
    assert api.get(f"{RUNTIMES}/{STANDARD_ID}", token)["maxCpu"] == 2


def test_refused_update_changes_nothing(api, token):
    before = api.get(f"{RUNTIMES}/{STANDARD_ID}", token)
    answer = api.post(
        f"{RUNTIMES}/{STANDARD_ID}/update", token, maxCpu="-2", maxMemory="6", maxMemoryUnit="q"
    )
    assert answer["code"] == 400 and len(answer["messages"]) == 2
    assert api.get(f"{RUNTIMES}/{STANDARD_ID}", token) == before


def test_system_runtime_cannot_be_unregistered(api, token):
    answer = api.post(f"{RUNTIMES}/{STANDARD_ID}/unregister", token)
    assert answer["code"] == 400 and "cannot be unregistered" in answer["messages"][0]
    assert len(api.runtimes(token)) == 2


def test_unregister_of_unknown_runtime_is_404(api, token):
    assert api.post(f"{RUNTIMES}/nope/unregister", token)["code"] == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_manifest_lists_libraries_standard_smaller_than_advanced(api, token, method):
    standard = getattr(api, method)(f"{RUNTIMES}/{STANDARD_ID}/manifest", token)["libraries"]
    advanced = getattr(api, method)(f"{RUNTIMES}/{ADVANCED_ID}/manifest", token)["libraries"]
    assert 0 < len(standard) < len(advanced)
    assert {lib["name"] for lib in standard} < {lib["name"] for lib in advanced}
    assert set(standard[0]) == {
        "name", "version", "build_string", "dist_name", "channel", "build_number", "base_url", "platform",
    }  # fmt: skip


def test_system_manifest_rows_look_like_esris_example(api, token):
    """[doc:manifest] Esri's example rows have ``"base_url": null`` and ``"platform": null``."""
    rows = api.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", token)["libraries"]
    assert {(row["base_url"], row["platform"]) for row in rows} == {(None, None)}
    arcgis = next(row for row in rows if row["name"] == "arcgis")
    assert arcgis["dist_name"] == f"arcgis-{arcgis['version']}-{arcgis['build_string']}"


CONDA_LIST = (
    b'[{"base_url": null, "build_number": 0, "build_string": "pyhd8ed1ab_0",'
    b' "channel": "conda-forge", "dist_name": "rich-13.9.4-pyhd8ed1ab_0",'
    b' "name": "rich", "platform": null, "version": "13.9.4"},'
    b' {"name": "geopandas", "version": "1.0.1"}]'
)


def _update_with_manifest(api, token, runtime_id, content: bytes, filename="manifest.json"):
    response = api.client.post(
        f"/arcgis/admin/{RUNTIMES}/{runtime_id}/update",
        data={
            "maxCpu": "2.0",
            "maxMemory": "6.0",
            "maxMemoryUnit": "g",
            "f": "json",
            "token": token,
            "manifestFile": (io.BytesIO(content), filename, "application/json"),
        },
        content_type="multipart/form-data",
    )
    return response.get_json(force=True)


def test_update_with_an_uploaded_manifest_replaces_what_manifest_answers(api, token):
    copied = api.post(f"{RUNTIMES}/{STANDARD_ID}/copy", token, **SEED_COPY)["notebookRuntime"]
    assert _update_with_manifest(api, token, copied["id"], CONDA_LIST) == {"status": "success"}
    libraries = api.get(f"{RUNTIMES}/{copied['id']}/manifest", token)["libraries"]
    assert libraries == [
        {
            "name": "rich",
            "version": "13.9.4",
            "build_string": "pyhd8ed1ab_0",
            "dist_name": "rich-13.9.4-pyhd8ed1ab_0",
            "channel": "conda-forge",
            "build_number": 0,
            "base_url": None,
            "platform": None,
        },
        {
            "name": "geopandas",
            "version": "1.0.1",
            "build_string": None,
            "dist_name": None,
            "channel": None,
            "build_number": None,
            "base_url": None,
            "platform": None,
        },
    ]
    assert api.get(f"{RUNTIMES}/{copied['id']}", token)["maxMemory"] == 6
    # The manifest resource's own shape is accepted too, and the source keeps its own.
    again = {"libraries": libraries[:1]}
    assert _update_with_manifest(api, token, copied["id"], json.dumps(again).encode()) == {
        "status": "success"
    }
    assert api.get(f"{RUNTIMES}/{copied['id']}/manifest", token) == again
    assert "rich" not in {
        row["name"] for row in api.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", token)["libraries"]
    }


NOT_A_MANIFEST = (
    "Invalid value for 'manifestFile': expected a manifest {\"libraries\": [...]}"
    " or the output of 'conda list --json', with at least one library."
)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"name,version\nrich,13.9.4\n", "Invalid value for 'manifestFile': the file is not JSON in UTF-8."),
        (b'{"packages": []}', NOT_A_MANIFEST),
        (b"[]", NOT_A_MANIFEST),
        (b'[{"name": "rich"}]', "Invalid value for 'manifestFile': library 0 needs a 'name' and a 'version'."),
        (b'[{"name": "\\ud800x", "version": "1"}]', "Invalid value for 'manifestFile': it holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)."),
        (b'[{"name": "x", "version": "1", "\\udfff": 1}]', "Invalid value for 'manifestFile': it holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)."),
        (b'[{"name": "x", "version": "1", "build_number": NaN}]', "Invalid value for 'manifestFile': the file is not JSON in UTF-8."),
        (b'[{"name": "x", "version": "1", "n": ' + b"[" * 40 + b"]" * 40 + b"}]", "Invalid value for 'manifestFile': JSON nested deeper than 32 levels."),
    ],
)  # fmt: skip
def test_a_manifest_that_does_not_parse_is_refused_and_changes_nothing(
    api, token, content, message
):
    before_runtime = api.get(f"{RUNTIMES}/{STANDARD_ID}", token)
    before_manifest = api.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", token)
    answer = _update_with_manifest(api, token, STANDARD_ID, content)
    assert answer == {"status": "error", "messages": [message], "code": 400}
    assert api.get(f"{RUNTIMES}/{STANDARD_ID}", token) == before_runtime
    assert api.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", token) == before_manifest


def test_an_uploaded_manifest_survives_export_and_import_of_the_state(api, token):
    assert _update_with_manifest(api, token, STANDARD_ID, CONDA_LIST) == {"status": "success"}
    state = api.client.get("/__mock__/state").get_json(force=True)
    fresh = Api(create_app())
    assert fresh.client.post("/__mock__/state", json=state).status_code == 200
    fresh_token = fresh.token()
    assert fresh.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", fresh_token) == api.get(
        f"{RUNTIMES}/{STANDARD_ID}/manifest", token
    )


def test_a_copy_reports_its_sources_manifest(api, token):
    copied = api.post(f"{RUNTIMES}/{ADVANCED_ID}/copy", token, **SEED_COPY)["notebookRuntime"]
    assert api.get(f"{RUNTIMES}/{copied['id']}/manifest", token) == api.get(
        f"{RUNTIMES}/{ADVANCED_ID}/manifest", token
    )


@pytest.mark.parametrize("source", [STANDARD_ID, ADVANCED_ID])
def test_a_copy_of_a_system_runtime_with_an_uploaded_manifest_reports_that_manifest(
    api, token, source
):
    assert _update_with_manifest(api, token, source, CONDA_LIST) == {"status": "success"}
    uploaded = api.get(f"{RUNTIMES}/{source}/manifest", token)
    assert [row["name"] for row in uploaded["libraries"]] == ["rich", "geopandas"]
    copied = api.post(f"{RUNTIMES}/{source}/copy", token, **SEED_COPY)["notebookRuntime"]
    assert api.get(f"{RUNTIMES}/{copied['id']}/manifest", token) == uploaded
    # A later upload to the source is not the copy's: it copied the libraries of then.
    again = {"libraries": uploaded["libraries"][1:]}
    assert _update_with_manifest(api, token, source, json.dumps(again).encode()) == {
        "status": "success"
    }
    assert api.get(f"{RUNTIMES}/{copied['id']}/manifest", token) == uploaded


def test_admin_root_and_notebooks_name_their_children(api, token):
    root = api.get("", token)
    assert list(root.items()) == [
        ("fullVersion", "12.1.0"),
        ("resources", ["notebooks"]),
        ("currentVersion", 12.1),  # a number, as in Esri's example [doc]
    ]
    # [doc: 11.4 notebooks] operations, the open notebooks, then the child resources.
    notebooks = api.get("notebooks", token)
    assert list(notebooks) == ["operations", "notebooks", "resources"]
    assert notebooks["notebooks"] == []
    assert {"runtimes", "deployments", "jobs", "configuration"} <= set(notebooks["resources"])


# --- release profiles ----------------------------------------------------------

OPERATIONS_BY_RELEASE = {
    "11.4": {"copy": False, "unregister": False, "upgrade": False},
    "11.5": {"copy": True, "unregister": True, "upgrade": False},
    "12.0": {"copy": True, "unregister": True, "upgrade": False},
    "12.1": {"copy": True, "unregister": True, "upgrade": True},
}


@pytest.mark.parametrize("release_name", sorted(OPERATIONS_BY_RELEASE))
def test_each_release_offers_its_operations_and_refuses_the_others(release_name):
    api = Api(create_app(release_name=release_name))
    token = api.token()
    expected = OPERATIONS_BY_RELEASE[release_name]
    version = RELEASES[release_name].runtime_version
    listed = api.get(RUNTIMES, token)
    assert listed["currentRuntimeVersion"] == version
    assert {r["version"] for r in listed["runtimes"]} == {version}
    assert api.get("", token)["fullVersion"] == RELEASES[release_name].full_version

    copied = api.post(f"{RUNTIMES}/{STANDARD_ID}/copy", token, **SEED_COPY)
    if expected["copy"]:
        assert copied["status"] == "success"
        runtime_id = copied["notebookRuntime"]["id"]
    else:
        assert copied == {
            "status": "error",
            "messages": ["Could not find resource or operation 'copy' on the system."],
            "code": 404,
        }
        runtime_id = STANDARD_ID
    upgraded = api.post(f"{RUNTIMES}/{runtime_id}/upgrade", token)
    if expected["upgrade"]:
        assert upgraded["code"] == 400  # a copy made now is already current
    else:
        assert upgraded["code"] == 404 and "'upgrade'" in upgraded["messages"][0]
    unregistered = api.post(f"{RUNTIMES}/{runtime_id}/unregister", token)
    assert (unregistered == {"status": "success"}) is expected["unregister"]
    # Reads and update exist in every release.
    assert api.post(
        f"{RUNTIMES}/{STANDARD_ID}/update", token, maxCpu="1", maxMemory="4", maxMemoryUnit="g"
    ) == {"status": "success"}
    assert api.get(f"{RUNTIMES}/{STANDARD_ID}/manifest", token)["libraries"]


def test_copies_keep_their_version_under_a_newer_release_until_upgraded(tmp_path):
    state = tmp_path / "state.sqlite3"
    old = Api(create_app(state=state, release_name="12.0"))
    token = old.token()
    copied = old.post(f"{RUNTIMES}/{STANDARD_ID}/copy", token, **SEED_COPY)["notebookRuntime"]
    assert copied["version"] == "13.0"
    deployment.of(old.app).store.close()

    new = Api(create_app(state=state, release_name="12.1"))
    runtimes = {r["id"]: r for r in new.runtimes(token)}
    assert runtimes[STANDARD_ID]["version"] == "14.0"
    assert runtimes[copied["id"]]["version"] == "13.0"

    assert new.post(f"{RUNTIMES}/{copied['id']}/upgrade", token) == {"status": "success"}
    upgraded = new.get(f"{RUNTIMES}/{copied['id']}", token)
    assert upgraded["version"] == "14.0"
    assert upgraded["maxMemory"] == copied["maxMemory"] and upgraded["name"] == copied["name"]
    assert upgraded["revision"] > copied["revision"]


# --- the HTML directory --------------------------------------------------------


def test_html_directory_walks_from_token_to_copy_result(api):
    form = api.client.get("/arcgis/sharing/rest/generateToken")
    assert form.mimetype == "text/html" and 'name="password" type="password"' in form.get_data(
        as_text=True
    )

    signed_in = api.client.post(
        "/arcgis/sharing/rest/generateToken", data={"username": "admin", "password": "admin1234"}
    ).get_data(as_text=True)
    root_link = (
        re.search(r'href="(/arcgis/admin\?[^"]+)"', signed_in).group(1).replace("&amp;", "&")
    )
    root = api.client.get(root_link).get_data(as_text=True)
    notebooks_link = (
        re.search(r'href="(/arcgis/admin/notebooks\?[^"]+)"', root).group(1).replace("&amp;", "&")
    )
    notebooks = api.client.get(notebooks_link).get_data(as_text=True)
    runtimes_link = re.search(r'href="(/arcgis/admin/notebooks/runtimes\?[^"]+)"', notebooks).group(
        1
    )
    listing = api.client.get(runtimes_link.replace("&amp;", "&")).get_data(as_text=True)
    standard_link = re.search(
        rf'href="(/arcgis/admin/notebooks/runtimes/{STANDARD_ID}\?[^"]+)"', listing
    ).group(1)
    page = api.client.get(standard_link.replace("&amp;", "&")).get_data(as_text=True)

    # The runtime page links to the copy operation's own page, whose form posts
    # with f=html and the session's token.
    copy_link = re.search(
        rf'href="(/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy\?[^"]+)"', page
    ).group(1)
    copy_page = api.client.get(copy_link.replace("&amp;", "&")).get_data(as_text=True)
    fields = form_fields(copy_page)
    assert fields["f"] == "html" and fields["token"]
    fields.update(name="From the directory", minCpu="1", maxCpu="2")
    posted = api.client.post(f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy", data=fields)
    # Post/redirect/get: the answer sends the browser to the runtime it made.
    assert posted.status_code == 303
    result = api.client.get(posted.headers["Location"])
    assert result.mimetype == "text/html"
    text = html.unescape(result.get_data(as_text=True))
    assert "Runtime 'From the directory' created" in text


def test_html_errors_are_pages_too(api, token):
    page = api.client.post(
        "/arcgis/admin/notebooks/runtimes/no-such-id/update", data={"f": "html", "token": token}
    ).get_data(as_text=True)
    assert "Error: 404" in page and "no-such-id" in page
