"""``mplat show PLAN``: print a saved plan, without network, as text, JSON or Markdown.

The reviewer of an apply-on-merge job reads exactly what will be applied: the plan file is
checked as ``mplat apply PLAN`` checks it, and nothing is fetched.
"""

from __future__ import annotations

import argparse

from mplat.cli.errors import EXIT_OK
from mplat.cli.printing import check_view, print_plan


def run(args: argparse.Namespace) -> int:
    check_view(args)
    from mplat.plan.planfile import load_plan

    plan = load_plan(args.plan_file)
    print_plan(args, plan, full_plan_hint=f"run `mplat show {args.plan_file} --json` for all")
    return EXIT_OK
