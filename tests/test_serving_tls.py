"""``nbmock serve --tls`` and ``--cert/--key``: HTTPS that clients verify, not just accept."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography import x509

from mockserver.serving.tls import self_signed_certificate
from tests.nbmock_process import NbmockProcess


@pytest.fixture(scope="module")
def tls_server():
    server = NbmockProcess("--tls")
    yield server
    server.stop()


def test_generated_certificate_verifies_with_requests(tls_server):
    cert = tls_server.certificate_path()
    assert cert, tls_server.output
    answer = requests.post(
        f"{tls_server.base}/sharing/rest/generateToken",
        data={"username": "admin", "password": "admin1234", "f": "json"},
        verify=cert,
        timeout=10,
    ).json()
    assert answer["ssl"] is True
    runtimes = requests.get(
        f"{tls_server.base}/admin/notebooks/runtimes",
        params={"f": "json", "token": answer["token"]},
        verify=cert,
        timeout=10,
    ).json()
    assert runtimes["runtimes"], runtimes


def test_generated_certificate_names_localhost_too(tls_server):
    url = f"https://localhost:{tls_server.port}/arcgis/sharing/rest/info?f=json"
    answer = requests.get(url, verify=tls_server.certificate_path(), timeout=10).json()
    assert answer["authInfo"]["tokenServicesUrl"].startswith("https://localhost:")


def test_generated_certificate_is_not_trusted_without_being_given(tls_server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_server.base}/sharing/rest/info?f=json", timeout=10)


def test_plain_http_is_not_answered_on_a_tls_port(tls_server):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_server.port}/arcgis/sharing/rest/info", timeout=10)


def test_generated_certificate_is_removed_when_the_server_stops():
    server = NbmockProcess("--tls")
    cert = server.certificate_path()
    assert cert and Path(cert).exists()
    server.stop()
    assert not Path(cert).exists()


def test_given_cert_and_key_are_served(tmp_path):
    pair = self_signed_certificate(tmp_path)
    server = NbmockProcess(
        "--cert", str(pair.cert_path), "--key", str(pair.key_path), verify=str(pair.cert_path)
    )
    try:
        answer = requests.get(
            f"{server.base}/sharing/rest/info?f=json", verify=str(pair.cert_path), timeout=10
        ).json()
        assert answer["authInfo"]["isTokenBasedSecurity"] is True
        assert "Certificate:" not in server.output
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cert", "cert.pem"], "--cert and --key go together"),
        (["--cert", "missing.pem", "--key", "missing-key.pem"], "no such file"),
    ],
)
def test_incomplete_certificate_options_stop_before_serving(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "1", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_certificate_covers_loopback_and_the_bound_host_but_no_wildcard(tmp_path):
    pair = self_signed_certificate(tmp_path, hosts=("0.0.0.0", "nbmock.internal", "10.1.2.3"))
    names = (
        x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "nbmock.internal"}
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.1.2.3"),
    }
    assert pair.key_path.stat().st_mode & 0o077 == 0
