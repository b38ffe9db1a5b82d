"""pytest plugin: the ``arcgis_mock`` fixture, an in-process emulator reset for each test.

With ``NBMOCK_URL`` set (the address of a shared ``nbmock serve``), each test
gets a sandbox of its own on that server instead, removed after the test: no
server is started, and parallel workers (pytest-xdist) never share one.

Registered through the ``pytest11`` entry point, so installing the package is
enough. One app serves the whole session and is reset before each test (moto's
reset): fast, and no test sees another's runtimes, journal, faults or clock.
A test that needs other options says so with a marker and gets its own app::

    @pytest.mark.arcgis_mock(release_name="11.5", seed=7)
    def test_old_release(arcgis_mock): ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mockserver.core import deployment
from mockserver.testing import Emulator, InProcessEmulator, in_process, sandbox


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "arcgis_mock(**options): create_app options for this test's arcgis_mock"
    )


@pytest.fixture(scope="session")
def _arcgis_mock_shared() -> InProcessEmulator:
    return in_process()


@pytest.fixture
def arcgis_mock(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The emulator at ``arcgis_mock.url`` (reach it with ``arcgis_mock.session``)."""
    marker = request.node.get_closest_marker("arcgis_mock")
    shared_url = os.environ.get("NBMOCK_URL")
    if shared_url:
        options = {} if marker is None else marker.kwargs
        with sandbox(shared_url, **options) as emulator:
            yield emulator
        return
    _arcgis_mock_shared: InProcessEmulator = request.getfixturevalue("_arcgis_mock_shared")
    if marker is not None:
        emulator = in_process(**marker.kwargs)
        yield emulator
        deployment.of(emulator.app).close()
        return
    # An explicit null seed: a seed one test set must not make the next one's ids.
    _arcgis_mock_shared.control("POST", "reset", {"seed": None})
    yield _arcgis_mock_shared
