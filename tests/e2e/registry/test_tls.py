"""TLS: a real registry serving a certificate from a CA made here.

The scheme choice rules without a network are in tests/unit/registry/test_tls.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mplat.registry.errors import RegistryError
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy
from mplat.registry.secrets import Credential
from mplat.registry.session import Session
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.seed import seed_image

SECRET = "Pw-mplat-SECRET-7f3a9c"
ALICE = Credential("alice", SECRET, source="test config")
T = TypeVar("T")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(obj: x509.Certificate) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def make_ca(folder: Path, name: str) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.crt"
    path.write_bytes(_pem(cert))
    return path, cert, key


def make_leaf(
    folder: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("mplat-test-registry"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "registry.crt", folder / "registry.key"
    cert_path.write_bytes(_pem(cert))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, Path]]:
    """An htpasswd-protected registry over HTTPS, and the CA file that vouches for it."""
    if not REGISTRY_BINARY.exists():
        pytest.fail(f"{REGISTRY_BINARY} is needed for these tests", pytrace=False)
    folder = tmp_path_factory.mktemp("tls")
    ca_path, ca, ca_key = make_ca(folder, "mplat-test-ca")
    server = RegistryServer(
        root=folder / "registry", tls=make_leaf(folder, ca, ca_key), htpasswd={"alice": SECRET}
    )
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start docker-registry: {exc}", pytrace=False)
    seed_image(
        server.url,
        "p/img",
        "v1",
        os="linux",
        architecture="amd64",
        auth=("alice", SECRET),
        verify=str(ca_path),
    )
    yield server, ca_path
    server.stop()


@pytest.fixture(autouse=True)
def _debug_log_has_no_secrets(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    yield
    assert SECRET not in "\n".join(r.getMessage() for r in caplog.get_records("call"))


def run_head(server: RegistryServer, insecure: bool, ca_file: str | None) -> tuple[Any, str]:
    pool = RegistryPool(
        settings_for=lambda registry: ConnectionSettings(insecure, ca_file),
        credential_for=lambda registry, repository: ALICE,
        retry=RetryPolicy(attempts=2, base_delay=0.01),
        timeout=10.0,
    )

    async def main() -> tuple[Any, str]:
        client = pool.client(server.address)
        try:
            info = await client.head_manifest("p/img", "v1")
            return info, await client.session.base_url()
        finally:
            await pool.aclose()

    return asyncio.run(main())


def test_untrusted_certificate_names_ca_file_and_insecure(
    tls_registry: tuple[RegistryServer, Path],
) -> None:
    server, _ = tls_registry
    with pytest.raises(RegistryError) as info:
        run_head(server, insecure=False, ca_file=None)
    text = str(info.value)
    assert text.startswith(f"{server.address}: TLS certificate is not trusted")
    assert f'registries."{server.address}".ca_file' in text
    assert f'registries."{server.address}".insecure: true' in text
    assert SECRET not in text


def test_a_different_ca_is_not_trusted_either(
    tls_registry: tuple[RegistryServer, Path], tmp_path: Path
) -> None:
    other, _, _ = make_ca(tmp_path, "someone-else")
    with pytest.raises(RegistryError, match="TLS certificate is not trusted"):
        run_head(tls_registry[0], insecure=False, ca_file=str(other))


def test_ca_file_makes_the_registry_trusted(tls_registry: tuple[RegistryServer, Path]) -> None:
    server, ca_path = tls_registry
    info, base = run_head(server, insecure=False, ca_file=str(ca_path))
    assert info is not None and info.digest.startswith("sha256:")
    assert base == f"https://{server.address}"


def test_insecure_accepts_the_certificate_and_stays_on_https(
    tls_registry: tuple[RegistryServer, Path],
) -> None:
    server, _ = tls_registry
    info, base = run_head(server, insecure=True, ca_file=None)
    assert info is not None
    assert base == f"https://{server.address}"


def test_plain_http_loopback_registry_falls_back_to_http(registry: RegistryServer) -> None:
    async def main() -> str:
        t = Session(registry.address, api_host=registry.address)
        try:
            return await t.base_url()
        finally:
            await t.aclose()

    assert asyncio.run(main()) == f"http://{registry.address}"
