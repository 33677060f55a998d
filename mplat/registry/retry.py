"""The one retry loop, and the one policy that decides when it stops.

Every operation mplat repeats (a request that got a 503 or a dropped connection, a token
request, a manifest or blob body that broke off, a whole blob upload) goes through
:class:`Retrying`, so there is one stop rule to read and test: an attempt is repeated only
while it is idempotent, the attempt count allows another, and the time spent plus the next
wait stays within the budget. The wait is exponential backoff with jitter, or the server's
``Retry-After`` (capped) when it gave one. What each caller does before a retry (a notice,
closing a response, asking whether a lost upload in fact arrived) is a hook, not a loop.

Nothing here knows HTTP: callers say what an attempt's outcome means with :class:`Again`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP answers that say "not now" rather than "no": worth asking again when it is safe."""


def retryable_status(status: int) -> bool:
    """THE test of an HTTP status: the request loop repeats these, and an error carrying one
    is ``retryable`` (a whole transfer may be repeated); others (501, 505, ...) are final."""
    return status in RETRY_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries: a cron job must finish, and a struggling registry must get air.

    The waits before attempts 2..8 are 0.5, 1, 2, 4, 8, 8, 8 s, each scaled by a jitter in
    [0.5, 1): at least 15.75 s and at most 31.5 s of waiting, so an idempotent request rides
    out a registry restart or an outage of 15 s, and the whole call stays within ``total``.
    """

    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 8.0
    total: float = 90.0
    retry_after_cap: float = 60.0

    def min_wait(self) -> float:
        """The shortest time all retries of one request can span (every jitter at its low)."""
        return sum(
            min(self.max_delay, self.base_delay * 2.0**a) * 0.5 for a in range(self.attempts - 1)
        )

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt ``attempt`` (0-based): doubling, capped, jittered."""
        delay = min(self.max_delay, self.base_delay * (2**attempt))
        return float(delay * (0.5 + rand() / 2))

    def delay(
        self, attempt: int, retry_after: float | None, rand: Callable[[], float] = random.random
    ) -> float:
        """The server's ``Retry-After`` (capped) when it gave one, else the backoff."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        return self.backoff(attempt, rand)

    def permits(self, attempt: int, elapsed: float, delay: float, idempotent: bool) -> bool:
        """THE stop rule: another attempt only for an idempotent operation, within the attempt
        count, and if waiting ``delay`` more still fits the time budget."""
        return idempotent and attempt + 1 < self.attempts and elapsed + delay < self.total

    def unbudgeted(self) -> RetryPolicy:
        """The same policy bounded by attempts only: for retrying a transfer (a body that
        broke off, a blob upload), whose own duration is not time spent waiting on a
        registry and may rightly exceed the budget; each of its requests keeps the budget."""
        return replace(self, total=math.inf)


@dataclass(frozen=True)
class Again(Generic[T]):
    """An attempt's outcome that is worth another try: the answer ``value`` or the ``error``.

    If the policy says stop, the loop gives the outcome back as it is: it returns ``value``
    (say, the last 503, for the caller to report) or raises ``error``.
    """

    reason: str
    """What happened, for notices: ``"HTTP 503"``, ``"ReadError"``."""
    value: T | None = None
    error: Exception | None = None
    retry_after: float | None = None
    """Seconds the server asked to wait, if it did."""


class Verdict(Enum):
    """What a ``before_retry`` hook decides, having looked at a failed attempt."""

    RETRY = "retry"
    GIVE_UP = "give up"
    """The outcome is final after all: return its value or raise its error."""
    DONE = "done"
    """The operation turns out to have succeeded (say, the upload whose answer was lost
    is there): return the outcome's value and do not raise its error."""


@dataclass
class Retrying(Generic[T]):
    """One retried operation: run :meth:`run` once, then read ``attempts`` and ``elapsed``.

    ``clock``, ``sleep`` and ``rand`` are parameters so the stop rules can be tested
    without waiting.
    """

    policy: RetryPolicy
    idempotent: bool = True
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rand: Callable[[], float] = random.random
    attempts: int = field(default=0, init=False)
    """Attempts made so far."""
    started: float = field(default=0.0, init=False)

    def elapsed(self) -> float:
        return self.clock() - self.started

    async def run(
        self,
        attempt: Callable[[int], Awaitable[T | Again[T]]],
        before_retry: Callable[[Again[T], float], Awaitable[Verdict]] | None = None,
    ) -> T:
        """Call ``attempt(n)`` (n = 0, 1, ...) until it returns a final value or may not be
        repeated. An exception ``attempt`` raises is final; one it wants retried it returns
        as ``Again(error=...)``. ``before_retry(outcome, delay)`` runs when the policy allows
        a retry, before its wait, and may still settle the outcome (see :class:`Verdict`).
        """
        self.started = self.clock()
        n = 0
        while True:
            self.attempts = n + 1
            outcome = await attempt(n)
            if not isinstance(outcome, Again):
                return outcome
            delay = self.policy.delay(n, outcome.retry_after, self.rand)
            verdict = Verdict.GIVE_UP
            if self.policy.permits(n, self.elapsed(), delay, self.idempotent):
                verdict = (
                    Verdict.RETRY if before_retry is None else await before_retry(outcome, delay)
                )
            if verdict is not Verdict.RETRY:
                if outcome.error is not None and verdict is Verdict.GIVE_UP:
                    raise outcome.error
                return outcome.value  # type: ignore[return-value]  # T may include None
            n += 1
            await self.sleep(delay)
