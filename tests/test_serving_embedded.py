"""``mockserver.testing.running``: the emulator on a free port in a background thread."""

from __future__ import annotations

import pytest
import requests

from mockserver.serving.tls import self_signed_certificate
from mockserver.testing import in_process, running, sandbox
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


# --- CA bundles from the environment ------------------------------------------------------
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's ``verify`` (CI images
# often set them). Every variant of them, with a bundle that does not hold the emulator's
# certificate, against every client object the helpers hand out.

CA_ENVIRONMENTS = {
    "REQUESTS_CA_BUNDLE": ("REQUESTS_CA_BUNDLE",),
    "CURL_CA_BUNDLE": ("CURL_CA_BUNDLE",),
    "both": ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
}


@pytest.fixture(params=sorted(CA_ENVIRONMENTS))
def foreign_ca_bundle(request, tmp_path, monkeypatch) -> str:
    """A CA bundle (another self-signed certificate) set in the environment as requests reads it."""
    bundle = str(self_signed_certificate(tmp_path / "foreign").cert_path)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name in CA_ENVIRONMENTS[request.param]:
        monkeypatch.setenv(name, bundle)
    return bundle


def exercise_every_helper(emulator) -> None:
    """What the README's embedding example does, through the emulator's own session."""
    token = emulator.token()
    listed = emulator.session.get(
        f"{emulator.admin_url}/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
    ).json()
    assert [runtime["id"] for runtime in listed["runtimes"]].count(STANDARD_ID) == 1
    emulator.fault("copy", error={"code": 500, "message": "Injected"}, times=1)
    assert emulator.journal("copy") == []
    emulator.clear_faults()
    emulator.advance_clock(1)
    emulator.reset()


def test_running_with_tls_trusts_its_certificate_whatever_the_ca_environment(foreign_ca_bundle):
    with running(tls=True, seed=7) as emulator:
        exercise_every_helper(emulator)
        # The environment still holds for a request that asks for it: the bundle is foreign.
        with pytest.raises(requests.exceptions.SSLError):
            emulator.session.get(f"{emulator.portal_url}/info?f=json", verify=True, timeout=30)


def test_a_sandbox_session_keeps_the_ca_it_was_given_whatever_the_ca_environment(
    foreign_ca_bundle,
):
    with running(tls=True) as server, sandbox(server.url, verify=server.ca_file) as emulator:
        exercise_every_helper(emulator)


def test_in_process_sessions_ignore_the_ca_environment(foreign_ca_bundle):
    emulator = in_process(seed=7)
    exercise_every_helper(emulator)
    theirs = requests.Session()
    theirs.mount("https://nbmock.invalid/", emulator.adapter)
    assert theirs.get(f"{emulator.portal_url}/info?f=json", timeout=30).ok
