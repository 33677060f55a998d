"""Reading response bodies with bounds a hostile registry cannot stretch.

Both the size and the total time of a read are capped: the per-read timeout alone lets a
registry that sends one byte a second keep mplat reading for days. Used by the request
pipeline (errors, tag lists, tokens) and by the operations (manifests).
"""

from __future__ import annotations

import asyncio

import httpx

MAX_SMALL_BODY = 1 << 20
"""Answers mplat reads whole (errors, tag lists, tokens) are small; a registry that sends
more is not owed the memory, so reading stops here."""


async def _read(resp: httpx.Response, limit: int, deadline: float | None) -> tuple[bytes, bool]:
    """The one bounded read: the body's first ``limit`` bytes, and whether it had more
    (reading stops there). ``deadline`` bounds the whole read."""
    buf = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in resp.aiter_bytes():
                buf += chunk
                if len(buf) > limit:
                    del buf[limit:]
                    return bytes(buf), True
    except TimeoutError:
        raise httpx.ReadTimeout(f"the body took longer than {deadline:g}s") from None
    return bytes(buf), False


async def read_capped(
    resp: httpx.Response, limit: int = MAX_SMALL_BODY, deadline: float | None = None
) -> bytes:
    """Read at most ``limit`` bytes of a streamed response, close it, and keep what was read
    as the response's content (so ``resp.content`` / ``resp.json()`` work as usual).

    ``deadline`` bounds the whole read.
    """
    try:
        data, _ = await _read(resp, limit, deadline)
    finally:
        await resp.aclose()
    resp._content = data  # httpx's own slot for a read body
    return data


async def read_limited(
    resp: httpx.Response, limit: int, deadline: float | None = None
) -> bytes | None:
    """Read a whole body, or None once it passes ``limit`` bytes (a manifest too large to be
    one): unlike :func:`read_capped` a cut body is useless here, so none is returned."""
    data, over = await _read(resp, limit, deadline)
    return None if over else data
