"""The schema stage for many similar lists: jsonschema runs once per *structural shape*.

Why: a for_each template expands into thousands of list items that are copies of a few
shapes (the same keys, types and fixed values; only names and tags differ), and jsonschema
walking every one of them took most of the time of loading 10,000 of them. Here it checks
one item per shape, and the strings that tell the items apart are checked on their own.

How it stays exact:

- The schema decides which strings are *free*. A string is free when every schema reaching
  its position does so unconditionally (through ``properties``, ``patternProperties``,
  ``additionalProperties``, ``items`` and ``allOf``, never under ``anyOf``, ``oneOf`` or
  ``if``) and says nothing about it but ``type``, ``minLength``, ``maxLength``, ``pattern``,
  ``format``, ``enum`` or ``const``. Those keywords are applied to each free string as the
  validator applies them (its own functions, so ``x-checked-by`` tags are checked by
  ``validate_tag``; the lengths and ``type`` worked out directly, being asked of every free
  string). Every other value is part of the shape: keys, list lengths, numbers,
  booleans, strings the schema is not that simple about, and everything under a container
  whose schema uses a keyword not named above (``uniqueItems``, ``not``, ``$ref``...).
- Items of one shape then differ only in free strings, whose checks stand alone: an item is
  valid exactly when the first item of its shape is and its own free strings pass.
- Only a valid document is answered here. On any doubt (a schema around ``lists`` this does
  not reason about, a value type it does not know) and on any problem found, the document
  goes to :func:`~mplat.config.schema.check_schema` whole, so every message, position and
  tainted path is exactly the full validation's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from jsonschema.protocols import Validator

from mplat.config.origins import Document
from mplat.config.schema import SchemaReport, check_schema, load_schema, make_validator

__all__ = ["check_document", "valid_by_shapes"]

Schema = Mapping[str, Any] | bool
_Route = tuple[Schema, bool]
"""A schema applying at a position, and whether it applies only under a condition."""
_Keyword = Callable[[Validator, object, object, Mapping[str, Any]], Iterator[object] | None]

_STRING_KEYWORDS = frozenset(
    {"type", "minLength", "maxLength", "pattern", "format", "enum", "const"}
)
"""Keywords whose verdict on a string depends on that string alone."""
_STRING_ROUTED = _STRING_KEYWORDS | {"allOf", "anyOf", "oneOf"}
"""Those, and the ones whose schemas are followed (under a condition, unless the string's
type leaves one schema only)."""
_CONTAINER_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "dependentRequired",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "items",
        "minItems",
        "maxItems",
        "allOf",
        "anyOf",
        "oneOf",
        "if",
    }
)
"""Keywords on a mapping or list that look only at its keys, its length and the types and
shapes of its children, or pass schemas on to them (followed here)."""
_LISTS_KEYWORDS = frozenset({"type", "items", "minItems", "allOf"})
"""What the schema may say about ``lists`` itself: a shorter list of one item per shape then
passes exactly when the whole list would (``minItems``: when it passes, the longer one does)."""

_FREE = object()
"""Stands in a shape for a free string."""
_DICT = object()
_LIST = object()
_SCALARS = (int, float, bool, type(None))


class _Doubt(Exception):
    """Something the shapes cannot reason about: validate the whole document instead."""


class _Position:
    """One place in a list item (list indexes alike), with the schemas that apply there.

    Which schemas apply depends on the kind of value found here (an ``anyOf`` of a string
    and a list schema is the string schema for a string), so there are routes for each kind.
    ``fixed``/``fixed_list``: a mapping/list here is part of the shape, whole. ``check``: the
    free-string check of a string here, or None when a string here is part of the shape.
    """

    __slots__ = (
        "_item",
        "_keywords",
        "check",
        "children",
        "fixed",
        "fixed_list",
        "list_routes",
        "passed",
        "routes",
    )

    def __init__(self, routes: list[_Route], keywords: Mapping[str, _Keyword]) -> None:
        self.routes = _in_place(routes, "object", keywords)  # for a mapping here
        self.list_routes = _in_place(routes, "array", keywords)
        self._keywords = keywords
        self.children: dict[str, _Position] = {}
        self._item: _Position | None = None
        self.fixed = not all(_only(s, _CONTAINER_KEYWORDS, keywords) for s, _ in self.routes)
        self.fixed_list = not all(
            _only(s, _CONTAINER_KEYWORDS, keywords) for s, _ in self.list_routes
        )
        self.check = _string_check(_in_place(routes, "string", keywords), keywords)
        self.passed: set[str] = set()

    def child(self, key: str) -> _Position:
        found = self.children.get(key)
        if found is None:
            if not isinstance(key, str):
                raise _Doubt  # YAML keys are strings; whatever else is full validation's
            found = _Position(_child_routes(self.routes, key), self._keywords)
            self.children[key] = found
        return found

    def item(self) -> _Position:
        if self._item is None:
            routes = [
                (schema["items"], conditional)
                for schema, conditional in self.list_routes
                if isinstance(schema, Mapping) and "items" in schema
            ]
            self._item = _Position(routes, self._keywords)
        return self._item


def check_document(document: Document) -> SchemaReport:
    """What :func:`~mplat.config.schema.check_schema` reports, sooner for many similar lists."""
    if valid_by_shapes(document, make_validator(load_schema())):
        return SchemaReport([], [])
    return check_schema(document)


def valid_by_shapes(document: Document, validator: Validator) -> bool:
    """True when one item per shape and every free string prove ``document`` valid.

    False says only that the shapes could not tell (a problem found, or a doubt).
    """
    data = document.data
    items = data.get("lists")
    if not isinstance(items, list):
        return False
    try:
        position = _item_position(validator)
        shapes: dict[object, object] = {}
        for item in items:
            shape = _shape(item, position, validator)
            if shape is None:
                return False  # a free string failed its check
            shapes.setdefault(shape, item)
    except _Doubt:
        return False
    representatives = {**data, "lists": list(shapes.values())}
    return next(iter(validator.iter_errors(cast(Any, representatives))), None) is None


def _item_position(validator: Validator) -> _Position:
    """The position of every item of ``lists``, when nothing around it is conditional."""
    keywords = cast("Mapping[str, _Keyword]", validator.VALIDATORS)
    root = _Position([(validator.schema, False)], keywords)
    lists = root.child("lists")
    for routes, allowed in (
        (root.routes, _CONTAINER_KEYWORDS),
        (lists.list_routes, _LISTS_KEYWORDS),
    ):
        for schema, conditional in routes:
            if conditional or not _only(schema, allowed, keywords):
                raise _Doubt
    return lists.item()


def _shape(value: object, at: _Position, validator: Validator) -> object | None:
    """``value`` with its free strings replaced by ``_FREE``; None if one of them fails.

    The hot loop of the stage (once per value of every item), so strings are handled inline.
    """
    if isinstance(value, str):
        return value if at.check is None else _text(value, at, validator)
    if isinstance(value, dict):
        if at.fixed:
            return _frozen(value)
        out: list[object] = [_DICT]
        for key, item in value.items():
            child = at.children.get(key) or at.child(key)
            if isinstance(item, str):
                shape = _text(item, child, validator) if child.check is not None else item
            else:
                shape = _shape(item, child, validator)
            if shape is None:
                return None
            out.append(key)
            out.append(shape)
        return tuple(out)
    if isinstance(value, list):
        if at.fixed_list:
            return _frozen(value)
        position = at.item()
        out = [_LIST]
        for item in value:
            if isinstance(item, str) and position.check is None:
                shape = item
            else:
                shape = _shape(item, position, validator)
            if shape is None:
                return None
            out.append(shape)
        return tuple(out)
    return _frozen(value)


def _text(text: str, at: _Position, validator: Validator) -> object | None:
    """A free string's place in the shape, once its own check has passed."""
    if text not in at.passed:
        assert at.check is not None
        if not at.check(validator, text):
            return None
        at.passed.add(text)
    return _FREE


def _frozen(value: object) -> object:
    """``value`` as a hashable whole: every part of it belongs to the shape."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return (_DICT, *((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return (_LIST, *(_frozen(item) for item in value))
    if isinstance(value, _SCALARS):
        return (type(value), value)  # 1, 1.0 and True are equal in Python, not in a schema
    raise _Doubt


def _in_place(routes: list[_Route], kind: str, keywords: Mapping[str, _Keyword]) -> list[_Route]:
    """``routes`` and the schemas they apply at the same position to a value of JSON ``kind``.

    Those of ``allOf`` apply as their parent does, those of ``if`` only under a condition,
    and so do those of ``anyOf`` and ``oneOf``, unless every branch but one refuses ``kind``
    by its ``type``: then the one left decides alone (``repository``: a string or a list).
    """
    out: list[_Route] = []
    pending = list(routes)
    while pending:
        schema, conditional = pending.pop()
        out.append((schema, conditional))
        if not isinstance(schema, Mapping):
            continue
        for keyword in ("allOf", "anyOf", "oneOf"):
            subs = schema.get(keyword)
            if subs is None:
                continue
            if not isinstance(subs, list):
                raise _Doubt
            if keyword == "allOf":
                pending.extend((sub, conditional) for sub in subs)
                continue
            viable = [sub for sub in subs if not _refuses(sub, kind, keywords)]
            if len(viable) == 1:
                pending.append((viable[0], conditional))
            else:  # (none at all: one that always fails, so the value is in the shape)
                pending.extend((sub, True) for sub in subs or [False])
        if "if" in schema:
            pending.extend((schema[k], True) for k in ("if", "then", "else") if k in schema)
    return out


def _refuses(schema: Schema, kind: str, keywords: Mapping[str, _Keyword]) -> bool:
    """``schema`` fails every value of JSON ``kind`` (its ``type`` leaves it out, or False).

    A type checker answers by a value's JSON type, so a str is a "string" and nothing else.
    """
    if isinstance(schema, bool):
        return not schema
    types = schema.get("type") if "type" in keywords else None
    if isinstance(types, str):
        return types != kind
    return isinstance(types, list) and kind not in types


def _child_routes(routes: list[_Route], key: str) -> list[_Route]:
    """The schemas that ``properties`` and its siblings apply to the value at ``key``."""
    out: list[_Route] = []
    for schema, conditional in routes:
        if not isinstance(schema, Mapping):
            continue
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        if not isinstance(properties, Mapping) or not isinstance(patterns, Mapping):
            raise _Doubt
        if key in properties:
            out.append((properties[key], conditional))
        out.extend((sub, conditional) for p, sub in patterns.items() if re.search(p, key))
        # As jsonschema finds additional properties: not named, and matching no pattern.
        joined = "|".join(patterns)
        extra = key not in properties and not (joined and re.search(joined, key))
        if "additionalProperties" in schema and extra:
            out.append((schema["additionalProperties"], conditional))
    return out


def _only(schema: Schema, allowed: frozenset[str], keywords: Mapping[str, _Keyword]) -> bool:
    """``schema`` asserts nothing beyond ``allowed`` (words jsonschema ignores are no matter)."""
    if isinstance(schema, bool):
        return schema
    return all(word in allowed or word not in keywords for word in schema)


def _string_check(routes: list[_Route], keywords: Mapping[str, _Keyword]) -> _StringCheck | None:
    """How to check a free string at a position reached by ``routes``; None: not free there."""
    checks: list[tuple[str, object, Mapping[str, Any]]] = []
    for schema, conditional in routes:
        if conditional or not _only(schema, _STRING_ROUTED, keywords):
            return None
        if isinstance(schema, Mapping):
            checks.extend(
                (w, v, schema) for w, v in schema.items() if w in _STRING_KEYWORDS and w in keywords
            )
    return _StringCheck(checks, keywords)


class _StringCheck:
    """The keywords a free string answers to, with the verdicts jsonschema would give.

    Asked of every free string (30,000 image names in 10,000 lists), so the common ones are
    worked out here: ``type`` once per position, as a type checker answers by a value's JSON
    type and every str has the same one; ``minLength`` and ``maxLength`` by ``len``, as
    jsonschema counts. Every other keyword runs as jsonschema's own function.
    """

    __slots__ = ("_keywords", "_longest", "_others", "_shortest", "_typed", "_types")

    def __init__(
        self, checks: list[tuple[str, object, Mapping[str, Any]]], keywords: Mapping[str, _Keyword]
    ) -> None:
        self._keywords = keywords
        self._types = [(v, schema) for w, v, schema in checks if w == "type"]
        whole = all(type(v) is int for w, v, _ in checks if w in ("minLength", "maxLength"))
        shortest = [v for w, v, _ in checks if w == "minLength"] if whole else []
        longest = [v for w, v, _ in checks if w == "maxLength"] if whole else []
        self._shortest = max(cast("list[int]", shortest), default=0)
        self._longest = min(cast("list[int]", longest), default=None)
        direct = {"type", "minLength", "maxLength"} if whole else {"type"}
        self._others = [(keywords[w], v, schema) for w, v, schema in checks if w not in direct]
        self._typed: bool | None = None  # the type verdict, and whether lengths apply

    def __call__(self, validator: Validator, text: str) -> bool:
        if self._typed is None:
            self._typed = validator.is_type(text, "string") and not any(
                _errs(self._keywords["type"], validator, v, text, s) for v, s in self._types
            )
        if not self._typed:
            return False
        if len(text) < self._shortest or (self._longest is not None and len(text) > self._longest):
            return False
        return not any(_errs(keyword, validator, v, text, s) for keyword, v, s in self._others)


def _errs(
    keyword: _Keyword, validator: Validator, value: object, text: str, schema: Mapping[str, Any]
) -> bool:
    """Whether jsonschema's function for ``keyword`` finds anything wrong with ``text``."""
    return next(iter(keyword(validator, value, text, schema) or ()), None) is not None
