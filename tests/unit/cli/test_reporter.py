"""``cli.reporter``: events to ``--json-stream`` lines (flushed one by one) and to the bar."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest

from mplat.cli.errors import UsageError
from mplat.cli.progress import Bar
from mplat.cli.reporter import Reporter
from mplat.plan.events import ApplyEnded, ApplyStarted, Event, ListPlanned, PlanStarted
from mplat.plan.model import Plan
from mplat.plan.outcome import ApplyResult, Outcome
from tests.support.builders import REPO, create, delete, no_op

NOW = 1_790_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder(Bar):
    """A bar that only records what it was told."""

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.told: list[object] = []

    def hear(self, event: Event) -> None:
        self.told.append(event)

    def start_apply(self, total: int) -> None:
        self.told.append(("apply", total))

    def stop(self) -> None:
        self.told.append("stop")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out, err = capsys.readouterr()
    assert err == ""
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def streaming(clock: Clock) -> Reporter:
    return Reporter(stream=True, clock=clock, now=lambda: NOW)


def test_without_stream_or_bar_nothing_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = Reporter()
    quiet(ListPlanned((create(),), ()))
    quiet.planned(Plan((create(),)))
    quiet.applied(Plan((create(),)), ApplyResult())
    quiet.error("refused")
    assert capsys.readouterr() == ("", "")


def test_planned_lists_are_lines_and_the_summary_is_timed(
    capsys: pytest.CaptureFixture[str], streaming: Reporter, clock: Clock
) -> None:
    plan = Plan((create("a"), no_op("b")))
    with streaming.planning():
        streaming(PlanStarted(1))
        streaming(ListPlanned(plan.changes, ()))
        clock.t += 1.5
    streaming.planned(plan)
    got = lines(capsys)
    assert [(d["type"], d.get("phase")) for d in got] == [
        ("planned_change", None),  # the tag in sync is counted, not listed
        ("summary", "plan"),
    ]
    assert got[-1]["changes"] == {"create": 1, "update": 0, "repair": 0, "delete": 0, "no_op": 1}
    assert got[-1]["elapsed_seconds"] == 1.5 == streaming.plan_seconds
    assert {d["format_version"] for d in got} == {"1"}
    assert {d["timestamp"] for d in got} == {"2026-09-21T14:13:20.000000Z"}


def test_a_saved_plan_is_replayed_change_by_change(
    capsys: pytest.CaptureFixture[str], streaming: Reporter
) -> None:
    streaming.planned(Plan((create("a"), no_op(), delete())), replay=True)
    got = lines(capsys)
    assert [d["type"] for d in got] == ["planned_change", "planned_change", "summary"]
    assert got[-1]["elapsed_seconds"] is None  # planned in another run


def test_show_no_op_lists_tags_in_sync_too(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = Reporter(stream=True, show_no_op=True)
    reporter(ListPlanned((no_op("b"),), ()))
    reporter.planned(Plan((no_op("c"),)), replay=True)
    assert [d["change"]["tag"] for d in lines(capsys) if d["type"] == "planned_change"] == [
        "b",
        "c",
    ]
    assert Reporter.of(args(show_no_op=True)).show_no_op


def test_each_outcome_is_timed_from_its_start(
    capsys: pytest.CaptureFixture[str], streaming: Reporter, clock: Clock
) -> None:
    change = create("a")
    plan = Plan((change, no_op()))
    result = ApplyResult([Outcome(change.address, "create", True, "created sha256:1")])
    with streaming.applying(plan):
        streaming(ApplyStarted(change))
        clock.t += 2.25
        streaming(ApplyEnded(result.outcomes[0]))
        streaming(ApplyEnded(Outcome(f"{REPO}:x", "delete", False, "not deleted", True)))
        clock.t += 0.75
    streaming.applied(plan, result)
    start, done, skipped, summary = lines(capsys)
    assert (start["type"], start["address"]) == ("apply_start", change.address)
    assert (done["type"], done["elapsed_seconds"]) == ("apply_complete", 2.25)
    assert (skipped["type"], skipped["elapsed_seconds"]) == ("errored", None)
    assert (summary["type"], summary["created"], summary["elapsed_seconds"]) == ("summary", 1, 3.0)


def test_nothing_applied_has_no_elapsed_time(
    capsys: pytest.CaptureFixture[str], streaming: Reporter
) -> None:
    streaming.applied(Plan((no_op(),)), None)
    (summary,) = lines(capsys)
    assert (summary["applied"], summary["elapsed_seconds"]) == (False, None)


def test_the_bar_follows_the_phases_and_hears_every_event(clock: Clock) -> None:
    bar = Recorder()
    reporter = Reporter(bar=bar, clock=clock)
    with reporter.planning():
        reporter(PlanStarted(2))
    with reporter.applying(Plan((create("a"), create("b"), no_op()))):
        reporter(ApplyStarted(create("a")))
    assert bar.told == [PlanStarted(2), "stop", ("apply", 2), ApplyStarted(create("a")), "stop"]


def test_the_bar_is_cleared_when_planning_fails(clock: Clock) -> None:
    bar = Recorder()
    reporter = Reporter(bar=bar, clock=clock)
    with pytest.raises(RuntimeError), reporter.planning():
        raise RuntimeError("cancelled")
    assert bar.told == ["stop"]


def test_an_expected_failure_ends_the_stream_with_errored_and_goes_on_up(
    capsys: pytest.CaptureFixture[str], streaming: Reporter
) -> None:
    with pytest.raises(UsageError), streaming.run_errors():
        raise UsageError("--target: bad")
    assert [(d["type"], d["phase"], d["message"]) for d in lines(capsys)] == [
        ("errored", "run", "--target: bad")
    ]
    with pytest.raises(ZeroDivisionError), streaming.run_errors():
        raise ZeroDivisionError  # a bug: no line, the traceback stays
    assert capsys.readouterr() == ("", "")


def args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"json_stream": False, "no_progress": False, **given})


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("FORCE_COLOR", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def test_the_flags_and_the_environment_choose(environ: pytest.MonkeyPatch) -> None:
    assert Reporter.of(args()).bar is None  # pytest's stderr is no terminal
    assert Reporter.of(args(json_stream=True)).stream
    environ.setenv("FORCE_COLOR", "1")
    assert isinstance(Reporter.of(args()).bar, Bar)
    assert Reporter.of(args(no_progress=True)).bar is None
    assert not Reporter.of(argparse.Namespace()).stream  # a command without these flags


def test_each_line_is_flushed_as_it_is_written(
    monkeypatch: pytest.MonkeyPatch, streaming: Reporter
) -> None:
    """A pipe's reader sees each event then, not when a buffer fills or mplat exits."""
    calls: list[str] = []

    class Out:
        def write(self, text: str) -> int:
            calls.append("write")
            return len(text)

        def flush(self) -> None:
            calls.append("flush")

    monkeypatch.setattr("sys.stdout", Out())
    streaming(ListPlanned((create("a"), create("b")), ()))
    assert calls == ["write", "flush", "write", "flush"]
