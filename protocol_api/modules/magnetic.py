"""``MagneticModuleContext``: magnets raised under a plate to pull beads down.

Heights are as in the Opentrons API, which measures them two ways by apiLevel.

- From 2.14: ``height_from_base`` is mm above the labware's bottom; the default height
  (``engage()``, plus ``offset`` mm) is the definition's ``magneticModuleEngageHeight``
  in mm above the bottom (half that for the three definitions Opentrons knows to give it
  in half-millimetres); the magnets go that far above the bottom, which is 2.5 mm above
  their home. ``height`` is refused.
- Before 2.14: ``height`` is from the magnets' home in the model's own units (GEN1:
  half-millimetres); ``height_from_base`` (from 2.2; before, it is ignored, as
  Opentrons ignores it) is that plus 2.5 mm (GEN2) or 5 units (GEN1) without converting
  its millimetres; the default height is the definition's value (halved for those three
  definitions from 2.3, and doubled into a GEN1's half-millimetres) plus ``offset``,
  from the magnets' home.

Of several heights given, ``height`` wins, then ``height_from_base``, then ``offset``.
A GEN2 reaches 0-25 mm above its home, a GEN1 0-45 half-millimetres.
"""

from __future__ import annotations

from engine import commands as c

from ..api_level import removed_in
from ..errors import UnsupportedAPIError
from ..steps import api_step
from .base import ModuleContext, ModuleError, check_number

OFFSET_TO_LABWARE_BOTTOM = {"magneticModuleV1": 5.0, "magneticModuleV2": 2.5}
"""From the magnets' home to the labware's bottom, in the model's own units."""
RANGE = {"magneticModuleV1": (0.0, 45.0), "magneticModuleV2": (0.0, 25.0)}
"""How far above their home the magnets reach, in the model's own units."""
HALF_MM_DEFINITIONS = frozenset({
    "opentrons/biorad_96_wellplate_200ul_pcr/1",
    "opentrons/nest_96_wellplate_100ul_pcr_full_skirt/1",
    "opentrons/usascientific_96_wellplate_2.4ml_deep/1",
})
"""Definitions whose engage height Opentrons reads as half-millimetres."""
HEIGHT_FROM_BASE_API = (2, 2)
MM_DEFAULT_API = (2, 3)
BASE_MEASURED_API = (2, 14)


class MagneticModuleContext(ModuleContext):
    """A magnetic module, as in the Opentrons API."""

    @property
    def _gen1(self) -> bool:
        return self._spec.model == "magneticModuleV1"

    @api_step("engage")
    def engage(self, height: float | None = None, offset: float | None = None,
               height_from_base: float | None = None) -> None:
        """Raise the magnets: to ``height`` above home (before apiLevel 2.14),
        ``height_from_base`` above the labware's bottom, or the labware's default height
        (plus ``offset``)."""
        api = self._api_version
        from_base = api >= BASE_MEASURED_API
        to_bottom = OFFSET_TO_LABWARE_BOTTOM[self._spec.model]
        unit = "half-mm" if self._gen1 else "mm"
        # units = start + per * the user's number: a refusal says the range in their terms
        if height is not None:
            if from_base:
                raise UnsupportedAPIError("engage: the height parameter was removed in "
                                          "apiLevel 2.14; use height_from_base or offset")
            given = check_number("engage: height", height, unit)
            start, per, said, their_unit = 0.0, 1.0, f"height {given:g} {unit} is", unit
        elif height_from_base is not None and api >= HEIGHT_FROM_BASE_API:
            given = check_number("engage: height_from_base", height_from_base, "mm")
            start, per = to_bottom, 2.0 if self._gen1 and from_base else 1.0
            said, their_unit = f"height_from_base {given:g} mm is", "mm"
        else:
            their_unit = "mm" if from_base else unit
            shift = 0.0 if offset is None else check_number("engage: offset", offset,
                                                             their_unit)
            default = self._default_height(halve=api >= MM_DEFAULT_API)
            if from_base:
                start, per = to_bottom, 2.0 if self._gen1 else 1.0
            else:
                start, per = 0.0, 1.0
                default = 2 * default if self._gen1 and api >= MM_DEFAULT_API else default
            given = default + shift
            said = (f"offset {shift:g} {their_unit} brings the magnets to {given:g} "
                    f"{their_unit} (the labware's default engage height plus the offset),"
                    if offset is not None else
                    f"the labware's default engage height, {default:g} {their_unit}, is")
        units = start + per * given
        low, high = RANGE[self._spec.model]
        if not low <= units <= high:
            above = "above the labware's base" if start else "above its home"
            raise ModuleError(f"engage: {said} outside the {self.shown_name}'s range of "
                              f"{(low - start) / per:g} to {(high - start) / per:g} "
                              f"{their_unit} {above}")
        self._call(c.Engage(self.id, round(units / 2 if self._gen1 else units, 4)))

    def _default_height(self, *, halve: bool) -> float:
        """The loaded labware's default engage height (halved, when ``halve``, for the
        definitions that give it in half-millimetres)."""
        labware = self._labware
        default = labware.magdeck_engage_height if labware is not None else None
        if labware is None or default is None:
            what = (f"{labware.load_name} has no default engage height"
                    if labware is not None else "no labware is loaded on it")
            raise ModuleError(f"engage: {what}; give height_from_base")
        return default / 2 if halve and labware.uri in HALF_MM_DEFINITIONS else default

    @api_step("disengage")
    def disengage(self) -> None:
        """Lower the magnets home."""
        self._call(c.Disengage(self.id))

    @removed_in(*BASE_MEASURED_API, "remove the call: the magnets need no calibration")
    @api_step("calibrate")
    def calibrate(self) -> None:
        """Nothing to do: labrun's magnets need no calibration (gone from apiLevel 2.14,
        as in Opentrons)."""

    @property
    def status(self) -> str:
        """``engaged`` or ``disengaged``."""
        return "engaged" if self._reading("engaged", False) else "disengaged"
