"""Schema problems as sentences at their positions, and the schema file itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mplat.config import schema as config_schema
from mplat.config import yamlnodes
from mplat.config.loader import load_config_text
from mplat.config.model import ConfigError
from mplat.values.reference import ReferenceError, validate_tag
from mplat.values.text import json_quoted
from tests.support.configs import (
    VALID_HEAD,
    Problem,
    problems,
)
from tests.support.paths import ROOT

SCHEMA = ROOT / "schemas" / "mplat.schema.json"


# ------------------------------------------------------------------------------------------
# Schema problems, one at a time


SCHEMA_CASES: list[tuple[str, str, Problem]] = [
    (
        "enum",
        VALID_HEAD + "    format: dockr\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            13,
            'lists[0].format: expected one of "oci", "docker", got "dockr" '
            '(did you mean "docker"?)',
        ),
    ),
    (
        "unknown key",
        VALID_HEAD + "    tagz: [x]\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            5,
            'lists[0]: unknown key "tagz", did you mean "tags"? (expected one of repository, '
            "tags, format, annotations, state, prune, prevent_destroy, require_platforms, "
            "manifests, for_each)",
        ),
    ),
    (
        "unknown top-level key",
        VALID_HEAD + "    manifests: [{image: a.io/b:1}]\nlsits: []\n",
        (
            6,
            1,
            'unknown key "lsits", did you mean "lists"? (expected one of version, '
            "registries, defaults, lists, variables, or an x- extension key)",
        ),
    ),
    (
        "missing required key points at the mapping",
        "version: 1\nlists:\n  - repository: a.io/b\n    manifests: [{image: a.io/b:1}]\n",
        (3, 5, 'lists[0]: missing required key "tags"'),
    ),
    (
        "missing top-level key",
        "version: 1\n",
        (1, 1, 'missing required key "lists"'),
    ),
    (
        "manifests needed unless absent",
        VALID_HEAD,
        (3, 5, 'lists[0]: missing required key "manifests" (needed unless state is "absent")'),
    ),
    (
        "empty manifests",
        VALID_HEAD + "    manifests: []\n",
        (
            5,
            16,
            "lists[0].manifests: expected a non-empty list, got an empty list "
            '(needed unless state is "absent")',
        ),
    ),
    (
        "number where a tag belongs",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: [latest, 1.10]\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (
            4,
            20,
            "lists[0].tags[1]: expected a string, got the number 1.10 "
            '(write "1.10" in quotes to make it a string)',
        ),
    ),
    (
        "tag pattern",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: [-x]\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (
            4,
            12,
            "lists[0].tags[0]: expected a tag: 1 to 128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-', got \"-x\"",
        ),
    ),
    (
        "empty tags",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: []\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (4, 11, "lists[0].tags: expected a non-empty list, got an empty list"),
    ),
    (
        "empty value points at its key",
        VALID_HEAD + "    format:\n    manifests: [{image: a.io/b:1}]\n",
        (5, 5, 'lists[0].format: expected one of "oci", "docker", got an empty value'),
    ),
    (
        "version",
        "version: 2\nlists: [{repository: a.io/b, tags: [x], manifests: [{image: a.io/b:1}]}]\n",
        (1, 10, "version: unsupported version 2 (this mplat reads version 1)"),
    ),
    (
        "boolean",
        VALID_HEAD + "    prune: yes\n    manifests: [{image: a.io/b:1}]\n",
        (5, 12, 'lists[0].prune: expected true or false, got "yes"'),
    ),
    (
        "integer range",
        "registries: {a.io: {parallelism: 100}}\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (1, 34, 'registries["a.io"].parallelism: expected a whole number from 1 to 64, got 100'),
    ),
    (
        "a float is not an integer",
        "registries: {a.io: {parallelism: 8.0}}\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (1, 34, 'registries["a.io"].parallelism: expected a whole number, got the number 8.0'),
    ),
    (
        "credentials come in pairs",
        "registries:\n  a.io:\n    username_env: USER\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (3, 5, 'registries["a.io"]: "username_env" needs "password_env" as well'),
    ),
    (
        "registry key shape",
        "registries:\n  'bad host': {}\n" + VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n",
        (
            2,
            3,
            'registries: invalid key "bad host": expected a registry host[:port], '
            'e.g. "localhost:5000" or "ghcr.io"',
        ),
    ),
    (
        "platform of the wrong type",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: [linux]\n",
        (7, 19, "lists[0].manifests[0].platform: expected a string or a mapping, got a list"),
    ),
    (
        "platform string shape",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: linux\n",
        (
            7,
            19,
            "lists[0].manifests[0].platform: expected a platform os/arch[/variant], "
            'e.g. "linux/amd64" or "linux/arm64/v8", got "linux"',
        ),
    ),
    (
        "platform mapping without architecture",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: {os: linux}\n",
        (7, 19, 'lists[0].manifests[0].platform: missing required key "architecture"'),
    ),
    (
        "empty platforms",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platforms: []\n",
        (7, 20, "lists[0].manifests[0].platforms: expected a non-empty list, got an empty list"),
    ),
    (
        "annotation values are strings",
        VALID_HEAD + "    annotations: {a.b: 1.0}\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            24,
            'lists[0].annotations["a.b"]: expected a string, got the number 1.0 '
            '(write "1.0" in quotes to make it a string)',
        ),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in SCHEMA_CASES], ids=[n for n, _, _ in SCHEMA_CASES]
)
def test_schema_problem_position_and_message(tmp_path: Path, text: str, expected: Problem) -> None:
    assert problems(tmp_path, text) == [expected]


def test_top_level_value_of_the_wrong_type(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: 1\nlists: {a: b}\n") == [
        (2, 8, "lists: expected a list, got a mapping")
    ]


# ------------------------------------------------------------------------------------------
# The schema file


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _subschemas(node: object, conditional: bool = False) -> list[tuple[dict[str, Any], bool]]:
    """Every schema object, flagged when inside if/else (those only restate constraints)."""
    found: list[tuple[dict[str, Any], bool]] = []
    if isinstance(node, dict):
        found.append((node, conditional))
        for key, value in node.items():
            found.extend(_subschemas(value, conditional or key in ("if", "then", "else")))
    elif isinstance(node, list):
        for value in node:
            found.extend(_subschemas(value, conditional))
    return found


def test_schema_is_valid_draft_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] and schema["title"] and schema["description"]


def test_schema_documents_every_property_and_closes_every_object() -> None:
    for sub, conditional in _subschemas(_schema()):
        if not conditional:
            for name, prop in sub.get("properties", {}).items():
                assert prop.get("description"), f"property {name} has no description"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, sub.get("description")
        if "pattern" in sub:
            assert sub.get("patternErrorMessage", "").startswith("Expected "), sub


def test_package_schema_is_the_repository_schema() -> None:
    link = ROOT / "mplat" / "config" / "mplat.schema.json"
    assert link.is_symlink()
    assert link.resolve() == SCHEMA.resolve()
    assert config_schema.load_schema() == _schema()


def test_inlined_schema_refs_give_the_same_errors() -> None:
    # The loader inlines $refs for speed; jsonschema must report exactly what it did before.
    documents: list[Any] = [
        {"version": 2, "lists": 5},
        {"version": 1, "lists": [{"repository": 1, "tags": ["-bad", 2], "format": "x"}]},
        {
            "version": 1,
            "defaults": {"format": "zip"},
            "registries": {"BAD HOST": {"username_env": "1x", "parallelism": 0}},
            "lists": [
                {
                    "repository": "a.io/b",
                    "tags": [],
                    "manifests": [
                        {"image": "", "platform": {"os": 1}, "platforms": ["linux", 3]},
                        {"image": "a.io/b:1", "platform": "LINUX/amd64/v8/x"},
                        "not a mapping",
                    ],
                }
            ],
        },
    ]
    inlined = config_schema.make_validator(_schema())
    plain = Draft202012Validator(_schema())
    for document in documents:

        def seen(validator: Any, doc: Any = document) -> list[tuple[object, ...]]:
            errors = validator.iter_errors(doc)
            return sorted(
                (e.validator, e.message, tuple(e.absolute_path), str(e.schema.get("type")))
                for e in errors
            )

        assert seen(inlined) == seen(plain) != []
    assert "$ref" not in json.dumps(
        config_schema.inline_refs(_schema(), _schema()["$defs"], frozenset())
    )


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\u2028", "\\u2028"),
        ("\x85", "\\u0085"),
        ("\x9b", "\\u009b"),
        ("\x1b", "\\u001b"),
        ("\u200b", "\\u200b"),
        ("\xa0", "\\u00a0"),
        ("\ud800", "\\ud800"),
        ("\U000e0001", "\\udb40\\udc01"),
    ],
)
def test_unprintable_characters_are_escaped_in_messages(char: str, escaped: str) -> None:
    key = json.dumps("lists" + char)  # a YAML escape puts any character into a key
    with pytest.raises(ConfigError) as caught:
        load_config_text(f"version: 1\nlists: []\n{key}: 1\n", "u.yaml")
    (problem,) = [p for p in caught.value.problems if "unknown key" in p.message]
    assert f'unknown key "lists{escaped}"' in problem.message
    assert problem.message.isprintable()


def test_printable_text_is_quoted_as_written() -> None:
    assert json_quoted('é ü 😀 "x"') == '"é ü 😀 \\"x\\""'


# ------------------------------------------------------------------------------------------
# The stage on its own, and the grammar it borrows


def test_check_schema_reports_problems_and_taints_what_it_refused() -> None:
    text = VALID_HEAD + "    prune: yes\n    manifests: [{image: a.io/b:1}]\n"
    report = config_schema.check_schema(yamlnodes.parse_document(text, "s.yaml"))
    assert [str(p) for p in report.problems] == [
        's.yaml:5:12: lists[0].prune: expected true or false, got "yes"'
    ]
    assert report.tainted == [("lists", 0, "prune")]
    missing = config_schema.check_schema(yamlnodes.parse_document(VALID_HEAD, "s.yaml"))
    assert [p.message for p in missing.problems] == [
        'lists[0]: missing required key "manifests" (needed unless state is "absent")'
    ]
    assert missing.tainted == [("lists", 0, "manifests")]


def test_the_tag_pattern_is_checked_by_validate_tag() -> None:
    tag = _schema()["$defs"]["tag"]
    assert tag["x-checked-by"] == "mplat.values.reference.validate_tag"
    assert config_schema._RULES[tag["x-checked-by"]] is validate_tag


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text("aZ09_.-\n", max_size=130), st.text(max_size=8)))
def test_what_the_tag_pattern_refuses_validate_tag_refuses(text: str) -> None:
    # The pattern only words the refusal; it must never refuse a tag mplat accepts.
    pattern = _schema()["$defs"]["tag"]["pattern"]
    if re.search(pattern, text) is None:
        with pytest.raises(ReferenceError):
            validate_tag(text)
