"""The settings a pipette shows protocols as objects of their own: its flow rates, the
plunger speeds they come to, its well-bottom clearances and its channel type."""

from __future__ import annotations

import enum

from .errors import ProtocolError
from .steps import is_number


class PipetteChannelType(int, enum.Enum):
    """A pipette's number of channels as Opentrons' engine core gives it (apiLevel 2.14
    on): equal to 1 or 8, printed ``single`` or ``multi``."""

    SINGLE_CHANNEL = 1
    EIGHT_CHANNEL = 8
    NINETY_SIX_CHANNEL = 96

    def __str__(self) -> str:
        return {1: "single", 8: "multi"}.get(self.value, str(self.value))


class FlowRates:
    """Flow rates in µL/s for aspirate, dispense and blow-out."""

    def __init__(self, aspirate: float, dispense: float, blow_out: float) -> None:
        self.aspirate = aspirate
        self.dispense = dispense
        self.blow_out = blow_out

    def __setattr__(self, name: str, value: float) -> None:
        if not is_number(value) or value <= 0:
            raise ProtocolError(f"flow_rate.{name} must be a positive number, not {value!r}")
        super().__setattr__(name, float(value))

    def __repr__(self) -> str:
        return (f"FlowRates(aspirate={self.aspirate}, dispense={self.dispense}, "
                f"blow_out={self.blow_out})")


class PlungerSpeeds:
    """Plunger speeds in mm/s of an OT-2's plunger (apiLevel < 2.14): a view of the flow
    rates in other units, µL/mm at full volume from the pipette's definition (aspirating;
    dispensing for dispense and blow-out), so a protocol's speed is the flow it meant."""

    _flow_rate: FlowRates
    _ul_per_mm: tuple[float, float]

    def __init__(self, flow_rate: FlowRates, ul_per_mm: tuple[float, float]) -> None:
        object.__setattr__(self, "_flow_rate", flow_rate)
        object.__setattr__(self, "_ul_per_mm", ul_per_mm)

    def _per_mm(self, name: str) -> float:
        if name not in ("aspirate", "dispense", "blow_out"):
            raise AttributeError(f"'PlungerSpeeds' object has no attribute {name!r}")
        aspirating, dispensing = self._ul_per_mm
        return aspirating if name == "aspirate" else dispensing

    def __getattr__(self, name: str) -> float:
        return round(float(getattr(self._flow_rate, name)) / self._per_mm(name), 6)

    def __setattr__(self, name: str, value: float) -> None:
        per_mm = self._per_mm(name)
        if not is_number(value) or value <= 0:  # said here, in speed's own terms
            raise ProtocolError(f"speed.{name} must be a positive number of mm/s, not "
                                f"{value!r}")
        setattr(self._flow_rate, name, round(float(value) * per_mm, 6))


class Clearances:
    """Heights above the well bottom (mm) for aspirate and dispense given a Well."""

    def __init__(self) -> None:
        self.aspirate = 1.0
        self.dispense = 1.0

    def __setattr__(self, name: str, value: float) -> None:
        if not is_number(value):
            raise ProtocolError(f"well_bottom_clearance.{name} must be a number of mm, "
                                f"not {value!r}")
        super().__setattr__(name, float(value))
