"""``moveTo``: bring a pipette's tip end (or nozzle) to a point."""

from __future__ import annotations

from attrs import frozen

from ..robot_model import RobotModel
from ..segments import Segment
from .base import XYZ, Command, Execution


@frozen
class MoveTo(Command):
    """Move a mount's tip end (or nozzle) to a point, arcing over the deck unless direct."""

    kind = "moveTo"
    execution = Execution.MOTION
    mount: str
    point: XYZ
    well: str | None = None
    force_direct: bool = False
    minimum_z_height: float | None = None
    speed: float | None = None

    def plan(self, robot: RobotModel) -> list[Segment]:
        return robot.arc(self.mount, self.point, force_direct=self.force_direct,
                         minimum_z=self.minimum_z_height, speed=self.speed)
