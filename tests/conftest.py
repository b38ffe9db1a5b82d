"""Shared fixtures: an in-process emulator, tokens, and a served one over a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.exchanges import seed_copy_form
from mockserver import create_app
from mockserver.core import deployment
from mockserver.core.clock import Clock
from tests.deadline import pytest_runtest_protocol  # noqa: F401 - every test's deadline
from tests.nbmock_process import NbmockProcess, free_port  # noqa: F401 - free_port for tests

STANDARD_ID = "d47350a5-e4f0-4b63-ae55-c0a5773a96bb"
REPO = Path(__file__).resolve().parent.parent
#: What the tests read that the project does not generate (tests/data/README.md says whence).
DATA = REPO / "tests" / "data"


class ManualClock(Clock):
    """A clock that stays on the millisecond a test puts it on."""

    def __init__(self, epoch_ms: int) -> None:
        super().__init__()
        self.epoch_ms = epoch_ms

    def now(self) -> float:
        return self.epoch_ms / 1000


class Api:
    """A Flask test client that speaks as an ArcGIS user would."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.clock: Clock = deployment.of(app).clock

    def token(self, username: str = "admin", password: str = "admin1234", **extra) -> str:
        answer = self.client.post(
            "/arcgis/sharing/rest/generateToken",
            data={"username": username, "password": password, "f": "json", **extra},
        ).get_json(force=True)
        assert "token" in answer, answer
        return answer["token"]

    def get(self, path: str, token: str | None = None, **params):
        params.setdefault("f", "json")
        if token:
            params["token"] = token
        response = self.client.get(f"/arcgis/admin/{path}", query_string=params)
        assert response.status_code == 200, response.status_code
        return response.get_json(force=True)

    def post(self, path: str, token: str | None = None, **form):
        form.setdefault("f", "json")
        if token:
            form["token"] = token
        response = self.client.post(f"/arcgis/admin/{path}", data=form)
        assert response.status_code == 200, response.status_code
        return response.get_json(force=True)

    def runtimes(self, token: str) -> list[dict]:
        return self.get("notebooks/runtimes", token)["runtimes"]


#: The seed page's example copy parameters.
SEED_COPY = seed_copy_form()


@pytest.fixture
def app():
    return create_app(clock=Clock())


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def token(api) -> str:
    return api.token()


@pytest.fixture(scope="session")
def served() -> Iterator[NbmockProcess]:
    """One ``nbmock serve`` on a free port for the session, as a user starts it."""
    server = NbmockProcess()
    yield server
    server.stop()
