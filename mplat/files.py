"""Reading user-named files without trusting them to be small, regular or finite."""

from __future__ import annotations

import os


def read_fd_capped(fd: int, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes from ``fd``: one byte past the limit is enough for
    the caller to say "too large" without reading /dev/zero to the end of memory."""
    chunks: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
