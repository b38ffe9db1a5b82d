"""Through a real ``nbmock serve``: what issue 24 got past the server, refused now.

Each finding came through the served emulator, so each is checked there as
well as in process (the generators live in bench/reliability).
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import SEED_COPY, STANDARD_ID
from tests.nbmock_process import NbmockProcess

RUNTIMES = "admin/notebooks/runtimes"


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess("--workers", "2", ready_path="/__mock__/health")
    yield process
    process.stop()


@pytest.fixture
def fresh(server):
    requests.post(f"{server.origin}/__mock__/reset", timeout=30).raise_for_status()
    return server


@pytest.fixture
def token(fresh) -> str:
    return requests.post(
        f"{fresh.base}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
        timeout=30,
    ).json()["token"]


def test_a_manifest_file_with_a_lone_surrogate_is_refused_and_everything_still_answers(
    fresh, token
):
    """Issue 24: it was accepted, then …/manifest?f=json answered 500 and the export
    no longer imported back."""
    copied = requests.post(
        f"{fresh.base}/{RUNTIMES}/{STANDARD_ID}/copy",
        data={**SEED_COPY, "f": "json", "token": token},
        timeout=30,
    ).json()["notebookRuntime"]
    content = b'{"libraries": [{"name": "\\ud800x", "version": "1.0"}]}'
    answer = requests.post(
        f"{fresh.base}/{RUNTIMES}/{copied['id']}/update",
        data={"maxCpu": "2", "maxMemory": "6", "maxMemoryUnit": "g", "f": "json", "token": token},
        files={"manifestFile": ("manifest.json", content, "application/json")},
        timeout=30,
    ).json()
    assert answer["code"] == 400
    assert "not valid Unicode" in answer["messages"][0] and "manifestFile" in answer["messages"][0]
    for fmt in ("json", "pjson", "html"):
        shown = requests.get(
            f"{fresh.base}/{RUNTIMES}/{copied['id']}/manifest",
            params={"f": fmt, "token": token},
            timeout=30,
        )
        assert shown.status_code == 200
    exported = requests.get(f"{fresh.origin}/__mock__/state", timeout=30).json()
    back = requests.post(
        f"{fresh.origin}/__mock__/state",
        data=json.dumps(exported),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert back.status_code == 200
