"""``prepareToAspirate``: bring an empty tip's plunger to the bottom, where it is.

A protocol asks for it (``prepare_to_aspirate()``) to choose where the plunger moves: an
aspirate into an empty tip whose plunger is elsewhere otherwise lifts the tip out first.
"""

from __future__ import annotations

from ..robot_model import CommandError, RobotModel
from ..segments import Move, Segment
from .base import Command, Execution
from .liquid import tip_pipette


class PrepareToAspirate(Command):
    """Move the plunger of ``mount``'s empty tip to the bottom, without moving the tip."""

    __slots__ = ("mount",)

    kind = "prepareToAspirate"
    execution = Execution.MOTION
    in_place = True
    mount: str

    def __init__(self, mount: str) -> None:
        object.__setattr__(self, "mount", mount)

    def plan(self, robot: RobotModel) -> list[Segment]:
        pipette = tip_pipette(robot, self, self.mount)
        if pipette.volume > 1e-9:
            raise CommandError(f"cannot prepare to aspirate: the {self.mount} pipette's tip "
                               f"holds {pipette.volume:g} µL")
        return [Move({robot.plunger_axis(self.mount): pipette.spec.bottom})]
