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
