"""``loadInstrument``: attach a pipette to a mount (no motion)."""

from __future__ import annotations

from ..robot_model import Pipette, PlungerSpec, RobotModel
from .base import Command, Result


class LoadInstrument(Command):
    """Attach a pipette to a mount; its plunger geometry comes with it."""

    __slots__ = ("channels", "instrument_name", "max_volume", "mount", "nozzle_xy",
                 "plunger_blow_out", "plunger_bottom", "plunger_drop_tip", "ul_per_mm")

    kind = "loadInstrument"
    instrument_name: str
    mount: str
    max_volume: float
    ul_per_mm: float
    plunger_bottom: float
    plunger_blow_out: float
    plunger_drop_tip: float
    nozzle_xy: tuple[float, float]  # the first nozzle from the mount's centre
    channels: int  # nozzles in a column from the first, NOZZLE_PITCH_MM apart toward the front

    def __init__(self, instrument_name: str, mount: str, max_volume: float, ul_per_mm: float,
                 plunger_bottom: float, plunger_blow_out: float, plunger_drop_tip: float,
                 nozzle_xy: tuple[float, float] = (0.0, 0.0), channels: int = 1) -> None:
        object.__setattr__(self, "instrument_name", instrument_name)
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "max_volume", max_volume)
        object.__setattr__(self, "ul_per_mm", ul_per_mm)
        object.__setattr__(self, "plunger_bottom", plunger_bottom)
        object.__setattr__(self, "plunger_blow_out", plunger_blow_out)
        object.__setattr__(self, "plunger_drop_tip", plunger_drop_tip)
        object.__setattr__(self, "nozzle_xy", nozzle_xy)
        object.__setattr__(self, "channels", channels)

    def apply(self, robot: RobotModel) -> Result:
        robot.pipettes[self.mount] = Pipette(PlungerSpec(
            self.max_volume, self.ul_per_mm, self.plunger_bottom, self.plunger_blow_out,
            self.plunger_drop_tip), nozzle_xy=self.nozzle_xy, channels=self.channels)
        return {}
