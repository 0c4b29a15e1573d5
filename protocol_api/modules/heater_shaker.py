"""``HeaterShakerContext``: a heated plate that shakes, with a labware latch.

As on the OT-2: it shakes only once its latch has been closed by the protocol; its
latch does not open while it shakes; it stops shaking only with its latch closed (the
module stops the plate by homing it). Where pipettes may go near it, shaking or with its
latch not closed, is the deck rules' (``rules.ModuleRules``). It heats only: a wait for a
target below room temperature never ends on an OT-2, which labrun warns of and goes on.
Opentrons' heater-shaker has no ``deactivate``: it is refused, naming the two calls.
"""

from __future__ import annotations

from typing import NoReturn

from engine import commands as c
from hardware.modules.physics import AMBIENT_C

from ..api_level import since
from ..deck import neighbours
from ..steps import api_step
from .base import ModuleContext, ModuleError, NoSuchCallError, check_range

LOW_C, HIGH_C = 37.0, 95.0
FOR_EVER = "an OT-2 waits here for ever, labrun went on with the plate at room temperature"
NO_MINIMUM_API = (2, 25)
"""From this apiLevel, as in Opentrons, a target from 0 °C is accepted (before, from 37)."""
LOW_RPM, HIGH_RPM = 200.0, 3000.0
LATCH_CHECK_API = (2, 14)
"""From this apiLevel, as in Opentrons, ``deactivate_shaker`` needs the latch closed by
the protocol (before it, only an open latch is refused, as the module refuses it)."""


class HeaterShakerContext(ModuleContext):
    """A heater-shaker, as in the Opentrons API: it loads at every apiLevel, its calls and
    readings need 2.13."""

    _latch = "idle_unknown"
    _target_rpm = 0.0
    _target_c: float | None = None

    @property
    def shaking(self) -> bool:
        """Whether the plate shakes now (as the protocol set it)."""
        return self._target_rpm > 0

    def _target(self, op: str, celsius: float) -> float:
        """``celsius`` checked (37-95 °C; from apiLevel 2.25, 0-95 °C)."""
        low = 0.0 if self._api_version >= NO_MINIMUM_API else LOW_C
        return check_range(f"{op}: celsius", celsius, low, HIGH_C, "°C")

    def _set_target(self, op: str, target: float, *, waits: bool = False) -> None:
        """Send the target; below room temperature, the run log warns (after the call's
        own command, which names the call) that the plate gets no colder than the room,
        and, when the call ``waits`` for it, that an OT-2 waits there for ever."""
        self._call(c.SetTargetShakerTemperature(self.id, target))
        self._target_c = target
        if target < AMBIENT_C:
            self._steps.warn(f"{op}: {target:g} °C is below room temperature; the "
                             "heater-shaker only heats, so the plate stays at room "
                             "temperature" + (f"; {FOR_EVER}" if waits else ""))

    def _wait(self, op: str) -> None:
        """Wait for the target; one below room temperature is warned of, as never reached
        on an OT-2 (Opentrons' module waits while the plate is warmer than it)."""
        self._call(c.WaitForShakerTemperature(self.id))
        if self._target_c is not None and self._target_c < AMBIENT_C:
            self._steps.warn(f"{op}: the plate never cools to {self._target_c:g} °C, below "
                             f"room temperature, as the heater-shaker only heats; "
                             f"{FOR_EVER}")

    @since(2, 13)
    @api_step("set_target_temperature")
    def set_target_temperature(self, celsius: float) -> None:
        """Set the target and return at once (``wait_for_temperature`` waits)."""
        self._set_target("set_target_temperature",
                         self._target("set_target_temperature", celsius))

    @since(2, 13)
    @api_step("wait_for_temperature")
    def wait_for_temperature(self) -> None:
        """Wait until the plate is at its target (one must be set, as Opentrons requires)."""
        if self._target_c is None:
            raise ModuleError("wait_for_temperature: no target temperature is set; call "
                              "set_target_temperature() first")
        self._wait("wait_for_temperature")

    @since(2, 13)
    @api_step("set_and_wait_for_temperature")
    def set_and_wait_for_temperature(self, celsius: float) -> None:
        """Set the target and wait until the plate is there."""
        self._set_target("set_and_wait_for_temperature",
                         self._target("set_and_wait_for_temperature", celsius), waits=True)
        self._call(c.WaitForShakerTemperature(self.id))

    @since(2, 13)
    @api_step("deactivate_heater")
    def deactivate_heater(self) -> None:
        """Stop heating; the plate drifts back to room temperature."""
        self._call(c.DeactivateHeater(self.id))
        self._target_c = None

    @since(2, 13)
    @api_step("set_and_wait_for_shake_speed")
    def set_and_wait_for_shake_speed(self, rpm: int) -> None:
        """Shake at ``rpm`` (200-3000); returns once at speed. The latch must be closed."""
        speed = float(round(check_range("set_and_wait_for_shake_speed: rpm", rpm, LOW_RPM,
                                        HIGH_RPM, "rpm")))  # whole rpm, as Opentrons sends
        if self._latch == "idle_open":
            raise ModuleError("set_and_wait_for_shake_speed: the labware latch must be closed "
                              "with close_labware_latch() before the plate shakes")
        if self._latch != "idle_closed":  # however the latch stands: as Opentrons refuses
            raise ModuleError("set_and_wait_for_shake_speed: the labware latch must be closed "
                              "with close_labware_latch() before the plate shakes: the "
                              "protocol has not closed it (the module may show it closed; "
                              "until the protocol closes it, its state is unknown)")
        self._move_pipettes_away(self.id, self._slots_around(sideways_only=False))
        self._call(c.SetAndWaitForShakeSpeed(self.id, speed))
        self._target_rpm = speed

    @since(2, 13)
    @api_step("deactivate_shaker")
    def deactivate_shaker(self) -> None:
        """Stop shaking (returns once stopped). The latch must be closed: the module stops
        its plate by homing it, which it refuses with the latch open."""
        if self._latch == "idle_open":
            raise ModuleError("deactivate_shaker: the labware latch is open; close it with "
                              "close_labware_latch() first (the heater-shaker stops and homes "
                              "its plate only with the latch closed)")
        if self._latch != "idle_closed" and self._api_version >= LATCH_CHECK_API:
            raise ModuleError("deactivate_shaker: the protocol has not closed the labware latch "
                              "yet; "
                              "call close_labware_latch() first (from apiLevel 2.14, as in "
                              "Opentrons)")
        self._call(c.DeactivateShaker(self.id))
        self._target_rpm = 0.0

    @since(2, 13)
    @api_step("open_labware_latch")
    def open_labware_latch(self) -> None:
        """Open the latch; refused while the plate shakes."""
        if self.shaking:
            raise ModuleError("open_labware_latch: the plate is shaking; stop it with "
                              "deactivate_shaker() first")
        self._move_pipettes_away(self.id, self._slots_around(sideways_only=True))
        self._call(c.OpenLabwareLatch(self.id))
        self._latch = "idle_open"

    def _check_hand_access(self) -> None:
        if self._latch != "idle_open":
            self._refuse_hands("labware latch", self._latch == "idle_closed",
                               "open_labware_latch")

    def _slots_around(self, *, sideways_only: bool) -> set[str]:
        """Its slot and the slots beside it (and in front and behind it): a pipette there
        is lifted before the plate shakes or the latch opens, as on an OT-2."""
        return {self._slot} | neighbours(self._slot, sideways_only=sideways_only)

    @since(2, 13)
    @api_step("close_labware_latch")
    def close_labware_latch(self) -> None:
        """Close the latch that holds the labware on the plate."""
        self._call(c.CloseLabwareLatch(self.id))
        self._latch = "idle_closed"

    @property
    def deactivate(self) -> NoReturn:
        """Not Opentrons': its heater-shaker has ``deactivate_shaker`` and
        ``deactivate_heater`` only, so a protocol calling this would fail on an OT-2."""
        raise NoSuchCallError("HeaterShakerContext.deactivate: Opentrons' heater-shaker has "
                              "no deactivate(), so this protocol would fail on an OT-2; call "
                              "deactivate_shaker() and deactivate_heater()")

    @property
    @since(2, 13)
    def current_temperature(self) -> float:
        """The plate's temperature now, °C."""
        return float(self._reading("temperature", 23.0))

    @property
    @since(2, 13)
    def target_temperature(self) -> float | None:
        """The temperature the plate is heading for, °C; None while not heating."""
        target = self._reading("target")
        return None if target is None else float(target)

    @property
    @since(2, 13)
    def temperature_status(self) -> str:
        """``idle``, ``heating``, ``cooling`` or ``holding at target``."""
        return str(self._reading("status", "idle"))

    @property
    @since(2, 13)
    def current_speed(self) -> int:
        """The plate's speed now, rpm."""
        return int(self._reading("rpm", 0))

    @property
    @since(2, 13)
    def target_speed(self) -> int | None:
        """The speed the plate is set to shake at, rpm; None while not shaking."""
        return int(self._target_rpm) if self._target_rpm else None

    @property
    @since(2, 13)
    def speed_status(self) -> str:
        """``holding at target`` while shaking, else ``idle``."""
        return "holding at target" if self.shaking else "idle"

    @property
    @since(2, 13)
    def labware_latch_status(self) -> str:
        """``idle_open``, ``idle_closed`` or ``idle_unknown`` (before any latch call)."""
        return self._latch
