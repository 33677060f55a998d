"""YAML -> node tree: libyaml, where it is used, gives exactly the pure parser's answer.

Answers are compared as parse_document gives them (data, every origin, or the error
messages), on hand-picked corners, on every example, and on generated text and documents.
The composer's bounds are tested with the rest of stage 2 in test_yamlnodes.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mplat.config import yamlcompose, yamlnodes
from mplat.config.model import ConfigError
from tests.support.configs import EXAMPLE, lists_config

# ------------------------------------------------------------------------------------------
# libyaml and the pure parser give the same answer (libyaml only makes it sooner)

needs_libyaml = pytest.mark.skipif(yamlcompose.CParser is None, reason="ruamel.yaml.clib missing")

TRICKY = [
    "version: 1\nlists: []\n",
    "a: &x {b: 1, c: [2, 3]}\nd: *x\ne:\n  <<: *x\n  b: 9\n",
    "a: 'it''s'\nb: \"tab\\there \\u00e9\"\nc: plain text # comment\n",
    "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n",
    "é: ünïcödé\nkey: [ä, 'ö', \"ü\"]\nx: {ß: 1}\n",
    "a: yes\nb: no\nc: on\nd: 0o17\ne: 0x1F\nf: 1_000\ng: .inf\nh: -.NaN\ni: 1e3\n",
    "a: 2026-12-03\nb: 2026-12-03T08:00:00Z\nc: ~\nd: null\ne:\nf: ''\n",
    "a: !!str 1\nb: !!int '2'\nc: !custom x\n",
    "? complex\n: value\n",
    "a:\n- 1\n-   - 2\n    - 3\n- {x: [y, {z: w}]}\n",
    "a: 1\r\nb: [x,\r\n  y]\r\n",
    "\ufeffa: 1\n",
    "a: 1\na: 2\n",
    "",
    "# only a comment\n",
    "- a\n- b\n",
    "a: b: c\n",
    "a: [1, 2\n",
    "a: 'unterminated\n",
    "a: 1\n---\nb: 2\n",
    "a:\n\t- tab\n",
    "a: \x07\n",
    "%YAML 1.1\n---\na: yes\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "a: &a [*a]\n",
    "x: " + "[" * 10 + "]" * 10 + "\n",
    "a: @reserved\n",
    "a: `reserved\n",
    "- ? a\n  : b\n",
    "{a: 1, b: [x, y], c: {d: e}}\n",
    "a: 'multi\n  line'\nb: \"esc\\\n  aped\"\n",
    "a: x\n  y\n",
    'a: "\\x41\\N\\_"\n',
    "list:\n  - &item {k: v}\n  - *item\n  - <<: [*item]\n    extra: 1\n",
]


def _outcome(text: str, monkeypatch: pytest.MonkeyPatch, libyaml: bool) -> object:
    with monkeypatch.context() as m:
        if not libyaml:
            m.setattr(yamlcompose, "CParser", None)
        try:
            document = yamlnodes.parse_document(text, "t.yaml")
        except ConfigError as exc:
            return ("error", [str(p) for p in exc.problems])
        return (document.data, dict(document.origins.raw))


@needs_libyaml
@pytest.mark.parametrize("text", TRICKY)
def test_libyaml_and_the_pure_parser_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _outcome(text, monkeypatch, True) == _outcome(text, monkeypatch, False)


@needs_libyaml
def test_libyaml_and_the_pure_parser_agree_on_every_example_and_a_large_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = sorted(p for p in EXAMPLE.parent.rglob("*") if p.suffix in (".yaml", ".yml"))
    texts = [p.read_text() for p in files]  # mplat's and the CI and Kubernetes examples
    texts.append(lists_config(300))
    assert len(texts) >= 8
    for text in texts:
        assert _outcome(text, monkeypatch, True) == _outcome(text, monkeypatch, False)


@needs_libyaml
def test_libyaml_answers_a_plain_file_and_leaves_the_rest_to_the_pure_parser() -> None:
    assert yamlcompose._compose_libyaml(EXAMPLE.read_text()) is not None
    for text in ("%YAML 1.1\n---\na: yes\n", "a: \x07\n", "a: [1, 2\n", "a: 1\n---\nb: 2\n"):
        assert yamlcompose._compose_libyaml(text) is None, text


@needs_libyaml
def test_the_bounds_hold_on_the_libyaml_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlcompose, "MAX_NODES", 50)
    text = "a: [" + ", ".join(str(i) for i in range(60)) + "]\n"
    assert _outcome(text, monkeypatch, True) == _outcome(text, monkeypatch, False)
    (problem,) = _outcome(text, monkeypatch, True)[1]  # type: ignore[index]
    assert "too many nodes" in problem
    deep = "a:\n" + "".join("  " * i + "- \n" for i in range(1, 80))
    assert _outcome(deep, monkeypatch, True) == _outcome(deep, monkeypatch, False)


_FRAGMENTS = [
    *"ab1:- \n[]{},'\"#?|>\t\\%@`!*&~.=+0",
    *[": ", "- ", "\n  ", "\n    ", "\n\n", "  ", "&x ", "*x", "&a:b", "<<: ", "!!str ", "!!int "],
    *["é", "yes", "0o7", "-1", "1.5", ".5", "---\n", "--- ", "...\n", "? ", "? a", "%YAML 1.1\n"],
    *["'a''b'", '"a\\nb"', '"\\u00e9"', "'\n'", '"\n"', "#c\n", " #", "\r", "\r\n"],
    *["\x85", "\u2028", "\ufeff", "a:b", "[a: b]", "{a}", ":\n", "-\n", "a: {b: [c, {d: e}]}\n"],
]


@needs_libyaml
@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_libyaml_and_the_pure_parser_agree_on_generated_text(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _outcome(text, monkeypatch, True) == _outcome(text, monkeypatch, False)


_KEYS = st.text(st.sampled_from("ab-_. :#'\"é1"), min_size=1, max_size=6)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.sampled_from("ab :#'\"\\é1-,[]{}?&*\n"), max_size=12),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, min_size=1, max_size=4)
    ),
    max_leaves=25,
)


@needs_libyaml
@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(
    st.dictionaries(_KEYS, _DATA, min_size=1, max_size=4),
    st.sampled_from([None, True, False]),
    st.sampled_from([(2, 2, 0), (2, 4, 2), (4, 4, 2), (3, 3, 1)]),
)
def test_libyaml_and_the_pure_parser_agree_on_generated_documents(
    data: dict[str, Any], flow: bool | None, indent: tuple[int, int, int]
) -> None:
    """Valid YAML in the styles writers produce: block, flow and mixed, quoted as needed."""
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = flow
    writer.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    out = io.StringIO()
    writer.dump(data, out)
    text = out.getvalue()
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = _outcome(text, monkeypatch, True)
        assert fast == _outcome(text, monkeypatch, False), text
