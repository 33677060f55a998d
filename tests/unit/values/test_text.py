"""Tests for mplat.values.text: untrusted text never splits a line or drives a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mplat.values.text import SHOWN_LIMIT, brief, json_quoted, shown, shown_value

HOSTILE = ["\x1b[31mred", "two\nlines", "cr\rreturn", "nel\x85", "ls\u2028", "bidi\u202e", ""]


def test_plain_text_is_shown_as_is() -> None:
    assert shown("application/vnd.oci.image.index.v1+json") == (
        "application/vnd.oci.image.index.v1+json"
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_unprintable_or_empty_text_is_shown_as_repr(text: str) -> None:
    assert shown(text) == repr(text)


def test_padded_text_is_quoted_so_its_spaces_are_visible() -> None:
    assert shown(" x ") == "' x '"


def test_long_text_is_cut() -> None:
    out = shown("a" * 1000)
    assert out == repr("a" * SHOWN_LIMIT) + "…"


def test_shown_value_names_containers_and_cuts_scalars() -> None:
    assert shown_value({"a": 1}) == "a JSON object"
    assert shown_value([1]) == "a JSON array"
    assert shown_value(12) == "12"
    assert shown_value("x" * 500) == repr("x" * SHOWN_LIMIT) + "…"
    assert len(shown_value(10**400)) == SHOWN_LIMIT + 1


def test_brief_is_short_and_names_containers() -> None:
    assert brief({}) == "an object"
    assert brief([]) == "a list"
    assert brief("x" * 100) == repr("x" * 40)
    assert brief(None) == "None"


def test_json_quoted_escapes_what_json_leaves_raw() -> None:
    assert json_quoted('é ü 😀 "x"') == '"é ü 😀 \\"x\\""'
    assert json_quoted("a\u2028b") == '"a\\u2028b"'
    assert json_quoted("\ud800") == '"\\ud800"'  # a lone surrogate, as JSON spells it
    assert json_quoted("abcdef", limit=4) == '"abc…"'


@given(st.text())
def test_every_form_is_one_printable_line(text: str) -> None:
    for out in (shown(text), shown_value(text), brief(text), json_quoted(text)):
        assert out.isprintable(), out
