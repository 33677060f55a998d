"""InFlight: the bound stays on a near link, grows with the round trip on a far one (capped),
only when the user set none, and goes back to the base on a 429."""

from __future__ import annotations

import asyncio

from mplat.registry.inflight import MAX_IN_FLIGHT, SAMPLES, SKIP_ANSWERS, InFlight


def _feed(bound: InFlight, seconds: float, *, first: float | None = None) -> None:
    for i in range(SKIP_ANSWERS + SAMPLES):
        bound.answered(first if first is not None and i < SKIP_ANSWERS else seconds)


async def _peak(bound: InFlight, tasks: int) -> int:
    """The most requests inside the bound at once, with ``tasks`` trying."""
    inside = peak = 0

    async def one() -> None:
        nonlocal inside, peak
        async with bound:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(tasks)))
    return peak


def test_a_near_link_keeps_the_base() -> None:
    async def main() -> None:
        bound = InFlight(8, adaptive=True)
        _feed(bound, 0.001, first=0.05)  # Slow handshakes first: not counted.
        assert bound.limit == 8
        assert bound.rtt == 0.001
        assert await _peak(bound, 40) == 8

    asyncio.run(main())


def test_a_far_link_raises_the_bound_in_proportion_capped() -> None:
    async def main() -> None:
        bound = InFlight(8, adaptive=True)
        _feed(bound, 0.020)
        assert bound.limit == 32
        assert await _peak(bound, 100) == 32
        far = InFlight(8, adaptive=True)
        _feed(far, 0.5)
        assert far.limit == MAX_IN_FLIGHT

    asyncio.run(main())


def test_the_quickest_answer_is_the_round_trip_and_it_is_fitted_once() -> None:
    async def main() -> None:
        bound = InFlight(8, adaptive=True)
        for i in range(SKIP_ANSWERS + SAMPLES):
            bound.answered(0.010 if i == SKIP_ANSWERS + 3 else 0.2)
        assert bound.rtt == 0.010
        assert bound.limit == 16
        _feed(bound, 1.0)  # Later answers change nothing.
        assert bound.limit == 16

    asyncio.run(main())


def test_a_bound_the_user_set_never_moves() -> None:
    async def main() -> None:
        bound = InFlight(4)
        _feed(bound, 0.1)
        assert bound.limit == 4
        assert bound.rtt is None
        assert await _peak(bound, 20) == 4

    asyncio.run(main())


def test_a_429_goes_back_to_the_base_for_good() -> None:
    async def main() -> None:
        bound = InFlight(8, adaptive=True)
        _feed(bound, 0.020)
        assert await _peak(bound, 64) == 32
        bound.throttled()
        assert bound.limit == 8
        # The permits above the base are swallowed as they come back.
        assert await _peak(bound, 64) <= 32
        assert await _peak(bound, 64) == 8
        early = InFlight(8, adaptive=True)
        early.throttled()
        _feed(early, 0.1)
        assert early.limit == 8

    asyncio.run(main())
