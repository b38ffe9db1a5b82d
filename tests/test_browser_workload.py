"""Notebooks at work in the admin directory, in headless Chromium, for both flavours.

A real ``nbmock serve`` per flavour on 127.0.0.1; each test resets the site, seeds
notebooks through the control plane, and closes or terminates them by clicking, with
the confirmation step first. The browser's console must stay free of errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

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
    # Post/redirect/get: the browser lands on the list, which says what was done, and
    # reloading it asks for the list again rather than sending the close a second time
    # (which would answer "does not exist").
    for _ in range(3):
        assert urlsplit(page.url).path == f"{urlsplit(server.base).path}/admin/notebooks"
        assert page.inner_text("p.notice") == f"Notebook '{first}' closed."
        assert page.locator("table.listing tr").count() == 2
        assert page.locator(f"table.listing a:text-is('{first}')").count() == 0
        page.reload()


def test_terminate_the_host_closes_every_notebook_in_it(page: Page, server: NbmockProcess):
    host = page.seeded[0]["hostId"]
    if server.flavour == "kubernetes":
        path_of_list, operation = "notebooks/deployments", "terminateDeployment"
    else:
        path_of_list, operation = "system/containers", "terminateContainer"
    path = f"{path_of_list}/{host}"
    page.goto(f"{server.base}/admin/{path}")
    sign_in(page)
    page.click(f"a:text-is('{operation}')")
    assert "Every notebook in it closes" in page.inner_text("main")
    page.click(f"button:text-is('{operation}')")
    kind = "Deployment" if server.flavour == "kubernetes" else "Container"
    for _ in range(2):
        assert urlsplit(page.url).path == f"{urlsplit(server.base).path}/admin/{path_of_list}"
        assert page.inner_text("p.notice") == (
            f"{kind} '{host}' terminated; its notebooks are closed."
        )
        page.reload()
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


def test_reloading_an_executions_result_executes_nothing_more(page: Page, server: NbmockProcess):
    item = requests.post(
        f"{server.origin}/__mock__/workload/items",
        json={"items": [{"owner": "admin", "title": "Nightly"}]},
        timeout=10,
    ).json()["items"][0]["id"]
    page.goto(f"{server.base}/admin/notebooks/executeNotebook")
    sign_in(page)
    page.fill("#executeNotebook-itemId", item)
    page.fill("#executeNotebook-notebookParameters", '{"run": 1}')
    page.click("button:text-is('Execute')")
    notice = page.inner_text("p.notice")
    assert notice.startswith("Job '") and notice.endswith("' submitted.")
    job_page = urlsplit(page.url).path
    assert job_page.endswith("/" + notice.split("'")[1])  # the job's own page
    for _ in range(2):
        page.reload()
        assert urlsplit(page.url).path == job_page
        assert page.inner_text("p.notice") == notice
    executions = requests.get(f"{server.origin}/__mock__/workload/executions", timeout=10).json()
    assert [e["itemId"] for e in executions["executions"]] == [item]


def test_a_refused_execution_keeps_what_was_typed_and_says_why_beside_the_field(
    page: Page, server: NbmockProcess
):
    item = requests.post(
        f"{server.origin}/__mock__/workload/items",
        json={"items": [{"owner": "admin", "title": "Nightly"}]},
        timeout=10,
    ).json()["items"][0]["id"]
    page.goto(f"{server.base}/admin/notebooks/executeNotebook")
    sign_in(page)
    page.fill("#executeNotebook-itemId", item)
    page.fill("#executeNotebook-notebookParameters", "[1, 2]")
    page.click("button:text-is('Execute')")
    assert page.input_value("#executeNotebook-itemId") == item
    assert page.input_value("#executeNotebook-notebookParameters") == "[1, 2]"
    beside = page.inner_text("#executeNotebook-notebookParameters-error")
    assert "notebookParameters" in beside
    assert page.locator("p.notice").count() == 0
    executions = requests.get(f"{server.origin}/__mock__/workload/executions", timeout=10).json()
    assert executions["executions"] == []


def test_every_link_in_an_executions_breadcrumbs_leads_to_a_page(page: Page, server: NbmockProcess):
    """Kubernetes' job lives at admin/jobs/<id>, where no admin/jobs stands: its crumb is a
    label, and each crumb that is a link opens a page, not "Could not find resource"."""
    item = requests.post(
        f"{server.origin}/__mock__/workload/items",
        json={"items": [{"owner": "admin", "title": "Nightly"}]},
        timeout=10,
    ).json()["items"][0]["id"]
    page.goto(f"{server.base}/admin/notebooks/executeNotebook")
    sign_in(page)
    page.fill("#executeNotebook-itemId", item)
    page.click("button:text-is('Execute')")
    job_page = page.url
    labels = page.locator(".crumbs a, .crumbs span:not(:text-is('>'))").all_inner_texts()
    links = page.locator(".crumbs a").all_inner_texts()
    if server.flavour == "kubernetes":
        assert labels[:2] == ["Home", "jobs"] and links == ["Home"]
    else:
        assert labels[:3] == ["Home", "system", "jobs"] and links == ["Home", "system", "jobs"]
    for label in links:
        page.click(f".crumbs a:text-is('{label}')")
        assert not page.inner_text("h1").startswith("Error"), (label, page.url)
        page.goto(job_page)
