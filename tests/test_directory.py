"""The HTML directory as a browser meets it, in process: the way in, the way back,
operation pages, and that API clients see none of it (issue 14)."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.exceptions import NotFound

from mockserver import create_app
from mockserver.auth.users import User, UserDirectory
from mockserver.core import deployment
from mockserver.runtimes import forms
from mockserver.runtimes.forms import COPY, UPDATE
from mockserver.web.directory import safe_return_path
from mockserver.web.forms import JSON, NUMBER, SELECT, Field
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.html_forms import PAGE_TITLE, form_fields, page_of

RUNTIME = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}"


def _sign_in(api: Api, return_to: str, username="admin", password="admin1234"):
    return api.client.post(
        "/arcgis/admin/login",
        data={"username": username, "password": password, "redirect": return_to},
    )


# --- the way in ---------------------------------------------------------------------


def test_admin_page_without_token_leads_to_sign_in_and_back(api):
    asked = api.client.get("/arcgis/admin/notebooks/runtimes")
    assert asked.status_code == 302
    login = urlsplit(asked.headers["Location"])
    assert login.path == "/arcgis/admin/login"
    return_to = parse_qs(login.query)["redirect"][0]
    assert return_to == "/arcgis/admin/notebooks/runtimes"

    form = api.client.get(asked.headers["Location"]).get_data(as_text=True)
    assert 'name="username"' in form and 'autocomplete="current-password"' in form
    assert 'href="/arcgis/sharing/rest/generateToken?f=html"' in form

    signed_in = _sign_in(api, return_to)
    assert signed_in.status_code == 302
    landing = urlsplit(signed_in.headers["Location"])
    assert landing.path == "/arcgis/admin/notebooks/runtimes" and not landing.netloc
    token = parse_qs(landing.query)["token"][0]
    page = api.client.get(signed_in.headers["Location"])
    assert page.status_code == 200 and "Signed in as <b>admin</b>" in page.get_data(as_text=True)
    assert api.get("notebooks/runtimes", token)["runtimes"]


def test_json_requests_keep_arcgis_envelopes_without_redirects(api):
    for fmt in ("json", "pjson"):
        answer = api.client.get("/arcgis/admin/notebooks/runtimes", query_string={"f": fmt})
        assert answer.status_code == 200 and answer.get_json(force=True)["code"] == 499
    forged = api.client.get("/arcgis/admin", query_string={"f": "json", "token": "forged"})
    assert forged.status_code == 200 and forged.get_json(force=True)["code"] == 498


def test_wrong_password_shows_the_form_again_with_why(api):
    answer = _sign_in(api, "/arcgis/admin", password="wrong")
    assert answer.status_code == 200 and "Location" not in answer.headers
    page = answer.get_data(as_text=True)
    assert "Invalid username or password." in page and 'value="admin"' in page


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/arcgis/admin",
        "//evil.example/arcgis/admin",
        "/\\evil.example/arcgis/admin",
        "\\\\evil.example",
        "/elsewhere/page",
        "javascript:alert(1)",
        "",
    ],
)
def test_sign_in_never_redirects_off_the_emulator(api, target):
    location = urlsplit(_sign_in(api, target).headers["Location"])
    assert not location.scheme and not location.netloc
    assert location.path == "/arcgis/admin"


def test_return_path_keeps_the_emulators_own_pages():
    assert safe_return_path("/arcgis/admin/notebooks?f=html", "arcgis") == (
        "/arcgis/admin/notebooks?f=html"
    )
    assert safe_return_path("/arcgis/sharing/rest/info", "arcgis") == "/arcgis/sharing/rest/info"
    assert safe_return_path("/arcgis/admin?token=stale&f=html", "arcgis") == "/arcgis/admin?f=html"


def test_expired_token_leads_to_sign_in_again(api, token):
    api.clock.advance(2 * 3600)
    asked = api.client.get(RUNTIME, query_string={"f": "html", "token": token})
    assert asked.status_code == 302
    query = parse_qs(urlsplit(asked.headers["Location"]).query)
    assert query["reason"] == ["expired"] and token not in query["redirect"][0]
    page = api.client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Your sign-in has expired" in page


def test_refused_user_sees_who_is_signed_in_and_may_sign_in_as_someone_else():
    users = UserDirectory(
        [
            User.create("admin", "admin1234", "Administrator"),
            User.create("viewer", "viewer1234", "Viewer"),
        ]
    )
    api = Api(create_app(users=users))
    token = api.token("viewer", "viewer1234")
    answer = api.client.get("/arcgis/admin/notebooks", query_string={"token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Error: 403" in page
    assert "Signed in as <b>viewer</b>" in page
    link = re.search(r'href="([^"]+)">Sign in as someone else', page).group(1)
    assert parse_qs(urlsplit(link.replace("&amp;", "&")).query)["redirect"] == [
        "/arcgis/admin/notebooks"
    ]


def test_sign_out_leads_to_the_sign_in_page(api):
    answer = api.client.get("/arcgis/admin/logout")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/arcgis/admin/login"


def test_context_root_home_and_favicon_are_not_framework_404s(api):
    for path in ("/arcgis/", "/arcgis/home"):
        answer = api.client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/arcgis/admin")
    assert api.client.get("/favicon.ico").status_code == 204


# --- operation pages ----------------------------------------------------------------


def test_operation_page_by_get_but_json_get_stays_405(api, token):
    page = api.client.get(f"{RUNTIME}/copy", query_string={"f": "html", "token": token})
    assert page.status_code == 200 and page.mimetype == "text/html"
    fields = form_fields(page.get_data(as_text=True))
    assert fields["name"] == "" and fields["maxSwapMemory"] == ""
    assert fields["maxMemoryUnit"] == "g" and fields["token"] == token
    refused = api.client.get(f"{RUNTIME}/copy", query_string={"f": "json", "token": token})
    assert refused.get_json(force=True) == {
        "status": "error",
        "messages": ["Method GET is not supported by this resource."],
        "code": 405,
    }


def test_copy_form_offers_selects_for_units_and_number_boxes(api, token):
    page = api.client.get(f"{RUNTIME}/copy", query_string={"f": "html", "token": token})
    html = page.get_data(as_text=True)
    assert re.search(r'<select id="copy-maxMemoryUnit" name="maxMemoryUnit"[^>]*>', html)
    assert all(f'<option value="{unit}"' in html for unit in "gmkb")
    assert re.search(r'name="maxCpu" type="number"', html)
    assert re.search(r'name="name" value="" [^>]*required', html)


def test_update_form_is_prefilled_with_shared_memory_and_leaves_swap_empty(api, token):
    page = api.client.get(f"{RUNTIME}/update", query_string={"f": "html", "token": token})
    fields = form_fields(page.get_data(as_text=True))
    runtime = api.get(f"notebooks/runtimes/{STANDARD_ID}", token)
    assert fields["sharedMemory"] == str(runtime["sharedMemorySize"])
    assert fields["sharedMemoryUnit"] == runtime["sharedMemorySizeUnit"]
    assert fields["maxSwapMemory"] == "" and fields["maxSwapMemoryUnit"] == ""
    # Sent unchanged, the form applies the server's swap default: double maxMemory.
    answer = api.client.post(f"{RUNTIME}/update", data=fields, follow_redirects=True)
    assert page_of(answer).notices == ["Runtime 'ArcGIS Notebook Python 3 Standard' updated."]
    after = api.get(f"notebooks/runtimes/{STANDARD_ID}", token)
    assert after["maxSwapMemory"] == 2 * after["maxMemory"]


def test_unregister_asks_first_and_removes_only_when_confirmed(api, token):
    copy_id = api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)[
        "notebookRuntime"
    ]["id"]
    url = f"/arcgis/admin/notebooks/runtimes/{copy_id}/unregister"
    page = api.client.get(url, query_string={"f": "html", "token": token}).get_data(as_text=True)
    assert "It is removed for good." in page
    assert copy_id in {runtime["id"] for runtime in api.runtimes(token)}
    api.client.post(url, data=form_fields(page))
    assert copy_id not in {runtime["id"] for runtime in api.runtimes(token)}


def test_upgrade_is_offered_only_below_the_current_version(tmp_path):
    state = tmp_path / "state.sqlite3"
    old = Api(create_app(state=state, release_name="12.0"))
    token = old.token()
    copy_id = old.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **SEED_COPY)[
        "notebookRuntime"
    ]["id"]
    deployment.of(old.app).store.close()
    new = Api(create_app(state=state, release_name="12.1"))
    url = f"/arcgis/admin/notebooks/runtimes/{copy_id}"
    page = new.client.get(url, query_string={"token": token}).get_data(as_text=True)
    assert f'href="{url}/upgrade?' in page
    new.client.post(f"{url}/upgrade", data={"f": "html", "token": token})
    page = new.client.get(url, query_string={"token": token}).get_data(as_text=True)
    assert "/upgrade?" not in page
    refused = new.client.get(f"{url}/upgrade", query_string={"f": "html", "token": token})
    assert "is not offered" in refused.get_data(as_text=True)


# --- tables and values ----------------------------------------------------------------


def test_duplicate_names_hide_no_runtime(api, token):
    for _ in range(2):
        api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **{**SEED_COPY, "name": "Same"})
    page = api.client.get(
        "/arcgis/admin/notebooks/runtimes", query_string={"token": token}
    ).get_data(as_text=True)
    linked = re.findall(r'href="/arcgis/admin/notebooks/runtimes/([\w-]+)\?', page)
    assert sorted(linked) == sorted(runtime["id"] for runtime in api.runtimes(token))
    assert len(linked) == 4


def test_values_are_written_as_json_writes_them_once_in_key_order(api, token):
    page = api.client.get(RUNTIME, query_string={"token": token}).get_data(as_text=True)
    assert "<td>false</td>" in page and "True" not in page and "False" not in page
    keys = re.findall(r"<tr><th>(\w+)</th>", page)
    assert keys == list(api.get(f"notebooks/runtimes/{STANDARD_ID}", token))
    assert 'rel="noreferrer" target="_blank">API Reference' in page
    assert "notebook-runtime" in re.search(r'href="([^"]+)"[^>]*>API Reference', page).group(1)


def test_expires_is_readable_and_token_pages_are_not_stored(api):
    answer = api.client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "html"},
    )
    assert answer.headers["Cache-Control"] == "no-store"
    assert re.search(r"<td>\d+ \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)</td>", answer.get_data(True))


def test_manifest_links_back_to_its_runtime(api, token):
    page = api.client.get(f"{RUNTIME}/manifest", query_string={"token": token}).get_data(True)
    assert f'href="{RUNTIME}?f=html&amp;token=' in page


def test_breadcrumbs_lead_back_with_the_token(api, token):
    page = api.client.get(f"{RUNTIME}/manifest", query_string={"token": token}).get_data(True)
    crumbs = re.search(r'<p class="crumbs">(.*?)</p>', page).group(1)
    labels = re.findall(r">([^<>]+)</(?:a|span)>", crumbs)
    assert [label for label in labels if label != "&gt;"] == [
        "Home",
        "notebooks",
        "runtimes",
        STANDARD_ID,
        "manifest",
    ]
    assert crumbs.count(f"token={token}") == 4


def test_head_on_a_resource_answers_as_get_does(api, token):
    """HEAD is not an operation's page: a resource answers it as it answers GET."""
    for fmt, mimetype in (("json", "text/plain"), ("html", "text/html")):
        answer = api.client.head(
            "/arcgis/admin/notebooks/runtimes", query_string={"f": fmt, "token": token}
        )
        assert (answer.status_code, answer.mimetype) == (200, mimetype)


def test_admin_sign_in_shares_the_portals_account_lockout(api):
    for _ in range(5):
        _sign_in(api, "/arcgis/admin", password="wrong")
    answer = _sign_in(api, "/arcgis/admin")
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert "locked" in answer.get_data(as_text=True)


# --- after a form: post/redirect/get --------------------------------------------------


def _copy_of_standard(api: Api, token: str, name: str = "A copy") -> str:
    return api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", token, **{**SEED_COPY, "name": name})[
        "notebookRuntime"
    ]["id"]


def _upgradable_copy(tmp_path) -> tuple[Api, str, str]:
    """An app at 12.1 holding a copy made at 12.0, which upgrade accepts."""
    state = tmp_path / "state.sqlite3"
    old = Api(create_app(state=state, release_name="12.0"))
    copy_id = _copy_of_standard(old, old.token(), "Old copy")
    deployment.of(old.app).store.close()
    new = Api(create_app(state=state, release_name="12.1"))
    return new, new.token(), copy_id


#: Every write the directory's forms send: how to set it up, what it sends, where the
#: browser lands and what it is told there.
DIRECTORY_WRITES = {
    "copy": lambda api, token, copy_id: (
        f"{RUNTIME}/copy",
        {**SEED_COPY, "name": "Copied & <checked>"},
        None,
        "Runtime 'Copied & <checked>' created.",
    ),
    "update": lambda api, token, copy_id: (
        f"/arcgis/admin/notebooks/runtimes/{copy_id}/update",
        {"maxCpu": "3", "maxMemory": "9", "maxMemoryUnit": "g"},
        f"/arcgis/admin/notebooks/runtimes/{copy_id}",
        "Runtime 'Old copy' updated.",
    ),
    "upgrade": lambda api, token, copy_id: (
        f"/arcgis/admin/notebooks/runtimes/{copy_id}/upgrade",
        {},
        f"/arcgis/admin/notebooks/runtimes/{copy_id}",
        "Runtime 'Old copy' upgraded.",
    ),
    "unregister": lambda api, token, copy_id: (
        f"/arcgis/admin/notebooks/runtimes/{copy_id}/unregister",
        {},
        "/arcgis/admin/notebooks/runtimes",
        "Runtime 'Old copy' unregistered.",
    ),
}


@pytest.mark.parametrize("f", ["html", None])
@pytest.mark.parametrize("write", sorted(DIRECTORY_WRITES))
def test_a_reloaded_form_result_repeats_nothing(tmp_path, write, f):
    api, token, copy_id = _upgradable_copy(tmp_path)
    url, form, landing, notice = DIRECTORY_WRITES[write](api, token, copy_id)
    form = {**form, "token": token, **({"f": f} if f else {})}
    before = api.runtimes(token)
    answer = api.client.post(url, data=form)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert query["f"] == ["html"] and query["token"] == [token]
    after = api.runtimes(token)
    if landing is None:  # a copy lands on the runtime it made
        (made,) = [r for r in after if r["id"] not in {b["id"] for b in before}]
        landing = f"/arcgis/admin/notebooks/runtimes/{made['id']}"
    assert location.path == landing
    for _ in range(2):  # the result, then the same result reloaded
        page = page_of(api.client.get(answer.headers["Location"]))
        assert page.notices == [notice]
        assert api.runtimes(token) == after
    if landing.endswith("/runtimes"):
        assert copy_id not in page.links
    else:
        # The resource's own properties table, in its key order: not the JSON answer.
        runtime = api.get(landing.removeprefix("/arcgis/admin/"), token)
        assert page.table["id"] == runtime["id"] and page.table["name"] == runtime["name"]


@pytest.mark.parametrize("f", ["json", "pjson"])
@pytest.mark.parametrize("write", sorted(DIRECTORY_WRITES))
def test_json_answers_to_writes_are_not_redirected(tmp_path, write, f):
    api, token, copy_id = _upgradable_copy(tmp_path)
    url, form, _, _ = DIRECTORY_WRITES[write](api, token, copy_id)
    answer = api.client.post(url, data={**form, "token": token, "f": f})
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert answer.mimetype == "text/plain"
    assert answer.get_json(force=True)["status"] == "success"


def test_a_notice_names_only_what_a_write_did(api, token):
    """A crafted ``done`` shows nothing: the page says only the writes' own sentences."""
    for query in ({"done": "deleted everything", "name": "x"}, {"done": "created"}):
        page = page_of(api.client.get(RUNTIME, query_string={**query, "token": token}))
        assert page.notices == []


# --- a refused form comes back as it was sent ------------------------------------------


def _bad_value(field: Field) -> str:
    """A value the API refuses for ``field``, whatever the other fields hold."""
    return {NUMBER: "lots", SELECT: "q", JSON: "[1]"}.get(field.kind, "")


def _form_with_one_bad_field(api: Api, token: str, url: str, field: Field) -> dict[str, str]:
    sent = form_fields(
        api.client.get(url, query_string={"f": "html", "token": token}).get_data(as_text=True)
    )
    sent.update(name="Kept as typed", minCpu="0.5", maxSwapMemory="7", maxSwapMemoryUnit="g")
    sent[field.name] = _bad_value(field)
    return {key: value for key, value in sent.items() if key in {f.name for f in COPY + UPDATE}}


@pytest.mark.parametrize(
    ("operation", "field"),
    [("copy", field) for field in forms.COPY] + [("update", field) for field in forms.UPDATE],
    ids=lambda value: getattr(value, "name", value),
)
def test_a_refused_form_comes_back_with_what_was_typed_and_why_beside_the_field(
    api, token, operation, field
):
    url = f"{RUNTIME}/{operation}"
    if operation == "update":
        url = f"/arcgis/admin/notebooks/runtimes/{_copy_of_standard(api, token)}/update"
    sent = _form_with_one_bad_field(api, token, url, field)
    if operation == "update":
        sent.pop("name")
    before = api.runtimes(token)
    answer = api.client.post(url, data={**sent, "f": "html", "token": token})
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = page_of(answer)
    assert page.title == PAGE_TITLE.format("Error: 400")
    assert f"'{field.name}'" in page.field_errors[f"{operation}-{field.name}"]
    assert page.errors == []  # every message is beside its field
    shown = form_fields(answer.get_data(as_text=True))
    for name, value in sent.items():
        if name == field.name and field.kind == SELECT:
            continue  # a select cannot show a choice it does not offer
        assert shown[name] == value, name
    assert shown["token"] == token
    assert api.runtimes(token) == before


def test_a_message_that_names_no_field_heads_the_form(api, token):
    copy_id = _copy_of_standard(api, token)
    url = f"/arcgis/admin/notebooks/runtimes/{copy_id}/copy"
    answer = api.client.post(url, data={**SEED_COPY, "f": "html", "token": token})
    # A copy of a copy is refused, and a copy offers no copy page: the plain error page.
    assert page_of(answer).errors and "Back" in page_of(answer).links


# Every kind of body check_body refuses, as a browser or a fuzzer could post it to sign-in.
UNREADABLE_SIGN_IN_BODIES = {
    "multipart without a boundary": ("multipart/form-data", b"username=admin"),
    "malformed multipart": ("multipart/form-data; boundary=x", b"--x\r\nnot a part"),
    "multipart not UTF-8": (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="username"\r\n\r\n\xff\r\n--x--\r\n',
    ),
    "form not UTF-8": ("application/x-www-form-urlencoded", b"username=%ff&password=x"),
}


@pytest.mark.parametrize("f", [None, "json", "html"])
@pytest.mark.parametrize("kind", sorted(UNREADABLE_SIGN_IN_BODIES))
def test_an_unreadable_sign_in_body_gets_the_form_again_saying_why(api, kind, f):
    """Sign-in is a browser's form: a body it cannot read is refused on the page, as
    wrong credentials are, whatever ``f`` says (it was a JSON envelope labelled
    text/plain, which the contract does not list for this operation)."""
    content_type, body = UNREADABLE_SIGN_IN_BODIES[kind]
    answer = api.client.post(
        "/arcgis/admin/login",
        query_string={"redirect": "/arcgis/admin/notebooks", **({"f": f} if f else {})},
        data=body,
        content_type=content_type,
    )
    assert (answer.status_code, answer.mimetype) == (200, "text/html")
    assert "Location" not in answer.headers
    page = answer.get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert re.search(r"multipart|UTF-8|boundary", page), page
    assert 'value="/arcgis/admin/notebooks"' in page


# --- every crumb leads somewhere ------------------------------------------------------

#: GET routes no page of the crawl below reaches, each with why it needs no crumb check.
NOT_CRAWLED = {
    "/arcgis/admin/login": "the sign-in page, which has no crumbs",
    "/arcgis/admin/logout": "signs out and redirects",
    "/arcgis/sharing/rest/oauth2/authorize": "the OAuth sign-in page, which has no crumbs",
    "/arcgis/home": "redirects to the admin directory",
    "/arcgis/": "redirects to the admin directory",
}


def _crawl_from(client, starts: list[str], token: str) -> dict[str, str]:
    """Every directory page reachable from ``starts`` by its links: path -> page."""
    pages: dict[str, str] = {}
    queue = list(starts)
    while queue:
        path = queue.pop(0)
        if path in pages or "/logout" in path or "/login" in path:
            continue
        answer = client.get(path, query_string={"f": "html", "token": token})
        assert answer.status_code == 200, (path, answer.status_code)
        pages[path] = answer.get_data(as_text=True)
        for href in re.findall(r'href="(/arcgis/[^"?]*)\?f=html', pages[path]):
            queue.append(href)
    return pages


@pytest.mark.parametrize("flavour", ["kubernetes", "notebook-server"])
def test_every_breadcrumb_leads_to_a_page_not_a_404(flavour):
    """A crumb is a link only where a resource stands: the job page's "jobs" and the
    item page's "content" and "items" led to "Could not find resource" pages."""
    app = create_app(flavour=flavour)
    api = Api(app)
    token = api.token()
    item = api.client.post(
        "/__mock__/workload/items", json={"items": [{"owner": "admin", "title": "Report"}]}
    ).get_json()["items"][0]["id"]
    seeded = api.client.post(
        "/__mock__/workload/notebooks", json={"notebooks": [{"username": "alice"}]}
    )
    assert seeded.status_code == 200, seeded.get_data(as_text=True)
    job = api.post("notebooks/executeNotebook", token, itemId=item)["jobUrl"]
    starts = [
        "/arcgis/admin",
        "/arcgis/sharing/rest",
        urlsplit(job).path,
        f"/arcgis/sharing/rest/content/items/{item}",
        "/arcgis/sharing/rest/community/self",
        "/arcgis/sharing/rest/community/users/admin",
        "/arcgis/sharing/rest/portals/self",
        "/arcgis/sharing/rest/portals/self/servers",
        "/arcgis/sharing/rest/info",
        "/arcgis/sharing/rest/generateToken",
    ]
    if flavour == "notebook-server":
        registered = api.post(
            "notebooks/runtimes/register",
            token,
            name="Mine",
            imageId="sha256:" + "ab" * 32,
            requiresAdvancedPrivileges="false",
            maxCPU=1,
            maxMemory=2,
            maxMemoryUnit="g",
        )["notebookRuntime"]["id"]
        (notebook,) = seeded.get_json()["notebooks"]
        starts += [
            "/arcgis/admin/generateToken",
            f"/arcgis/admin/notebooks/runtimes/{registered}",
            # The container's notebook listing links the admin's notebook pages, not these.
            f"/arcgis/admin/system/containers/{notebook['hostId']}/notebooks/{notebook['id']}",
        ]
    else:
        starts.append(f"/arcgis/admin/notebooks/runtimes/{_copy_of_standard(api, token)}")
    pages = _crawl_from(api.client, starts, token)

    adapter = app.url_map.bind("")
    reached = set()
    for path in pages:
        # A link to no route is named by the crumb check below.
        with contextlib.suppress(NotFound):
            reached.add(adapter.match(path, return_rule=True)[0].rule)
    served = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.rule.startswith("/arcgis/")
    }
    assert served - reached - set(NOT_CRAWLED) <= {
        # Offered only to a runtime older than the current version (tested above).
        "/arcgis/admin/notebooks/runtimes/<runtime_id>/upgrade",
    }
    broken = []
    for path, page in pages.items():
        crumbs = re.search(r'<p class="crumbs">(.*?)</p>', page, re.DOTALL)
        for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', crumbs.group(1)):
            answer = api.client.get(href.replace("&amp;", "&"))
            heading = re.search(r"<h1>(.*?)</h1>", answer.get_data(as_text=True))
            if answer.status_code != 200 or heading.group(1).startswith("Error"):
                broken.append((path, label, answer.status_code, heading.group(1)))
    assert broken == []


def test_the_standalone_servers_pages_link_its_own_reference_never_kubernetes():
    """Its runtimes and notebooks linked Esri's Kubernetes pages (`…/enterprise/…`), and its
    register, restore, system and container pages linked none: every page of the standalone
    directory whose Esri page is known links that page (`…/notebook/…`)."""
    app = create_app(flavour="notebook-server")
    api = Api(app)
    token = api.token()
    seeded = api.client.post(
        "/__mock__/workload/notebooks", json={"notebooks": [{"username": "admin"}]}
    ).get_json()["notebooks"][0]
    starts = [
        "/arcgis/admin",
        "/arcgis/admin/generateToken",
        f"/arcgis/admin/system/containers/{seeded['hostId']}/notebooks/{seeded['id']}",
    ]
    pages = _crawl_from(api.client, starts, token)
    standalone = "https://developers.arcgis.com/rest/enterprise-administration/notebook/"
    without = []
    for path, page in pages.items():
        if not path.startswith("/arcgis/admin"):
            continue  # the Portal's pages link the Portal's reference
        reference = re.search(r'<a href="([^"]+)"[^>]*>API Reference</a>', page)
        if reference is None:
            without.append(path.rsplit("/", 1)[-1])
            continue
        assert reference.group(1).startswith(standalone), (path, reference.group(1))
    # Esri publishes no page known to us for a container's statistics.
    assert without == ["statistics"], without


IMAGE = "sha256:" + "ab" * 32
NS_RUNTIMES = "/arcgis/admin/notebooks/runtimes"

#: Every runtime write of the standalone directory's forms (N23): what it sends, where the
#: browser lands ("" for the runtime the write made or named) and what it is told there.
STANDALONE_WRITES = {
    "register": lambda rid: (
        f"{NS_RUNTIMES}/register",
        {"name": "Registered", "imageId": IMAGE, "requiresAdvancedPrivileges": "false",
         "maxCPU": "1", "maxMemory": "2", "maxMemoryUnit": "g"},
        "",
        "Runtime 'Registered' registered.",
    ),
    "update": lambda rid: (
        f"{NS_RUNTIMES}/{rid}/update",
        {"name": "Mine", "imageId": IMAGE, "requiresAdvancedPrivileges": "false",
         "maxCpu": "3", "maxMemory": "4", "maxMemoryUnit": "g"},
        f"{NS_RUNTIMES}/{rid}",
        "Runtime 'Mine' updated.",
    ),
    "unregister": lambda rid: (
        f"{NS_RUNTIMES}/{rid}/unregister", {}, NS_RUNTIMES, "Runtime 'Mine' unregistered."
    ),
    "restore": lambda rid: (
        f"{NS_RUNTIMES}/restore",
        {},
        NS_RUNTIMES,
        "Esri's runtimes restored; registered runtimes removed.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("write", sorted(STANDALONE_WRITES))
def test_a_reloaded_standalone_form_result_repeats_nothing(write):
    """The standalone server's register answered its form with the raw answer at the POST's
    URL, so reloading it registered a second runtime: every write now sends the browser on."""
    api = Api(create_app(flavour="notebook-server"))
    token = api.token()
    mine = api.post(
        "notebooks/runtimes/register", token, name="Mine", imageId=IMAGE,
        requiresAdvancedPrivileges="false", maxCPU=1, maxMemory=2, maxMemoryUnit="g",
    )["notebookRuntime"]["id"]  # fmt: skip
    url, form, landing, notice = STANDALONE_WRITES[write](mine)
    before = api.runtimes(token)
    answer = api.client.post(url, data={**form, "f": "html", "token": token})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    after = api.runtimes(token)
    if not landing:
        (made,) = [r for r in after if r["id"] not in {b["id"] for b in before}]
        landing = f"{NS_RUNTIMES}/{made['id']}"
    assert urlsplit(answer.headers["Location"]).path == landing
    for _ in range(2):  # the result, then the same result reloaded
        page = page_of(api.client.get(answer.headers["Location"]))
        assert page.notices == [notice]
        assert api.runtimes(token) == after
    json_answer = api.client.post(url, data={**form, "f": "json", "token": token})
    assert json_answer.status_code == 200 and "Location" not in json_answer.headers


@pytest.mark.parametrize(
    ("flavour", "product"),
    [
        ("kubernetes", "ArcGIS Enterprise Administrator Directory"),
        ("notebook-server", "ArcGIS Notebook Server Administrator Directory"),
    ],
)
def test_every_page_names_the_flavours_administrator_directory(flavour, product):
    """The standalone server's pages said "ArcGIS Enterprise Administrator Directory":
    every page (resources, operations, the sign-in page, error pages) names its own."""
    app = create_app(flavour=flavour)
    api = Api(app)
    token = api.token()
    pages = _crawl_from(api.client, ["/arcgis/admin"], token)
    pages["sign-in"] = api.client.get("/arcgis/admin/login").get_data(as_text=True)
    pages["error"] = api.client.get(
        "/arcgis/admin/notebooks/runtimes/nothing", query_string={"token": token}
    ).get_data(as_text=True)
    assert len(pages) > 5
    headers = {
        path: re.search(r'<span class="product">(.*?)</span>', page).group(1)
        for path, page in pages.items()
    }
    assert set(headers.values()) == {f"{product} (emulator)"}, headers


@pytest.mark.parametrize("flavour", ["kubernetes", "notebook-server"])
def test_a_notebooks_page_links_the_runtime_it_runs_on(flavour):
    """A notebook's page named its runtime by id only: it links the runtime's page, and
    the notebook's JSON is unchanged by it."""
    app = create_app(flavour=flavour)
    api = Api(app)
    token = api.token()
    seeded = api.client.post(
        "/__mock__/workload/notebooks", json={"notebooks": [{"username": "alice"}]}
    ).get_json()["notebooks"][0]
    path = f"/arcgis/admin/notebooks/{seeded['id']}"
    shown = page_of(api.client.get(path, query_string={"f": "html", "token": token}))
    runtime = api.client.get(shown.links["runtime"].replace("f=html", "f=json"))
    assert runtime.get_json(force=True)["id"] == seeded["runtimeId"]
    assert "runtime" not in api.get(f"notebooks/{seeded['id']}", token)
