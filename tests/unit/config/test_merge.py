"""Merging several config files into one document: settings agree or are refused, lists add up."""

from __future__ import annotations

import textwrap

import pytest

from mplat.config.merge import local_indexes, merge
from mplat.config.model import ConfigError, ConfigProblem, Location
from mplat.config.origins import Document
from mplat.config.yamlnodes import parse_document


def doc(name: str, text: str) -> Document:
    return parse_document(textwrap.dedent(text), name)


A = doc(
    "a.yaml",
    """\
    version: 1
    registries:
      "r.io": {insecure: true}
    defaults: {format: docker}
    variables: {version: "1.0"}
    lists:
      - repository: r.io/a
        tags: [x]
      - repository: r.io/b
        tags: [y]
    """,
)
B = doc(
    "b.yaml",
    """\
    version: 1
    registries:
      "r.io": {insecure: true}
      "s.io": {ca_file: ca.pem}
    variables: {product: api}
    lists:
      - repository: s.io/c
        tags: [z]
    """,
)


def test_one_document_is_returned_as_it_is() -> None:
    merged = merge([A])
    assert merged.document is A
    assert dict(merged.local) == {}


def test_settings_merge_and_lists_concatenate_in_file_order() -> None:
    merged = merge([A, B])
    data = merged.document.data
    assert data["registries"] == {"r.io": {"insecure": True}, "s.io": {"ca_file": "ca.pem"}}
    assert data["defaults"] == {"format": "docker"}
    assert data["variables"] == {"version": "1.0", "product": "api"}
    lists = data["lists"]
    assert isinstance(lists, list)
    assert [item["repository"] for item in lists] == ["r.io/a", "r.io/b", "s.io/c"]
    assert dict(merged.local) == {0: 0, 1: 1, 2: 0}


def test_origins_point_into_the_file_that_wrote_each_value() -> None:
    origins = merge([A, B]).document.origins
    assert origins.value(("lists", 2, "repository")) == Location("b.yaml", 7, 17)
    assert origins.value(("lists", 1, "tags", 0)) == Location("a.yaml", 10, 12)
    assert origins.value(("registries", "s.io", "ca_file")).file == "b.yaml"
    assert origins.value(("variables", "version")).file == "a.yaml"


def test_a_conflicting_setting_names_both_files() -> None:
    other = doc(
        "c.yaml",
        """\
        version: 1
        registries:
          "r.io": {insecure: false}
        defaults: {format: docker}
        variables: {version: "2.0"}
        lists: []
        """,
    )
    with pytest.raises(ConfigError) as caught:
        merge([A, other])
    messages = {(p.location.file, p.location.line, p.message) for p in caught.value.problems}
    tail = "; a setting must have one value across files"
    assert messages == {
        (
            "c.yaml",
            3,
            'registries["r.io"].insecure: false conflicts with true at a.yaml:3:22' + tail,
        ),
        ("c.yaml", 5, 'variables.version: "2.0" conflicts with "1.0" at a.yaml:5:22' + tail),
    }


def test_a_different_version_or_list_variable_conflicts() -> None:
    first = doc("a.yaml", "version: 1\nvariables: {v: [a, b]}\nlists: []\n")
    second = doc("b.yaml", "version: 2\nvariables: {v: [a]}\nlists: []\n")
    with pytest.raises(ConfigError) as caught:
        merge([first, second])
    assert [p.message.split(" at ")[0] for p in caught.value.problems] == [
        "version: 2 conflicts with 1",
        'variables.v: ["a"] conflicts with ["a", "b"]',
    ]


def test_a_file_without_lists_only_adds_settings() -> None:
    settings = doc("registries.yaml", 'registries:\n  "r.io": {insecure: true}\n')
    merged = merge([settings, B])
    assert merged.document.data["version"] == 1
    lists = merged.document.data["lists"]
    assert isinstance(lists, list) and len(lists) == 1
    assert dict(merged.local) == {0: 0}


def test_local_indexes_rename_list_positions_in_messages() -> None:
    merged = merge([A, B])
    where = Location("b.yaml", 8, 11)
    renamed = local_indexes([ConfigProblem(where, "lists[2].tags[0]: bad; see lists[0]")], merged)
    assert renamed == [ConfigProblem(where, "lists[0].tags[0]: bad; see lists[0]")]


def test_merging_leaves_the_file_documents_as_they_were() -> None:
    before = repr(A.data), repr(B.data)
    merge([A, B])
    merge([B, A])
    assert (repr(A.data), repr(B.data)) == before
