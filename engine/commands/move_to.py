"""``moveTo``: bring a pipette's tip end (or nozzle) to a point."""

from __future__ import annotations

from ..robot_model import RobotModel
from ..segments import Segment
from .base import XYZ, Command, Execution


class MoveTo(Command):
    """Move a mount's tip end (or nozzle) to a point, arcing over the deck unless direct."""

    __slots__ = ("force_direct", "minimum_z_height", "mount", "point", "speed", "well")

    kind = "moveTo"
    execution = Execution.MOTION
    mount: str
    point: XYZ
    well: str | None
    force_direct: bool
    minimum_z_height: float | None
    speed: float | None

    def __init__(self, mount: str, point: XYZ, well: str | None = None, force_direct: bool = False,
                 minimum_z_height: float | None = None, speed: float | None = None) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "force_direct", force_direct)
        object.__setattr__(self, "minimum_z_height", minimum_z_height)
        object.__setattr__(self, "speed", speed)

    def plan(self, robot: RobotModel) -> list[Segment]:
        return robot.arc(self.mount, self.point, force_direct=self.force_direct,
                         minimum_z=self.minimum_z_height, speed=self.speed)
