"""What mutmut's surviving mutants of sign-in, the guard, credential masking and the
Notebook Server's runtimes showed no test noticed (issue 25), asserted as a client sees it:
the Portal's token exchange for its federated Notebook Server (which server, which
binding, how long), the refusals' ArcGIS envelopes, a runtime page's operations and a
log line with its credential masked.

Messages are compared through ``mockserver.core.messages``. No assertion shows a token:
answers are reduced to their outcome (``GRANTED`` or the refusal) before comparing.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import pytest

from mockserver import create_app
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.notebookserver.releases import ADVANCED_ID, STANDARD_ID
from mockserver.serving.redact import MASK, RedactingFilter, redact
from tests.conftest import ManualClock

SHARING_TOKEN = "/arcgis/sharing/rest/generateToken"
ADMIN = "/arcgis/admin"
RUNTIMES = f"{ADMIN}/notebooks/runtimes"
HTTP, HTTPS = "http://localhost", "https://localhost"
NOW_MS = 1_900_000_000_000
APP = "https://app.example.com"
OTHER_IP = "10.0.0.9"
GRANTED = "granted"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW_MS)


@pytest.fixture
def client(clock):
    return create_app(flavour="notebook-server", clock=clock).test_client()


def outcome(answer: dict) -> object:
    """``GRANTED`` for an answer with a token, else the refusal: never the token itself."""
    return GRANTED if "token" in answer else answer.get("error", answer)


def token_refusal(detail: str) -> dict:
    return {"code": 400, "message": messages.UNABLE_TO_GENERATE_TOKEN, "details": [detail]}


def portal_token(client, /, *, base_url: str = HTTP, **form: str) -> str:
    answer = client.post(
        SHARING_TOKEN,
        data={"username": "admin", "password": "admin1234", "f": "json", **form},
        base_url=base_url,
    ).get_json(force=True)
    assert outcome(answer) == GRANTED
    return answer["token"]


def exchange(
    client,
    raw_token: str | None,
    server_url: str,
    *,
    base_url: str = HTTP,
    header: str | None = None,
    as_page: bool = False,
    **form: str,
) -> Any:
    """What arcgis's ``EsriGenTokenAuth`` posts for a federated server [client], the
    ``referer`` parameter and header as each case gives them."""
    data = {"serverURL": server_url, "f": "json", "request": "getToken", **form}
    if raw_token is not None:
        data["token"] = raw_token
    response = client.post(
        SHARING_TOKEN,
        data=data,
        headers={"Referer": header} if header else {},
        base_url=base_url,
    )
    return response.get_data(as_text=True) if as_page else response.get_json(force=True)


def error_lines(page: str) -> list[str]:
    """An HTML error page's heading and messages, as a browser shows them."""
    found = re.findall(r'<h1>(.*?)</h1>|<p class="error">(.*?)</p>', page)
    return [html.unescape(heading or line) for heading, line in found]


def runtimes_code(client, raw_token: str, *, referer: str | None, ip: str) -> int | None:
    """None when the admin API lists the runtimes for ``raw_token``, else its error code."""
    answer = client.get(
        RUNTIMES,
        query_string={"f": "json", "token": raw_token},
        headers={"Referer": referer} if referer else {},
        environ_base={"REMOTE_ADDR": ip},
    ).get_json(force=True)
    return None if "runtimes" in answer else answer.get("code", answer)


# --- which server a Portal token is exchanged for ------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "server_url", "granted"),
    [
        (HTTP, "http://localhost/arcgis", True),
        (HTTP, "http://localhost:80/arcgis/admin", True),  # the scheme's default port, spelt
        (HTTP, "HTTP://LocalHost/arcgis", True),
        (HTTPS, "https://localhost/arcgis", True),
        (HTTPS, "https://localhost:443/arcgis", True),
        (HTTP, "http://localhost:8080/arcgis", False),
        (HTTP, "http://localhost:443/arcgis", False),
        (HTTP, "https://localhost/arcgis", False),
        (HTTPS, "http://localhost/arcgis", False),
        (HTTP, "https://elsewhere.example.com/arcgis", False),
        (HTTP, "localhost:80/arcgis", False),  # a "scheme" and no host
        (HTTP, "http:///arcgis", False),
    ],
)
def test_a_portal_token_exchanges_only_for_a_server_at_the_federated_servers_origin(
    client, base_url, server_url, granted
):
    raw = portal_token(client, base_url=base_url)
    answer = exchange(client, raw, server_url, base_url=base_url)
    expected = GRANTED if granted else token_refusal(messages.NOT_A_FEDERATED_SERVER)
    assert outcome(answer) == expected


@pytest.mark.parametrize("sent", [None, "", "   "])
def test_an_exchange_without_a_portal_token_says_the_token_is_required(client, sent):
    answer = exchange(client, sent, "http://localhost/arcgis")
    assert outcome(answer) == token_refusal(messages.REQUIRED.format(name="token"))


def test_a_portal_token_of_a_user_no_longer_in_the_deployment_exchanges_for_nothing(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text('[users.alice]\npassword = "alice-pw-1"\nrole = "Administrator"\n')
    state = tmp_path / "state.sqlite3"
    before = create_app(flavour="notebook-server", state=state, users=users).test_client()
    raw = portal_token(before, username="alice", password="alice-pw-1")
    # The same deployment (same state, same token secret) restarted without alice.
    after = create_app(flavour="notebook-server", state=state).test_client()
    assert outcome(exchange(before, raw, "http://localhost/arcgis")) == GRANTED
    assert outcome(exchange(after, raw, "http://localhost/arcgis")) == {
        "code": 498,
        "message": messages.INVALID_TOKEN,
        "details": [],
    }
    # The directory's form posts for a page: it shows the admin API's words.
    page = exchange(after, raw, "http://localhost/arcgis", f="html", as_page=True)
    assert error_lines(page) == ["Error: 498", messages.INVALID_TOKEN]


# --- what the exchanged token is bound to ---------------------------------------------------

#: (how the Portal token is bound, the exchange's referer parameter and header, then where
#: the new token is used from: (Referer header, address, None if accepted else the code)).
BINDINGS = {
    "referer sent both ways binds to the referer, not the address": (
        {"client": "referer", "referer": APP},
        {"referer": APP},
        APP,
        [(APP, "127.0.0.1", None), (APP, OTHER_IP, None), ("https://evil.example", OTHER_IP, 498)],
    ),
    "referer parameter alone is the binding": (
        {"client": "referer", "referer": APP},
        {"referer": APP},
        None,
        [(APP, OTHER_IP, None), (None, "127.0.0.1", 498)],
    ),
    "referer header alone is the binding": (
        {"client": "referer", "referer": APP},
        {},
        APP,
        [(APP, OTHER_IP, None), (None, "127.0.0.1", 498)],
    ),
    "no referer binds to the caller's address": (
        {"client": "requestip"},
        {},
        None,
        [(None, "127.0.0.1", None), (APP, "127.0.0.1", None), (None, OTHER_IP, 498)],
    ),
}


@pytest.mark.parametrize("case", list(BINDINGS))
def test_an_exchanged_token_is_bound_to_the_referer_sent_else_the_callers_address(client, case):
    binding, form, header, uses = BINDINGS[case]
    raw = portal_token(client, **binding)
    answer = exchange(client, raw, "http://localhost/arcgis", header=header, **form)
    assert outcome(answer) == GRANTED
    seen = [runtimes_code(client, answer["token"], referer=r, ip=ip) for r, ip, _ in uses]
    assert seen == [code for _, _, code in uses]


# --- how long the exchanged token lives -------------------------------------------------------


@pytest.mark.parametrize(
    ("portal_minutes", "asked", "minutes"),
    [
        ("120", {"expiration": "5"}, 5),
        ("120", {"expiration": " 90 "}, 90),
        ("120", {}, 60),  # the default [doc]
        ("120", {"expiration": ""}, 60),
        ("10", {"expiration": "60"}, 10),  # never past the Portal token [inferred, N24]
    ],
)
def test_an_exchanged_token_lives_the_minutes_asked_never_past_the_portal_token(
    client, clock, portal_minutes, asked, minutes
):
    raw = portal_token(client, expiration=portal_minutes)
    answer = exchange(client, raw, "http://localhost/arcgis", **asked)
    assert outcome(answer) == GRANTED
    assert answer["expires"] == NOW_MS + minutes * 60_000
    clock.epoch_ms = answer["expires"] - 1
    assert runtimes_code(client, answer["token"], referer=None, ip="127.0.0.1") is None
    clock.epoch_ms = answer["expires"]
    assert runtimes_code(client, answer["token"], referer=None, ip="127.0.0.1") == 498


def test_an_exchange_asking_a_bad_expiration_is_refused_saying_so(client):
    raw = portal_token(client)
    answer = exchange(client, raw, "http://localhost/arcgis", expiration="soon")
    assert outcome(answer) == token_refusal(messages.BAD_EXPIRATION)


# --- notebooks/configuration's own privileges ---------------------------------------------------


def test_configuration_refuses_a_notebook_user_without_servers_or_security_saying_why(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text('[users.alice]\npassword = "alice-pw-1"\nrole = "Publisher"\n')
    client = create_app(users=users, clock=Clock(), release_name="11.4").test_client()
    raw = portal_token(client, username="alice", password="alice-pw-1")
    assert (
        client.get(f"{ADMIN}/notebooks", query_string={"f": "json", "token": raw}).get_json(
            force=True
        )["notebooks"]
        == []
    )
    refused = client.get(
        f"{ADMIN}/notebooks/configuration", query_string={"f": "json", "token": raw}
    ).get_json(force=True)
    assert refused == {"status": "error", "messages": [messages.NOT_PERMITTED], "code": 403}


# --- the Notebook Server's runtimes: pages, validation, manifests ------------------------------

REGISTER = {
    "name": "Custom Python 3",
    "imageId": "sha256:" + "1e" * 32,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "2",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}


def admin_post(client, path: str, raw: str, **form: str) -> dict:
    return client.post(f"{ADMIN}/{path}", data={"f": "json", "token": raw, **form}).get_json(
        force=True
    )


def admin_get(client, path: str, raw: str, **params: str) -> dict:
    return client.get(
        f"{ADMIN}/{path}", query_string={"f": "json", "token": raw, **params}
    ).get_json(force=True)


def linked_operations(client, raw: str, runtime_id: str) -> set[str]:
    """The operations a runtime's directory page links (its manifest is a resource)."""
    page = client.get(f"{RUNTIMES}/{runtime_id}", query_string={"f": "html", "token": raw})
    assert page.status_code == 200
    found = re.findall(rf'href="{RUNTIMES}/{runtime_id}/(\w+)\?', page.get_data(as_text=True))
    return set(found) - {"manifest"}


def operation_page_error(client, raw: str, runtime_id: str, name: str) -> str | None:
    """The error an operation's directory page shows, None when it shows its form."""
    page = client.get(f"{RUNTIMES}/{runtime_id}/{name}", query_string={"f": "html", "token": raw})
    found = re.search(r'<p class="error">(.*?)</p>', page.get_data(as_text=True))
    return None if found is None else html.unescape(found[1])


def test_a_runtime_page_offers_update_to_all_and_unregister_only_to_a_registered_runtime(client):
    raw = portal_token(client)
    made = admin_post(client, "notebooks/runtimes/register", raw, **REGISTER)["notebookRuntime"]
    expected = {
        STANDARD_ID: {"update"},
        ADVANCED_ID: {"update"},
        made["id"]: {"update", "unregister"},
    }
    assert {rid: linked_operations(client, raw, rid) for rid in expected} == expected
    for runtime_id, offered in expected.items():
        for name in ("update", "unregister"):
            shown = operation_page_error(client, raw, runtime_id, name)
            refusal = messages.OPERATION_NOT_OFFERED.format(name=name, id=runtime_id)
            assert shown == (None if name in offered else refusal), (runtime_id, name)


def test_validate_runtimes_names_the_machine_reached_and_each_runtimes_version(client):
    raw = portal_token(client)
    made = admin_post(client, "notebooks/runtimes/register", raw, **{**REGISTER, "version": "2.0"})[
        "notebookRuntime"
    ]
    listed = admin_get(client, "notebooks/runtimes", raw)["runtimes"]
    assert made["version"] == "2.0" and listed[0]["version"] != "2.0"
    answer = admin_post(client, "notebooks/runtimes/validateRuntimes", raw)
    assert answer == {
        "machines": [
            {
                "machine": "LOCALHOST",
                "notebookRuntimes": [
                    {
                        "notebookRuntimeName": runtime["name"],
                        "runtimeExists": "true",
                        "notebookRuntimeVersion": runtime["version"],
                    }
                    for runtime in listed
                ],
            }
        ],
        "status": "success",
    }


def test_the_advanced_runtimes_manifest_lists_more_than_the_standards(client):
    raw = portal_token(client)

    def names(runtime_id: str) -> set[str]:
        manifest = admin_get(client, f"notebooks/runtimes/{runtime_id}/manifest", raw)
        return {row["name"] for row in manifest["libraries"]}

    standard, advanced = names(STANDARD_ID), names(ADVANCED_ID)
    assert standard < advanced
    for flag, kind in (("true", advanced), ("false", standard)):
        made = admin_post(
            client,
            "notebooks/runtimes/register",
            raw,
            **{**REGISTER, "requiresAdvancedPrivileges": flag, "createManifestFile": "true"},
        )["notebookRuntime"]
        assert names(made["id"]) == kind


# --- a credential encoded more than once, in a log line ----------------------------------------

TOKEN_SHAPED = "WyJhZG1pbiIsMTc5NjY2OTg4NDExM10.P0BOyCuqpPmULGNgLQ8qVo2E5X8"


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("GET /x?token%253Ds3cret HTTP/1.1", f"GET /x?{MASK} HTTP/1.1"),
        ("GET /x?password%25253Dhunter2 HTTP/1.1", f"GET /x?{MASK} HTTP/1.1"),
        (f"GET /x/{TOKEN_SHAPED.replace('.', '%252E')} HTTP/1.1", f"GET /x/{MASK} HTTP/1.1"),
        ("GET /a%2520b?q=%2574opic HTTP/1.1", "GET /a%2520b?q=%2574opic HTTP/1.1"),
    ],
    ids=["token pair, twice", "password pair, thrice", "token, its dot twice", "no credential"],
)
def test_a_log_line_masks_a_credential_however_often_it_was_percent_encoded(line, masked):
    assert redact(line) == masked
    record = logging.LogRecord("nbmock", logging.INFO, __file__, 1, "%s", (line,), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == masked
