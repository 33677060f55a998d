"""How many requests one registry gets in flight at once, fitted to the link when the user
did not say.

Behind a round trip of ``rtt`` seconds, ``k`` requests in flight finish at most ``k / rtt``
per second: a far registry is waited on, not worked. So the default bound (8, which is all
a registry on loopback or in the same data centre needs) is raised once the link's round
trip is known: the quickest of a few answers, after the first ones (which also time the
TCP and TLS handshakes of new connections). Raised in proportion to the round trip, to at
most :data:`MAX_IN_FLIGHT`; never lowered below the base, and back to the base for good on
the first 429 (the registry says it is asked too much).

Measured with benchmarks/wan.py (1000 lists, HTTP/1.1, 2 cores): behind 20 ms the no-op
plan's 4,000 HEADs take 14 s at 8 in flight and about 6.5 s at 32-100; on loopback 4-16 are
the same, so the base stays.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

SKIP_ANSWERS = 8
"""Answers not sampled: the first ones open connections, and time the handshakes too."""
SAMPLES = 16
"""Answers whose quickest is taken as the round trip."""
NEAR_SECONDS = 0.004
"""A link quicker than this (loopback, a data centre) keeps the base bound."""
PER_SECOND_OF_RTT = 1600
"""Requests in flight per second of round trip: 32 behind 20 ms, 16 behind 10 ms."""
MAX_IN_FLIGHT = 64
"""The most the fitted bound reaches (the most ``parallelism`` may be set to)."""


class InFlight:
    """A concurrency bound (``async with``) that can grow once, fitted to the round trip."""

    def __init__(self, base: int, *, adaptive: bool = False) -> None:
        self.base = base
        self.limit = base
        self.rtt: float | None = None
        """The round trip measured, once it is."""
        self._sem = asyncio.Semaphore(base)
        self._adaptive = adaptive
        self._answers = 0
        self._quickest: float | None = None
        self._debt = 0
        """Permits to swallow as they come back, after the bound was lowered."""

    async def __aenter__(self) -> None:
        await self._sem.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._debt:
            self._debt -= 1
        else:
            self._sem.release()

    def answered(self, seconds: float) -> None:
        """One answer came ``seconds`` after its request went out (headers, not body)."""
        if not self._adaptive:
            return
        self._answers += 1
        if self._answers <= SKIP_ANSWERS:
            return
        if self._quickest is None or seconds < self._quickest:
            self._quickest = seconds
        if self._answers >= SKIP_ANSWERS + SAMPLES:
            self._adaptive = False
            self.rtt = self._quickest
            self._fit(self._quickest)

    def _fit(self, rtt: float) -> None:
        if rtt < NEAR_SECONDS:
            return
        target = min(MAX_IN_FLIGHT, max(self.limit, round(rtt * PER_SECOND_OF_RTT)))
        for _ in range(target - self.limit):
            self._sem.release()
        self.limit = target

    def throttled(self) -> None:
        """A 429: stop fitting, and go back to the base bound."""
        self._adaptive = False
        self._debt += self.limit - self.base
        self.limit = self.base
