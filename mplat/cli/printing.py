"""What plan and apply print around the plan: the renderers live in ``mplat.output``.

The CLI only picks the stream and whether to colour; ``mplat.output.text`` formats.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from mplat.output.text import Style, TextOptions, plan_lines
from mplat.plan.json_codec import dumps_plan

if TYPE_CHECKING:
    from mplat.plan.model import Plan


def style(args: argparse.Namespace) -> Style:
    """Colour only on a terminal, never with --no-color or NO_COLOR set."""
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    color = not args.no_color and stream.isatty() and "NO_COLOR" not in os.environ
    return Style(color)


def text_options(args: argparse.Namespace) -> TextOptions:
    return TextOptions(compact=getattr(args, "compact", False), quiet=getattr(args, "quiet", False))


def print_plan(args: argparse.Namespace, plan: Plan) -> None:
    """Text on stdout, or JSON for `plan --json`; `apply --json` keeps stdout for its document."""
    if args.json and args.command == "plan":
        print(dumps_plan(plan, getattr(args, "show_no_op", False)))
        return
    out = sys.stderr if args.json else sys.stdout
    for line in plan_lines(plan, style(args), text_options(args)):
        out.write(line + "\n")
