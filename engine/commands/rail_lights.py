"""``setRailLights``: switch the rail lights on or off."""

from __future__ import annotations

from ..robot_model import RobotModel
from .base import Command, Result


class SetRailLights(Command):
    """Switch the rail lights on or off: instant, and safe to set again on a rewind."""

    __slots__ = ("on",)

    kind = "setRailLights"
    on: bool

    def __init__(self, on: bool) -> None:
        object.__setattr__(self, "on", on)

    def apply(self, robot: RobotModel) -> Result:
        robot.rail_lights = self.on
        return {"rail_lights_on": self.on}
