"""Several config files -> one Document, as if the lists had been written in one file.

Release pipelines split their lists across files (one per team, product or registry), yet
the files describe one desired state: ``prune`` of a repository must see the tags declared in
every file, and a registry's TLS settings cannot depend on which file mentions it first. So
``registries``, ``defaults`` and ``variables`` merge setting by setting (the same value twice
is fine, two different values are an error naming both places), and ``lists`` are
concatenated in file order. Origins name their own file, so every later message still points
into the file that holds the value; :func:`local_indexes` turns the merged ``lists[N]`` of
messages back into the index written in that file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mplat.config.model import ConfigError, ConfigProblem
from mplat.config.origins import Document, JSONPath, Origins, RawOrigin, render_path
from mplat.values.text import json_quoted

__all__ = ["Merged", "local_indexes", "merge"]

_MERGED_BY_KEY = {"registries": 2, "defaults": 1, "variables": 1}
"""Top-level mappings that merge across files, and the depth at which their settings sit:
``registries.<host>.<setting>`` and ``defaults.<key>`` / ``variables.<name>``."""

_LIST_INDEX = re.compile(r"\blists\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged document, and for each merged list index the index in its own file."""

    document: Document
    local: Mapping[int, int]


def merge(documents: Sequence[Document]) -> Merged:
    """One Document holding every file's lists and settings; ConfigError on a conflict."""
    if len(documents) == 1:
        return Merged(documents[0], {})
    merger = _Merger()
    for document in documents:
        merger.add(document)
    if merger.problems:
        raise ConfigError(merger.problems)
    return Merged(
        Document(merger.data, Origins(documents[0].origins.filename, merger.raw)), merger.local
    )


class _Merger:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}
        self.raw: dict[JSONPath, RawOrigin] = {}
        self.local: dict[int, int] = {}
        self.problems: list[ConfigProblem] = []
        self._origins: dict[JSONPath, Origins] = {}  # who wrote each merged setting first

    def add(self, document: Document) -> None:
        origins = document.origins
        raw = origins.raw
        if () in raw:
            self.raw.setdefault((), raw[()])
        by_key: dict[str, list[tuple[JSONPath, RawOrigin]]] = {}
        for path, origin in raw.items():
            if path:
                by_key.setdefault(str(path[0]), []).append((path, origin))
        for key, value in document.data.items():
            subtree = by_key.get(key, [])
            if key == "lists" and isinstance(value, list):
                self._lists(value, subtree)
            else:
                self._setting((key,), value, origins, subtree, _MERGED_BY_KEY.get(key, 0))

    def _lists(self, items: list[object], subtree: list[tuple[JSONPath, RawOrigin]]) -> None:
        existing = self.data.setdefault("lists", [])
        if not isinstance(existing, list):
            return  # the first file's non-list `lists` is the schema's to report
        offset = len(existing)
        existing.extend(items)
        for local in range(len(items)):
            self.local[offset + local] = local
        for path, origin in subtree:
            if len(path) == 1:
                self.raw.setdefault(path, origin)
            else:
                index = path[1]
                shifted = offset + index if isinstance(index, int) else index
                self.raw[("lists", shifted, *path[2:])] = origin

    def _setting(
        self,
        path: JSONPath,
        value: object,
        origins: Origins,
        subtree: list[tuple[JSONPath, RawOrigin]],
        depth: int,
    ) -> None:
        """Put ``value`` at ``path``; mappings merge ``depth`` more levels, the rest must agree."""
        parent = self._container(path[:-1])
        key = path[-1]
        assert isinstance(key, str)
        if key not in parent:
            parent[key] = _copied(value, depth)  # later files merge into it, not into this file
            self._origins[path] = origins
            for sub, origin in subtree:
                self.raw[sub] = origin
            return
        present = parent[key]
        if depth > 0 and isinstance(present, dict) and isinstance(value, dict):
            for name, child in value.items():
                child_path = (*path, name)
                self._setting(
                    child_path,
                    child,
                    origins,
                    [(p, o) for p, o in subtree if p[: len(child_path)] == child_path],
                    depth - 1,
                )
            return
        if present != value:
            first = next(
                self._origins[path[:end]]
                for end in range(len(path), 0, -1)
                if path[:end] in self._origins
            )
            self.problems.append(
                ConfigProblem(
                    origins.value(path),
                    f"{render_path(path)}: {_shown(value)} conflicts with {_shown(present)} "
                    f"at {first.value(path)}; a setting must have one value across files",
                )
            )

    def _container(self, path: JSONPath) -> dict[str, object]:
        node: dict[str, object] = self.data
        for part in path:
            child = node.get(str(part))
            assert isinstance(child, dict)  # _setting only descends into mappings
            node = child
        return node


def _copied(value: object, depth: int) -> object:
    if depth > 0 and isinstance(value, dict):
        return {key: _copied(child, depth - 1) for key, child in value.items()}
    return value


def _shown(value: object) -> str:
    if isinstance(value, str):
        return json_quoted(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and len(value) <= 8:
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return "a mapping" if isinstance(value, dict) else "a different value"


def local_indexes(problems: list[ConfigProblem], merged: Merged) -> list[ConfigProblem]:
    """Messages say ``lists[N]`` as written in the file their location names."""
    if not merged.local:
        return problems

    def rename(match: re.Match[str]) -> str:
        local = merged.local.get(int(match.group(1)))
        return match.group(0) if local is None else f"lists[{local}]"

    return [ConfigProblem(p.location, _LIST_INDEX.sub(rename, p.message)) for p in problems]
