"""Stage 2a of loading: YAML text -> the node tree, bounded, with each node's position.

Composition is bounded (values written, nesting), so hostile files fail fast with a message
naming the limit. libyaml (from ruamel.yaml.clib) scans and parses where it is known to give
ruamel's answer, about four times sooner; everything else, and every error message, is
ruamel's pure-Python parser. :mod:`mplat.config.yamlnodes` turns the tree into data.
"""

from __future__ import annotations

import functools
import re
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.parser import Parser
from ruamel.yaml.reader import Reader, ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner

from mplat.config.model import ConfigError
from mplat.config.read import SPLIT_HINT

CParser: Any
try:  # libyaml's scanner and parser, from ruamel.yaml.clib: six times ruamel's pure Python
    from ruamel.yaml import cyaml

    CParser = getattr(cyaml, "CParser", None)
except ImportError:  # pragma: no cover - a Python without the wheel: the pure parser alone
    CParser = None

__all__ = ["MAX_DEPTH", "MAX_NODES", "TOO_DEEP", "compose", "mark"]

MAX_NODES = 300_000
"""Bound on values written and after alias expansion, so a "billion laughs" file fails fast.
10,000 one-tag lists of 3 entries need 170,000 (image only) to 230,000 (with platform
strings). Pure-Python ruamel takes ~30-40 µs of CPU a value, so it also bounds the worst
file to ~10-13 s, mostly in ruamel's scanner."""
MAX_DEPTH = 64
"""Bound on nesting (ours needs about 10), which also stops recursive aliases like ``&a [*a]``."""

TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


class _TooManyWritten(MarkedYAMLError):
    pass


class _TooDeep(MarkedYAMLError):
    pass


class _DirectScanner(Scanner):
    """ruamel's scanner, finding its reader once instead of through a property per character.

    ruamel looks up each stage's neighbour through properties (``hasattr`` checks, frame
    inspection) on every use: millions of calls for the largest file allowed. The neighbour
    never changes during one parse, so the first answer is kept as a plain attribute.
    """

    @functools.cached_property
    def reader(self) -> Any:
        return super().reader


class _DirectParser(Parser):
    """ruamel's parser, finding its scanner once (see _DirectScanner)."""

    @functools.cached_property
    def scanner(self) -> Any:
        return super().scanner


class _BoundedComposer(Composer):
    """ruamel's composer, bounding nodes and nesting before they cost memory or stack.

    (ruamel >= 0.19 has ``YAML.max_depth``; counting here also works with 0.18.) It finds
    its parser once, as _DirectScanner does its reader.
    """

    @functools.cached_property
    def parser(self) -> Any:
        return super().parser

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


def mark(node: Node) -> tuple[int, int]:
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


class _LibyamlEvents:
    """What the composer asks of a loader, with libyaml scanning and parsing the text.

    Only the events come from C; composing stays in :class:`_BoundedComposer` and tags are
    resolved in Python as on the pure path, so bounds, node types and marks are the same.
    """

    max_depth = None  # ruamel >= 0.19's own bound; _BoundedComposer keeps its own

    def __init__(self, text: str) -> None:
        self._parser = CParser(text)
        self._resolver = VersionedResolver(loadumper=self)


class _LibyamlComposer(_BoundedComposer):
    """The composer over libyaml's events, noting the one kind of node whose mark differs.

    An empty plain value has no text to stand on: ruamel places it at the next token, libyaml
    at the end of the previous one. Messages place an empty mapping value at its key, so
    only an empty list item, key or ``<<`` value shows the difference: such a file is left
    to the pure parser.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.mplat_unplaced = False

    def compose_node(self, parent: Any, index: Any) -> Any:
        node = super().compose_node(parent, index)
        if type(node) is ScalarNode and node.value == "" and not node.style:
            value_of = index if isinstance(parent, MappingNode) else None
            if not isinstance(value_of, ScalarNode) or value_of.value == "<<":
                self.mplat_unplaced = True
        return node


_PURE_ONLY = re.compile(
    r"^(?:%|\.\.\.)|[!|>\t\x85\u2028\u2029]|[&*][\w-]*[^\w\s,\[\]{}-]", re.MULTILINE
)
"""Where libyaml and ruamel part ways, found by comparing them on generated text (see
tests/unit/config/test_yamlcompose.py): directives (``%YAML 1.1`` changes what scalars mean),
``...`` (ruamel counts a repeated one as a document), tags and block scalars (``!``, ``|``,
``>``: libyaml accepts headers ruamel refuses), tabs (likewise), the line breaks of YAML 1.1
only (NEL, LS, PS: lines are counted differently) and anchor names beyond letters, digits,
``-`` and ``_``. A file with any of them, rare in configs, is parsed by ruamel alone."""


def _compose_libyaml(text: str) -> tuple[Node | None, set[int]] | None:
    """The node tree as libyaml parses it, or None where only the pure parser may answer.

    libyaml is a YAML 1.1 parser: a file with anything in :data:`_PURE_ONLY`, characters
    ruamel's reader refuses, or any syntax error goes to the pure parser, whose answer (and
    error message, at file:line:column) is the one mplat gives. The bounds of the composer
    apply as on the pure path and end the parse here too.
    """
    if (
        CParser is None
        or _PURE_ONLY.search(text)
        or Reader.NON_PRINTABLE.search(text)
        or text.find("\ufeff", 1) >= 0  # a byte-order mark is content past the first character
    ):
        return None
    events = _LibyamlEvents(text)
    composer = _LibyamlComposer(events)
    try:
        root = cast("Node | None", composer.get_single_node())
    except (_TooDeep, _TooManyWritten):
        raise
    except Exception:  # any refusal is the pure parser's to word
        return None
    finally:
        events._parser.dispose()
    return None if composer.mplat_unplaced else (root, composer.mplat_anchored)


def compose(text: str, filename: str) -> tuple[Node | None, set[int]]:
    """The node tree, and the ids of anchored nodes (which aliases may share)."""
    deep = _flow_too_deep(text)
    if deep is not None:
        raise ConfigError.at(filename, deep[0], deep[1], TOO_DEEP)
    try:
        fast = _compose_libyaml(text)
        if fast is not None:
            return fast
        yaml = YAML(typ="safe", pure=True)
        yaml.Scanner = _DirectScanner
        yaml.Parser = _DirectParser
        yaml.Composer = _BoundedComposer
        root = cast("Node | None", yaml.compose(text))
        return root, yaml.composer.mplat_anchored
    except _TooDeep as exc:
        line, column = _mark_of(exc)
        raise ConfigError.at(filename, line, column, TOO_DEEP) from None
    except _TooManyWritten as exc:
        line, column = _mark_of(exc)
        message = (
            f"too many nodes: more than {MAX_NODES} YAML values written by here, the limit "
            f"for one file; {SPLIT_HINT}"
        )
        raise ConfigError.at(filename, line, column, message) from None
    except MarkedYAMLError as exc:
        line, column = _mark_of(exc)
        raise ConfigError.at(filename, line, column, _yaml_message(exc)) from None
    except ReaderError as exc:
        position = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = exc.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        raise ConfigError.at(
            filename, line, column, f"invalid YAML: character {shown} is not allowed"
        ) from None
    except YAMLError as exc:
        raise ConfigError.at(filename, 1, 1, "invalid YAML: " + _squash(str(exc))) from None
    except RecursionError:
        raise ConfigError.at(filename, 0, 0, TOO_DEEP) from None


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
