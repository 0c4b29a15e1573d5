"""The temperature module (GEN1, GEN2) over serial: ``M104 S<°C>``, ``M105``, ``M18``.

``M104`` sets the target and is answered at once; ``wait_for_temperature`` polls
``M105`` (``T:<target|none> C:<plate>``) until the plate is within tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..dispatch import Handler
from .base import SerialModule, celsius, near, state_of
from .wire import number


class SerialTemperatureModule(SerialModule):
    """A temperature module on its serial port."""

    kind = "temperature"
    family = "arduino"

    temperature: float | None = None
    target: float | None = None
    sent_target: float | None = None
    """The target the driver last set (None once it switched the module off)."""

    def handlers(self) -> dict[str, Handler]:
        return {"set_temperature": self.set_temperature,
                "wait_for_temperature": self.wait_for_temperature,
                "deactivate": self.deactivate_call}

    async def set_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        # The firmware takes whole degrees (Opentrons rounds to 0 decimals).
        await self.wire.request(f"M104 S{celsius(params):.0f}")
        self.sent_target = float(f"{celsius(params):.0f}")
        await self.refresh()
        return {"target": self.target}

    async def wait_for_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if params.get("celsius") is None:
            await self.poll_until(lambda: self._kept() and near(self.temperature,
                                                                self.target))
            return {"temperature": self.temperature}
        awaited = celsius(params)
        await self.refresh()  # which way the plate is heading, from where it is now
        rising = (self.target is not None and self.temperature is not None
                  and self.target > self.temperature)

        def passed() -> bool:  # ``awaited`` on the way to the target, or the target
            if self._kept() and near(self.temperature, self.target):
                return True
            if self.temperature is None:
                return False
            return self.temperature >= awaited if rising else self.temperature <= awaited

        await self.poll_until(passed)
        return {"temperature": self.temperature}

    def _kept(self) -> bool:
        """The target the driver set is still the module's (else it raises)."""
        self.check_target_kept("", self.sent_target, self.target, self.temperature)
        return True

    async def deactivate_call(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.wire.request("M18")
        self.sent_target = None
        await self.refresh()
        return {}

    async def make_safe(self) -> None:
        """Stop and abort: the heater goes off only when configured."""
        if self.heaters_off_on_stop:
            await self.deactivate_call({})

    async def refresh(self) -> None:
        answer = await self.wire.request("M105")
        self.target = number(answer, "T")
        self.temperature = number(answer, "C")

    def readings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "target": self.target}

    def state(self) -> str:
        return state_of(self.temperature, self.target)
