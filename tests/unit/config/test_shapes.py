"""The schema stage by shapes: the verdict of full validation, and exactly its messages.

Each bad input is loaded twice, once as the loader does it (shapes first) and once with
full validation in its place (what loading did before the shapes), and both must give the
same problems, file:line:column and sentence. Valid inputs must take the short way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.protocols import Validator

from mplat.config import loader
from mplat.config.model import Config, ConfigError
from mplat.config.origins import Document, Origins
from mplat.config.schema import check_schema, load_schema, make_validator
from mplat.config.shapes import check_document, valid_by_shapes
from mplat.config.template import expand
from mplat.config.yamlnodes import parse_document
from tests.support.configs import EXAMPLE
from tests.support.paths import ROOT

TEMPLATE = """\
version: 1
variables:
  registry: registry.example.com
  versions: [{versions}]
lists:
  - for_each:
      service: [{services}]
      version: ${{versions}}
    repository: ${{registry}}/team/${{service}}
    tags: ["${{version}}"]
    manifests:
      - {{image: "${{registry}}/team/${{service}}:${{version}}-amd64", platform: {platform}}}
      - {{image: "${{registry}}/team/${{service}}:${{version}}-arm64", platform: linux/arm64/v8}}
{more}"""

SERVICES = "api, web, worker, db"
VERSIONS = '"1.0", "1.1", "2.0"'


def template(
    services: str = SERVICES,
    versions: str = VERSIONS,
    platform: str = "linux/amd64",
    more: str = "",
) -> str:
    return TEMPLATE.format(services=services, versions=versions, platform=platform, more=more)


WRITTEN = """\
  - repository: registry.example.com/team/other
    tags: [a, b]
    manifests: [{image: "registry.example.com/team/other:1", platform: linux/amd64}]
"""


def outcome(text: str, *, full: bool = False) -> Config | list[str]:
    """The Config, or every problem as ``file:line:column: message``."""
    with pytest.MonkeyPatch.context() as patch:
        if full:
            patch.setattr(loader, "check_document", check_schema)
        try:
            return loader.load_config_text(text, "t.yaml")
        except ConfigError as exc:
            return [str(problem) for problem in exc.problems]


def expanded(text: str) -> Document:
    return expand(parse_document(text, "t.yaml")).document


VALIDATOR = make_validator(load_schema())

# ------------------------------------------------------------------------------------------
# Bad inputs: the same problems either way

BAD: dict[str, str] = {
    "a bad tag in some items": template(versions='"1.0", "-bad", "2.0"'),
    "a tag too long in some items": template(versions='"1.0", "' + "v" * 129 + '"'),
    "a tag that only validate_tag refuses": template(versions='"1.0", "v2\\n"'),
    "an empty repository": template(services='api, ""').replace(
        "repository: ${registry}/team/${service}", "repository: ${service}"
    ),
    "an uppercase repository (the builder's)": template(services="api, Web"),
    "a platform the schema refuses": template(platform="linux"),
    "a platform object missing a key": template(platform="{os: linux}"),
    "a platform the builder refuses": template(platform="unknown/unknown"),
    "a written item with a bad format": template(
        more=WRITTEN + "    format: dockr\n",
    ),
    "a written item with an unknown key": template(more=WRITTEN + "    tagz: [x]\n"),
    "a written item without manifests": template(
        more="  - {repository: registry.example.com/team/x, tags: [a]}\n"
    ),
    "a written item with prune: yes": template(more=WRITTEN + "    prune: yes\n"),
    "a written item with a numeric tag": template(
        more="  - {repository: r.io/a/b, tags: [1.10], manifests: [{image: r.io/a/b:1}]}\n"
    ),
    "a written item with an empty image": template(
        more='  - {repository: r.io/a/b, tags: [x], manifests: [{image: ""}]}\n'
    ),
    "a written item that is not a mapping": template(more="  - just text\n"),
    "an annotation that is not a string": template(
        more=WRITTEN + "    annotations: {a: 1, '': x}\n"
    ),
    "a bad version beside good lists": template().replace("version: 1", "version: 2"),
    "an unknown top-level key beside good lists": template() + "lsits: []\n",
    "a bad registry beside good lists": template() + "registries: {BAD HOST: {insecure: 1}}\n",
    "duplicate tags (the builder's)": template(more=WRITTEN.replace("[a, b]", "[a, a]")),
}


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_a_bad_input_gets_the_problems_of_full_validation(text: str) -> None:
    fast, full = outcome(text), outcome(text, full=True)
    assert isinstance(full, list) and full
    assert fast == full


@pytest.mark.parametrize(
    "name", [name for name in BAD if "builder" not in name], ids=lambda name: name
)
def test_a_schema_problem_is_never_answered_by_the_shapes(name: str) -> None:
    document = expanded(BAD[name])
    assert check_schema(document).problems
    assert not valid_by_shapes(document, VALIDATOR)
    assert check_document(document) == check_schema(document)


# ------------------------------------------------------------------------------------------
# Valid inputs: the short way, and the same Config


VALID: dict[str, str] = {
    "a template": template(),
    "a template and a written item": template(more=WRITTEN),
    "platform objects": template(platform="{os: linux, architecture: amd64}"),
    "the example": EXAMPLE.read_text(encoding="utf-8"),
    "the for_each example": (ROOT / "examples" / "for_each.yaml").read_text(encoding="utf-8"),
    "an absent list": template(more="  - {repository: r.io/a/b, tags: [x], state: absent}\n"),
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_a_valid_input_is_proved_valid_by_its_shapes(text: str) -> None:
    document = expanded(text)
    assert check_schema(document).problems == []
    assert valid_by_shapes(document, VALIDATOR)
    assert check_document(document) == check_schema(document)
    config = outcome(text)
    assert isinstance(config, Config) and config == outcome(text, full=True)


def test_the_items_of_a_template_are_one_shape_validated_once() -> None:
    document = expanded(template(services=", ".join(f"s{i}" for i in range(50))))
    items = document.data["lists"]
    assert isinstance(items, list) and len(items) == 150
    validator = _Counting(make_validator(load_schema()))
    assert valid_by_shapes(document, cast(Validator, validator))
    (checked,) = validator.seen
    assert checked["lists"] == [items[0]]


class _Counting:
    """A validator that records what it is asked to validate whole."""

    def __init__(self, real: Validator) -> None:
        self.real = real
        self.seen: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        self.seen.append(instance)
        return self.real.iter_errors(instance)


# ------------------------------------------------------------------------------------------
# Any document: never valid by shapes when full validation finds a problem

ODD_VALUES: list[object] = [
    "",
    "x",
    "-x",
    "v1\n",
    "a" * 129,
    "r.io/a/b",
    "linux",
    "linux/amd64",
    "oci",
    "docker",
    "dockr",
    "absent",
    0,
    1,
    1.0,
    65,
    True,
    False,
    None,
    [],
    ["a"],
    [1],
    {},
    {"os": "linux"},
    {"os": "linux", "architecture": "arm64"},
    ["r.io/a/b", ""],
    [{"name": "r.io/a/b"}, {"name": "r.io/a/c", "format": "docker"}],
    [{"name": "r.io/a/b", "format": "dockr"}],
    [{"name": ""}],
    ["linux/amd64", "linux"],
    [{"os": "linux"}],
]
KEYS = [
    "repository",
    "tags",
    "format",
    "state",
    "prune",
    "manifests",
    "annotations",
    "require_platforms",
    "bogus",
]
ENTRY_KEYS = ["image", "platform", "platforms", "attestations", "optional", "bogus"]


def _item(index: int) -> dict[str, object]:
    name = f"registry.example.com/team/s{index % 3}"
    return {
        "repository": name,
        "tags": [f"1.{index}"],
        "manifests": [
            {"image": f"{name}:1.{index}-amd64", "platform": "linux/amd64"},
            {"image": f"{name}:1.{index}-arm64", "platform": "linux/arm64/v8"},
        ],
    }


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    items = [_item(i) for i in range(draw(st.integers(1, 8)))]
    for _ in range(draw(st.integers(0, 3))):
        item: Any = items[draw(st.integers(0, len(items) - 1))]
        value = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        where = draw(st.integers(0, 3))
        if where == 0:
            item[draw(st.sampled_from(KEYS))] = value
        elif where == 1 and isinstance(item.get("tags"), list) and item["tags"]:
            item["tags"][0] = value
        elif where == 2 and isinstance(item.get("manifests"), list) and item["manifests"]:
            entry = item["manifests"][-1]
            if isinstance(entry, dict):
                entry[draw(st.sampled_from(ENTRY_KEYS))] = value
        elif item:
            del item[draw(st.sampled_from(sorted(item)))]
    return {"version": 1, "lists": items}


@settings(max_examples=300, deadline=None, database=None)
@given(documents())
def test_any_document_gets_the_report_of_full_validation(data: dict[str, Any]) -> None:
    document = Document(data, Origins("t.yaml", {}))
    full = check_schema(document)
    assert check_document(document) == full
    if valid_by_shapes(document, VALIDATOR):
        assert full.problems == []


# ------------------------------------------------------------------------------------------
# What the shapes reason about in a schema, and what sends them to full validation


def _schema(item: dict[str, Any], lists: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"lists": {"type": "array", "items": item, **(lists or {})}},
    }


def _verdicts(schema: dict[str, Any], items: Sequence[object]) -> tuple[bool, bool]:
    """(valid by shapes, valid by jsonschema on the whole document)."""
    validator = make_validator(schema)
    data: dict[str, object] = {"lists": json.loads(json.dumps(items))}
    document = Document(data, Origins("t.yaml", {}))
    whole = next(iter(validator.iter_errors(cast(Any, data))), None) is None
    return valid_by_shapes(document, validator), whole


STRING = {"type": "object", "properties": {"name": {"type": "string", "minLength": 2}}}


@pytest.mark.parametrize(
    ("name", "schema", "items", "expected"),
    [
        ("free strings, all fine", STRING, [{"name": "ab"}, {"name": "cd"}], (True, True)),
        ("free strings, one too short", STRING, [{"name": "ab"}, {"name": "c"}], (False, False)),
        (
            "every length limit counts",
            {
                "properties": {
                    "name": {"allOf": [{"minLength": 2}, {"minLength": 3}, {"maxLength": 4}]}
                }
            },
            [{"name": "abc"}, {"name": "abcd"}, {"name": "ab"}],
            (False, False),
        ),
        (
            "every length limit counts, all fine",
            {"properties": {"name": {"allOf": [{"minLength": 2}, {"maxLength": 4}]}}},
            [{"name": "abc"}, {"name": "abcd"}, {"name": "ab"}],
            (True, True),
        ),
        (
            "a type that is not a string",
            {"properties": {"name": {"type": ["number", "null"]}}},
            [{"name": 1}, {"name": "x"}],
            (False, False),
        ),
        (
            "an enum is checked per item",
            {"properties": {"f": {"enum": ["a", "b"]}}},
            [{"f": "a"}, {"f": "b"}, {"f": "c"}],
            (False, False),
        ),
        (
            "anyOf makes strings part of the shape",
            {"properties": {"n": {"anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}},
            [{"n": "a1"}, {"n": "b1"}, {"n": "c1"}],
            (False, False),
        ),
        (
            "anyOf, all fine",
            {"properties": {"n": {"anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}},
            [{"n": "a1"}, {"n": "b1"}],
            (True, True),
        ),
        (
            "anyOf by type: a string is the string branch's",
            {
                "properties": {
                    "n": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "array"}]}
                }
            },
            [{"n": "a1"}, {"n": "b1"}, {"n": "c12"}],
            (False, False),
        ),
        (
            "anyOf by type, all fine",
            {
                "properties": {
                    "n": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "array"}]}
                }
            },
            [{"n": "a1"}, {"n": "b1"}, {"n": ["c12"]}],
            (True, True),
        ),
        (
            "oneOf by type: a list is the list branch's",
            {
                "properties": {
                    "n": {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string", "maxLength": 2}},
                        ]
                    }
                }
            },
            [{"n": ["a1"]}, {"n": ["b1", "c12"]}],
            (False, False),
        ),
        (
            "anyOf by type where two branches take strings",
            {
                "properties": {
                    "n": {"anyOf": [{"maxLength": 1}, {"type": "string", "pattern": "^a"}]}
                }
            },
            [{"n": "a"}, {"n": "ab"}, {"n": "bc"}],
            (False, False),
        ),
        (
            "an empty anyOf",
            {"properties": {"n": {"anyOf": []}}},
            [{"n": "a"}, {"n": "b"}],
            (False, False),
        ),
        (
            "if/then reads a string",
            {
                "if": {"properties": {"k": {"const": "x"}}},
                "then": {"properties": {"v": {"maxLength": 1}}},
            },
            [{"k": "y", "v": "long"}, {"k": "x", "v": "long"}],
            (False, False),
        ),
        (
            "uniqueItems puts the whole list in the shape",
            {"properties": {"tags": {"type": "array", "uniqueItems": True}}},
            [{"tags": ["a", "b"]}, {"tags": ["a", "a"]}],
            (False, False),
        ),
        (
            "contains puts the whole list in the shape",
            {"properties": {"tags": {"contains": {"const": "x"}}}},
            [{"tags": ["x", "b"]}, {"tags": ["a", "b"]}],
            (False, False),
        ),
        (
            "not puts the whole item in the shape",
            {"not": {"properties": {"n": {"const": "bad"}}}},
            [{"n": "good"}, {"n": "bad"}],
            (False, False),
        ),
        (
            "a const mapping is compared whole",
            {"properties": {"m": {"const": {"a": "x"}}}},
            [{"m": {"a": "x"}}, {"m": {"a": "y"}}],
            (False, False),
        ),
        (
            "1, 1.0 and true are different shapes",
            {"properties": {"n": {"type": "integer"}}},
            [{"n": 1}, {"n": 1.0}, {"n": True}],
            (False, False),
        ),
        (
            "a pattern only validate_tag refuses",
            {
                "properties": {
                    "t": {
                        "pattern": "^[a-z0-9]+$",
                        "x-checked-by": "mplat.values.reference.validate_tag",
                    }
                }
            },
            [{"t": "v1"}, {"t": "v2\n"}],
            (False, False),
        ),
        (
            "additionalProperties reaches the extra keys",
            {"properties": {"a": {}}, "additionalProperties": {"type": "string", "maxLength": 1}},
            [{"a": "long", "b": "x"}, {"a": "long", "b": "yy"}],
            (False, False),
        ),
        (
            "patternProperties reaches the keys it matches",
            {"patternProperties": {"^x": {"maxLength": 1}}},
            [{"x1": "a"}, {"x1": "bb"}],
            (False, False),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_shapes_follow_the_schema(
    name: str, schema: dict[str, Any], items: list[object], expected: tuple[bool, bool]
) -> None:
    assert _verdicts(_schema(schema), items) == expected, name


@pytest.mark.parametrize(
    "schema",
    [
        STRING,
        {"properties": {"name": {"allOf": [{"minLength": 1}, {"maxLength": 9}]}}},
        {"properties": {"name": {"enum": ["ab", "cd", "ef"]}}},
        {"properties": {"name": {"anyOf": [{"type": "string"}, {"type": "array"}]}}},
        {"properties": {"name": {"anyOf": [{"type": ["string", "null"]}, {"type": "object"}]}}},
        {"properties": {"name": {"oneOf": [{"type": "integer"}, {"pattern": "^[a-f]"}]}}},
    ],
)
def test_items_that_differ_in_free_strings_only_are_validated_once(schema: dict[str, Any]) -> None:
    validator = _Counting(make_validator(_schema(schema)))
    data: dict[str, object] = {"lists": [{"name": "ab"}, {"name": "cd"}, {"name": "ef"}]}
    assert valid_by_shapes(Document(data, Origins("t.yaml", {})), cast(Validator, validator))
    (checked,) = validator.seen
    assert checked["lists"] == [{"name": "ab"}]


@pytest.mark.parametrize(
    ("lists", "root"),
    [
        ({"maxItems": 2}, {}),
        ({"uniqueItems": True}, {}),
        ({}, {"if": {"required": ["x"]}, "then": {"required": ["y"]}}),
        ({}, {"anyOf": [{"required": ["lists"]}, {"required": ["x"]}]}),
        ({}, {"not": {"required": ["x"]}}),
    ],
)
def test_a_schema_around_the_lists_it_cannot_follow_means_full_validation(
    lists: dict[str, Any], root: dict[str, Any]
) -> None:
    schema = {**_schema(STRING, lists), **root}
    items = [{"name": "ab"}, {"name": "cd"}, {"name": "ef"}]
    assert _verdicts(schema, items)[0] is False


def test_a_value_of_an_unknown_type_means_full_validation() -> None:
    data: dict[str, object] = {"version": 1, "lists": [{"repository": b"r.io/a"}]}
    assert not valid_by_shapes(Document(data, Origins("t.yaml", {})), VALIDATOR)


def test_a_key_that_is_not_a_string_means_full_validation() -> None:
    validator = make_validator(_schema({"patternProperties": {"^x": {"type": "string"}}}))
    data: dict[str, object] = {"lists": [{"x": "a"}, {1: "b"}]}
    assert not valid_by_shapes(Document(data, Origins("t.yaml", {})), validator)


def test_no_lists_means_full_validation() -> None:
    document = Document({"version": 1, "lists": {"a": 1}}, Origins("t.yaml", {}))
    assert not valid_by_shapes(document, VALIDATOR)
    assert check_document(document) == check_schema(document)
