"""Sign-in rules at their edges (issue 25): the lockout's timing and the OAuth token's life,
as the person signing in sees them."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from mockserver import create_app
from mockserver.auth.lockout import PORTAL_LOCKOUT, LockoutPolicy
from mockserver.core import deployment, messages
from mockserver.core.clock import Clock

SHARING = "/arcgis/sharing/rest"
HOST = "https://nbmock.test"
TWO_WEEKS_SECONDS = 14 * 24 * 3600
LOCKED = "locked"


def _app(**options):
    app = create_app(**{"clock": Clock(), **options})
    return app, app.test_client(), deployment.of(app).clock


def _generate_token(client, password: str) -> dict:
    return client.post(
        f"{SHARING}/generateToken",
        data={"username": "admin", "password": password, "f": "json"},
    ).get_json(force=True)


def _is_locked(answer: dict) -> bool:
    return "error" in answer and LOCKED in answer["error"]["details"][0]


# --- the lockout window is in minutes ----------------------------------------------


@pytest.mark.parametrize("gap_seconds", [0, 60, 90, 3.5 * 60])
def test_five_wrong_passwords_within_fifteen_minutes_lock_however_they_are_spread(gap_seconds):
    assert (PORTAL_LOCKOUT.attempts, PORTAL_LOCKOUT.window_minutes) == (5, 15)
    _, client, clock = _app()
    answers = []
    for attempt in range(5):
        if attempt:
            clock.advance(gap_seconds)
        answers.append(_generate_token(client, "nope"))
    assert [_is_locked(answer) for answer in answers] == [False] * 4 + [True]
    assert _is_locked(_generate_token(client, "admin1234"))


@pytest.mark.parametrize("gap_seconds", [4 * 60 + 1, 10 * 60])
def test_wrong_passwords_spread_over_more_than_fifteen_minutes_never_lock(gap_seconds):
    _, client, clock = _app()
    for attempt in range(8):
        if attempt:
            clock.advance(gap_seconds)
        assert not _is_locked(_generate_token(client, "nope")), attempt
    assert "token" in _generate_token(client, "admin1234")


# --- the count starts afresh once a lock ends ---------------------------------------


def test_after_a_lock_ends_it_takes_as_many_failures_again_to_lock():
    # A lock shorter than the window (an administrator may set both, since 11.1): once it
    # ends, the failures that caused it must not count again.
    _, client, clock = _app(lockout=LockoutPolicy(attempts=5, window_minutes=15, lock_minutes=1))
    for _ in range(5):
        last = _generate_token(client, "nope")
    assert _is_locked(last)
    clock.advance(61)
    answers = [_generate_token(client, "nope") for _ in range(5)]
    assert [_is_locked(answer) for answer in answers] == [False] * 4 + [True]


def test_after_a_lock_ends_the_right_password_works_and_one_typo_does_not_lock_again():
    _, client, clock = _app(lockout=LockoutPolicy(attempts=3, window_minutes=60, lock_minutes=2))
    for _ in range(3):
        _generate_token(client, "nope")
    clock.advance(2 * 60 + 1)
    assert not _is_locked(_generate_token(client, "nope"))
    assert "token" in _generate_token(client, "admin1234")


class _StoppedClock(Clock):
    """Wall time stands still, so that a lock's end is checked to the millisecond."""

    def now(self) -> float:
        return 1_800_000_000 + self.offset_seconds


@pytest.mark.parametrize("lock_minutes", [1, 15])
def test_a_lock_holds_to_its_last_millisecond_and_ends_exactly_on_time(lock_minutes):
    policy = LockoutPolicy(attempts=3, window_minutes=15, lock_minutes=lock_minutes)
    _, client, clock = _app(lockout=policy, clock=_StoppedClock())
    for _ in range(3):
        _generate_token(client, "nope")
    clock.advance(lock_minutes * 60 - 0.001)
    assert _is_locked(_generate_token(client, "admin1234"))
    clock.advance(0.001)
    assert "token" in _generate_token(client, "admin1234")


@pytest.mark.parametrize(("after_seconds", "locked"), [(15 * 60, True), (15 * 60 + 0.001, False)])
def test_the_window_counts_failures_up_to_its_last_millisecond_only(after_seconds, locked):
    _, client, clock = _app(clock=_StoppedClock())
    for _ in range(4):
        _generate_token(client, "nope")
    clock.advance(after_seconds)
    assert _is_locked(_generate_token(client, "nope")) is locked


# --- an OAuth token lives at most two weeks ---------------------------------------


def _authorize(client, expiration: str | None) -> str:
    query = {"response_type": "token", "client_id": "pythonapi", "redirect_uri": HOST}
    if expiration is not None:
        query["expiration"] = expiration
    page = client.get(f"{SHARING}/oauth2/authorize", query_string=query, base_url=HOST)
    return re.search(r'"oauth_state": ?"([^"]+)"', page.get_data(as_text=True))[1]


def _sign_in(client, state: str, **form) -> dict[str, str]:
    response = client.post(
        "/arcgis/sharing/oauth2/signin",
        data={"oauth_state": state, "username": "admin", "password": "admin1234", **form},
        base_url=HOST,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    fragment = urlsplit(response.headers["Location"]).fragment
    return {key: values[0] for key, values in parse_qs(fragment).items()}


def _runtimes_code(client, token: str) -> int | None:
    answer = client.get(
        "/arcgis/admin/notebooks/runtimes",
        query_string={"f": "json"},
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    ).get_json(force=True)
    return answer.get("code")


LONGER_THAN_TWO_WEEKS = ["20161", str(140 * 24 * 60), "1e9", str(10**12)]


@pytest.mark.parametrize("expiration", LONGER_THAN_TWO_WEEKS)
@pytest.mark.parametrize("asked_on", ["authorize", "signin"])
def test_an_oauth_expiration_beyond_two_weeks_gets_a_token_of_two_weeks(expiration, asked_on):
    _, client, clock = _app()
    if asked_on == "authorize":
        fragment = _sign_in(client, _authorize(client, expiration))
    else:
        fragment = _sign_in(client, _authorize(client, None), expiration=expiration)
    assert int(fragment["expires_in"]) == TWO_WEEKS_SECONDS
    token = fragment["access_token"]
    clock.advance(TWO_WEEKS_SECONDS - 60)
    assert _runtimes_code(client, token) is None
    clock.advance(61)
    assert _runtimes_code(client, token) == 498


@pytest.mark.parametrize("expiration", ["1", "60", "20160"])
def test_an_oauth_expiration_of_at_most_two_weeks_is_kept(expiration):
    _, client, _ = _app()
    fragment = _sign_in(client, _authorize(client, expiration))
    assert int(fragment["expires_in"]) == int(expiration) * 60


# --- a token of a user the deployment no longer has -------------------------------


def test_a_token_of_a_user_no_longer_in_the_deployment_is_refused_as_invalid(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text('[users.alice]\npassword = "alice-pw-1"\nrole = "Administrator"\n')
    state = tmp_path / "state.sqlite3"
    before = create_app(state=state, users=users).test_client()
    token = before.post(
        f"{SHARING}/generateToken",
        data={"username": "alice", "password": "alice-pw-1", "f": "json"},
    ).get_json(force=True)["token"]
    # The same deployment (same state, same token secret) restarted without alice.
    after = create_app(state=state).test_client()
    for client, code in ((before, None), (after, 498)):
        answer = client.get(
            "/arcgis/admin/notebooks/runtimes", query_string={"f": "json", "token": token}
        ).get_json(force=True)
        assert answer.get("code") == code, answer
    assert after.get(
        "/arcgis/admin/notebooks/runtimes", query_string={"f": "json", "token": token}
    ).get_json(force=True)["messages"] == [messages.INVALID_TOKEN]


# --- who may use the admin API ---------------------------------------------------------


@pytest.mark.parametrize("role", ["Publisher", "User", "Viewer"])
def test_a_user_who_is_no_administrator_is_refused_the_admin_api_saying_why(tmp_path, role):
    users = tmp_path / "users.toml"
    users.write_text(f'[users.alice]\npassword = "alice-pw-1"\nrole = "{role}"\n')
    _, client, _ = _app(users=users)
    token = client.post(
        f"{SHARING}/generateToken",
        data={"username": "alice", "password": "alice-pw-1", "f": "json"},
    ).get_json(force=True)["token"]
    refused = client.get("/arcgis/admin", query_string={"f": "json", "token": token})
    assert refused.get_json(force=True) == {
        "status": "error",
        "messages": [messages.NOT_PERMITTED],
        "code": 403,
    }


# --- the OAuth sign-in at its edges (what mutmut's survivors of auth/oauth.py showed) ----


def _page_info(client, query: dict, base_url: str = HOST) -> dict:
    page = client.get(f"{SHARING}/oauth2/authorize", query_string=query, base_url=base_url)
    assert page.status_code == 200
    found = re.search(r"var oAuthInfo = (\{.*?\});", page.get_data(as_text=True))
    return json.loads(found[1])


def _authorize_query(redirect_uri: str = HOST, **extra) -> dict:
    return {
        "response_type": "token",
        "client_id": "pythonapi",
        "redirect_uri": redirect_uri,
        **extra,
    }


@pytest.mark.parametrize(
    "redirect_uri, allowed",
    [
        ("http://nbmock.test/cb", True),
        ("http://nbmock.test:80/cb", True),
        ("http://nbmock.test:81/cb", False),
        ("https://nbmock.test/cb", False),
        ("ftp://nbmock.test/cb", False),
        ("ftp://localhost/cb", False),
        ("http://evil.example@nbmock.test/cb", False),
        ("http://evil.example@localhost/cb", False),
    ],
)
def test_an_http_public_urls_redirects_are_its_own_scheme_name_and_default_port(
    redirect_uri, allowed
):
    _, client, _ = _app(public_urls=("http://nbmock.test",))
    info = _page_info(client, _authorize_query(redirect_uri), base_url="http://nbmock.test")
    assert ("oauth_state" in info) is allowed
    if not allowed:
        assert info["messages"] == [messages.OAUTH_INVALID_REDIRECT]


@pytest.mark.parametrize("redirect_uri", ["http://[::1]:8080/cb", "http://[::1]/cb"])
def test_a_redirect_to_ipv6_loopback_on_any_port_is_allowed(redirect_uri):
    _, client, _ = _app()
    info = _page_info(client, _authorize_query(redirect_uri), base_url="http://[::1]:8080")
    assert "oauth_state" in info
    location = _sign_in_location(client, info["oauth_state"], base_url="http://[::1]:8080")
    assert location.startswith(f"{redirect_uri}#access_token=")


@pytest.mark.parametrize(
    "left_out, message",
    [
        ("response_type", messages.OAUTH_UNSUPPORTED_RESPONSE_TYPE),
        ("redirect_uri", messages.OAUTH_INVALID_REDIRECT),
        ("client_id", messages.OAUTH_INVALID_CLIENT),
    ],
)
def test_an_authorize_request_missing_a_parameter_is_refused_naming_it(left_out, message):
    _, client, _ = _app()
    query = _authorize_query()
    del query[left_out]
    info = _page_info(client, query)
    assert "oauth_state" not in info and info["messages"] == [message]


@pytest.mark.parametrize("client_id", ["pythonapi", "arcgisonline", "arcgispro"])
def test_the_sign_in_page_names_the_built_in_app_asked_for(client_id):
    _, client, _ = _app()
    info = _page_info(client, _authorize_query(client_id=client_id))
    assert info["client_id"] == client_id


def _sign_in_location(client, state: str, *, base_url: str = HOST, **form) -> str:
    response = client.post(
        "/arcgis/sharing/oauth2/signin",
        data={"oauth_state": state, "username": "admin", "password": "admin1234", **form},
        base_url=base_url,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


@pytest.mark.parametrize(
    "state, in_fragment",
    [(None, "state="), ("", "state="), ("a/b&c=d#e f", "state=a%2Fb%26c%3Dd%23e%20f")],
)
def test_the_state_comes_back_exactly_escaped_and_empty_when_left_out(state, in_fragment):
    _, client, _ = _app()
    extra = {} if state is None else {"state": state}
    info = _page_info(client, _authorize_query(**extra))
    location = _sign_in_location(client, info["oauth_state"])
    assert location.endswith(f"&{in_fragment}")


@pytest.mark.parametrize(
    "redirect_uri", ["https://nbmock.test/cb#old", "https://nbmock.test/cb#old#older"]
)
def test_a_redirect_uris_own_fragment_is_replaced_by_the_token(redirect_uri):
    _, client, _ = _app()
    info = _page_info(client, _authorize_query(redirect_uri))
    location = _sign_in_location(client, info["oauth_state"])
    assert location.startswith("https://nbmock.test/cb#access_token=")
    assert "old" not in location


@pytest.mark.parametrize(
    "base_url, ssl", [("https://nbmock.test", "true"), ("http://localhost", "false")]
)
def test_the_fragment_says_whether_the_sign_in_came_over_https(base_url, ssl):
    _, client, _ = _app()
    info = _page_info(client, _authorize_query(f"{base_url}/cb"), base_url=base_url)
    location = _sign_in_location(client, info["oauth_state"], base_url=base_url)
    fragment = parse_qs(urlsplit(location).fragment)
    assert fragment["ssl"] == [ssl]


@pytest.mark.parametrize("expiration", ["0", "-5", "0.5"])
def test_an_oauth_expiration_below_one_minute_gets_the_two_hour_default(expiration):
    _, client, _ = _app()
    fragment = _sign_in(client, _authorize(client, expiration))
    assert int(fragment["expires_in"]) == 120 * 60


@pytest.mark.parametrize(("after_ms", "works"), [(15 * 60_000, True), (15 * 60_000 + 1, False)])
def test_a_sign_in_page_works_to_its_fifteenth_minute_and_not_a_millisecond_more(after_ms, works):
    _, client, clock = _app(clock=_StoppedClock())
    state = _authorize(client, None)
    clock.advance(after_ms / 1000)
    response = client.post(
        "/arcgis/sharing/oauth2/signin",
        data={"oauth_state": state, "username": "admin", "password": "admin1234"},
        base_url=HOST,
    )
    assert (response.status_code == 302) is works
