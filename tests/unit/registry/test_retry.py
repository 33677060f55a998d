"""mplat.registry.retry: the one retry loop and its stop rule, on a fake clock.

The stop rule is what every retried operation shares (requests, token requests, broken
bodies, uploads), so each of its clauses is pinned here: attempts, time budget with the
next wait included, Retry-After (honoured, capped), idempotency, and the hook's verdicts.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from mplat.registry.retry import (
    RETRY_STATUSES,
    Again,
    Retrying,
    RetryPolicy,
    Verdict,
    retryable_status,
)


@dataclass
class FakeTime:
    """A clock that moves only when the loop sleeps (or an attempt says it took time)."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


class Boom(Exception):
    pass


def loop(
    policy: RetryPolicy, time: FakeTime, *, idempotent: bool = True, rand: float = 0.0
) -> Retrying[str]:
    return Retrying(
        policy, idempotent=idempotent, clock=time.clock, sleep=time.sleep, rand=lambda: rand
    )


def script(
    *outcomes: str | Again[str] | Exception, took: float = 0.0, time: FakeTime | None = None
) -> tuple[Callable[[int], Awaitable[str | Again[str]]], list[int]]:
    """An attempt function playing ``outcomes`` in order (the last one repeats)."""
    calls: list[int] = []

    async def attempt(n: int) -> str | Again[str]:
        calls.append(n)
        if time is not None:
            time.now += took
        outcome = outcomes[min(n, len(outcomes) - 1)]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return attempt, calls


def run(coro: Awaitable[str]) -> str:
    async def main() -> str:
        return await coro

    return asyncio.run(main())


BUSY: Again[str] = Again("HTTP 503", value="503")
DROPPED: Again[str] = Again("ReadError", error=Boom("dropped"))


# --- the policy -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_jitter_in_half_to_one() -> None:
    p = RetryPolicy()
    assert [p.backoff(a, lambda: 0.0) for a in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert p.backoff(3, lambda: 1.0) == 4.0
    assert p.min_wait() == 15.75  # rides out a 15 s outage (issue 10)


def test_retry_after_is_honoured_and_capped() -> None:
    p = RetryPolicy(retry_after_cap=60.0)
    assert p.delay(0, 7.0) == 7.0
    assert p.delay(0, 3600.0) == 60.0
    assert p.delay(2, None, lambda: 0.0) == p.backoff(2, lambda: 0.0)


def test_the_stop_rule_clause_by_clause() -> None:
    p = RetryPolicy(attempts=3, total=10.0)
    assert p.permits(0, 0.0, 1.0, idempotent=True)
    assert not p.permits(0, 0.0, 1.0, idempotent=False)  # never repeat what is not safe
    assert p.permits(1, 0.0, 1.0, idempotent=True)
    assert not p.permits(2, 0.0, 1.0, idempotent=True)  # the third attempt was the last
    assert p.permits(0, 8.9, 1.0, idempotent=True)
    assert not p.permits(0, 9.0, 1.0, idempotent=True)  # the wait itself must fit the budget
    assert p.unbudgeted().permits(0, 1e9, 1.0, idempotent=True)
    assert p.unbudgeted().total == math.inf and p.unbudgeted().attempts == 3


# --- the loop ---------------------------------------------------------------------------------


def test_a_final_answer_is_returned_at_once() -> None:
    t = FakeTime()
    attempt, calls = script("ok")
    r = loop(RetryPolicy(), t)
    assert run(r.run(attempt)) == "ok"
    assert (calls, t.sleeps, r.attempts) == ([0], [], 1)


def test_retries_until_an_answer_waiting_the_backoff() -> None:
    t = FakeTime()
    attempt, calls = script(BUSY, DROPPED, "ok")
    r = loop(RetryPolicy(), t)
    assert run(r.run(attempt)) == "ok"
    assert calls == [0, 1, 2]
    assert t.sleeps == [0.25, 0.5]
    assert r.attempts == 3 and r.elapsed() == 0.75


def test_attempts_bound_the_loop_and_the_last_error_is_raised() -> None:
    t = FakeTime()
    attempt, calls = script(DROPPED)
    r = loop(RetryPolicy(attempts=4), t)
    with pytest.raises(Boom):
        run(r.run(attempt))
    assert calls == [0, 1, 2, 3] and len(t.sleeps) == 3 and r.attempts == 4


def test_attempts_bound_the_loop_and_the_last_answer_is_returned() -> None:
    t = FakeTime()
    attempt, calls = script(BUSY)
    assert run(loop(RetryPolicy(attempts=3), t).run(attempt)) == "503"
    assert len(calls) == 3


def test_the_budget_counts_the_attempts_time_and_the_next_wait() -> None:
    policy = RetryPolicy(attempts=100, base_delay=1.0, max_delay=1.0, total=10.0)
    t = FakeTime()
    attempt, calls = script(DROPPED, took=4.0, time=t)
    r = loop(policy, t)
    with pytest.raises(Boom):
        run(r.run(attempt))
    # 4 + 0.5 wait + 4 = 8.5 s; the next wait fits (9.0 < 10); after the third attempt
    # 13 s are spent: stop.
    assert calls == [0, 1, 2] and t.sleeps == [0.5, 0.5] and r.elapsed() == 13.0

    t = FakeTime()
    attempt, calls = script(DROPPED, took=4.6, time=t)
    with pytest.raises(Boom):
        run(loop(policy, t).run(attempt))
    # 4.6 + 0.5 + 4.6 = 9.7 s spent: the attempt would start within the budget, but its
    # wait would not end within it (10.2 s), so there is none.
    assert calls == [0, 1] and t.sleeps == [0.5]


def test_retry_after_sets_the_wait() -> None:
    t = FakeTime()
    attempt, _ = script(Again("HTTP 429", value="429", retry_after=2.0), "ok")
    assert run(loop(RetryPolicy(), t).run(attempt)) == "ok"
    assert t.sleeps == [2.0]


def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    t = FakeTime()
    attempt, calls = script(Again("HTTP 429", value="429", retry_after=3600.0))
    policy = RetryPolicy(total=30.0, retry_after_cap=60.0)
    assert run(loop(policy, t).run(attempt)) == "429"
    assert calls == [0] and t.sleeps == []


def test_what_is_not_idempotent_is_never_repeated() -> None:
    t = FakeTime()
    attempt, calls = script(DROPPED, "ok")
    with pytest.raises(Boom):
        run(loop(RetryPolicy(), t, idempotent=False).run(attempt))
    attempt, calls = script(BUSY, "ok")
    assert run(loop(RetryPolicy(), t, idempotent=False).run(attempt)) == "503"
    assert calls == [0] and t.sleeps == []


def test_an_exception_the_attempt_raises_is_final() -> None:
    t = FakeTime()
    attempt, calls = script(ValueError("refused"), "ok")
    with pytest.raises(ValueError, match="refused"):
        run(loop(RetryPolicy(), t).run(attempt))
    assert calls == [0]


def test_unbudgeted_transfers_are_bounded_by_attempts_only() -> None:
    t = FakeTime()
    attempt, calls = script(DROPPED, took=1000.0, time=t)
    with pytest.raises(Boom):
        run(loop(RetryPolicy(attempts=3, total=1.0).unbudgeted(), t).run(attempt))
    assert calls == [0, 1, 2]


# --- the hook ---------------------------------------------------------------------------------


def test_the_hook_runs_before_each_wait_with_the_outcome_and_the_delay() -> None:
    t = FakeTime()
    seen: list[tuple[str, float, float]] = []

    async def hook(outcome: Again[str], delay: float) -> Verdict:
        seen.append((outcome.reason, delay, t.now))
        return Verdict.RETRY

    attempt, _ = script(BUSY, DROPPED, "ok")
    assert run(loop(RetryPolicy(), t).run(attempt, hook)) == "ok"
    assert seen == [("HTTP 503", 0.25, 1000.0), ("ReadError", 0.5, 1000.25)]


def test_the_hook_is_not_asked_when_the_policy_says_stop() -> None:
    t = FakeTime()
    asked: list[str] = []

    async def hook(outcome: Again[str], delay: float) -> Verdict:
        asked.append(outcome.reason)
        return Verdict.RETRY

    attempt, _ = script(DROPPED)
    with pytest.raises(Boom):
        run(loop(RetryPolicy(attempts=2), t).run(attempt, hook))
    assert asked == ["ReadError"]  # before the second attempt, not after it


def test_the_hook_may_give_up() -> None:
    t = FakeTime()

    async def hook(outcome: Again[str], delay: float) -> Verdict:
        return Verdict.GIVE_UP

    attempt, calls = script(DROPPED, "ok")
    with pytest.raises(Boom):
        run(loop(RetryPolicy(), t).run(attempt, hook))
    assert calls == [0] and t.sleeps == []


def test_the_hook_may_find_the_operation_done() -> None:
    """An upload whose answer was lost: the blob is there, so the error is not raised."""
    t = FakeTime()

    async def hook(outcome: Again[str], delay: float) -> Verdict:
        return Verdict.DONE

    attempt, calls = script(Again("upload failed", value="there", error=Boom()), "ok")
    assert run(loop(RetryPolicy(), t).run(attempt, hook)) == "there"
    assert calls == [0] and t.sleeps == []


def test_retryable_status_is_the_one_set() -> None:
    assert {s for s in range(100, 600) if retryable_status(s)} == RETRY_STATUSES
    assert {408, 429, 503} <= RETRY_STATUSES and not {400, 404, 501, 505} & RETRY_STATUSES
