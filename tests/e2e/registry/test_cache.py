"""The on-disk cache under the client and a real registry: a bad entry is refetched.

The cache on its own is tested in tests/unit/registry/test_cache.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from mplat.registry.cache import DiskCache
from mplat.registry.pool import ConnectionSettings, RegistryPool
from tests.support.registry import RegistryServer
from tests.support.seed import seed_image


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_client_refetches_a_poisoned_manifest(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    image = seed_image(registry.url, repo, "x", os="linux", architecture="amd64")
    cache = DiskCache(tmp_path)
    cache_path = tmp_path / "sha256" / image.digest[7:9] / image.digest[7:]

    async def fetch() -> bytes:
        pool = RegistryPool(
            settings_for=lambda r: ConnectionSettings(),
            credential_for=lambda r, repo: None,
            cache=cache,
        )
        try:
            got = await pool.client(registry.address).get_manifest(repo, image.digest)
            return got.data
        finally:
            await pool.aclose()

    assert asyncio.run(fetch()) == image.manifest  # cold: fetched and cached
    assert cache_path.read_bytes() == image.manifest
    cache_path.write_bytes(b'{"schemaVersion": 2, "poisoned": true}')
    assert asyncio.run(fetch()) == image.manifest  # poisoned entry dropped, refetched
    assert cache.discarded == 1
    assert cache_path.read_bytes() == image.manifest


@pytest.mark.timeout(60)
def test_client_refetches_past_a_fifo(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    image = seed_image(registry.url, repo, "x", os="linux", architecture="amd64")
    cache = DiskCache(tmp_path)
    cache_path = tmp_path / "sha256" / image.digest[7:9] / image.digest[7:]
    cache_path.parent.mkdir(parents=True)
    os.mkfifo(cache_path)

    async def fetch() -> bytes:
        pool = RegistryPool(
            settings_for=lambda r: ConnectionSettings(),
            credential_for=lambda r, repo: None,
            cache=cache,
        )
        try:
            got = await pool.client(registry.address).get_manifest(repo, image.digest)
            return got.data
        finally:
            await pool.aclose()

    assert asyncio.run(fetch()) == image.manifest
    assert cache_path.read_bytes() == image.manifest  # the FIFO gave way to a real entry
