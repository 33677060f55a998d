"""mplat.registry.pool: one client per registry, each with its own settings; no network."""

from __future__ import annotations

import asyncio
import inspect

from mplat.registry.api import DEFAULT_PARALLELISM
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.session import Session
from mplat.registry.transports import ChoosingTransport
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


def test_only_registries_without_their_own_parallelism_get_a_fitted_one() -> None:
    def settings(registry: str) -> ConnectionSettings:
        if registry == "own.example":
            return ConnectionSettings(parallelism=2)
        return ConnectionSettings(http2=registry == "h2.example")

    async def main() -> None:
        for fit in (True, False):
            pool = RegistryPool(
                settings_for=settings, credential_for=lambda *_: None, fit_parallelism=fit
            )
            try:
                own = pool.client("own.example").session._gate.inflight
                other = pool.client("other.example").session._gate.inflight
                assert (own.base, own._adaptive) == (2, False)
                assert (other.base, other._adaptive) == (DEFAULT_PARALLELISM, fit)
                h2 = pool.client("h2.example").session._transport
                plain = pool.client("other.example").session._transport
                assert isinstance(h2, ChoosingTransport) and h2._http2 is True
                assert isinstance(plain, ChoosingTransport) and plain._http2 is False
            finally:
                await pool.aclose()

    asyncio.run(main())
