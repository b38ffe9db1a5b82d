"""What a trusted proxy may say for a client, and what the logs never show (issue 25).

A proxy appends the address, host and scheme it saw to ``X-Forwarded-*``; whatever comes
before its entry the client wrote itself. So only the last hop counts: the first one
would let any client pick the address an IP-bound token is checked against, or the host
the emulator's URLs name.
"""

from __future__ import annotations

import itertools
import logging

import pytest

from mockserver import create_app
from mockserver.clock import Clock
from mockserver.redact import MASK, redact, redact_loggers

PROXY = "10.0.0.1"
STRANGER = "10.0.0.2"
VICTIM = "203.0.113.7"
ATTACKER = "198.51.100.9"
PORTAL_HOST = "portal.example"
EVIL_HOST = "evil.example"
SHARING = "/arcgis/sharing/rest"
#: The code of a token refused from another address (tests/test_token_edges.py).
INVALID_TOKEN = 498


@pytest.fixture
def client():
    app = create_app(
        clock=Clock(),
        trusted_proxies=frozenset({PROXY}),
        allowed_hosts=frozenset({"localhost", PORTAL_HOST}),
        public_urls=(f"https://{PORTAL_HOST}",),
    )
    return app.test_client()


def _get(client, path: str, *, peer: str = PROXY, headers: dict | None = None, **query):
    return client.get(
        path,
        query_string={"f": "json", **query},
        headers={"Host": "localhost", **(headers or {})},
        environ_base={"REMOTE_ADDR": peer},
    )


def _ip_bound_token(client, address: str) -> str:
    answer = client.post(
        f"{SHARING}/generateToken",
        data={"username": "admin", "password": "admin1234", "client": "requestip", "f": "json"},
        headers={"Host": "localhost", "X-Forwarded-For": address},
        environ_base={"REMOTE_ADDR": PROXY},
    ).get_json(force=True)
    return answer["token"]


def _runtimes_code(client, token: str, forwarded_for: str, peer: str = PROXY) -> int | None:
    answer = _get(
        client,
        "/arcgis/admin/notebooks/runtimes",
        peer=peer,
        headers={"X-Forwarded-For": forwarded_for},
        token=token,
    ).get_json(force=True)
    return answer.get("code")


#: Hops a client may have written before the proxy's own entry.
SPOOFED_HOPS = ["", f"{VICTIM}, ", f"{VICTIM},", f"1.2.3.4, {VICTIM}, ", "unknown, "]


@pytest.mark.parametrize("spoofed", SPOOFED_HOPS)
def test_an_ip_bound_token_is_checked_against_the_last_forwarded_for_hop(client, spoofed):
    token = _ip_bound_token(client, VICTIM)
    assert _runtimes_code(client, token, f"{spoofed}{VICTIM}") is None
    # The attacker writes the victim's address first; the proxy appends the real one.
    assert _runtimes_code(client, token, f"{spoofed}{ATTACKER}") == INVALID_TOKEN


def test_a_token_issued_through_a_proxy_is_bound_to_the_last_hop(client):
    token = _ip_bound_token(client, f"{ATTACKER}, {VICTIM}")
    assert _runtimes_code(client, token, VICTIM) is None
    assert _runtimes_code(client, token, ATTACKER) == INVALID_TOKEN


def test_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(client):
    token = _ip_bound_token(client, VICTIM)
    assert _runtimes_code(client, token, VICTIM, peer=STRANGER) == INVALID_TOKEN


def _owning_system_url(client, headers: dict, peer: str = PROXY):
    response = _get(client, f"{SHARING}/info", peer=peer, headers=headers)
    return response.status_code, (response.get_json(force=True) or {}).get("owningSystemUrl")


@pytest.mark.parametrize("spoofed", [f"{EVIL_HOST}, ", f"{EVIL_HOST},", f"a.test, {EVIL_HOST}, "])
def test_the_host_is_the_last_forwarded_host_hop(client, spoofed):
    answered = _owning_system_url(client, {"X-Forwarded-Host": f"{spoofed}{PORTAL_HOST}"})
    assert answered == (200, f"http://{PORTAL_HOST}/arcgis")
    status, url = _owning_system_url(
        client, {"X-Forwarded-Host": f"{PORTAL_HOST}, {spoofed}{EVIL_HOST}"}
    )
    assert status == 400 and url is None


@pytest.mark.parametrize("hops", ["http, https", "https", "http,https", "ftp, https"])
def test_the_scheme_is_the_last_forwarded_proto_hop(client, hops):
    answered = _owning_system_url(
        client, {"X-Forwarded-Proto": hops, "X-Forwarded-Host": PORTAL_HOST}
    )
    assert answered == (200, f"https://{PORTAL_HOST}/arcgis")


def test_a_scheme_that_is_not_http_or_https_is_ignored(client):
    answered = _owning_system_url(
        client, {"X-Forwarded-Proto": "https, gopher", "X-Forwarded-Host": PORTAL_HOST}
    )
    assert answered == (200, f"http://{PORTAL_HOST}/arcgis")


def test_forwarded_host_and_proto_from_a_stranger_are_ignored(client):
    answered = _owning_system_url(
        client,
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PORTAL_HOST},
        peer=STRANGER,
    )
    assert answered == (200, "http://localhost/arcgis")


# --- redaction ----------------------------------------------------------------------

#: An opaque token of another server's shape: only the ``Bearer`` rule can mask it.
OPAQUE = "3NKHt6i2urmWtqOuugvr9Zj0xQ-opaque.token"
#: Every upper/lower-case spelling of the word (64).
BEARER_SPELLINGS = sorted(
    {"".join(letters) for letters in itertools.product(*zip("bearer", "BEARER", strict=True))}
)


@pytest.mark.parametrize("bearer", BEARER_SPELLINGS)
@pytest.mark.parametrize("space", [" ", "  ", "\t"])
def test_a_bearer_credential_is_masked_whatever_the_case_of_bearer(bearer, space):
    line = f"bad header Authorization: {bearer}{space}{OPAQUE} from 127.0.0.1"
    masked = redact(line)
    assert OPAQUE not in masked
    assert masked == f"bad header Authorization: {bearer}{space}{MASK} from 127.0.0.1"


@pytest.mark.parametrize("bearer", ["bearer", "Bearer", "BEARER", "bEaReR"])
def test_a_logged_bearer_header_reaches_the_log_masked(caplog, bearer):
    logger = logging.getLogger("nbmock.test.redaction")
    redact_loggers(logger.name)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("Invalid header %s", f"X-Esri-Authorization: {bearer} {OPAQUE}")
    assert OPAQUE not in caplog.text
    assert f"X-Esri-Authorization: {bearer} {MASK}" in caplog.text
