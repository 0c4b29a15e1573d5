"""Thermocycler profiles, run on the host side as the real thermocycler's host software does.

A profile is a list of steps (a block temperature and a hold time) repeated a number
of times. The module's firmware only knows one setpoint at a time, so the host walks
the steps: set the block temperature with its hold time, wait until it is reached and
held, next step. ``run_profile`` does exactly that through a ``Device``'s
``set_block_temperature`` and ``wait_for_block_temperature`` calls, so any
thermocycler device (the serial driver) can run a profile in a task of its own while
the run goes on or is paused. ``ProfileProgress`` says where it is.

``ProfilePlan`` computes the same walk ahead of time from the physical model (a
schedule of step boundaries on the clock): a simulated thermocycler answers its status
and its waits from it without a task, which the virtual clock needs (it has one
timeline: a background task cannot sleep on it).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .. import aio
from ..frozen import Frozen
from .physics import Ramp


class ProfileStep(Frozen):
    """One step: the block temperature and how long to hold it once reached."""

    __slots__ = ("celsius", "hold_time_s")

    celsius: float
    hold_time_s: float

    def __init__(self, celsius: float, hold_time_s: float) -> None:
        object.__setattr__(self, "celsius", celsius)
        object.__setattr__(self, "hold_time_s", hold_time_s)

    @classmethod
    def from_mapping(cls, step: Mapping[str, Any]) -> ProfileStep:
        """From the device vocabulary's ``{"celsius", "hold_time_s"}``."""
        return cls(celsius=float(step["celsius"]), hold_time_s=float(step["hold_time_s"]))


class PlannedStep(Frozen):
    """One step of one cycle on the clock: reached at ``reached``, done at ``end``."""

    __slots__ = ("celsius", "cycle", "end", "reached", "start", "step")

    cycle: int  # 1-based
    step: int  # 1-based
    celsius: float
    start: float
    reached: float
    end: float

    def __init__(self, cycle: int, step: int, celsius: float, start: float, reached: float,
                 end: float) -> None:
        object.__setattr__(self, "cycle", cycle)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "celsius", celsius)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "reached", reached)
        object.__setattr__(self, "end", end)


class ProfilePlan:
    """Every step of every cycle of a profile on the clock, from ``start`` at
    ``start_celsius`` (the block ramps at its full rate, then holds).

    The first cycle starts from the block's temperature, every later one from the last
    step's, so the later cycles all take the same time: the plan keeps two cycles and
    works out any other, and a profile of a hundred million cycles costs what one of two
    does. An empty plan (no steps) is false.
    """

    def __init__(self, ramp: Ramp, start_celsius: float, steps: Sequence[ProfileStep],
                 repetitions: int, start: float) -> None:
        self.repetitions = repetitions if steps else 0
        self.start_celsius = start_celsius
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
        reached = now + ramp.duration(celsius, step.celsius)
        end = reached + step.hold_time_s
        planned.append(PlannedStep(cycle, index, step.celsius, now, reached, end))
        now, celsius = end, step.celsius
    return planned


def _shifted(step: PlannedStep, cycle: int, periods: int, period: float) -> PlannedStep:
    if periods == 0:
        return step
    shift = periods * period
    return PlannedStep(cycle, step.step, step.celsius, step.start + shift,
                       step.reached + shift, step.end + shift)


class ProfileDevice(Protocol):
    """What ``run_profile`` needs of a thermocycler device."""

    async def call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]: ...


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


async def run_profile(device: ProfileDevice, progress: ProfileProgress, *,
                      volume_ul: float | None = None) -> None:
    """Walk ``progress``'s steps on ``device`` (its clock paces the holds); sets
    ``progress.done`` at the end, also when cancelled or failed (``progress.error``)."""
    try:
        for cycle in range(1, progress.repetitions + 1):
            for index, step in enumerate(progress.steps, start=1):
                progress.cycle, progress.step = cycle, index
                await device.call("set_block_temperature", {
                    "celsius": step.celsius, "hold_time_s": step.hold_time_s,
                    "volume_ul": volume_ul, "ramp_rate": None})
                await device.call("wait_for_block_temperature", {})
    except Exception as error:  # the device failed: the waiter hears of it
        progress.error = error
        raise
    finally:
        progress.done.set()
