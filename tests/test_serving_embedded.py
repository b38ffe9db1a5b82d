"""``mockserver.testing.running``: the emulator on a free port in a background thread."""

from __future__ import annotations

import pytest
import requests

from mockserver.testing import running
from tests.conftest import SEED_COPY, STANDARD_ID


def test_running_serves_on_a_free_port_and_stops_after():
    with running(seed=9) as emulator:
        token = emulator.token()
        answer = requests.post(
            f"{emulator.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "f": "json", "token": token},
            timeout=30,
        ).json()
        assert answer["status"] == "success"
        assert [entry["operation"] for entry in emulator.journal()] == ["generateToken", "copy"]
        url = emulator.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/sharing/rest/info?f=json", timeout=5)


def test_running_with_tls_verifies_against_its_certificate():
    with running(tls=True) as emulator:
        assert emulator.url.startswith("https://127.0.0.1:")
        answer = requests.get(
            f"{emulator.portal_url}/info?f=json", verify=emulator.ca_file, timeout=30
        ).json()
        assert answer["authInfo"]["tokenServicesUrl"].startswith("https://")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{emulator.portal_url}/info?f=json", timeout=30)


def test_running_drop_fault_closes_the_socket():
    with running() as emulator:
        emulator.fault("info", drop=True, times=1)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{emulator.portal_url}/info?f=json", timeout=30)
        assert requests.get(f"{emulator.portal_url}/info?f=json", timeout=30).ok
