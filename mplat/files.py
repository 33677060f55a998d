"""Reading user-named files without trusting them to be small, regular or finite, and
replacing files so that no reader ever sees half of one."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
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


class NotRegularFileError(OSError):
    """``open_regular`` met a FIFO, device or directory: OSError(EINVAL), with its ``st_mode``.

    The mode lets a caller word "is a directory" apart from other refusals.
    """

    def __init__(self, path: str | os.PathLike[str], st_mode: int) -> None:
        super().__init__(errno.EINVAL, "not a regular file", os.fspath(path))
        self.st_mode = st_mode


def open_regular(path: str | os.PathLike[str]) -> int:
    """Open ``path`` for reading only if it is a regular file; returns the descriptor.

    O_NONBLOCK: opening a FIFO without a writer would otherwise block forever, before fstat
    could refuse it. Anything else (FIFO, device, directory) raises NotRegularFileError, an
    OSError(EINVAL).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(st_mode):
            raise NotRegularFileError(path, st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class TooLargeError(OSError):
    """``read_regular`` met a file over its limit (or one that grew past it while read)."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        super().__init__(errno.EFBIG, f"more than {limit} bytes", os.fspath(path))
        self.limit = limit


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """All of a regular file of at most ``limit`` bytes; pipes and devices could block or
    never end. Raises what ``open_regular`` raises (FileNotFoundError, NotRegularFileError,
    ValueError for a NUL byte in the path, ...) and TooLargeError; see ``read_refusal``."""
    fd = open_regular(path)
    try:
        if os.fstat(fd).st_size > limit:
            raise TooLargeError(path, limit)
        data = read_fd_capped(fd, limit)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise TooLargeError(path, limit)
    return data


def read_refusal(exc: BaseException, kind: str) -> str:
    """Why ``read_regular`` refused a file, worded for a user who gave it as a ``kind``
    ("plan file", "lock file"): one wording for every file mplat is handed."""
    if isinstance(exc, NotRegularFileError):
        if stat.S_ISDIR(exc.st_mode):
            return f"is a directory, not a {kind}"
        return f"not a regular file, so not a {kind}"
    if isinstance(exc, IsADirectoryError):  # where a directory cannot even be opened
        return f"is a directory, not a {kind}"
    if isinstance(exc, TooLargeError):
        return f"too large for a {kind} (more than {exc.limit} bytes)"
    return f"cannot read the {kind} ({os_reason(exc)})"


def os_reason(exc: BaseException) -> str:
    """The reason an OSError gives ("No space left on device"), else the exception's text."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def write_refusal(path: str | os.PathLike[str]) -> str | None:
    """Why ``write_atomic`` must not replace ``path``, or None when it may.

    Only a regular file (or nothing) is replaced: os.replace would swap a device such as
    /dev/null, or a FIFO, for a regular file, which as root breaks the whole machine. Asked
    before the work whose result is written, so a bad path costs no registry requests.
    """
    target = Path(path)
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
        return os_reason(exc)
    if mode is not None and not stat.S_ISREG(mode):
        return "is a directory" if stat.S_ISDIR(mode) else "not a regular file"
    try:
        parent = os.stat(target.parent).st_mode
    except (OSError, ValueError) as exc:
        return os_reason(exc)
    return None if stat.S_ISDIR(parent) else "Not a directory"


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    mode: int = 0o600,
    *,
    prefix: str = ".tmp-",
    sync: bool = True,
) -> None:
    """Replace ``path`` with ``data`` at once: readers see the old file or the new, never half.

    The temporary file is a sibling (os.replace is atomic only within one filesystem) named
    ``prefix``..., created with permissions ``mode``, and removed on any failure. ``sync``
    forces the data out before the rename: some filesystems (NFS, quotas, delayed
    allocation) report ENOSPC or EIO only then, and a file that never reached the disk must
    not be reported written. Errors are OSError about the temporary file: callers name
    ``path`` themselves.
    """
    fd, tmp = _create_sibling(os.path.dirname(os.fspath(path)) or ".", prefix)
    try:
        try:
            if mode != 0o600:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _create_sibling(directory: str, prefix: str) -> tuple[int, str]:
    """A new file in ``directory`` that only this call holds (O_EXCL, mode 0600).

    mkstemp's guarantee at a quarter of its cost, which counts where the content cache
    writes thousands of small entries in one run: a random name from os.urandom, and a
    file object never made for bytes written once.
    """
    for _ in range(100):
        name = os.path.join(directory, prefix + os.urandom(6).hex())
        try:
            return os.open(name, _CREATE_FLAGS, 0o600), name
        except FileExistsError:
            continue
    return tempfile.mkstemp(prefix=prefix, dir=directory)


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
