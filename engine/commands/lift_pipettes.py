"""``liftPipettes``: home every mount's Z axis (and the gantry) before a module moves.

As an OT-2 does before a heater-shaker shakes or opens its latch with a pipette beside
it, and before a thermocycler's lid opens or closes: the tips go up, out of the way of
the moving plate, latch or lid. Plungers stay where they are (a tip may hold liquid).
"""

from __future__ import annotations

from ..robot_model import RobotModel
from ..segments import HomeAxes, Segment
from .base import Command, Execution


class LiftPipettes(Command):
    """Home the mounts' Z axes, then with ``gantry`` X and Y, clear of ``module``."""

    __slots__ = ("gantry", "module")

    kind = "liftPipettes"
    execution = Execution.MOTION
    rewind_barrier = True  # an immediate pause after it returns the pipettes up here
    module: str
    gantry: bool

    def __init__(self, module: str, gantry: bool = False) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "gantry", gantry)

    def plan(self, robot: RobotModel) -> list[Segment]:
        segments: list[Segment] = [HomeAxes(robot.config.z_axes)]
        if self.gantry:
            segments.append(HomeAxes(robot.config.gantry_axes))
        return segments
