"""The standalone Notebook Server's admin directory in headless Chromium.

A real ``nbmock serve --flavour notebook-server`` on 127.0.0.1; each test starts
from a reset site, walks the pages by clicking (register, update, unregister,
restore, validate), and ends by asserting that the browser's console showed no error.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from mockserver.notebookserver.releases import STANDARD_ID
from tests.chromium import FLAGS, Browser, Page, executable, sync_playwright
from tests.conftest import REPO
from tests.nbmock_process import NbmockProcess

IMAGE = "sha256:" + "b7" * 32


@pytest.fixture(scope="module")
def server() -> Iterator[NbmockProcess]:
    served = NbmockProcess(
        "--flavour",
        "notebook-server",
        "--users",
        str(REPO / "examples" / "users.toml"),
        "--seed",
        "7",
    )
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
    """A fresh tab on a freshly reset site; its console must stay free of errors."""
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


def sign_in(page: Page) -> None:
    page.fill("#username", "admin")
    page.fill("#password", "admin1234")
    page.click("button[type=submit]")


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def property_of(page: Page, key: str) -> str:
    return page.inner_text(f"table.properties tr:has(th:text-is('{key}')) td")


def test_sign_in_and_walk_to_the_runtimes(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin")
    sign_in(page)
    assert page.title().startswith("ArcGIS Notebook Server Administrator API")
    page.click("main ul a:text-is('notebooks')")
    page.click("main ul a:text-is('runtimes')")
    assert page.locator("table.listing tr").count() == 3  # heading + Esri's two runtimes
    assert page.locator("a:text-is('register')").count() == 1
    assert page.locator("a:text-is('restore')").count() == 1
    # Esri's page for the standalone server's runtimes, not the Kubernetes one.
    assert page.get_attribute("header a:text-is('API Reference')", "href") == (
        "https://developers.arcgis.com/rest/enterprise-administration/notebook/notebook-runtimes"
    )


def test_register_update_and_unregister_through_their_forms(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes")
    sign_in(page)
    page.click("a:text-is('register')")
    assert page.input_value("#register-maxSwapMemory") == ""
    page.fill("#register-name", "Registered in a browser")
    page.fill("#register-imageId", IMAGE)
    page.select_option("#register-requiresAdvancedPrivileges", "true")
    page.click("button:text-is('Register')")
    # Post/redirect/get: the browser lands on the runtime it registered, and reloading
    # that page registers nothing more.
    for _ in range(2):
        assert page.inner_text("p.notice") == "Runtime 'Registered in a browser' registered."
        assert page.locator("h1").inner_text().startswith("Notebook Runtime")
        page.reload()
    runtime_id = path_of(page).rsplit("/", 1)[-1]
    assert property_of(page, "name") == "Registered in a browser"
    assert len(requests.get(f"{server.origin}/__mock__/state", timeout=10).json()["runtimes"]) == 3
    assert property_of(page, "maxSwapMemory") == "8"  # left empty: double maxMemory

    page.click("a:text-is('update')")
    assert page.input_value("#update-imageId") == IMAGE
    page.fill("#update-maxCpu", "3")
    page.click("button:text-is('Update')")
    assert page.inner_text("p.notice") == "Runtime 'Registered in a browser' updated."
    assert property_of(page, "maxCpu") == "3"

    page.click("a:text-is('unregister')")
    assert "removed for good" in page.inner_text("main")
    page.click("button:text-is('Unregister')")
    assert page.inner_text("p.notice") == "Runtime 'Registered in a browser' unregistered."
    assert path_of(page).endswith("/admin/notebooks/runtimes")
    assert page.locator(f"table.listing a:text-is('{runtime_id}')").count() == 0


def test_an_esri_runtime_offers_update_but_not_unregister(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/{STANDARD_ID}")
    sign_in(page)
    assert page.locator("a:text-is('update')").count() == 1
    assert page.locator("a:text-is('unregister')").count() == 0


def test_a_refused_register_says_why_and_adds_nothing(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/register")
    sign_in(page)
    page.fill("#register-name", "Bad image")
    page.fill("#register-imageId", "latest")
    page.click("button:text-is('Register')")
    assert page.inner_text("h1") == "Error: 400"
    # The form comes back holding what was typed, the message beside the field it names.
    assert "imageId" in page.inner_text("#register-imageId-error")
    assert page.input_value("#register-imageId") == "latest"
    assert page.input_value("#register-name") == "Bad image"
    page.click(".crumbs a:text-is('runtimes')")
    assert page.locator("table.listing a").count() == 2


def test_restore_asks_first_then_removes_registered_runtimes(page: Page, server: NbmockProcess):
    requests.post(
        f"{server.base}/admin/notebooks/runtimes/register",
        data={
            "name": "To be restored away",
            "imageId": IMAGE,
            "requiresAdvancedPrivileges": "false",
            "maxCPU": "1",
            "maxMemory": "2",
            "maxMemoryUnit": "g",
            "f": "json",
            "token": server.token(),
        },
        timeout=10,
    ).raise_for_status()
    page.goto(f"{server.base}/admin/notebooks/runtimes")
    sign_in(page)
    assert page.locator("table.listing a").count() == 3
    page.click("a:text-is('restore')")
    assert "removed for good" in page.inner_text("main")
    page.click("button:text-is('Restore')")
    assert page.inner_text("p.notice").startswith("Esri's runtimes restored")
    assert path_of(page).endswith("/admin/notebooks/runtimes")
    assert page.locator("table.listing a").count() == 2


def test_validate_runtimes_from_its_page(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin/notebooks/runtimes/validateRuntimes")
    sign_in(page)
    page.click("button:text-is('Validate')")
    assert "success" in page.inner_text("main")
