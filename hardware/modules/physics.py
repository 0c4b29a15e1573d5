"""The physical model of the hardware modules: how fast they heat, cool, move and spin.

Simulated modules (``hardware.modules.simulated``) and the emulator's firmware twins
use these figures, so a simulation and an emulated run take the time a real module
would. Temperatures in °C, heights in mm, speeds in rpm, times in s.

Where the figures come from (Opentrons' published module specifications; where a data
sheet gives a time for a span, the rate is that span over that time, rounded):

- Thermocycler (GEN1 and GEN2 product specifications): block 4-99 °C, maximum block
  heating rate 4 °C/s, maximum cooling rate 2 °C/s; heated lid 37-110 °C (its heating
  rate is not published: the lid takes a few minutes from room temperature to 105 °C,
  modelled as 0.3 °C/s, passive cooling 0.1 °C/s); the lid opens or closes in about
  20 s (an estimate from the module's demonstration videos, not a published figure).
- Temperature module GEN2 (product specification): 4-95 °C; heating from room
  temperature to 95 °C takes about 10 minutes (0.12 °C/s), cooling from room
  temperature to 4 °C about 10 minutes (0.035 °C/s): the Peltier cools far slower
  than it heats. GEN1 is modelled the same.
- Magnetic module (GEN1 and GEN2 product specifications): the magnets travel 0-25 mm
  above their home (GEN2) and 0-45 half-millimetres (GEN1, the same span); the travel
  speed is not published: modelled at 10 mm/s (so an engage from home takes about 2 s,
  as the module does).
- Heater-Shaker (product specification and the API reference): 37-95 °C as specified
  (the reference's API takes targets from 0 °C from apiLevel 2.25), heating only (no
  active cooling: it cools passively, to room temperature at the lowest), heats from
  room temperature to 95 °C in under 10 minutes (0.12 °C/s), passive cooling 0.03 °C/s;
  shakes 200-3000 rpm,
  reaching speed and stopping "in a few seconds" (the API reference): modelled at
  1000 rpm/s; the labware latch opens or closes in about 2 s.

``Ramp.low_c``/``high_c`` are the targets a module accepts, which can be wider than its
published working range (the reference's API accepts a temperature module target of
0-99 °C and a lid target below 37 °C, which the lid, heating only, reaches by cooling).

A temperature counts as reached within ``TOLERANCE_C`` of its target (the firmware's
own margin is about this).
"""

from __future__ import annotations

from ..frozen import Frozen

AMBIENT_C = 23.0
"""Room temperature: where an idle module sits (the reference's simulation reports 23)."""
TOLERANCE_C = 0.5
"""How close to its target a temperature counts as reached."""


class Ramp(Frozen):
    """How fast one heater heats and cools, and its range; ``heats_only``: it has no
    active cooling, so it gets no colder than the room whatever its target."""

    __slots__ = ("cool_c_per_s", "heat_c_per_s", "heats_only", "high_c", "low_c",
                 "passive_c_per_s")

    heat_c_per_s: float
    cool_c_per_s: float
    passive_c_per_s: float
    """How fast it drifts back to room temperature when switched off."""
    low_c: float
    high_c: float
    heats_only: bool

    def __init__(self, heat_c_per_s: float, cool_c_per_s: float, passive_c_per_s: float,
                 low_c: float, high_c: float, heats_only: bool = False) -> None:
        object.__setattr__(self, "heat_c_per_s", heat_c_per_s)
        object.__setattr__(self, "cool_c_per_s", cool_c_per_s)
        object.__setattr__(self, "passive_c_per_s", passive_c_per_s)
        object.__setattr__(self, "low_c", low_c)
        object.__setattr__(self, "high_c", high_c)
        object.__setattr__(self, "heats_only", heats_only)

    def rate(self, start: float, target: float, *, limit: float | None = None) -> float:
        """The rate (°C/s, positive) from ``start`` toward ``target``, capped at ``limit``."""
        rate = self.heat_c_per_s if target >= start else self.cool_c_per_s
        return min(rate, limit) if limit is not None and limit > 0 else rate

    def duration(self, start: float, target: float, *, limit: float | None = None) -> float:
        """Seconds from ``start`` to ``target``."""
        return abs(target - start) / self.rate(start, target, limit=limit)


THERMOCYCLER_BLOCK = Ramp(heat_c_per_s=4.0, cool_c_per_s=2.0, passive_c_per_s=0.1,
                          low_c=0.0, high_c=99.0)
THERMOCYCLER_LID = Ramp(heat_c_per_s=0.3, cool_c_per_s=0.1, passive_c_per_s=0.1,
                        low_c=0.0, high_c=110.0)
TEMPERATURE_MODULE = Ramp(heat_c_per_s=0.12, cool_c_per_s=0.035, passive_c_per_s=0.035,
                          low_c=-9.0, high_c=99.0)
HEATER_SHAKER = Ramp(heat_c_per_s=0.12, cool_c_per_s=0.03, passive_c_per_s=0.03,
                     low_c=0.0, high_c=95.0, heats_only=True)

LID_TRAVEL_S = 20.0
"""Thermocycler lid: open to closed or back."""
LATCH_TRAVEL_S = 2.0
"""Heater-shaker labware latch: open to closed or back."""
MAGNET_SPEED_MM_S = 10.0
"""Magnetic module: magnet travel speed."""
MAGNET_MAX_HEIGHT_MM = 25.0
"""Magnetic module: highest magnet position above its home (GEN2; GEN1 in half-mm: 45)."""
SHAKER_ACCEL_RPM_S = 1000.0
"""Heater-shaker: spin-up and spin-down."""
SHAKER_MIN_RPM = 200.0
SHAKER_MAX_RPM = 3000.0


def magnet_travel_s(start_mm: float, end_mm: float) -> float:
    """Seconds the magnets take from ``start_mm`` to ``end_mm``."""
    return abs(end_mm - start_mm) / MAGNET_SPEED_MM_S


def shaker_ramp_s(start_rpm: float, end_rpm: float) -> float:
    """Seconds the shaker takes from ``start_rpm`` to ``end_rpm``."""
    return abs(end_rpm - start_rpm) / SHAKER_ACCEL_RPM_S


class Track:
    """One heater on a clock: where it was at ``since``, where it is heading, how fast.

    A track is linear between setpoints, which is how the published rates are quoted;
    ``temperature(now)`` and ``reached_at()`` are exact on that model, so a simulated
    wait sleeps exactly until the target is reached.
    """

    def __init__(self, ramp: Ramp, now: float, start: float = AMBIENT_C) -> None:
        self.ramp = ramp
        self.since = now
        self.start = start
        self.target: float | None = None
        self.limit: float | None = None

    def set_target(self, now: float, target: float | None, *,
                   limit: float | None = None) -> None:
        """Head for ``target`` from wherever it is now (None: switched off, drifting to
        room temperature); ``limit`` caps the rate (°C/s)."""
        self.start = self.temperature(now)
        self.since = now
        self.target = target
        self.limit = limit

    def goal(self) -> float:
        """Where it is heading: its target (room temperature when switched off, or when a
        heater with no cooling is set below it)."""
        if self.target is None or (self.ramp.heats_only and self.target < AMBIENT_C):
            return AMBIENT_C
        return self.target

    def _goal(self) -> tuple[float, float]:
        goal = self.goal()
        if self.target is None:
            return goal, self.ramp.passive_c_per_s
        return goal, self.ramp.rate(self.start, goal, limit=self.limit)

    def reached_at(self) -> float:
        """The clock time at which it reaches its goal (target, or room temperature)."""
        goal, rate = self._goal()
        return self.since + abs(goal - self.start) / rate

    def passes_at(self, temperature: float) -> float:
        """The clock time at which, on its way to its goal, it is at ``temperature``:
        ``since`` if it started there or beyond it, ``reached_at()`` if the goal falls
        short of it."""
        goal, rate = self._goal()
        if (goal - self.start) * (temperature - self.start) <= 0:
            return self.since
        if abs(temperature - self.start) >= abs(goal - self.start):
            return self.reached_at()
        return self.since + abs(temperature - self.start) / rate

    def temperature(self, now: float) -> float:
        """Its temperature at ``now``."""
        goal, rate = self._goal()
        if now >= self.reached_at():  # judged in time, as a wait until then ends: the
            return goal  # distance covered by then can fall a rounding short of the goal
        step = rate * max(0.0, now - self.since)
        return self.start + step if goal > self.start else self.start - step

    def status(self, now: float) -> str:
        """``idle``, ``heating``, ``cooling`` or ``holding at target``."""
        if self.target is None:
            return "idle"
        current, goal = self.temperature(now), self.goal()
        if abs(current - goal) <= TOLERANCE_C:
            return "holding at target"
        return "heating" if goal > current else "cooling"
