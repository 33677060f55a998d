"""What plan and apply print around the plan: the renderers live in ``mplat.output``.

The CLI only picks the stream and whether to colour; ``mplat.output.text`` formats.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mplat.output.text import Style, TextOptions, plan_lines
from mplat.plan.json_codec import dumps_plan

if TYPE_CHECKING:
    from mplat.config.model import ConfigError
    from mplat.plan.model import Plan


def style(args: argparse.Namespace) -> Style:
    """Colour only on a terminal, never with --no-color or NO_COLOR set."""
    stream = sys.stderr if machine_stdout(args) else sys.stdout
    color = not args.no_color and stream.isatty() and "NO_COLOR" not in os.environ
    return Style(color)


def machine_stdout(args: argparse.Namespace) -> bool:
    """stdout is for machines (--json, --json-stream): text for people goes to stderr."""
    return bool(getattr(args, "json", False) or getattr(args, "json_stream", False))


def text_options(args: argparse.Namespace) -> TextOptions:
    return TextOptions(compact=getattr(args, "compact", False), quiet=getattr(args, "quiet", False))


def check_view(args: argparse.Namespace) -> None:
    """Refuse flags that ask for two ways of showing one plan."""
    from mplat.cli.errors import UsageError

    for dest, flag in (("json", "--json"), ("json_stream", "--json-stream")):
        if getattr(args, dest, False) and getattr(args, "format", "text") != "text":
            raise UsageError(f"{flag} and --format markdown are two outputs; choose one")
    if getattr(args, "compact", False) and getattr(args, "quiet", False):
        raise UsageError("--compact and --quiet: choose one")


def github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def print_plan(args: argparse.Namespace, plan: Plan, full_plan_hint: str = "") -> None:
    """Text or Markdown on stdout, or JSON for `plan --json` / `show --json`; `apply --json`
    keeps stdout for its document. Under GitHub Actions, the Markdown also goes to the job's
    step summary and each located error becomes an annotation on its file and line.
    `plan --json-stream` prints no plan here: its planned_change lines were the plan."""
    markdown: str | None = None  # rendered once, whether for stdout, the summary or both

    def as_markdown() -> str:
        nonlocal markdown
        if markdown is None:
            from mplat.output.markdown import render_markdown

            markdown = render_markdown(plan, full_plan_hint=full_plan_hint)
        return markdown

    if args.json and args.command in ("plan", "show"):
        print(dumps_plan(plan, getattr(args, "show_no_op", False)))
    elif args.command == "plan" and getattr(args, "json_stream", False):
        pass  # its planned_change lines were the plan
    else:
        out = sys.stderr if machine_stdout(args) else sys.stdout
        if getattr(args, "format", "text") == "markdown":
            out.write(as_markdown())
        else:
            for line in plan_lines(plan, style(args), text_options(args)):
                out.write(line + "\n")
    if github_actions():
        _annotate(args, [(e.location, e.cause or e.message) for e in plan.errors])
        _step_summary(as_markdown)


def annotate_config_error(args: argparse.Namespace, exc: ConfigError) -> None:
    """A config error as annotations at each problem's file:line:column (GitHub Actions)."""
    if github_actions():
        _annotate(args, [(str(p.location), p.message) for p in exc.problems])


def _annotate(args: argparse.Namespace, located: list[tuple[str, str]]) -> None:
    from mplat.output.github import error_command, location_parts

    # Workflow commands are read from stdout, unless stdout is JSON (--json, --json-stream).
    out = sys.stderr if machine_stdout(args) else sys.stdout
    for location, message in dict.fromkeys(located):
        file, line, col = location_parts(location)
        out.write(error_command(message, file, line, col) + "\n")


def _step_summary(markdown: Callable[[], str]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown() + "\n")
    except OSError as exc:
        print(f"Warning: cannot write $GITHUB_STEP_SUMMARY ({exc.strerror})", file=sys.stderr)
