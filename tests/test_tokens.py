"""Portal tokens: issuance, where they may travel, expiry, bindings and privileges."""

from __future__ import annotations

import pytest

from mockserver import create_app
from mockserver.core import deployment
from tests.conftest import REPO, SEED_COPY, STANDARD_ID, Api

TOKEN_URL = "/arcgis/sharing/rest/generateToken"
COPY = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy"
MISSING = {
    "status": "error",
    "messages": [
        "Unauthorized access. Token not found. "
        "You can generate a token using the 'generateToken' operation."
    ],
    "code": 499,
}


@pytest.fixture(scope="module")
def users_api() -> Api:
    return Api(create_app(users=REPO / "examples" / "users.toml"))


def test_generate_token_answers_token_expiry_and_ssl(api):
    now_ms = api.clock.now_ms()
    answer = api.client.post(
        TOKEN_URL, data={"username": "admin", "password": "admin1234", "f": "json"}
    ).get_json(force=True)
    assert list(answer) == ["token", "expires", "ssl"]
    assert answer["ssl"] is False
    assert now_ms + 60 * 60_000 <= answer["expires"] <= api.clock.now_ms() + 60 * 60_000


def test_expiration_longer_than_two_weeks_gets_two_weeks(api):
    answer = api.client.post(
        TOKEN_URL,
        data={"username": "admin", "password": "admin1234", "expiration": "999999", "f": "json"},
    ).get_json(force=True)
    two_weeks_ms = 14 * 24 * 3600 * 1000
    assert answer["expires"] - api.clock.now_ms() == pytest.approx(two_weeks_ms, abs=5000)


def test_wrong_password_gets_the_portal_error_envelope(api):
    answer = api.client.post(
        TOKEN_URL, data={"username": "admin", "password": "nope", "f": "json"}
    ).get_json(force=True)
    assert answer == {
        "error": {
            "code": 400,
            "message": "Unable to generate token.",
            "details": ["Invalid username or password."],
        }
    }


def test_generate_token_by_get_is_refused_in_the_portal_envelope(api):
    response = api.client.get(TOKEN_URL, query_string={"username": "admin", "f": "json"})
    assert response.status_code == 200
    assert response.get_json(force=True)["error"]["code"] == 405


def test_referer_client_needs_a_referer(api):
    answer = api.client.post(
        TOKEN_URL,
        data={"username": "admin", "password": "admin1234", "client": "referer", "f": "json"},
    ).get_json(force=True)
    assert answer["error"]["details"] == ["'referer' is required."]


def test_missing_token_is_499(api):
    assert api.post(COPY.removeprefix("/arcgis/admin/"), **SEED_COPY) == MISSING
    assert api.get("notebooks/runtimes") == MISSING


def test_token_only_in_a_post_query_string_is_treated_as_missing(api, token):
    before = api.runtimes(token)
    response = api.client.post(f"{COPY}?token={token}", data={**SEED_COPY, "f": "json"})
    assert response.get_json(force=True) == MISSING
    assert api.runtimes(token) == before


def test_get_accepts_the_token_in_the_query_string(api, token):
    assert "runtimes" in api.get("notebooks/runtimes", token)


@pytest.mark.parametrize("header", ["X-Esri-Authorization", "Authorization"])
def test_bearer_headers_carry_the_token_on_post(api, token, header):
    response = api.client.post(
        COPY, data={**SEED_COPY, "f": "json"}, headers={header: f"Bearer {token}"}
    )
    assert response.get_json(force=True)["status"] == "success"


@pytest.mark.parametrize("bad", ["nonsense", "a.b", "WyJhZG1pbiJd.forged"])
def test_invalid_token_is_498_could_not_decrypt(api, bad):
    answer = api.get("notebooks/runtimes", bad)
    assert answer == {
        "status": "error",
        "messages": ["Could not decrypt token. Token may not be valid."],
        "code": 498,
    }


def test_token_of_another_deployment_is_498(api):
    other = Api(create_app()).token()
    answer = api.get("notebooks/runtimes", other)
    assert answer["code"] == 498
    assert answer["messages"] == ["Could not decrypt token. Token may not be valid."]


def test_expired_token_is_498_without_sleeping(api, token):
    api.clock.advance(61 * 60)
    answer = api.get("notebooks/runtimes", token)
    assert answer == {
        "status": "error",
        "messages": ["Token Expired."],
        "code": 498,
    }


def test_referer_bound_token_is_refused_with_another_referer(api):
    token = api.token(client="referer", referer="https://app.example.com")
    url = "/arcgis/admin/notebooks/runtimes"
    good = api.client.get(
        url,
        query_string={"f": "json", "token": token},
        headers={"Referer": "https://app.example.com"},
    )
    bad = api.client.get(
        url,
        query_string={"f": "json", "token": token},
        headers={"Referer": "https://evil.example.com"},
    )
    assert "runtimes" in good.get_json(force=True)
    assert bad.get_json(force=True) == {
        "status": "error",
        "messages": ["Invalid token."],
        "code": 498,
    }


def test_ip_bound_token_is_refused_from_another_address(api):
    token = api.token(client="ip", ip="10.9.8.7")
    answer = api.get("notebooks/runtimes", token)
    assert answer == {"status": "error", "messages": ["Invalid token."], "code": 498}


PRIVILEGE_TABLE = [
    # user, may list/read/copy runtimes, may open the admin root
    ("admin", True, True),
    ("nbadmin", True, True),
    ("publisher", False, False),
    ("viewer", False, False),
]


@pytest.mark.parametrize("username, notebook_admin, admin_root", PRIVILEGE_TABLE)
def test_privileges_decide_who_may_use_the_notebook_admin_api(
    users_api, username, notebook_admin, admin_root
):
    token = users_api.token(username, f"{username}1234")
    admin_token = users_api.token("admin", "admin1234")
    before = users_api.runtimes(admin_token)
    copied = users_api.post(COPY.removeprefix("/arcgis/admin/"), token, **SEED_COPY)
    listed = users_api.get("notebooks/runtimes", token)
    root = users_api.get("", token)
    if notebook_admin:
        assert copied["status"] == "success" and "runtimes" in listed
        users_api.post(f"notebooks/runtimes/{copied['notebookRuntime']['id']}/unregister", token)
    else:
        forbidden = {
            "status": "error",
            "messages": [
                "You do not have permissions to access this resource or perform this operation."
            ],
            "code": 403,
        }
        assert copied == listed == forbidden
    assert ("fullVersion" in root) is admin_root
    assert users_api.runtimes(admin_token) == before


#: Who may list runtimes, per release [doc]: 11.4's pages accept any one of "Create and
#: edit notebooks", "Servers", "Security and infrastructure"; later ones an admin privilege
#: plus "Create and edit notebooks".
ACCESS_BY_RELEASE = [
    # release, publisher (notebooks only), servers only, nbadmin (servers + notebooks), viewer
    ("11.4", True, True, True, False),
    ("11.5", False, False, True, False),
    ("12.0", False, False, True, False),
    ("12.1", False, False, True, False),
]


@pytest.mark.parametrize("release, publisher, servers, nbadmin, viewer", ACCESS_BY_RELEASE)
def test_notebook_access_follows_the_release_profile(
    tmp_path, release, publisher, servers, nbadmin, viewer
):
    users = (REPO / "examples" / "users.toml").read_text() + (
        '\n[users.servers]\npassword = "servers1234"\nrole = "Servers only"\n'
        'privileges = ["portal:admin:manageServers"]\n'
    )
    (tmp_path / "users.toml").write_text(users)
    api = Api(create_app(users=tmp_path / "users.toml", release_name=release))
    allowed = {}
    for username in ("publisher", "servers", "nbadmin", "viewer"):
        answer = api.get("notebooks/runtimes", api.token(username, f"{username}1234"))
        allowed[username] = "runtimes" in answer
        if not allowed[username]:
            assert answer["code"] == 403, answer
    assert allowed == {
        "publisher": publisher,
        "servers": servers,
        "nbadmin": nbadmin,
        "viewer": viewer,
    }


def test_passwords_are_not_kept_in_clear(users_api):
    user = deployment.of(users_api.app).users.get("viewer")
    assert "viewer1234" not in repr(user)
    assert b"viewer1234" not in user.password_hash


def test_a_token_used_before_still_expires_and_keeps_its_binding(api):
    token = api.token(client="referer", referer="https://app.example.com")
    url = "/arcgis/admin/notebooks/runtimes"
    ok = {"Referer": "https://app.example.com"}
    for _ in range(3):  # used again and again, as a client does
        answer = api.client.get(url, query_string={"f": "json", "token": token}, headers=ok)
        assert "runtimes" in answer.get_json(force=True)
    other = {"Referer": "https://evil.example.com"}
    refused = api.client.get(url, query_string={"f": "json", "token": token}, headers=other)
    assert refused.get_json(force=True)["code"] == 498
    api.clock.advance(61 * 60)
    expired = api.client.get(url, query_string={"f": "json", "token": token}, headers=ok)
    assert expired.get_json(force=True)["messages"] == ["Token Expired."]
