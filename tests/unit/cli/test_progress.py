"""``cli.progress``: when a bar is shown, what it says, and that it stays on its stream."""

from __future__ import annotations

import io
import sys

import pytest

from mplat.cli.progress import Bar, apply_text, plan_text, wanted
from mplat.plan.events import ApplyEnded, ApplyStarted, ListPlanned, PlanStarted
from mplat.plan.outcome import Outcome
from tests.support.builders import REPO, create


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


TERMINAL = {"TERM": "xterm-256color"}


@pytest.mark.parametrize(
    ("no_progress", "environ", "tty", "streams", "shown"),
    [
        (False, TERMINAL, True, False, True),  # a person at a terminal
        (False, TERMINAL, False, False, False),  # a pipe, a file, CI
        (True, TERMINAL, True, False, False),  # --no-progress
        (False, {**TERMINAL, "NO_COLOR": ""}, True, False, False),  # NO_COLOR, set at all
        (False, {"TERM": "dumb"}, True, False, False),
        (False, {"TERM": "unknown"}, True, False, False),
        (False, {}, True, False, True),  # no TERM at all: the terminal is still one
        (False, {**TERMINAL, "FORCE_COLOR": "1"}, False, False, True),  # CI that renders ANSI
        (False, {**TERMINAL, "FORCE_COLOR": ""}, False, False, False),  # empty: not set
        (True, {**TERMINAL, "FORCE_COLOR": "1"}, True, False, False),  # the flag wins
        (False, {**TERMINAL, "FORCE_COLOR": "1", "NO_COLOR": "1"}, True, False, False),
        (False, {"TERM": "dumb", "FORCE_COLOR": "1"}, True, False, False),  # cannot redraw
        (False, TERMINAL, True, True, False),  # JSON lines to the same terminal would tear it
    ],
)
def test_a_bar_is_shown_only_where_someone_watches(
    no_progress: bool, environ: dict[str, str], tty: bool, streams: bool, shown: bool
) -> None:
    assert wanted(no_progress, Stream(tty), environ, stdout_streams=streams) is shown


def test_a_closed_stream_is_no_terminal() -> None:
    closed = Stream(True)
    closed.isatty = lambda: (_ for _ in ()).throw(ValueError("closed"))  # type: ignore[method-assign]
    assert not wanted(False, closed, TERMINAL, stdout_streams=False)


def test_the_words_of_the_bar() -> None:
    assert plan_text(3, 10) == "Refreshing 3 of 10 lists"
    assert apply_text(4, 1, 10) == "Applying: 4 written, 1 failed, 5 remaining"


def outcome(ok: bool) -> ApplyEnded:
    return ApplyEnded(Outcome(f"{REPO}:t", "create", ok, "created" if ok else "denied"))


def test_planning_counts_lists_and_draws_the_last_count_before_clearing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = Stream(True)
    bar = Bar(stream)
    bar.hear(outcome(True))  # nothing is up yet: an outcome counts for no phase
    assert stream.getvalue() == ""
    bar.hear(PlanStarted(3))
    bar.hear(ListPlanned((), ()))
    bar.hear(ListPlanned((create(),), ()))
    assert bar.text() == "Refreshing 2 of 3 lists"
    bar.stop()
    bar.stop()  # twice is harmless
    drawn = stream.getvalue()
    assert "Refreshing 2 of 3 lists" in drawn
    assert "\x1b[2K" in drawn  # cleared in place: the bar is gone once done
    assert capsys.readouterr() == ("", "")  # neither stdout nor the real stderr


def test_applying_counts_written_failed_and_remaining() -> None:
    stream = Stream(True)
    bar = Bar(stream)
    bar.start_apply(4)
    bar.hear(ApplyStarted(create()))  # starting is not an outcome
    bar.hear(outcome(True))
    bar.hear(outcome(False))
    bar.hear(ListPlanned((), ()))  # planning's event does not count while applying
    assert bar.text() == "Applying: 1 written, 1 failed, 2 remaining"
    bar.stop()
    assert "Applying: 1 written, 1 failed, 2 remaining" in stream.getvalue()
    assert "0:00:0" in stream.getvalue()  # the elapsed time beside it


def test_lines_printed_to_stderr_meanwhile_go_above_the_bar() -> None:
    stream = Stream(True)
    bar = Bar(stream)
    real = sys.stderr
    bar.start_apply(1)
    line = "  r/a:1: created sha256:" + "a" * 64  # longer than the 80 columns of this stream
    try:
        print(line, file=sys.stderr)
    finally:
        bar.stop()
    assert sys.stderr is real  # put back when the bar goes
    drawn = stream.getvalue()
    assert line + "\n" in drawn  # whole: not wrapped into two lines
    assert drawn.index(line) < drawn.rindex("Applying: 0 written")
