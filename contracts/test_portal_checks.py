"""The Portal side the official client signs in through (ledger H3, F2-F13).

No check sends a wrong password for a real account: failed sign-ins use a
user name that exists nowhere, so no lockout policy is ever triggered.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from contracts import calls
from contracts.expectations import PORTAL_VERSIONS
from contracts.reply import Reply, parse_json
from contracts.target import Target

NOBODY = "nbmock-kit-nobody"
NOTEBOOK_PRIVILEGES = {"premium:publisher:createNotebooks"}
_OAUTH_INFO = re.compile(r"var oAuthInfo = (\{.*\});?\s*$", re.MULTILINE)


def test_generate_token_by_get_refused(target: Target) -> None:
    """H3: tokens are POST only; ``GET generateToken?f=json`` is refused with code 405 (no credentials sent)."""
    reply = target.portal("GET", "generateToken")
    assert reply.code == 405, reply
    assert "token" not in (reply.body or {})


@pytest.mark.flavour("kubernetes")
def test_sharing_root_version_matches_release(target: Target) -> None:
    """F1, F2: the sharing root names the Enterprise version and the release's portal version."""
    release = target.admin("GET", "").json["fullVersion"].rsplit(".", 1)[0]
    body = target.portal("GET", "", token=target.token, token_in="header").json
    if release not in PORTAL_VERSIONS:
        pytest.skip(f"release {release} has no portal version in the ledger")
    assert body["currentVersion"] == PORTAL_VERSIONS[release], body
    assert body["enterpriseVersion"] == f"{release}.0", body


@pytest.mark.flavour("kubernetes")
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_portal_self_names_signed_in_user(target: Target, method: str) -> None:
    """F3: ``portals/self`` by GET and POST names the Kubernetes deployment and the signed-in user."""
    reply = target.portal(method, "portals/self", token=target.token, token_in="header")
    body = reply.json
    assert body["portalDeploymentType"] == "ArcGISEnterpriseOnKubernetes", reply
    assert body["id"], reply
    if target.credentials.username:
        assert body["user"]["username"] == target.credentials.username, reply


def test_portal_self_bad_token_is_498(target: Target) -> None:
    """F4: without a token ``portals/self`` has no ``user``; with a bad one it is Portal error 498."""
    anonymous = target.portal("GET", "portals/self").json
    assert "user" not in anonymous
    reply = target.portal("GET", "portals/self", token="not-a-token-" + "y" * 20, token_in="query")
    assert reply.envelope == "portal-error" and reply.code == 498, reply


def test_community_self_lists_privileges(target: Target) -> None:
    """F5: ``community/self`` lists the user's privileges, the notebook ones for the kit's admin."""
    body = target.portal("GET", "community/self", token=target.token, token_in="header").json
    assert isinstance(body.get("privileges"), list), body
    assert set(body["privileges"]) >= NOTEBOOK_PRIVILEGES, body["privileges"]
    assert any(":admin:" in privilege for privilege in body["privileges"])


def test_other_users_privileges_hidden(target: Target, limited_token: str) -> None:
    """F6: another user's privileges are hidden from a non-admin; an unknown user is error 400."""
    other = target.credentials.username or _own_username(target)
    body = target.portal(
        "GET", f"community/users/{other}", token=limited_token, token_in="header"
    ).json
    assert body.get("username") == other and "privileges" not in body, body
    reply = target.portal("GET", f"community/users/{NOBODY}", token=target.token, token_in="header")
    assert reply.envelope == "portal-error" and reply.code == 400, reply


def _own_username(target: Target) -> str:
    """The signed-in user's name, for a run that holds only a token."""
    body = target.portal("GET", "community/self", token=target.token, token_in="header").json
    return body["username"]


def test_servers_list_notebook_server(target: Target) -> None:
    """F7: the portal's servers include a NotebookServer (or the client hides notebooks)."""
    body = target.portal("GET", "portals/self/servers", token=target.token, token_in="header").json
    functions = [server.get("serverFunction") for server in body.get("servers", [])]
    assert "NotebookServer" in functions, body


def _own_redirect(target: Target) -> str:
    parts = urlsplit(target.base_url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}/home/accountswitcher-callback.html"


def _authorize(target: Target, redirect_uri: str, state: str = "kit-state") -> Reply:
    return target.portal(
        "GET",
        "oauth2/authorize",
        params={
            "client_id": "pythonapi",
            "response_type": "token",
            "redirect_uri": redirect_uri,
            "state": state,
            "expiration": "60",
            "f": "",
        },
    )


def _oauth_info(reply: Reply) -> dict:
    match = _OAUTH_INFO.search(reply.text)
    assert match, f"no single-line oAuthInfo in the page: {reply!r}"
    return parse_json(match.group(1))


def _sign_in(target: Target, oauth_state: str, username: str, password: str) -> Reply:
    return target.request(
        "POST",
        "sharing/oauth2/signin",
        data={
            "username": username,
            "password": password,
            "oauth_state": oauth_state,
            "expiration": "60",
        },
        token=None,
    )


def test_authorize_page_carries_oauth_state(target: Target) -> None:
    """F8: the authorize page's script has one line ``var oAuthInfo = {"oauth_state": ...}``."""
    reply = _authorize(target, _own_redirect(target))
    assert reply.status == 200 and _oauth_info(reply).get("oauth_state"), reply


def test_authorize_refuses_foreign_redirect(target: Target) -> None:
    """F9: a redirect to another host gets the page with a message and no ``oauth_state``."""
    info = _oauth_info(_authorize(target, "https://elsewhere.example/callback"))
    assert "oauth_state" not in info, info
    assert any("redirect_uri" in message for message in info.get("messages", [])), info


def test_oauth_wrong_password_shows_page(target: Target) -> None:
    """F11: wrong credentials (an unknown user) get the page again with the message and a new state."""
    state = _oauth_info(_authorize(target, _own_redirect(target)))["oauth_state"]
    reply = _sign_in(target, state, NOBODY, "not-the-password")
    assert reply.status == 200, reply
    info = _oauth_info(reply)
    assert "Invalid username or password." in info.get("messages", []), info
    assert info.get("oauth_state"), info


def test_expired_oauth_state_refused(target: Target) -> None:
    """F12: a forged state, or one older than 15 minutes, gets the page with a message and no state."""
    forged = _oauth_info(_sign_in(target, "forged-state", NOBODY, "x"))
    assert "oauth_state" not in forged and forged.get("messages"), forged
    if target.can_move_clock:
        state = _oauth_info(_authorize(target, _own_redirect(target)))["oauth_state"]
        target.advance_clock(16 * 60)
        expired = _oauth_info(_sign_in(target, state, NOBODY, "x"))
        assert "oauth_state" not in expired and expired.get("messages"), expired


def test_oauth_token_works_on_admin(target: Target, credentials) -> None:
    """F10, F13: a sign-in redirects with the token in the fragment; that token opens the admin API."""
    redirect_uri = _own_redirect(target)
    state = _oauth_info(_authorize(target, redirect_uri, state="kit-42"))["oauth_state"]
    reply = _sign_in(target, state, credentials.username, credentials.password)
    assert reply.status == 302, reply
    location = urlsplit(reply.headers["Location"])
    fragment = parse_qs(location.fragment)
    assert location._replace(fragment="").geturl() == redirect_uri
    assert fragment["state"] == ["kit-42"] and int(fragment["expires_in"][0]) > 0
    token = fragment["access_token"][0]
    assert target.admin("GET", calls.RUNTIMES, token=token).envelope == "resource"


def test_oauth_state_is_single_use(target: Target) -> None:
    """F17: a sign-in page's ``oauth_state`` works once; posted again it gets the page with a
    message and no state (tried with an unknown user, so no account is ever at risk)."""
    state = _oauth_info(_authorize(target, _own_redirect(target)))["oauth_state"]
    first = _oauth_info(_sign_in(target, state, NOBODY, "not-the-password"))
    assert first.get("oauth_state"), first
    again = _oauth_info(_sign_in(target, state, NOBODY, "not-the-password"))
    assert "oauth_state" not in again and again.get("messages"), again


def test_redirect_uri_with_line_break_refused(target: Target) -> None:
    """F16: a ``redirect_uri`` carrying CR/LF gets the page with a message and no state."""
    reply = _authorize(target, _own_redirect(target) + "\r\nX-Injected: 1")
    assert reply.status == 200, reply
    info = _oauth_info(reply)
    assert "oauth_state" not in info, info
    assert any("redirect_uri" in message for message in info.get("messages", [])), info


def test_portal_refusals_carry_message_code(target: Target) -> None:
    """F18: the sharing API refuses a missing token in its own words, with ``messageCode``."""
    reply = target.portal("GET", "community/self")
    assert reply.json == {
        "error": {
            "code": 499,
            "message": "Token Required",
            "messageCode": "GWM_0003",
            "details": ["Token Required"],
        }
    }, reply
    bad = target.portal("GET", "community/self", token="not-a-token-" + "w" * 20, token_in="query")
    assert bad.json == {"error": {"code": 498, "message": "Invalid token.", "details": []}}, bad


def test_sharing_root_names_enterprise_build(target: Target) -> None:
    """F1: the sharing root names ``enterpriseBuild``, a string of digits (11.5: ``56755``)."""
    body = target.portal("GET", "").json
    assert isinstance(body.get("enterpriseBuild"), str) and body["enterpriseBuild"].isdigit(), body
    if body.get("enterpriseVersion") == "11.5.0":
        assert body["enterpriseBuild"] == "56755", body


def test_portal_urls_carry_web_context(target: Target) -> None:
    """F19: ``info``'s ``owningSystemUrl`` is the portal's URL with its web context, and
    ``portals/self``'s ``portalHostname`` is ``host/<context>``."""
    parts = urlsplit(target.base_url)
    info = target.portal("GET", "info").json
    assert info["owningSystemUrl"].rstrip("/") == target.base_url.rstrip("/"), info
    portal = target.portal("GET", "portals/self").json
    assert portal["portalHostname"] == f"{parts.netloc}{parts.path}".rstrip("/"), portal
