"""Bounded concurrency for many independent jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


async def run_bounded(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run jobs with at most ``limit`` in progress; results in job order.

    A worker pool rather than one task per job: 10,000 lists must not become 10,000
    suspended coroutines each holding its partial state.
    """
    results: list[T | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))

    async def worker() -> None:
        for index, job in queue:
            results[index] = await job()

    await asyncio.gather(*(worker() for _ in range(min(limit, len(jobs)))))
    return results  # type: ignore[return-value]


K = TypeVar("K", bound=Hashable)


class Once(Generic[K, T]):
    """Run each keyed job once; every caller for that key shares its result or its error.

    Sources shared by many lists, and children or blobs shared by many copies, are fetched
    or written once per run. ``shield`` keeps one caller's cancellation from cancelling the
    job the others wait on.
    """

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Future[T]] = {}

    def __call__(self, key: K, make: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self._tasks[key] = task
        return asyncio.shield(task)

    def cancel(self) -> list[asyncio.Future[T]]:
        """Cancel every job still running (a hard stop); returns them to be awaited."""
        running = [t for t in self._tasks.values() if not t.done()]
        for t in running:
            t.cancel()
        return running
