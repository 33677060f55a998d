"""Lock files on disk: bounded reads that never block on a pipe, atomic writes.

The format is ``plan/lock.py``; which path the lock of a config has is ``cli/locking.py``'s
decision. A lock file is read as untrusted input: a regular file of at most MAX_LOCK_BYTES,
every problem reported with the file's name (and line, where the format can tell).
"""

from __future__ import annotations

import os
from pathlib import Path

from mplat.files import os_reason, read_refusal, read_regular, write_atomic, write_refusal
from mplat.plan.lock import Lock, LockError, decode, encode

__all__ = ["MAX_LOCK_BYTES", "check_destination", "read_lock", "write_lock"]

MAX_LOCK_BYTES = 32 * 1024 * 1024
"""A pin is about 250 bytes; the largest config (6 MiB, ~30,000 distinct sources) locks in
under 8 MiB. The cap stops endless or hostile files before they are parsed."""


def read_lock(path: str | os.PathLike[str]) -> Lock | None:
    """The lock at ``path``, named by it in messages; None when there is no file there."""
    p = Path(path)
    raw = _read(p)
    return None if raw is None else decode(raw, str(p))


def write_lock(path: str | os.PathLike[str], lock: Lock) -> bool:
    """Replace the file with ``lock`` atomically; False (nothing written) if it already says so.

    Leaving an unchanged file alone keeps its mtime and inode, so build tools and watchers
    see no change where there is none.
    """
    p = Path(path)
    data = encode(lock).encode("utf-8")
    check_destination(p)
    try:
        if _read(p) == data:
            return False
    except LockError:
        pass  # an unreadable old file is replaced
    try:
        write_atomic(p, data, 0o644, prefix=".mplat-lock-")
    except OSError as exc:
        raise _write_error(p, exc) from None
    return True


def check_destination(path: str | os.PathLike[str]) -> None:
    """Refuse a path a lock cannot be written to, before any registry is asked anything."""
    reason = write_refusal(path)
    if reason is not None:
        raise LockError(f"{Path(path)}: cannot write the lock file ({reason})")


def _write_error(p: Path, exc: BaseException) -> LockError:
    # Names the path the user has, never the temporary file the error may be about.
    return LockError(f"{p}: cannot write the lock file ({os_reason(exc)})")


def _read(p: Path) -> bytes | None:
    """At most MAX_LOCK_BYTES of a regular file; None when it does not exist."""
    try:
        return read_regular(p, MAX_LOCK_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
        raise LockError(f"{p}: {read_refusal(exc, 'lock file')}") from None
