"""``touchTip``: touch the tip to the four sides of a well to shed droplets."""

from __future__ import annotations

from ..robot_model import RobotModel
from ..segments import Segment
from .base import XYZ, Command, Execution
from .liquid import tip_pipette


class TouchTip(Command):
    """Go to ``point`` (the well's centre at touch height), then touch +x, -x, +y, -y
    at ``reach_x``/``reach_y`` mm from it, at ``speed`` mm/s, and come back to the centre;
    ``wells``: those the other nozzles of a multi-channel pipette touch the same way;
    ``skip_wall``: ``"right"`` (+x) or ``"left"`` (-x), a wall left untouched, as
    Opentrons' engine leaves it beside a module or at the deck's right side.

    Irreversible: the tip touches the well's walls and leaves droplets there.
    """

    __slots__ = ("mount", "point", "reach_x", "reach_y", "skip_wall", "speed", "well", "wells")

    kind = "touchTip"
    reversible = False
    execution = Execution.MOTION
    mount: str
    point: XYZ
    reach_x: float
    reach_y: float
    speed: float
    well: str | None
    wells: tuple[str, ...]
    skip_wall: str | None

    def __init__(self, mount: str, point: XYZ, reach_x: float, reach_y: float, speed: float,
                 well: str | None = None, wells: tuple[str, ...] = (),
                 skip_wall: str | None = None) -> None:
        if skip_wall not in (None, "right", "left"):
            raise ValueError(f"touchTip: skip_wall is 'right', 'left' or None, not {skip_wall!r}")
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "reach_x", reach_x)
        object.__setattr__(self, "reach_y", reach_y)
        object.__setattr__(self, "speed", speed)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "wells", wells)
        object.__setattr__(self, "skip_wall", skip_wall)

    def plan(self, robot: RobotModel) -> list[Segment]:
        tip_pipette(robot, self, self.mount)
        x, y, z = self.point
        segments = robot.arc(self.mount, self.point)
        sides = {"right": (self.reach_x, 0.0), "left": (-self.reach_x, 0.0)}
        sides.pop(self.skip_wall or "", None)
        for dx, dy in (*sides.values(), (0.0, self.reach_y), (0.0, -self.reach_y),
                       (0.0, 0.0)):
            segments += robot.arc(self.mount, (x + dx, y + dy, z), force_direct=True,
                                  speed=self.speed)
        return segments
