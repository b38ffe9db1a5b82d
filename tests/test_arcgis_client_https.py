"""The official ArcGIS API for Python, unmodified, against ``nbmock serve --tls``.

The client speaks only HTTPS; here it meets the emulator as a user's script
would: a served port with a self-signed certificate (``verify_cert=False``).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests

from tests.arcgis_client import GIS, exercise_runtime_manager
from tests.nbmock_process import NbmockProcess

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    users = tmp_path_factory.mktemp("users") / "users.toml"
    users.write_text(
        '[users.admin]\npassword = "admin1234"\nrole = "Administrator"\n'
        '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
    )
    server = NbmockProcess("--tls", "--users", str(users))
    yield server
    server.stop()


def test_runtime_workflow_after_password_sign_in(served):
    gis = GIS(served.base, "admin", "admin1234", verify_cert=False)
    assert gis.users.me.username == "admin"
    exercise_runtime_manager(gis)


def test_runtime_workflow_with_generate_token(served):
    gis = GIS(served.base, "admin", "admin1234", use_gen_token=True, verify_cert=False)
    assert gis.users.me.username == "admin"
    exercise_runtime_manager(gis)


def test_runtime_workflow_with_a_token(served):
    token = requests.post(
        f"{served.base}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
        verify=served.verify,
        timeout=10,
    ).json()["token"]
    gis = GIS(served.base, token=token, verify_cert=False)
    assert gis.users.me.username == "admin"
    exercise_runtime_manager(gis)


def test_user_without_admin_privileges_gets_no_admin(served):
    gis = GIS(served.base, "alice", "alice-pw-1", verify_cert=False)
    assert gis.users.me.username == "alice"
    assert gis.admin is None


def test_wrong_password_gets_no_gis(served):
    with pytest.raises(Exception, match="Could not login"):
        GIS(served.base, "admin", "not-the-password", verify_cert=False)


def test_no_token_or_password_reaches_the_server_log(served):
    GIS(served.base, "admin", "admin1234", verify_cert=False)
    log = served.output
    assert "POST /arcgis/sharing/oauth2/signin" in log  # the access log is being read
    assert "admin1234" not in log
    assert "access_token" not in log
    assert "oauth_state" not in log


def test_readme_example_works_as_written(served, capsys):
    """The README's "With the ArcGIS API for Python" example, against this server's port."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## With the ArcGIS API for Python", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "https://127.0.0.1:8443/arcgis" in example
    exec(example.replace("https://127.0.0.1:8443/arcgis", served.base), {})
    current_version, updated, copy_id = capsys.readouterr().out.split()
    assert (current_version, updated) == ("14.0", "True")
    assert str(uuid.UUID(copy_id)) == copy_id
