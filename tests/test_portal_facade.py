"""The Portal sharing API facade the official client signs in through, over HTTP.

These tests need no ArcGIS client: they pin the wire facts the client relies
on (docs/FIDELITY.md, "Portal facade"), so that a regression
shows here even where the client is not installed.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.auth.oauth import STATE_LIFETIME_MS
from mockserver.core import deployment
from mockserver.core.clock import Clock

SHARING = "/arcgis/sharing/rest"
HOST = "https://nbmock.test"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(
        '[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n'
        '[users.root]\npassword = "root-pw-1"\nrole = "Administrator"\n'
    )
    return path


def _json(response):
    assert response.status_code == 200, response.status_code
    return response.get_json(force=True)


def _oauth_info(html: str) -> dict:
    """What the client reads: the first line holding ``{...}`` [client]."""
    match = re.search(r"\{.*\}", html)
    assert match, html
    return json.loads(match[0])


def _authorize(client, **params) -> dict:
    query = {
        "response_type": "token",
        "client_id": "pythonapi",
        "redirect_uri": HOST,
        "state": "s-123",
        "expiration": "600",
        **params,
    }
    response = client.get(f"{SHARING}/oauth2/authorize", query_string=query, base_url=HOST)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return _oauth_info(response.get_data(as_text=True))


def _sign_in(client, oauth_state: str, username="admin", password="admin1234", **form):
    return client.post(
        "/arcgis/sharing/oauth2/signin",
        data={"oauth_state": oauth_state, "username": username, "password": password, **form},
        base_url=HOST,
    )


def _fragment(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).fragment).items()}


# --- OAuth sign-in ------------------------------------------------------------


def test_sign_in_redirects_with_a_working_token(client):
    info = _authorize(client)
    response = _sign_in(client, info["oauth_state"])
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(HOST + "#")
    fragment = _fragment(location)
    assert fragment["state"] == "s-123"
    assert fragment["username"] == "admin"
    assert int(fragment["expires_in"]) == 600 * 60
    runtimes = client.get(
        "/arcgis/admin/notebooks/runtimes",
        query_string={"f": "json"},
        headers={"X-Esri-Authorization": f"Bearer {fragment['access_token']}"},
    ).get_json(force=True)
    assert len(runtimes["runtimes"]) == 2


def test_sign_in_token_expires_like_any_other(app, client):
    info = _authorize(client, expiration="5")
    token = _fragment(_sign_in(client, info["oauth_state"]).headers["Location"])["access_token"]
    deployment.of(app).clock.advance(5 * 60 + 1)
    answer = client.get(
        "/arcgis/admin/notebooks/runtimes",
        query_string={"f": "json"},
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    ).get_json(force=True)
    assert answer["code"] == 498


def test_wrong_password_shows_the_page_again_without_a_token(client):
    info = _authorize(client)
    response = _sign_in(client, info["oauth_state"], password="not-the-password")
    assert response.status_code == 200
    assert "Location" not in response.headers
    html = response.get_data(as_text=True)
    assert "access_token" not in html
    again = _oauth_info(html)
    assert again["messages"] == ["Invalid username or password."]
    # The page can be used again, as a person would after a typo.
    assert _sign_in(client, again["oauth_state"]).status_code == 302


def test_forged_or_expired_state_gets_no_token(app, client):
    assert _sign_in(client, "forged-state").status_code == 200
    info = _authorize(client)
    deployment.of(app).clock.advance(STATE_LIFETIME_MS / 1000 + 1)
    response = _sign_in(client, info["oauth_state"])
    assert response.status_code == 200
    assert "oauth_state" not in _oauth_info(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"redirect_uri": "https://elsewhere.example.com"}, "Invalid redirect_uri"),
        ({"client_id": "someone-elses-app"}, "Invalid client_id"),
        ({"response_type": "code"}, "Unsupported response_type"),
    ],
)
def test_authorize_refuses_what_it_cannot_serve(client, params, message):
    info = _authorize(client, **params)
    assert "oauth_state" not in info
    assert info["messages"][0].startswith(message)


def test_sign_in_page_has_a_form_for_a_browser(client):
    html = client.get(
        f"{SHARING}/oauth2/authorize",
        query_string={"response_type": "token", "client_id": "pythonapi", "redirect_uri": HOST},
        base_url=HOST,
    ).get_data(as_text=True)
    assert 'action="/arcgis/sharing/oauth2/signin"' in html
    assert 'name="password" type="password"' in html


# --- what the client reads after signing in ------------------------------------


def test_sharing_root_names_its_version(client):
    root = _json(client.get(SHARING, query_string={"f": "json"}))
    assert root["currentVersion"]
    assert root["enterpriseVersion"] == "12.1.0"


@pytest.mark.parametrize(
    "release, version, build",
    [("11.4", "11.4.0", None), ("11.5", "11.5.0", "56755"), ("12.0", "12.0.0", None)],
)
def test_sharing_root_names_the_enterprise_build(release, version, build):
    """[doc] 11.3 answers ``"enterpriseBuild": "51526"``; an 11.5 capture ``"56755"``."""
    root = _json(
        create_app(release_name=release).test_client().get(SHARING, query_string={"f": "json"})
    )
    assert list(root) == ["currentVersion", "enterpriseVersion", "enterpriseBuild"]
    assert root["enterpriseVersion"] == version
    assert root["enterpriseBuild"].isdigit()
    if build:
        assert root["enterpriseBuild"] == build


def test_info_and_portal_self_name_the_portal_with_its_web_context():
    client = create_app(context="gis").test_client()
    info = _json(client.get("/gis/sharing/rest/info", query_string={"f": "json"}, base_url=HOST))
    assert info["owningSystemUrl"] == "https://nbmock.test/gis"
    portal = _json(
        client.get("/gis/sharing/rest/portals/self", query_string={"f": "json"}, base_url=HOST)
    )
    assert portal["portalHostname"] == "nbmock.test/gis"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_portal_self_is_kubernetes_and_names_the_signed_in_user(api, token, method):
    response = api.client.open(
        f"{SHARING}/portals/self",
        method=method,
        query_string={"f": "json"},
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    )
    portal = _json(response)
    assert portal["portalDeploymentType"] == "ArcGISEnterpriseOnKubernetes"
    assert portal["id"] == "0123456789ABCDEF"
    assert portal["portalMode"] == "singletenant"
    assert portal["user"]["username"] == "admin"


def test_portal_self_anonymous_has_no_user_and_bad_token_is_refused(client):
    anonymous = _json(client.get(f"{SHARING}/portals/self", query_string={"f": "json"}))
    assert "user" not in anonymous
    refused = _json(
        client.get(f"{SHARING}/portals/self", query_string={"f": "json", "token": "garbage"})
    )
    assert refused == PORTAL_INVALID_TOKEN


#: The Portal's own refusals [capture: Esri's JavaScript client fixtures, ArcGIS Online].
PORTAL_TOKEN_REQUIRED = {
    "error": {
        "code": 499,
        "message": "Token Required",
        "messageCode": "GWM_0003",
        "details": ["Token Required"],
    }
}
PORTAL_INVALID_TOKEN = {"error": {"code": 498, "message": "Invalid token.", "details": []}}


@pytest.mark.parametrize("resource", ["community/self", "community/users/admin"])
def test_portal_resources_without_a_token_answer_the_portal_form(client, resource):
    answer = _json(client.get(f"{SHARING}/{resource}", query_string={"f": "json"}))
    assert answer == PORTAL_TOKEN_REQUIRED


@pytest.mark.parametrize("resource", ["community/self", "portals/self/servers"])
def test_portal_resources_with_a_bad_or_expired_token_answer_invalid_token(api, token, resource):
    bad = _json(
        api.client.get(f"{SHARING}/{resource}", query_string={"f": "json", "token": "forged"})
    )
    api.clock.advance(61 * 60)
    expired = _json(
        api.client.get(f"{SHARING}/{resource}", query_string={"f": "json", "token": token})
    )
    assert bad == expired == PORTAL_INVALID_TOKEN


@pytest.mark.parametrize(
    "method, resource", [("GET", "generateToken"), ("DELETE", "community/self")]
)
def test_a_method_the_portal_lacks_is_its_method_not_supported(client, method, resource):
    answer = _json(client.open(f"{SHARING}/{resource}", method=method, query_string={"f": "json"}))
    assert answer == {
        "error": {
            "code": 405,
            "message": "Method not supported.",
            "messageCode": "GWM_0005",
            "details": [],
        }
    }


def test_community_shows_the_users_file_privileges(users_file):
    api_app = create_app(users=users_file, clock=Clock())
    client = api_app.test_client()
    token = client.post(
        f"{SHARING}/generateToken",
        data={"username": "alice", "password": "alice-pw-1", "f": "json"},
    ).get_json(force=True)["token"]
    me = _json(client.get(f"{SHARING}/community/self", query_string={"f": "json", "token": token}))
    assert me["username"] == "alice"
    assert me["role"] == "org_publisher"
    assert "premium:publisher:createNotebooks" in me["privileges"]
    assert not any(":admin:" in privilege for privilege in me["privileges"])
    # alice may see root's profile but not root's privileges.
    other = _json(
        client.get(f"{SHARING}/community/users/root", query_string={"f": "json", "token": token})
    )
    assert other["username"] == "root"
    assert "privileges" not in other


def test_unknown_user_is_an_error(api, token):
    answer = _json(
        api.client.get(
            f"{SHARING}/community/users/nobody", query_string={"f": "json", "token": token}
        )
    )
    assert answer["error"]["code"] == 400


def test_servers_list_the_notebook_server_for_administrators(api, token):
    for portal_id in ("0123456789ABCDEF", "self"):
        servers = _json(
            api.client.get(
                f"{SHARING}/portals/{portal_id}/servers",
                query_string={"f": "json", "token": token},
                base_url=HOST,
            )
        )["servers"]
        assert [server["serverFunction"] for server in servers] == ["NotebookServer"]
        assert servers[0]["adminUrl"] == f"{HOST}/arcgis/admin"


def test_servers_refused_to_non_administrators_and_for_other_portals(users_file, api, token):
    client = create_app(users=users_file, clock=Clock()).test_client()
    alice = client.post(
        f"{SHARING}/generateToken",
        data={"username": "alice", "password": "alice-pw-1", "f": "json"},
    ).get_json(force=True)["token"]
    refused = client.get(
        f"{SHARING}/portals/self/servers", query_string={"f": "json", "token": alice}
    ).get_json(force=True)
    assert refused == {
        "error": {
            "code": 403,
            "message": "You do not have permissions to access this resource or perform this operation.",
            "messageCode": "GWM_0003",
            "details": [],
        }
    }
    missing = api.client.get(
        f"{SHARING}/portals/NOTTHISPORTAL/servers", query_string={"f": "json", "token": token}
    ).get_json(force=True)
    assert missing["error"]["code"] == 404


def test_sign_in_leaves_no_password_or_token_in_the_journal(client):
    info = _authorize(client)
    location = _sign_in(client, info["oauth_state"]).headers["Location"]
    _sign_in(client, _authorize(client)["oauth_state"], password="wrong-secret-pw")
    token = _fragment(location)["access_token"]
    journal = client.get("/__mock__/journal").get_data(as_text=True)
    assert "/arcgis/sharing/oauth2/signin" in journal
    for secret in (token, "admin1234", "wrong-secret-pw"):
        assert secret not in journal


form_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["response_type", "client_id", "redirect_uri", "state", "expiration"]),
        form_text,
    )
)
def test_any_authorize_request_gets_a_page_never_an_error(client, params):
    response = client.get(f"{SHARING}/oauth2/authorize", query_string=params, base_url=HOST)
    assert response.status_code == 200
    info = _oauth_info(response.get_data(as_text=True))
    assert ("oauth_state" in info) != ("messages" in info)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(password=form_text.filter(lambda text: text != "admin1234"), expiration=form_text)
def test_sign_in_without_the_password_never_gives_a_token(client, password, expiration):
    info = _authorize(client)
    response = _sign_in(client, info["oauth_state"], password=password, expiration=expiration)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "access_token" not in response.get_data(as_text=True)
