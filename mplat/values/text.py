"""Untrusted text made safe to print: registries, config files and plan files all supply text
that may hold newlines, terminal escapes or megabytes. Every message quoting such text goes
through one of these, so one line stays one line and a terminal is never driven by data.
"""

from __future__ import annotations

import json

SHOWN_LIMIT = 100


def shown(text: str, limit: int = SHOWN_LIMIT) -> str:
    """Text for a message: as is when plain, else repr(); text over ``limit`` is cut."""
    if len(text) > limit:
        return repr(text[:limit]) + "…"
    return text if text and text.isprintable() and text.strip() == text else repr(text)


def shown_value(value: object) -> str:
    """Any JSON value from a registry, as repr() (printable by construction), cut if long."""
    if isinstance(value, str) and len(value) > SHOWN_LIMIT:
        return repr(value[:SHOWN_LIMIT]) + "…"
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= SHOWN_LIMIT else text[:SHOWN_LIMIT] + "…"


def brief(value: object) -> str:
    """A value from a JSON document for a "got ..." message: printable and short."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value[:40] if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:60] + "…"


def json_quoted(text: str, limit: int = 80) -> str:
    """JSON-quote user text for a message, escaping everything unprintable as ``\\uXXXX``.

    Line separators, NEL, C1 controls, zero-width and no-break spaces and lone surrogates
    would otherwise split the line, drive the terminal, or make two keys look the same.
    """
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    quoted = json.dumps(text, ensure_ascii=False)
    if quoted.isprintable():
        return quoted
    return "".join(char if char.isprintable() else _escape(char) for char in quoted)


def _escape(char: str) -> str:
    # UTF-16 units, as JSON spells characters beyond U+FFFF; surrogatepass keeps lone halves.
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
