"""Shared fixtures: an in-process emulator, tokens, and a served one over a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockserver import create_app
from mockserver.clock import Clock

STANDARD_ID = "d47350a5-e4f0-4b63-ae55-c0a5773a96bb"
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


class Api:
    """A Flask test client that speaks as an ArcGIS user would."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.clock: Clock = app.extensions["nbmock"].clock

    def token(self, username: str = "admin", password: str = "admin1234", **extra) -> str:
        answer = self.client.post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": username, "password": password, "f": "json", **extra},
        ).get_json()
        assert "token" in answer, answer
        return answer["token"]

    def get(self, path: str, token: str | None = None, **params):
        params.setdefault("f", "json")
        if token:
            params["token"] = token
        response = self.client.get(f"/arcgis/admin/{path}", query_string=params)
        assert response.status_code == 200, response.status_code
        return response.get_json()

    def post(self, path: str, token: str | None = None, **form):
        form.setdefault("f", "json")
        if token:
            form["token"] = token
        response = self.client.post(f"/arcgis/admin/{path}", data=form)
        assert response.status_code == 200, response.status_code
        return response.get_json()

    def runtimes(self, token: str) -> list[dict]:
        return self.get("notebooks/runtimes", token)["runtimes"]


SEED_COPY = {
    "name": "ArcGIS Notebook Python 3 Standard with Increased Limit",
    "version": "14.0",
    "minCpu": "1.0",
    "maxCpu": "4.0",
    "minMemory": "3.0",
    "minMemoryUnit": "g",
    "maxMemory": "14.0",
    "maxMemoryUnit": "g",
    "maxSwapMemory": "0.0",
    "maxSwapMemoryUnit": "g",
    "sharedMemorySize": "1.0",
    "sharedMemorySizeUnit": "g",
    "customResources": "{}",
    "podPlacementPolicy": "{}",
}


@pytest.fixture
def app():
    return create_app(clock=Clock())


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def token(api) -> str:
    return api.token()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """An ``nbmock serve`` process on 127.0.0.1, as a user starts it."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/arcgis"
        # Output goes to a file, not a pipe: an unread pipe fills up after ~64 KB
        # of access log and then blocks the workers.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port), *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nbmock serve exited: {self.output()}")
            try:
                requests.get(f"{self.base}/sharing/rest/info?f=json", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("nbmock serve did not answer within 30 s")

    def token(self, username: str = "admin", password: str = "admin1234") -> str:
        answer = requests.post(
            f"{self.base}/sharing/rest/generateToken",
            data={"username": username, "password": password, "f": "json"},
            timeout=10,
        ).json()
        return answer["token"]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        """Stop the server (SIGTERM, as a user's Ctrl-C would) and return what it printed."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        output = self.output()
        self.log.close()
        return output


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.stop()
