"""Reading user-named files without trusting them to be small, regular or finite."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path


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


def open_regular(path: str | os.PathLike[str]) -> int:
    """Open ``path`` for reading only if it is a regular file; returns the descriptor.

    O_NONBLOCK: opening a FIFO without a writer would otherwise block forever, before fstat
    could refuse it. Anything else (FIFO, device, directory) raises OSError(EINVAL).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def home_dir(environ: Mapping[str, str]) -> Path | None:
    """The user's home directory, or None when there is none to use.

    Path.home() raises RuntimeError when HOME is unset and the uid has no passwd entry (a
    container run with ``--user 1234``); an empty or relative HOME would put files under
    ``/`` or the current directory. Callers skip what lives in the home instead.
    """
    home = environ.get("HOME")
    if home is None:
        try:
            import pwd  # POSIX only

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            return None
    return Path(home) if os.path.isabs(home) else None
