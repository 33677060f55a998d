"""``plan.events_codec``: the ``--json-stream`` lines, a contract for machines (format "1")."""

from __future__ import annotations

import json

import pytest

from mplat.plan import events_codec as codec
from mplat.plan.events import ApplyEnded, ApplyStarted, ListPlanned, PlanStarted
from mplat.plan.json_codec import change_json
from mplat.plan.model import Plan, PlanError
from mplat.plan.outcome import ApplyResult, Outcome
from tests.support.builders import OTHER, REPO, create, delete, no_op, ref

NOW = 1_790_000_000.25  # 2026-09-21T14:13:20.25 UTC


def line(doc: codec.Doc) -> dict[str, object]:
    text = codec.dumps_line(doc, NOW)
    assert "\n" not in text
    parsed: dict[str, object] = json.loads(text)
    return parsed


def test_every_line_starts_with_version_type_and_time() -> None:
    doc = line(codec.run_errored("config: bad\n  line 2"))
    assert list(doc)[:3] == ["format_version", "type", "timestamp"]
    assert doc == {
        "format_version": "1",
        "type": "errored",
        "timestamp": "2026-09-21T14:13:20.250000Z",
        "phase": "run",
        "message": "config: bad\n  line 2",  # several lines of message, one line of JSON
    }
    assert codec.FORMAT_VERSION == "1"


def test_text_from_outside_stays_one_line_and_readable() -> None:
    text = codec.dumps_line(codec.run_errored("tag caf\u00e9\r\x1b[2J"), NOW)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert "caf\u00e9" in text
    assert json.loads(text)["message"] == "tag caf\u00e9\r\x1b[2J"


def test_a_planned_list_is_a_planned_change_per_tag_then_its_errors() -> None:
    a, b = create("a"), no_op("b")
    error = PlanError("m.yaml:3:5: source missing", ref(OTHER), ("t",), "source missing")
    docs = codec.event_docs(ListPlanned((a, b), (error,)), show_no_op=True)
    assert docs == [
        {"type": "planned_change", "change": change_json(a)},
        {"type": "planned_change", "change": change_json(b)},
        {
            "type": "errored",
            "phase": "plan",
            "repository": OTHER,
            "tags": ["t"],
            "message": "m.yaml:3:5: source missing",
            "cause": "source missing",
        },
    ]
    assert codec.event_docs(PlanStarted(5)) == []  # sizes the progress bar only


def test_tags_in_sync_are_left_out_unless_asked_for_as_in_plan_json() -> None:
    a, b = create("a"), no_op("b")
    assert codec.event_docs(ListPlanned((a, b), ())) == [
        {"type": "planned_change", "change": change_json(a)}
    ]


def test_apply_start_names_the_tag_and_what_will_happen() -> None:
    assert codec.event_docs(ApplyStarted(delete())) == [
        {
            "type": "apply_start",
            "address": f"{REPO}:old",
            "repository": REPO,
            "tag": "old",
            "action": "delete",
        }
    ]


def test_an_outcome_is_apply_complete_when_it_worked_else_errored() -> None:
    ok = Outcome(f"{REPO}:a", "update", True, "already up to date", unchanged=True)
    assert codec.event_docs(ApplyEnded(ok), 1.23456) == [
        {
            "type": "apply_complete",
            "address": f"{REPO}:a",
            "action": "update",
            "message": "already up to date",
            "unchanged": True,
            "elapsed_seconds": 1.235,
        }
    ]
    stopped = Outcome(f"{REPO}:b", "create", False, "not written (stopped first)", True)
    assert codec.event_docs(ApplyEnded(stopped)) == [
        {
            "type": "errored",
            "phase": "apply",
            "address": f"{REPO}:b",
            "action": "create",
            "message": "not written (stopped first)",
            "interrupted": True,
            "unknown": False,
            "elapsed_seconds": None,  # never started: nothing to measure from
        }
    ]


def test_the_plan_summary_counts_changes_and_errors() -> None:
    plan = Plan(
        (create("a", warnings=("careful",)), no_op()),
        errors=(PlanError("bad"),),
        notices=("a note",),
    )
    assert codec.plan_summary(plan, 0.5) == {
        "type": "summary",
        "phase": "plan",
        "changes": {"create": 1, "update": 0, "repair": 0, "delete": 0, "no_op": 1},
        "errors": 1,
        "warnings": ["careful"],
        "notices": ["a note"],
        "elapsed_seconds": 0.5,
    }


def test_the_apply_summary_names_what_was_done() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:old", "delete", False, "refused"),
        ],
        interrupted=True,
    )
    plan = Plan((create("a"), delete()))
    assert codec.apply_summary(plan, result, 2.0) == {
        "type": "summary",
        "phase": "apply",
        "applied": True,
        "interrupted": True,
        "created": 1,
        "updated": 0,
        "repaired": 0,
        "deleted": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": 0,
        "elapsed_seconds": 2.0,
    }
    nothing = codec.apply_summary(plan, None, None)
    assert (nothing["applied"], nothing["interrupted"], nothing["failed"]) == (False, False, 0)
    assert nothing["elapsed_seconds"] is None


def test_anything_else_is_not_an_event() -> None:
    with pytest.raises(TypeError):
        codec.event_docs("planned")  # type: ignore[arg-type]
