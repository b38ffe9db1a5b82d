"""The official ArcGIS API for Python, unmodified, against the emulator in this process.

The client's requests go through a transport adapter straight into the Flask
app (``GIS(..., adapter=...)``), so these tests need no socket; the HTTPS
tests in test_arcgis_client_https.py drive the same flows over a served port.
"""

from __future__ import annotations

import pytest

from mockserver import create_app
from mockserver.core.clock import Clock
from tests.arcgis_client import GIS, FlaskTransport, exercise_runtime_manager

URL = "https://nbmock.test/arcgis"


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(
        '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
        '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
    )
    return path


@pytest.fixture
def app(users_file):
    return create_app(users=users_file, clock=Clock())


@pytest.fixture
def transport(app) -> FlaskTransport:
    return FlaskTransport(app)


def sign_in(transport: FlaskTransport, *args, **kwargs):
    return GIS(URL, *args, adapter={"https://": transport}, **kwargs)


def test_password_sign_in_sees_a_kubernetes_portal_and_its_notebooks(transport):
    gis = sign_in(transport, "admin", "admin1234")
    assert gis.users.me.username == "admin"
    assert gis.properties["portalDeploymentType"] == "ArcGISEnterpriseOnKubernetes"
    assert gis.version[0] >= 2024
    assert gis.admin.notebooks is not None
    # The client signed in through the OAuth pages, not generateToken.
    paths = {path for _method, path, _type in transport.requests}
    assert "/arcgis/sharing/oauth2/signin" in paths
    assert "/arcgis/sharing/rest/generateToken" not in paths


def test_runtime_workflow_after_password_sign_in(transport):
    exercise_runtime_manager(sign_in(transport, "admin", "admin1234"))


def test_update_is_sent_as_the_clients_multipart_form(transport):
    gis = sign_in(transport, "admin", "admin1234")
    manager = gis.admin.notebooks.notebooks.runtime_manager
    runtime = next(iter(manager.runtimes))
    assert runtime.update(max_cpu=2.5) is True
    method, _path, content_type = next(
        entry for entry in transport.requests if entry[1].endswith("/update")
    )
    assert (method, content_type.split(";")[0]) == ("POST", "multipart/form-data")
    assert next(iter(manager.runtimes)).properties["maxCpu"] == 2.5


def test_runtime_workflow_with_generate_token(transport):
    gis = sign_in(transport, "admin", "admin1234", use_gen_token=True)
    assert gis.users.me.username == "admin"
    paths = {path for _method, path, _type in transport.requests}
    assert "/arcgis/sharing/rest/generateToken" in paths
    exercise_runtime_manager(gis)


def test_runtime_workflow_with_a_token(app, transport):
    answer = (
        app.test_client()
        .post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
        )
        .get_json(force=True)
    )
    gis = sign_in(transport, token=answer["token"])
    assert gis.users.me.username == "admin"
    exercise_runtime_manager(gis)


def test_forged_token_gets_no_user(transport):
    gis = sign_in(transport, token="not-a-token-this-emulator-issued")
    assert gis.users.me is None
    assert gis.admin is None


def test_user_without_admin_privileges_gets_no_admin(transport):
    gis = sign_in(transport, "alice", "alice-pw-1")
    assert gis.users.me.username == "alice"
    assert "premium:publisher:createNotebooks" in gis.users.me.privileges
    assert gis.admin is None


def test_wrong_password_gets_no_gis(transport):
    with pytest.raises(Exception, match="Could not login"):
        sign_in(transport, "admin", "not-the-password")


@pytest.mark.parametrize(("release", "has_notebooks"), [("11.5", False), ("12.0", True)])
def test_client_shows_notebooks_only_from_release_12(users_file, release, has_notebooks):
    """The client hides notebooks below fullVersion 12.0.0 although the API has them (ledger F14)."""
    transport = FlaskTransport(create_app(users=users_file, release_name=release, clock=Clock()))
    gis = sign_in(transport, "admin", "admin1234")
    assert (gis.admin.notebooks is not None) is has_notebooks


def test_update_with_a_manifest_file_changes_what_manifest_answers(transport, tmp_path):
    """``KubeRuntime.update(manifest=path)`` uploads the file as ``manifestFile`` [client]."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text('[{"name": "rich", "version": "13.9.4", "channel": "conda-forge"}]')
    gis = sign_in(transport, "admin", "admin1234")
    manager = gis.admin.notebooks.notebooks.runtime_manager
    runtime = next(iter(manager.runtimes))
    assert runtime.update(max_cpu=2.0, manifest=str(manifest)) is True
    assert [(row["name"], row["version"], row["channel"]) for row in runtime.manifest] == [
        ("rich", "13.9.4", "conda-forge")
    ]
    manifest.write_text("not json")
    assert runtime.update(max_cpu=3.0, manifest=str(manifest)) is False
    assert [row["name"] for row in runtime.manifest] == ["rich"]
    assert next(iter(manager.runtimes)).properties["maxCpu"] == 2  # read afresh
