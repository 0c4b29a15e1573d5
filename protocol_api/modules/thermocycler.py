"""``ThermocyclerContext``: a heated block under a motorised, heated lid; profiles.

On the OT-2 the thermocycler sits in slot 7 and covers 8, 10 and 11. While its lid is
not open the pipettes may not go to its labware (the run fails before that move); from
apiLevel 2.14, as in Opentrons, nor before the protocol has opened it. A block ramp rate
goes to a GEN2 (``M104 ... R``); Opentrons' GEN1 driver drops it, so a GEN1's block ramps
at its full rate, which the run log warns of. A profile step's ramp rate is checked, but
the profile command carries none yet: the run log says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine import commands as c

from ..steps import api_step
from .base import ModuleContext, ModuleError, ModuleGeometry, check_number, check_range

BLOCK_C = (0.0, 99.0)
LID_C = (0.0, 110.0)  # before apiLevel 2.14 Opentrons takes a lid target below 37 °C
LID_C_FROM_2_14 = (37.0, 110.0)  # from 2.14 it refuses one, as the lid heats from 37 °C
MAX_VOLUME_UL = 100.0
MAX_HEATING_RAMP = 4.25
MAX_COOLING_RAMP = 2.0
"""The fastest block ramps (°C/s) Opentrons takes from apiLevel 2.14, heating and cooling."""
ENGINE_RULES_API = (2, 14)
"""From this apiLevel (Opentrons' protocol engine) the lid must be known open before the
pipettes go in, and a lid target is 37-110 °C."""


class ThermocyclerContext(ModuleContext):
    """A thermocycler, as in the Opentrons API."""

    _lid: str | None = None  # as the protocol last set it; None before it moved the lid
    _hold_s: float | None = None
    _ramp: float | None = None
    _profile: tuple[int, int] | None = None  # steps, repetitions of the last profile
    _block_target: float | None = None  # as the protocol last set it

    # -- lid ----------------------------------------------------------------------------

    @api_step("open_lid")
    def open_lid(self) -> str:
        """Open the lid; returns its position."""
        self._move_pipettes_away(self.id, None, gantry=True)  # out of the lid's way, as an OT-2
        self._call(c.OpenLid(self.id))
        self._lid = "open"
        return self._lid

    @api_step("close_lid")
    def close_lid(self) -> str:
        """Close the lid; returns its position."""
        self._move_pipettes_away(self.id, None, gantry=True)  # out of the lid's way, as an OT-2
        self._call(c.CloseLid(self.id))
        self._lid = "closed"
        return self._lid

    @property
    def lid_position(self) -> str:
        """``open``, ``closed`` or ``in_between`` (``open`` until the protocol moves it)."""
        return self._lid or "open"

    def _geometry(self) -> ThermocyclerGeometry:
        return ThermocyclerGeometry(self)

    @property
    def lid_known_open(self) -> bool:
        """Whether the pipettes may go to the labware inside: the protocol has opened the
        lid, or has not moved it before apiLevel 2.14 (from 2.14 Opentrons does not know
        it open until then)."""
        if self._lid is None:
            return self._api_version < ENGINE_RULES_API
        return self._lid == "open"

    def _check_hand_access(self) -> None:
        if self._lid != "open":
            self._refuse_hands("lid", self._lid == "closed", "open_lid")

    @api_step("set_lid_temperature")
    def set_lid_temperature(self, temperature: float) -> None:
        """Heat the lid to ``temperature`` and wait until it is there."""
        lid = LID_C_FROM_2_14 if self._api_version >= ENGINE_RULES_API else LID_C
        celsius = check_range("set_lid_temperature: temperature", temperature, *lid, "°C")
        self._call(c.SetTargetLidTemperature(self.id, celsius))
        self._call(c.WaitForLidTemperature(self.id))

    @api_step("deactivate_lid")
    def deactivate_lid(self) -> None:
        """Switch the lid heater off."""
        self._call(c.DeactivateLid(self.id))

    # -- block --------------------------------------------------------------------------

    @api_step("set_block_temperature")
    def set_block_temperature(self, temperature: float, hold_time_seconds: float | None = None,
                              hold_time_minutes: float | None = None,
                              ramp_rate: float | None = None,
                              block_max_volume: float | None = None) -> None:
        """Bring the block to ``temperature``, hold it there for the hold time, then
        return (the block keeps the temperature)."""
        celsius = check_range("set_block_temperature: temperature", temperature, *BLOCK_C, "°C")
        hold = _hold("set_block_temperature", hold_time_seconds, hold_time_minutes,
                     required=False)
        volume = _volume("set_block_temperature", block_max_volume)
        if ramp_rate is not None:
            ramp_rate = self._check_ramp("set_block_temperature: ramp_rate", ramp_rate,
                                         celsius)
        self._hold_s, self._ramp, self._block_target = hold, ramp_rate, celsius
        self._call(c.SetTargetBlockTemperature(self.id, celsius, hold, volume, ramp_rate))
        if ramp_rate is not None:
            self._warn_gen1_ramp("set_block_temperature")
        self._call(c.WaitForBlockTemperature(self.id))

    @api_step("execute_profile")
    def execute_profile(self, steps: Sequence[Mapping[str, Any]], repetitions: int,
                        block_max_volume: float | None = None) -> None:
        """Run ``steps`` (each a ``temperature`` and a ``hold_time_seconds`` or
        ``hold_time_minutes``) ``repetitions`` times; returns when it is done."""
        if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 1:
            raise ModuleError(f"execute_profile: repetitions must be a whole number of at "
                              f"least 1, not {repetitions!r}")
        if not isinstance(steps, Sequence) or isinstance(steps, str):
            raise ModuleError("execute_profile: steps must be a list of steps")
        planned: list[tuple[float, float]] = []
        ramps = False
        for index, step in enumerate(steps, start=1):
            if not isinstance(step, Mapping):
                raise ModuleError(f"execute_profile: step {index} must be a dict like "
                                  '{"temperature": 95, "hold_time_seconds": 10}, not '
                                  f"{step!r}"[:300])
            if "temperature" not in step:
                raise ModuleError(f"execute_profile: step {index} must give a temperature, "
                                  'as in {"temperature": 95, "hold_time_seconds": 10}')
            celsius = check_range(f"execute_profile: step {index}'s temperature",
                                  step["temperature"], *BLOCK_C, "°C")
            hold = _hold(f"execute_profile: step {index}", step.get("hold_time_seconds"),
                         step.get("hold_time_minutes"), required=True)
            if step.get("ramp_rate") is not None:  # checked; the block ramps as it can
                self._check_ramp(f"execute_profile: step {index}'s ramp_rate",
                                 step["ramp_rate"], celsius)
                ramps = True
            planned.append((celsius, hold or 0.0))
        volume = _volume("execute_profile", block_max_volume)
        if ramps and self._spec.model == "thermocyclerModuleV1":
            self._warn_gen1_ramp("execute_profile")
        elif ramps:  # the profile command carries temperatures and holds only
            self._steps.warn("execute_profile: a step's ramp_rate is checked but not sent: "
                             "the block ramps at its full rate (Opentrons sends it to a "
                             "GEN2)")
        self._profile = (len(planned), repetitions)  # the block's target stays as it was
        self._call(c.RunProfile(self.id, tuple(planned), repetitions, volume))

    def _warn_gen1_ramp(self, op: str) -> None:
        if self._spec.model == "thermocyclerModuleV1":
            self._steps.warn(f"{op}: a Thermocycler Module GEN1 takes no ramp rate "
                             "(Opentrons' driver sends it none): the block ramps at its "
                             "full rate")

    def _check_ramp(self, what: str, rate: object, celsius: float) -> float:
        """A block ramp rate: from apiLevel 2.14, as Opentrons, above 0 and at most what
        the block does heating or cooling from the target ``set_block_temperature`` set
        last (a profile leaves it); with no target set, none is taken."""
        if self._api_version < ENGINE_RULES_API:
            return check_range(what, rate, 0.0, 1e3, "°C/s")
        value = check_number(what, rate, "°C/s")
        start = self._block_target
        if start is None:
            raise ModuleError(f"{what}: the block has no target temperature yet (none set, or "
                              "deactivated since), and from apiLevel 2.14 Opentrons takes a "
                              "ramp rate only from one: set the temperature once without a "
                              "ramp_rate first")
        heating = celsius > start
        limit = MAX_HEATING_RAMP if heating else MAX_COOLING_RAMP
        if not 0 < value <= limit:
            raise ModuleError(
                f"{what} must be above 0 and at most {limit:g} °C/s "
                f"{'heating' if heating else 'cooling'} (to {celsius:g} °C from "
                f"{start:g} °C): the thermocycler ramps at most {MAX_HEATING_RAMP:g} °C/s "
                f"heating and {MAX_COOLING_RAMP:g} °C/s cooling; not {value:g}")
        return value

    @api_step("deactivate_block")
    def deactivate_block(self) -> None:
        """Switch the block's temperature control off (and forget the last profile)."""
        self._block_target, self._profile = None, None
        self._call(c.DeactivateBlock(self.id))

    @api_step("deactivate")
    def deactivate(self) -> None:
        """Switch the block and the lid heater off (and forget the last profile)."""
        self._block_target, self._profile = None, None
        self._call(c.DeactivateThermocycler(self.id))

    # -- readings ---------------------------------------------------------------------

    @property
    def block_temperature(self) -> float | None:
        """The block's temperature now, °C (room temperature before any call)."""
        return _number(self._reading("block_temperature", 23.0))  # room, before any call

    @property
    def block_target_temperature(self) -> float | None:
        """The temperature the block is heading for or holding, °C; None without one."""
        return _number(self._reading("block_target"))

    @property
    def block_temperature_status(self) -> str:
        """``idle``, ``heating``, ``cooling`` or ``holding at target``."""
        status = str(self._reading("status", "idle"))
        return "holding at target" if status == "running profile" else status

    @property
    def lid_temperature(self) -> float | None:
        """The lid's temperature now, °C (room temperature before any call)."""
        return _number(self._reading("lid_temperature", 23.0))

    @property
    def lid_target_temperature(self) -> float | None:
        """The temperature the lid is heading for or holding, °C; None without one."""
        return _number(self._reading("lid_target"))

    @property
    def lid_temperature_status(self) -> str:
        """``idle``, ``heating``, ``cooling`` or ``holding at target`` (within 0.5 °C)."""
        target, current = self.lid_target_temperature, self.lid_temperature
        if target is None or current is None:
            return "idle"
        if abs(target - current) <= 0.5:
            return "holding at target"
        return "heating" if target > current else "cooling"

    @property
    def hold_time(self) -> float | None:
        """Seconds left of the current hold; None while the block has no target (as
        Opentrons' module reports no hold then)."""
        if self._reading("block_target") is None:
            return None
        return _number(self._reading("hold_time_left_s"))

    @property
    def ramp_rate(self) -> float | None:
        """The block's ramp rate last asked for, °C/s; None: as fast as it goes."""
        return self._ramp

    @property
    def total_step_count(self) -> int | None:
        """The number of steps of the profile last run; None before any."""
        return self._profile[0] if self._profile else None

    @property
    def total_cycle_count(self) -> int | None:
        """The number of cycles of the profile last run; None before any."""
        return self._profile[1] if self._profile else None

    @property
    def current_step_index(self) -> int | None:
        """The step (from 1) the running profile is at; once it is done, its last step
        (as Opentrons' module keeps it), until the block is deactivated."""
        step = self._reading("profile_step")
        if step is not None:
            return int(step)
        return self._profile[0] if self._profile and self._profile[0] else None

    @property
    def current_cycle_index(self) -> int | None:
        """The repetition (from 1) the running profile is at; once it is done, its last
        one, until the block is deactivated."""
        cycle = self._reading("profile_cycle")
        if cycle is not None:
            return int(cycle)
        return self._profile[1] if self._profile and self._profile[0] else None


def _hold(what: str, seconds: object, minutes: object, *, required: bool) -> float | None:
    if seconds is None and minutes is None:
        if required:
            raise ModuleError(f"{what} must give hold_time_seconds or hold_time_minutes")
        return None
    total = 0.0
    for name, value, scale, unit in (("hold_time_seconds", seconds, 1.0, "s"),
                                     ("hold_time_minutes", minutes, 60.0, "min")):
        if value is not None:
            total += check_range(f"{what}: {name}", value, 0.0, 1e9, unit) * scale
    return total


def _volume(what: str, volume: object) -> float | None:
    if volume is None:
        return None
    return check_range(f"{what}: block_max_volume", volume, 0.0, MAX_VOLUME_UL, "µL")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


class ThermocyclerGeometry(ModuleGeometry):
    """A thermocycler's ``geometry`` (apiLevel below 2.14): also its lid and its slots."""

    __slots__ = ("_thermocycler",)

    def __init__(self, module: ThermocyclerContext) -> None:
        super().__init__(module)
        self._thermocycler = module

    @property
    def lid_status(self) -> str:
        """``open`` or ``closed``, as the protocol last moved the lid."""
        return self._thermocycler.lid_position

    @property
    def covered_slots(self) -> set[int]:
        """The deck slots it takes: 7, 8, 10 and 11 (7 and 10 in the semi configuration)."""
        return {int(slot) for slot in self._thermocycler.slots}
