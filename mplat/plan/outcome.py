"""What an apply did: one outcome per planned change, and the stop that can end it early.

These are plan values (they are printed, serialised and judged beside the plan), so they
live here and not in the engine that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mplat.values.errors import MplatError


class StalePlanError(MplatError):
    """The registry moved since the plan was made; applying it would overwrite unseen work."""

    def __init__(self, moved: list[tuple[str, str | None, str | None]]) -> None:
        self.moved = moved
        lines = [
            f"  {addr}: planned at {was or 'absent'}, now {now or 'absent'}"
            for addr, was, now in moved
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


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    split: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    """Lists whose tags disagree after a stop: (list digest, tags on it, tags not on it)."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]
