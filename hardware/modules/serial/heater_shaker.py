"""The heater-shaker over serial: ``M104``/``M105``/``M106`` (heater), ``M3 S<rpm>``/
``M123``/``G28`` (shaker), ``M242``/``M243``/``M241`` (labware latch).

``M3`` and the latch commands are answered at once; the waits poll ``M123``
(``C:<rpm> T:<target>``) and ``M241`` (``STATUS:IDLE_OPEN``...). A latch move, once
sent, is seen through (the module finishes it whatever the host does: a pause or a door
waits the two seconds it takes, at most ``LATCH_TIMEOUT_S``). Stopping the shaker is
``G28``: the plate homes, as Opentrons' ``deactivate_shaker`` does. The firmware refuses
to shake or home with the latch open (``ERR126``) and to open the latch unless the plate
is homed (``ERR123``: at power-on, or after ``G28``); those errors reach the run with
their cause.

At a pause (``park``) the shaker stops and its speed is remembered; ``unpark`` brings
it back to that speed before the run goes on. At a stop or abort (``deactivate``) and
in ``deactivate_all``, a plate whose latch is open is not sent ``G28``: it cannot be
shaking, and the firmware would refuse. At a halt (``stop_moving``) a plate the module
reads as turning is sent ``G28`` and waited for, at most the module's timeout; the heater
stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from ...controller import HardwareFault
from ..dispatch import Handler
from ..physics import TOLERANCE_C
from .base import SerialModule, celsius, near, state_of
from .wire import fields, number

RPM_TOLERANCE = 25.0
"""A shaker within this many rpm of its target is at speed."""
LATCH_STATES = {"IDLE_OPEN": "open", "IDLE_CLOSED": "closed", "OPENING": "opening",
                "CLOSING": "closing"}
SETTLED_S = 60.0
"""A plate above its target whose reading has moved less than ``TOLERANCE_C`` for this
many seconds of the run's clock is at the room's temperature: it heats only, so it never
gets colder than the room, and a wait for a colder target ends there."""
LATCH_TIMEOUT_S = 10.0
"""The longest a latch move may take (it takes about 2 s) before it is a fault."""


class SerialHeaterShaker(SerialModule):
    """A heater-shaker on its serial port."""

    kind = "heater_shaker"
    family = "stm32"

    temperature: float | None = None
    target: float | None = None
    sent_target: float | None = None
    """The heater's target the driver last set (None once it switched the heater off)."""
    rpm: float = 0.0
    target_rpm: float = 0.0
    latch: str = "unknown"
    parked_rpm: float | None = None

    def handlers(self) -> dict[str, Handler]:
        return {"set_temperature": self.set_temperature,
                "wait_for_temperature": self.wait_for_temperature,
                "deactivate_heater": self.deactivate_heater,
                "set_shake_speed": self.set_shake_speed,
                "deactivate_shaker": self.deactivate_shaker,
                "open_latch": self.open_latch, "close_latch": self.close_latch,
                "deactivate": self.deactivate_all}

    async def set_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.wire.request(f"M104 S{celsius(params):.2f}")
        self.sent_target = celsius(params)
        await self.refresh()
        return {"target": self.target}

    async def wait_for_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        readings: list[tuple[float, float]] = []  # (time, plate) while above its target

        def reached() -> bool:
            self.check_target_kept("", self.sent_target, self.target, self.temperature)
            return near(self.temperature, self.target) or self._settled_above(readings)

        await self.poll_until(reached)
        return {"temperature": self.temperature}

    def _settled_above(self, readings: list[tuple[float, float]]) -> bool:
        """Whether the plate, warmer than its target, has stopped cooling (``SETTLED_S``):
        at the room's temperature, colder than which it never gets. ``readings``: this
        wait's, kept to the last ``SETTLED_S``."""
        temperature, target, now = self.temperature, self.target, self.clock.now()
        if temperature is None or target is None or temperature <= target:
            readings.clear()  # heating, or there: the wait is the heater's
            return False
        readings.append((now, temperature))
        while len(readings) > 1 and readings[1][0] <= now - SETTLED_S:
            del readings[0]
        values = [value for _, value in readings]
        return (readings[0][0] <= now - SETTLED_S
                and max(values) - min(values) < TOLERANCE_C)

    async def deactivate_heater(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.wire.request("M106")
        self.sent_target = None
        await self.refresh()
        return {}

    async def set_shake_speed(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._shake(float(params["rpm"]))
        return {"rpm": self.rpm}

    async def _shake(self, rpm: float) -> None:
        await self.wire.request(f"M3 S{round(rpm)}")
        await self.poll_until(lambda: abs(self.rpm - rpm) <= RPM_TOLERANCE)

    async def deactivate_shaker(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.parked_rpm = None
        await self._stop_shaking()
        return {}

    async def _stop_shaking(self) -> None:
        await self.wire.request("G28")
        await self.poll_until(lambda: self.rpm == 0.0)

    async def open_latch(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move_latch("M242", "open")

    async def close_latch(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move_latch("M243", "closed")

    async def _move_latch(self, command: str, where: str) -> Mapping[str, Any]:
        with anyio.CancelScope(shield=True):  # the latch gets there whatever we do
            await self.wire.request(command)
            deadline = self.clock.now() + LATCH_TIMEOUT_S
            await self.refresh()
            while self.latch != where:
                if self.clock.now() >= deadline:
                    raise HardwareFault(f"the heater-shaker [modules.{self.name}]'s labware "
                                        f"latch is {self.latch}, not {where}, "
                                        f"{LATCH_TIMEOUT_S:g} s after {command}")
                await self.clock.sleep_until(self.clock.now() + self.poll_interval)
                await self.refresh()
        return {"latch": self.latch}

    async def deactivate_all(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.parked_rpm = None
        await self._stop_unless_open()
        await self.deactivate_heater({})
        return {}

    async def _stop_unless_open(self) -> None:
        """Stop the shaker, unless the latch is open: then it cannot turn (the firmware
        refuses ``M3`` with the latch open) and would refuse ``G28``."""
        await self.refresh()
        if self.latch in ("closed", "unknown") or self.rpm > 0 or self.target_rpm > 0:
            await self._stop_shaking()

    # -- pause and stop ---------------------------------------------------------------

    async def park(self) -> Mapping[str, Any]:
        """Stop shaking, remembering the speed (once: a second park keeps the first); the
        speed it stopped (``stopped_rpm``). The speed is the module's, read now: a shake or
        a stop the pause cut off once its line was sent left the driver's reading from
        before it. A fault names the module."""
        if self.parked_rpm is not None:
            return {}
        with self.naming_faults():
            await self.refresh()
            if self.target_rpm <= 0:
                return {}
            self.parked_rpm = self.target_rpm
            await self._stop_shaking()
        return {"stopped_rpm": self.parked_rpm}

    async def unpark(self) -> None:
        """Back to the remembered speed before the run goes on. A fault names the
        module."""
        if self.parked_rpm is not None:
            rpm, self.parked_rpm = self.parked_rpm, None
            with self.naming_faults():
                await self._shake(rpm)

    async def make_safe(self) -> None:
        """Stop and abort: the shaker stops; the heater only when configured."""
        self.parked_rpm = None
        await self._stop_unless_open()
        if self.heaters_off_on_stop:
            await self.deactivate_heater({})

    async def stop_moving(self) -> Mapping[str, Any]:
        """A halt: a plate the module reads as turning (or set to turn) stops, within the
        module's timeout; the heater stays. The speed a pause remembered is forgotten (no
        resume follows). A plate whose latch is open is not turning: it is not sent
        ``G28``, which the firmware would refuse. A fault names the module."""
        self.parked_rpm = None
        with self.naming_faults():
            await self.refresh()
            if self.target_rpm <= 0 and self.rpm <= 0:
                return {}
            set_to = self.target_rpm or self.rpm
            await self.wire.request("G28")
            deadline = self.clock.now() + self.wire.timeout_s
            await self.refresh()
            while self.rpm > 0:
                if self.clock.now() >= deadline:
                    raise HardwareFault(f"its plate still turns at {self.rpm:g} rpm "
                                        f"{self.wire.timeout_s:g} s after G28")
                await self.clock.sleep_until(self.clock.now() + self.poll_interval)
                await self.refresh()
        return {"stopped_rpm": set_to}

    async def refresh(self) -> None:
        heater = await self.wire.request("M105")
        self.temperature = number(heater, "C")
        self.target = number(heater, "T")
        shaker = await self.wire.request("M123")
        self.rpm = number(shaker, "C") or 0.0
        self.target_rpm = number(shaker, "T") or 0.0
        state = fields(await self.wire.request("M241")).get("STATUS", "")
        self.latch = LATCH_STATES.get(state, "unknown")

    def readings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "target": self.target, "rpm": self.rpm,
                "target_rpm": self.target_rpm, "latch": self.latch}

    def state(self) -> str:
        if self.target_rpm > 0:
            return "shaking"
        return state_of(self.temperature, self.target)
