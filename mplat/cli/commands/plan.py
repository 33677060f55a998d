"""``mplat plan``: show what apply would change, optionally saving the plan to a file."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mplat.cli import locking, wiring
from mplat.cli.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError
from mplat.cli.printing import check_view, print_plan
from mplat.cli.reporter import Reporter
from mplat.cli.variables import load
from mplat.engine.planner import PlanOptions, Target, build_plan, unmatched_targets
from mplat.output.text import blocked_message
from mplat.plan.events import Listener, ignore
from mplat.values.reference import ReferenceError, parse_reference

if TYPE_CHECKING:
    from mplat.config.model import Config
    from mplat.plan.model import Plan
    from mplat.registry.api import Registries


def run(args: argparse.Namespace) -> int:
    reporter = Reporter.of(args)
    with reporter.run_errors():
        return wiring.run(_plan(args, reporter))


async def _plan(args: argparse.Namespace, reporter: Reporter | None = None) -> int:
    check_view(args)
    reporter = reporter or Reporter()
    config = load(args)
    if args.out:
        from mplat.plan.planfile import check_destination

        check_destination(args.out)
    pool = wiring.registry_pool(config, args)
    try:
        with reporter.planning():
            plan = await make_plan(args, config, pool, reporter)
    finally:
        await pool.aclose()
    reporter.planned(plan)
    print_plan(args, plan)
    if args.out:
        from mplat.plan.planfile import save_plan

        save_plan(plan, args.out)
        print(
            f"Saved the plan to {args.out}; apply it with: mplat apply {args.out}", file=sys.stderr
        )
    blocked = blocked_message(plan)
    if blocked:
        reporter.error(blocked)
        print(f"Error: {blocked}", file=sys.stderr)
        return EXIT_ERROR
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


async def make_plan(
    args: argparse.Namespace, config: Config, pool: Registries, events: Listener = ignore
) -> Plan:
    """The plan for the config, limited to ``--target`` tags; shared with ``mplat apply``.

    ``events`` hears each list as it is planned."""
    targets = _targets(args.target)
    if targets is not None:
        problems = unmatched_targets(config.lists, targets)
        if problems:
            raise UsageError("\n".join(problems))
    lock = await locking.lock_for_plan(args, config, pool)
    return await build_plan(config.lists, pool, PlanOptions(targets=targets, lock=lock), events)


def _targets(values: list[str]) -> set[Target] | None:
    """``--target`` values as Target values; None when the work is not limited."""
    if not values:
        return None
    out = set()
    for v in values:
        try:
            ref = parse_reference(v)
        except ReferenceError as exc:
            raise UsageError(f"--target: {exc}") from None
        if ref.tag is None or ref.digest is not None:
            raise UsageError(f"--target {v!r}: expected REPOSITORY:TAG")
        out.add(Target.of(ref))
    return out
