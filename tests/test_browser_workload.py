"""Notebooks at work in the admin directory, in headless Chromium, for both flavours.

A real ``nbmock serve`` per flavour on 127.0.0.1; each test resets the site, seeds
notebooks through the control plane, and closes or terminates them by clicking, with
the confirmation step first. The browser's console must stay free of errors.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.chromium import FLAGS, Browser, Page, executable, sync_playwright
from tests.conftest import REPO
from tests.nbmock_process import NbmockProcess

FLAVOURS = ("kubernetes", "notebook-server")


@pytest.fixture(scope="module", params=FLAVOURS)
def server(request) -> Iterator[NbmockProcess]:
    served = NbmockProcess(
        "--flavour", request.param, "--users", str(REPO / "examples" / "users.toml")
    )
    served.flavour = request.param
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
    requests.post(f"{server.origin}/__mock__/reset", json={}, timeout=10).raise_for_status()
    seeded = requests.post(
        f"{server.origin}/__mock__/workload/notebooks",
        json={"notebooks": [{"username": "alice", "count": 2, "idleSeconds": 600}]},
        timeout=10,
    )
    seeded.raise_for_status()
    context = browser.new_context(viewport={"width": 1000, "height": 360})
    tab = context.new_page()
    errors: list[str] = []
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(15_000)
    tab.seeded = seeded.json()["notebooks"]
    yield tab
    context.close()
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page: Page) -> None:
    page.fill("#username", "admin")
    page.fill("#password", "admin1234")
    page.click("button[type=submit]")


def test_close_a_notebook_from_its_page_after_confirming(page: Page, server: NbmockProcess):
    page.goto(f"{server.base}/admin")
    sign_in(page)
    page.click("main ul a:text-is('notebooks')")
    assert page.locator("table.listing tr").count() == 3  # heading + alice's two
    first = page.seeded[0]["id"]
    page.click(f"table.listing a:text-is('{first}')")
    page.click("a:text-is('closeNotebook')")
    assert "Unsaved work in it is lost" in page.inner_text("main")
    page.click("button:text-is('closeNotebook')")
    assert "success" in page.inner_text("table.properties")
    page.click("main a:text-is('notebooks')")
    assert page.locator("table.listing tr").count() == 2
    assert page.locator(f"table.listing a:text-is('{first}')").count() == 0


def test_terminate_the_host_closes_every_notebook_in_it(page: Page, server: NbmockProcess):
    host = page.seeded[0]["hostId"]
    if server.flavour == "kubernetes":
        path, operation = f"notebooks/deployments/{host}", "terminateDeployment"
    else:
        path, operation = f"system/containers/{host}", "terminateContainer"
    page.goto(f"{server.base}/admin/{path}")
    sign_in(page)
    page.click(f"a:text-is('{operation}')")
    assert "Every notebook in it closes" in page.inner_text("main")
    page.click(f"button:text-is('{operation}')")
    assert "success" in page.inner_text("table.properties")
    listing = requests.get(
        f"{server.base}/admin/notebooks",
        params={"f": "json", "token": _token(server)},
        timeout=10,
    ).json()
    assert listing["notebooks"] == []


def _token(server: NbmockProcess) -> str:
    return requests.post(
        f"{server.base}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
        timeout=10,
    ).json()["token"]
