"""Templating: variables, ${name}, $${, for_each, and every mistake at its file:line:column."""

from __future__ import annotations

import textwrap

import pytest

from mplat.config import template
from mplat.config.loader import load_config_text
from mplat.config.model import Config, ConfigError

Problem = tuple[int, int, str]

FOR_EACH = """\
version: 1
variables:
  registry: localhost:5000
  org: "${registry}/acme"
  versions: ["1.0", 1.10]
lists:
  - for_each:
      product: [api, web]
      version: ${versions}
    repository: ${org}/${product}
    tags: ["${version}"]
    annotations: {org.opencontainers.image.version: "${version}"}
    manifests:
      - image: ${org}/${product}:${version}-amd64
        platform: linux/amd64
"""


def load(text: str, **kwargs: dict[str, str]) -> Config:
    return load_config_text(textwrap.dedent(text), "t.yaml", **kwargs)


def problems(text: str, **kwargs: dict[str, str]) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(text, **kwargs)
    return [(p.location.line, p.location.column, p.message) for p in caught.value.problems]


def tags(config: Config) -> list[str]:
    return [f"{spec.repository.name}:{tag}" for spec in config.lists for tag in spec.tags]


def test_for_each_is_the_cartesian_product_with_variables_resolved() -> None:
    config = load(FOR_EACH)
    assert tags(config) == [
        "localhost:5000/acme/api:1.0",
        "localhost:5000/acme/api:1.10",  # the user's spelling, not YAML's float 1.1
        "localhost:5000/acme/web:1.0",
        "localhost:5000/acme/web:1.10",
    ]
    first = config.lists[0]
    assert str(first.manifests[0].image) == "localhost:5000/acme/api:1.0-amd64"
    assert first.annotations == {"org.opencontainers.image.version": "1.0"}
    # Every expanded item points at the template.
    assert {spec.location.line for spec in config.lists} == {7}


def test_precedence_flag_over_environment_over_file() -> None:
    assert tags(load(FOR_EACH, env_variables={"versions": "2.0"}))[0].endswith(":2.0")
    both = load(FOR_EACH, variables={"versions": "3.0,3.1"}, env_variables={"versions": "2.0"})
    assert tags(both) == [
        "localhost:5000/acme/api:3.0",
        "localhost:5000/acme/api:3.1",
        "localhost:5000/acme/web:3.0",
        "localhost:5000/acme/web:3.1",
    ]
    # An outside value is literal, and the environment may hold other files' variables.
    literal = load(FOR_EACH, variables={"registry": "r.io"}, env_variables={"other": "x"})
    assert tags(literal)[0] == "r.io/acme/api:1.0"


def test_var_for_an_undeclared_name_is_an_error() -> None:
    assert problems(FOR_EACH, variables={"verison": "1"}) == [
        (
            0,
            0,
            '--var "verison": no variable of that name is declared '
            "(declared: org, registry, versions)",
        ),
    ]


def test_explicit_rows_and_literal_dollar_brace() -> None:
    config = load(
        """\
        version: 1
        lists:
          - for_each:
              - {name: api, v: "1"}
              - {name: web, v: "2"}
            repository: r.io/${name}
            tags: ["v${v}"]
            annotations: {note: "costs $${HOME}"}
            manifests: [{image: "r.io/${name}:${v}"}]
        """
    )
    assert tags(config) == ["r.io/api:v1", "r.io/web:v2"]
    assert config.lists[0].annotations == {"note": "costs ${HOME}"}


def test_unknown_name_at_its_position_with_the_known_names_and_combination() -> None:
    text = FOR_EACH.replace('tags: ["${version}"]', 'tags: ["${verison}"]')
    assert problems(text) == [
        (
            11,
            12,
            'lists[0].tags[0] (for_each product=api version=1.0): unknown variable "verison" '
            "(known: org, product, registry, version, versions)",
        )
    ]


def test_error_inside_an_expanded_item_names_the_combination() -> None:
    text = FOR_EACH.replace("product: [api, web]", "product: [api, -web]")
    found = problems(text)
    assert found[0][:2] == (10, 17)  # the template's repository
    assert found[0][2].startswith("lists[0].repository (for_each product=-web version=1.0): ")
    assert all("for_each product=-web" in message for _, _, message in found)


def test_duplicate_after_expansion_names_both_places() -> None:
    text = FOR_EACH.replace('tags: ["${version}"]', "tags: [latest]")
    found = problems(text)
    assert len(found) == 2  # the second version of each product repeats "latest"
    line, column, message = found[0]
    assert (line, column) == (11, 12)
    assert message == (
        "lists[0].tags[0] (for_each product=api version=1.10): "
        "localhost:5000/acme/api:latest is declared twice; first at line 11, column 12 "
        "(lists[0].tags[0] (for_each product=api version=1.0))"
    )


def test_plain_items_after_a_for_each_keep_their_own_index() -> None:
    text = (
        FOR_EACH + "  - repository: r.io/x\n    tags: [-bad]\n    manifests: [{image: r.io/x:1}]\n"
    )
    found = problems(text)
    assert next(m for _, _, m in found if "-bad" in m).startswith("lists[1].tags[0]: ")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ('  a: "${b}"\n  b: "${a}"\n', 'variable "a" refers to itself (a -> b -> a)'),
        ('  a: "x${a}"\n', 'variable "a" refers to itself (a -> a)'),
        ("  a: {x: 1}\n", "expected a string (variables hold strings, never structure)"),
        ('  a: "${nope}"\n', 'unknown variable "nope" (known: a)'),
    ],
)
def test_bad_variables(variables: str, expected: str) -> None:
    text = "version: 1\nvariables:\n" + variables + "lists:\n  - repository: r.io/x\n"
    text += "    tags: [a]\n    manifests: [{image: r.io/x:1}]\n"
    found = problems(text)
    assert any(message.endswith(expected) for _, _, message in found), found


def test_interpolation_never_changes_structure() -> None:
    config = load(
        """\
        version: 1
        variables: {t: "[a, b]"}
        lists:
          - repository: r.io/x
            tags: [ok]
            annotations: {k: "${t}"}
            manifests: [{image: r.io/x:1}]
        """
    )
    assert config.lists[0].annotations == {"k": "[a, b]"}


def test_list_variable_in_a_string_and_bad_for_each() -> None:
    text = FOR_EACH.replace('tags: ["${version}"]', 'tags: ["${versions}"]')
    assert "is a list; a list can only be a for_each axis" in problems(text)[0][2]
    bad = FOR_EACH.replace("version: ${versions}", "version: ${org}")
    assert 'expected a list, or "${name}" of a list variable' in problems(bad)[0][2]
    empty = FOR_EACH.replace("product: [api, web]", "product: []")
    assert problems(empty)[0][:2] == (8, 16)


def test_for_each_over_the_node_limit_fails_before_expanding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(template, "MAX_NODES", 20)
    found = problems(FOR_EACH)
    assert found[0][:2] == (8, 7)  # where the for_each mapping starts
    assert "for_each expands the lists to" in found[0][2] and "over the limit of 20" in found[0][2]


def test_each_repository_of_a_repository_list_is_interpolated() -> None:
    text = """\
version: 1
variables: {org: acme}
lists:
  - for_each: {app: [api]}
    repository: ["r.io/${org}/${app}", {name: "s.io/${org}/${app}", format: docker}]
    tags: [v1]
    manifests: [{image: "r.io/${org}/${app}:src"}]
"""
    config = load_config_text(text, "m.yaml")
    assert [(s.repository.name, s.format) for s in config.lists] == [
        ("r.io/acme/api", "oci"),
        ("s.io/acme/api", "docker"),
    ]
    with pytest.raises(ConfigError) as caught:
        load_config_text(text.replace("s.io/${org}", "s.io/${orgg}"), "m.yaml")
    assert [(p.location.line, p.location.column) for p in caught.value.problems] == [(5, 47)]
    assert 'lists[0].repository[1].name (for_each app=api): unknown variable "orgg"' in str(
        caught.value
    )


def test_a_broken_variable_is_one_problem_however_often_it_is_used() -> None:
    text = """\
version: 1
variables: {a: "${b}", b: "x${a}", c: "${zz}", d: "${c}"}
lists:
  - repository: r.io/a
    tags: ["${a}", "${b}", "${c}", "${d}"]
    manifests: [{image: r.io/q:1}]
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "m.yaml")
    assert [(p.location.column, p.message) for p in caught.value.problems] == [
        (16, 'variables.a: variable "a" refers to itself (a -> b -> a)'),
        (39, 'variables.c: unknown variable "zz" (known: a, b, c, d)'),
    ]
