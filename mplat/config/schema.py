"""Stage 3 of loading: JSON Schema validation, its errors turned into sentences.

The schema (``mplat.schema.json``, the same file editors use) owns every rule about shapes,
types, ranges and spellings; a failing value is reported here once, at its own position,
and its path is *tainted* so the builder does not look at it and report it again.
"""

from __future__ import annotations

import difflib
import importlib.resources
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator

from mplat.config.model import ConfigProblem
from mplat.config.origins import Document, JSONPath, Origin, Origins, prefixed
from mplat.values.reference import ReferenceError, validate_tag
from mplat.values.text import json_quoted

__all__ = ["SchemaReport", "check_schema", "inline_refs", "load_schema", "make_validator"]

_SCHEMA_RESOURCE = "mplat.schema.json"


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What the schema found: the problems, and the paths too broken to build from."""

    problems: list[ConfigProblem]
    tainted: list[JSONPath]


@dataclass(frozen=True)
class _Issue:
    path: JSONPath  # the value the message is about; also the prefix of the message
    message: str
    at_key: JSONPath | None = None  # point at this key instead of at path's value
    taint: JSONPath | None = None  # value too broken for the semantic checks to look at


def load_schema() -> dict[str, Any]:
    """The packaged schema (a link to schemas/mplat.schema.json, which editors use)."""
    resource = importlib.resources.files("mplat.config").joinpath(_SCHEMA_RESOURCE)
    return cast("dict[str, Any]", json.loads(resource.read_text(encoding="utf-8")))


_ANNOTATIONS = frozenset({"description", "markdownDescription", "title", "examples", "default"})
_DEFS = "#/$defs/"


def inline_refs(node: object, defs: Mapping[str, Any], seen: frozenset[str]) -> object:
    """Replace each ``{"$ref": "#/$defs/x"}`` with the schema it names: the same checks.

    jsonschema resolves a ``$ref`` anew for every value it checks, which was most of the
    schema pass on a large config. Only refs whose siblings are annotations are inlined, and
    a recursive ref is left as it is.
    """
    if isinstance(node, list):
        return [inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS) and set(node) - {"$ref"} <= _ANNOTATIONS:
        name = ref.removeprefix(_DEFS)
        target = defs.get(name)
        if isinstance(target, dict) and name not in seen:
            inlined = inline_refs(target, defs, seen | {name})
            assert isinstance(inlined, dict)
            return {**inlined, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: inline_refs(value, defs, seen) for key, value in node.items()}


_CHECKED_BY = "x-checked-by"
"""Marks a ``pattern`` that restates a grammar mplat owns in code, for editors' sake."""
_RULES: Mapping[str, Callable[[str], object]] = {
    "mplat.values.reference.validate_tag": validate_tag,
}


def _pattern(
    validator: Validator, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """jsonschema's ``pattern``, except where the schema names the code owning the grammar.

    There the code decides validity, and the pattern (what editors check) only the wording:
    what it refuses too gets the schema's patternErrorMessage, the rest the code's reason.
    """
    if not isinstance(instance, str):
        return
    rule = _RULES.get(schema.get(_CHECKED_BY, ""))
    if rule is not None:
        try:
            rule(instance)
            return
        except ReferenceError as exc:
            reason = str(exc)
    else:
        reason = None
    if re.search(pattern, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")
    elif reason is not None:
        yield ValidationError(reason, validator=_CHECKED_BY, validator_value=pattern)


def make_validator(schema: Mapping[str, Any]) -> Validator:
    """A Draft 2020-12 validator for ``schema``, with YAML's idea of an integer."""

    # JSON Schema counts 8.0 as an integer; in YAML it is visibly a float, so refuse it.
    def is_integer(_checker: object, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    extend: Callable[..., type[Validator]] = validators.extend  # untyped in the stubs
    inlined = inline_refs(schema, schema.get("$defs", {}), frozenset())
    cls = extend(Draft202012Validator, validators={"pattern": _pattern}, type_checker=checker)
    return cls(cast("Mapping[str, Any]", inlined))


def check_schema(document: Document) -> SchemaReport:
    """Every schema problem of ``document``, in the order jsonschema finds them."""
    origins = document.origins
    problems: list[ConfigProblem] = []
    tainted: list[JSONPath] = []
    errors = list(make_validator(load_schema()).iter_errors(cast(Any, document.data)))
    # A value of the wrong type also fails its enum/pattern; one message about it is enough.
    wrong_type = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in wrong_type:
            continue
        for issue in _explain(error, origins):
            where = (
                origins.key(issue.at_key) if issue.at_key is not None else origins.value(issue.path)
            )
            problems.append(ConfigProblem(where, prefixed(issue.path, issue.message)))
            if issue.taint is not None:
                tainted.append(issue.taint)
    return SchemaReport(problems, tainted)


def _explain(error: ValidationError, origins: Origins) -> Iterator[_Issue]:
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

    if keyword == _CHECKED_BY:
        # The code owning the grammar refused what the editors' pattern lets through.
        yield _Issue(path, error.message, taint=path)
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
    error: ValidationError, path: JSONPath, origins: Origins
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


def _quote_hint(error: ValidationError, origin: Origin | None) -> str:
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


# Wording


def _describe(value: object, origin: Origin | None, *, kind: bool = False) -> str:
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
