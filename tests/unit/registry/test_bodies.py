"""mplat.registry.bodies: bounded body reads, by size and by total time; no network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from mplat.registry.bodies import read_capped, read_limited


def _streamed(*chunks: bytes, pause: float = 0.0) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            await asyncio.sleep(pause)
            yield chunk

    return httpx.Response(200, content=body())


def test_read_capped_keeps_at_most_limit_bytes_as_the_content_and_closes() -> None:
    for chunks, limit, kept in [
        ((b"abc", b"def"), 10, b"abcdef"),
        ((b"abc", b"def"), 6, b"abcdef"),
        ((b"abc", b"def", b"never read"), 4, b"abcd"),
        ((), 4, b""),
    ]:
        resp = _streamed(*chunks)
        assert asyncio.run(read_capped(resp, limit)) == kept
        assert resp.content == kept and resp.is_closed


def test_read_limited_gives_the_whole_body_or_none() -> None:
    assert asyncio.run(read_limited(_streamed(b"abc", b"def"), 6)) == b"abcdef"
    assert asyncio.run(read_limited(_streamed(b"abc", b"def"), 5)) is None
    assert asyncio.run(read_limited(_streamed(), 0)) == b""


@pytest.mark.parametrize("read", [read_capped, read_limited])
def test_a_slow_body_runs_into_the_deadline(
    read: Callable[..., Coroutine[Any, Any, object]],
) -> None:
    resp = _streamed(b"a", b"b", b"c", pause=0.2)
    with pytest.raises(httpx.ReadTimeout, match=r"longer than 0\.1s"):
        asyncio.run(read(resp, 100, deadline=0.1))
