"""The live progress bar on stderr: "Refreshing N of M lists" while planning, then written,
failed and remaining tags with the elapsed time while applying.

Shown only where someone watches: stderr is a terminal (or ``FORCE_COLOR`` is set), and not
``--no-progress``, ``NO_COLOR``, ``TERM=dumb`` or a terminal that also receives
``--json-stream`` lines on stdout (they would tear the bar). The bar never touches stdout.
It is drawn by rich (a live region that redraws in place, fits the terminal's width and
keeps lines printed on stderr meanwhile, such as "note:" and the per-tag lines, above
itself), imported here only when a bar is shown, so ``mplat --version`` and every piped or
CI run never load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

from mplat.plan.events import ApplyEnded, Event, ListPlanned, PlanStarted

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DUMB_TERMINALS = ("dumb", "unknown")
"""``TERM`` values of terminals that cannot redraw a line (rich treats both so)."""


def wanted(
    no_progress: bool, stderr: IO[str], environ: Mapping[str, str], stdout_streams: bool
) -> bool:
    """Whether to show a bar on ``stderr``; ``stdout_streams``: JSON lines go to a terminal.

    ``--no-progress`` and ``NO_COLOR`` (set at all, as for colours) always win; a dumb
    terminal cannot redraw; ``FORCE_COLOR`` (non-empty, force-color.org) shows it even when
    stderr is not a terminal, as CI logs that render ANSI want.
    """
    if no_progress or "NO_COLOR" in environ or stdout_streams:
        return False
    if environ.get("TERM", "").lower() in DUMB_TERMINALS:
        return False
    if environ.get("FORCE_COLOR", ""):
        return True
    try:
        return stderr.isatty()
    except ValueError:  # a closed stream
        return False


def plan_text(done: int, total: int) -> str:
    return f"Refreshing {done} of {total} lists"


def apply_text(written: int, failed: int, total: int) -> str:
    return f"Applying: {written} written, {failed} failed, {total - written - failed} remaining"


class Bar:
    """One bar at a time on ``stream``: planning's, then apply's. ``stop`` clears it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._total = 0
        self._done = 0
        self._failed = 0
        self._phase = ""

    def hear(self, event: Event) -> None:
        """Follow the engine: planning starts and advances the bar, outcomes count."""
        if isinstance(event, PlanStarted):
            self._start("plan", event.total)
        elif isinstance(event, ListPlanned) and self._phase == "plan":
            self._done += 1
        elif isinstance(event, ApplyEnded) and self._phase == "apply":
            if event.outcome.ok:
                self._done += 1
            else:
                self._failed += 1
        else:
            return
        self._update()

    def start_apply(self, total: int) -> None:
        """Apply begins with ``total`` changes to make."""
        self._start("apply", total)
        self._update()

    def stop(self) -> None:
        """Draw the final counts and clear the bar (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._task = None
        self._phase = ""

    def text(self) -> str:
        """What the bar says now, beside the bar and the elapsed time."""
        if self._phase == "plan":
            return plan_text(self._done, self._total)
        return apply_text(self._done, self._failed, self._total)

    def _start(self, phase: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.stop()
        self._phase, self._total, self._done, self._failed = phase, total, 0, 0
        # soft_wrap: lines printed above the bar keep their length (a digest stays whole).
        console = Console(file=self.stream, force_terminal=True, highlight=False, soft_wrap=True)
        self._progress = Progress(
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,  # stdout may carry JSON: never through the bar
            redirect_stderr=True,  # stderr lines print above the bar, not through it
            refresh_per_second=8,
        )
        self._task = self._progress.add_task(self.text(), total=max(total, 1))
        self._progress.start()

    def _update(self) -> None:
        if self._progress is not None and self._task is not None:
            done = self._done + self._failed
            self._progress.update(self._task, description=self.text(), completed=done)
