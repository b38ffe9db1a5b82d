"""Sign-in that an attacker cannot turn (issue 11): the portal's own URL, single-use pages,
account lockout, and pages that cannot be framed, cached or posted to from elsewhere."""

from __future__ import annotations

import json
import re

import pytest

from mockserver import create_app
from mockserver.auth.lockout import LockoutPolicy
from mockserver.core import deployment
from mockserver.core.clock import Clock
from tests.conftest import SEED_COPY, STANDARD_ID

SHARING = "/arcgis/sharing/rest"
SIGNIN = "/arcgis/sharing/oauth2/signin"
PORTAL = "https://portal.example.com"


def _oauth_info(html: str) -> dict:
    match = re.search(r"\{.*\}", html)
    assert match, html
    return json.loads(match[0])


def _authorize(client, redirect_uri: str, base_url: str) -> dict:
    response = client.get(
        f"{SHARING}/oauth2/authorize",
        query_string={
            "response_type": "token",
            "client_id": "pythonapi",
            "redirect_uri": redirect_uri,
            "state": "s",
        },
        base_url=base_url,
    )
    assert response.status_code == 200
    return _oauth_info(response.get_data(as_text=True))


def _sign_in(client, state: str, password: str = "admin1234", username: str = "admin"):
    return client.post(
        SIGNIN, data={"oauth_state": state, "username": username, "password": password}
    )


@pytest.fixture
def app():
    return create_app(clock=Clock())


@pytest.fixture
def client(app):
    return app.test_client()


# --- the portal's own URL comes from configuration ---------------------------------


def test_a_forged_host_header_cannot_make_sign_in_redirect_a_token_there(client):
    info = _authorize(client, "http://evil.example/steal", base_url="http://evil.example")
    assert "oauth_state" not in info
    assert info["messages"] == ["Invalid redirect_uri"]


def test_configured_public_url_is_the_only_redirect_host():
    client = create_app(clock=Clock(), public_urls=(PORTAL,)).test_client()
    refused = _authorize(client, "http://nbmock.test/cb", base_url="http://nbmock.test")
    assert refused["messages"] == ["Invalid redirect_uri"]
    refused = _authorize(client, "https://evil.example/cb", base_url="https://evil.example")
    assert "oauth_state" not in refused
    # The configured URL works whatever Host the request came with, default port or not.
    for redirect in (f"{PORTAL}/home/cb.html", f"{PORTAL}:443/home/cb.html"):
        info = _authorize(client, redirect, base_url="http://127.0.0.1:9")
        response = _sign_in(client, info["oauth_state"])
        assert response.status_code == 302
        assert response.headers["Location"].startswith(redirect + "#access_token=")


@pytest.mark.parametrize(
    "redirect",
    [
        "http://localhost/cb\r\nSet-Cookie: x=1",
        "http://localhost/cb\nX: y",
        "http://localhost/c b",
        "http://localhost\x00/cb",
        "http://localhost@evil.example/cb",
        "http://[bad/cb",
    ],
)
def test_redirect_uri_with_a_header_breaking_character_is_refused_cleanly(client, redirect):
    info = _authorize(client, redirect, base_url="http://localhost")
    assert info["messages"] == ["Invalid redirect_uri"]
    assert "oauth_state" not in info


def test_an_oauth_state_works_once_even_across_workers(tmp_path):
    state_file = tmp_path / "state.sqlite3"
    worker_a = create_app(state=state_file).test_client()
    worker_b = create_app(state=state_file).test_client()
    info = _authorize(worker_a, "http://localhost/cb", base_url="http://localhost")
    assert _sign_in(worker_a, info["oauth_state"]).status_code == 302
    for worker in (worker_a, worker_b):
        again = _sign_in(worker, info["oauth_state"])
        assert again.status_code == 200
        assert "Location" not in again.headers
        assert "oauth_state" not in _oauth_info(again.get_data(as_text=True))


# --- account lockout --------------------------------------------------------------


def _token_answer(client, username="admin", password="admin1234") -> dict:
    return client.post(
        f"{SHARING}/generateToken",
        data={"username": username, "password": password, "f": "json"},
    ).get_json(force=True)


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(app, client):
    for _ in range(4):
        assert _token_answer(client, password="nope")["error"]["details"] == [
            "Invalid username or password."
        ]
    locked = _token_answer(client, password="nope")
    assert "locked" in locked["error"]["details"][0]
    # Even the right password is refused while locked.
    assert "locked" in _token_answer(client)["error"]["details"][0]
    deployment.of(app).clock.advance(15 * 60 + 1)
    assert "token" in _token_answer(client)


def test_oauth_sign_in_counts_toward_the_same_lockout_across_workers(tmp_path):
    state_file = tmp_path / "state.sqlite3"
    workers = [create_app(state=state_file).test_client() for _ in range(2)]
    for attempt in range(5):
        worker = workers[attempt % 2]
        info = _authorize(worker, "http://localhost/cb", base_url="http://localhost")
        _sign_in(worker, info["oauth_state"], password="nope")
    info = _authorize(workers[0], "http://localhost/cb", base_url="http://localhost")
    page = _sign_in(workers[0], info["oauth_state"])
    assert page.status_code == 200
    assert any("locked" in m for m in _oauth_info(page.get_data(as_text=True))["messages"])
    assert "locked" in _token_answer(workers[1])["error"]["details"][0]


def test_a_good_sign_in_resets_the_count(client):
    for _ in range(4):
        _token_answer(client, password="nope")
    assert "token" in _token_answer(client)
    for _ in range(4):
        _token_answer(client, password="nope")
    assert "token" in _token_answer(client)


def test_wrong_sign_ins_with_an_unknown_user_name_never_lock_a_real_user(client):
    for name in ["nobody", "Admin", "admin ", "admin\u200b"] * 5:
        answer = _token_answer(client, username=name, password="nope")
        assert answer["error"]["details"] == ["Invalid username or password."]
    assert "token" in _token_answer(client)


def test_lockout_can_be_changed_or_turned_off():
    client = create_app(clock=Clock(), lockout=None).test_client()
    for _ in range(20):
        _token_answer(client, password="nope")
    assert "token" in _token_answer(client)
    client = create_app(
        clock=Clock(), lockout=LockoutPolicy(attempts=2, lock_minutes=1)
    ).test_client()
    _token_answer(client, password="nope")
    assert "locked" in _token_answer(client, password="nope")["error"]["details"][0]


def test_reset_unlocks_every_account(client):
    for _ in range(5):
        _token_answer(client, password="nope")
    assert client.post("/__mock__/reset").status_code == 200
    assert "token" in _token_answer(client)


# --- pages that carry credentials -------------------------------------------------

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@pytest.mark.parametrize(
    "path",
    [
        f"{SHARING}/oauth2/authorize?response_type=token&client_id=pythonapi&redirect_uri=http://localhost/",
        f"{SHARING}/generateToken?f=html",
        "/arcgis/admin?f=html",
        "/arcgis/admin/notebooks/runtimes?f=html",
        "/arcgis/admin/nowhere?f=html",
    ],
)
def test_every_html_page_forbids_framing_caching_and_referrers(client, path):
    response = client.get(path, base_url="http://localhost")
    assert response.mimetype == "text/html"
    for name, value in PAGE_HEADERS.items():
        assert response.headers.get(name) == value, name


def _token(client) -> str:
    return _token_answer(client)["token"]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
def test_a_cross_site_form_post_with_a_known_token_changes_nothing(client, headers):
    token = _token(client)
    copied = client.post(
        f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "f": "json", "token": token},
    ).get_json(force=True)["notebookRuntime"]
    response = client.post(
        f"/arcgis/admin/notebooks/runtimes/{copied['id']}/unregister",
        data={"f": "html", "token": token},
        headers=headers,
    )
    assert response.status_code == 403
    assert "Cross-site" in response.get_data(as_text=True)
    still = client.get(
        f"/arcgis/admin/notebooks/runtimes/{copied['id']}",
        query_string={"f": "json", "token": token},
    ).get_json(force=True)
    assert still["id"] == copied["id"]
    signin = client.post(SIGNIN, data={"username": "admin"}, headers=headers)
    assert signin.status_code == 403


def test_api_clients_without_origin_and_same_origin_pages_are_never_refused(client):
    token = _token(client)
    for headers in ({}, {"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}):
        answer = client.post(
            f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "f": "json", "token": token},
            headers=headers,
        ).get_json(force=True)
        assert answer["status"] == "success"


def test_served_public_url_names_are_the_redirect_hosts_and_a_forged_host_is_not():
    """``nbmock serve --public-url`` names (Settings.allowed_hosts) are the portal's own."""
    app = create_app(allowed_hosts=frozenset({"localhost", "nbmock.example.org"}))
    client = app.test_client()
    ok = _authorize(client, "http://nbmock.example.org:8080/cb", base_url="http://127.0.0.1")
    assert ok.get("oauth_state")
    loopback = _authorize(client, "http://127.0.0.1:8080/cb", base_url="http://127.0.0.1")
    assert loopback.get("oauth_state")
    forged = _authorize(client, "http://1.2.3.4/steal", base_url="http://1.2.3.4")
    assert forged["messages"] == ["Invalid redirect_uri"]


@pytest.mark.parametrize("in_flight", [1, 4, 5, 6, 20])
def test_sign_ins_in_flight_together_check_at_most_the_policy(in_flight):
    """Issue 24: a password check that is still running when others arrive must already
    count, or every simultaneous wrong password is checked. Each check here starts the
    next sign-in before it answers, so ``in_flight + 1`` are in flight at once."""
    app = create_app(clock=Clock())
    dep = deployment.of(app)
    client = app.test_client()
    checked = []

    class Nested(type(dep.users)):
        def authenticate(self, username, password):
            checked.append(password)
            if len(checked) <= in_flight:
                _token_answer(client, password=f"nope-{len(checked)}")
            return super().authenticate(username, password)

    nested = Nested(list(dep.users))
    dep.users = nested
    _token_answer(client, password="nope-0")
    assert len(checked) == min(in_flight + 1, 5)
    right = _token_answer(client)
    assert ("token" in right) == (in_flight + 1 < 5), right
