"""Templating: ``variables``, ``${name}`` interpolation and ``for_each`` on list items.

A stage between :mod:`~mplat.config.yamlnodes` and :mod:`~mplat.config.schema`: it takes a
:class:`Document` and returns one, so the schema and the builder check expanded items as if
they had been written out, and every value keeps the position of the template it came from.
Which combination an expanded item is (``for_each product=api version=1.1``) is returned
beside the document, for :func:`annotate` to add to messages about it.

Interpolation yields strings only, and only in the strings that name things (repository,
tags, image, platform strings, annotation values): a variable can never change the shape of
the config. Values given on the command line or in the environment are taken literally.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mplat.config.interpolate import NAME as _NAME
from mplat.config.interpolate import Parts, interpolate
from mplat.config.interpolate import TemplateProblem as _Problem
from mplat.config.model import ConfigError, ConfigProblem, Location
from mplat.config.origins import Document, JSONPath, Origins, RawOrigin, prefixed, render_path
from mplat.config.read import SPLIT_HINT
from mplat.config.yamlnodes import MAX_NODES
from mplat.values.text import json_quoted

__all__ = ["Expansion", "VariableInputs", "annotate", "expand", "interpolate"]

_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._/:@+-]+")
_LIST_INDEX = re.compile(r"lists\[(\d+)\]((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\]|\[\"[^\"]*\"\])*)")

Value = str | tuple[str, ...]
"""A variable's value: a string, or a list of strings (usable as a for_each axis)."""


@dataclass(frozen=True, slots=True)
class VariableInputs:
    """Values from outside the file: ``--var`` flags win over ``MPLAT_VAR_<NAME>``."""

    flags: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expansion:
    """The expanded document, and for each expanded item its template index and combination."""

    document: Document
    combinations: Mapping[int, tuple[int, str]]


class _Variables:
    """The top-level variables: declared in the file, overridden from outside, resolved lazily."""

    def __init__(self, document: Document, inputs: VariableInputs) -> None:
        self.origins = document.origins
        self.problems: list[ConfigProblem] = []
        self._raw: dict[str, tuple[Value, bool]] = {}  # name -> (value, written in the file)
        self._resolved: dict[str, Value] = {}
        self._resolving: list[str] = []
        self._broken: set[str] = set()  # declared, but reported as wrong where declared
        raw = document.data.get("variables", {})
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self._problem(("variables",), "expected a mapping of name -> string or list of strings")
            raw = {}
        for name, value in raw.items():
            path: JSONPath = ("variables", name)
            if not _NAME.fullmatch(name):
                self._problem(path, "a variable name is letters, digits and '_', not a digit first")
                continue
            parsed = self._scalars(path, value)
            if parsed is not None:
                self._raw[name] = (parsed, True)
        for source, values in (("MPLAT_VAR_", inputs.env), ("--var ", inputs.flags)):
            for name, text in values.items():
                declared = self._raw.get(name)
                if declared is None:
                    if source == "--var ":
                        self.problems.append(
                            ConfigProblem(
                                Location(self.origins.filename, 0, 0),
                                f"--var {json_quoted(name)}: no variable of that name is "
                                f"declared (declared: {self.known()})",
                            )
                        )
                    continue  # the environment may hold variables for other files
                # A list variable takes a comma-separated value; outside values are literal.
                given: Value = tuple(text.split(",")) if isinstance(declared[0], tuple) else text
                self._raw[name] = (given, False)

    def _problem(self, path: JSONPath, message: str) -> None:
        self.problems.append(ConfigProblem(self.origins.value(path), prefixed(path, message)))

    def _scalars(self, path: JSONPath, value: object) -> Value | None:
        if isinstance(value, list):
            items = [self._scalar((*path, i), v) for i, v in enumerate(value)]
            if any(item is None for item in items):
                return None
            return tuple(item for item in items if item is not None)
        return self._scalar(path, value)

    def _scalar(self, path: JSONPath, value: object) -> str | None:
        return scalar_text(self.origins, path, value, self._problem)

    def names(self) -> list[str]:
        return sorted(self._raw)

    def known(self) -> str:
        return ", ".join(self.names()) or "none"

    def get(self, name: str) -> Value | None:
        """The value of ``name`` with its own ``${}`` resolved; None if not declared."""
        done = self._resolved.get(name)
        if done is not None:
            return done
        entry = self._raw.get(name)
        if entry is None:
            return None
        if name in self._resolving:
            members = self._resolving[self._resolving.index(name) :]
            chain = " -> ".join([*members, name])
            raise _Problem(
                f"variable {json_quoted(name)} refers to itself ({chain})", frozenset(members)
            )
        value, in_file = entry
        if not in_file:
            self._resolved[name] = value
            return value
        self._resolving.append(name)
        try:
            if isinstance(value, tuple):
                resolved: Value = tuple(interpolate(v, self.lookup) for v in value)
            else:
                resolved = interpolate(value, self.lookup)
        finally:
            self._resolving.pop()
        self._resolved[name] = resolved
        return resolved

    def lookup(self, name: str) -> str:
        if name in self._broken:
            raise _Problem(f"variable {json_quoted(name)} is broken", reported=True)
        value = self.get(name)
        if value is None:
            raise _Problem(f"unknown variable {json_quoted(name)} (known: {self.known()})")
        if isinstance(value, tuple):
            raise _Problem(
                f"variable {json_quoted(name)} is a list; a list can only be a for_each axis"
            )
        return value

    def check_all(self) -> None:
        """Resolve every file variable once, so a cycle or unknown name is reported at it."""
        cycles: set[frozenset[str]] = set()
        for name in list(self._raw):
            try:
                self.get(name)
            except _Problem as exc:
                self._broken.add(name)  # its uses are not reported again: one cause, one error
                if exc.reported:
                    continue
                if exc.cycle is not None:
                    if exc.cycle in cycles:
                        continue
                    cycles.add(exc.cycle)
                self._problem(("variables", name), exc.message)


def scalar_text(
    origins: Origins, path: JSONPath, value: object, problem: Callable[[JSONPath, str], None]
) -> str | None:
    """A scalar as a string: numbers as the user spelled them (YAML reads 1.10 as 1.1)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)) or value is None:
        problem(path, "expected a string (variables hold strings, never structure)")
        return None
    origin = origins.get(path)
    return origin.text if origin is not None and origin.text else str(value)


def expand(document: Document, inputs: VariableInputs | None = None) -> Expansion:
    """``document`` with variables interpolated and for_each items expanded; ConfigError if not."""
    variables = _Variables(document, inputs or VariableInputs())
    variables.check_all()
    expander = _Expander(document, variables)
    expansion = expander.run()
    problems = variables.problems + expander.problems
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return expansion


class _Expander:
    def __init__(self, document: Document, variables: _Variables) -> None:
        self.document = document
        self.origins = document.origins
        self.variables = variables
        self.problems: list[ConfigProblem] = []
        self._reported: set[tuple[JSONPath, str]] = set()
        self._parsed: dict[str, Parts] = {}

    def _problem(self, path: JSONPath, message: str, combination: str = "") -> None:
        if (path, message) in self._reported:
            return  # the same mistake in every combination of a template is one problem
        self._reported.add((path, message))
        shown = f"{render_path(path)} ({combination})" if combination else render_path(path)
        self.problems.append(ConfigProblem(self.origins.value(path), f"{shown}: {message}"))

    def run(self) -> Expansion:
        data = dict(self.document.data)
        data.pop("variables", None)  # resolved; the builder has nothing to do with them
        items = data.get("lists")
        if not isinstance(items, list):
            return Expansion(Document(data, self.origins), {})
        if not any(isinstance(item, dict) and "for_each" in item for item in items):
            data["lists"] = [self._item(("lists", i), item, {}, "") for i, item in enumerate(items)]
            return Expansion(Document(data, self.origins), {})
        subpaths = self._subpaths(len(items))
        rows_of = [self._rows(i, item) for i, item in enumerate(items)]
        total = sum(len(subpaths[i]) * max(len(rows or ()), 1) for i, rows in enumerate(rows_of))
        if total > MAX_NODES:
            first = next(i for i, rows in enumerate(rows_of) if rows)
            self._problem(
                ("lists", first, "for_each"),
                f"for_each expands the lists to {total} values, over the limit of {MAX_NODES} "
                f"for one file; {SPLIT_HINT}",
            )
            return Expansion(Document(data, self.origins), {})
        raw: dict[JSONPath, RawOrigin] = {
            path: origin
            for path, origin in self.origins.raw.items()
            if len(path) < 2 or path[0] != "lists"
        }
        out: list[object] = []
        combinations: dict[int, tuple[int, str]] = {}
        for index, item in enumerate(items):
            rows = rows_of[index]
            for scope, shown in rows if rows is not None else [({}, "")]:
                new_index = len(out)
                if shown or new_index != index:
                    combinations[new_index] = (index, shown)
                out.append(self._item(("lists", index), item, scope, shown))
                for rest, origin in subpaths[index]:
                    raw[("lists", new_index, *rest)] = origin
        data["lists"] = out
        return Expansion(Document(data, Origins(self.origins.filename, raw)), combinations)

    def _subpaths(self, count: int) -> list[list[tuple[JSONPath, RawOrigin]]]:
        """Each list item's origins, relative to the item, without its for_each."""
        out: list[list[tuple[JSONPath, RawOrigin]]] = [[] for _ in range(count)]
        for path, origin in self.origins.raw.items():
            if len(path) >= 2 and path[0] == "lists" and isinstance(path[1], int):
                rest = path[2:]
                if not rest or rest[0] != "for_each":
                    out[path[1]].append((rest, origin))
        return out

    def _rows(self, index: int, item: object) -> list[tuple[dict[str, str], str]] | None:
        """The combinations of an item's for_each (None: the item has none)."""
        if not isinstance(item, dict) or "for_each" not in item:
            return None
        path: JSONPath = ("lists", index, "for_each")
        spec = item["for_each"]
        rows: list[dict[str, str]] = []
        if isinstance(spec, dict) and spec:
            axes: list[tuple[str, tuple[str, ...]]] = []
            for name, values in spec.items():
                axis = self._axis((*path, name), name, values)
                if axis is None:
                    return []
                axes.append((name, axis))
            names = [name for name, _ in axes]
            rows = [dict(zip(names, combo, strict=True)) for combo in _product(axes)]
        elif isinstance(spec, list) and spec:
            for row_index, row in enumerate(spec):
                row_path = (*path, row_index)
                if not isinstance(row, dict) or not row:
                    self._problem(row_path, "expected a mapping of name -> string")
                    return []
                parsed: dict[str, str] = {}
                for name, value in row.items():
                    if not self._name_ok((*row_path, name), name):
                        return []
                    text = scalar_text(self.origins, (*row_path, name), value, self._problem)
                    if text is None:
                        return []
                    parsed[name] = text
                rows.append(parsed)
        else:
            self._problem(
                path,
                "expected a mapping of name -> list (every combination) or a non-empty list "
                "of mappings (one item each)",
            )
            return []
        return [
            (row, "for_each " + " ".join(f"{k}={_shown(v)}" for k, v in row.items()))
            for row in rows
        ]

    def _name_ok(self, path: JSONPath, name: str) -> bool:
        if _NAME.fullmatch(name):
            return True
        self._problem(path, "a for_each name is letters, digits and '_', not a digit first")
        return False

    def _axis(self, path: JSONPath, name: str, values: object) -> tuple[str, ...] | None:
        if not self._name_ok(path, name):
            return None
        if isinstance(values, str):
            match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", values)
            value = self.variables.get(match.group(1)) if match else None
            if isinstance(value, tuple) and value:
                return value
            self._problem(
                path,
                'expected a list, or "${name}" of a list variable '
                f"(list variables: {', '.join(self._list_names()) or 'none'})",
            )
            return None
        if not isinstance(values, list) or not values:
            self._problem(path, "expected a non-empty list of strings")
            return None
        out = [
            scalar_text(self.origins, (*path, i), v, self._problem) for i, v in enumerate(values)
        ]
        if any(v is None for v in out):
            return None
        return tuple(v for v in out if v is not None)

    def _list_names(self) -> list[str]:
        return [n for n in self.variables.names() if isinstance(self.variables.get(n), tuple)]

    # interpolation of one item -------------------------------------------------------------

    def _item(self, path: JSONPath, item: object, scope: dict[str, str], shown: str) -> object:
        if not isinstance(item, dict):
            return item

        def lookup(name: str) -> str:
            value = scope.get(name)
            if value is not None:
                return value
            try:
                return self.variables.lookup(name)
            except _Problem as exc:
                if scope and exc.message.startswith("unknown"):
                    known = sorted({*self.variables.names(), *scope})
                    raise _Problem(
                        f"unknown variable {json_quoted(name)} (known: {', '.join(known)})"
                    ) from None
                raise

        def text(sub: JSONPath, value: object) -> object:
            if not isinstance(value, str) or "$" not in value:
                return value
            try:
                return interpolate(value, lookup, self._parsed)
            except _Problem as exc:
                if not exc.reported:
                    self._problem(sub, exc.message, shown)
                return value

        out: dict[str, object] = {}
        for key, value in item.items():
            sub = (*path, key)
            if key == "for_each":
                continue
            if key == "repository" and isinstance(value, list):
                out[key] = [self._target((*sub, i), v, text) for i, v in enumerate(value)]
            elif key == "repository":
                out[key] = text(sub, value)
            elif key in ("tags", "require_platforms") and isinstance(value, list):
                out[key] = [text((*sub, i), v) for i, v in enumerate(value)]
            elif key == "annotations" and isinstance(value, dict):
                out[key] = {k: text((*sub, k), v) for k, v in value.items()}
            elif key == "manifests" and isinstance(value, list):
                out[key] = [self._entry((*sub, i), e, text) for i, e in enumerate(value)]
            else:
                out[key] = value
        return out

    def _target(
        self, path: JSONPath, target: object, text: Callable[[JSONPath, object], object]
    ) -> object:
        """One repository of ``repository:`` as a list: a string, or ``{name, format}``."""
        if isinstance(target, dict) and "name" in target:
            return {**target, "name": text((*path, "name"), target["name"])}
        return text(path, target)

    def _entry(
        self, path: JSONPath, entry: object, text: Callable[[JSONPath, object], object]
    ) -> object:
        if not isinstance(entry, dict):
            return entry
        out = dict(entry)
        for key in ("image", "platform"):
            if key in out:
                out[key] = text((*path, key), out[key])
        platforms = out.get("platforms")
        if isinstance(platforms, list):
            out["platforms"] = [text((*path, "platforms", i), p) for i, p in enumerate(platforms)]
        return out


def _product(axes: list[tuple[str, tuple[str, ...]]]) -> itertools.product[tuple[str, ...]]:
    return itertools.product(*(values for _, values in axes))


def _shown(value: str) -> str:
    return value if _PLAIN_VALUE.fullmatch(value) else json_quoted(value)


def annotate(problems: list[ConfigProblem], expansion: Expansion) -> list[ConfigProblem]:
    """Messages about expanded items name the template's item and the combination.

    The later stages see ``lists[17]``; the user wrote ``lists[2]`` once with a for_each, so
    each ``lists[N]...`` in a message becomes ``lists[2]... (for_each product=api ...)``.
    """
    combinations = expansion.combinations
    if not combinations:
        return problems

    def rename(match: re.Match[str]) -> str:
        index = int(match.group(1))
        found = combinations.get(index)
        if found is None:
            return match.group(0)
        suffix = f" ({found[1]})" if found[1] else ""
        return f"lists[{found[0]}]{match.group(2)}{suffix}"

    return [ConfigProblem(p.location, _LIST_INDEX.sub(rename, p.message)) for p in problems]
