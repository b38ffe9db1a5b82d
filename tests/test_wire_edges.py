"""The wire conventions at their edges: formats, pages, headers and body limits.

What is asserted is what a client or a person with a browser sees: the HTTP
status, the page's title, table, JSON block and links, the error's message.
Content types are checked loosely (the body parses as JSON, or is a page), so
that the JSON answers' exact Content-Type may follow ArcGIS Server's.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from flask import Response

from mockserver import create_app, messages
from mockserver.runtimes.releases import ADVANCED_ID
from tests.conftest import SEED_COPY, STANDARD_ID, Api

ADMIN = "/arcgis/admin"
RUNTIMES = f"{ADMIN}/notebooks/runtimes"
COPY = f"{RUNTIMES}/{STANDARD_ID}/copy"
PAGE_TITLE = "{} (ArcGIS notebook-runtime emulator)"


class Page(HTMLParser):
    """What a person sees on one of the directory's pages."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = ""
        self.headings: list[str] = []
        self.table: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.pre: list[str] = []
        self.errors: list[str] = []
        self._open: list[tuple[str, dict]] = []
        self._text = ""
        self._th = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._open.append((tag, dict(attrs)))
        self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        _, attrs = self._open.pop() if self._open else (tag, {})
        text = self._text.strip()
        if tag == "title":
            self.title = text
        elif tag in ("h1", "h2"):
            self.headings.append(text)
        elif tag == "th":
            self._th = text
        elif tag == "td" and self._th:
            self.table[self._th] = text
        elif tag == "a":
            self.links[text] = attrs.get("href", "")
        elif tag == "pre" and not any(t == "td" for t, _ in self._open):
            self.pre.append(text)
        elif tag == "p" and attrs.get("class") == "error":
            self.errors.append(text)
        if tag != "pre":
            self._text = ""


def page_of(response: Response) -> Page:
    assert response.mimetype == "text/html", response.mimetype
    return Page(response.get_data(as_text=True))


def json_of(response: Response) -> dict:
    return json.loads(response.get_data(as_text=True))


# --- the HTML directory's pages ------------------------------------------------


def test_a_signed_in_page_shows_its_title_table_json_and_links_carrying_the_token(api, token):
    page = page_of(api.client.get(RUNTIMES, query_string={"token": token}))
    answer = api.get("notebooks/runtimes", token)
    assert page.title == PAGE_TITLE.format("Notebook Runtimes")
    assert page.headings[0] == "Notebook Runtimes"
    assert page.table["currentRuntimeVersion"] == answer["currentRuntimeVersion"]
    assert json.loads(page.pre[-1]) == answer
    assert page.pre[-1] == json.dumps(answer, indent=2, ensure_ascii=False)  # as f=pjson
    assert page.links["Home"] == f"{ADMIN}?f=html&token={token}"
    for runtime in answer["runtimes"]:
        assert page.links[runtime["name"]] == f"{RUNTIMES}/{runtime['id']}?f=html&token={token}"


def test_a_runtime_page_shows_its_values_and_links_to_its_manifest(api, token):
    page = page_of(api.client.get(f"{RUNTIMES}/{ADVANCED_ID}", query_string={"token": token}))
    runtime = api.get(f"notebooks/runtimes/{ADVANCED_ID}", token)
    assert page.title == PAGE_TITLE.format(f"Notebook Runtime: {runtime['name']}")
    assert page.table["name"] == runtime["name"]
    assert page.table["maxMemory"] == str(runtime["maxMemory"])  # integral: 8, not 8.0
    assert page.table["requiresAdvancedPrivileges"] == "True"
    assert json.loads(page.pre[-1]) == runtime
    assert page.links["manifest"] == f"{RUNTIMES}/{ADVANCED_ID}/manifest?f=html&token={token}"


def test_an_anonymous_pages_links_carry_no_token(api):
    response = api.client.get("/arcgis/sharing/rest", query_string={"f": "html"})
    page = page_of(response)
    assert page.title == PAGE_TITLE.format("Sharing API")
    assert page.links == {
        "Home": f"{ADMIN}?f=html",
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
    page = page_of(api.client.get(RUNTIMES, query_string={"token": "nonsense"}))
    assert page.headings == ["Error: 498"]
    assert page.errors[0] == messages.INVALID_TOKEN
    assert page.links["Home"] == f"{ADMIN}?f=html"  # a refused token is not carried on


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
def test_a_blank_or_uppercase_f_gets_the_page(api, spelling):
    response = api.client.get(RUNTIMES, query_string={"f": spelling})
    assert page_of(response).headings == ["Error: 499"]


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
