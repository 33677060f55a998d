"""On-disk cache of immutable content: manifests and config blobs, keyed by digest.

Content addressed by digest never changes, so a cached copy is as good as a fresh one, as
long as it is verified: every read re-hashes the bytes and discards an entry that does not
match (a poisoned or half-written file is refetched, never trusted). Writes go to a
temporary file and are renamed into place, so concurrent runs never see partial entries.
The cache is bounded: when it grows past its limit the least recently written entries go.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mplat.files import home_dir, open_regular, read_fd_capped, write_atomic
from mplat.values.digest import sha256_digest
from mplat.values.manifest import MAX_MANIFEST_BYTES

DEFAULT_LIMIT = 256 * 1024 * 1024
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache lives, or None when there is no home to put it in (run uncached)."""
    env = os.environ if environ is None else environ
    if env.get("MPLAT_CACHE_DIR"):
        return Path(env["MPLAT_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mplat"
    home = home_dir(env)
    return None if home is None else home / ".cache" / "mplat"


@dataclass
class DiskCache:
    root: Path
    limit: int = DEFAULT_LIMIT
    hits: int = 0
    misses: int = 0
    discarded: int = 0
    _written: int = field(default=0, repr=False)
    _dirs: set[str] = field(default_factory=set, repr=False)
    """Entry directories known to exist: a run writes thousands of entries into 256 of them."""

    def _path(self, digest: str) -> str | None:
        """The entry's file, a string: Path objects cost more than the read or write."""
        if not _SHA256.fullmatch(digest):
            return None
        return os.path.join(self.root, "sha256", digest[7:9], digest[7:])

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            # Only a regular file: a FIFO put in an entry's place would block the run forever.
            fd = open_regular(path)
        except OSError as exc:
            self.misses += 1
            if exc.errno == errno.EINVAL:  # not a regular file: move it out of the way
                self.discarded += 1
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return None
        try:
            data = read_fd_capped(fd, MAX_MANIFEST_BYTES)
        except OSError:
            self.misses += 1
            return None
        finally:
            os.close(fd)
        if sha256_digest(data) != digest:
            # Corrupt or tampered: never trust it, drop it and let the caller refetch.
            self.discarded += 1
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None
        self.hits += 1
        return data

    def has(self, digest: str) -> bool:
        """Whether an entry is stored (not verified: ``get`` does that when it is read)."""
        path = self._path(digest)
        return path is not None and os.path.isfile(path)

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path is None or len(data) > MAX_MANIFEST_BYTES:
            return
        if sha256_digest(data) != digest:
            return
        try:
            directory = os.path.dirname(path)
            if directory not in self._dirs:
                os.makedirs(directory, exist_ok=True)
                self._dirs.add(directory)
            write_atomic(path, data, sync=False)
        except OSError:
            self._dirs.discard(directory)  # Removed under us, perhaps: look again next time.
            return  # A cache that cannot be written is only slower, never wrong.
        self._written += len(data)

    def trim(self) -> int:
        """Evict oldest entries until under the limit; returns bytes removed.

        Called once per run after writes, not per write: listing the cache is the cost.
        """
        if self._written == 0:
            return 0
        entries: list[tuple[float, int, Path]] = []
        total = 0
        base = self.root / "sha256"
        try:
            for sub in os.scandir(base):
                if not sub.is_dir():
                    continue
                for e in os.scandir(sub.path):
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    entries.append((st.st_mtime, st.st_size, Path(e.path)))
                    total += st.st_size
        except OSError:
            return 0
        removed = 0
        if total <= self.limit:
            return 0
        for _mtime, size, path in sorted(entries):
            if total - removed <= self.limit * 0.9:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                removed += size
        return removed
