"""Which digest each tag held when this machine last read it: a hint, never trusted.

A source's manifest is needed whole, and the content cache answers only by digest. Asking
the registry for the digest (HEAD) costs the round trip a GET of the tag would, so the
choice between "HEAD, then the cached body" and "one GET" needs a guess made locally: a tag
whose last-seen digest is in the cache is probably unchanged and is HEADed (no body, and
free on Docker Hub's pull limit); any other tag is read with one verified GET. A wrong or
stale hint costs at most one extra request, never a wrong answer: the registry's reply
decides, and the cache verifies every body by its digest.

The hints are one small JSON file beside the cache, read on first use and written back once
at the end of a run, merged with what other runs wrote meanwhile.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from mplat.files import read_regular, write_atomic
from mplat.values.digest import is_digest

FILE_NAME = "tags-v1.json"
MAX_ENTRIES = 200_000
"""Hints kept (the most recently seen): ~25 MB of JSON at most, read in well under a second."""
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class TagHints:
    """``registry/repository:tag`` -> the digest it held when last read from the registry."""

    path: Path
    _seen: dict[str, str] | None = field(default=None, repr=False)
    _changed: dict[str, str] = field(default_factory=dict, repr=False)

    def get(self, key: str) -> str | None:
        return self._changed.get(key) or self._loaded().get(key)

    def put(self, key: str, digest: str) -> None:
        if self.get(key) != digest:
            self._changed[key] = digest

    def save(self) -> None:
        """Write this run's hints over the file's current ones; a failure only costs speed."""
        if not self._changed:
            return
        merged = self._read()  # what other runs wrote since this one read the file
        for key, digest in self._changed.items():
            merged.pop(key, None)  # re-inserted last: the most recently seen survive the cap
            merged[key] = digest
        keep = list(merged.items())[-MAX_ENTRIES:]
        data = json.dumps({"version": 1, "tags": dict(keep)}, separators=(",", ":"))
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data.encode(), sync=False)
        self._seen, self._changed = dict(keep), {}

    def _loaded(self) -> dict[str, str]:
        if self._seen is None:
            self._seen = self._read()
        return self._seen

    def _read(self) -> dict[str, str]:
        """The file's hints; nothing when it is missing, unreadable or not ours."""
        try:
            doc = json.loads(read_regular(self.path, MAX_FILE_BYTES))
        except (OSError, ValueError, UnicodeDecodeError):
            return {}
        tags = doc.get("tags") if isinstance(doc, dict) and doc.get("version") == 1 else None
        if not isinstance(tags, dict):
            return {}
        return {k: v for k, v in tags.items() if isinstance(v, str) and is_digest(v)}
