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
from mplat.cli.printing import check_view, machine_stdout, print_plan, style
from mplat.cli.reporter import Reporter
from mplat.cli.variables import config_paths, load
from mplat.output.text import blocked_message, interrupted_report, render_result
from mplat.plan.json_codec import dumps_apply
from mplat.plan.outcome import ApplyResult

if TYPE_CHECKING:
    from mplat.config.model import Config
    from mplat.plan.model import Plan


def run(args: argparse.Namespace) -> int:
    reporter = Reporter.of(args)
    with reporter.run_errors():
        return wiring.run(_apply(args, reporter))


async def _apply(args: argparse.Namespace, reporter: Reporter | None = None) -> int:
    check_view(args)
    reporter = reporter or Reporter()
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
            with reporter.planning():
                plan = await make_plan(args, fresh, pool, reporter)
        reporter.planned(plan, replay=saved)
        print_plan(args, plan)
        result: ApplyResult | None = None
        intr = interrupt.current()
        if _may_apply(args, plan, saved, reporter):
            applier = wiring.applier(pool, intr, reporter)
            if saved:
                await applier.check_stale(plan)
            with interrupt.writing(), reporter.applying(plan):
                result = await applier.apply(plan)
    finally:
        await pool.aclose()
    reporter.applied(plan, result)
    # Under --json and --json-stream what people read goes to stderr: stdout is for machines.
    people = sys.stderr if machine_stdout(args) else sys.stdout
    if result is not None and result.interrupted:
        people.write(interrupted_report(result, intr.name))
        if args.json:
            print(dumps_apply(plan, result, args.show_no_op))
        return intr.exit_code
    if args.json:
        print(dumps_apply(plan, result, args.show_no_op))
    elif result is not None:
        people.write(render_result(result, text_style, reporter.apply_seconds))
    if result is None:
        clean = not plan.errors and not plan.has_changes  # nothing to do, and nothing failed
        return EXIT_OK if clean else EXIT_ERROR
    return EXIT_ERROR if result.failed or plan.errors else EXIT_OK


def _may_apply(
    args: argparse.Namespace, plan: Plan, saved: bool, reporter: Reporter | None = None
) -> bool:
    """Whether to write: not a blocked plan, not half a plan unless asked, only once approved."""
    blocked = blocked_message(plan)
    if blocked:
        if reporter is not None:
            reporter.error(blocked)
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
