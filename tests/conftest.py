"""Shared fixtures: a session-wide real registry, per-test repository names, extra registries."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.registry import (
    MISSING_BINARY_MESSAGE,
    REGISTRY_BINARY,
    RegistryServer,
)


def _require_registry_binary() -> None:
    if not REGISTRY_BINARY.exists():
        pytest.fail(MISSING_BINARY_MESSAGE, pytrace=False)


def _started(server: RegistryServer) -> RegistryServer:
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start docker-registry: {exc}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One plain-HTTP registry (delete enabled, no auth) shared by the whole session."""
    _require_registry_binary()
    server = _started(RegistryServer(root=tmp_path_factory.mktemp("registry")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _repo_counter() -> Iterator[int]:
    return itertools.count(1)


def _sanitise(name: str) -> str:
    """Fold a test name into a valid repository path component (lowercase, [-] separators)."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return cleaned[:80].rstrip("-") or "test"


@pytest.fixture
def repo(request: pytest.FixtureRequest, _repo_counter: Iterator[int]) -> str:
    """A repository name unique to this test, so tests sharing the registry never collide."""
    return f"t/{_sanitise(request.node.name)}-{next(_repo_counter)}"


@pytest.fixture
def make_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RegistryServer]]:
    """Factory for extra registries (auth, TLS, delete disabled); all stopped at teardown."""
    _require_registry_binary()
    servers: list[RegistryServer] = []

    def factory(**kwargs: Any) -> RegistryServer:
        kwargs.setdefault("root", tmp_path_factory.mktemp("registry-extra"))
        server = RegistryServer(**kwargs)
        servers.append(server)
        return _started(server)

    try:
        yield factory
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep mplat's on-disk cache inside the test session, never in the user's home."""
    import os

    old = os.environ.get("MPLAT_CACHE_DIR")
    cache = tmp_path_factory.mktemp("mplat-cache")
    os.environ["MPLAT_CACHE_DIR"] = str(cache)
    try:
        yield
        # Secrets scan over the whole session: every output the CLI produced, every plan
        # file it saved, and the cache. A leak fails the session at teardown.
        from tests.support import secrets

        leaks = [n for text in secrets.OUTPUTS for n in secrets.leaks_in(text)]
        leaks += [f"{f}: {n}" for f, n in secrets.scan_files([cache, *secrets.WRITTEN_FILES])]
        assert not leaks, f"test secrets leaked: {leaks}"
    finally:
        if old is None:
            os.environ.pop("MPLAT_CACHE_DIR", None)
        else:
            os.environ["MPLAT_CACHE_DIR"] = old
