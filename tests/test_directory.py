"""The HTML directory as a browser meets it, in process: the way in, the way back,
operation pages, and that API clients see none of it (issue 14)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from mockserver import create_app
from mockserver.auth.users import User, UserDirectory
from mockserver.core import deployment
from mockserver.web.directory import safe_return_path
from tests.conftest import SEED_COPY, STANDARD_ID, Api
from tests.html_forms import form_fields

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
    answer = api.client.post(f"{RUNTIME}/update", data=fields)
    assert "success" in answer.get_data(as_text=True)
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
