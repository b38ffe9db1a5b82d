"""The admin directory in headless Chromium, as an administrator uses it (issue 14).

A real ``nbmock serve`` on 127.0.0.1 with the example users; each test starts
from the seeded state, walks the pages by clicking, and ends by asserting that
the browser's console showed no error. The pages the README shows are
screenshotted on the way: into docs/screenshots/ when ``NBMOCK_SCREENSHOTS=1``
(``make screenshots``), else into a scratch folder, so a test run never leaves
the checkout modified.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.chromium import FLAGS, Browser, Page, executable, sync_playwright
from tests.conftest import REPO, STANDARD_ID
from tests.nbmock_process import NbmockProcess

SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("NBMOCK_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="nbmock-screenshots-"))
)
if SCREENSHOTS.name.startswith("nbmock-screenshots-"):
    atexit.register(shutil.rmtree, SCREENSHOTS, ignore_errors=True)
STANDARD = "ArcGIS Notebook Python 3 Standard"


@pytest.fixture(scope="module")
def server() -> Iterator[NbmockProcess]:
    served = NbmockProcess("--users", str(REPO / "examples" / "users.toml"), "--seed", "7")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable(), args=list(FLAGS))
        yield chromium
        chromium.close()


@pytest.fixture
def page(server: NbmockProcess, browser: Browser) -> Iterator[Page]:
    """A fresh browser tab on a freshly reset emulator; its console must stay free of errors."""
    requests.post(f"{server.origin}/__mock__/reset", json={}, timeout=10).raise_for_status()
    context = browser.new_context(viewport={"width": 1000, "height": 360})
    tab = context.new_page()
    errors: list[str] = []
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page: Page, username: str = "admin", password: str = "admin1234") -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def token_of(page: Page) -> str:
    return parse_qs(urlsplit(page.url).query)["token"][0]


def open_runtime(page: Page, runtime_id: str) -> None:
    page.click(f"table.listing a:text-is('{runtime_id}')")
    assert path_of(page).endswith(f"/notebooks/runtimes/{runtime_id}")


def property_of(page: Page, key: str) -> str:
    return page.inner_text(f"table.properties tr:has(th:text-is('{key}')) td")


# --- the way in -------------------------------------------------------------------


def test_sign_in_from_the_admin_root(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin")
    assert path_of(page) == "/arcgis/admin/login"
    assert page.get_attribute("#password", "autocomplete") == "current-password"
    shoot(page, "sign-in")
    sign_in(page)
    assert path_of(page) == "/arcgis/admin"
    assert "Signed in as admin" in page.inner_text("header")
    assert page.title().startswith("ArcGIS Enterprise Administrator API")


def test_click_through_to_a_runtime_and_its_manifest_and_back(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin")
    sign_in(page)
    page.click("main ul a:text-is('notebooks')")
    page.click("main ul a:text-is('runtimes')")
    assert page.locator("table.listing tr").count() == 3  # heading + two system runtimes
    shoot(page, "runtimes")
    open_runtime(page, STANDARD_ID)
    assert page.inner_text("h1") == f"Notebook Runtime: {STANDARD}"
    assert property_of(page, "copied") == "false"
    shoot(page, "runtime")
    page.click("a:text-is('manifest')")
    assert "arcgis" in page.inner_text("table.properties")
    page.click("main a:text-is('runtime')")
    assert path_of(page).endswith(STANDARD_ID)
    page.click(".crumbs a:text-is('runtimes')")
    assert path_of(page) == "/arcgis/admin/notebooks/runtimes"


# --- operations through their forms --------------------------------------------------


def test_copy_update_and_unregister_through_their_forms(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}")
    sign_in(page)
    page.click("a:text-is('copy')")
    assert page.input_value("#copy-name") == ""
    assert page.input_value("#copy-maxSwapMemory") == ""
    page.fill("#copy-name", "Copied in a browser")
    page.fill("#copy-maxMemory", "6")
    shoot(page, "copy-form")
    page.click("button:text-is('Copy')")
    assert notice_of(page) == "Runtime 'Copied in a browser' created."
    copy_id = path_of(page).rsplit("/", 1)[-1]
    assert property_of(page, "name") == "Copied in a browser"
    assert property_of(page, "maxSwapMemory") == "12"  # left empty: double maxMemory

    page.click("a:text-is('update')")
    assert page.input_value("#update-sharedMemory") == property_of_api(
        server, copy_id, "sharedMemorySize"
    )
    page.fill("#update-maxCpu", "3")
    page.select_option("#update-maxMemoryUnit", "g")
    page.click("button:text-is('Update')")
    assert notice_of(page) == "Runtime 'Copied in a browser' updated."
    assert property_of(page, "maxCpu") == "3"

    page.click("a:text-is('unregister')")
    assert "removed for good" in page.inner_text("main")
    shoot(page, "unregister-confirm")
    page.click("button:text-is('Unregister')")
    assert notice_of(page) == "Runtime 'Copied in a browser' unregistered."
    assert path_of(page) == "/arcgis/admin/notebooks/runtimes"
    assert page.locator(f"table.listing a:text-is('{copy_id}')").count() == 0


def notice_of(page: Page) -> str:
    return page.inner_text("p.notice")


def test_reloading_a_copys_result_makes_no_second_runtime(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}/copy")
    sign_in(page)
    page.fill("#copy-name", "Copied once")
    page.click("button:text-is('Copy')")
    copied = path_of(page)
    for _ in range(2):
        page.reload()
        assert path_of(page) == copied
        assert notice_of(page) == "Runtime 'Copied once' created."
        assert property_of(page, "name") == "Copied once"
    # The runtime's usual page: its properties in the API's own order, not a dump sorted by key.
    runtime_id = copied.rsplit("/", 1)[-1]
    shown = page.locator("table.properties th").all_inner_texts()
    assert shown == list(runtime_of_api(server, runtime_id)) != sorted(shown)
    names = [runtime["name"] for runtime in runtimes_of_api(server)]
    assert names.count("Copied once") == 1


def runtimes_of_api(server: NbmockProcess) -> list[dict]:
    return requests.get(
        f"{server.base}/admin/notebooks/runtimes",
        params={"f": "json", "token": server.token()},
        timeout=10,
    ).json()["runtimes"]


def runtime_of_api(server: NbmockProcess, runtime_id: str) -> dict:
    return requests.get(
        f"{server.base}/admin/notebooks/runtimes/{runtime_id}",
        params={"f": "json", "token": server.token()},
        timeout=10,
    ).json()


def property_of_api(server: NbmockProcess, runtime_id: str, key: str) -> str:
    return str(runtime_of_api(server, runtime_id)[key])


def test_an_error_keeps_what_was_typed_and_says_why_beside_the_field(
    page: Page, server: NbmockProcess
):
    page.goto(f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}/copy")
    sign_in(page)
    page.fill("#copy-name", "Too little CPU")
    page.fill("#copy-minCpu", "2")
    page.fill("#copy-maxCpu", "1")
    page.fill("#copy-maxSwapMemory", "5")
    page.select_option("#copy-maxSwapMemoryUnit", "m")
    page.click("button:text-is('Copy')")
    assert page.inner_text("h1") == "Error: 400"
    beside = page.inner_text("#copy-minCpu-error")
    assert "'minCpu'" in beside and "'maxCpu'" in beside
    assert page.get_attribute("#copy-minCpu", "aria-describedby") == "copy-minCpu-error"
    typed = {"name": "Too little CPU", "minCpu": "2", "maxCpu": "1", "maxSwapMemory": "5"}
    for field, value in typed.items():
        assert page.input_value(f"#copy-{field}") == value
    assert page.input_value("#copy-maxSwapMemoryUnit") == "m"
    shoot(page, "error")
    page.fill("#copy-maxCpu", "3")
    page.click("button:text-is('Copy')")
    assert notice_of(page) == "Runtime 'Too little CPU' created."
    assert property_of(page, "maxSwapMemory") == "5" and property_of(page, "minCpu") == "2"


def test_duplicate_names_hide_no_runtime(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}/copy")
    sign_in(page)
    for _ in range(2):
        page.fill("#copy-name", STANDARD)
        page.click("button:text-is('Copy')")
        assert notice_of(page) == f"Runtime '{STANDARD}' created."
        page.go_back()
    page.goto(f"{server.base}/admin/notebooks/runtimes?f=html&token={token_of_session(page)}")
    links = page.locator("table.listing a")
    ids = [links.nth(i).inner_text() for i in range(links.count())]
    assert len(ids) == len(set(ids)) == 4
    names = page.locator("table.listing td:first-child").all_inner_texts()
    assert names.count(STANDARD) == 3
    for runtime_id in ids:
        open_runtime(page, runtime_id)
        assert property_of(page, "id") == runtime_id
        page.go_back()


def token_of_session(page: Page) -> str:
    return re.search(r"token=([^&\"]+)", page.content()).group(1)


# --- tokens that no longer serve ---------------------------------------------------------


def test_an_expired_token_leads_to_sign_in_and_back(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes")
    sign_in(page)
    requests.post(
        f"{server.origin}/__mock__/clock",
        json={"advance_seconds": 7200},
        headers={"Content-Type": "application/json"},
        timeout=10,
    ).raise_for_status()
    open_link = page.locator(f"table.listing a:text-is('{STANDARD_ID}')")
    open_link.click()
    assert path_of(page) == "/arcgis/admin/login"
    assert "expired" in page.inner_text("p.error")
    sign_in(page)
    assert path_of(page).endswith(STANDARD_ID)
    assert page.inner_text("h1") == f"Notebook Runtime: {STANDARD}"


def test_a_refused_user_is_told_and_may_sign_in_as_someone_else(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks")
    sign_in(page, "viewer", "viewer1234")
    assert page.inner_text("h1") == "Error: 403"
    assert "Signed in as viewer" in page.inner_text("header")
    shoot(page, "refused")
    page.click("text=Sign in as someone else")
    assert path_of(page) == "/arcgis/admin/login"
    sign_in(page)
    assert path_of(page) == "/arcgis/admin/notebooks"
    assert "Signed in as admin" in page.inner_text("header")
    page.click("text=Sign Out")
    assert path_of(page) == "/arcgis/admin/login"


def test_pages_that_carry_a_token_are_not_stored(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin")
    sign_in(page)
    answer = page.request.get(page.url)
    assert answer.headers["cache-control"] == "no-store"
    assert page.request.get(f"{server.origin}/favicon.ico").status == 204
