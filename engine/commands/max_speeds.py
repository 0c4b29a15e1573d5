"""``setMaxSpeeds``: cap the speed of some axes (``ctx.max_speeds``) for the moves after."""

from __future__ import annotations

from ..robot_model import CommandError, RobotModel
from .base import Command, Result


class SetMaxSpeeds(Command):
    """Cap each named axis at its speed (mm/s); an axis left out has no cap.

    Instant and reversible: it changes settings only, and setting them again is harmless.
    """

    __slots__ = ("speeds",)

    kind = "setMaxSpeeds"
    speeds: tuple[tuple[str, float], ...]

    def __init__(self, speeds: tuple[tuple[str, float], ...] = ()) -> None:
        object.__setattr__(self, "speeds", speeds)

    def apply(self, robot: RobotModel) -> Result:
        for axis, speed in self.speeds:
            if axis not in robot.config.axes:
                raise CommandError(f"this robot has no axis {axis!r} to cap")
            if not speed > 0:
                raise CommandError(f"the speed cap of axis {axis} must be positive, not {speed}")
        robot.max_speeds = dict(self.speeds)
        return {}
