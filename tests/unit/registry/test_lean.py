"""LeanTransport under a real httpx.AsyncClient, against loopback servers that speak raw bytes.

Every server here is scripted byte for byte (tests/support/rawserver.py), so framing corners
(chunk extensions, trailers, interim answers, bodies that end at close, malformed heads) are
exactly what the test says. The run against the real docker-registry is in
tests/e2e/registry/test_lean.py.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.rawserver import (
    CLOSE,
    RESET,
    Answer,
    RawServer,
    Request,
    Step,
    always,
    client,
    get_n,
    parts,
    response,
    run,
)
from tests.support.registry import write_self_signed_cert

pytestmark = pytest.mark.timeout(30)


# -- response bodies ----------------------------------------------------------------------------


def test_content_length_body() -> None:
    async def main() -> None:
        async with RawServer(always(response(b"hello world", "X-Thing: 1"))) as server:
            (resp,) = await get_n(server, 1, "/v2/x?n=1")
        assert resp.status_code == 200
        assert resp.content == b"hello world"
        assert resp.headers["x-thing"] == "1"
        assert resp.extensions["http_version"] == b"HTTP/1.1"
        assert server.requests[0].target == "/v2/x?n=1"
        assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"

    run(main())


def test_large_content_length_body_in_many_reads() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: more than one read, still one connection.

    async def main() -> None:
        async with RawServer(always(response(body))) as server:
            responses = await get_n(server, 2)
        assert [r.content for r in responses] == [body, body]
        assert server.conns() == [1, 1]

    run(main())


def test_chunked_body_with_extensions_and_trailers_then_reuse() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b'6 ; x="y"\r\n world\r\n'
        b"A\r\n0123456789\r\n"
        b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"
    )

    async def main() -> None:
        async with RawServer(always(chunked)) as server:
            responses = await get_n(server, 3)
        assert [r.content for r in responses] == [b"hello world0123456789"] * 3
        # The trailers were consumed: the next response parsed cleanly on the same connection.
        assert server.conns() == [1, 1, 1]

    run(main())


def test_body_until_close_is_read_and_connection_not_reused() -> None:
    async def main() -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        async with RawServer(always(head, b"part one, ", 0.02, b"part two", CLOSE)) as server:
            responses = await get_n(server, 2)
        assert [r.content for r in responses] == [b"part one, part two"] * 2
        assert server.conns() == [1, 2]

    run(main())


def test_content_length_zero_body_reuses_connection() -> None:
    async def main() -> None:
        async with RawServer(always(response(b""))) as server:
            responses = await get_n(server, 3)
        assert [r.content for r in responses] == [b""] * 3
        assert server.conns() == [1, 1, 1]

    run(main())


# -- connection management ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ["Connection: close"],
        ["Connection: Close"],
        ["Connection: keep-alive, close"],
        ["Connection: close", "Connection: keep-alive"],
    ],
    ids=["close", "Close", "list", "two-headers"],
)
def test_connection_close_honoured(headers: list[str]) -> None:
    async def main() -> None:
        # The server keeps the connection open: only the header tells the client not to reuse.
        async with RawServer(always(response(b"ok", *headers))) as server:
            responses = await get_n(server, 2)
        assert [r.content for r in responses] == [b"ok", b"ok"]
        assert server.conns() == [1, 2]

    run(main())


@pytest.mark.parametrize(
    ("headers", "conns"),
    [([], [1, 2]), (["Connection: keep-alive"], [1, 1])],
    ids=["default-close", "keep-alive"],
)
def test_http10_answers(headers: list[str], conns: list[int]) -> None:
    async def main() -> None:
        async with RawServer(always(response(b"old", *headers, version="HTTP/1.0"))) as server:
            responses = await get_n(server, 2)
        assert [r.content for r in responses] == [b"old", b"old"]
        assert responses[0].extensions["http_version"] == b"HTTP/1.0"
        assert server.conns() == conns

    run(main())


def test_http10_body_until_close() -> None:
    async def main() -> None:
        steps = always(b"HTTP/1.0 200 OK\r\n\r\nlegacy", CLOSE)
        async with RawServer(steps) as server:
            responses = await get_n(server, 2)
        assert [r.content for r in responses] == [b"legacy", b"legacy"]
        assert server.conns() == [1, 2]

    run(main())


def test_sequential_requests_share_one_connection() -> None:
    async def main() -> None:
        async with RawServer(lambda r: [response(r.target.encode())]) as server:
            responses = await get_n(server, 6, "/same")
        assert [r.content for r in responses] == [b"/same"] * 6
        assert server.accepted == 1

    run(main())


def test_concurrent_requests_open_at_most_that_many_connections() -> None:
    async def main() -> None:
        # The delay keeps all four requests in flight at once.
        async with RawServer(always(0.05, response())) as server, client() as c:
            for _ in range(3):
                got = await asyncio.gather(*(c.get(server.url) for _ in range(4)))
                assert [r.content for r in got] == [b"ok"] * 4
                assert server.accepted <= 4
        assert len(server.requests) == 12
        assert server.accepted == 4  # Later rounds reused the first round's connections.

    run(main())


def test_partly_read_stream_closed_early_is_not_reused() -> None:
    async def main() -> None:
        first: list[Step] = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10, 10.0]

        def answer(request: Request) -> Sequence[Step]:
            return first if request.conn == 1 else [response(b"fresh")]

        async with RawServer(answer) as server, client() as c:
            async with c.stream("GET", server.url) as resp:
                async for part in resp.aiter_raw():
                    assert part == b"x" * 10
                    break
            again = await c.get(server.url)
        assert again.content == b"fresh"
        assert server.conns() == [1, 2]

    run(main())


def test_interim_1xx_answers_are_skipped() -> None:
    interim = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    )

    async def main() -> None:
        async with RawServer(always(interim + response(b"final"))) as server:
            responses = await get_n(server, 2)
        assert [(r.status_code, r.content) for r in responses] == [(200, b"final")] * 2
        assert "link" not in responses[0].headers
        assert server.conns() == [1, 1]

    run(main())


def test_head_with_content_length_has_no_body_and_keeps_connection() -> None:
    def answer(request: Request) -> Sequence[Step]:
        if request.method == "HEAD":
            return [b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nDocker-Content-Digest: d\r\n\r\n"]
        return [response(b"after head")]

    async def main() -> None:
        async with RawServer(answer) as server, client() as c:
            head = await c.head(server.url)
            head2 = await c.head(server.url)
            after = await c.get(server.url)
        assert head.status_code == 200
        assert head.headers["content-length"] == "1234"
        assert head.content == b""
        assert head2.content == b""
        assert after.content == b"after head"
        assert server.conns() == [1, 1, 1]

    run(main())


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_204_and_304_have_no_body(status: str) -> None:
    def answer(request: Request) -> Sequence[Step]:
        if request.target == "/empty":
            return [f'HTTP/1.1 {status}\r\nETag: "e"\r\n\r\n'.encode()]
        return [response(b"next")]

    async def main() -> None:
        async with RawServer(answer) as server, client() as c:
            empty = await c.get(server.url + "/empty")
            after = await c.get(server.url + "/next")
        assert empty.status_code == int(status.split()[0])
        assert empty.content == b""
        assert after.content == b"next"
        assert server.conns() == [1, 1]

    run(main())


def test_stale_idle_connection_closed_by_server_is_not_reused() -> None:
    async def main() -> None:
        # Keep-alive response, then the server drops the idle connection (an idle timeout).
        async with RawServer(always(response(b"ok"), 0.01, CLOSE)) as server, client() as c:
            first = await c.get(server.url)
            await asyncio.sleep(0.1)
            second = await c.get(server.url)
        assert (first.content, second.content) == (b"ok", b"ok")
        assert server.conns() == [1, 2]

    run(main())


def test_unread_bytes_after_a_response_make_the_connection_unusable() -> None:
    """Bytes past the declared body would be parsed as the next answer: never reuse that."""

    async def main() -> None:
        smuggled = response(b"SMUGGLED")

        def answer(request: Request) -> Sequence[Step]:
            if request.conn == 1:
                return [response(b"ok") + smuggled]
            return [response(b"genuine")]

        async with RawServer(answer) as server, client() as c:
            first = await c.get(server.url + "/one")
            await asyncio.sleep(0.05)
            second = await c.get(server.url + "/two")
        assert first.content == b"ok"
        assert second.content == b"genuine"
        assert server.conns() == [1, 2]

    run(main())


def test_aclose_closes_idle_connections() -> None:
    async def main() -> None:
        async with RawServer(always(response())) as server:
            c = client()
            await c.get(server.url)
            await c.get(server.url)
            assert server.client_closed == 0
            await c.aclose()
            for _ in range(100):
                if server.client_closed:
                    break
                await asyncio.sleep(0.01)
            assert server.client_closed == 1
            assert server.accepted == 1

    run(main())


# -- protocol errors ----------------------------------------------------------------------------


async def expect_error(answer: Answer, **client_kw: Any) -> BaseException:
    """GET once and read the body; return the exception httpx raised."""
    async with RawServer(answer) as server, client(**client_kw) as c:
        with pytest.raises(httpx.HTTPError) as info:
            await c.get(server.url)
    return info.value


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 OK\r\n",
        b"HTTP/2 200 OK\r\n",
        b"ICY 200 OK\r\n",
        b"HTTP/1.1 2x0 OK\r\n",
        b"HTTP/1.1\r\n",
        b"\r\n",
        b"<html>hello</html>\r\n",
    ],
    ids=["no-code", "http2", "icy", "bad-code", "version-only", "empty", "html"],
)
def test_malformed_status_line(status_line: bytes) -> None:
    error = asyncio.run(expect_error(always(status_line + b"Content-Length: 0\r\n\r\n")))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: no-name\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 300 + b"Content-Length: 0\r\n\r\n",
    ],
    ids=["no-colon", "empty-name", "too-many"],
)
def test_malformed_headers(head: bytes) -> None:
    error = asyncio.run(expect_error(always(head)))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


@pytest.mark.parametrize(
    "steps",
    [
        [b"", CLOSE],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", CLOSE],
    ],
    ids=["no-answer", "inside-headers"],
)
def test_connection_closed_before_the_body(steps: list[Step]) -> None:
    error = asyncio.run(expect_error(always(*steps)))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


@pytest.mark.parametrize(
    "value",
    [b"-1", b"abc", b"1e3", b"0x10", b"5, 6", b"", b"+2", b"1_0"],
)
def test_bad_content_length(value: bytes) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n"
    error = asyncio.run(expect_error(always(head + b"okokokokokok")))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


def test_conflicting_content_lengths() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nokok"
    error = asyncio.run(expect_error(always(head)))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


@pytest.mark.parametrize("where", ["status", "header"])
def test_too_long_header_line(where: str) -> None:
    long = b"x" * (70 * 1024)
    if where == "status":
        head = b"HTTP/1.1 200 " + long + b"\r\nContent-Length: 0\r\n\r\n"
    else:
        head = b"HTTP/1.1 200 OK\r\nX-Long: " + long + b"\r\nContent-Length: 0\r\n\r\n"
    error = asyncio.run(expect_error(always(head)))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


def test_long_header_under_the_limit_is_fine() -> None:
    value = b"v" * (60 * 1024)

    async def main() -> None:
        head = b"HTTP/1.1 200 OK\r\nX-Big: " + value + b"\r\nContent-Length: 2\r\n\r\nok"
        async with RawServer(always(head)) as server:
            (resp,) = await get_n(server, 1)
        assert resp.headers["x-big"] == value.decode()

    run(main())


def test_malformed_chunk_size() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    error = asyncio.run(expect_error(always(head)))
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)


@pytest.mark.parametrize(
    "steps",
    [
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", CLOSE],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nonly", CLOSE],
    ],
    ids=["content-length", "chunked"],
)
def test_body_shorter_than_announced_is_a_read_error(steps: list[Step]) -> None:
    error = asyncio.run(expect_error(always(*steps)))
    assert isinstance(error, httpx.ReadError), repr(error)


@pytest.mark.parametrize(
    "steps",
    [
        [30.0],
        [b"HTTP/1.1 200", 30.0],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 30.0],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", 30.0],
    ],
    ids=["no-answer", "mid-head", "mid-body", "mid-chunked"],
)
def test_server_stall_is_a_read_timeout(steps: list[Step]) -> None:
    started = time.monotonic()
    error = asyncio.run(expect_error(always(*steps), timeout=0.2))
    elapsed = time.monotonic() - started
    assert isinstance(error, httpx.ReadTimeout), repr(error)
    assert 0.18 < elapsed < 3


def test_connection_refused_is_a_connect_error() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with client() as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.1:{port}/")

    run(main())


def test_failed_request_does_not_poison_the_pool() -> None:
    async def main() -> None:
        def answer(request: Request) -> Sequence[Step]:
            if request.target == "/bad":
                return [b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"]
            return [response(b"good")]

        async with RawServer(answer) as server, client() as c:
            assert (await c.get(server.url + "/good")).content == b"good"
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(server.url + "/bad")
            assert (await c.get(server.url + "/good")).content == b"good"
        assert server.conns() == [1, 1, 2]

    run(main())


# -- request bodies -----------------------------------------------------------------------------


def test_request_body_bytes() -> None:
    payload = b'{"schemaVersion": 2}' * 1000

    async def main() -> None:
        async with RawServer(always(response(b"got"))) as server, client() as c:
            resp = await c.put(server.url + "/m", content=payload)
            again = await c.post(server.url + "/p", content=b"")
        assert resp.content == b"got"
        assert again.content == b"got"
        first, second = server.requests
        assert (first.method, first.body) == ("PUT", payload)
        assert first.headers["content-length"] == str(len(payload))
        assert "transfer-encoding" not in first.headers
        assert (second.method, second.body, second.headers["content-length"]) == ("POST", b"", "0")
        assert server.conns() == [1, 1]

    run(main())


def test_request_body_async_iterator_with_content_length() -> None:
    async def main() -> None:
        async with RawServer(always(response(b"got"))) as server, client() as c:
            resp = await c.put(
                server.url + "/blob",
                content=parts(b"abc", b"", b"defg", b"h"),
                headers={"Content-Length": "8"},
            )
            again = await c.get(server.url + "/after")
        assert (resp.content, again.content) == (b"got", b"got")
        sent = server.requests[0]
        assert sent.body == b"abcdefgh"
        assert sent.headers["content-length"] == "8"
        assert "transfer-encoding" not in sent.headers
        assert server.conns() == [1, 1]

    run(main())


def test_request_body_chunked_without_length() -> None:
    async def main() -> None:
        async with RawServer(always(response(b"got"))) as server, client() as c:
            resp = await c.patch(
                server.url + "/upload", content=parts(b"abc", b"", b"0123456789abcdefXYZ")
            )
            again = await c.get(server.url + "/after")
        assert (resp.content, again.content) == (b"got", b"got")
        sent = server.requests[0]
        assert sent.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in sent.headers
        # The empty part did not end the body early; sizes are hex.
        assert sent.raw_body == b"3\r\nabc\r\n13\r\n0123456789abcdefXYZ\r\n0\r\n\r\n"
        assert sent.body == b"abc0123456789abcdefXYZ"
        assert server.conns() == [1, 1]

    run(main())


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed_cert(tmp_path_factory.mktemp("lean-tls"), name="lean")


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    return ctx


def test_tls_with_trusted_self_signed_cert(cert: tuple[Path, Path]) -> None:
    async def main() -> None:
        trusting = ssl.create_default_context(cafile=str(cert[0]))
        server_ctx = _server_tls(cert)
        async with (
            RawServer(always(response(b"secret")), tls=server_ctx) as server,
            client(ctx=trusting) as c,
        ):
            got = [await c.get(server.url) for _ in range(3)]
            put = await c.put(server.url, content=b"over tls")
        assert [r.content for r in got] == [b"secret"] * 3
        assert put.content == b"secret"
        assert server.requests[-1].body == b"over tls"
        assert server.conns() == [1, 1, 1, 1]

    run(main())


def test_tls_untrusted_cert_is_connect_error_with_verification_cause(
    cert: tuple[Path, Path],
) -> None:
    async def main() -> BaseException:
        async with (
            RawServer(always(response()), tls=_server_tls(cert)) as server,
            client(ctx=ssl.create_default_context()) as c,
        ):
            with pytest.raises(httpx.ConnectError) as info:
                await c.get(server.url)
        return info.value

    error: BaseException | None = asyncio.run(main())
    chain = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in chain), chain


def test_tls_hostname_mismatch_is_connect_error(tmp_path: Path) -> None:
    other = write_self_signed_cert(tmp_path, hosts=("registry.example",), name="other")

    async def main() -> None:
        trusting = ssl.create_default_context(cafile=str(other[0]))
        async with (
            RawServer(always(response()), tls=_server_tls(other)) as server,
            client(ctx=trusting) as c,
        ):
            with pytest.raises(httpx.ConnectError) as info:
                await c.get(server.url)
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)

    run(main())


# -- httpx features over the transport ----------------------------------------------------------


def test_redirect_to_another_origin() -> None:
    async def main() -> None:
        async with RawServer(always(response(b"landed", "X-Origin: b"))) as dest:

            def redirect(request: Request) -> Sequence[Step]:
                if request.target == "/start":
                    location = f"Location: {dest.url}/blobs/sha256:ab?sig=1"
                    return [response(b"moved", location, status="307 Temporary Redirect")]
                return [response(b"origin a")]

            async with RawServer(redirect) as start, client(follow_redirects=True) as c:
                resp = await c.get(start.url + "/start")
                back = await c.get(start.url + "/again")
        assert resp.status_code == 200
        assert resp.content == b"landed"
        assert str(resp.url) == f"{dest.url}/blobs/sha256:ab?sig=1"
        assert [r.status_code for r in resp.history] == [307]
        assert dest.requests[0].target == "/blobs/sha256:ab?sig=1"
        assert dest.requests[0].headers["host"] == f"127.0.0.1:{dest.port}"
        assert back.content == b"origin a"
        # The redirect's own body was drained, so its connection went back to the pool.
        assert start.conns() == [1, 1]

    run(main())


def test_a_reset_connection_leaves_no_exception_unretrieved() -> None:
    # asyncio keeps a reset in the stream protocol's close future. When a cycle collection
    # frees that future before the protocol, asyncio logs it with a traceback, mid-run.
    found: list[asyncio.Future[Any]] = []

    def unretrieved() -> list[asyncio.Future[Any]]:
        return [
            f
            for f in gc.get_objects()
            if isinstance(f, asyncio.Future)
            and f.done()
            and not f.cancelled()
            and getattr(f, "_log_traceback", False)
        ]

    async def main() -> None:
        async with RawServer(always(0.05, RESET)) as server:
            with pytest.raises(httpx.ReadError):
                await get_n(server, 1)
        found.extend(f for f in unretrieved() if id(f) not in earlier)

    gc.collect()
    # Only this test's futures count: earlier tests in the process may still hold their own.
    kept = unretrieved()
    earlier = {id(f) for f in kept}
    gc.disable()  # keep the protocol alive, as a reference cycle would
    try:
        run(main())
    finally:
        gc.enable()
    assert found == []
