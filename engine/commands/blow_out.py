"""``blowOut``: push the plunger past the bottom to expel what is left in the tip."""

from __future__ import annotations

from ..robot_model import RobotModel
from ..segments import Move, Segment
from .base import Command, Execution, Result
from .liquid import tip_pipette


class BlowOut(Command):
    """Push the plunger past the bottom to expel what is left in the tip."""

    __slots__ = ("flow_rate", "mount", "well", "wells")

    kind = "blowOut"
    reversible = False
    moves_liquid = True
    in_place = True
    execution = Execution.MOTION
    mount: str
    flow_rate: float
    well: str | None
    wells: tuple[str, ...]  # those of the other nozzles of a multi-channel pipette

    def __init__(self, mount: str, flow_rate: float, well: str | None = None,
                 wells: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "flow_rate", flow_rate)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "wells", wells)

    def plan(self, robot: RobotModel) -> list[Segment]:
        spec = tip_pipette(robot, self, self.mount).spec
        return [Move({robot.plunger_axis(self.mount): spec.blow_out},
                     self.flow_rate / spec.ul_per_mm)]

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        expelled, pipette.volume = pipette.volume, 0.0
        return {"volume_in_tip": 0.0, "volume_expelled": round(expelled, 6)}
