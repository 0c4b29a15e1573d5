"""``loadInstrument``: attach a pipette to a mount (no motion)."""

from __future__ import annotations

from attrs import frozen

from ..robot_model import Pipette, PlungerSpec, RobotModel
from .base import Command, Result


@frozen
class LoadInstrument(Command):
    """Attach a pipette to a mount; its plunger geometry comes with it."""

    kind = "loadInstrument"
    instrument_name: str
    mount: str
    max_volume: float
    ul_per_mm: float
    plunger_bottom: float
    plunger_blow_out: float
    plunger_drop_tip: float
    nozzle_xy: tuple[float, float] = (0.0, 0.0)  # the first nozzle from the mount's centre

    def apply(self, robot: RobotModel) -> Result:
        robot.pipettes[self.mount] = Pipette(PlungerSpec(
            self.max_volume, self.ul_per_mm, self.plunger_bottom, self.plunger_blow_out,
            self.plunger_drop_tip), nozzle_xy=self.nozzle_xy)
        return {}
