"""``plan.events``: the values plan and apply report as they go, and the listener of none."""

from __future__ import annotations

import dataclasses

import pytest

from mplat.plan.events import ApplyEnded, ApplyStarted, ListPlanned, PlanStarted, ignore
from mplat.plan.model import PlanError
from mplat.plan.outcome import Outcome
from tests.support.builders import REPO, create


def test_events_are_plain_frozen_values() -> None:
    change = create()
    events = [
        PlanStarted(3),
        ListPlanned((change,), (PlanError("bad"),)),
        ApplyStarted(change),
        ApplyEnded(Outcome(f"{REPO}:latest", "create", True, "created")),
    ]
    for event in events:
        assert event == dataclasses.replace(event)  # equal by value
        first = dataclasses.fields(event)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, first, None)


def test_the_default_listener_hears_and_does_nothing() -> None:
    assert ignore(PlanStarted(1)) is None
