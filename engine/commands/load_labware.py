"""``loadLabware``: place a labware on the deck (no motion)."""

from __future__ import annotations

from attrs import frozen

from ..robot_model import RobotModel
from .base import XYZ, Command, Result


@frozen
class LoadLabware(Command):
    """Place a labware on the deck; moves plan over its top from now on."""

    kind = "loadLabware"
    load_name: str
    slot: str
    display_name: str
    highest_z: float
    drop_point: XYZ | None = None  # where tips go, when this labware is a trash

    def apply(self, robot: RobotModel) -> Result:
        robot.deck_highest = max(robot.deck_highest, self.highest_z)
        if self.drop_point is not None:
            robot.trash_point = self.drop_point
        return {}
