"""YAML -> data with origins: syntax, tags, duplicate keys, and the bounds on hostile input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml.nodes import MappingNode, SequenceNode

from mplat.config import yamlcompose, yamlnodes
from mplat.config.loader import load_config, load_config_text
from mplat.config.model import ConfigError, Location
from mplat.config.read import MAX_FILE_BYTES
from mplat.config.yamlnodes import MAX_NODES
from tests.support.configs import (
    EXAMPLE,
    VALID_HEAD,
    Problem,
    lists_config,
    problems,
    problems_of,
    write,
)


def test_yaml_anchors_merge_keys_and_extension_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        x-common: &common
          repository: localhost:5000/acme/app
          format: docker
          manifests:
            - image: localhost:5000/acme/app:amd64
        version: 1
        lists:
          - <<: *common
            tags: [a]
          - <<: *common
            repository: localhost:5000/acme/other
            tags: [b]
        """,
    )
    first, second = load_config(path).lists
    assert first.repository.name == "localhost:5000/acme/app" and first.format == "docker"
    assert second.repository.name == "localhost:5000/acme/other"
    # Merged values keep the position where they were written, inside the anchor.
    assert (first.manifests[0].location.line, second.manifests[0].location.line) == (5, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0, "the file is empty: expected a mapping with version and lists")),
        (
            "# only a comment\n\n",
            (0, 0, "the file is empty: expected a mapping with version and lists"),
        ),
        ("---\n...\n", (0, 0, "the file is empty: expected a mapping with version and lists")),
        ("- a\n- b\n", (1, 1, "expected a mapping with version and lists, got a list")),
        ("\nhello\n", (2, 1, "expected a mapping with version and lists, got a single value")),
    ],
    ids=["empty", "comments", "empty-document", "list", "scalar"],
)
def test_empty_or_not_a_mapping(tmp_path: Path, text: str, expected: Problem) -> None:
    assert problems(tmp_path, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nlists: [a, b\nc: d\n",
            (
                3,
                2,
                "invalid YAML: expected ',' or ']', but got ':' "
                "(while parsing a flow sequence started at line 2, column 8)",
            ),
        ),
        ("version: 1\nlists: a: b\n", (2, 9, "invalid YAML: mapping values are not allowed here")),
        (
            "version: 1\n\tlists: []\n",
            (
                2,
                1,
                "invalid YAML: found character '\\t' that cannot start any token "
                "(while scanning for the next token)",
            ),
        ),
        (
            "version: 1\n---\nlists: []\n",
            (2, 1, "invalid YAML: only one document is allowed (a second one starts here)"),
        ),
        ("version: *nope\n", (1, 10, "invalid YAML: found undefined alias 'nope'")),
        ("version: 1\x00\n", (1, 11, "invalid YAML: character U+0000 is not allowed")),
    ],
    ids=["flow", "colon", "tab", "two-documents", "undefined-alias", "nul"],
)
def test_invalid_yaml(tmp_path: Path, text: str, expected: Problem) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems_of(path) == [expected]


def test_duplicate_keys_are_reported_where_repeated(tmp_path: Path) -> None:
    text = """\
        version: 1
        lists:
          - repository: a.io/b
            tags: [x]
            manifests: [{image: a.io/b:1, image: a.io/b:2}]
            repository: a.io/c
        version: 1
        """
    assert problems(tmp_path, text) == [
        (5, 35, 'duplicate key "image" (first defined at line 5, column 18)'),
        (6, 5, 'duplicate key "repository" (first defined at line 3, column 5)'),
        (7, 1, 'duplicate key "version" (first defined at line 1, column 1)'),
    ]


def test_unsupported_yaml_tags(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: !!binary aGk=\nlists: !custom [a]\n") == [
        (1, 10, "unsupported YAML tag !!binary"),
        (2, 8, "unsupported YAML tag !custom (only plain lists are allowed)"),
    ]


def test_complex_keys_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "? [a]\n: 1\nversion: 1\n") == [
        (1, 3, "a mapping key must be a plain string, not a list or mapping")
    ]


# ------------------------------------------------------------------------------------------
# Hostile input


def billion_laughs(levels: int = 9) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in range(1, levels + 1):
        text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n"
    return text


ALIAS_BOMB = [
    "too many nodes (YAML alias expansion?): more than 300000 values once aliases are "
    "expanded, the limit for one file"
]


@pytest.mark.timeout(60)
def test_alias_bomb_stops_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    found = problems(tmp_path, billion_laughs())
    assert time.monotonic() - started < 20
    assert [message for _, _, message in found] == ALIAS_BOMB


@pytest.mark.timeout(60)
def test_merge_key_bomb_stops_quickly(tmp_path: Path) -> None:
    text = "m0: &m0 {" + ", ".join(f"k{i}: 1" for i in range(9)) + "}\n"
    for level in range(1, 12):
        text += f"m{level}: &m{level} {{<<: [" + ", ".join([f"*m{level - 1}"] * 9) + "]}\n"
    started = time.monotonic()
    found = problems(tmp_path, text)
    assert time.monotonic() - started < 20
    assert [message for _, _, message in found] == ALIAS_BOMB


@pytest.mark.parametrize(
    "text",
    ["a: &x [*x]\n", "a: &x {b: *x}\n", "a: &x {<<: *x}\n"],
    ids=["list", "mapping", "merge"],
)
def test_recursive_aliases_are_refused(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        (1, 4, "nested more than 64 levels deep (recursive YAML alias?)")
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", (1, 67)),
        ("".join("  " * i + f"k{i}:\n" for i in range(100)), (64, 127)),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_without_recursion_error(
    tmp_path: Path, text: str, expected: tuple[int, int]
) -> None:
    assert problems(tmp_path, text) == [(*expected, "nested more than 64 levels deep")]


def test_many_written_nodes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A smaller bound keeps the test fast; the limit is read when parsing.
    monkeypatch.setattr(yamlcompose, "MAX_NODES", 1000)
    text = "a: [" + ", ".join(["1"] * 2000) + "]\n"
    assert problems(tmp_path, text) == [
        (
            1,
            2996,
            "too many nodes: more than 1000 YAML values written by here, the limit for one "
            "file; split the lists into several files (see Limits in the README)",
        )
    ]


def test_reused_anchor_names_are_fine_and_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = VALID_HEAD + "    manifests:\n      - image: &i a.io/b:1\n      - image: &i a.io/b:2\n"
    assert len(load_config(write(tmp_path, text)).lists[0].manifests) == 2
    assert capsys.readouterr() == ("", "")


def _written_nodes(text: str) -> int:
    """Nodes as the composer counts them: every value and every mapping key."""
    stack: list[Any] = [yamlnodes.compose(text, "big.yaml")[0]]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return count


def test_a_config_of_10000_tags_fits_the_limits_with_room() -> None:
    # Measured on 100 lists and scaled: nodes and bytes grow linearly with the lists, and
    # loading the full 10,000 takes seconds. Room: real names can be longer than these.
    small = lists_config(100)
    written = _written_nodes(small)
    nodes = written * 100
    size = len(lists_config(10_000).encode())
    assert nodes * 1.25 < MAX_NODES, nodes
    assert size * 1.3 < MAX_FILE_BYTES, size


def test_written_nodes_are_counted_as_the_composer_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What makes the scaled figure above trustworthy: exactly that many nodes load ...
    small = lists_config(10)
    monkeypatch.setattr(yamlcompose, "MAX_NODES", _written_nodes(small))
    assert len(load_config_text(small, "big.yaml").lists) == 10
    # ... and one fewer allowed is refused.
    monkeypatch.setattr(yamlcompose, "MAX_NODES", _written_nodes(small) - 1)
    with pytest.raises(ConfigError, match="too many nodes"):
        load_config_text(small, "big.yaml")


def test_anchors_and_merges_still_expand_when_items_are_released() -> None:
    # Sequence items are released as they are converted, except in files with anchors,
    # where an alias or a merge key may walk the same nodes again.
    text = """\
version: 1
x-common: &entries
  - image: localhost:5000/acme/app:amd64
  - image: localhost:5000/acme/app:arm64
x-list: &base
  repository: localhost:5000/acme/app
  manifests: *entries
lists:
  - <<: *base
    tags: [a]
  - <<: *base
    tags: [b]
  - repository: localhost:5000/acme/other
    tags: [c]
    manifests: *entries
"""
    config = load_config_text(text, "anchors.yaml")
    assert [len(spec.manifests) for spec in config.lists] == [2, 2, 2]
    assert [spec.tags for spec in config.lists] == [("a",), ("b",), ("c",)]


def test_deep_flow_nesting_is_refused_before_parsing() -> None:
    # ruamel's scanner is cubic on nested flow collections: 300 levels took 9 s. The loader
    # refuses nesting past MAX_DEPTH with a linear scan first, pointing at the bracket.
    import time

    deep = "[" * 300 + "]" * 300
    started = time.process_time()
    with pytest.raises(ConfigError) as info:
        load_config_text(f"version: 1\nx-deep: {deep}\nlists: []\n", "deep.yaml")
    assert time.process_time() - started < 1.0
    (problem,) = info.value.problems
    # "x-deep: " is 8 columns; the root mapping is the first level, this bracket the 64th.
    assert (problem.location.line, problem.location.column) == (2, 8 + yamlnodes.MAX_DEPTH)
    assert "nested more than" in problem.message
    # Nesting well within the limit is still fine.
    shallow = "[" * 10 + "]" * 10
    assert len(load_config_text(f"{EXAMPLE.read_text()}\nx-ok: {shallow}\n", "ok.yaml").lists) == 1


# ------------------------------------------------------------------------------------------
# The stage on its own


def test_parse_document_gives_data_and_where_each_value_was_written() -> None:
    text = "version: 1\nlists:\n  - tags: [a, 1.10]\n    format:\n"
    document = yamlnodes.parse_document(text, "d.yaml")
    assert document.data == {"version": 1, "lists": [{"tags": ["a", 1.1], "format": None}]}
    origins = document.origins
    assert origins.value(("lists", 0, "tags", 1)) == Location("d.yaml", 3, 15)
    assert origins.key(("lists", 0, "tags")) == Location("d.yaml", 3, 5)
    # The text as written, for messages: YAML made 1.10 into 1.1.
    assert (origin := origins.get(("lists", 0, "tags", 1))) and origin.text == "1.10"
    # An empty value is placed at its key.
    assert origins.value(("lists", 0, "format")) == Location("d.yaml", 4, 5)


def test_parse_document_raises_all_ambiguities_together() -> None:
    with pytest.raises(ConfigError) as caught:
        yamlnodes.parse_document("a: 1\na: 2\nb: !!binary x\n", "d.yaml")
    assert [(p.location.line, p.message[:13]) for p in caught.value.problems] == [
        (2, "duplicate key"),
        (3, "unsupported Y"),
    ]
