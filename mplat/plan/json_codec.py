"""The ``plan --json`` and ``apply --json`` documents: a contract for machines.

Versioned on its own (``FORMAT_VERSION``), apart from the plan file: within a version fields
are only ever added, so a reader written for it keeps working. "2": unchanged tags are
counted in ``summary`` and listed only on request (``--show-no-op``); each change says
whether it is ``drift`` and each wanted entry its declared ``source``. Encode only; mplat
never reads these back.
"""

from __future__ import annotations

import json
from typing import Any

from mplat.plan.compare import drift
from mplat.plan.model import Change, Plan
from mplat.plan.outcome import ApplyResult
from mplat.plan.wire import child_json, diff_json, error_json, live_json

FORMAT_VERSION = "2"


def dumps_plan(plan: Plan, show_no_op: bool = False) -> str:
    """The ``plan --json`` document as printed (one ``print`` of it is the whole stdout)."""
    return json.dumps(plan_to_json(plan, show_no_op), indent=2)


def dumps_apply(plan: Plan, result: ApplyResult | None, show_no_op: bool = False) -> str:
    """The ``apply --json`` document as printed; ``result`` is None when nothing was applied."""
    return json.dumps(apply_to_json(plan, result, show_no_op), indent=2)


def plan_to_json(plan: Plan, show_no_op: bool = False) -> dict[str, Any]:
    """No-ops are counted in ``summary``; listed only with ``show_no_op`` (``--show-no-op``):
    a cron job over 240 in-sync tags should not read 793 KB to learn that nothing changed."""
    return {
        "format_version": FORMAT_VERSION,
        "changes": [change_json(c) for c in plan.changes if show_no_op or c.action != "no-op"],
        "summary": plan.summary(),
        "errors": [error_json(e) for e in plan.errors],
        "warnings": sorted({w for c in plan.changes for w in c.warnings}),
        "notices": list(plan.notices),
        "rate_limits": dict(plan.rate_limits),
        "requests": dict(plan.requests),
    }


def change_json(c: Change) -> dict[str, Any]:
    """One entry of ``changes``; ``--json-stream``'s ``planned_change`` carries the same."""
    after = live_json(c.after)
    sources = c.desired.entry_sources if c.desired else ()
    if after is not None and after.get("kind") == "list":
        for entry, source in zip(after["manifests"], sources, strict=False):
            entry["source"] = source  # the declared image: what a reviewer reads
    return {
        "repository": c.repository.name,
        "tag": c.tag,
        "action": c.action,
        "drift": drift(c),
        "before": live_json(c.before),
        "after": after,
        "diff": diff_json(c),
        "copies": [child_json(cp) for cp in c.children],
    }


def apply_to_json(
    plan: Plan, result: ApplyResult | None, show_no_op: bool = False
) -> dict[str, Any]:
    """`apply --json`: one document; ``result`` is None when nothing was applied."""
    outcomes = result.outcomes if result is not None else []
    return {
        "format_version": FORMAT_VERSION,
        "plan": plan_to_json(plan, show_no_op),
        "outcomes": [
            {"address": o.address, "action": o.action, "ok": o.ok, "message": o.message}
            for o in outcomes
        ],
        "summary": {
            "done": sum(1 for o in outcomes if o.ok),
            "failed": sum(1 for o in outcomes if not o.ok),
            "errors": len(plan.errors),
            "applied": result is not None,
        },
    }
