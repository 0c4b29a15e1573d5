"""``MagneticModuleContext``: magnets raised under a plate to pull beads down.

Heights are as in the Opentrons API: ``height`` from the magnets' home (GEN1 in
half-millimetres), ``height_from_base`` from the labware's bottom, ``offset`` from the
labware's default engage height (its definition's ``magneticModuleEngageHeight``, in
half-millimetres). The magnets' home is 2.5 mm (GEN2) or 5 units (GEN1) below the
labware's bottom.
"""

from __future__ import annotations

from engine import commands as c

from ..steps import api_step
from .base import ModuleContext, ModuleError, check_number

OFFSET_TO_LABWARE_BOTTOM = {"magneticModuleV1": 5.0, "magneticModuleV2": 2.5}
"""From the magnets' home to the labware's bottom, in the model's own units."""
RANGE = {"magneticModuleV1": (0.0, 45.0), "magneticModuleV2": (-2.5, 25.0)}


class MagneticModuleContext(ModuleContext):
    """A magnetic module, as in the Opentrons API."""

    @property
    def _gen1(self) -> bool:
        return self.model == "magneticModuleV1"

    @api_step("engage")
    def engage(self, height: float | None = None, offset: float | None = None,
               height_from_base: float | None = None) -> None:
        """Raise the magnets: to ``height`` above home, ``height_from_base`` above the
        labware's bottom, or the labware's default height (plus ``offset``)."""
        given = [v for v in (height, offset, height_from_base) if v is not None]
        if len(given) > 1:
            raise ModuleError("engage: give only one of height, height_from_base and offset")
        to_bottom = OFFSET_TO_LABWARE_BOTTOM[self.model]
        unit = "half-mm" if self._gen1 else "mm"
        if height is not None:
            units = check_number("engage: height", height, unit)
        elif height_from_base is not None:
            units = check_number("engage: height_from_base", height_from_base, "mm") + to_bottom
        else:
            default = self._labware.magdeck_engage_height if self._labware else None
            if default is None:
                what = (f"{self._labware.load_name} has no default engage height"
                        if self._labware is not None else "no labware is loaded on it")
                raise ModuleError(f"engage: {what}; give height or height_from_base")
            # definitions give it in half-millimetres; a GEN1 counts in half-millimetres
            shift = 0.0 if offset is None else check_number("engage: offset", offset, "mm")
            units = (default + 2 * shift if self._gen1 else default / 2 + shift) + to_bottom
        low, high = RANGE[self.model]
        if not low <= units <= high:
            raise ModuleError(f"engage: {units:g} {unit} is outside the {self.display_name}'s "
                              f"range of {low:g}-{high:g} {unit} above its home")
        self._call(c.Engage(self.id, round(units / 2 if self._gen1 else units, 4)))

    @api_step("disengage")
    def disengage(self) -> None:
        """Lower the magnets home."""
        self._call(c.Disengage(self.id))

    @api_step("calibrate")
    def calibrate(self) -> None:
        """Nothing to do: labrun's magnets need no calibration."""

    @property
    def status(self) -> str:
        """``engaged`` or ``disengaged``."""
        return "engaged" if self._reading("engaged", False) else "disengaged"
