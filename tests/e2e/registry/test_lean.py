"""LeanTransport against the real docker-registry, through a proxy that counts connections.

The framing corners are tested against scripted servers in tests/unit/registry/test_lean.py.
"""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from tests.support.rawserver import (
    Handler,
    RawServer,
    client,
    parts,
    run,
)
from tests.support.registry import RegistryServer

pytestmark = pytest.mark.timeout(30)


# -- the real registry --------------------------------------------------------------------------


def _proxy(upstream: tuple[str, int]) -> Handler:
    """A handler piping each accepted connection to ``upstream``, so the server counts them."""

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _conn: int
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*upstream)
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()

    return handler


def test_real_registry_keep_alive(registry: RegistryServer, repo: str) -> None:
    blob = b"lean transport blob " * 500
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    async def main() -> None:
        handler = _proxy((registry.host, registry.port))
        async with RawServer(handler=handler) as proxy, client() as c:
            base = proxy.url
            head = await c.head(f"{base}/v2/")
            assert head.status_code == 200, head
            get = await c.get(f"{base}/v2/")
            assert (get.status_code, get.json()) == (200, {})
            missing = await c.head(f"{base}/v2/{repo}/blobs/{digest}")
            assert missing.status_code == 404
            start = await c.post(f"{base}/v2/{repo}/blobs/uploads/")
            assert start.status_code == 202, start.text
            upload = httpx.URL(base).join(start.headers["location"])
            put = await c.put(upload.copy_merge_params({"digest": digest}), content=blob)
            assert put.status_code == 201, put.text
            found = await c.head(f"{base}/v2/{repo}/blobs/{digest}")
            assert found.status_code == 200
            assert found.headers["content-length"] == str(len(blob))
            assert found.headers["docker-content-digest"] == digest
            body = await c.get(f"{base}/v2/{repo}/blobs/{digest}")
            assert body.content == blob
            # A second blob, streamed in chunks without a length.
            second = b"chunked upload " * 300
            second_digest = "sha256:" + hashlib.sha256(second).hexdigest()
            start = await c.post(f"{base}/v2/{repo}/blobs/uploads/")
            upload = httpx.URL(base).join(start.headers["location"])
            put = await c.put(
                upload.copy_merge_params({"digest": second_digest}),
                content=parts(second[:1000], second[1000:]),
            )
            assert put.status_code == 201, put.text
            assert (await c.get(f"{base}/v2/{repo}/blobs/{second_digest}")).content == second
            assert proxy.accepted == 1

    run(main())
