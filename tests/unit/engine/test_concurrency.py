"""Once (shared keyed jobs) and run_bounded (a worker pool over many jobs)."""

from __future__ import annotations

import asyncio
import functools

import pytest

from mplat.engine.concurrency import Once, run_bounded

# --- Once -----------------------------------------------------------------------------------


def test_once_runs_each_key_once_and_shares_the_result() -> None:
    started: list[str] = []

    async def job(key: str) -> str:
        started.append(key)
        await asyncio.sleep(0)
        return key.upper()

    async def main() -> list[str]:
        once: Once[str, str] = Once()
        return await asyncio.gather(
            *(once(k, functools.partial(job, k)) for k in ("a", "b", "a", "a", "b"))
        )

    assert asyncio.run(main()) == ["A", "B", "A", "A", "B"]
    assert started == ["a", "b"]


def test_once_remembers_a_finished_job() -> None:
    calls = 0

    async def job() -> int:
        nonlocal calls
        calls += 1
        return calls

    async def main() -> tuple[int, int]:
        once: Once[str, int] = Once()
        first = await once("k", job)
        return first, await once("k", job)

    assert asyncio.run(main()) == (1, 1)


def test_once_gives_every_caller_the_same_error() -> None:
    async def job() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main() -> tuple[BaseException | None, BaseException | None]:
        once: Once[str, None] = Once()
        return await asyncio.gather(once("k", job), once("k", job), return_exceptions=True)

    first, second = asyncio.run(main())
    assert isinstance(first, ValueError) and first is second


def test_one_callers_cancellation_does_not_cancel_the_shared_job() -> None:
    async def main() -> str:
        release = asyncio.Event()

        async def job() -> str:
            await release.wait()
            return "done"

        once: Once[str, str] = Once()
        impatient = asyncio.ensure_future(once("k", job))
        patient = asyncio.ensure_future(once("k", job))
        await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        release.set()
        assert impatient.cancelled()
        return await patient

    assert asyncio.run(main()) == "done"


def test_cancel_stops_running_jobs_and_returns_them() -> None:
    async def main() -> None:
        once: Once[str, None] = Once()
        finished = once("fast", lambda: asyncio.sleep(0))
        await finished
        waiting = asyncio.ensure_future(once("slow", lambda: asyncio.sleep(3600)))
        await asyncio.sleep(0)
        running = once.cancel()
        assert len(running) == 1  # the finished job is not among them
        await asyncio.gather(*running, return_exceptions=True)
        assert running[0].cancelled()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(main())


# --- run_bounded ----------------------------------------------------------------------------


def test_run_bounded_keeps_job_order_and_the_limit() -> None:
    in_progress = 0
    peak = 0

    async def job(n: int) -> int:
        nonlocal in_progress, peak
        in_progress += 1
        peak = max(peak, in_progress)
        await asyncio.sleep(0.001 * (n % 3))  # finish out of order
        in_progress -= 1
        return n * n

    jobs = [functools.partial(job, n) for n in range(20)]
    assert asyncio.run(run_bounded(jobs, 4)) == [n * n for n in range(20)]
    assert peak == 4


def test_run_bounded_with_fewer_jobs_than_the_limit_and_with_none() -> None:
    async def one() -> int:
        return 1

    assert asyncio.run(run_bounded([one, one], 64)) == [1, 1]
    assert asyncio.run(run_bounded([], 64)) == []


def test_run_bounded_propagates_a_failing_job() -> None:
    async def ok() -> int:
        return 1

    async def bad() -> int:
        raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        asyncio.run(run_bounded([ok, bad, ok], 2))
