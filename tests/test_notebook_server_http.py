"""The standalone Notebook Server flavour over HTTP: its operations, guards, releases,
control plane (state export and import, sandboxes) and state file, in process and
through ``nbmock serve --flavour notebook-server``.
"""

from __future__ import annotations

import io
import json

import pytest
import requests

from mockserver import create_app
from mockserver.core import deployment, messages
from mockserver.core.clock import Clock
from mockserver.notebookserver.releases import ADVANCED_ID, RELEASES, STANDARD_ID
from mockserver.testing import in_process, running
from tests.conftest import Api
from tests.nbmock_process import NbmockProcess

IMAGE = "sha256:" + "1e" * 32
REGISTER = {
    "name": "Custom Python 3",
    "imageId": IMAGE,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "2",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}
MANIFEST = {"libraries": [{"name": "geopandas", "version": "1.0.1"}]}


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(
        '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
        '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
    )
    return path


@pytest.fixture
def server_app(users_file):
    return create_app(flavour="notebook-server", users=users_file, clock=Clock())


@pytest.fixture
def nb(server_app) -> Api:
    return Api(server_app)


@pytest.fixture
def admin(nb) -> str:
    return nb.token()


def ids(nb: Api, token: str) -> list[str]:
    return [runtime["id"] for runtime in nb.runtimes(token)]


def test_the_root_answers_as_a_notebook_server_does(nb, admin):
    assert nb.get("", admin) == {"version": "11.5", "resources": ["notebooks", "system"]}


def test_a_fresh_site_lists_esris_two_runtimes_at_its_runtime_version(nb, admin):
    listing = nb.get("notebooks/runtimes", admin)
    assert listing["currentRuntimeVersion"] == "12.0"
    assert [(r["id"], r["name"]) for r in listing["runtimes"]] == [
        (STANDARD_ID, "ArcGIS Notebook Python 3 Standard"),
        (ADVANCED_ID, "ArcGIS Notebook Python 3 Advanced"),
    ]


def test_register_with_an_uploaded_manifest_lists_and_serves_it(nb, admin):
    response = nb.client.post(
        "/arcgis/admin/notebooks/runtimes/register",
        data={
            **REGISTER,
            "f": "json",
            "token": admin,
            "manifestFile": (io.BytesIO(json.dumps(MANIFEST).encode()), "manifest.json"),
        },
        content_type="multipart/form-data",
    )
    runtime = response.get_json(force=True)["notebookRuntime"]
    assert runtime["maxSwapMemory"] == 8 and runtime["esriProvidedRuntime"] is False
    assert runtime["id"] in ids(nb, admin)
    detail = nb.get(f"notebooks/runtimes/{runtime['id']}", admin)
    assert detail["manifestFile"] == "manifest.json"
    libraries = nb.get(f"notebooks/runtimes/{runtime['id']}/manifest", admin)["libraries"]
    assert [(row["name"], row["version"]) for row in libraries] == [("geopandas", "1.0.1")]


def test_create_manifest_file_gives_the_libraries_of_esris_runtime_of_its_kind(nb, admin):
    made = nb.post(
        "notebooks/runtimes/register",
        admin,
        **{**REGISTER, "requiresAdvancedPrivileges": "true", "createManifestFile": "true"},
    )["notebookRuntime"]
    mine = nb.get(f"notebooks/runtimes/{made['id']}/manifest", admin)
    assert mine == nb.get(f"notebooks/runtimes/{ADVANCED_ID}/manifest", admin)
    bare = nb.post("notebooks/runtimes/register", admin, **REGISTER)["notebookRuntime"]
    assert nb.get(f"notebooks/runtimes/{bare['id']}/manifest", admin) == {"libraries": []}


def test_a_refused_register_reports_every_problem_and_adds_nothing(nb, admin):
    before = ids(nb, admin)
    answer = nb.post(
        "notebooks/runtimes/register", admin, **{**REGISTER, "imageId": "x", "maxMemory": "-4"}
    )
    assert answer["status"] == "error" and answer["code"] == 400
    assert len(answer["messages"]) == 2
    assert ids(nb, admin) == before


def test_update_changes_the_runtime_and_an_omitted_swap_doubles_max_memory(nb, admin):
    params = {**REGISTER, "maxCpu": "3", "maxMemory": "5", "maxSwapMemory": ""}
    params.pop("maxCPU")
    assert nb.post(f"notebooks/runtimes/{STANDARD_ID}/update", admin, **params) == {
        "status": "success"
    }
    runtime = nb.get(f"notebooks/runtimes/{STANDARD_ID}", admin)
    assert (runtime["maxCpu"], runtime["maxMemory"], runtime["maxSwapMemory"]) == (3, 5, 10)
    assert runtime["name"] == "Custom Python 3" and runtime["imageId"] == IMAGE


def test_an_esri_runtime_is_refused_unregister_and_a_registered_one_goes(nb, admin):
    refused = nb.post(f"notebooks/runtimes/{STANDARD_ID}/unregister", admin)
    assert refused["code"] == 400
    assert refused["messages"] == [messages.ESRI_RUNTIME_NOT_UNREGISTERABLE.format(id=STANDARD_ID)]
    made = nb.post("notebooks/runtimes/register", admin, **REGISTER)["notebookRuntime"]
    assert nb.post(f"notebooks/runtimes/{made['id']}/unregister", admin) == {"status": "success"}
    assert made["id"] not in ids(nb, admin)
    gone = nb.get(f"notebooks/runtimes/{made['id']}", admin)
    assert gone["code"] == 404


def test_restore_removes_registered_runtimes_and_resets_esris(nb, admin):
    nb.post("notebooks/runtimes/register", admin, **REGISTER)
    params = {**REGISTER, "maxCpu": "7"}
    nb.post(f"notebooks/runtimes/{STANDARD_ID}/update", admin, **params)
    assert nb.post("notebooks/runtimes/restore", admin) == {"status": "success"}
    assert ids(nb, admin) == [STANDARD_ID, ADVANCED_ID]
    assert nb.get(f"notebooks/runtimes/{STANDARD_ID}", admin)["maxCpu"] == 2


def test_validate_runtimes_answers_for_every_runtime(nb, admin):
    answer = nb.post("notebooks/runtimes/validateRuntimes", admin)
    assert answer["status"] == "success"
    names = [row["notebookRuntimeName"] for row in answer["machines"][0]["notebookRuntimes"]]
    assert names == ["ArcGIS Notebook Python 3 Standard", "ArcGIS Notebook Python 3 Advanced"]


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_each_release_has_its_operations_and_answers_404_for_the_others(release):
    nb = Api(create_app(flavour="notebook-server", release_name=release, clock=Clock()))
    admin = nb.token()
    operations = RELEASES[release].operations
    register = nb.post("notebooks/runtimes/register", admin, **{**REGISTER, "version": "2.0"})
    assert ("notebookRuntime" in register) == ("register" in operations)
    validate = nb.post("notebooks/runtimes/validateRuntimes", admin)
    assert (validate.get("status") == "success") == ("validateRuntimes" in operations)
    if "register" not in operations:
        assert register["code"] == 404
    assert nb.get("notebooks/runtimes", admin)["currentRuntimeVersion"] == (
        RELEASES[release].runtime_version
    )


def test_a_publisher_may_read_the_runtimes_but_not_change_them(nb):
    alice = nb.token("alice", "alice-pw-1")
    assert len(nb.runtimes(alice)) == 2
    for path, form in (
        ("notebooks/runtimes/register", REGISTER),
        (f"notebooks/runtimes/{STANDARD_ID}/update", REGISTER),
        ("notebooks/runtimes/restore", {}),
    ):
        assert nb.post(path, alice, **form)["code"] == 403


def test_the_servers_own_generate_token_signs_in_to_its_admin_api(nb):
    answer = nb.client.post(
        "/arcgis/admin/generateToken",
        data={"username": "admin", "password": "admin1234", "client": "requestip", "f": "json"},
    ).get_json(force=True)
    assert set(answer) == {"token", "expires"}
    assert nb.get("notebooks/runtimes", answer["token"])["currentRuntimeVersion"] == "12.0"
    wrong = nb.client.post(
        "/arcgis/admin/generateToken",
        data={"username": "admin", "password": "nope", "f": "json"},
    ).get_json(force=True)
    assert wrong["code"] == 400 and "token" not in wrong


def test_the_portal_lists_a_federated_notebook_server_and_no_kubernetes(nb, admin):
    servers = nb.client.get(
        "/arcgis/sharing/rest/portals/self/servers", query_string={"f": "json", "token": admin}
    ).get_json(force=True)["servers"]
    assert [(s["serverType"], s["adminUrl"]) for s in servers] == [
        ("ARCGIS_NOTEBOOK_SERVER", "http://localhost/arcgis")
    ]
    portal = nb.client.get(
        "/arcgis/sharing/rest/portals/self", query_string={"f": "json", "token": admin}
    ).get_json(force=True)
    assert portal["portalDeploymentType"] != "ArcGISEnterpriseOnKubernetes"


def test_kubernetes_operations_do_not_exist_on_a_notebook_server(nb, admin):
    for path in (
        f"notebooks/runtimes/{STANDARD_ID}/copy",
        f"notebooks/runtimes/{STANDARD_ID}/upgrade",
    ):
        assert nb.post(path, admin, name="x")["code"] == 404


# --- control plane ------------------------------------------------------------------


def test_state_export_names_the_flavour_and_imports_back(nb, admin):
    made = nb.post("notebooks/runtimes/register", admin, **REGISTER)["notebookRuntime"]
    snapshot = nb.client.get("/__mock__/state").get_json()
    assert snapshot["flavour"] == "notebook-server"
    nb.post("notebooks/runtimes/restore", admin)
    assert nb.client.post("/__mock__/state", json=snapshot).status_code == 200
    assert made["id"] in ids(nb, admin)


def test_a_kubernetes_snapshot_is_refused_and_changes_nothing(nb, admin):
    kubernetes = Api(create_app(clock=Clock()))
    snapshot = kubernetes.client.get("/__mock__/state").get_json()
    before = ids(nb, admin)
    refused = nb.client.post("/__mock__/state", json=snapshot)
    assert refused.status_code == 400
    assert "flavour" in refused.get_json()["messages"][0]
    assert ids(nb, admin) == before


def test_a_state_of_one_flavour_is_refused_by_the_other(tmp_path):
    state = str(tmp_path / "state.db")
    create_app(state=state)
    with pytest.raises(ValueError, match="kubernetes"):
        create_app(state=state, flavour="notebook-server")


def test_reset_brings_back_a_fresh_site(nb, admin):
    nb.post("notebooks/runtimes/register", admin, **REGISTER)
    assert nb.client.post("/__mock__/reset").status_code == 200
    assert ids(nb, admin) == [STANDARD_ID, ADVANCED_ID]


def test_a_kubernetes_server_makes_a_notebook_server_sandbox():
    emulator = in_process()
    made = emulator.session.post(
        f"{emulator.control_url}/sandboxes", json={"flavour": "notebook-server"}
    )
    assert made.status_code == 201, made.text
    sandbox = made.json()
    assert (sandbox["flavour"], sandbox["release"]) == ("notebook-server", "11.5")
    token = emulator.session.post(
        f"{sandbox['url']}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).json()["token"]
    listing = emulator.session.get(
        f"{sandbox['url']}/admin/notebooks/runtimes", params={"f": "json", "token": token}
    ).json()
    assert [r["id"] for r in listing["runtimes"]] == [STANDARD_ID, ADVANCED_ID]
    refused = emulator.session.post(
        f"{emulator.control_url}/sandboxes", json={"flavour": "kubernetes", "release": "10.8"}
    )
    assert refused.status_code == 400


# --- nbmock serve --flavour notebook-server ---------------------------------------------


def test_nbmock_serve_serves_the_flavour_and_registers_a_runtime():
    server = NbmockProcess("--flavour", "notebook-server", "--workers", "1")
    try:
        assert "ArcGIS Notebook Server 11.5" in server.output
        token = requests.post(
            f"{server.base}/admin/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
            timeout=10,
        ).json()["token"]
        made = requests.post(
            f"{server.base}/admin/notebooks/runtimes/register",
            files={key: (None, value) for key, value in {**REGISTER, "f": "json"}.items()},
            headers={"X-Esri-Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert made["notebookRuntime"]["name"] == "Custom Python 3"
    finally:
        server.stop()


def test_running_serves_the_flavour_it_is_given():
    with running(flavour="notebook-server", release_name="10.9") as emulator:
        token = emulator.session.post(
            f"{emulator.admin_url}/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
        ).json()["token"]
        root = emulator.session.get(emulator.admin_url, params={"f": "json", "token": token})
        assert root.json() == {"version": "10.9", "resources": ["notebooks", "system"]}


# --- the pytest plugin's marker, faults, journal and clock, for this flavour ----------


def _register(emulator, token: str, **changes: str) -> requests.Response:
    return emulator.session.post(
        f"{emulator.admin_url}/notebooks/runtimes/register",
        data={**REGISTER, **changes, "f": "json", "token": token},
        timeout=30,
    )


def _listed(emulator, token: str) -> list[str]:
    answer = emulator.session.get(
        f"{emulator.admin_url}/notebooks/runtimes",
        params={"f": "json", "token": token},
        timeout=30,
    ).json()
    return [runtime["id"] for runtime in answer["runtimes"]]


@pytest.mark.arcgis_mock(flavour="notebook-server")
def test_the_marker_gives_a_notebook_server_whose_fault_refuses_register_once(arcgis_mock):
    token = arcgis_mock.token()
    before = _listed(arcgis_mock, token)
    arcgis_mock.fault("register", error={"code": 500, "message": "Injected"}, times=1)
    first = _register(arcgis_mock, token)
    assert first.json() == {"status": "error", "messages": ["Injected"], "code": 500}
    assert _listed(arcgis_mock, token) == before
    registered = _register(arcgis_mock, token).json()["notebookRuntime"]
    assert _listed(arcgis_mock, token) == [*before, registered["id"]]
    assert [entry["fault"] for entry in arcgis_mock.journal("register")] == ["error", None]


@pytest.mark.arcgis_mock(flavour="notebook-server", release_name="11.3")
def test_a_runtime_turns_deprecated_when_the_emulated_clock_passes_its_retirement(arcgis_mock):
    token = arcgis_mock.token()
    url = f"{arcgis_mock.admin_url}/notebooks/runtimes/{STANDARD_ID}"
    runtime = arcgis_mock.session.get(url, params={"f": "json", "token": token}).json()
    assert (runtime["version"], runtime["deprecated"]) == ("10.0", False)
    now_ms = arcgis_mock.control("GET", "clock")["epochMs"]
    arcgis_mock.advance_clock((runtime["deprecationDate"] - now_ms) / 1000 + 1)
    token = arcgis_mock.token()  # the first one expired on the way
    runtime = arcgis_mock.session.get(url, params={"f": "json", "token": token}).json()
    assert runtime["deprecated"] is True


# --- the Portal's token exchange for its federated server ---------------------------


#: What arcgis 2.4.4's EsriGenTokenAuth posts to the Portal for a federated server on
#: another host (arcgis/auth/_auth/_token.py, _init_token_auth_handshake) [client].
def _exchange(nb: Api, portal_token: str, server_url: str, **changes: str):
    form = {
        "serverURL": server_url,
        "token": portal_token,
        "expiration": "60",
        "f": "json",
        "request": "getToken",
        "referer": "http",
        **changes,
    }
    return nb.client.post(
        "/arcgis/sharing/rest/generateToken", data=form, headers={"Referer": "http"}
    ).get_json(force=True)


def _portal_token(nb: Api) -> str:
    return nb.client.post(
        "/arcgis/sharing/rest/generateToken",
        data={
            "username": "admin",
            "password": "admin1234",
            "client": "referer",
            "referer": "http",
            "f": "json",
        },
    ).get_json(force=True)["token"]


def test_a_portal_token_exchanges_for_a_token_of_its_notebook_server(nb):
    portal_token = _portal_token(nb)
    listed = nb.client.get(
        "/arcgis/sharing/rest/portals/self/servers",
        query_string={"f": "json", "token": portal_token},
        headers={"Referer": "http"},
    ).get_json(force=True)["servers"][0]
    answer = _exchange(nb, portal_token, listed["adminUrl"])
    assert set(answer) == {"token", "expires", "ssl"} and answer["token"] != portal_token
    runtimes = nb.client.get(
        "/arcgis/admin/notebooks/runtimes",
        query_string={"f": "json", "token": answer["token"]},
        headers={"Referer": "http"},
    ).get_json(force=True)
    assert STANDARD_ID in [runtime["id"] for runtime in runtimes["runtimes"]]


@pytest.mark.parametrize(
    ("server_url", "portal_token", "code"),
    [
        ("https://elsewhere.example.com:11443/arcgis", None, 400),
        ("not a url", None, 400),
        ("http://localhost", "forged-token", 498),
        ("http://localhost", "", 400),
    ],
)
def test_an_exchange_for_another_server_or_with_a_bad_token_is_refused(
    nb, server_url, portal_token, code
):
    token = _portal_token(nb) if portal_token is None else portal_token
    answer = _exchange(nb, token, server_url)
    assert "token" not in answer and answer["error"]["code"] == code, answer


def test_on_a_newer_release_esris_runtimes_move_to_its_version_and_registered_ones_stay(
    tmp_path, users_file
):
    state = tmp_path / "state.sqlite3"
    old = Api(
        create_app(flavour="notebook-server", users=users_file, state=state, release_name="11.3")
    )
    token = old.token()
    registered = old.post("notebooks/runtimes/register", token, **REGISTER)["notebookRuntime"]
    assert registered["version"] == "10.0"  # 11.3's runtime version
    deployment.of(old.app).store.close()

    new = Api(create_app(flavour="notebook-server", users=users_file, state=state))
    versions = {r["id"]: r["version"] for r in new.runtimes(token)}
    assert versions == {STANDARD_ID: "12.0", ADVANCED_ID: "12.0", registered["id"]: "10.0"}
