"""Clocks: real time for robots, virtual time for simulation.

A ``VirtualClock`` has one timeline. Whoever consumes time (a move, a delay) calls
``sleep_until``; the clock jumps forward at once, firing any timer whose deadline
falls on the way, in deadline order. A timer's callback runs in the event loop at
its own instant, so an action it takes (an immediate pause, a door opening) lands
mid-move at exactly that virtual time: the sleeper sees the cancellation with the
clock still reading the timer's instant.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

from . import aio

SPEEDS = (0.01, 10_000.0)
"""The factors a clock may run faster than real time by (``--speed``), both included."""


def speed_problem(speed: float | str) -> str | None:
    """Why ``speed`` (a number, or the text given on a command line) cannot be a clock's
    speed-up (``--speed``), or None."""
    low, high = SPEEDS
    said = f"--speed must be a number from {low:g} to {high:g} (times real time), not"
    try:
        value = float(speed)
    except ValueError:
        return f"{said} {str(speed)[:100]!r}"
    if low <= value <= high:
        return None
    return f"{said} {value:g}"


class Clock(Protocol):
    """What the engine needs to know about time."""

    @property
    def is_virtual(self) -> bool:
        """True when time only advances as the run consumes it."""
        ...

    def now(self) -> float:
        """Seconds since the clock was created."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (at once if it has passed)."""
        ...


class RealClock:
    """Monotonic wall-clock time, optionally running ``speed`` times faster (a rehearsal
    on real time that takes a fraction of the real run)."""

    is_virtual = False

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    async def sleep_until(self, deadline: float) -> None:
        import anyio  # real time: a robot's own loop

        await anyio.sleep(max(0.0, deadline - self.now()) / self.speed)

    def wall(self, seconds: float) -> float:
        """Wall-clock seconds that ``seconds`` of this clock take."""
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock."""
        import anyio

        await anyio.sleep(self.wall(seconds))


class Timer:
    """A callback scheduled on a ``VirtualClock``; ``cancel()`` withdraws it.

    ``holds_pause``: a paused run waits for it (the clock jumps to it) rather than
    continuing by itself; False for what a paused run cannot take (another pause), or a
    function asked whenever a paused run looks for what to wait for (a skip of a delay:
    only while one is on)."""

    __slots__ = ("callback", "cancelled", "deadline", "holds_pause")

    def __init__(self, deadline: float, callback: Callable[[], None], *,
                 holds_pause: bool | Callable[[], bool] = True) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False
        self.holds_pause = holds_pause

    def cancel(self) -> None:
        self.cancelled = True

    def holds(self) -> bool:
        """Whether a paused run waits for this timer now."""
        if self.cancelled:
            return False
        return self.holds_pause() if callable(self.holds_pause) else self.holds_pause


class VirtualClock:
    """Simulated time that advances as moves and delays consume it."""

    is_virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, deadline: float, callback: Callable[[], None], *,
                holds_pause: bool | Callable[[], bool] = True) -> Timer:
        """Run ``callback`` in the event loop when the clock reaches ``deadline``
        (``holds_pause``: see ``Timer``)."""
        timer = Timer(deadline, callback, holds_pause=holds_pause)
        heapq.heappush(self._timers, (deadline, next(self._order), timer))
        return timer

    def next_timer(self) -> float | None:
        """The deadline of the earliest pending timer, if any."""
        self._drop_cancelled()
        return self._timers[0][0] if self._timers else None

    async def sleep_until(self, deadline: float) -> None:
        # No yield to the event loop unless a timer fires: virtual time costs nothing,
        # and a timer's effects are delivered by the checkpoint in ``_fire_next``.
        timers = self._timers
        if not timers or timers[0][0] > deadline:  # the common case: none due by then (a
            if deadline > self._now:  # time limit's, a rehearsed action's, a delay's end
                self._now = deadline  # later, or none)
            return
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0][0] > deadline:
                break
            await self._fire_next()
        if deadline > self._now:
            self._now = deadline

    async def advance_to_next_timer(self) -> bool:
        """Jump to the earliest timer and fire it; False if none that holds a pause
        (``Timer.holds_pause``) is pending.

        Used while nothing consumes time (a paused run) so that scripted
        interventions still happen at their instants.
        """
        self._drop_cancelled()
        if not any(timer.holds() for _, _, timer in self._timers):
            return False
        await self._fire_next()
        return True

    async def _fire_next(self) -> None:
        deadline, _, timer = heapq.heappop(self._timers)
        if deadline > self._now:
            self._now = deadline
        timer.callback()
        # Let the callback's effects (a cancelled scope) reach the sleeper now,
        # while the clock still reads this timer's instant.
        await aio.checkpoint()

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
