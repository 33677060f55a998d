"""ChoosingTransport: HTTP/2 for https origins that negotiate it, the lean HTTP/1.1 transport
for plain HTTP and for TLS servers that do not choose h2, against scripted loopback servers.

The real registry, which negotiates h2, is in tests/e2e/registry/test_http2.py.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from mplat.registry.transports import ChoosingTransport
from tests.support.rawserver import RawServer, always, response, run
from tests.support.registry import write_self_signed_cert

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed_cert(tmp_path_factory.mktemp("choose-tls"), name="choose")


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    """A TLS server that offers no ALPN protocol: it cannot speak HTTP/2."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    return ctx


def _contexts(cert: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return (
        ssl.create_default_context(cafile=str(cert[0])),
        ssl.create_default_context(cafile=str(cert[0])),
    )


def test_tls_server_without_h2_is_asked_once_then_served_by_lean(cert: tuple[Path, Path]) -> None:
    async def main() -> None:
        transport = ChoosingTransport(*_contexts(cert), http2=True)
        async with (
            RawServer(always(response(b"hi")), tls=_server_tls(cert)) as server,
            httpx.AsyncClient(transport=transport) as c,
        ):
            url = httpx.URL(server.url + "/v2/")
            assert transport.speaks_h2(url)
            got = [await c.get(url) for _ in range(3)]
            assert not transport.speaks_h2(url)
            assert [r.content for r in got] == [b"hi"] * 3
            assert {r.http_version for r in got} == {"HTTP/1.1"}
        # The first answer came over httpx's own HTTP/1.1 (the h2 pool's connection); the
        # rest over one connection of the lean transport, kept alive.
        assert server.conns() == [1, 2, 2]

    run(main())


def test_plain_http_never_touches_the_http2_transport() -> None:
    async def main() -> None:
        transport = ChoosingTransport(
            ssl.create_default_context(), ssl.create_default_context(), http2=True
        )
        async with (
            RawServer(always(response(b"plain"))) as server,
            httpx.AsyncClient(transport=transport) as c,
        ):
            assert not transport.speaks_h2(httpx.URL(server.url))
            got = [await c.get(server.url) for _ in range(2)]
        assert [r.content for r in got] == [b"plain"] * 2
        assert transport._h2 is None
        assert server.conns() == [1, 1]

    run(main())


def test_http2_off_by_default_sends_https_to_lean(cert: tuple[Path, Path]) -> None:
    async def main() -> None:
        transport = ChoosingTransport(*_contexts(cert))
        async with (
            RawServer(always(response(b"x")), tls=_server_tls(cert)) as server,
            httpx.AsyncClient(transport=transport) as c,
        ):
            assert not transport.speaks_h2(httpx.URL(server.url))
            assert (await c.get(server.url)).content == b"x"
        assert transport._h2 is None

    run(main())


def test_an_origin_answering_over_http2_stays_on_it() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, extensions={"http_version": b"HTTP/2"})

    async def main() -> None:
        transport = ChoosingTransport(
            ssl.create_default_context(), ssl.create_default_context(), http2=True
        )
        transport._h2 = httpx.MockTransport(handler)  # type: ignore[assignment]
        url = httpx.URL("https://registry.example/v2/")
        for _ in range(3):
            resp = await transport.handle_async_request(httpx.Request("HEAD", url))
            assert resp.http_version == "HTTP/2"
        assert transport.speaks_h2(url)
        # Another origin is judged on its own.
        assert transport.speaks_h2(httpx.URL("https://blobs.example/x"))
        await transport.aclose()

    run(main())
    assert len(seen) == 3


def test_without_the_h2_package_https_falls_back_to_lean(
    cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> None:
        raise ImportError("no h2")

    async def main() -> None:
        transport = ChoosingTransport(*_contexts(cert), http2=True)
        monkeypatch.setattr(transport, "_h2_transport", missing)
        async with (
            RawServer(always(response(b"lean")), tls=_server_tls(cert)) as server,
            httpx.AsyncClient(transport=transport) as c,
        ):
            assert (await c.get(server.url)).content == b"lean"
            assert not transport.speaks_h2(httpx.URL(server.url))
            assert (await c.get(server.url)).content == b"lean"
        assert server.conns() == [1, 1]

    run(main())
