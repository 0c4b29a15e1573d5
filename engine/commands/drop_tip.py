"""``dropTip``: eject the attached tip."""

from __future__ import annotations

from ..robot_model import CommandError, RobotModel
from ..segments import Move, Segment
from .base import XYZ, Command, Execution, Result


class DropTip(Command):
    """Eject the attached tip at ``point`` (a tip rack well or the trash)."""

    __slots__ = ("mount", "point", "well")

    kind = "dropTip"
    reversible = False
    execution = Execution.MOTION
    mount: str
    point: XYZ
    well: str

    def __init__(self, mount: str, point: XYZ, well: str) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "well", well)

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
