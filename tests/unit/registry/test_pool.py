"""mplat.registry.pool: one client per registry, each with its own settings; no network."""

from __future__ import annotations

import asyncio
import inspect

from mplat.registry.api import DEFAULT_PARALLELISM
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.session import Session
from mplat.values.reference import parse_reference


def test_one_client_per_registry_with_its_own_settings() -> None:
    asked: list[str] = []

    def settings(registry: str) -> ConnectionSettings:
        asked.append(registry)
        if registry == "r.example:5000":
            return ConnectionSettings(insecure=True, parallelism=2)
        return ConnectionSettings()

    async def main() -> None:
        pool = RegistryPool(settings_for=settings, credential_for=lambda *_: None)
        try:
            local = pool.client("r.example:5000")
            assert pool.client("r.example:5000") is local
            hub = pool.client("docker.io")
            assert (local.session.insecure, local.session.api_host) == (True, "r.example:5000")
            assert (hub.session.insecure, hub.session.registry) == (False, "docker.io")
            # The same API host as a parsed reference's: one source of truth.
            assert hub.session.api_host == parse_reference("busybox").api_host
            assert hub.session.api_host == "registry-1.docker.io"
        finally:
            await pool.aclose()

    asyncio.run(main())
    assert asked == ["r.example:5000", "docker.io"]


def test_connection_settings_default_to_verified_https_and_the_pool_parallelism() -> None:
    assert ConnectionSettings() == ConnectionSettings(
        insecure=False, ca_file=None, parallelism=None
    )


def test_the_default_parallelism_is_one_number() -> None:
    pool = RegistryPool(settings_for=lambda _: ConnectionSettings(), credential_for=lambda *_: None)
    assert pool.parallelism == DEFAULT_PARALLELISM
    assert inspect.signature(Session).parameters["parallelism"].default == DEFAULT_PARALLELISM
