"""What an apply did: one outcome per planned change, and the stop that can end it early.

These are plan values (they are printed, serialised and judged beside the plan), so they
live here and not in the engine that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mplat.values.errors import MplatError


@dataclass(frozen=True, slots=True)
class MovedTag:
    """A tag a saved plan covers that moved after planning: where it was, where it is now."""

    address: str
    planned: str | None
    """The digest the plan saw; None when the tag was absent."""
    now: str | None
    """The digest the registry has now; None when the tag is gone."""


class StalePlanError(MplatError):
    """The registry moved since the plan was made; applying it would overwrite unseen work."""

    def __init__(self, moved: list[MovedTag]) -> None:
        self.moved = moved
        lines = [
            f"  {m.address}: planned at {m.planned or 'absent'}, now {m.now or 'absent'}"
            for m in moved
        ]
        super().__init__(
            "the saved plan is stale: these tags changed since it was made; nothing was "
            "written. Run plan again.\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class Outcome:
    address: str
    action: str
    ok: bool
    message: str
    interrupted: bool = False  # not attempted: a stop was requested first
    unknown: bool = False  # cut off mid-write: the tag may or may not have moved
    unchanged: bool = False  # ok, and nothing written: the tag was already as desired


@dataclass(frozen=True, slots=True)
class SplitList:
    """A list whose tags disagree after a stop: some point at it, others do not yet."""

    reference: str
    """``repository@digest`` of the list."""
    on: tuple[str, ...]
    """Tag addresses on the list (``(maybe)`` marks one whose write was cut off)."""
    off: tuple[str, ...]
    """Tag addresses left where they were."""


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    split: list[SplitList] = field(default_factory=list)
    """Lists whose tags disagree after a stop."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def counts(self) -> dict[str, int]:
        """The outcomes by what they did; ``unchanged`` tags already were as desired."""
        counts = dict.fromkeys(COUNTS, 0)
        for o in self.outcomes:
            key = "failed" if not o.ok else "unchanged" if o.unchanged else _DONE[o.action]
            counts[key] += 1
        return counts


_DONE = {"create": "created", "update": "updated", "repair": "repaired", "delete": "deleted"}
COUNTS = (*_DONE.values(), "unchanged", "failed")
"""The keys of ``ApplyResult.counts``, in the order summaries name them."""
