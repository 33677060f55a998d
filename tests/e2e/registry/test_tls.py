"""TLS: a real registry serving a certificate from a CA made here, and the scheme choice rules
(HTTPS always; plain HTTP only for loopback or ``insecure`` hosts that do not speak TLS)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mplat.registry.credentials import Credential
from mplat.registry.errors import RegistryError
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy
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


# --- scheme choice, without a network -----------------------------------------------------------


def _refuse_tls(cert_error: bool) -> tuple[list[str], httpx.MockTransport]:
    """A transport that fails every HTTPS handshake (as a bad certificate, or as no TLS at all)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.scheme == "https":
            cause: Exception = (
                ssl.SSLCertVerificationError(1, "certificate verify failed")
                if cert_error
                else ssl.SSLError(1, "wrong version number")
            )
            raise httpx.ConnectError("handshake failed", request=request) from cause
        return httpx.Response(200)

    return seen, httpx.MockTransport(handler)


def _scheme(
    host: str,
    *,
    insecure: bool,
    cert_error: bool,
    then: Callable[[Session], Coroutine[Any, Any, T]],
) -> tuple[list[str], T | RegistryError]:
    seen, mock = _refuse_tls(cert_error)

    async def main() -> T | RegistryError:
        t = Session(
            host,
            api_host=host,
            insecure=insecure,
            transport=mock,
            retry=RetryPolicy(attempts=2, base_delay=0.01),
        )
        try:
            return await then(t)
        except RegistryError as exc:
            return exc
        finally:
            await t.aclose()

    return seen, asyncio.run(main())


async def _get(t: Session) -> int:
    return (await t.request("GET", "/v2/", repository=None)).status_code


@pytest.mark.parametrize(
    "host",
    [
        "registry.example.test",
        "registry.example.test:5000",
        "localhost.example.test",
        "127.0.0.1.nip.io:5000",
        "10.0.0.7:5000",
        "[fe80::1]:5000",
    ],
)
@pytest.mark.parametrize("cert_error", [True, False])
def test_non_loopback_hosts_never_fall_back_to_plain_http(host: str, cert_error: bool) -> None:
    seen, result = _scheme(host, insecure=False, cert_error=cert_error, then=_get)
    assert isinstance(result, RegistryError)
    assert seen and all(url.startswith(f"https://{host}/") for url in seen)
    if cert_error:
        assert "TLS certificate is not trusted" in str(result)
    else:
        assert len(seen) == 2  # Retried, over HTTPS again, then a clean error.


def test_loopback_falls_back_only_when_tls_is_not_spoken() -> None:
    seen, result = _scheme("127.0.0.1:5000", insecure=False, cert_error=False, then=_get)
    assert result == 200
    assert seen == ["https://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"]

    seen, result = _scheme("localhost:5000", insecure=False, cert_error=True, then=_get)
    assert isinstance(result, RegistryError) and "ca_file" in str(result)
    assert seen == ["https://localhost:5000/v2/"]


def test_insecure_remote_host_may_use_plain_http() -> None:
    seen, result = _scheme("registry.example.test", insecure=True, cert_error=False, then=_get)
    assert result == 200
    assert seen[-1] == "http://registry.example.test/v2/"


def test_client_for_remote_host_uses_https_without_probing() -> None:
    async def base(t: Session) -> str:
        return await t.base_url()

    seen, result = _scheme("registry.example.test", insecure=False, cert_error=True, then=base)
    assert result == "https://registry.example.test"
    assert seen == []
