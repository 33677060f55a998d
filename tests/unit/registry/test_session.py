"""The request pipeline (mplat.registry.session) against tiny scripted HTTP servers on
127.0.0.1: retries, Retry-After, resets, notices, redirects and what never leaves the process
(credentials, signed URLs)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

from mplat.registry.api import Notices
from mplat.registry.errors import RegistryError
from mplat.registry.operations import RegistryClient
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy, retryable_status
from mplat.registry.secrets import Credential

SECRET = "Pw-mplat-SECRET-7f3a9c"
USER = "alice"
DIGEST = "sha256:" + "ab" * 32
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total=20.0)
T = TypeVar("T")
Reply = tuple[int, dict[str, str]] | str
"""(status, headers) or ``"reset"`` to hang up without answering."""
OK_HEADERS = {"Docker-Content-Digest": DIGEST, "Content-Type": MANIFEST_TYPE, "Content-Length": "3"}
OK_HEAD: Reply = (200, OK_HEADERS)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Scripted:
    """Answers requests from ``script`` in order, then ``default``; records what it was sent."""

    script: list[Reply] = field(default_factory=list)
    default: Reply = (200, {"Content-Length": "0"})
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    first = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return
                if first == b"\x16":
                    return  # A TLS ClientHello (the scheme probe): hang up, this is plain HTTP.
                super().handle()

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                reply = scripted._next(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                if reply == "reset":
                    self.close_connection = True
                    return
                assert not isinstance(reply, str)
                status, headers = reply
                self.send_response(status)
                for k, v in headers.items():
                    for one in v.split("\n"):
                        self.send_header(k, one)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"{" * int(headers.get("Content-Length", "0")))

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            return self.script.pop(0) if self.script else self.default

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(autouse=True)
def _debug_log_has_no_secrets(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    yield
    text = "\n".join(r.getMessage() for r in caplog.get_records("call"))
    assert SECRET not in text and "Basic " not in text


@pytest.fixture
def serve() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def factory(*script: Reply, default: Reply = (200, {"Content-Length": "0"})) -> Scripted:
        server = Scripted(list(script), default)
        servers.append(server)
        return server

    yield factory
    for s in servers:
        s.stop()


def make_pool(credential: Credential | None = None, retry: RetryPolicy = FAST) -> RegistryPool:
    return RegistryPool(
        settings_for=lambda registry: ConnectionSettings(),
        credential_for=lambda registry, repository: credential,
        retry=retry,
        timeout=5.0,
    )


def run_with(pool: RegistryPool, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        try:
            return await work()
        finally:
            await pool.aclose()

    return asyncio.run(main())


def client_for(pool: RegistryPool, server: Scripted) -> RegistryClient:
    return pool.client(server.address)


def test_503_then_200_is_retried_with_a_notice(serve: Callable[..., Scripted]) -> None:
    server = serve((503, {}), default=OK_HEAD)
    pool = make_pool()
    info = run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert info is not None and info.digest == DIGEST
    assert [s.method for s in server.seen] == ["HEAD", "HEAD"]
    assert pool.notices.requests["HEAD"] == 2
    (message,) = pool.notices.messages
    assert message.startswith(f"{server.address}: HTTP 503 on HEAD; waiting ")
    assert "before retrying" in message


def test_429_retry_after_seconds_is_honoured(serve: Callable[..., Scripted]) -> None:
    server = serve((429, {"Retry-After": "1"}), default=OK_HEAD)
    pool = make_pool()
    t0 = time.monotonic()
    info = run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert info is not None
    assert time.monotonic() - t0 >= 0.95
    assert pool.notices.messages == [
        f"{server.address}: HTTP 429 on HEAD; waiting 1.0s before retrying (Retry-After)"
    ]


def test_429_retry_after_http_date_is_honoured(serve: Callable[..., Scripted]) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # 1-2 s away, whole seconds
    server = serve((429, {"Retry-After": when}), default=OK_HEAD)
    pool = make_pool()
    t0 = time.monotonic()
    assert run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert 0.9 <= time.monotonic() - t0 < 3
    (message,) = pool.notices.messages
    assert "HTTP 429 on HEAD; waiting" in message and message.endswith("(Retry-After)")


def test_retry_after_beyond_the_budget_gives_up_at_once(serve: Callable[..., Scripted]) -> None:
    server = serve(default=(429, {"Retry-After": "30"}))
    pool = make_pool(retry=RetryPolicy(attempts=5, total=5.0))
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert time.monotonic() - t0 < 2
    assert info.value.status == 429 and info.value.retryable
    assert len(server.seen) == 1
    assert pool.notices.messages == []


def test_endless_500_is_bounded_and_clean(serve: Callable[..., Scripted]) -> None:
    server = serve(default=(500, {}))
    pool = make_pool(retry=RetryPolicy(attempts=3, base_delay=0.01))
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert len(server.seen) == 3
    err = info.value
    assert (err.registry, err.repository, err.status, err.retryable) == (
        server.address,
        "a/b",
        500,
        True,
    )
    assert str(err).startswith(f"{server.address}/a/b: HEAD manifest v1 failed (HTTP 500)")
    assert pool.notices.requests == {"HEAD": 3}
    assert pool.notices.messages == [
        f"{server.address}: HTTP 500 on HEAD; waiting 0.0s before retrying"
    ]


def test_connection_reset_is_retried(serve: Callable[..., Scripted]) -> None:
    server = serve("reset", default=OK_HEAD)
    pool = make_pool()
    assert run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert len(server.seen) == 2
    (message,) = pool.notices.messages
    assert message.startswith(f"{server.address}: RemoteProtocolError on HEAD; waiting ")


def test_endless_resets_end_in_a_clean_error(serve: Callable[..., Scripted]) -> None:
    server = serve(default="reset")
    pool = make_pool(retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert len(server.seen) == 2
    assert "HEAD failed: RemoteProtocolError" in str(info.value)
    assert info.value.retryable


def test_delete_is_never_retried(serve: Callable[..., Scripted]) -> None:
    server = serve(default=(503, {"Retry-After": "0"}))
    pool = make_pool()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, server).delete_manifest("a/b", DIGEST))
    assert info.value.status == 503
    assert [s.method for s in server.seen] == ["DELETE"]
    assert pool.notices.messages == []


def test_delete_connection_reset_is_not_retried(serve: Callable[..., Scripted]) -> None:
    server = serve(default="reset")
    pool = make_pool()
    with pytest.raises(RegistryError, match="DELETE failed"):
        run_with(pool, lambda: client_for(pool, server).delete_manifest("a/b", DIGEST))
    assert len(server.seen) == 1


def test_rate_limit_headers_reach_notices(serve: Callable[..., Scripted]) -> None:
    headers = OK_HEADERS | {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "76;w=21600"}
    server = serve(default=(200, headers))
    pool = make_pool()
    assert run_with(pool, lambda: client_for(pool, server).head_manifest("a/b", "v1"))
    assert pool.notices.rate_limits == {server.address: "76 of 100 pulls left"}


def test_warning_headers_are_surfaced_once(serve: Callable[..., Scripted]) -> None:
    headers = OK_HEADERS | {
        "Warning": '299 - "this repository is deprecated"\n'
        '299 - "say \\"bye\\"" "Wed, 21 Oct 2015 07:28:00 GMT"'
    }
    server = serve(default=(200, headers))
    emitted: list[str] = []
    pool = make_pool()
    pool.notices = Notices(emit=emitted.append)

    async def twice() -> None:
        c = client_for(pool, server)
        await c.head_manifest("a/b", "v1")
        await c.head_manifest("a/b", "v2")

    run_with(pool, twice)
    assert emitted == [
        f"{server.address} warns: this repository is deprecated",
        f'{server.address} warns: say "bye"',
    ]
    assert pool.notices.messages == emitted


@pytest.mark.parametrize("status", [408, 429, 500, 501, 503, 505, 507])
def test_retryable_errors_are_the_statuses_the_retry_loop_repeats(
    serve: Callable[..., Scripted], status: int
) -> None:
    """One definition (retry.retryable_status) for a request's retries, a refused write's
    error and a failed token server: a transfer is repeated only for "not now" answers."""
    registry = serve(default=(status, {}))
    pool = make_pool()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, registry).delete_manifest("a/b", DIGEST))
    assert (info.value.status, info.value.retryable) == (status, retryable_status(status))

    token_server = serve(default=(status, {}))
    challenge = f'Bearer realm="http://{token_server.address}/token",service=x'
    registry = serve(default=(401, {"WWW-Authenticate": challenge}))
    pool = make_pool(retry=RetryPolicy(attempts=1))
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, registry).head_manifest("a/b", "v1"))
    assert "the token server failed" in str(info.value)
    assert (info.value.status, info.value.retryable) == (status, retryable_status(status))


_CLAIMS: dict[str, Callable[[RegistryClient], Coroutine[Any, Any, object]]] = {
    "head": lambda c: c.head_manifest("a/b", DIGEST),
    "get": lambda c: c.get_manifest("a/b", "v1"),
    "put": lambda c: c.put_manifest("a/b", "v1", b"{}", MANIFEST_TYPE),
}


@pytest.mark.parametrize("call", sorted(_CLAIMS))
def test_a_claimed_digest_is_made_safe_to_print(serve: Callable[..., Scripted], call: str) -> None:
    """Header values reach mplat byte for byte: a forged digest must not drive the terminal."""
    forged = OK_HEADERS | {"Docker-Content-Digest": "sha256:\x1b[2J\x1b]0;owned\x07"}
    server = serve(default=(200, forged))
    pool = make_pool()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: _CLAIMS[call](client_for(pool, server)))
    assert "digest 'sha256:" in str(info.value) and str(info.value).isprintable()


BASIC_CHALLENGE: Reply = (401, {"WWW-Authenticate": 'Basic realm="test"'})


def test_redirect_to_another_origin_drops_authorization(
    serve: Callable[..., Scripted], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    storage = serve(default=(200, {"Content-Length": "5"}))
    location = f"http://{storage.address}/blob?X-Amz-Signature=SIGNED-{SECRET}"
    registry = serve(BASIC_CHALLENGE, default=(307, {"Location": location}))
    pool = make_pool(Credential(USER, SECRET, source="test"))
    size = run_with(pool, lambda: client_for(pool, registry).blob_size("a/b", DIGEST))
    assert size == 5
    assert "authorization" not in registry.seen[0].headers
    assert registry.seen[1].headers["authorization"].startswith("Basic ")
    assert [s.headers.get("authorization") for s in storage.seen] == [None]
    assert SECRET not in caplog.text and "SIGNED" not in caplog.text
    assert all(SECRET not in m for m in pool.notices.messages)


def test_a_relative_redirect_stays_on_the_registry_with_its_authorization(
    serve: Callable[..., Scripted],
) -> None:
    registry = serve(
        BASIC_CHALLENGE,
        (307, {"Location": "/elsewhere/blob", "Content-Length": "7"}),
        default=(200, {"Content-Length": "5"}),
    )
    pool = make_pool(Credential(USER, SECRET, source="test"))
    size = run_with(pool, lambda: client_for(pool, registry).blob_size("a/b", DIGEST))
    assert size == 5
    assert [s.path for s in registry.seen][1:] == [f"/v2/a/b/blobs/{DIGEST}", "/elsewhere/blob"]
    assert registry.seen[2].headers["authorization"].startswith("Basic ")
    assert registry.seen[2].headers["host"] == registry.address


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/blob", "file:///etc/passwd", "http://[::1"])
def test_a_redirect_to_an_unusable_location_is_a_clean_error(
    serve: Callable[..., Scripted], location: str
) -> None:
    registry = serve(default=(307, {"Location": location}))
    pool = make_pool()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, registry).blob_size("a/b", DIGEST))
    assert str(info.value).endswith("HEAD failed: BadRedirect")
    assert len(registry.seen) == 1  # an answer, not a failure to answer: never retried


def test_a_redirect_target_challenge_is_not_answered(serve: Callable[..., Scripted]) -> None:
    token_server = serve(default=(200, {"Content-Length": "0"}))
    storage = serve(
        default=(
            401,
            {"WWW-Authenticate": f'Bearer realm="http://{token_server.address}/token",service=x'},
        )
    )
    registry = serve(default=(307, {"Location": f"http://{storage.address}/blob"}))
    pool = make_pool(Credential(USER, SECRET, source="test"))
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, registry).blob_size("a/b", DIGEST))
    assert info.value.status == 401
    assert token_server.seen == []
    assert [s.headers.get("authorization") for s in storage.seen] == [None]
    assert SECRET not in str(info.value)


def test_absolute_url_on_another_host_gets_no_authorization(
    serve: Callable[..., Scripted],
) -> None:
    other = serve()
    registry = serve(BASIC_CHALLENGE, default=OK_HEAD)
    pool = make_pool(Credential(USER, SECRET, source="test"))

    async def work() -> None:
        client = client_for(pool, registry)
        await client.head_manifest("a/b", "v1")  # Learns that the registry wants Basic.
        resp = await client.session.request(
            "GET", f"http://{other.address}/upload?_state=x", repository="a/b"
        )
        assert resp.status_code == 200

    run_with(pool, work)
    assert registry.seen[-1].headers["authorization"].startswith("Basic ")
    assert [s.headers.get("authorization") for s in other.seen] == [None]


def test_wrong_basic_password_is_asked_once(serve: Callable[..., Scripted]) -> None:
    registry = serve(default=BASIC_CHALLENGE)
    pool = make_pool(Credential(USER, SECRET, source="test"))
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, registry).head_manifest("a/b", "v1"))
    assert info.value.status == 401
    assert [("authorization" in s.headers) for s in registry.seen] == [False, True]
    assert SECRET not in str(info.value)


def test_debug_log_shows_requests_without_secrets(
    serve: Callable[..., Scripted], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    registry = serve(BASIC_CHALLENGE, (503, {}), "reset", default=OK_HEAD)
    pool = make_pool(Credential(USER, SECRET, source="test"))

    async def work() -> None:
        client = client_for(pool, registry)
        await client.head_manifest("a/b", "v1")
        base = await client.session.base_url()
        await client.session.request(
            "GET",
            f"{base}/v2/a/b/blobs/uploads/u?_state={SECRET}&digest={DIGEST}",
            repository="a/b",
        )

    run_with(pool, work)
    text = caplog.text
    assert f"HEAD http://{registry.address}/v2/a/b/manifests/v1 -> 401" in text
    assert "-> 503" in text and "-> RemoteProtocolError" in text
    assert f"_state=REDACTED&digest={DIGEST}" in text
    assert SECRET not in text
    assert "Basic " not in text
    assert all(SECRET not in m for m in pool.notices.messages)


def test_redirect_loop_is_a_clean_error(serve: Callable[..., Scripted]) -> None:
    server = serve()
    server.default = (307, {"Location": f"http://{server.address}/again"})
    pool = make_pool()
    with pytest.raises(RegistryError) as info:
        run_with(pool, lambda: client_for(pool, server).blob_size("a/b", DIGEST))
    assert str(info.value) == f"{server.address}/a/b: HEAD failed: TooManyRedirects"


def test_streamed_body_is_not_resent_after_a_401(serve: Callable[..., Scripted]) -> None:
    registry = serve(BASIC_CHALLENGE, default=(201, {}))
    pool = make_pool(Credential(USER, SECRET, source="test"))

    async def body() -> AsyncIterator[bytes]:
        yield b"blob bytes"

    async def work() -> int:
        resp = await client_for(pool, registry).session.request(
            "PUT", "/v2/a/b/blobs/uploads/u", repository="a/b", content=body(), idempotent=False
        )
        return resp.status_code

    assert run_with(pool, work) == 401
    assert [s.method for s in registry.seen] == ["PUT"]


def test_default_retries_ride_out_a_fifteen_second_outage() -> None:
    """Issue 10: the default backoff spanned 1.9-3.75 s, less than a registry restart."""
    from mplat.cli.parser import build_parser

    assert RetryPolicy().min_wait() >= 15.0
    args = build_parser().parse_args(["plan"])
    assert RetryPolicy(attempts=args.retries).min_wait() >= 15.0


def test_a_429_stops_the_fitted_parallelism_and_answers_are_timed(
    serve: Callable[..., Scripted],
) -> None:
    server = serve((429, {"Retry-After": "0"}), default=OK_HEAD)
    pool = RegistryPool(
        settings_for=lambda registry: ConnectionSettings(),
        credential_for=lambda registry, repository: None,
        retry=FAST,
        timeout=5.0,
        fit_parallelism=True,
    )

    async def work() -> tuple[int, bool, int]:
        client = client_for(pool, server)
        inflight = client.session._gate.inflight
        answered: list[float] = []
        original = inflight.answered

        def timed(seconds: float) -> None:
            answered.append(seconds)
            original(seconds)

        inflight.answered = timed  # type: ignore[method-assign]
        await client.head_manifest("a/b", "v1")
        return inflight.limit, inflight._adaptive, len(answered)

    limit, adaptive, timed = run_with(pool, work)
    assert (limit, adaptive) == (8, False)
    assert timed == 2  # The 429 and the answer after it.
