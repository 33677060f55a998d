"""``plan.outcome``: what an apply did, and the stale-plan refusal worded from named values."""

from __future__ import annotations

from mplat.plan.outcome import COUNTS, ApplyResult, MovedTag, Outcome, StalePlanError
from mplat.values.errors import MplatError
from tests.support.builders import DA, DB, REPO


def test_a_stale_plan_names_each_moved_tag_with_then_and_now() -> None:
    moved = [MovedTag(f"{REPO}:a", None, DA), MovedTag(f"{REPO}:b", DA, DB)]
    error = StalePlanError(moved)
    assert isinstance(error, MplatError)
    assert error.moved == moved
    assert str(error) == (
        "the saved plan is stale: these tags changed since it was made; nothing was written. "
        "Run plan again.\n"
        f"  {REPO}:a: planned at absent, now {DA}\n"
        f"  {REPO}:b: planned at {DA}, now {DB}"
    )


def test_a_tag_deleted_since_planning_is_now_absent() -> None:
    assert str(StalePlanError([MovedTag(f"{REPO}:a", DA, None)])).endswith(
        f"  {REPO}:a: planned at {DA}, now absent"
    )


def test_failed_lists_the_outcomes_that_did_not_succeed() -> None:
    ok = Outcome(f"{REPO}:a", "create", True, "")
    bad = Outcome(f"{REPO}:b", "update", False, "403 denied")
    assert ApplyResult([ok, bad]).failed == [bad]


def test_counts_name_what_each_outcome_did() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:b", "update", True, "updated"),
            Outcome(f"{REPO}:c", "update", True, "already up to date", unchanged=True),
            Outcome(f"{REPO}:d", "repair", True, "children restored"),
            Outcome(f"{REPO}:e", "delete", True, "deleted (by tag)"),
            Outcome(f"{REPO}:f", "delete", True, "deleted (already absent)", unchanged=True),
            Outcome(f"{REPO}:g", "create", False, "403 denied"),
            Outcome(f"{REPO}:h", "create", False, "not written (stopped first)", True),
        ]
    )
    assert result.counts() == {
        "created": 1,
        "updated": 1,
        "repaired": 1,
        "deleted": 1,
        "unchanged": 2,
        "failed": 2,
    }
    assert tuple(result.counts()) == COUNTS
    assert ApplyResult().counts() == dict.fromkeys(COUNTS, 0)
