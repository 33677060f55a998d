"""Plans as Markdown for a pull-request comment or a CI step summary (``--format markdown``).

A reviewer reads the summary first, then a table of every change, then the detail of each
repository folded away in a ``<details>`` section, then the errors with their file:line.
GitHub refuses a comment over 65,536 characters, so the text is built to fit: sections are
added while they fit, and a last line says what was left out and how to see it all.

Every text that came from a config, a registry or a plan file is escaped for the place it
lands (a table cell, HTML, a fenced block), so no value can break the layout or inject
markup into a comment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from mplat.output.text import Style, change_lines, error_groups, short_digest, summary_line
from mplat.plan.compare import drift
from mplat.plan.model import Change, Plan, PlanError

__all__ = ["COMMENT_LIMIT", "render_markdown"]

COMMENT_LIMIT = 65_536
"""GitHub's limit on an issue or pull-request comment body, in characters."""

_ROOM_FOR_TAIL = 600
"""Kept free for the errors' heading, the last summary and the "left out" line."""

_BACKTICKS = re.compile(r"`+")


def render_markdown(plan: Plan, limit: int = COMMENT_LIMIT, full_plan_hint: str = "") -> str:
    """The plan as Markdown of at most ``limit`` characters.

    ``full_plan_hint`` says how to get everything (e.g. "run `mplat show plan.bin --json`");
    it is named in the line that reports what was left out.
    """
    summary = summary_line(plan, Style(False))
    changed = [c for c in plan.changes if c.action != "no-op"]
    head = [f"### mplat plan\n\n**{_escape(summary)}**\n"]
    errors = _error_section(plan.errors)
    tail = f"\n{_escape(summary)}\n"
    budget = limit - _ROOM_FOR_TAIL - sum(map(len, head)) - len(errors) - len(tail)

    body: list[str] = []
    left_rows = 0
    if changed:
        table = ["| action | tag | what changes |", "| --- | --- | --- |"]
        rows = [_row(c) for c in changed]
        size = sum(len(line) + 1 for line in table)
        for index, row in enumerate(rows):
            if size + len(row) + 1 > budget // 2:  # half for the table, half for details
                left_rows = len(rows) - index
                break
            table.append(row)
            size += len(row) + 1
        body.append("\n".join(table) + "\n")
        budget -= size
    left_sections = 0
    sections = list(_sections(changed))
    for index, section in enumerate(sections):
        if len(section) > budget:
            left_sections = len(sections) - index
            break
        body.append(section)
        budget -= len(section)

    out = "\n".join([*head, *body])
    if errors:
        out += "\n" + errors
    if left_rows or left_sections:
        hint = f"; {full_plan_hint}" if full_plan_hint else "; run `mplat plan --json` for all"
        out += (
            f"\n_Left out to fit {limit:,} characters: {left_rows} table rows and "
            f"{left_sections} of {len(sections)} repository sections{_escape(hint)}._\n"
        )
    return out + tail


def _row(c: Change) -> str:
    what = _what(c)
    return f"| {c.action} | {_code(c.address)} | {what} |"


def _what(c: Change) -> str:
    """One cell: the digest move, with the sources of the entries it touches."""
    after = c.after.digest if c.after else None
    if c.action == "create":
        return f"new list {_code(short_digest(after))}"
    if c.action == "delete":
        return f"delete {_code(short_digest(c.live_digest))}"
    if c.action == "repair":
        return f"{len(c.children)} children missing"
    move = f"{_code(short_digest(c.live_digest))} → {_code(short_digest(after))}"
    sources = sorted({item.source for item in c.diff if item.source})
    via = f" from {', '.join(_code(s) for s in sources)}" if sources else ""
    outside = " **changed outside mplat**" if drift(c) else ""
    return f"{move}{via}{outside}"


def _sections(changed: list[Change]) -> Iterable[str]:
    """One folded section per repository, holding the text plan's lines for its changes."""
    by_repo: dict[str, list[Change]] = {}
    for c in changed:
        by_repo.setdefault(c.repository.name, []).append(c)
    for repo, changes in by_repo.items():
        lines: list[str] = []
        for c in changes:
            lines.extend(line.strip() for line in change_lines(c, Style(False)))
        block = _fenced("diff", lines)
        count = f"{len(changes)} {'change' if len(changes) == 1 else 'changes'}"
        yield (
            f"<details><summary><code>{html.escape(repo)}</code>: {count}</summary>\n\n"
            f"{block}\n</details>\n"
        )


def _error_section(errors: tuple[PlanError, ...]) -> str:
    if not errors:
        return ""
    lines = ["#### Errors", ""]
    for cause, group in error_groups(errors).items():  # one line per cause, as in the text
        if len(group) == 1:
            lines.append(f"- {_escape(group[0].message)}")
        else:
            lines.append(f"- {_escape(cause)} (affects {len(group)} lists)")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    """Inline code that survives any text: HTML-escaped, so backticks and pipes are inert."""
    return f"<code>{html.escape(text).replace('|', '&#124;')}</code>"


def _escape(text: str) -> str:
    """Plain text in Markdown: no markup, no HTML, one line, and safe in a table cell."""
    text = html.escape(" ".join(text.split()))
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


def _fenced(language: str, lines: list[str]) -> str:
    """A fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(m.group(0)) for line in lines for m in _BACKTICKS.finditer(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n" + "\n".join(lines) + f"\n{fence}"
