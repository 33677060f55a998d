"""The on-disk cache under the client and a real registry: a bad entry is refetched.

The cache on its own is tested in tests/unit/registry/test_cache.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from mplat.engine.sources import SourceResolver
from mplat.registry.cache import DiskCache
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.taghints import FILE_NAME, TagHints
from mplat.values.reference import parse_reference
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


def test_a_source_tag_is_read_with_one_get_unless_the_cache_holds_what_it_held(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    """How a source is read: HEAD then the cached body when the tag's last-seen digest is
    cached; else one GET of the tag."""
    first = seed_image(registry.url, repo, "x", os="linux", architecture="amd64")
    image = parse_reference(f"{registry.address}/{repo}:x")

    async def read() -> tuple[str, dict[str, int]]:
        pool = RegistryPool(
            settings_for=lambda r: ConnectionSettings(),
            credential_for=lambda r, repo: None,
            cache=DiskCache(tmp_path),
            hints=TagHints(tmp_path / FILE_NAME),
        )
        try:
            found = await SourceResolver(pool).manifest(image)
            digest = found.fetched.digest
            return digest, dict(pool.notices.requests)
        finally:
            await pool.aclose()

    assert asyncio.run(read()) == (first.digest, {"GET": 1})  # never seen: one GET
    assert asyncio.run(read()) == (first.digest, {"HEAD": 1})  # seen and cached: a HEAD
    moved = seed_image(registry.url, repo, "x", os="linux", architecture="arm64")
    assert asyncio.run(read()) == (moved.digest, {"HEAD": 1, "GET": 1})  # moved: then a GET
    assert asyncio.run(read()) == (moved.digest, {"HEAD": 1})
    entry = tmp_path / "sha256" / moved.digest[7:9] / moved.digest[7:]
    entry.unlink()  # evicted from the cache: the hint no longer helps
    assert asyncio.run(read()) == (moved.digest, {"GET": 1})
