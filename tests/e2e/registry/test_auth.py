"""Authentication against real docker-registry processes: htpasswd Basic auth and token auth
(with tests/support/token_server.py), through RegistryPool as the CLI uses it.

A recognisable secret is used as every password and identity token, and every test checks that
neither it nor any issued bearer token reaches an exception, a notice or the debug log.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from mplat.registry.credentials import lookup_credential
from mplat.registry.errors import RegistryError
from mplat.registry.operations import RegistryClient
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy
from mplat.registry.secrets import Credential
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.seed import seed_image
from tests.support.token_server import ANONYMOUS, TokenServer

SECRET = "Pw-mplat-SECRET-7f3a9c"
WRONG = "Wrong-mplat-SECRET-0d41"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)
T = TypeVar("T")


# --- fixtures -----------------------------------------------------------------------------------


def _start(server: RegistryServer) -> RegistryServer:
    if not REGISTRY_BINARY.exists():
        pytest.fail(f"{REGISTRY_BINARY} is needed for these tests", pytrace=False)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start docker-registry: {exc}", pytrace=False)
    return server


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    server = _start(
        RegistryServer(
            root=tmp_path_factory.mktemp("basic"), htpasswd={"alice": SECRET, "bob": SECRET}
        )
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def _token_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TokenServer, RegistryServer]]:
    folder = tmp_path_factory.mktemp("token")
    tokens = TokenServer(
        folder / "signer",
        users={"alice": SECRET, "bob": SECRET},
        grants={
            ANONYMOUS: {"*": ("pull",)},
            "bob": {"*": ("pull",)},
            "alice": {"t/*": ("*",), "src/*": ("pull", "push")},
        },
    ).start()
    server = RegistryServer(root=folder / "registry", token_auth=tokens.auth_config())
    try:
        yield tokens, _start(server)
    finally:
        server.stop()
        tokens.stop()


@pytest.fixture
def tokens(_token_pair: tuple[TokenServer, RegistryServer]) -> Iterator[TokenServer]:
    """The module's token server with default behaviour and an empty log for this test."""
    server = _token_pair[0]
    server.log.clear()
    yield server
    server.expires_in, server.valid_for, server.garbage, server.post_enabled = 300, None, None, True


@pytest.fixture
def token_registry(_token_pair: tuple[TokenServer, RegistryServer]) -> RegistryServer:
    return _token_pair[1]


HARNESS_ONLY = {"test_token_server_speaks_the_token_spec"}
"""Tests that never use mplat's client, so have no debug log to inspect."""


@pytest.fixture(autouse=True)
def _debug_log_has_no_secrets(
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    _token_pair: tuple[TokenServer, RegistryServer],
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="mplat.http")
    yield
    records = [r for r in caplog.get_records("call") if r.name == "mplat.http"]
    assert records or request.node.originalname in HARNESS_ONLY, "debug log not captured"
    assert_clean([r.getMessage() for r in records], _token_pair[0])


def assert_clean(texts: Iterable[str], tokens: TokenServer | None = None) -> None:
    forbidden = [SECRET, WRONG, *(tokens.issued if tokens else []), *tokens_identities(tokens)]
    for text in texts:
        for secret in forbidden:
            assert secret not in text, f"a secret leaked into: {text[:200]!r}"


def tokens_identities(tokens: TokenServer | None) -> list[str]:
    return list(tokens.refresh_tokens) if tokens else []


# --- helpers ------------------------------------------------------------------------------------


def make_pool(credential: Credential | None, retry: RetryPolicy = FAST) -> RegistryPool:
    return RegistryPool(
        settings_for=lambda registry: ConnectionSettings(),
        credential_for=lambda registry, repository: credential,
        retry=retry,
        timeout=10.0,
    )


def run(
    pool: RegistryPool, work: Callable[[RegistryClient], Coroutine[Any, Any, T]], reg: str
) -> T:
    async def main() -> T:
        try:
            return await work(pool.client(reg))
        finally:
            await pool.aclose()

    return asyncio.run(main())


def refused(
    pool: RegistryPool, work: Callable[[RegistryClient], Coroutine[Any, Any, Any]], reg: str
) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        run(pool, work, reg)
    return info.value


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def push_image(client: RegistryClient, repo: str, tag: str, salt: str) -> str:
    """Push a tiny image with mplat's own client (blobs, then the manifest)."""
    layer = f"layer {salt}".encode()
    config = json.dumps({"architecture": "amd64", "os": "linux", "salt": salt}).encode()
    for blob in (layer, config):
        if await client.blob_size(repo, sha(blob)) is None:
            await client.upload_blob(repo, sha(blob), len(blob), functools.partial(_once, blob))
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": sha(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": sha(layer),
            }
        ],
    }
    return await client.put_manifest(repo, tag, json.dumps(manifest).encode(), DOCKER_MANIFEST)


ALICE = Credential("alice", SECRET, source="test config")
BOB = Credential("bob", SECRET, source="test config")


# --- htpasswd (Basic) ---------------------------------------------------------------------------


def test_basic_anonymous_read_is_refused_clearly(basic_registry: RegistryServer) -> None:
    seed_image(
        basic_registry.url, "p/anon", "v1", os="linux", architecture="amd64", auth=("alice", SECRET)
    )
    reg = basic_registry.address
    err = refused(make_pool(None), lambda c: c.get_manifest("p/anon", "v1"), reg)
    assert (err.registry, err.repository, err.status, err.code) == (
        reg,
        "p/anon",
        401,
        "UNAUTHORIZED",
    )
    assert str(err).startswith(f"{reg}/p/anon: manifest v1 not readable (HTTP 401)")
    assert "check the credentials" in str(err)
    head = refused(make_pool(None), lambda c: c.head_manifest("p/anon", "v1"), reg)
    assert (head.repository, head.status) == ("p/anon", 401)


def test_basic_credentials_read_and_push(basic_registry: RegistryServer) -> None:
    reg = basic_registry.address
    pool = make_pool(ALICE)

    async def push(c: RegistryClient) -> str:
        digest = await push_image(c, "p/rw", "v1", "rw")
        fetched = await c.get_manifest("p/rw", digest)
        assert fetched.digest == digest
        assert await c.list_tags("p/rw") == ["v1"]
        return digest

    digest = run(pool, push, reg)
    assert_clean(pool.notices.messages)

    # Many first-contact requests at once (another user): every one ends up authenticated.
    async def read(c: RegistryClient) -> None:
        infos = await asyncio.gather(*(c.head_manifest("p/rw", "v1") for _ in range(8)))
        assert [i.digest if i else None for i in infos] == [digest] * 8

    pool = make_pool(BOB)
    run(pool, read, reg)
    # Each request is sent at most twice (anonymous, then with the credentials). How many
    # 401s there are depends on how many were already in flight when the first came back,
    # which is up to the scheduler: at least one, at most all eight.
    sent = pool.notices.requests["HEAD"]
    assert 8 < sent <= 16, sent


def test_basic_wrong_password_is_a_clean_error(basic_registry: RegistryServer) -> None:
    reg = basic_registry.address
    pool = make_pool(Credential("alice", WRONG, source="test config"))
    err = refused(pool, lambda c: c.get_manifest("p/whatever", "v1"), reg)
    assert (err.status, err.code, err.repository) == (401, "UNAUTHORIZED", "p/whatever")
    assert pool.notices.requests == {"GET": 2}  # Anonymous, then the credentials once.
    assert_clean([str(err), repr(err), *pool.notices.messages])


# --- token auth ---------------------------------------------------------------------------------


def scopes_of(tokens: TokenServer) -> list[tuple[str, ...]]:
    return [r.scopes for r in tokens.requests()]


def test_token_anonymous_pull_and_authenticated_push(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    reg = token_registry.address
    digest = run(make_pool(ALICE), lambda c: push_image(c, "t/pub", "v1", "pub"), reg)
    assert {r.user for r in tokens.requests()} == {"alice"}
    assert ("repository:t/pub:pull,push",) in scopes_of(tokens)

    tokens.log.clear()
    anon = make_pool(None)

    async def read(c: RegistryClient) -> None:
        info = await c.head_manifest("t/pub", "v1")
        assert info is not None and info.digest == digest
        assert (await c.get_manifest("t/pub", digest)).digest == digest

    run(anon, read, reg)
    assert [(r.method, r.user, r.scopes) for r in tokens.requests()] == [
        ("GET", ANONYMOUS, ("repository:t/pub:pull",))
    ]

    for who in (None, BOB):  # Neither may push: the token server grants them pull only.
        pool = make_pool(who)
        err = refused(pool, lambda c: push_image(c, "t/pub", "v2", "nope"), reg)
        assert (err.status, err.code, err.repository) == (401, "UNAUTHORIZED", "t/pub")
        assert_clean([str(err), *pool.notices.messages], tokens)


def test_token_scopes_for_reads_writes_and_mounts(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    reg = token_registry.address
    layer = b"mount me"

    async def work(c: RegistryClient) -> None:
        await c.upload_blob("src/a", sha(layer), len(layer), lambda: _once(layer))
        tokens.log.clear()
        assert await c.head_manifest("t/scopes", "v1") is None
        assert scopes_of(tokens) == [("repository:t/scopes:pull",)]
        tokens.log.clear()
        await push_image(c, "t/scopes", "v1", "scopes")
        assert scopes_of(tokens) == [("repository:t/scopes:pull,push",)]
        tokens.log.clear()
        assert await c.mount_blob("t/scopes", sha(layer), "src/a") is True
        assert scopes_of(tokens) == [("repository:src/a:pull", "repository:t/scopes:pull,push")]
        assert await c.blob_size("t/scopes", sha(layer)) == len(layer)

    pool = make_pool(ALICE)
    run(pool, work, reg)
    assert all(r.user == "alice" and r.method == "GET" for r in tokens.requests())


def test_tokens_are_cached_per_scope_set(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    reg = token_registry.address
    run(make_pool(ALICE), lambda c: push_image(c, "t/cache", "v1", "cache"), reg)
    tokens.log.clear()
    pool = make_pool(ALICE)

    async def work(c: RegistryClient) -> None:
        # First contact, all at once: they all meet the 401, yet only one token is fetched.
        await asyncio.gather(*(c.head_manifest("t/cache", "v1") for _ in range(6)))
        for _ in range(20):
            assert await c.head_manifest("t/cache", "v1") is not None
        # A new scope set is fetched up front (no 401 round trip), once for all.
        await asyncio.gather(*(c.head_manifest("t/other", "v1") for _ in range(6)))

    run(pool, work, reg)
    assert scopes_of(tokens) == [("repository:t/cache:pull",), ("repository:t/other:pull",)]
    assert pool.notices.requests == {"HEAD": 6 + 6 + 20 + 6, "TOKEN": 2}


def test_expired_token_is_refreshed_once(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    reg = token_registry.address
    run(make_pool(ALICE), lambda c: push_image(c, "t/exp", "v1", "exp"), reg)
    tokens.log.clear()
    tokens.valid_for = 2  # The registry will reject it after 1-2 s, though expires_in says 300.
    pool = make_pool(ALICE)

    async def work(c: RegistryClient) -> None:
        assert await c.head_manifest("t/exp", "v1") is not None
        assert await c.head_manifest("t/exp", "v1") is not None  # Cached, still accepted.
        await asyncio.sleep(2.2)
        tokens.valid_for = None
        assert await c.head_manifest("t/exp", "v1") is not None  # 401, fresh token, success.

    run(pool, work, reg)
    assert len(tokens.requests()) == 2
    assert pool.notices.requests == {"HEAD": 2 + 1 + 2, "TOKEN": 2}

    # A token the registry refuses the moment it is issued is not fetched in a loop.
    tokens.log.clear()
    tokens.valid_for = -10
    pool = make_pool(ALICE)
    err = refused(pool, lambda c: c.get_manifest("t/exp", "v1"), reg)
    assert (err.status, err.code) == (401, "UNAUTHORIZED")
    assert len(tokens.requests()) == 1
    assert_clean([str(err)], tokens)


def test_identity_token_uses_the_refresh_grant(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    reg = token_registry.address
    # What `docker login` does with such a server: ask for an offline (refresh) token.
    resp = httpx.get(
        tokens.realm,
        params={"service": tokens.service, "offline_token": "true", "client_id": "docker"},
        auth=("alice", SECRET),
    )
    identity = resp.json()["refresh_token"]
    tokens.log.clear()
    # The username "<token>" marks the secret as an identity token (docker's convention).
    cred = lookup_credential(
        reg, None, username_env="U", password_env="P", environ={"U": "<token>", "P": identity}
    )
    assert cred is not None and cred.identity_token == identity and not cred.password
    pool = make_pool(cred)
    digest = run(pool, lambda c: push_image(c, "t/ident", "v1", "ident"), reg)
    assert digest.startswith("sha256:")
    log = tokens.requests()
    assert log and all(
        (r.method, r.grant_type, r.user) == ("POST", "refresh_token", "alice") for r in log
    )
    assert ("repository:t/ident:pull,push",) in scopes_of(tokens)
    assert_clean(pool.notices.messages, tokens)

    # An identity token the server does not know: refused, and the message names the source.
    tokens.log.clear()
    pool = make_pool(Credential(identity_token=SECRET, source="docker-credential-test"))
    err = refused(pool, lambda c: c.head_manifest("t/ident", "v1"), reg)
    assert err.status == 401
    assert "token server refused the credentials from docker-credential-test" in str(err)
    assert_clean([str(err), repr(err)], tokens)

    # A token server without the OAuth2 endpoint: fall back to GET (anonymous pull here).
    tokens.log.clear()
    tokens.post_enabled = False
    pool = make_pool(Credential(identity_token=identity, source="docker-credential-test"))
    assert run(pool, lambda c: c.head_manifest("t/ident", "v1"), reg) is not None
    assert [(r.method, r.user) for r in tokens.requests()] == [("GET", ANONYMOUS)]


def test_wrong_password_on_token_registry(
    tokens: TokenServer, token_registry: RegistryServer
) -> None:
    pool = make_pool(Credential("alice", WRONG, source="test config"))
    err = refused(pool, lambda c: c.head_manifest("t/any", "v1"), token_registry.address)
    assert err.status == 401 and err.repository == "t/any"
    assert "token server refused the credentials from test config" in str(err)
    assert [r.user for r in tokens.requests()] == [None]
    assert_clean([str(err), *pool.notices.messages], tokens)


@pytest.mark.parametrize("mode", ["not-json", "no-token", "bad-token", "error-500"])
def test_token_server_garbage_is_a_clean_error(
    tokens: TokenServer, token_registry: RegistryServer, mode: Any
) -> None:
    tokens.garbage = mode
    pool = make_pool(ALICE)
    err = refused(pool, lambda c: c.head_manifest("t/garbage", "v1"), token_registry.address)
    assert err.registry == token_registry.address and err.repository == "t/garbage"
    if mode == "error-500":
        assert "the token server failed (HTTP 500)" in str(err) and err.retryable
        assert len(tokens.requests()) == FAST.attempts
    else:
        assert "the token server answered garbage" in str(err)
        assert len(tokens.requests()) == 1
    assert "X-Injected" not in str(err)
    assert_clean([str(err), *pool.notices.messages], tokens)


def test_es256_tokens_and_short_expiry(tmp_path: Path) -> None:
    tokens = TokenServer(
        tmp_path / "signer",
        algorithm="ES256",
        users={"alice": SECRET},
        grants={"alice": {"*": ("*",)}},
        expires_in=None,  # Absent: the client assumes 60 s.
    ).start()
    server = RegistryServer(root=tmp_path / "registry", token_auth=tokens.auth_config())
    try:
        _start(server)
        pool = make_pool(ALICE)

        async def work(c: RegistryClient) -> None:
            digest = await push_image(c, "t/es", "v1", "es")
            for _ in range(5):
                info = await c.head_manifest("t/es", "v1")
                assert info is not None and info.digest == digest

        started = time.monotonic()
        run(pool, work, server.address)
        assert time.monotonic() - started < 10
        assert len(tokens.requests()) == 2  # pull (blob HEAD, reads) and pull,push (writes)
        assert_clean(pool.notices.messages, tokens)
    finally:
        server.stop()
        tokens.stop()


def test_token_server_speaks_the_token_spec(tokens: TokenServer) -> None:
    """The harness itself: grants are intersected, POST grants work, tokens carry x5c."""
    scope = [
        ("scope", "repository:t/x:pull,push,delete"),
        ("scope", "repository:127.0.0.1:5000/y:pull"),
    ]
    params = [("service", tokens.service), *scope]
    body = httpx.get(tokens.realm, params=params, auth=("alice", SECRET)).json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    header, claims = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in body["token"].split(".")[:2]
    )
    assert header["alg"] == "RS256" and len(header["x5c"]) == 1
    assert (claims["iss"], claims["aud"], claims["sub"]) == (tokens.issuer, tokens.service, "alice")
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    # alice has every action on t/*, and nothing on another host's y.
    assert claims["access"] == [
        {"type": "repository", "name": "t/x", "actions": ["pull", "push", "delete"]}
    ]
    assert httpx.get(tokens.realm, params=params, auth=("alice", WRONG)).status_code == 401
    form = {
        "grant_type": "password",
        "username": "bob",
        "password": SECRET,
        "access_type": "offline",
    }
    form |= {"service": tokens.service, "scope": "repository:t/x:pull,push", "client_id": "test"}
    grant = httpx.post(tokens.realm, data=form).json()
    assert "token" not in grant and grant["refresh_token"] in tokens.refresh_tokens
    refreshed = httpx.post(
        tokens.realm,
        data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"], "scope": ""},
    )
    assert refreshed.status_code == 200
    assert [(r.method, r.user, r.grant_type) for r in tokens.requests()] == [
        ("GET", "alice", None),
        ("GET", None, None),
        ("POST", "bob", "password"),
        ("POST", "bob", "refresh_token"),
    ]


def test_auth_state_is_per_credential_not_per_registry(basic_registry: RegistryServer) -> None:
    """Two repositories of one registry with different logins: each keeps its own answer."""
    reg = basic_registry.address
    wrong = Credential("alice", WRONG, source="other login")
    asked: list[str | None] = []

    def credential_for(registry: str, repository: str | None) -> Credential | None:
        asked.append(repository)
        return ALICE if repository == "p/good" else wrong

    pool = RegistryPool(
        settings_for=lambda registry: ConnectionSettings(),
        credential_for=credential_for,
        retry=FAST,
        timeout=10.0,
    )

    async def work(c: RegistryClient) -> RegistryError:
        await push_image(c, "p/good", "v1", "percred")
        with pytest.raises(RegistryError) as info:
            await c.head_manifest("p/bad", "v1")
        assert await c.head_manifest("p/good", "v1") is not None  # Still basic with ALICE.
        return info.value

    err = run(pool, work, reg)
    assert (err.status, err.repository) == (401, "p/bad")
    assert sorted(set(asked), key=str) == ["p/bad", "p/good"]
    assert asked.count("p/good") == 1  # Looked up once per repository, not per request.
    assert_clean([str(err), *pool.notices.messages])
