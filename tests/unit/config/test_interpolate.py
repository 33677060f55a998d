"""The ``${name}`` grammar: references filled in, ``$${`` kept literal, mistakes named."""

from __future__ import annotations

import pytest

from mplat.config.interpolate import Parts, TemplateProblem, interpolate


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a${x", 'unclosed "${"'),
        ("${1x}", 'invalid variable name "1x"'),
    ],
)
def test_interpolate_refuses_malformed_references(text: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        interpolate(text, lambda name: name)
    assert message in caught.value.message


def test_interpolate() -> None:
    assert interpolate("a-${x}-$${y}-$", lambda name: name.upper()) == "a-X-${y}-$"


def test_parts_are_cached_per_text_and_only_lookups_differ() -> None:
    cache: dict[str, Parts] = {}
    assert interpolate("${a}/${b}", {"a": "x", "b": "y"}.__getitem__, cache) == "x/y"
    assert list(cache) == ["${a}/${b}"]
    assert interpolate("${a}/${b}", {"a": "1", "b": "2"}.__getitem__, cache) == "1/2"
    assert interpolate("plain", str.upper, cache) == "plain"  # no "$": nothing to parse
