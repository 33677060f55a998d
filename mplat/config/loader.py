"""Read the YAML config into :class:`Config`, reporting every problem with its ``file:line:column``.

Three passes, each on the output of the one before, so a person fixing the file sees all the
mistakes at once and each one where it was written:

1. YAML -> plain Python (dicts, lists, scalars), remembering where every value and key came
   from. Aliases, nesting and node counts are bounded here, so hostile files fail fast.
2. JSON Schema (``mplat.schema.json``, the same file editors use), with jsonschema's errors
   rewritten into plain sentences.
3. Meaning: references, platforms and cross-field rules, on every part the schema accepted.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import importlib.resources
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from mplat.config.model import (
    Config,
    ConfigError,
    ConfigProblem,
    EntrySpec,
    Format,
    ListSpec,
    Location,
    RegistrySettings,
    State,
)
from mplat.files import read_fd_capped
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import Reference, ReferenceError, parse_reference, validate_tag
from mplat.values.text import json_quoted

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "load_config", "load_config_text"]

MAX_FILE_BYTES = 6 * 1024 * 1024
"""A config of 10,000 one-tag lists of 3 entries with platforms is 3-4.5 MB, so this leaves
room; parsing costs up to ~1.2 s per MiB of hostile YAML (pure-Python ruamel), so it also
bounds the time a hostile file can take."""
MAX_NODES = 300_000
"""Bound on values written and after alias expansion, so a "billion laughs" file fails fast.
10,000 one-tag lists of 3 entries need 170,000 (image only) to 230,000 (with platform
strings); at ~25 µs a node to parse and check, it also bounds the worst file to ~8 s."""
MAX_DEPTH = 64
"""Bound on nesting (ours needs about 10), which also stops recursive aliases like ``&a [*a]``."""

_SCHEMA_RESOURCE = "mplat.schema.json"
_SPLIT = "split the lists into several files (see Limits in the README)"
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
_ALIAS_TOO_DEEP = _TOO_DEEP + " (recursive YAML alias?)"
_EMPTY = "the file is empty: expected a mapping with version and lists"

_YAML = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_YAML + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE, _MAP, _SEQ = (_YAML + t for t in ("timestamp", "merge", "map", "seq"))
_TRUE_WORDS = frozenset({"true", "yes", "y", "on"})  # YAML 1.1 spellings, if a file asks for 1.1

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

JSONPath = tuple[str | int, ...]
PlatformKey = tuple[str, str, str, str, tuple[str, ...]]


# --------------------------------------------------------------------------------------------
# Public API


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the config file at ``path``; every problem is raised as ConfigError."""
    filename = os.fspath(path)
    return load_config_text(_read_file(filename), filename)


def load_config_text(text: str | bytes, filename: str) -> Config:
    """Validate config ``text``; ``filename`` is only used to label problem locations."""
    if isinstance(text, bytes):
        _check_size(len(text), filename)
        text = _decode(text, filename)
    elif len(text) > MAX_FILE_BYTES:
        _check_size(len(text.encode("utf-8", "surrogatepass")), filename)
    text = text.removeprefix("\ufeff")  # a BOM is not a column editors count
    with _gc_paused():
        return _load(text, filename)


def _load(text: str, filename: str) -> Config:
    root, anchored = _compose(text, filename)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
        raise _fail(filename, 0, 0, _EMPTY)
    if not isinstance(root, MappingNode):
        line, column = _mark(root)
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise _fail(
            filename, line, column, f"expected a mapping with version and lists, got {kind}"
        )

    converter = _Converter(filename, anchored)
    data = converter.convert(root)
    del root
    if converter.problems:
        # Duplicate keys or unknown tags make the data ambiguous; checking further would guess.
        raise ConfigError(_dedupe(converter.problems))
    assert isinstance(data, dict)
    origins = _Origins(filename, converter.origins)

    problems, tainted = _check_schema(data, origins)
    builder = _Builder(origins, tainted)
    config = builder.build(data)
    problems += builder.problems
    if problems or config is None:
        raise ConfigError(_dedupe(problems))
    return config


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading allocates hundreds of thousands of small objects and frees them by refcount;
    the cyclic collector would rescan them all again and again (a quarter of the time of a
    10,000-tag config) and find nothing to free. Its state is restored however loading ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------
# The file itself


def _fail(filename: str, line: int, column: int, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(Location(filename, line, column), message)])


def _check_size(size: int, filename: str) -> None:
    if size > MAX_FILE_BYTES:
        raise _fail(
            filename,
            0,
            0,
            f"the file is too large: {size} bytes, over the limit of {MAX_FILE_BYTES} bytes "
            f"(6 MiB) for one file; {_SPLIT}",
        )


def _read_file(filename: str) -> bytes:
    """Read at most MAX_FILE_BYTES + 1 bytes, refusing anything that could block or never end."""
    # O_NONBLOCK: opening a FIFO without a writer must not hang; it is cleared again below.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(filename, flags)
    except FileNotFoundError:
        raise _fail(filename, 0, 0, "no such file") from None
    except IsADirectoryError:
        raise _fail(filename, 0, 0, "is a directory, expected a YAML file") from None
    except PermissionError:
        raise _fail(filename, 0, 0, "cannot read the file: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
        raise _fail(filename, 0, 0, f"cannot read the file: {_os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _fail(filename, 0, 0, "is a directory, expected a YAML file")
        if stat.S_ISFIFO(st.st_mode):
            os.set_blocking(fd, True)  # a pipe (e.g. <(generate-config)) is read to its end
        elif not stat.S_ISREG(st.st_mode):
            raise _fail(filename, 0, 0, "is not a regular file, expected a YAML file")
        else:
            _check_size(st.st_size, filename)
        data = read_fd_capped(fd, MAX_FILE_BYTES)
    except OSError as exc:
        raise _fail(filename, 0, 0, f"cannot read the file: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    _check_size(len(data), filename)
    return data


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc)


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        # Everything before the bad byte decoded fine, so columns count characters like editors.
        column = len(data[line_start : exc.start].decode("utf-8")) + 1
        hint = ""
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (the file looks like UTF-16; save it as UTF-8)"
        message = f"the file is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded"
        raise _fail(filename, line, column, message + hint) from None


# --------------------------------------------------------------------------------------------
# YAML -> nodes


class _TooManyWritten(MarkedYAMLError):
    pass


class _TooDeep(MarkedYAMLError):
    pass


class _BoundedComposer(Composer):
    """ruamel's composer, bounding nodes and nesting before they cost memory or stack.

    (ruamel >= 0.19 has ``YAML.max_depth``; counting here also works with 0.18.)
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        # Re-used anchor names are legal YAML; ruamel would print a warning to stderr.
        self.warn_double_anchors = False
        self.mplat_nodes = 0
        self.mplat_depth = 0
        self.mplat_anchored: set[int] = set()

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.mplat_nodes += 1
        event = self.parser.peek_event()
        if self.mplat_nodes > MAX_NODES:
            raise _TooManyWritten(problem_mark=event.start_mark)
        self.mplat_depth += 1
        try:
            if self.mplat_depth > MAX_DEPTH:
                raise _TooDeep(problem_mark=event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self.mplat_depth -= 1
        if getattr(event, "anchor", None) is not None and not isinstance(event, AliasEvent):
            self.mplat_anchored.add(id(node))
        node.end_mark = None  # Never read; a Mark per node is memory on 10,000-list files.
        return node


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_BRACKET = re.compile(r"[\[\]{}]")


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """Where ``[``/``{`` nesting first passes MAX_DEPTH, found by a linear scan.

    ruamel's scanner looks ahead through a whole flow collection before it yields a token,
    and checks every open level at each step: a few hundred nested brackets cost seconds
    before the composer's own depth bound is reached. Only bracket characters are visited;
    brackets inside quoted text count too, which can only refuse absurd input.
    """
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth >= MAX_DEPTH:  # The document's root node is one level more.
                offset = match.start()
                line = text.count("\n", 0, offset) + 1
                return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
        elif depth:
            depth -= 1
    return None


def _compose(text: str, filename: str) -> tuple[Node | None, set[int]]:
    """The node tree, and the ids of anchored nodes (which aliases may share)."""
    deep = _flow_too_deep(text)
    if deep is not None:
        raise _fail(filename, deep[0], deep[1], _TOO_DEEP)
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _BoundedComposer
    try:
        root = cast("Node | None", yaml.compose(text))
        return root, yaml.composer.mplat_anchored
    except _TooDeep as exc:
        line, column = _mark_of(exc)
        raise _fail(filename, line, column, _TOO_DEEP) from None
    except _TooManyWritten as exc:
        line, column = _mark_of(exc)
        message = (
            f"too many nodes: more than {MAX_NODES} YAML values written by here, the limit "
            f"for one file; {_SPLIT}"
        )
        raise _fail(filename, line, column, message) from None
    except MarkedYAMLError as exc:
        line, column = _mark_of(exc)
        raise _fail(filename, line, column, _yaml_message(exc)) from None
    except ReaderError as exc:
        position = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = exc.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        raise _fail(
            filename, line, column, f"invalid YAML: character {shown} is not allowed"
        ) from None
    except YAMLError as exc:
        raise _fail(filename, 1, 1, "invalid YAML: " + _squash(str(exc))) from None
    except RecursionError:
        raise _fail(filename, 0, 0, _TOO_DEEP) from None


def _mark_of(exc: MarkedYAMLError) -> tuple[int, int]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def _squash(text: str) -> str:
    return " ".join(text.split())


def _yaml_message(exc: MarkedYAMLError) -> str:
    problem = _squash(str(exc.problem or ""))
    context = _squash(str(exc.context or ""))
    if "single document" in context:
        return "invalid YAML: only one document is allowed (a second one starts here)"
    message = "invalid YAML: " + (problem or context or "syntax error")
    if problem and context:
        message += f" ({context}"
        mark, problem_mark = exc.context_mark, exc.problem_mark
        if mark is not None and (
            problem_mark is None
            or (mark.line, mark.column) != (problem_mark.line, problem_mark.column)
        ):
            message += f" started at line {mark.line + 1}, column {mark.column + 1}"
        message += ")"
    return message


# --------------------------------------------------------------------------------------------
# Nodes -> plain Python, with origins


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a value (and the key naming it, if any) was written; ``text`` is scalar source."""

    value: Location
    key: Location | None = None
    text: str | None = None


class _Limit(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Converter:
    """Expands the node graph into JSON-like data, recording an _Origin per JSON path.

    Aliases are expanded here (the composer shares nodes), so this is where the node count and
    depth bounds stop alias bombs and self-referencing anchors.
    """

    def __init__(self, filename: str, anchored: set[int] | None = None) -> None:
        self.filename = filename
        self.origins: dict[JSONPath, _Origin] = {}
        self.problems: list[ConfigProblem] = []
        self._count = 0
        self._anchored = anchored or set()

    def convert(self, root: Node) -> object:
        try:
            return self._value(root, (), 1, None)
        except _Limit as exc:
            line, column = _mark(exc.node)
            raise _fail(self.filename, line, column, exc.message) from None

    def _loc(self, node: Node) -> Location:
        line, column = _mark(node)
        return Location(self.filename, line, column)

    def _problem(self, node: Node, message: str) -> None:
        self.problems.append(ConfigProblem(self._loc(node), message))

    def _tick(self, node: Node, depth: int) -> None:
        self._count += 1
        if self._count > MAX_NODES:
            raise _Limit(
                node,
                f"too many nodes (YAML alias expansion?): more than {MAX_NODES} values "
                f"once aliases are expanded, the limit for one file",
            )
        if depth > MAX_DEPTH:
            # The composer already bounded written nesting, so only aliases can get here.
            raise _Limit(node, _ALIAS_TOO_DEEP)

    def _value(self, node: Node, path: JSONPath, depth: int, key: Location | None) -> object:
        self._tick(node, depth)
        tag = node.tag
        if isinstance(node, ScalarNode):
            # An empty value ("format:") starts wherever the next token is; its key is clearer.
            where = key if key is not None and node.value == "" and tag == _NULL else None
            self.origins[path] = _Origin(where or self._loc(node), key, node.value)
            return self._scalar(node, tag)
        self.origins[path] = _Origin(self._loc(node), key)
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
            for index in range(len(items)):
                item = items[index]
                if release:
                    items[index] = None
                out.append(self._value(item, (*path, index), depth + 1, None))
                del item
            return out
        if isinstance(node, MappingNode):
            if tag != _MAP:
                self._problem(
                    node, f"unsupported YAML tag {_show_tag(tag)} (only plain mappings are allowed)"
                )
            result: dict[str, object] = {}
            for name, key_node, value_node in self._pairs(node, depth):
                result[name] = self._value(
                    value_node, (*path, name), depth + 1, self._loc(key_node)
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
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
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


# --------------------------------------------------------------------------------------------
# Positions and messages


class _Origins:
    def __init__(self, filename: str, origins: Mapping[JSONPath, _Origin]) -> None:
        self.filename = filename
        self._origins = origins

    def get(self, path: JSONPath) -> _Origin | None:
        return self._origins.get(path)

    def value(self, path: JSONPath) -> Location:
        """Where the value at ``path`` was written (or its nearest written ancestor)."""
        for end in range(len(path), -1, -1):
            origin = self._origins.get(path[:end])
            if origin is not None:
                return origin.value
        return Location(self.filename, 1, 1)

    def key(self, path: JSONPath) -> Location:
        """Where the key naming ``path`` was written; the value's position for list items."""
        origin = self._origins.get(path)
        if origin is not None and origin.key is not None:
            return origin.key
        return self.value(path)


def _render(path: JSONPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json_quoted(part)}]"
    return out


def _prefixed(path: JSONPath, message: str) -> str:
    return f"{_render(path)}: {message}" if path else message


def _describe(value: object, origin: _Origin | None, *, kind: bool = False) -> str:
    """``got ...`` wording: the user's own spelling for scalars (YAML turned 1.10 into 1.1)."""
    if isinstance(value, str):
        return json_quoted(value)
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    text = origin.text if origin is not None and origin.text else json.dumps(value)
    if value is None:
        return "an empty value" if origin is not None and not origin.text else text
    if not kind:
        return text
    return f"the {'boolean' if isinstance(value, bool) else 'number'} {text}"


_TYPE_WORDS = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def _type_words(types: object) -> str:
    names = [types] if isinstance(types, str) else list(cast("Iterable[str]", types))
    return " or ".join(_TYPE_WORDS.get(t, t) for t in names)


def _literal(value: object) -> str:
    return json_quoted(value) if isinstance(value, str) else json.dumps(value)


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = word.lower()
    prefixed = [c for c in choices if len(lowered) >= 3 and c.lower().startswith(lowered)]
    return prefixed[0] if len(prefixed) == 1 else None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# --------------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True)
class _Issue:
    path: JSONPath  # the value the message is about; also the prefix of the message
    message: str
    at_key: JSONPath | None = None  # point at this key instead of at path's value
    taint: JSONPath | None = None  # value too broken for the semantic checks to look at


def _load_schema() -> dict[str, Any]:
    resource = importlib.resources.files("mplat.config").joinpath(_SCHEMA_RESOURCE)
    return cast("dict[str, Any]", json.loads(resource.read_text(encoding="utf-8")))


_ANNOTATIONS = frozenset({"description", "markdownDescription", "title", "examples", "default"})
_DEFS = "#/$defs/"


def _inline_refs(node: object, defs: Mapping[str, Any], seen: frozenset[str]) -> object:
    """Replace each ``{"$ref": "#/$defs/x"}`` with the schema it names: the same checks.

    jsonschema resolves a ``$ref`` anew for every value it checks, which was most of the
    schema pass on a large config. Only refs whose siblings are annotations are inlined, and
    a recursive ref is left as it is.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS) and set(node) - {"$ref"} <= _ANNOTATIONS:
        name = ref.removeprefix(_DEFS)
        target = defs.get(name)
        if isinstance(target, dict) and name not in seen:
            inlined = _inline_refs(target, defs, seen | {name})
            assert isinstance(inlined, dict)
            return {**inlined, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _inline_refs(value, defs, seen) for key, value in node.items()}


def _make_validator(schema: Mapping[str, Any]) -> Validator:
    # JSON Schema counts 8.0 as an integer; in YAML it is visibly a float, so refuse it.
    def is_integer(_checker: object, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    extend: Callable[..., type[Validator]] = validators.extend  # untyped in the stubs
    inlined = _inline_refs(schema, schema.get("$defs", {}), frozenset())
    return extend(Draft202012Validator, type_checker=checker)(cast("Mapping[str, Any]", inlined))


def _check_schema(
    data: dict[str, object], origins: _Origins
) -> tuple[list[ConfigProblem], list[JSONPath]]:
    problems: list[ConfigProblem] = []
    tainted: list[JSONPath] = []
    errors = list(_make_validator(_load_schema()).iter_errors(cast(Any, data)))
    # A value of the wrong type also fails its enum/pattern; one message about it is enough.
    wrong_type = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in wrong_type:
            continue
        for issue in _explain(error, origins):
            where = (
                origins.key(issue.at_key) if issue.at_key is not None else origins.value(issue.path)
            )
            problems.append(ConfigProblem(where, _prefixed(issue.path, issue.message)))
            if issue.taint is not None:
                tainted.append(issue.taint)
    return problems, tainted


def _explain(error: ValidationError, origins: _Origins) -> Iterator[_Issue]:
    path: JSONPath = tuple(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    schema_path = list(error.absolute_schema_path)

    if "propertyNames" in schema_path and isinstance(instance, str):
        # The error is about a key; jsonschema reports it at the mapping holding that key.
        key_path = (*path, instance)
        expectation = _expectation(error)
        yield _Issue(
            path, f"invalid key {json_quoted(instance)}: {expectation}", key_path, key_path
        )
        return

    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for name in instance:
            if name in known or any(re.search(p, name) for p in patterns):
                continue
            expected = ", ".join(known) + (", or an x- extension key" if "^x-" in patterns else "")
            guess = _suggest(name, known)
            hint = f", did you mean {json_quoted(guess)}?" if guess else ""
            message = f"unknown key {json_quoted(name)}{hint} (expected one of {expected})"
            yield _Issue(path, message, (*path, name), (*path, name))
        return

    if keyword == "required" and isinstance(instance, dict):
        needs = ' (needed unless state is "absent")' if "else" in schema_path else ""
        for name in cast("list[str]", error.validator_value):
            if name not in instance:
                # Tainting the absent key spares the rest of the mapping but not its parsing.
                message = f"missing required key {json_quoted(name)}{needs}"
                yield _Issue(path, message, taint=(*path, name))
        return

    if keyword == "dependentRequired" and isinstance(instance, dict):
        for name, needed in cast("dict[str, list[str]]", error.validator_value).items():
            for other in needed:
                if name in instance and other not in instance:
                    message = f"{json_quoted(name)} needs {json_quoted(other)} as well"
                    yield _Issue(path, message, (*path, name), (*path, other))
        return

    if keyword in ("anyOf", "oneOf"):
        yield from _explain_alternatives(error, path, origins)
        return

    got = _describe(instance, origins.get(path), kind=keyword == "type")
    if keyword == "const" and path == ("version",):
        message = f"unsupported version {got} (this mplat reads version 1)"
    else:
        message = f"{_expectation(error)}, got {got}"
    if "else" in schema_path and keyword == "minItems":
        message += ' (needed unless state is "absent")'
    yield _Issue(path, message + _quote_hint(error, origins.get(path)), taint=path)


def _explain_alternatives(
    error: ValidationError, path: JSONPath, origins: _Origins
) -> Iterator[_Issue]:
    """anyOf noise -> the errors of the one branch whose type fits, or "expected X or Y"."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [
        index
        for index, subs in sorted(branches.items())
        if not any(s.validator == "type" and not s.relative_path for s in subs)
    ]
    if len(fitting) == 1:
        for sub in branches[fitting[0]]:
            yield from _explain(sub, origins)
        return
    types: list[str] = []
    for subs in branches.values():
        for sub in subs:
            if sub.validator == "type" and not sub.relative_path:
                value = sub.validator_value
                types.extend([value] if isinstance(value, str) else cast("list[str]", value))
    got = _describe(error.instance, origins.get(path), kind=True)
    message = f"expected {_type_words(types)}, got {got}" if types else error.message
    yield _Issue(path, message, taint=path)


def _expectation(error: ValidationError) -> str:
    keyword, value = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "type":
        return f"expected {_type_words(value)}"
    if keyword == "enum":
        return "expected one of " + ", ".join(_literal(v) for v in cast("list[object]", value))
    if keyword == "const":
        return f"expected {_literal(value)}"
    if keyword == "pattern":
        custom = schema.get("patternErrorMessage")
        return _lower_first(custom) if isinstance(custom, str) else f"expected to match {value}"
    if keyword == "minLength":
        return (
            "expected a non-empty string" if value == 1 else f"expected at least {value} characters"
        )
    if keyword == "maxLength":
        return f"expected at most {value} characters"
    if keyword == "minItems":
        return "expected a non-empty list" if value == 1 else f"expected at least {value} items"
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        kind = "a whole number" if schema.get("type") == "integer" else "a number"
        if low is not None and high is not None:
            return f"expected {kind} from {low} to {high}"
        return f"expected {kind} {'>=' if keyword == 'minimum' else '<='} {value}"
    return _lower_first(error.message)


def _quote_hint(error: ValidationError, origin: _Origin | None) -> str:
    """YAML reads 1.0 as a number and yes/no (1.1) as booleans; say how to get a string."""
    expected = error.validator_value
    wants_string = error.validator == "type" and (
        expected == "string" or (isinstance(expected, list) and "string" in expected)
    )
    if error.validator == "enum" and origin is not None:
        wants_string = origin.text in cast("list[object]", expected)
    value = error.instance
    if isinstance(value, str) and error.validator == "enum":
        guess = _suggest(
            value, [v for v in cast("list[object]", error.validator_value) if isinstance(v, str)]
        )
        return f" (did you mean {json_quoted(guess)}?)" if guess else ""
    if wants_string and not isinstance(value, (str, list, dict)) and origin and origin.text:
        return f" (write {json_quoted(origin.text)} in quotes to make it a string)"
    return ""


def _dedupe(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return list(dict.fromkeys(problems))


# --------------------------------------------------------------------------------------------
# Meaning


@dataclass(frozen=True)
class _Declared:
    platform: Platform
    path: JSONPath


class _Builder:
    """Turns schema-checked data into typed specs, adding the checks a schema cannot express.

    Values under a path the schema already complained about are skipped, so a single typo does
    not produce a second, confusing message.
    """

    def __init__(self, origins: _Origins, tainted: list[JSONPath]) -> None:
        self.origins = origins
        self.filename = origins.filename
        self.tainted = tainted
        self.problems: list[ConfigProblem] = []

    def _clean(self, path: JSONPath) -> bool:
        """Neither this value, nor anything in it, nor anything around it failed the schema."""
        return not any(t[: len(path)] == path or path[: len(t)] == t for t in self.tainted)

    def _intact(self, path: JSONPath) -> bool:
        """This container is the right kind of thing; parts of it may still be broken."""
        return not any(path[: len(t)] == t for t in self.tainted)

    def _problem(
        self, path: JSONPath, message: str, *, at_key: bool = False, prefix: JSONPath | None = None
    ) -> None:
        where = self.origins.key(path) if at_key else self.origins.value(path)
        shown = path if prefix is None else prefix
        self.problems.append(ConfigProblem(where, _prefixed(shown, message)))

    def _where(self, path: JSONPath) -> str:
        loc = self.origins.value(path)
        return f"line {loc.line}, column {loc.column} ({_render(path)})"

    def build(self, data: dict[str, object]) -> Config | None:
        default_format = self._default_format(data.get("defaults"))
        registries = self._registries(data.get("registries"))
        lists: list[ListSpec | None] = []
        declared: dict[tuple[str, str], JSONPath] = {}
        items = data.get("lists")
        for index, item in enumerate(items if isinstance(items, list) else []):
            lists.append(self._list(("lists", index), item, default_format, declared))
        if registries is None or not isinstance(items, list):
            return None
        specs = [spec for spec in lists if spec is not None]
        if len(specs) != len(lists):
            return None
        return Config(
            path=self.filename,
            lists=tuple(specs),
            registries=registries,
            default_format=default_format,
        )

    def _default_format(self, defaults: object) -> Format:
        if isinstance(defaults, dict):
            value = defaults.get("format")
            if value in ("oci", "docker") and self._clean(("defaults", "format")):
                return cast(Format, value)
        return "oci"

    # registries ---------------------------------------------------------------------------

    def _registries(self, value: object) -> dict[str, RegistrySettings] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            return None
        out: dict[str, RegistrySettings] = {}
        ok = True
        for host, raw in value.items():
            path: JSONPath = ("registries", host)
            if not self._intact(path) or not isinstance(raw, dict):
                ok = False
                continue
            problem = _registry_problem(host)
            if problem is not None:
                self._problem(path, problem, at_key=True, prefix=("registries",))
                ok = False
                continue
            settings = self._settings(raw)
            if settings is None:
                ok = False
                continue
            out[host] = settings
        return out if ok else None

    def _settings(self, raw: dict[str, object]) -> RegistrySettings | None:
        insecure = raw.get("insecure", False)
        ca_file = raw.get("ca_file")
        user = raw.get("username_env")
        password = raw.get("password_env")
        parallelism = raw.get("parallelism")
        if not (
            isinstance(insecure, bool)
            and (ca_file is None or isinstance(ca_file, str))
            and (user is None or isinstance(user, str))
            and (password is None or isinstance(password, str))
            and (parallelism is None or (isinstance(parallelism, int) and 1 <= parallelism <= 64))
        ):
            return None
        if ca_file is not None:
            # Relative to the config file, so `mplat -c dir/mplat.yaml` works from anywhere.
            ca_file = os.path.join(os.path.dirname(self.filename), os.path.expanduser(ca_file))
        return RegistrySettings(
            insecure=insecure,
            ca_file=ca_file,
            username_env=user,
            password_env=password,
            parallelism=parallelism,
        )

    # lists --------------------------------------------------------------------------------

    def _list(
        self,
        path: JSONPath,
        item: object,
        default_format: Format,
        declared: dict[tuple[str, str], JSONPath],
    ) -> ListSpec | None:
        if not isinstance(item, dict) or not self._intact(path):
            return None
        ok = True

        repository = self._repository((*path, "repository"), item.get("repository"))
        ok &= repository is not None

        fmt_value = item.get("format", default_format)
        fmt_path = (*path, "format") if "format" in item else ("defaults", "format")
        ok &= fmt_value in ("oci", "docker")
        fmt = cast(Format, fmt_value) if fmt_value in ("oci", "docker") else default_format

        tags: list[str] = []
        tag_locations: list[Location] = []
        raw_tags = item.get("tags")
        ok &= isinstance(raw_tags, list) and bool(raw_tags)
        for index, tag in enumerate(raw_tags if isinstance(raw_tags, list) else []):
            tag_path = (*path, "tags", index)
            if not isinstance(tag, str) or not self._clean(tag_path):
                ok = False
                continue
            try:
                validate_tag(tag)
            except ReferenceError as exc:
                self._problem(tag_path, str(exc))
                ok = False
                continue
            tags.append(tag)
            tag_locations.append(self.origins.value(tag_path))
            if repository is not None:
                first = declared.setdefault((repository.name, tag), tag_path)
                if first != tag_path:
                    self._problem(
                        tag_path,
                        f"{repository.name}:{tag} is declared twice; first at {self._where(first)}",
                    )
                    ok = False

        annotations = item.get("annotations", {})
        if not isinstance(annotations, dict) or not all(
            isinstance(v, str) for v in annotations.values()
        ):
            ok = False
            annotations = {}
        elif annotations and fmt == "docker":
            source = "" if "format" in item else f" (from {_render(fmt_path)})"
            self._problem(
                (*path, "annotations"),
                f'annotations need format "oci": a Docker manifest list (format "docker"{source}) '
                "cannot carry them",
                at_key=True,
            )
            ok = False

        state = item.get("state", "present")
        ok &= state in ("present", "absent")

        prune = item.get("prune", False)
        prevent_destroy = item.get("prevent_destroy", False)
        ok &= isinstance(prune, bool) and isinstance(prevent_destroy, bool)
        if prune is True and fmt == "docker":
            self._problem(
                (*path, "prune"),
                'prune needs format "oci": mplat records which entries it owns in an OCI '
                "annotation, and Docker manifest lists have no annotations",
            )
            ok = False

        entries: list[EntrySpec] = []
        # By platform key: a list scan per entry made a 5,000-entry list take 39 s.
        platforms_seen: dict[PlatformKey, _Declared] = {}
        raw_entries = item.get("manifests", [])
        if not isinstance(raw_entries, list):
            raw_entries, ok = [], False
        for index, raw in enumerate(raw_entries):
            entry = self._entry((*path, "manifests", index), raw, platforms_seen)
            if entry is None:
                ok = False
                continue
            entries.append(entry)
            image = entry.image
            if (
                repository is not None
                and image.name == repository.name
                and image.digest is None
                and (image.tag or "latest") in tags
            ):
                self._problem(
                    (*path, "manifests", index, "image"),
                    f"{image} is one of the tags this list writes; a list cannot contain itself "
                    "(use a digest or another tag)",
                )
                ok = False

        if not ok or repository is None:
            return None
        return ListSpec(
            repository=repository,
            tags=tuple(tags),
            format=fmt,
            location=self.origins.value(path),
            manifests=tuple(entries),
            annotations=dict(annotations),
            state=cast(State, state),
            prune=prune,
            prevent_destroy=prevent_destroy,
            tag_locations=tuple(tag_locations),
        )

    def _repository(self, path: JSONPath, text: object) -> Reference | None:
        if not isinstance(text, str) or not self._clean(path):
            return None
        try:
            reference = parse_reference(text)
        except ReferenceError as exc:
            self._problem(path, str(exc))
            return None
        if reference.tag is not None or reference.digest is not None:
            self._problem(
                path,
                f"repository {json_quoted(text)} must not include a tag or digest "
                "(list the tags under tags:)",
            )
            return None
        return reference

    # entries ------------------------------------------------------------------------------

    def _entry(
        self, path: JSONPath, raw: object, platforms_seen: dict[PlatformKey, _Declared]
    ) -> EntrySpec | None:
        if not isinstance(raw, dict) or not self._intact(path):
            return None
        ok = True

        image: Reference | None = None
        text = raw.get("image")
        if isinstance(text, str) and self._clean((*path, "image")):
            try:
                image = parse_reference(text)
            except ReferenceError as exc:
                self._problem((*path, "image"), str(exc))
        ok &= image is not None

        if "platform" in raw and "platforms" in raw:
            self._problem(
                (*path, "platforms"),
                '"platform" and "platforms" cannot be used together: "platform" labels one '
                'image, "platforms" picks entries from an index',
                at_key=True,
            )
            ok = False

        platform: Platform | None = None
        if "platform" in raw:
            platform = self._platform((*path, "platform"), raw["platform"], platforms_seen)
            ok &= platform is not None

        platforms: tuple[Platform, ...] | None = None
        if "platforms" in raw:
            values = raw["platforms"]
            parsed = [
                self._platform((*path, "platforms", index), value, platforms_seen)
                for index, value in enumerate(values if isinstance(values, list) else [])
            ]
            chosen = [p for p in parsed if p is not None]
            ok &= isinstance(values, list) and bool(values) and len(chosen) == len(parsed)
            platforms = tuple(chosen)

        attestations = raw.get("attestations", False)
        ok &= isinstance(attestations, bool)

        if not ok or image is None:
            return None
        return EntrySpec(
            image=image,
            location=self.origins.value(path),
            platform=platform,
            platforms=platforms,
            attestations=bool(attestations),
        )

    def _platform(
        self, path: JSONPath, value: object, platforms_seen: dict[PlatformKey, _Declared]
    ) -> Platform | None:
        if not self._clean(path):
            return None
        try:
            if isinstance(value, str):
                platform = Platform.parse(value)
            else:
                platform = Platform.from_json(value)
        except PlatformError as exc:
            self._problem(path, str(exc))
            return None
        if platform.is_unknown():
            self._problem(
                path,
                "unknown/unknown marks buildx attestation entries, not a platform "
                "(use attestations: true to keep them)",
            )
            return None
        key = platform.key()
        other = platforms_seen.get(key)
        if other is not None:
            self._problem(
                path,
                f"duplicate platform {json_quoted(str(platform))}: the same platform as "
                f"{json_quoted(str(other.platform))} at {self._where(other.path)}",
            )
            return None
        platforms_seen[key] = _Declared(platform, path)
        return platform


def _registry_problem(host: str) -> str | None:
    """Keys must equal what Reference.registry produces, or settings silently never apply."""
    try:
        Reference(registry=host, repository="mplat/probe")
    except ReferenceError as exc:
        reason = str(exc).partition(": ")[2] or str(exc)
        return f"{json_quoted(host)} is not a registry host[:port]: {reason}"
    return None
