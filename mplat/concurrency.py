"""Bounded concurrency for many independent jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

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
