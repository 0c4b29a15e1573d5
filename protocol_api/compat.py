"""Private Opentrons attributes that published protocols read, mapped onto labrun.

Protocols of Opentrons' library reach past the public API: ``ctx._hw_manager.hardware``
to ask ``is_simulator`` or to blink the rail lights, ``pipette._tip_racks``,
``pipette._last_tip_picked_up_from``, ``well._core`` to subclass ``Well``. labrun answers
the ones that are facts it knows or calls it can make with its public behaviour; an
attribute it cannot honour (changing a pipette's motor currents) fails with one line
naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import UnsupportedAPIError


class HardwareManager:
    """``ctx._hw_manager``: only its ``hardware``."""

    def __init__(self, simulating: bool, switch_lights: Callable[[bool], None],
                 lights_on: Callable[[], bool]) -> None:
        self.hardware = Hardware(simulating, switch_lights, lights_on)

    def __getattr__(self, name: str) -> Any:
        raise _unsupported(f"ctx._hw_manager.{name}")


class Hardware:
    """``ctx._hw_manager.hardware``: whether the run is simulated, and the lights (at
    every apiLevel: protocols of apiLevel 2.0 to 2.4, which have no
    ``ctx.set_rail_lights``, switch them here)."""

    def __init__(self, simulating: bool, switch_lights: Callable[[bool], None],
                 lights_on: Callable[[], bool]) -> None:
        self.is_simulator = simulating
        self._switch_lights = switch_lights
        self._lights_on = lights_on

    def set_lights(self, button: bool | None = None, rails: bool | None = None) -> None:
        """Switch the rail lights (as ``ctx.set_rail_lights``); the button light is the
        robot's own status light and is left alone."""
        if rails is not None:
            self._switch_lights(bool(rails))

    def get_lights(self) -> dict[str, bool]:
        """The lights as Opentrons reports them; the button light is always on."""
        return {"button": True, "rails": self._lights_on()}

    def __getattr__(self, name: str) -> Any:
        raise _unsupported(f"ctx._hw_manager.hardware.{name}")


class WellCore:
    """``well._core``: what a ``Well`` subclass passes on to ``Well.__init__``."""

    __slots__ = ("well",)

    def __init__(self, well: Any) -> None:
        self.well = well


def _unsupported(name: str) -> UnsupportedAPIError:
    return UnsupportedAPIError(f"{name} is an Opentrons internal that labrun does not have")


__all__ = ["Hardware", "HardwareManager", "WellCore"]
