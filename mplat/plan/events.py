"""What plan and apply report while they run: small typed values for one listener.

The engine calls a ``Listener`` with these as things happen (a list planned, a tag's write
starting, a tag's outcome known); it never formats them. The command line turns them into
``--json-stream`` lines (``plan.events_codec``) and the live progress bar. They are plan
values, like ``Outcome``, so the engine and the renderers can share them without either
importing the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mplat.plan.model import Change, PlanError
from mplat.plan.outcome import Outcome


@dataclass(frozen=True, slots=True)
class PlanStarted:
    """Planning began: ``total`` lists to plan (a ``prune: true`` repository's scan is one)."""

    total: int


@dataclass(frozen=True, slots=True)
class ListPlanned:
    """One list (or prune scan) finished planning: its changes, or the errors that stopped it."""

    changes: tuple[Change, ...]
    errors: tuple[PlanError, ...]


@dataclass(frozen=True, slots=True)
class ApplyStarted:
    """Apply starts writing for this change (for a list: its children first, then the tag)."""

    change: Change


@dataclass(frozen=True, slots=True)
class ApplyEnded:
    """A change's outcome is known: written, already as desired, failed or not done."""

    outcome: Outcome


Event = PlanStarted | ListPlanned | ApplyStarted | ApplyEnded
Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The listener of a run nobody watches."""
