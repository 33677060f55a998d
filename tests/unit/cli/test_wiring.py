"""``wiring``: the Applier listens to the run's stop events and reports progress on stderr."""

from __future__ import annotations

import pytest

from mplat.cli import wiring
from mplat.cli.interrupt import Interrupt
from mplat.plan.events import Event, PlanStarted
from tests.support.memregistry import MemoryRegistries


def test_the_applier_shares_the_runs_stop_events(capsys: pytest.CaptureFixture[str]) -> None:
    pool = MemoryRegistries()
    intr = Interrupt()
    applier = wiring.applier(pool, intr)
    assert applier.registries is pool
    assert applier.stop is intr.stop and applier.abort is intr.abort
    assert not applier.hard()
    intr.hard = True  # read when asked, not when built: a second signal comes later
    assert applier.hard()
    applier.progress("created r/a:1")
    assert capsys.readouterr() == ("", "  created r/a:1\n")


def test_the_applier_tells_the_runs_listener() -> None:
    heard: list[Event] = []
    applier = wiring.applier(MemoryRegistries(), Interrupt(), heard.append)
    applier.events(PlanStarted(1))
    assert heard == [PlanStarted(1)]
