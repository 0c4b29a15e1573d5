"""``dropTip``: eject the attached tip."""

from __future__ import annotations

from attrs import frozen

from ..robot_model import CommandError, RobotModel
from ..segments import Move, Segment
from .base import XYZ, Command, Execution, Result


@frozen
class DropTip(Command):
    """Eject the attached tip at ``point`` (a tip rack well or the trash)."""

    kind = "dropTip"
    reversible = False
    execution = Execution.MOTION
    mount: str
    point: XYZ
    well: str

    def plan(self, robot: RobotModel) -> list[Segment]:
        pipette = robot.pipette(self.mount)
        if pipette.tip_length is None:
            raise CommandError(f"the {self.mount} pipette has no tip to drop")
        plunger = robot.plunger_axis(self.mount)
        segments = robot.arc(self.mount, self.point)
        segments.append(Move({plunger: pipette.spec.drop_tip}))
        segments.append(Move({plunger: pipette.spec.bottom}))
        return segments

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        pipette.tip_length, pipette.volume = None, 0.0
        return {}
