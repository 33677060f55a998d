"""Stage 2 of loading: YAML text -> plain data, with the origin of every value.

:mod:`mplat.config.yamlcompose` makes the node tree (bounded: values written, nesting); the
conversion here expands aliases (bounded again: values after expansion) and records
``file:line:column`` per JSON path, which every later message points at. The result is a
:class:`Document`, the input of the schema and of any stage that a later feature puts
before it.
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mplat.config import yamlcompose
from mplat.config.model import ConfigError, ConfigProblem, Location
from mplat.config.origins import Document, JSONPath, Origins, RawOrigin
from mplat.config.yamlcompose import MAX_DEPTH, MAX_NODES, TOO_DEEP, compose
from mplat.config.yamlcompose import mark as _mark
from mplat.values.text import json_quoted

__all__ = ["MAX_DEPTH", "MAX_NODES", "Converter", "compose", "parse_document"]

_EMPTY = "the file is empty: expected a mapping with version and lists"
_ALIAS_TOO_DEEP = TOO_DEEP + " (recursive YAML alias?)"

_YAML = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_YAML + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE, _MAP, _SEQ = (_YAML + t for t in ("timestamp", "merge", "map", "seq"))
_TRUE_WORDS = frozenset({"true", "yes", "y", "on"})  # YAML 1.1 spellings, if a file asks for 1.1


def parse_document(text: str, filename: str) -> Document:
    """The data and origins of YAML ``text``; ConfigError if it is not one readable mapping.

    Duplicate keys and unknown tags are raised here, all together: they make the data
    ambiguous, and checking it further would guess.
    """
    root, anchored = compose(text, filename)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
        raise ConfigError.at(filename, 0, 0, _EMPTY)
    if not isinstance(root, MappingNode):
        line, column = _mark(root)
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise ConfigError.at(
            filename, line, column, f"expected a mapping with version and lists, got {kind}"
        )
    converter = Converter(filename, anchored)
    data = converter.convert(root)
    del root
    if converter.problems:
        raise ConfigError(list(dict.fromkeys(converter.problems)))
    assert isinstance(data, dict)
    return Document(data, Origins(filename, converter.origins))


class _Limit(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Converter:
    """Expands the node graph into JSON-like data, recording a RawOrigin per JSON path.

    Aliases are expanded here (the composer shares nodes), so this is where the node count and
    depth bounds stop alias bombs and self-referencing anchors.

    This runs once per value (300,000 in the largest file allowed), so the per-value work is
    written out inline in :meth:`_value` and origins are plain tuples, not objects.
    """

    def __init__(self, filename: str, anchored: set[int] | None = None) -> None:
        self.filename = filename
        self.origins: dict[JSONPath, RawOrigin] = {}
        self.problems: list[ConfigProblem] = []
        self._count = 0
        self._limit = yamlcompose.MAX_NODES  # read when converting starts: tests lower it
        self._anchored = anchored or set()

    def convert(self, root: Node) -> object:
        self._limit = yamlcompose.MAX_NODES
        try:
            return self._value(root, (), 1, 0, 0)
        except _Limit as exc:
            line, column = _mark(exc.node)
            raise ConfigError.at(self.filename, line, column, exc.message) from None

    def _problem(self, node: Node, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(ConfigProblem(Location(self.filename, line, column), message))

    def _tick(self, node: Node, depth: int) -> None:
        self._count += 1
        if self._count > self._limit:
            raise _Limit(
                node,
                f"too many nodes (YAML alias expansion?): more than {self._limit} values "
                f"once aliases are expanded, the limit for one file",
            )
        if depth > MAX_DEPTH:
            # The composer already bounded written nesting, so only aliases can get here.
            raise _Limit(node, _ALIAS_TOO_DEEP)

    def _value(
        self, node: Node, path: JSONPath, depth: int, key_line: int, key_column: int
    ) -> object:
        """The data of ``node``; ``key_line`` is 0 for list items and the root."""
        self._tick(node, depth)
        tag = _tag(node)
        mark = node.start_mark
        if type(node) is ScalarNode:
            text = node.value
            if key_line and text == "" and tag == _NULL:
                # An empty value ("format:") starts wherever the next token is; its key is
                # clearer.
                origin = (self.filename, key_line, key_column, key_line, key_column, text)
            else:
                origin = (self.filename, mark.line + 1, mark.column + 1, key_line, key_column, text)
            self.origins[path] = origin
            if tag == _STR:
                return text
            if tag == _INT and text.isascii() and text.isdigit() and len(text) <= 4300:
                return int(text)  # the common case, quickly; int() refuses over 4300 digits
            return self._scalar(node, tag)
        self.origins[path] = (
            self.filename,
            mark.line + 1,
            mark.column + 1,
            key_line,
            key_column,
            None,
        )
        if isinstance(node, SequenceNode):
            if tag != _SEQ:
                self._problem(
                    node, f"unsupported YAML tag {_show_tag(tag)} (only plain lists are allowed)"
                )
            items = node.value
            # Each item's subtree is released once converted, so a 10,000-list file never
            # holds its whole node tree and its converted data at the same time. Only in
            # files without anchors: aliases and merge keys may walk a subtree again.
            release = not self._anchored
            out: list[object] = []
            append = out.append
            depth += 1
            for index in range(len(items)):
                item = items[index]
                if release:
                    items[index] = None
                append(self._value(item, (*path, index), depth, 0, 0))
                del item
            return out
        if isinstance(node, MappingNode):
            if tag != _MAP:
                self._problem(
                    node, f"unsupported YAML tag {_show_tag(tag)} (only plain mappings are allowed)"
                )
            result: dict[str, object] = {}
            for name, key_node, value_node in self._pairs(node, depth):
                key_mark = key_node.start_mark
                result[name] = self._value(
                    value_node, (*path, name), depth + 1, key_mark.line + 1, key_mark.column + 1
                )
            return result
        raise _Limit(node, "unsupported YAML node")  # pragma: no cover - ruamel has 3 node kinds

    def _scalar(self, node: ScalarNode, tag: str | None) -> object:
        text = node.value
        if tag in (_STR, _TIMESTAMP):
            # A date stays the text the user wrote: JSON has no date type, annotations want text.
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() in _TRUE_WORDS
        if tag == _INT:
            return _parse_int(text)
        if tag == _FLOAT:
            return _parse_float(text)
        self._problem(node, f"unsupported YAML tag {_show_tag(tag)}")
        return text

    def _pairs(self, node: MappingNode, depth: int) -> list[tuple[str, Node, Node]]:
        """The mapping's entries with ``<<`` merge keys applied; explicit keys win over merged."""
        seen: dict[str, Node] = {}
        out: list[tuple[str, Node, Node]] = []
        merges: list[Node] = []
        for key_node, value_node in node.value:
            self._tick(key_node, depth)  # keys count too: merges can multiply them unseen
            if isinstance(key_node, ScalarNode) and _tag(key_node) == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(
                    key_node, "a mapping key must be a plain string, not a list or mapping"
                )
                continue
            name = key_node.value
            first = seen.get(name)
            if first is not None:
                line, column = _mark(first)
                self._problem(
                    key_node,
                    f"duplicate key {json_quoted(name)} "
                    f"(first defined at line {line}, column {column})",
                )
                continue
            seen[name] = key_node
            out.append((name, key_node, value_node))
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                self._tick(source, depth + 1)
                if not isinstance(source, MappingNode):
                    self._problem(source, "a << merge key needs a mapping or a list of mappings")
                    continue
                for name, key_node, value_node in self._pairs(source, depth + 1):
                    if name not in seen:
                        seen[name] = key_node
                        out.append((name, key_node, value_node))
        return out


def _tag(node: Node) -> str | None:
    """``node.tag``, without decoding the URI escapes of a tag that has none.

    ruamel decodes the tag character by character on every read, a new Tag per node; a
    resolved tag (no handle, no ``%``) is its suffix, so that is used as it is.
    """
    ctag = getattr(node, "ctag", None)
    if ctag is not None and getattr(ctag, "handle", "") is None:
        suffix = getattr(ctag, "suffix", None)
        if isinstance(suffix, str) and "%" not in suffix:
            return suffix
    return node.tag


def _show_tag(tag: str | None) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag and tag.startswith(_YAML) else str(tag)


def _parse_int(text: str) -> int | str:
    if text.isascii() and text.isdigit() and len(text) <= 4300:
        return int(text)  # the common case, quickly; int() refuses more than 4300 digits
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    bases = {"0x": 16, "0o": 8, "0b": 2}
    try:
        base = bases.get(digits[:2].lower())
        return sign * (int(digits[2:], base) if base else int(digits, 10))
    except ValueError:
        return text


def _parse_float(text: str) -> float | str:
    lowered = text.replace("_", "").lower()
    if lowered.lstrip("+-") in (".inf", ".nan"):
        lowered = lowered.replace(".", "")
    try:
        return float(lowered)
    except ValueError:
        return text
