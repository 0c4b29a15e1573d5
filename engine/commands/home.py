"""``home``: home some axes, or all of them."""

from __future__ import annotations

from ..robot_model import RobotModel
from ..segments import HomeAxes, Segment
from .base import Command, Execution


class Home(Command):
    """Home the given axes (every axis when None)."""

    __slots__ = ("axes",)

    kind = "home"
    execution = Execution.MOTION
    axes: tuple[str, ...] | None

    def __init__(self, axes: tuple[str, ...] | None = None) -> None:
        object.__setattr__(self, "axes", axes)

    def plan(self, robot: RobotModel) -> list[Segment]:
        axes = self.axes if self.axes is not None else tuple(robot.config.axes)
        return [HomeAxes(tuple(axes))]
