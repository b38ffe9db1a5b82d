"""Portal tokens at their edges: the expiry millisecond, long tokens, same-millisecond twins.

Messages are compared through ``mockserver.core.messages``: their wording follows
ArcGIS Server's, and may change without these edges moving.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from mockserver import create_app
from mockserver.auth.tokens import MAX_CACHED_TOKEN, Token, TokenService
from mockserver.core import messages
from mockserver.core.errors import InvalidToken
from tests.conftest import SEED_COPY, STANDARD_ID, Api, ManualClock

TOKEN_URL = "/arcgis/sharing/rest/generateToken"
RUNTIMES = "/arcgis/admin/notebooks/runtimes"
NOW_MS = 1_900_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW_MS)


@pytest.fixture
def frozen_api(clock) -> Api:
    return Api(create_app(clock=clock))


def listing(api: Api, token: str, **headers: str) -> dict:
    response = api.client.get(RUNTIMES, query_string={"f": "json", "token": token}, headers=headers)
    return response.get_json(force=True)


def refusal(messages_: list[str]) -> dict:
    return {"status": "error", "messages": messages_, "code": 498}


# --- expiry --------------------------------------------------------------------


def test_a_token_is_refused_from_exactly_its_expiry_millisecond(frozen_api, clock):
    answer = frozen_api.client.post(
        TOKEN_URL,
        data={"username": "admin", "password": "admin1234", "expiration": "1", "f": "json"},
    ).get_json(force=True)
    assert answer["expires"] == NOW_MS + 60_000
    clock.epoch_ms = answer["expires"] - 1
    assert "runtimes" in listing(frozen_api, answer["token"])
    clock.epoch_ms = answer["expires"]
    assert listing(frozen_api, answer["token"]) == refusal([messages.TOKEN_EXPIRED])


def test_the_expiry_millisecond_is_checked_in_the_service_itself():
    service = TokenService("s" * 64)
    raw = service.issue(Token("admin", NOW_MS))
    assert service.verify(raw, now_ms=NOW_MS - 1, referer=None, ip=None).username == "admin"
    with pytest.raises(InvalidToken) as caught:
        service.verify(raw, now_ms=NOW_MS, referer=None, ip=None)
    assert caught.value.messages == [messages.TOKEN_EXPIRED]


def test_verify_gives_back_every_claim_the_token_was_issued_with():
    service = TokenService("s" * 64)
    bound = Token("nbadmin", NOW_MS, referer="https://app.example.com", ip=None)
    raw = service.issue(bound)
    assert service.verify(raw, now_ms=0, referer="https://app.example.com", ip="1.2.3.4") == bound
    by_ip = Token("admin", NOW_MS, referer=None, ip="10.0.0.1")
    assert service.verify(service.issue(by_ip), now_ms=0, referer="x", ip="10.0.0.1") == by_ip


# --- what a refusal says ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["nonsense", "a.b", "WyJhZG1pbiJd.forged", "x" * 600])
def test_a_token_that_is_not_ours_is_refused_as_invalid(api, bad):
    assert listing(api, bad) == refusal([messages.TOKEN_NOT_DECRYPTED])


def test_a_token_of_another_deployment_is_refused_as_invalid(api):
    other = Api(create_app()).token()
    assert listing(api, other) == refusal([messages.TOKEN_NOT_DECRYPTED])


def test_a_referer_bound_token_elsewhere_says_so(api):
    token = api.token(client="referer", referer="https://app.example.com")
    assert listing(api, token, Referer="https://evil.example.com") == refusal(
        [messages.INVALID_TOKEN]
    )
    assert listing(api, token) == refusal([messages.INVALID_TOKEN])


def test_an_ip_bound_token_from_another_address_says_so(api):
    token = api.token(client="ip", ip="10.9.8.7")
    assert listing(api, token) == refusal([messages.INVALID_TOKEN])


def test_an_ip_bound_token_from_its_address_is_accepted(api):
    # The test client's requests come from 127.0.0.1.
    token = api.token(client="ip", ip="127.0.0.1")
    assert "runtimes" in listing(api, token)


def test_an_expired_token_says_so_before_its_binding(api):
    token = api.token(client="referer", referer="https://app.example.com")
    api.clock.advance(61 * 60)
    assert listing(api, token, Referer="https://evil.example.com") == refusal(
        [messages.TOKEN_EXPIRED]
    )


# --- long tokens and same-millisecond twins ----------------------------------------


def incompressible_path(length: int) -> str:
    """Path characters that zlib cannot shrink, so the token grows with them."""
    digests = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(length // 32 + 1))
    return base64.urlsafe_b64encode(digests).decode()[:length]


def test_a_valid_token_longer_than_512_characters_is_accepted(api):
    referer = "https://app.example.com/" + incompressible_path(600)
    token = api.token(client="referer", referer=referer)
    assert len(token) > MAX_CACHED_TOKEN
    for _ in range(2):  # once checked, once more as a client reuses it
        assert "runtimes" in listing(api, token, Referer=referer)
    assert listing(api, token, Referer="https://app.example.com/") == refusal(
        [messages.INVALID_TOKEN]
    )


def test_a_long_token_still_expires(api):
    referer = "https://app.example.com/" + incompressible_path(600)
    token = api.token(client="referer", referer=referer)
    assert len(token) > MAX_CACHED_TOKEN
    api.clock.advance(61 * 60)
    assert listing(api, token, Referer=referer) == refusal([messages.TOKEN_EXPIRED])


def test_identical_token_requests_in_one_millisecond_get_different_tokens(frozen_api):
    tokens = {frozen_api.token() for _ in range(5)}
    assert len(tokens) == 5
    for token in tokens:
        assert "runtimes" in listing(frozen_api, token)


def test_a_token_issued_with_a_frozen_clock_carries_the_frozen_expiry(frozen_api):
    answer = frozen_api.client.post(
        TOKEN_URL, data={"username": "admin", "password": "admin1234", "f": "json"}
    ).get_json(force=True)
    assert answer["expires"] == NOW_MS + 60 * 60_000


def test_a_token_works_for_a_write_as_for_a_read(frozen_api, clock):
    token = frozen_api.token()
    copied = frozen_api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    assert copied["status"] == "success"
    clock.epoch_ms += 60 * 60_000
    refused = frozen_api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    assert refused == refusal([messages.TOKEN_EXPIRED])


# --- sealed values (an OAuth sign-in in progress) ----------------------------------


def test_a_sealed_value_reads_back_only_for_its_purpose_and_its_secret():
    service = TokenService("s" * 64)
    sealed = service.seal(["client", "https://app/cb", 42], purpose="oauth")
    assert service.unseal(sealed, purpose="oauth") == ["client", "https://app/cb", 42]
    assert service.unseal(sealed, purpose="other") is None
    assert TokenService("t" * 64).unseal(sealed, purpose="oauth") is None
    assert service.unseal(sealed + "x", purpose="oauth") is None
    assert service.unseal("not sealed", purpose="oauth") is None


def test_a_sealed_value_that_is_not_a_list_reads_back_as_nothing():
    service = TokenService("s" * 64)
    assert service.unseal(service.seal({"a": 1}, purpose="oauth"), purpose="oauth") is None


def test_a_token_is_not_a_sealed_value_and_a_sealed_value_is_not_a_token():
    service = TokenService("s" * 64)
    token = service.issue(Token("admin", NOW_MS))
    assert service.unseal(token, purpose="oauth") is None
    sealed = service.seal(["admin", NOW_MS, None, None, "n"], purpose="oauth")
    with pytest.raises(InvalidToken):
        service.verify(sealed, now_ms=0, referer=None, ip=None)


# --- what generateToken says when it refuses --------------------------------------


def generate(api: Api, remote_addr: str = "127.0.0.1", **form: str) -> dict:
    response = api.client.post(
        TOKEN_URL, data={"f": "json", **form}, environ_base={"REMOTE_ADDR": remote_addr}
    )
    assert response.status_code == 200, response.status_code
    return response.get_json(force=True)


def unable(detail: str) -> dict:
    return {
        "error": {"code": 400, "message": messages.UNABLE_TO_GENERATE_TOKEN, "details": [detail]}
    }


ADMIN = {"username": "admin", "password": "admin1234"}


@pytest.mark.parametrize("expiration", ["soon", "1e999", "nan"])
def test_an_expiration_that_is_not_a_number_is_refused_with_its_reason(api, expiration):
    assert generate(api, **ADMIN, expiration=expiration) == unable(messages.BAD_EXPIRATION)


@pytest.mark.parametrize("expiration", ["0", "-5", "0.5"])
def test_an_expiration_of_no_minutes_or_fewer_is_refused_with_its_reason(api, expiration):
    assert generate(api, **ADMIN, expiration=expiration) == unable(messages.EXPIRATION_NOT_POSITIVE)


def test_a_client_that_is_not_one_of_the_three_is_refused_with_its_reason(api):
    answer = generate(api, **ADMIN, client="browser", referer="https://app.example.com")
    assert answer == unable(messages.BAD_CLIENT)


@pytest.mark.parametrize("name", ["referer", "ip"])
def test_a_client_without_its_value_is_refused_naming_the_missing_parameter(api, name):
    assert generate(api, **ADMIN, client=name) == unable(messages.REQUIRED.format(name=name))
    assert generate(api, **ADMIN, client=name, **{name: "  "}) == unable(
        messages.REQUIRED.format(name=name)
    )


@pytest.mark.parametrize(
    "form",
    [
        {"password": "admin1234"},
        {"username": "admin"},
        {"username": "admin", "password": ""},
        {"username": "", "password": "admin1234"},
        {},
    ],
    ids=["no username", "no password", "empty password", "empty username", "neither"],
)
def test_a_missing_username_or_password_is_refused_as_required(api, form):
    assert generate(api, **form) == unable(messages.CREDENTIALS_REQUIRED)


# --- what a token is bound to when the client is left out --------------------------


def listing_from(api: Api, token: str, remote_addr: str, referer: str | None = None) -> dict:
    headers = {"Referer": referer} if referer else {}
    response = api.client.get(
        RUNTIMES,
        query_string={"f": "json", "token": token},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote_addr},
    )
    return response.get_json(force=True)


@pytest.mark.parametrize("client", [{}, {"client": "referer"}], ids=["inferred", "named"])
def test_a_referer_bound_token_works_from_its_referer_on_any_address_and_nowhere_else(api, client):
    referer = "https://app.example.com"
    answer = generate(api, **ADMIN, **client, referer=referer)
    for address in ("127.0.0.1", "10.1.2.3"):
        assert "runtimes" in listing_from(api, answer["token"], address, referer)
    refused = listing_from(api, answer["token"], "127.0.0.1", "https://evil.example.com")
    assert refused == refusal([messages.INVALID_TOKEN])


@pytest.mark.parametrize("client", [{}, {"client": "ip"}], ids=["inferred", "named"])
def test_an_ip_bound_token_works_from_that_address_and_not_from_the_callers(api, client):
    answer = generate(api, **ADMIN, **client, ip="10.9.8.7")
    assert "runtimes" in listing_from(api, answer["token"], "10.9.8.7")
    assert listing_from(api, answer["token"], "127.0.0.1") == refusal([messages.INVALID_TOKEN])


@pytest.mark.parametrize("client", [{}, {"client": "requestip"}], ids=["inferred", "named"])
def test_a_token_asked_without_a_binding_works_only_from_the_callers_address(api, client):
    answer = generate(api, "10.1.2.3", **ADMIN, **client)
    assert "runtimes" in listing_from(api, answer["token"], "10.1.2.3")
    assert listing_from(api, answer["token"], "10.1.2.4") == refusal([messages.INVALID_TOKEN])
