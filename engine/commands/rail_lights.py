"""``setRailLights``: switch the rail lights on or off."""

from __future__ import annotations

from attrs import frozen

from ..robot_model import RobotModel
from .base import Command, Result


@frozen
class SetRailLights(Command):
    """Switch the rail lights on or off: instant, and safe to set again on a rewind."""

    kind = "setRailLights"
    on: bool

    def apply(self, robot: RobotModel) -> Result:
        robot.rail_lights = self.on
        return {"rail_lights_on": self.on}
