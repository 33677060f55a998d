"""Plain config data together with where each part of it was written.

This is the seam between the stages: YAML produces a :class:`Document`, the schema and the
builder read it. A stage that rewrites data (template expansion, merging several files)
takes a Document and returns one, carrying each value's origin along; a Location names its
file, so a merged Document can point into several files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mplat.config.model import Location
from mplat.values.text import json_quoted

__all__ = ["Document", "JSONPath", "Origin", "Origins", "RawOrigin", "prefixed", "render_path"]

JSONPath = tuple[str | int, ...]
"""Keys and list indexes from the root to a value, e.g. ``("lists", 0, "tags", 1)``."""

RawOrigin = tuple[str, int, int, int, int, str | None]
"""``(file, line, column, key line, key column, scalar text)``; a key line of 0: no key.

How origins are stored: one is recorded per value (300,000 in the largest file allowed),
and a tuple costs a fraction of two Locations and an Origin. Objects are made on demand.
"""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value (and the key naming it, if any) was written; ``text`` is scalar source."""

    value: Location
    key: Location | None = None
    text: str | None = None


class Origins:
    """The Origin of every JSON path, and the nearest written position for any path.

    ``filename`` labels a path written nowhere (which no path of a parsed file is).
    """

    def __init__(self, filename: str, raw: Mapping[JSONPath, RawOrigin]) -> None:
        self.filename = filename
        self._raw = raw
        self._locations: dict[RawOrigin, Location] = {}

    @property
    def raw(self) -> Mapping[JSONPath, RawOrigin]:
        """Every recorded origin, for a stage that rewrites paths (template expansion)."""
        return self._raw

    def get(self, path: JSONPath) -> Origin | None:
        raw = self._raw.get(path)
        if raw is None:
            return None
        file, line, column, key_line, key_column, text = raw
        key = Location(file, key_line, key_column) if key_line else None
        return Origin(Location(file, line, column), key, text)

    def value(self, path: JSONPath) -> Location:
        """Where the value at ``path`` was written (or its nearest written ancestor)."""
        raw = self._raw.get(path)
        if raw is not None:
            # Asked for every value the builder keeps; the items a template expands into share
            # its positions, so they share the Location objects too (10,000 lists: 3 MB).
            found = self._locations.get(raw)
            if found is None:
                found = self._locations[raw] = Location(raw[0], raw[1], raw[2])
            return found
        for end in range(len(path) - 1, -1, -1):
            raw = self._raw.get(path[:end])
            if raw is not None:
                return Location(raw[0], raw[1], raw[2])
        return Location(self.filename, 1, 1)

    def key(self, path: JSONPath) -> Location:
        """Where the key naming ``path`` was written; the value's position for list items."""
        raw = self._raw.get(path)
        if raw is not None and raw[3]:
            return Location(raw[0], raw[3], raw[4])
        return self.value(path)


@dataclass(frozen=True, slots=True)
class Document:
    """A config as JSON-like data (dicts, lists, scalars) and the origins of its parts."""

    data: dict[str, object]
    origins: Origins


def render_path(path: JSONPath) -> str:
    """``lists[0].tags[1]``, ``registries["a.io"]``: how messages name a value."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json_quoted(part)}]"
    return out


def prefixed(path: JSONPath, message: str) -> str:
    """``message`` prefixed by the path it is about (nothing for the root)."""
    return f"{render_path(path)}: {message}" if path else message
