"""Stopping on SIGINT / SIGTERM without leaving half-moved lists or tracebacks behind.

CI cancels a job with SIGTERM; people press Ctrl-C. The first signal asks for a stop: no
new write starts, writes in flight get up to ``GRACE_SECONDS`` to finish, and a list whose
first tag already moved gets its other tags moved too, so its tags agree. Then mplat says
what was done and what was not, and exits 130 (SIGINT) or 143 (SIGTERM). A second signal
stops at once. While nothing is being written (planning), the first signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

GRACE_SECONDS = 10.0
"""How long writes in flight may take to finish after the first signal."""

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Interrupt:
    """The stop state of one run, set by the signal handlers, read by the Applier."""

    grace: float = GRACE_SECONDS
    emit: Callable[[str], None] = _stderr
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # no new writes
    abort: asyncio.Event = field(default_factory=asyncio.Event)  # cancel writes in flight
    signum: int | None = None
    hard: bool = False  # a second signal arrived
    writing: bool = False
    finished: bool = False  # the writes are over; a late signal only sets the exit code
    _runner: asyncio.Task[Any] | None = None
    _timer: asyncio.TimerHandle | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def on_signal(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
            self.stop.set()
            if self.finished:
                self.emit(f"{self.name} received after the writes ended; finishing the report.")
            elif self.writing:
                self.emit(
                    f"{self.name} received: starting no new writes; waiting up to "
                    f"{self.grace:g} s for writes in flight. Send it again to stop at once."
                )
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.grace, self._grace_over)
            else:
                self.emit(f"{self.name} received: stopping; nothing was written.")
                self._cancel_all()
            return
        if self.hard:
            return
        self.hard = True
        self.emit(f"{signal.Signals(signum).name} received again: stopping at once.")
        self.abort.set()
        if not (self.writing or self.finished):
            self._cancel_all()

    def _grace_over(self) -> None:
        self.emit(f"Writes still in flight after {self.grace:g} s: stopping them.")
        self.abort.set()

    def _cancel_all(self) -> None:
        """Cancel every task but the runner, so none sends a request into a closed client."""
        for task in asyncio.all_tasks():
            if task is not self._runner:
                task.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


_CURRENT: contextvars.ContextVar[Interrupt | None] = contextvars.ContextVar(
    "mplat_interrupt", default=None
)


def current() -> Interrupt:
    """The running command's Interrupt (a fresh, never-signalled one outside ``run``)."""
    found = _CURRENT.get()
    return found if found is not None else Interrupt()


@contextlib.contextmanager
def writing() -> Iterator[Interrupt]:
    """Mark the span where the first signal must let writes finish instead of cancelling."""
    intr = current()
    intr.writing = True
    try:
        yield intr
    finally:
        intr.writing = False
        intr.finished = True


def run(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run`` with the stop handling above; returns 130/143 once signalled."""
    return asyncio.run(_supervise(main))


async def _supervise(main: Coroutine[Any, Any, int]) -> int:
    loop = asyncio.get_running_loop()
    intr = Interrupt(_runner=asyncio.current_task())
    _CURRENT.set(intr)
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    # Only the main thread may handle signals; elsewhere (a caller's thread) run without.
    handled = threading.current_thread() is threading.main_thread()
    for s in SIGNALS if handled else ():
        loop.add_signal_handler(s, intr.on_signal, s)
    default_handler = loop.get_exception_handler()

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # After a stop, tasks that lost their client mid-request are expected, not bugs.
        if intr.signum is not None:
            return
        if default_handler is not None:
            default_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet)
    task = asyncio.ensure_future(main)
    try:
        code = await task
    except asyncio.CancelledError:
        if intr.signum is None:
            raise
        code = intr.exit_code
    finally:
        intr.close()
        for s in SIGNALS if handled else ():
            loop.remove_signal_handler(s)
            signal.signal(s, previous[s])
    await _drain()
    return intr.exit_code if intr.signum is not None else code


async def _drain() -> None:
    """Let leftover tasks finish their cancellation here, not in asyncio.run's shutdown."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me]
    for t in rest:
        t.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@contextlib.contextmanager
def blocking() -> Iterator[None]:
    """Around a blocking call (the approval prompt): signals act at once, as without mplat.

    The loop's handlers only run when the loop does; a blocked ``input()`` would swallow them.
    """
    loop = asyncio.get_running_loop()
    intr = _CURRENT.get()
    if intr is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def term(_signum: int, _frame: object) -> None:
        _stderr("SIGTERM received: stopping; nothing was written.")
        raise SystemExit(143)

    for s in SIGNALS:
        loop.remove_signal_handler(s)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, term)
    try:
        yield
    finally:
        for s in SIGNALS:
            loop.add_signal_handler(s, intr.on_signal, s)
