"""The ``--json-stream`` lines: one JSON object per line, as plan and apply go.

A contract for machines, versioned on its own (``FORMAT_VERSION``, in every line) apart
from the ``--json`` documents and the plan file: fields and event types are only ever added,
so a reader written for "1" keeps working; a reader should skip types it does not know.
Every line has ``format_version``, ``type`` and ``timestamp`` (RFC 3339, UTC), then the
fields of its type:

- ``planned_change``: ``change``, exactly as an entry of ``plan --json``'s ``changes``
  (tags already in sync only with ``show_no_op``, as there; the summary counts them);
- ``apply_start``: ``address``, ``repository``, ``tag``, ``action``;
- ``apply_complete``: ``address``, ``action``, ``message``, ``unchanged``,
  ``elapsed_seconds``;
- ``errored``: ``phase`` ("plan": a list that failed to plan, with ``repository``, ``tags``,
  ``message`` and maybe ``cause``, as in ``plan --json``'s ``errors``; "apply": a tag not
  written, with ``address``, ``action``, ``message``, ``interrupted``, ``unknown``,
  ``elapsed_seconds``; "run": the run stopped on an error, with ``message``);
- ``summary``: ``phase`` "plan" (``changes`` as ``plan --json``'s ``summary``, ``errors``,
  ``warnings``, ``notices``, ``elapsed_seconds``) or "apply" (``applied``, ``interrupted``,
  ``created``, ``updated``, ``repaired``, ``deleted``, ``unchanged``, ``failed``,
  ``errors``, ``elapsed_seconds``).

Encode only, and pure: the caller passes the time. ``elapsed_seconds`` is null where there
was no start to measure from.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mplat.plan.events import ApplyEnded, ApplyStarted, Event, ListPlanned, PlanStarted
from mplat.plan.json_codec import change_json
from mplat.plan.model import Change, Plan, PlanError
from mplat.plan.outcome import ApplyResult, Outcome
from mplat.plan.wire import error_json

FORMAT_VERSION = "1"

Doc = dict[str, Any]
"""One event before it is a line: ``type`` and its fields."""


def dumps_line(doc: Doc, now: float) -> str:
    """One event as its line (no newline): version, type and the time ``now`` (epoch s)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line = {"format_version": FORMAT_VERSION, "type": doc["type"], "timestamp": stamp}
    line.update((k, v) for k, v in doc.items() if k != "type")
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False)


def event_docs(event: Event, elapsed: float | None = None, show_no_op: bool = False) -> list[Doc]:
    """What an engine event says on the stream; ``elapsed``: since the change's apply_start.

    ``PlanStarted`` says nothing (it sizes the progress bar); a planned list is one
    ``planned_change`` per tag to change (per tag with ``show_no_op``), then one ``errored``
    per error.
    """
    if isinstance(event, PlanStarted):
        return []
    if isinstance(event, ListPlanned):
        changes = [planned_change(c) for c in event.changes if show_no_op or c.action != "no-op"]
        return changes + [plan_errored(e) for e in event.errors]
    if isinstance(event, ApplyStarted):
        return [apply_start(event.change)]
    if isinstance(event, ApplyEnded):
        return [apply_ended(event.outcome, elapsed)]
    raise TypeError(f"not an event: {event!r}")


def planned_change(c: Change) -> Doc:
    return {"type": "planned_change", "change": change_json(c)}


def plan_errored(e: PlanError) -> Doc:
    return {"type": "errored", "phase": "plan", **error_json(e)}


def apply_start(c: Change) -> Doc:
    return {
        "type": "apply_start",
        "address": c.address,
        "repository": c.repository.name,
        "tag": c.tag,
        "action": c.action,
    }


def apply_ended(o: Outcome, elapsed: float | None) -> Doc:
    """``apply_complete`` for an outcome that succeeded, ``errored`` for any other."""
    seconds = _seconds(elapsed)
    if o.ok:
        return {
            "type": "apply_complete",
            "address": o.address,
            "action": o.action,
            "message": o.message,
            "unchanged": o.unchanged,
            "elapsed_seconds": seconds,
        }
    return {
        "type": "errored",
        "phase": "apply",
        "address": o.address,
        "action": o.action,
        "message": o.message,
        "interrupted": o.interrupted,
        "unknown": o.unknown,
        "elapsed_seconds": seconds,
    }


def run_errored(message: str) -> Doc:
    """The run stopped on an error before its end (a bad config, a stale saved plan)."""
    return {"type": "errored", "phase": "run", "message": message}


def plan_summary(plan: Plan, elapsed: float | None) -> Doc:
    return {
        "type": "summary",
        "phase": "plan",
        "changes": plan.summary(),
        "errors": len(plan.errors),
        "warnings": sorted({w for c in plan.changes for w in c.warnings}),
        "notices": list(plan.notices),
        "elapsed_seconds": _seconds(elapsed),
    }


def apply_summary(plan: Plan, result: ApplyResult | None, elapsed: float | None) -> Doc:
    """The last line of ``apply``; ``result`` is None when nothing was applied."""
    counts = (result or ApplyResult()).counts()
    return {
        "type": "summary",
        "phase": "apply",
        "applied": result is not None,
        "interrupted": result is not None and result.interrupted,
        **counts,
        "errors": len(plan.errors),
        "elapsed_seconds": _seconds(elapsed),
    }


def _seconds(elapsed: float | None) -> float | None:
    return None if elapsed is None else round(elapsed, 3)
