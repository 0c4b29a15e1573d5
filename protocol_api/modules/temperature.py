"""``TemperatureModuleContext``: a plate held at a temperature.

Targets from -9 to 99 °C are accepted and rounded to whole degrees (the modules' firmware
takes whole degrees), as the reference does; the module's published working range is
4-95 °C.
"""

from __future__ import annotations

from engine import commands as c

from ..api_level import since
from ..steps import api_step
from .base import ModuleContext, check_range

LOW_C, HIGH_C = -9.0, 99.0


def _whole(celsius: float) -> float:
    """Rounded to whole degrees, as Opentrons rounds (half to even)."""
    return float(round(celsius))


class TemperatureModuleContext(ModuleContext):
    """A temperature module, as in the Opentrons API."""

    @api_step("set_temperature")
    def set_temperature(self, celsius: float) -> None:
        """Set the target and wait until the plate is there."""
        target = _whole(check_range("set_temperature: celsius", celsius, LOW_C, HIGH_C, "°C"))
        self._call(c.SetTargetTemperature(self.id, target))
        self._call(c.WaitForTemperature(self.id))

    @since(2, 3)
    @api_step("start_set_temperature")
    def start_set_temperature(self, celsius: float) -> None:
        """Set the target and return at once (``await_temperature`` waits)."""
        target = _whole(check_range("start_set_temperature: celsius", celsius, LOW_C, HIGH_C,
                                    "°C"))
        self._call(c.SetTargetTemperature(self.id, target))

    @since(2, 3)
    @api_step("await_temperature")
    def await_temperature(self, celsius: float) -> None:
        """Wait until the plate has reached ``celsius`` on its way to its target (heating:
        at or above it; cooling: at or below it), as Opentrons' module does; a ``celsius``
        beyond the target is never reached (an OT-2 waits for ever): that is warned of,
        and the wait ends at the target."""
        awaited = _whole(check_range("await_temperature: celsius", celsius, LOW_C, HIGH_C,
                                     "°C"))
        result = self._call(c.WaitForTemperature(self.id, awaited))
        if result.get("awaited_beyond_target"):
            target = self._readings.get("target")
            self._steps.warn(
                f"await_temperature({awaited:g}): the module was on its way to {target:g} °C "
                f"only, so the plate never reaches {awaited:g} °C; an OT-2 waits here for "
                f"ever, labrun went on at {target:g} °C (await the target, or set "
                f"{awaited:g} °C first)")

    @api_step("deactivate")
    def deactivate(self) -> None:
        """Stop heating or cooling."""
        self._call(c.DeactivateTemperature(self.id))

    @property
    def temperature(self) -> float:
        """The plate's temperature (°C) when the module last reported."""
        return float(self._reading("temperature", 23.0))

    @property
    def target(self) -> float | None:
        """The target temperature (°C), None when off."""
        target = self._reading("target")
        return None if target is None else float(target)

    @property
    @since(2, 3)
    def status(self) -> str:
        """``idle``, ``heating``, ``cooling`` or ``holding at target``."""
        return str(self._reading("status", "idle"))
