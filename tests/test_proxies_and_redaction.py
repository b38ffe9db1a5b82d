"""What a trusted proxy may say for a client, and what the logs never show (issue 25).

A proxy appends the address, host and scheme it saw to ``X-Forwarded-*``; whatever comes
before its entry the client wrote itself. So only the last hop counts: the first one
would let any client pick the address an IP-bound token is checked against, or the host
the emulator's URLs name.
"""

from __future__ import annotations

import itertools
import logging
import uuid

import pytest

from mockserver import cli, create_app
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.serving import server as serving
from mockserver.serving.redact import MASK, redact, redact_loggers

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


@pytest.mark.parametrize("hops", ["http", "https, http", "https,http"])
def test_a_proxy_that_reached_an_https_server_over_http_says_so(client, hops):
    answered = client.get(
        f"{SHARING}/info",
        base_url="https://localhost",
        query_string={"f": "json"},
        headers={"X-Forwarded-Proto": hops, "X-Forwarded-Host": PORTAL_HOST},
        environ_base={"REMOTE_ADDR": PROXY},
    ).get_json(force=True)
    assert answered["owningSystemUrl"] == f"http://{PORTAL_HOST}/arcgis"


@pytest.mark.parametrize("peer", ["", "unix:/run/nbmock.sock", "10.0.0.1:5000"])
def test_forwarded_headers_from_a_peer_with_no_ip_address_are_ignored(client, peer):
    """A peer without an address (gunicorn on a Unix socket leaves it empty) is no proxy."""
    answered = _owning_system_url(
        client, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PORTAL_HOST}, peer=peer
    )
    assert answered == (200, "http://localhost/arcgis")


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


# --- the Host names nbmock serve answers for -------------------------------------


@pytest.fixture
def serve_settings(monkeypatch, capsys):
    """The settings ``nbmock serve <args>`` would serve with, without serving."""
    captured = {}

    def capture(**options):
        captured.update(options)

    monkeypatch.setattr(serving, "serve", capture)

    def settings_of(*args: str):
        assert cli.main(["serve", "--port", "9", *args]) == 0
        capsys.readouterr()
        return captured["settings"]

    return settings_of


def _host_answer(settings, host: str):
    client = create_app(settings).test_client()
    response = client.get(f"{SHARING}/info", query_string={"f": "json"}, headers={"Host": host})
    return response.status_code, response.get_json(force=True)


ALWAYS_ANSWERED = [
    "localhost",
    "LOCALHOST:8080",
    "localhost.",
    "notebooks.localhost",
    "a.b.localhost:443",
    "127.0.0.1",
    "127.0.0.1:5000",
    "10.1.2.3:80",
    "[::1]",
    "[::1]:8443",
    "[2001:db8::1]:80",
]


@pytest.mark.parametrize("host", ALWAYS_ANSWERED)
@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0", "::"])
def test_loopback_names_and_ip_literals_are_always_answered(serve_settings, bind, host):
    assert _host_answer(serve_settings("--host", bind), host)[0] == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "localhost.evil.example", "0x7f.example", "example"]
)
def test_any_other_name_is_refused_naming_it(serve_settings, host):
    status, answer = _host_answer(serve_settings("--host", "127.0.0.1"), host)
    assert status == 400
    name = host.partition(":")[0]
    assert answer == {
        "status": "error",
        "messages": [messages.HOST_NOT_ALLOWED.format(host=name)],
        "code": 400,
    }


def test_a_refused_host_name_is_refused_before_a_fault_rule_can_answer_it(serve_settings):
    client = create_app(serve_settings("--host", "127.0.0.1")).test_client()
    local = {"Host": "localhost"}
    rule = {"operation": "info", "status": 502}
    assert client.post("/__mock__/faults", json=rule, headers=local).status_code == 200
    refused = client.get(f"{SHARING}/info?f=json", headers={"Host": EVIL_HOST})
    assert refused.status_code == 400
    assert refused.get_json(force=True)["messages"] == [
        messages.HOST_NOT_ALLOWED.format(host=EVIL_HOST)
    ]


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"name=%FF%FE", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ],
)
def test_a_refused_host_name_is_refused_before_its_body_is_read(serve_settings, body, content_type):
    client = create_app(serve_settings("--host", "127.0.0.1")).test_client()
    refused = client.post(
        f"{SHARING}/generateToken",
        data=body,
        headers={"Host": EVIL_HOST, "Content-Type": content_type},
    )
    assert refused.status_code == 400
    assert refused.get_json(force=True)["messages"] == [
        messages.HOST_NOT_ALLOWED.format(host=EVIL_HOST)
    ]


def test_a_refused_host_name_is_echoed_cut_to_100_characters(serve_settings):
    status, answer = _host_answer(serve_settings(), "a" * 300 + ".example")
    assert status == 400
    assert answer["messages"] == [messages.HOST_NOT_ALLOWED.format(host="a" * 100)]


@pytest.mark.parametrize(
    "public_url, host",
    [
        ("https://Portal.Example.com:7443/arcgis", "portal.example.com"),
        ("https://portal.example.com/", "PORTAL.example.com:443"),
        ("https://portal.example.com.", "portal.example.com"),
        ("portal.example.com", "portal.example.com."),
        ("//portal.example.com:8080", "portal.example.com:8080"),
    ],
)
def test_a_public_url_adds_its_host_name_and_only_it(serve_settings, public_url, host):
    settings = serve_settings("--public-url", public_url)
    assert _host_answer(settings, host)[0] == 200
    assert _host_answer(settings, "other.example.com")[0] == 400
    assert _host_answer(settings, "example.com")[0] == 400


def test_the_bound_name_is_answered_and_a_bound_address_adds_no_name(serve_settings):
    named = serve_settings("--host", "Notebooks.Lan")
    assert _host_answer(named, "notebooks.lan:8080")[0] == 200
    assert _host_answer(named, "other.lan")[0] == 400
    for address in ("0.0.0.0", "::", "10.0.0.5"):
        bound = serve_settings("--host", address)
        assert bound.allowed_hosts == frozenset({"localhost"})


@pytest.mark.parametrize("public_url", ["https://", "http:///path", "http://[bad/", ""])
def test_a_public_url_without_a_host_name_stops_nbmock_serve_naming_it(serve_settings, public_url):
    with pytest.raises(SystemExit) as stopped:
        serve_settings("--public-url", public_url)
    assert str(stopped.value) == f"nbmock serve: --public-url {public_url!r} has no host name"


@pytest.mark.parametrize(
    "proxy", ["proxy.example", "10.0.0.300", "10.0.0.0/33", "", "fe80::1::2", "10.0.0.1X", "X::1"]
)
def test_a_trusted_proxy_that_is_no_address_stops_nbmock_serve_naming_it(serve_settings, proxy):
    with pytest.raises(SystemExit) as stopped:
        serve_settings("--trusted-proxy", proxy)
    assert str(stopped.value) == (
        f"nbmock serve: --trusted-proxy {proxy!r} is not an IP address or network"
    )


@pytest.mark.parametrize(
    "proxy, peer, trusted",
    [
        ("10.0.0.0/8", "10.200.3.4", True),
        ("10.0.0.1/8", "10.9.9.9", True),  # a host address with a prefix names its network
        ("10.0.0.0/24", "10.0.1.1", False),
        ("[::1]", "::1", True),
        ("::1", "127.0.0.1", False),
        ("127.0.0.1", "127.0.0.2", False),
    ],
)
def test_forwarded_headers_count_only_from_a_peer_in_a_trusted_network(
    serve_settings, proxy, peer, trusted
):
    settings = serve_settings("--trusted-proxy", proxy, "--public-url", f"https://{PORTAL_HOST}")
    client = create_app(settings).test_client()
    answer = client.get(
        f"{SHARING}/info",
        query_string={"f": "json"},
        headers={
            "Host": "localhost",
            "X-Forwarded-Host": PORTAL_HOST,
            "X-Forwarded-Proto": "https",
        },
        environ_base={"REMOTE_ADDR": peer},
    ).get_json(force=True)
    forwarded = f"https://{PORTAL_HOST}/arcgis"
    assert (answer["owningSystemUrl"] == forwarded) is trusted


def test_an_empty_forwarded_hop_leaves_the_peers_own_values(client):
    answered = _owning_system_url(
        client, {"X-Forwarded-Host": f"{EVIL_HOST}, ", "X-Forwarded-Proto": "https,"}
    )
    assert answered == (200, "http://localhost/arcgis")


# --- redaction of name=value pairs and of our own tokens ---------------------------

SECRET = "s3cr3t-VALUE"
CREDENTIAL_NAMES = [
    "token",
    "Token",
    "access_token",
    "tokens",
    "password",
    "PASSWORD",
    "newPassword",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "client_secret",
    "credential",
    "credentials",
    "authorization",
    "api_key",
    "apikey",
    "apiKeys",
    "x.token",
    "my-password",
]
#: What may stand right before the name: the start, a query, a pair, a path, a space, a quote.
BEFORE = ["", "GET /arcgis/x?", "a=1&", "a=1;", "/arcgis/admin/runtimes/", "line ", '"', "'"]


@pytest.mark.parametrize("name", CREDENTIAL_NAMES)
@pytest.mark.parametrize("before", BEFORE)
@pytest.mark.parametrize("equals", ["=", "%3D", "%3d"])
def test_every_credential_pair_is_masked_up_to_its_end(name, before, equals):
    for after in ("", "&f=json", " HTTP/1.1", '"', "'"):
        line = f"{before}{name}{equals}{SECRET}{after}"
        assert redact(line) == f"{before}{name}{equals}{MASK}{after}"


@pytest.mark.parametrize("name", ["f", "tokenServicesUrl", "isTokenBasedSecurity", "name", "id"])
def test_other_pairs_are_left_as_they_are(name):
    line = f"GET /arcgis/x?{name}=value&f=json HTTP/1.1"
    assert redact(line) == line


def test_a_word_ending_in_a_credentials_name_inside_text_is_still_masked():
    assert redact("sent mytoken=abc") == f"sent mytoken={MASK}"


#: Tokens this emulator issues: itsdangerous's base64 JSON list, a dot, a signature.
ISSUED = "WyJhZG1pbiIsMTcwMDAwMDAwMDAwMF0.abcdefghij_KLMNOPQR-st"


@pytest.mark.parametrize(
    "text",
    [
        f"token {ISSUED} in free text",
        f"path /x/{ISSUED}/y",
        ISSUED,
        f"({ISSUED})",
    ],
)
def test_a_token_this_emulator_issues_is_masked_wherever_it_stands(text):
    assert ISSUED not in redact(text)
    assert redact(text) == text.replace(ISSUED, MASK)


@pytest.mark.parametrize(
    "text",
    [
        "WyJshort.abcdefghijklmnopqrstuv",  # fewer than 8 characters before the dot
        "WyJabcdefghij.short",  # a signature under 16 characters
        "XyJabcdefghij.abcdefghijklmnopqrstuv",
    ],
)
def test_text_merely_near_a_tokens_shape_is_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize("text", ["", "nothing secret here", "GET /arcgis/sharing/rest/info"])
def test_text_without_credentials_is_returned_unchanged(text):
    assert redact(text) == text


def _fresh_logger(name: str) -> logging.Logger:
    """A logger no earlier test (or process this one was forked from) filtered already."""
    return logging.getLogger(f"{name}.{uuid.uuid4().hex}")


def _log_through_filter(caplog, name: str, *args, exc_info=None) -> logging.LogRecord:
    logger = _fresh_logger(name)
    redact_loggers(logger.name)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info(*args, exc_info=exc_info)
    return caplog.records[-1]


def test_a_logged_message_with_arguments_reaches_the_log_masked(caplog):
    record = _log_through_filter(caplog, "nbmock.test.args", "GET %s?token=%s", "/x", SECRET)
    assert SECRET not in caplog.text
    assert record.getMessage() == f"GET /x?token={MASK}"
    assert record.args is None


def test_a_logged_message_without_credentials_keeps_its_arguments(caplog):
    record = _log_through_filter(caplog, "nbmock.test.plain", "GET %s", "/x")
    assert record.msg == "GET %s" and record.args == ("/x",)


def test_a_logged_traceback_is_masked_too(caplog):
    try:
        raise ValueError(f"bad request token={SECRET}")
    except ValueError as error:
        logger = _fresh_logger("nbmock.test.trace")
        redact_loggers(logger.name)
        handler_text = []

        class Keep(logging.Handler):
            def emit(self, record):
                handler_text.append(self.format(record))

        keep = Keep()
        keep.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(keep)
        try:
            record = logging.LogRecord(
                logger.name, logging.ERROR, __file__, 1, "failed", None, None
            )
            record.exc_text = logging.Formatter().formatException((type(error), error, None))
            logger.handle(record)
        finally:
            logger.removeHandler(keep)
    assert SECRET not in "".join(handler_text)
    assert f"token={MASK}" in record.exc_text


def test_a_malformed_log_record_is_passed_on_for_the_handler_to_report(caplog):
    logger = _fresh_logger("nbmock.test.malformed")
    redact_loggers(logger.name)
    record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "%d", ("x",), None)
    assert all(f.filter(record) for f in logger.filters)
    assert record.msg == "%d" and record.args == ("x",)


def test_redacting_a_logger_twice_adds_one_filter():
    name = _fresh_logger("nbmock.test.twice").name
    redact_loggers(name, name)
    redact_loggers(name)
    assert len(logging.getLogger(name).filters) == 1
