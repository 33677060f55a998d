"""Where the engine's events go during ``plan`` and ``apply``: the ``--json-stream`` lines on
stdout and the progress bar on stderr, each line written and flushed as its event happens.

The engine calls a ``Reporter`` as its listener; the commands mark the phases (planning,
applying) so the bar is up only while work runs, never over the plan text or the prompt,
and so each phase's elapsed time is measured once, for the stream and the summary alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from mplat.cli.errors import error_message
from mplat.cli.progress import Bar, wanted
from mplat.plan import events_codec as codec
from mplat.plan.events import ApplyEnded, ApplyStarted, Event, ListPlanned
from mplat.plan.model import Plan
from mplat.plan.outcome import ApplyResult


class Reporter:
    """One run's listener: ``stream`` writes JSON lines to stdout, ``bar`` shows progress."""

    def __init__(
        self,
        stream: bool = False,
        bar: Bar | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        show_no_op: bool = False,
    ) -> None:
        self.stream = stream
        self.bar = bar
        self.show_no_op = show_no_op  # planned_change lines for tags in sync too
        self.clock = clock
        self.now = now
        self.plan_seconds: float | None = None
        self.apply_seconds: float | None = None
        self._started: dict[str, float] = {}  # address -> when its apply_start was

    @classmethod
    def of(cls, args: argparse.Namespace) -> Reporter:
        """The reporter the flags, the environment and the terminals ask for."""
        stream = bool(getattr(args, "json_stream", False))
        show = wanted(
            bool(getattr(args, "no_progress", False)),
            sys.stderr,
            os.environ,
            stdout_streams=stream and _isatty(sys.stdout),
        )
        return cls(
            stream,
            Bar(sys.stderr) if show else None,
            show_no_op=bool(getattr(args, "show_no_op", False)),
        )

    def __call__(self, event: Event) -> None:
        if self.bar is not None:
            self.bar.hear(event)
        if not self.stream:
            return
        elapsed = None
        if isinstance(event, ApplyStarted):
            self._started[event.change.address] = self.clock()
        elif isinstance(event, ApplyEnded):
            start = self._started.pop(event.outcome.address, None)
            elapsed = None if start is None else self.clock() - start
        for doc in codec.event_docs(event, elapsed, self.show_no_op):
            self._write(doc)

    @contextlib.contextmanager
    def planning(self) -> Iterator[None]:
        """Around making a plan: the bar follows it, and it is timed."""
        start = self.clock()
        try:
            yield
        finally:
            self._stop_bar()
            self.plan_seconds = self.clock() - start

    def planned(self, plan: Plan, replay: bool = False) -> None:
        """The plan is complete: its summary line; ``replay``: a saved plan, each change first."""
        if not self.stream:
            return
        if replay:
            for doc in codec.event_docs(ListPlanned(plan.changes, ()), None, self.show_no_op):
                self._write(doc)
        self._write(codec.plan_summary(plan, None if replay else self.plan_seconds))

    @contextlib.contextmanager
    def applying(self, plan: Plan) -> Iterator[None]:
        """Around the writes: the bar counts them, and they are timed."""
        if self.bar is not None:
            self.bar.start_apply(sum(1 for c in plan.changes if c.action != "no-op"))
        start = self.clock()
        try:
            yield
        finally:
            self._stop_bar()
            self.apply_seconds = self.clock() - start

    def applied(self, plan: Plan, result: ApplyResult | None) -> None:
        """The last line: what apply did (``result`` None: nothing was applied)."""
        if self.stream:
            elapsed = self.apply_seconds if result is not None else None
            self._write(codec.apply_summary(plan, result, elapsed))

    @contextlib.contextmanager
    def run_errors(self) -> Iterator[None]:
        """An expected failure ends the stream with an ``errored`` line, then goes on up."""
        try:
            yield
        except Exception as exc:
            message = error_message(exc)
            if message is not None:
                self.error(message)
            raise

    def error(self, message: str) -> None:
        """An ``errored`` line for a refusal that is not an exception (prevent_destroy)."""
        if self.stream:
            self._write(codec.run_errored(message))

    def _stop_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _write(self, doc: codec.Doc) -> None:
        sys.stdout.write(codec.dumps_line(doc, self.now()) + "\n")
        sys.stdout.flush()  # a reader of the pipe sees each event as it happens


def _isatty(stream: object) -> bool:
    try:
        return bool(getattr(stream, "isatty", lambda: False)())
    except ValueError:  # a closed stream
        return False
