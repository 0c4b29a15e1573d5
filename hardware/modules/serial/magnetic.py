"""The magnetic module over serial: ``G0 Z<h>``, ``G28.2``, ``M114.2``.

The firmware answers ``G0`` and ``G28.2`` once the magnets have arrived, so ``engage``
and ``disengage`` return when the move is done; ``M114.2`` reads ``Z:<h>`` above home.
GEN2 (``model:mag_deck_v20``) counts ``h`` in mm, GEN1 (``model:mag_deck_v1.1``) in half
millimetres; the driver reads which from ``M115`` and speaks mm to the run either way.

A move, once sent, is seen through (a pause or a door waits for it: the module finishes
it whatever the host does), so the call returns with the magnets where it sent them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from ..dispatch import Handler
from .base import SerialModule
from .wire import number

MOVE_TIMEOUT_S = 30.0
"""The longest a full-travel move or a homing may take (Opentrons allows 10 s a try,
three tries)."""


class SerialMagneticModule(SerialModule):
    """A magnetic module on its serial port."""

    kind = "magnetic"
    family = "arduino"
    units_per_mm = 1.0

    height_mm: float = 0.0

    def identify(self, info: str) -> None:
        self.units_per_mm = 2.0 if self.model == "magneticModuleV1" else 1.0

    def handlers(self) -> dict[str, Handler]:
        return {"engage": self.engage, "disengage": self.disengage,
                "deactivate": self.disengage}

    async def engage(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        height = float(params["height_mm"])
        return await self._move(f"G0 Z{height * self.units_per_mm:.3f}")

    async def disengage(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move("G28.2")

    async def _move(self, command: str) -> Mapping[str, Any]:
        with anyio.CancelScope(shield=True):  # the module finishes it whatever we do
            await self.wire.request(command, timeout=MOVE_TIMEOUT_S)
            await self.refresh()
        return {"height_mm": self.height_mm}

    async def make_safe(self) -> None:
        """Stop and abort leave the magnets where they are: moving them is not safety."""

    async def refresh(self) -> None:
        answer = await self.wire.request("M114.2")
        self.height_mm = (number(answer, "Z") or 0.0) / self.units_per_mm

    @property
    def engaged(self) -> bool:
        """Magnets above their home (as the simulated module says it)."""
        return self.height_mm > 1e-9

    def readings(self) -> dict[str, Any]:
        return {"height_mm": self.height_mm, "engaged": self.engaged}

    def state(self) -> str:
        return "engaged" if self.engaged else "disengaged"
