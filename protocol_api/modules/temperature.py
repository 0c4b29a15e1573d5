"""``TemperatureModuleContext``: a plate held at a temperature.

Targets are rounded to whole degrees (the modules' firmware takes whole degrees) and,
so rounded, accepted from -9 to 99 °C, as the reference does; before apiLevel 2.14 one
beyond is held at the nearest limit, as the firmware clips it. The module's published
working range is 4-95 °C: a target outside it (and within -9 to 99 °C) is warned of, as
the plate may never get there and an OT-2 then waits for it for ever (the simulation has
it there at the module's rates).
"""

from __future__ import annotations

from engine import commands as c

from ..api_level import ENGINE_CORE_API, since
from ..steps import api_step
from .base import ModuleContext, ModuleError, check_number

LOW_C, HIGH_C = -9.0, 99.0
RATED_C = (4.0, 95.0)
"""The module's published working range (Opentrons' documentation)."""


def _whole(celsius: float) -> float:
    """Rounded to whole degrees, as Opentrons rounds (half to even)."""
    return float(round(celsius))


def _checked_whole(what: str, celsius: object) -> float:
    """``celsius`` rounded to whole degrees, then checked to be within -9 to 99 °C (as
    Opentrons checks it: 99.4 °C is taken as 99, 99.5 °C is refused as 100)."""
    value = check_number(what, celsius, "°C")
    rounded = _whole(value)
    if not LOW_C <= rounded <= HIGH_C:
        raise ModuleError(f"{what} must be between {LOW_C:g} and {HIGH_C:g} °C (rounded to "
                          f"whole degrees), not {value:g}")
    return rounded


class TemperatureModuleContext(ModuleContext):
    """A temperature module, as in the Opentrons API."""

    def _set_target(self, op: str, celsius: float) -> None:
        """Send the target (whole degrees, -9 to 99 °C). Before apiLevel 2.14 one outside
        that range is held at the nearest limit, as the module's firmware clips what
        Opentrons sends it then; the run log warns."""
        value = check_number(f"{op}: celsius", celsius, "°C")
        if self._api_version < ENGINE_CORE_API and not LOW_C <= value <= HIGH_C:
            clipped = min(max(value, LOW_C), HIGH_C)
            self._call(c.SetTargetTemperature(self.id, clipped))
            self._steps.warn(f"{op}: {value:g} °C is outside the module's {LOW_C:g} to "
                             f"{HIGH_C:g} °C; before apiLevel 2.14 the module holds the "
                             f"nearest, {clipped:g} °C")
            return
        target = _checked_whole(f"{op}: celsius", value)
        self._call(c.SetTargetTemperature(self.id, target))
        self._warn_unrated(op, target)

    def _warn_unrated(self, op: str, target: float) -> None:
        low, high = RATED_C
        if not low <= target <= high:
            self._steps.warn(
                f"{op}: {target:g} °C is outside the {self._spec.display_name}'s working "
                f"range of {low:g} to {high:g} °C: the plate may never get there, and an "
                "OT-2 then waits for it for ever; labrun's estimate has it there at the "
                "module's rates")

    @api_step("set_temperature")
    def set_temperature(self, celsius: float) -> None:
        """Set the target and wait until the plate is there."""
        self._set_target("set_temperature", celsius)
        self._call(c.WaitForTemperature(self.id))

    @since(2, 3)
    @api_step("start_set_temperature")
    def start_set_temperature(self, celsius: float) -> None:
        """Set the target and return at once (``await_temperature`` waits)."""
        self._set_target("start_set_temperature", celsius)

    @since(2, 3)
    @api_step("await_temperature")
    def await_temperature(self, celsius: float) -> None:
        """Wait until the plate has reached ``celsius`` on its way to its target (heating:
        at or above it; cooling: at or below it), as Opentrons' module does; a ``celsius``
        beyond the target is never reached (an OT-2 waits for ever): that is warned of,
        and the wait ends at the target."""
        awaited = _checked_whole("await_temperature: celsius", celsius)
        result = self._call(c.WaitForTemperature(self.id, awaited))
        if result.get("awaited_with_no_target"):
            self._steps.warn(
                f"await_temperature({awaited:g}): the module has no target temperature, so "
                "it neither heats nor cools and nothing is awaited; labrun went on at once, "
                "as an OT-2 does (set_temperature or start_set_temperature first)")
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
