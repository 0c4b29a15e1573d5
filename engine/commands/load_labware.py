"""``loadLabware``: place a labware on the deck (no motion)."""

from __future__ import annotations

from typing import Any

from ..robot_model import RobotModel
from ..stacks import OFF_DECK
from .base import XYZ, Command, Result


class LoadLabware(Command):
    """Place a labware on the deck; moves plan over its top from now on."""

    __slots__ = ("definition_name", "display_name", "drop_point", "highest_z", "load_name",
                 "slot", "trash_bin", "version", "wells")

    kind = "loadLabware"
    load_name: str
    slot: str
    display_name: str
    highest_z: float
    drop_point: XYZ | None  # where tips go, when this labware is a trash
    # A custom labware's wells as its definition places them (name -> x, y, shape, size,
    # capacity), so that a reader of the record can draw it; None for a standard one,
    # which a reader looks up by its load name.
    wells: dict[str, dict[str, Any]] | None
    # A standard labware's definition version (which one of its load name was loaded: a
    # reader draws that one); None for a custom one, and where it is not known.
    version: int | None
    # A custom labware's name in its definition (``metadata.displayName``), which a reader
    # shows it by, as it shows a standard one by its own; None for a standard one.
    definition_name: str | None
    # The fixed trash as a bin (apiLevel 2.16 on), with no wells for a reader to name.
    trash_bin: bool

    def __init__(self, load_name: str, slot: str, display_name: str, highest_z: float,
                 drop_point: XYZ | None = None,
                 wells: dict[str, dict[str, Any]] | None = None,
                 version: int | None = None, definition_name: str | None = None,
                 trash_bin: bool = False) -> None:
        object.__setattr__(self, "load_name", load_name)
        object.__setattr__(self, "slot", slot)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "highest_z", highest_z)
        object.__setattr__(self, "drop_point", drop_point)
        object.__setattr__(self, "wells", wells)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "definition_name", definition_name)
        object.__setattr__(self, "trash_bin", trash_bin)

    def apply(self, robot: RobotModel) -> Result:
        robot.stacks.load(self.slot, self.display_name)
        if self.slot == OFF_DECK:  # nowhere a move goes over, until it is moved on
            return {}
        robot.labware_top(len(robot.stacks.slots) - 1, self.highest_z)
        if self.drop_point is not None:
            robot.trash_point = self.drop_point
        return {}
