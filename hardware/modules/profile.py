"""Thermocycler profiles, run on the host side as the real thermocycler's host software does.

A profile is a list of steps (a block temperature, a hold time and, if given, a ramp
rate) repeated a number of times. The module's firmware only knows one setpoint at a
time, so the host walks the steps: set the block temperature with its hold time, wait
until it is reached and held, next step. ``run_profile`` does exactly that through the
two block calls it is given, so a thermocycler driver (the serial one) can run a profile
in a task of its own while the run goes on or is paused. ``ProfileProgress`` says where
it is.

``ProfilePlan`` computes the same walk ahead of time from the physical model (a
schedule of step boundaries on the clock): a simulated thermocycler answers its status
and its waits from it without a task, which the virtual clock needs (it has one
timeline: a background task cannot sleep on it).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .. import aio
from ..frozen import Frozen
from .physics import Ramp


class ProfileStep(Frozen):
    """One step: the block temperature, how long to hold it once reached, and the ramp
    rate to it (°C/s; None: as fast as the block goes)."""

    __slots__ = ("celsius", "hold_time_s", "ramp_rate")

    celsius: float
    hold_time_s: float
    ramp_rate: float | None

    def __init__(self, celsius: float, hold_time_s: float,
                 ramp_rate: float | None = None) -> None:
        object.__setattr__(self, "celsius", celsius)
        object.__setattr__(self, "hold_time_s", hold_time_s)
        object.__setattr__(self, "ramp_rate", ramp_rate)

    @classmethod
    def from_mapping(cls, step: Mapping[str, Any]) -> ProfileStep:
        """From the device vocabulary's ``{"celsius", "hold_time_s"[, "ramp_rate"]}``."""
        rate = step.get("ramp_rate")
        return cls(celsius=float(step["celsius"]), hold_time_s=float(step["hold_time_s"]),
                   ramp_rate=float(rate) if rate else None)


class PlannedStep(Frozen):
    """One step of one cycle on the clock: reached at ``reached``, done at ``end``; the
    block ramps to it at ``ramp_rate`` (None: its full rate)."""

    __slots__ = ("celsius", "cycle", "end", "ramp_rate", "reached", "start", "step")

    cycle: int  # 1-based
    step: int  # 1-based
    celsius: float
    start: float
    reached: float
    end: float
    ramp_rate: float | None

    def __init__(self, cycle: int, step: int, celsius: float, start: float, reached: float,
                 end: float, ramp_rate: float | None = None) -> None:
        object.__setattr__(self, "cycle", cycle)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "celsius", celsius)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "reached", reached)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "ramp_rate", ramp_rate)


class ProfilePlan:
    """Every step of every cycle of a profile on the clock, from ``start`` at
    ``start_celsius`` (the block ramps at the step's ramp rate, else at its full rate,
    then holds; ``ramp_rates=False``: always at its full rate).

    The first cycle starts from the block's temperature, every later one from the last
    step's, so the later cycles all take the same time: the plan keeps two cycles and
    works out any other, and a profile of a hundred million cycles costs what one of two
    does. An empty plan (no steps) is false.
    """

    def __init__(self, ramp: Ramp, start_celsius: float, steps: Sequence[ProfileStep],
                 repetitions: int, start: float, *, ramp_rates: bool = True) -> None:
        self.repetitions = repetitions if steps else 0
        self.start_celsius = start_celsius
        if not ramp_rates:
            steps = [ProfileStep(step.celsius, step.hold_time_s) for step in steps]
        self._first = _cycle(ramp, start_celsius, steps, 1, start)
        self._later: list[PlannedStep] = []
        self._period = 0.0
        if steps and repetitions > 1:
            self._later = _cycle(ramp, steps[-1].celsius, steps, 2, self._first[-1].end)
            self._period = self._later[-1].end - self._later[0].start
        # Where each step of the two cycles ends, for a bisection (the later cycle's as
        # offsets into it, the same in every cycle).
        self._first_ends = [step.end for step in self._first]
        self._later_ends = [step.end - self._later[0].start for step in self._later]

    def __bool__(self) -> bool:
        return self.repetitions > 0

    @property
    def last(self) -> PlannedStep:
        """The last step of the last cycle (the plan must not be empty)."""
        if self.repetitions == 1:
            return self._first[-1]
        return _shifted(self._later[-1], self.repetitions, self.repetitions - 2, self._period)

    @property
    def end(self) -> float:
        """When the last step's hold ends."""
        return self.last.end

    def at(self, now: float) -> tuple[PlannedStep, float] | None:
        """The step running at ``now`` and the block temperature it started from (None
        before the start or after the end)."""
        if not self or now < self._first[0].start or now >= self.end:
            return None
        if now < self._first[-1].end:
            index = bisect.bisect_right(self._first_ends, now)
            before = self._first[index - 1].celsius if index else self.start_celsius
            return self._first[index], before
        later_start = self._later[0].start
        cycles = min(int((now - later_start) // self._period), self.repetitions - 2)
        shift = cycles * self._period
        index = bisect.bisect_right(self._later_ends, now - later_start - shift)
        index = min(index, len(self._later) - 1)
        before = self._later[index - 1].celsius if index else self._later[-1].celsius
        return _shifted(self._later[index], cycles + 2, cycles, self._period), before


def _cycle(ramp: Ramp, celsius: float, steps: Sequence[ProfileStep], cycle: int,
           now: float) -> list[PlannedStep]:
    planned = []
    for index, step in enumerate(steps, start=1):
        reached = now + ramp.duration(celsius, step.celsius, limit=step.ramp_rate)
        end = reached + step.hold_time_s
        planned.append(PlannedStep(cycle, index, step.celsius, now, reached, end,
                                   step.ramp_rate))
        now, celsius = end, step.celsius
    return planned


def _shifted(step: PlannedStep, cycle: int, periods: int, period: float) -> PlannedStep:
    if periods == 0:
        return step
    shift = periods * period
    return PlannedStep(cycle, step.step, step.celsius, step.start + shift,
                       step.reached + shift, step.end + shift, step.ramp_rate)


SetBlock = Callable[[Mapping[str, Any]], Awaitable[object]]
"""A thermocycler's ``set_block_temperature`` (its params: ``celsius``, ``hold_time_s``,
``volume_ul``, ``ramp_rate``)."""
WaitBlock = Callable[[], Awaitable[object]]
"""A thermocycler's wait until its block has reached its target and held it."""


class ProfileProgress:
    """Where a host-side profile is: its current cycle and step, and whether it is done."""

    def __init__(self, steps: Sequence[ProfileStep], repetitions: int) -> None:
        self.steps = list(steps)
        self.repetitions = repetitions
        self.cycle = 0
        self.step = 0
        self.done = aio.Event()
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        return not self.done.is_set()


async def run_profile(set_block: SetBlock, wait_block: WaitBlock, progress: ProfileProgress,
                      *, volume_ul: float | None = None) -> None:
    """Walk ``progress``'s steps with ``set_block`` and ``wait_block`` (the module's clock
    paces the holds); sets ``progress.done`` at the end, also when cancelled or failed
    (``progress.error``)."""
    try:
        for cycle in range(1, progress.repetitions + 1):
            for index, step in enumerate(progress.steps, start=1):
                progress.cycle, progress.step = cycle, index
                await set_block({"celsius": step.celsius, "hold_time_s": step.hold_time_s,
                                 "volume_ul": volume_ul, "ramp_rate": step.ramp_rate})
                await wait_block()
    except Exception as error:  # the device failed: the waiter hears of it
        progress.error = error
        raise
    finally:
        progress.done.set()
