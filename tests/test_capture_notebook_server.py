"""Capture, serve and compare the standalone ArcGIS Notebook Server flavour, through real servers.

The foreign deployment is ``nbmock serve --profile tests/data/foreign-notebook-server.json``:
a Notebook Server with other Esri runtimes (ids, names, limits, images, manifests),
another release and build, another portal and other refusal wording than every default
of the emulator's standalone flavour. ``nbmock serve`` takes the flavour from the profile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.nbmock_process import NbmockProcess

FOREIGN = Path(__file__).parent / "data" / "foreign-notebook-server.json"
FOREIGN_DATA = json.loads(FOREIGN.read_text())
ENV = {"ARCGIS_USERNAME": "admin", "ARCGIS_PASSWORD": "admin1234", "PYTHONUNBUFFERED": "1"}


def nbmock(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **ENV},
    )  # fmt: skip


@pytest.fixture(scope="module")
def foreign():
    server = NbmockProcess("--profile", str(FOREIGN), "--workers", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def captured(foreign, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("capture") / "notebook-server.json"
    done = nbmock(
        "capture", "--target", foreign.base, "--out", str(out), "--allow-writes", "--pause", "0"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_capture_records_the_notebook_servers_release_runtimes_and_wording(captured, foreign):
    profile = json.loads(captured.read_text())
    assert profile["flavour"] == "notebook-server"
    release = profile["release"]
    assert (release["currentVersion"], release["enterpriseBuild"]) == (11.1, "41288")
    assert release["currentRuntimeVersion"] == "8.0"
    system = profile["runtimes"]["system"]
    assert [e["runtime"]["id"] for e in system] == [
        e["runtime"]["id"] for e in FOREIGN_DATA["runtimes"]["system"]
    ]
    assert [e["manifest"] for e in system] == [
        e["manifest"] for e in FOREIGN_DATA["runtimes"]["system"]
    ]
    assert profile["refusals"]["unknown_runtime"]["messages"] == [
        "Runtime with id '{id}' was not found."
    ]
    # No copies on this flavour: its refused writes are listed as not captured, not guessed.
    assert "bad_unit" not in profile["refusals"]
    assert "copies, which this flavour lacks" in profile["captured"]["notCaptured"]
    # Writes allowed, yet nothing was made: the site holds what it held.
    token = foreign.token("admin", "admin1234")
    listed = requests.get(
        f"{foreign.base}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=10
    ).json()["runtimes"]
    assert [r["id"] for r in listed] == [e["runtime"]["id"] for e in system]


def test_served_capture_against_the_notebook_server_shows_no_difference(
    captured, foreign, tmp_path
):
    server = NbmockProcess("--profile", str(captured), "--workers", "1")
    try:
        health = requests.get(f"{server.origin}/__mock__/health", timeout=10).json()
        done = nbmock("verify", "--target", server.base, "--compare", foreign.base,
                      "--pause", "0", "--report", str(tmp_path))  # fmt: skip
    finally:
        server.stop()
    assert health["profile"]["name"] == json.loads(captured.read_text())["name"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 difference(s) between" in done.stdout


def test_plain_notebook_server_against_the_foreign_one_shows_the_differences(foreign):
    plain = NbmockProcess("--flavour", "notebook-server", "--workers", "1")
    try:
        done = nbmock("verify", "--target", plain.base, "--compare", foreign.base, "--pause", "0")
    finally:
        plain.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    for seen in (
        "'Contoso Notebook Python 3 Lite'",  # runtime names
        "'c0ffee00-2222-4bbb-8ccc-000000000001'",  # runtime ids
        "body.maxCpu",  # limits
        "body.libraries",  # manifests
        "'41288'",  # build
        "Runtime with id '{made-up}' was not found.",  # refusal wording
        "'Contoso GIS'",  # portal
    ):
        assert seen in done.stdout, seen


def test_a_profile_of_the_other_flavour_is_refused_naming_both(tmp_path):
    done = nbmock("serve", "--flavour", "kubernetes", "--profile", str(FOREIGN), "--port", "0")
    assert done.returncode == 2
    assert "captured from a notebook-server deployment, not kubernetes" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# --- the profile's flavour is the flavour served, wherever a profile is taken ---------

FOREIGN_IDS = [entry["runtime"]["id"] for entry in FOREIGN_DATA["runtimes"]["system"]]


def listed_ids(emulator) -> list[str]:
    return [
        runtime["id"]
        for runtime in emulator.session.get(
            f"{emulator.admin_url}/notebooks/runtimes",
            params={"f": "json", "token": emulator.token()},
            timeout=30,
        ).json()["runtimes"]
    ]


def test_running_serves_a_notebook_server_profile_as_that_flavour():
    from mockserver.testing import running

    with running(profile=str(FOREIGN)) as emulator:
        assert listed_ids(emulator) == FOREIGN_IDS
        root = emulator.session.get(
            f"{emulator.admin_url}/",
            params={"f": "json", "token": emulator.token()},
            timeout=30,
        )
        assert root.json()["version"] == "11.1"


@pytest.mark.arcgis_mock(profile=str(FOREIGN))
def test_pytest_marker_serves_a_notebook_server_profile(arcgis_mock):
    assert listed_ids(arcgis_mock) == FOREIGN_IDS
    assert arcgis_mock.control("GET", "health")["profile"]["name"] == "foreign-notebook-server"


def test_sandbox_of_a_kubernetes_server_takes_a_notebook_server_profile():
    from mockserver.runtimes.releases import STANDARD_ID
    from mockserver.testing import running

    with running() as server:
        with running(url=server.origin, profile=str(FOREIGN)) as sandbox:
            assert listed_ids(sandbox) == FOREIGN_IDS
            assert listed_ids(server)[0] == STANDARD_ID
        refused = server.session.post(
            f"{server.control_url}/sandboxes",
            json={"flavour": "kubernetes", "profile": FOREIGN_DATA},
            timeout=30,
        )
        assert refused.status_code == 400
        assert "captured from a notebook-server deployment" in refused.json()["messages"][0]
        # Bad input, whatever its type, is a clear refusal, never a 500.
        for flavour in (["kubernetes"], {"a": 1}, 7, None):
            answer = server.session.post(
                f"{server.control_url}/sandboxes", json={"flavour": flavour}, timeout=30
            )
            assert answer.status_code == 400, (flavour, answer.text)


def test_official_client_lists_the_captured_notebook_server_runtimes(captured):
    from mockserver import create_app
    from mockserver.core.clock import Clock
    from tests.arcgis_client import GIS, FlaskTransport

    transport = FlaskTransport(create_app(profile=str(captured), clock=Clock()))
    gis = GIS("https://nbmock.test/arcgis", "admin", "admin1234", adapter={"https://": transport})
    manager = gis.notebook_server[0].notebooks.runtime_manager
    assert manager.current_runtime_version == "8.0"
    seen = {runtime.properties["name"]: runtime for runtime in manager.runtimes}
    for entry in json.loads(captured.read_text())["runtimes"]["system"]:
        runtime = seen[entry["runtime"]["name"]]
        assert runtime.properties["id"] == entry["runtime"]["id"]
        assert runtime.properties["maxCpu"] == entry["runtime"]["maxCpu"]
        assert runtime.manifest == entry["manifest"]["libraries"]
