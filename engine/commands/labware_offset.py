"""``setLabwareOffset``: a labware's wells are shifted from where its definition puts
them (``set_offset``, ``set_calibration``)."""

from __future__ import annotations

from ..robot_model import RobotModel
from .base import XYZ, Command, Result


class SetLabwareOffset(Command):
    """Labware ``labware`` in ``slot`` now stands ``offset`` mm from its default place,
    its top at ``highest_z``: the pipettes travel clear of that top from then on (a
    lowered labware lets them travel lower, if it was the tallest)."""

    __slots__ = ("display_name", "highest_z", "labware", "offset", "slot")

    kind = "setLabwareOffset"
    labware: int  # which: the run's loadLabware commands counted from 0 (the fixed trash)
    display_name: str
    slot: str
    offset: XYZ
    highest_z: float

    def __init__(self, labware: int, display_name: str, slot: str, offset: XYZ,
                 highest_z: float) -> None:
        object.__setattr__(self, "labware", labware)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "slot", slot)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "highest_z", highest_z)

    def apply(self, robot: RobotModel) -> Result:
        robot.labware_top(self.labware, self.highest_z)
        return {}
