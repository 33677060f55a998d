"""Which HTTP the session speaks to a real registry: with ``http2`` set, HTTP/2 over TLS
(distribution 2.8 negotiates it by ALPN); the lean HTTP/1.1 transport over plain HTTP, and
over TLS by default.

The routing rules, and the fallback when a TLS server does not choose h2, are in
tests/unit/registry/test_transports.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy
from mplat.registry.secrets import Credential
from mplat.registry.session import Session
from mplat.registry.transports import ChoosingTransport
from mplat.values.mediatypes import MANIFEST_ACCEPT
from tests.support.registry import RegistryServer, write_self_signed_cert
from tests.support.seed import seed_image

pytestmark = pytest.mark.timeout(60)

SECRET = "Pw-mplat-SECRET-7f3a9c"
ALICE = Credential("alice", SECRET, source="test config")


@pytest.fixture
def tls_registry(
    make_registry: Callable[..., RegistryServer], tmp_path: Path
) -> tuple[RegistryServer, Path]:
    """A registry over HTTPS with basic auth, one image in it, and the CA file to trust."""
    cert, key = write_self_signed_cert(tmp_path / "tls")
    server = make_registry(tls=(cert, key), htpasswd={"alice": SECRET})
    seed_image(
        server.url,
        "p/img",
        "v1",
        os="linux",
        architecture="amd64",
        auth=("alice", SECRET),
        verify=str(cert),
    )
    return server, cert


@pytest.fixture(autouse=True)
def _debug_log_has_no_secrets(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    yield
    assert SECRET not in "\n".join(r.getMessage() for r in caplog.get_records("call"))


def _pool(ca_file: str | None, http2: bool = True) -> RegistryPool:
    return RegistryPool(
        settings_for=lambda registry: ConnectionSettings(ca_file=ca_file, http2=http2),
        credential_for=lambda registry, repository: ALICE,
        retry=RetryPolicy(attempts=2, base_delay=0.01),
        timeout=10.0,
    )


def test_tls_registry_is_spoken_to_over_http2(tls_registry: tuple[RegistryServer, Path]) -> None:
    server, cert = tls_registry
    pool = _pool(str(cert))

    async def main() -> None:
        client = pool.client(server.address)
        try:
            session = client.session
            # Auth (a 401 answered with basic credentials), HEAD and a bounded GET, all on h2.
            info = await client.head_manifest("p/img", "v1")
            assert info is not None and info.digest.startswith("sha256:")
            fetched = await client.get_manifest("p/img", info.digest)
            assert fetched.digest == info.digest
            resp = await session.request(
                "GET", "/v2/p/img/tags/list", repository="p/img", headers={}
            )
            assert resp.status_code == 200
            assert resp.http_version == "HTTP/2"
            assert resp.json()["tags"] == ["v1"]
            assert await session.base_url() == f"https://{server.address}"
            # Many requests at once share the connection: all answered, all over HTTP/2.
            many = await asyncio.gather(
                *(
                    session.request(
                        "HEAD",
                        "/v2/p/img/manifests/v1",
                        repository="p/img",
                        headers={"Accept": MANIFEST_ACCEPT},
                    )
                    for _ in range(40)
                )
            )
            assert {r.status_code for r in many} == {200}
            assert {r.http_version for r in many} == {"HTTP/2"}
        finally:
            await pool.aclose()

    asyncio.run(main())
    assert pool.notices.requests["HEAD"] == 42  # The first one earned a 401 challenge.


def test_tls_registry_without_the_setting_is_spoken_to_over_lean_http1(
    tls_registry: tuple[RegistryServer, Path],
) -> None:
    server, cert = tls_registry
    pool = _pool(str(cert), http2=False)

    async def main() -> None:
        client = pool.client(server.address)
        try:
            info = await client.head_manifest("p/img", "v1")
            assert info is not None
            resp = await client.session.request("GET", "/v2/", repository=None)
            assert resp.http_version == "HTTP/1.1"
            transport = client.session._transport
            assert isinstance(transport, ChoosingTransport)
            assert transport._h2 is None
        finally:
            await pool.aclose()

    asyncio.run(main())


def test_plain_http_registry_stays_on_the_lean_transport(registry: RegistryServer) -> None:
    async def main() -> None:
        session = Session(registry.address, api_host=registry.address, http2=True)
        try:
            resp = await session.request("GET", "/v2/", repository=None)
            assert resp.status_code == 200
            assert resp.http_version == "HTTP/1.1"
            transport = session._transport
            assert isinstance(transport, ChoosingTransport)
            assert not transport.speaks_h2(httpx.URL(f"http://{registry.address}/v2/"))
        finally:
            await session.aclose()

    asyncio.run(main())
