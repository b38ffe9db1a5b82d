"""A self-signed certificate for serving HTTPS on a developer's machine.

The official ArcGIS Python client refuses plain HTTP, so ``nbmock serve --tls``
needs a certificate without asking the user to make one. It is generated with
``cryptography`` rather than the ``openssl`` command: no external binary (slim
containers, Windows and macOS's LibreSSL differ in how they take SANs), and
the key never passes through a command line or a config file.

The certificate is its own issuer and names the addresses a client on this
machine uses (``127.0.0.1``, ``::1``, ``localhost``, plus the bound host), so
``requests.get(url, verify=cert_path)`` checks it like any other.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Names every generated certificate covers, whatever the bound host.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365

CERT_FILENAME = "nbmock-cert.pem"
KEY_FILENAME = "nbmock-key.pem"


@dataclass(frozen=True)
class CertificatePair:
    cert_path: Path
    key_path: Path


def self_signed_certificate(directory: str | Path, hosts: tuple[str, ...] = ()) -> CertificatePair:
    """Write a new certificate and key into ``directory``; the key is readable by its owner only.

    ``hosts`` are extra DNS names or IP addresses to cover (wildcard binds such
    as ``0.0.0.0`` are not names a client connects to and are left out).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nbmock (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A little slack backwards for clocks that are slightly behind.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # Both identifiers: strict X.509 checking (Python 3.13's default) wants them.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    pair = CertificatePair(directory / CERT_FILENAME, directory / KEY_FILENAME)
    pair.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(pair.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_bytes)
    return pair


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in (*LOCAL_NAMES, *hosts):
        host = host.strip("[]")
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
            continue
        if not address.is_unspecified:
            names.append(x509.IPAddress(address))
    return names
