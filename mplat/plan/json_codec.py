"""The ``plan --json`` and ``apply --json`` documents: a contract for machines.

Versioned on its own (``FORMAT_VERSION``), apart from the plan file: fields are only ever
added, so a reader written for "1" keeps working. Encode only; mplat never reads these back.
"""

from __future__ import annotations

import json
from typing import Any

from mplat.plan.model import Change, Plan
from mplat.plan.outcome import ApplyResult
from mplat.plan.wire import child_json, diff_json, error_json, live_json

FORMAT_VERSION = "1"


def dumps_plan(plan: Plan) -> str:
    """The ``plan --json`` document as printed (one ``print`` of it is the whole stdout)."""
    return json.dumps(plan_to_json(plan), indent=2)


def dumps_apply(plan: Plan, result: ApplyResult | None) -> str:
    """The ``apply --json`` document as printed; ``result`` is None when nothing was applied."""
    return json.dumps(apply_to_json(plan, result), indent=2)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "changes": [_change_json(c) for c in plan.changes],
        "summary": plan.summary(),
        "errors": [error_json(e) for e in plan.errors],
        "warnings": sorted({w for c in plan.changes for w in c.warnings}),
        "notices": list(plan.notices),
        "rate_limits": dict(plan.rate_limits),
        "requests": dict(plan.requests),
    }


def _change_json(c: Change) -> dict[str, Any]:
    return {
        "repository": c.repository.name,
        "tag": c.tag,
        "action": c.action,
        "before": live_json(c.before),
        "after": live_json(c.after),
        "diff": diff_json(c),
        "copies": [child_json(cp) for cp in c.children],
    }


def apply_to_json(plan: Plan, result: ApplyResult | None) -> dict[str, Any]:
    """`apply --json`: one document; ``result`` is None when nothing was applied."""
    outcomes = result.outcomes if result is not None else []
    return {
        "format_version": FORMAT_VERSION,
        "plan": plan_to_json(plan),
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
