"""The wire conventions at their edges: formats, pages, headers and body limits.

What is asserted is what a client or a person with a browser sees: the HTTP
status, the page's title, table, JSON link and links, the error's message.
Content types are checked loosely (the body parses as JSON, or is a page), so
that the JSON answers' exact Content-Type may follow ArcGIS Server's.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask, Response
from gunicorn.config import Config
from gunicorn.http import RequestParser
from gunicorn.http import wsgi as gunicorn_wsgi

from mockserver import create_app
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.runtimes.releases import ADVANCED_ID
from mockserver.serving.worker import closing_after_unread_bodies
from mockserver.web import directory
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.html_forms import PAGE_TITLE, page_of

ADMIN = "/arcgis/admin"
RUNTIMES = f"{ADMIN}/notebooks/runtimes"
COPY = f"{RUNTIMES}/{STANDARD_ID}/copy"


def signs_in(response: Response, page: str) -> bool:
    """Whether ``response`` sends the browser to sign in, to come back to the path ``page``."""
    location = urlsplit(response.headers.get("Location", ""))
    back = parse_qs(location.query).get("redirect", [""])
    return (
        response.status_code == 302
        and location.path == f"{ADMIN}/login"
        and [urlsplit(b).path for b in back] == [page]
    )


def json_of(response: Response) -> dict:
    return json.loads(response.get_data(as_text=True))


# --- the HTML directory's pages ------------------------------------------------


def test_a_signed_in_page_shows_its_title_table_json_and_links_carrying_the_token(api, token):
    page = page_of(api.client.get(RUNTIMES, query_string={"token": token}))
    answer = api.get("notebooks/runtimes", token)
    assert page.title == PAGE_TITLE.format("Notebook Runtimes")
    assert page.headings[0] == "Notebook Runtimes"
    assert page.table["currentRuntimeVersion"] == answer["currentRuntimeVersion"]
    assert page.links["JSON"] == f"{RUNTIMES}?f=pjson&token={token}"
    pretty = api.client.get(page.links["JSON"]).get_data(as_text=True)
    assert pretty == json.dumps(answer, indent=2, ensure_ascii=False)  # as f=pjson
    assert page.links["Home"] == f"{ADMIN}?f=html&token={token}"
    for runtime in answer["runtimes"]:
        assert page.links[runtime["id"]] == f"{RUNTIMES}/{runtime['id']}?f=html&token={token}"


def test_a_runtime_page_shows_its_values_and_links_to_its_manifest(api, token):
    page = page_of(api.client.get(f"{RUNTIMES}/{ADVANCED_ID}", query_string={"token": token}))
    runtime = api.get(f"notebooks/runtimes/{ADVANCED_ID}", token)
    assert page.title == PAGE_TITLE.format(f"Notebook Runtime: {runtime['name']}")
    assert list(page.table) == list(runtime)  # one table, in the answer's key order
    assert page.table["name"] == runtime["name"]
    assert page.table["maxMemory"] == str(runtime["maxMemory"])  # integral: 8, not 8.0
    assert page.table["requiresAdvancedPrivileges"] == "true"  # as JSON writes it
    assert page.links["JSON"] == f"{RUNTIMES}/{ADVANCED_ID}?f=pjson&token={token}"
    assert json_of(api.client.get(page.links["JSON"])) == runtime
    assert page.links["manifest"] == f"{RUNTIMES}/{ADVANCED_ID}/manifest?f=html&token={token}"


def test_an_anonymous_pages_links_carry_no_token(api):
    response = api.client.get("/arcgis/sharing/rest", query_string={"f": "html"})
    page = page_of(response)
    assert page.title == PAGE_TITLE.format("Sharing API")
    assert page.links == {
        "JSON": "/arcgis/sharing/rest?f=pjson",
        "API Reference": directory.API_REFERENCE["sharing"],
        "portals/self": "/arcgis/sharing/rest/portals/self?f=html",
        "info": "/arcgis/sharing/rest/info?f=html",
    }
    assert "token" not in response.get_data(as_text=True)


def test_the_token_a_sign_in_issues_is_the_one_its_page_carries(api):
    response = api.client.post(
        "/arcgis/sharing/rest/generateToken", data={"username": "admin", "password": "admin1234"}
    )
    page = page_of(response)
    token = page.table["token"]
    assert page.links["Administrator directory"] == f"{ADMIN}?f=html&token={token}"
    assert "runtimes" in api.get("notebooks/runtimes", token)


def test_an_html_error_page_shows_the_code_and_every_message(api):
    # A page asked for with a refused token sends the browser to sign in, token dropped.
    refused = api.client.get(RUNTIMES, query_string={"token": "nonsense"})
    assert signs_in(refused, RUNTIMES)
    assert "nonsense" not in refused.headers["Location"]
    # A form posted with it gets the error page, which carries the token on nowhere.
    response = api.client.post(COPY, data={**SEED_COPY, "token": "nonsense", "f": "html"})
    page = page_of(response)
    assert page.headings == ["Error: 498"]
    assert page.errors == [messages.TOKEN_NOT_DECRYPTED]
    assert page.links["Sign in"].startswith(f"{ADMIN}/login?")
    assert "nonsense" not in response.get_data(as_text=True)  # a refused token is not carried on


# --- statuses and formats of errors --------------------------------------------


def test_an_html_error_page_for_a_too_large_body_keeps_http_413(api, token):
    big = {"token": token, "name": "n" * (1024 * 1024 + 1)}
    response = api.client.post(COPY, query_string={"f": "html"}, data=big)
    assert response.status_code == 413
    assert page_of(response).headings == ["Error: 413"]


def test_an_unreadable_body_without_f_in_the_query_is_answered_as_json(api, token):
    big = {"token": token, "name": "n" * (1024 * 1024 + 1), "f": "html"}
    response = api.client.post(COPY, data=big)
    assert response.status_code == 413
    assert json_of(response)["code"] == 413


def test_a_malformed_multipart_body_with_f_html_in_the_query_gets_a_page(api):
    response = api.client.post(
        COPY,
        query_string={"f": "html"},
        data=b"--xyz\r\nnot a part header\r\n\r\nvalue\r\n--xyz--\r\n",
        content_type="multipart/form-data; boundary=xyz",
    )
    page = page_of(response)
    assert page.headings == ["Error: 400"]
    assert page.errors == [messages.MALFORMED_MULTIPART]


def test_an_html_method_error_has_the_same_status_as_its_json_twin(api):
    as_json = api.client.delete(RUNTIMES, query_string={"f": "json"})
    as_html = api.client.delete(RUNTIMES, query_string={"f": "html"})
    assert json_of(as_json)["code"] == 405
    assert as_html.status_code == as_json.status_code
    assert page_of(as_html).errors == [messages.METHOD_NOT_SUPPORTED.format(method="DELETE")]


@pytest.mark.parametrize("fmt", ["html", "json"])
def test_a_bug_keeps_http_500_in_every_format(fmt):
    app = create_app()

    @app.get("/arcgis/admin/boom")
    def boom():
        raise KeyError("detail")

    response = app.test_client().get("/arcgis/admin/boom", query_string={"f": fmt})
    assert response.status_code == 500
    if fmt == "html":
        assert page_of(response).errors == [messages.INTERNAL_ERROR]
    else:
        assert json_of(response)["messages"] == [messages.INTERNAL_ERROR]


def test_error_bodies_are_compact_for_json_and_indented_for_pjson(api):
    compact = api.client.get(RUNTIMES, query_string={"f": "json"}).get_data(as_text=True)
    pretty = api.client.get(RUNTIMES, query_string={"f": "pjson"}).get_data(as_text=True)
    assert json.loads(compact) == json.loads(pretty)
    assert "\n" not in compact
    assert pretty == json.dumps(json.loads(pretty), indent=2, ensure_ascii=False)


def test_answers_are_compact_for_json_and_indented_for_pjson(api, token):
    query = {"token": token}
    compact = api.client.get(RUNTIMES, query_string={**query, "f": "json"}).get_data(as_text=True)
    pretty = api.client.get(RUNTIMES, query_string={**query, "f": "pjson"}).get_data(as_text=True)
    assert json.loads(compact) == json.loads(pretty)
    assert "\n" not in compact and '\n  "runtimes": [' in pretty


@pytest.mark.parametrize("spelling", ["JSON", " json ", "Json", "json\t"])
def test_f_is_read_case_insensitively_and_without_spaces(api, token, spelling):
    answer = api.client.get(RUNTIMES, query_string={"f": spelling, "token": token})
    assert "runtimes" in json_of(answer)
    refused = api.client.get(RUNTIMES, query_string={"f": spelling, "token": "nonsense"})
    assert json_of(refused)["code"] == 498


@pytest.mark.parametrize("spelling", ["PJSON", " pjson"])
def test_pjson_is_read_case_insensitively_and_without_spaces(api, spelling):
    body = api.client.get(RUNTIMES, query_string={"f": spelling}).get_data(as_text=True)
    assert json.loads(body)["code"] == 499 and "\n  " in body


@pytest.mark.parametrize("spelling", ["", " ", "HTML"])
def test_a_blank_or_uppercase_f_gets_the_page(api, token, spelling):
    # Without a token, a page sends the browser to sign in (a JSON client gets its 499).
    response = api.client.get(RUNTIMES, query_string={"f": spelling})
    assert signs_in(response, RUNTIMES)
    signed_in = api.client.get(RUNTIMES, query_string={"f": spelling, "token": token})
    assert page_of(signed_in).title == PAGE_TITLE.format("Notebook Runtimes")


def test_an_unknown_f_is_refused_in_json(api, token):
    response = api.client.get(RUNTIMES, query_string={"f": "xml", "token": token})
    assert json_of(response)["messages"] == [messages.BAD_FORMAT]


# --- where the token is read ---------------------------------------------------


def copy_with_headers(api: Api, headers: dict, **form: str) -> dict:
    response = api.client.post(COPY, data={**SEED_COPY, "f": "json", **form}, headers=headers)
    return json_of(response)


def test_a_basic_authorization_header_never_hides_a_valid_body_token(api, token):
    answer = copy_with_headers(api, {"Authorization": "Basic YWRtaW46YWRtaW4xMjM0"}, token=token)
    assert answer["status"] == "success"


@pytest.mark.parametrize("header", ["X-Esri-Authorization", "Authorization"])
@pytest.mark.parametrize("template", ["bearer {}", "BEARER {}", "Bearer   {}  ", "Bearer {}\t"])
def test_the_bearer_keyword_is_read_in_any_case_and_spaces_around_the_token_ignored(
    api, token, header, template
):
    answer = copy_with_headers(api, {header: template.format(token)})
    assert answer["status"] == "success"


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    "])
def test_a_bearer_header_without_a_token_leaves_the_body_token_in_force(api, token, value):
    answer = copy_with_headers(api, {"X-Esri-Authorization": value}, token=token)
    assert answer["status"] == "success"


def test_a_bearer_header_wins_over_the_body_token(api, token):
    answer = copy_with_headers(api, {"Authorization": "Bearer nonsense"}, token=token)
    assert answer["code"] == 498


def test_the_esri_header_is_read_before_authorization(api, token):
    headers = {"X-Esri-Authorization": f"Bearer {token}", "Authorization": "Bearer nonsense"}
    assert copy_with_headers(api, headers)["status"] == "success"


def test_a_token_with_spaces_around_it_in_the_body_or_query_is_accepted(api, token):
    assert copy_with_headers(api, {}, token=f"  {token} ")["status"] == "success"
    listed = api.client.get(RUNTIMES, query_string={"f": "json", "token": f" {token}  "})
    assert "runtimes" in json_of(listed)


# --- what cannot be read as parameters ------------------------------------------


def test_a_query_string_that_is_not_utf8_is_refused_and_nothing_stored(api, token):
    before = api.runtimes(token)
    form = {k: v for k, v in SEED_COPY.items() if k != "name"}
    response = api.client.post(f"{COPY}?name=caf%E9", data={**form, "f": "json", "token": token})
    assert json_of(response) == {
        "status": "error",
        "messages": [messages.NOT_UTF8],
        "code": 400,
    }
    assert api.runtimes(token) == before


def test_a_get_whose_query_string_is_not_utf8_is_refused(api, token):
    response = api.client.get(f"{RUNTIMES}?f=json&token={token}&q=%FF%FE")
    assert json_of(response)["messages"] == [messages.NOT_UTF8]


def test_a_plus_in_a_utf8_query_string_is_a_space_not_a_refusal(api, token):
    response = api.client.get(f"{RUNTIMES}?f=json&token={token}&q=a+b%C3%A9")
    assert "runtimes" in json_of(response)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b"],
)
def test_a_body_that_is_not_utf8_is_refused_and_nothing_stored(api, token, content_type):
    before = api.runtimes(token)
    if content_type.startswith("multipart"):
        body = (
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\ncaf\xe9\r\n'
            + f'--b\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n--b--\r\n'.encode()
        )
    else:
        body = f"name=caf%E9&f=json&token={token}".encode()
    response = api.client.post(
        COPY, data=body, content_type=content_type, query_string={"f": "json"}
    )
    assert json_of(response)["messages"] == [messages.NOT_UTF8]
    assert api.runtimes(token) == before


def test_multipart_without_a_boundary_gets_its_own_message(api, token):
    response = api.client.post(
        COPY, query_string={"f": "json"}, data=b"token=x", content_type="multipart/form-data"
    )
    assert json_of(response) == {
        "status": "error",
        "messages": [messages.MULTIPART_WITHOUT_BOUNDARY],
        "code": 400,
    }


def test_a_multipart_field_over_flasks_500_kb_default_is_read_within_the_body_limit(api, token):
    # Main's rule: the body limit is the only size limit, so one field may take it all.
    form = {**SEED_COPY, "token": token, "f": "json", "notes": "n" * 600_000}
    response = api.client.post(COPY, data=form, content_type="multipart/form-data")
    assert json_of(response)["status"] == "success"


def test_a_multipart_body_of_more_than_1000_parts_is_refused_with_413(api, token):
    before = api.runtimes(token)
    form = {**SEED_COPY, "token": token, **{f"extra{i}": "1" for i in range(1000)}}
    response = api.client.post(
        COPY, query_string={"f": "json"}, data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert json_of(response)["messages"] == [messages.TOO_MANY_PARTS.format(parts=1000)]
    assert api.runtimes(token) == before


def test_a_multipart_body_just_under_both_limits_is_read(api, token):
    form = {**SEED_COPY, "token": token, "f": "json", "customResources": " " * 400_000 + "{}"}
    form.update({f"extra{i}": "1" for i in range(1000 - len(form))})
    response = api.client.post(COPY, data=form, content_type="multipart/form-data")
    assert json_of(response)["status"] == "success"


# --- what a browser's cross-site form post gets ----------------------------------


def test_a_cross_site_form_post_asking_for_a_page_gets_a_403_page_and_changes_nothing(api, token):
    before = api.runtimes(token)
    form = {**SEED_COPY, "token": token, "f": "html"}
    response = api.client.post(COPY, data=form, headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Frame-Options"] == "DENY"  # every page's protection
    page = page_of(response)
    assert page.title == PAGE_TITLE.format("Error: 403")
    assert page.headings == ["Error: 403"]
    assert page.errors == [messages.CROSS_SITE_REFUSED]
    assert api.runtimes(token) == before


# --- framing, as the shipped server (gunicorn) hands a raw request over -------------

#: A body limit small enough that a body over it fits in a socket buffer at once.
SMALL_LIMIT = 2000


def gunicorn_exchange(app: Flask, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """``raw`` parsed by gunicorn and answered by ``app`` as nbmock serve's worker does
    (mockserver/serving/worker.py): the status, the headers (names lower-cased) and the body."""
    client, server = socket.socketpair()
    with client, server:
        # A parser that waits for bytes that never come fails the test instead of hanging it.
        for end in (client, server):
            end.settimeout(30)
        client.sendall(raw)
        cfg = Config()
        peer = ("127.0.0.1", 50000)
        request = next(RequestParser(cfg, server, peer))
        response, environ = gunicorn_wsgi.create(request, server, peer, ("127.0.0.1", 80), cfg)
        for piece in closing_after_unread_bodies(app)(environ, response.start_response):
            response.write(piece)
        response.close()
        server.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := client.recv(65536):
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    return int(status_line.split(" ")[1]), headers, body


def chunked(body: bytes, size: int = 500) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def post_chunked(app: Flask, token: str, form: dict, coding: str = "chunked"):
    head = (
        f"POST {COPY} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Esri-Authorization: Bearer {token}\r\n"
        f"Transfer-Encoding: {coding}\r\n\r\n"
    ).encode()
    return gunicorn_exchange(app, head + chunked(urlencode(form).encode()))


@pytest.fixture
def small_api() -> Api:
    return Api(create_app(clock=Clock(), max_body=SMALL_LIMIT))


@pytest.mark.parametrize("coding", ["chunked", "Chunked"])
def test_a_chunked_body_is_read_whatever_the_case_of_its_coding(small_api, coding):
    token = small_api.token()
    form = {**SEED_COPY, "name": f"sent {coding}", "f": "json"}
    status, headers, body = post_chunked(small_api.app, token, form, coding)
    assert status == 200
    assert json.loads(body)["notebookRuntime"]["name"] == f"sent {coding}"
    assert headers["connection"] == "keep-alive"


@pytest.mark.parametrize(
    "coding",
    ["gzip, chunked", "gzip, gzip, deflate, deflate, compress, compress, chunked"],
)
def test_a_transfer_coding_the_server_does_not_decode_is_refused_naming_it(small_api, coding):
    token = small_api.token()
    before = small_api.runtimes(token)
    form = {**SEED_COPY, "name": "compressed", "f": "json"}
    status, _, body = post_chunked(small_api.app, token, form, coding)
    assert status == 200
    named = coding[:40]  # an echoed header value is cut to 40 characters
    assert json.loads(body) == {
        "status": "error",
        "messages": [messages.UNSUPPORTED_TRANSFER_CODING.format(coding=named)],
        "code": 400,
    }
    assert small_api.runtimes(token) == before


def test_a_chunked_body_over_the_limit_is_refused_and_its_connection_closed(small_api):
    # The rest of the body is never read: the next request must not start inside it.
    token = small_api.token()
    before = small_api.runtimes(token)
    form = {**SEED_COPY, "name": "n" * (SMALL_LIMIT + 1), "f": "json"}
    status, headers, body = post_chunked(small_api.app, token, form)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["messages"] == [messages.BODY_TOO_LARGE.format(limit=SMALL_LIMIT)]
    assert small_api.runtimes(token) == before


#: Every character Python's str.strip() takes that the contract's Blank (space, tab, CR,
#: LF) does not: found by Schemathesis (an ``f`` of U+000C was read as left out).
_OTHER_WHITESPACE = [
    chr(code) for code in range(0x110000) if chr(code).isspace() and chr(code) not in " \t\r\n"
]


@pytest.mark.parametrize("padding", _OTHER_WHITESPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_an_f_of_other_whitespace_is_an_unknown_format_not_a_blank_one(padding):
    api = Api(create_app(clock=Clock()))
    answer = api.client.get(f"{ADMIN}/notebooks/runtimes", query_string={"f": padding})
    assert answer.get_json(force=True)["code"] == 400
    padded = api.client.get(
        f"{ADMIN}/notebooks/runtimes", query_string={"f": " \tjson\r\n", "token": api.token()}
    )
    assert "runtimes" in padded.get_json(force=True)


# --- a parameter in both the query string and the body -------------------------


def _without_ids(runtime: dict) -> dict:
    return {k: v for k, v in runtime.items() if k not in ("id", "deploymentDefaultPropertyId")}


#: A query-string value for each copy parameter that differs from the body's: either a
#: value the copy would refuse or one it would store instead.
QUERY_VALUES = {
    name: "7" if name in ("maxCpu", "maxMemory") else "from the query" for name in SEED_COPY
}
#: Every copy parameter but ``version``: a copy takes its source's version whatever is
#: sent, so no answer shows which ``version`` was read.
READ_BY_COPY = sorted(set(SEED_COPY) - {"version"})


@pytest.mark.parametrize("name", READ_BY_COPY)
def test_a_post_with_a_parameter_in_both_query_and_body_uses_the_bodys(api, token, name):
    body_only = api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    response = api.client.post(
        COPY,
        query_string={name: QUERY_VALUES[name]},
        data={**SEED_COPY, "f": "json", "token": token},
    )
    answer = json_of(response)
    assert answer["status"] == "success", answer
    assert _without_ids(answer["notebookRuntime"]) == _without_ids(body_only["notebookRuntime"]) | {
        "revision": answer["notebookRuntime"]["revision"]
    }


@pytest.mark.parametrize("name", READ_BY_COPY)
def test_a_post_with_a_parameter_only_in_the_query_uses_it(api, token, name):
    form = {key: value for key, value in SEED_COPY.items() if key != name}
    body_only = api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)
    answer = json_of(
        api.client.post(
            COPY,
            query_string={name: SEED_COPY[name]},
            data={**form, "f": "json", "token": token},
        )
    )
    assert _without_ids(answer["notebookRuntime"]) == _without_ids(body_only["notebookRuntime"]) | {
        "revision": answer["notebookRuntime"]["revision"]
    }


def test_a_sign_in_with_the_password_in_both_query_and_body_uses_the_bodys(api):
    answer = api.client.post(
        "/arcgis/sharing/rest/generateToken",
        query_string={"password": "wrong in the query", "username": "nobody"},
        data={"username": "admin", "password": "admin1234", "f": "json"},
    ).get_json(force=True)
    assert "token" in answer, answer
