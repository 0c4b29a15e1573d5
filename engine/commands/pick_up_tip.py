"""``pickUpTip``: press the nozzle into a tip and lift it out of the rack."""

from __future__ import annotations

from ..robot_model import TRAVEL_MARGIN_MM, CommandError, RobotModel
from ..segments import Move, Segment
from .base import XYZ, Command, Execution, Result

PICK_UP_PRESS_MM = 10.0
PICK_UP_SPEED = 30.0


class PickUpTip(Command):
    """Pick up the tip whose top is at ``point``."""

    __slots__ = ("mount", "point", "tip_length", "tips", "well")

    kind = "pickUpTip"
    reversible = False
    execution = Execution.MOTION
    mount: str
    point: XYZ
    well: str
    tip_length: float
    tips: int  # a multi-channel pipette takes several at once

    def __init__(self, mount: str, point: XYZ, well: str, tip_length: float, tips: int = 1) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "tip_length", tip_length)
        object.__setattr__(self, "tips", tips)

    def plan(self, robot: RobotModel) -> list[Segment]:
        pipette = robot.pipette(self.mount)
        if pipette.tip_length is not None:
            raise CommandError(f"the {self.mount} pipette already holds a tip")
        z_axis, plunger = robot.z_axis(self.mount), robot.plunger_axis(self.mount)
        top = robot.nozzle_z(self.mount, self.point[2])
        robot.check_reach(self.mount, {z_axis: top - PICK_UP_PRESS_MM})  # before it goes
        segments = robot.arc(self.mount, self.point, tip_length=0.0)
        segments.append(Move({z_axis: top - PICK_UP_PRESS_MM}, PICK_UP_SPEED))
        segments.append(Move({z_axis: min(top + self.tip_length + TRAVEL_MARGIN_MM,
                                          robot.config.axes[z_axis].max)}))
        segments.append(Move({plunger: pipette.spec.bottom}))
        return segments

    def may_hold_tip(self, done: int, plan: list[Segment]) -> bool:
        """Cut off after ``done`` segments of ``plan``: had the nozzle begun pressing into
        the tip (the last three segments: press, lift, plunger), so that it may hold it?"""
        return done >= len(plan) - 3

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        pipette.tip_length, pipette.volume = self.tip_length, 0.0
        return {}
