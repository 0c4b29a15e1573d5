"""Pipette models labrun supports: volumes, default flow rates and plunger geometry."""

from __future__ import annotations

from attrs import frozen

from .errors import InstrumentError

PLUNGER_BOTTOM = 18.0
PLUNGER_BLOW_OUT = 19.0
PLUNGER_DROP_TIP = 20.0
STROKE_MM = 16.0  # plunger travel for the pipette's full volume


@frozen
class PipetteSpec:
    """One pipette model."""

    name: str
    model: str
    min_volume: float
    max_volume: float
    aspirate_flow_rate: float
    dispense_flow_rate: float
    blow_out_flow_rate: float

    @property
    def ul_per_mm(self) -> float:
        """Microlitres per millimetre of plunger travel."""
        return self.max_volume / STROKE_MM


PIPETTES: dict[str, PipetteSpec] = {
    spec.name: spec for spec in (
        PipetteSpec("p20_single_gen2", "p20_single_v2.2", 1, 20, 7.56, 7.56, 7.56),
        PipetteSpec("p300_single_gen2", "p300_single_v2.1", 20, 300, 92.86, 92.86, 92.86),
        PipetteSpec("p1000_single_gen2", "p1000_single_v2.2", 100, 1000, 274.7, 274.7, 274.7),
        PipetteSpec("p10_single", "p10_single_v1.5", 1, 10, 5, 10, 1000),
        PipetteSpec("p50_single", "p50_single_v1.5", 5, 50, 25, 50, 1000),
        PipetteSpec("p300_single", "p300_single_v1.5", 30, 300, 150, 300, 1000),
        PipetteSpec("p1000_single", "p1000_single_v1.5", 100, 1000, 500, 1000, 1000),
    )
}


def get_pipette(name: str) -> PipetteSpec:
    """The spec of the pipette called ``name``, or an error listing the ones labrun has."""
    try:
        return PIPETTES[name]
    except KeyError:
        known = ", ".join(sorted(PIPETTES))
        hint = " (multi-channel pipettes are not supported yet)" if "multi" in name else ""
        raise InstrumentError(
            f"unknown instrument {name!r}{hint}; labrun supports {known}") from None
