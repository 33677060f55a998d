"""``mplat apply``: make the registries match, from a fresh plan or a saved plan file.

A fresh plan is shown and needs approval (the prompt, or --auto-approve); a saved plan is
applied exactly, after checking that the registries still look as they did when planned.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from mplat.cli import interrupt, locking, prompt, wiring
from mplat.cli.commands.plan import make_plan
from mplat.cli.errors import EXIT_ERROR, EXIT_OK, UsageError
from mplat.cli.printing import check_view, print_plan, style
from mplat.cli.variables import config_paths, load
from mplat.output.text import blocked_message, interrupted_report, render_result
from mplat.plan.json_codec import dumps_apply
from mplat.plan.outcome import ApplyResult

if TYPE_CHECKING:
    from mplat.config.model import Config
    from mplat.plan.model import Plan


def run(args: argparse.Namespace) -> int:
    return wiring.run(_apply(args))


async def _apply(args: argparse.Namespace) -> int:
    check_view(args)
    saved = args.plan_file is not None
    fresh: Config | None = None  # the config a fresh plan is made from; None for a saved plan
    if saved:
        from mplat.plan.planfile import load_plan

        if args.target:
            raise UsageError("--target applies to plans being made, not to a saved plan")
        if args.allow_partial:
            raise UsageError("--allow-partial: a saved plan never has errors, so it has no use")
        locking.refuse_for_saved_plan(args)
        plan = load_plan(args.plan_file)
        config = _try_load_for_settings(args)
    else:
        config = fresh = load(args)
    pool = wiring.registry_pool(config, args)
    text_style = style(args)
    try:
        if fresh is not None:
            plan = await make_plan(args, fresh, pool)
        print_plan(args, plan)
        result: ApplyResult | None = None
        intr = interrupt.current()
        if _may_apply(args, plan, saved):
            applier = wiring.applier(pool, intr)
            if saved:
                await applier.check_stale(plan)
            with interrupt.writing():
                result = await applier.apply(plan)
    finally:
        await pool.aclose()
    if result is not None and result.interrupted:
        # What was and was not done goes to stderr under --json, so stdout stays one document.
        report = interrupted_report(result, intr.name)
        if args.json:
            sys.stderr.write(report)
            print(dumps_apply(plan, result, args.show_no_op))
        else:
            sys.stdout.write(report)
        return intr.exit_code
    if args.json:
        print(dumps_apply(plan, result, args.show_no_op))
    elif result is not None:
        sys.stdout.write(render_result(result, text_style))
    if result is None:
        clean = not plan.errors and not plan.has_changes  # nothing to do, and nothing failed
        return EXIT_OK if clean else EXIT_ERROR
    return EXIT_ERROR if result.failed or plan.errors else EXIT_OK


def _may_apply(args: argparse.Namespace, plan: Plan, saved: bool) -> bool:
    """Whether to write: not a blocked plan, not half a plan unless asked, only once approved."""
    blocked = blocked_message(plan)
    if blocked:
        print(f"Error: {blocked}; nothing was applied.", file=sys.stderr)
        return False
    if not plan.has_changes:
        return False
    if plan.errors and not args.allow_partial:
        n = len(plan.errors)
        print(
            f"Error: the plan has {n} {'error' if n == 1 else 'errors'} (see above); nothing "
            "was applied. Fix them, or re-run with --allow-partial to apply the lists that "
            "planned.",
            file=sys.stderr,
        )
        return False
    if saved or args.auto_approve:
        return True
    return prompt.confirm()


def _try_load_for_settings(args: argparse.Namespace) -> Config | None:
    """A saved plan needs registry settings (TLS, credentials env) if a config is at hand."""
    if not all(os.path.exists(path) for path in config_paths(args)):
        return None
    return load(args)
