"""``${name}`` in one string: parsing the references and filling them in.

Kept apart from :mod:`~mplat.config.template` (which decides *what* is interpolated, and
with which variables) because this is the one grammar: ``${name}``, ``$${`` for a literal
``${``, and nothing else; a malformed reference is a :class:`TemplateProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mplat.values.text import json_quoted

__all__ = ["NAME", "Parts", "TemplateProblem", "interpolate"]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")


class TemplateProblem(Exception):
    """A mistake in templating. ``cycle``: the variables of a cycle (one mistake, however
    many of them are in it); ``reported``: said already, where the variable is declared."""

    def __init__(
        self, message: str, cycle: frozenset[str] | None = None, reported: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.cycle = cycle
        self.reported = reported


Parts = tuple[str | tuple[str], ...]


def interpolate(
    text: str, lookup: Callable[[str], str], cache: dict[str, Parts] | None = None
) -> str:
    """``text`` with each ``${name}`` replaced by ``lookup(name)`` and ``$${`` by ``${``.

    ``cache`` keeps each text's parsed parts: a template's strings are rendered once per
    combination (10,000 times for 10,000 tags), and only the lookups differ.
    """
    if "$" not in text:
        return text
    parts = cache.get(text) if cache is not None else None
    if parts is None:
        parts = _parts(text)
        if cache is not None:
            cache[text] = parts
    if len(parts) == 1 and type(parts[0]) is str:
        return parts[0]
    return "".join(part if type(part) is str else lookup(part[0]) for part in parts)


def _parts(text: str) -> Parts:
    """``text`` split into literal strings and ``(name,)`` references; raises if malformed."""
    out: list[str | tuple[str]] = []
    literal: list[str] = []
    position = 0
    for match in _REF.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        if match.group(0) == "$${":
            literal.append("${")
            continue
        name = match.group(1)
        if match.group(2) is None:
            raise TemplateProblem(
                f'unclosed "${{" in {json_quoted(text)} (write "$${{" for a literal "${{")'
            )
        if not NAME.fullmatch(name):
            raise TemplateProblem(
                f"invalid variable name {json_quoted(name)} in {json_quoted(text)}: "
                "letters, digits and '_', not starting with a digit"
            )
        out.append("".join(literal))
        literal = []
        out.append((name,))
    literal.append(text[position:])
    out.append("".join(literal))
    return tuple(part for part in out if part != "")
