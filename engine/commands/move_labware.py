"""``moveLabware``: a person moves a labware by hand while the run waits (an OT-2 has no
gripper)."""

from __future__ import annotations

from ..robot_model import RobotModel
from ..stacks import OFF_DECK
from .base import Command, Execution, Result


class MoveLabware(Command):
    """Park, pause with ``message`` until someone resumes, then take the labware as moved
    from ``from_slot`` to ``to_slot`` (either may be ``OFF_DECK``): moves plan over its
    top (``highest_z`` where it now is) from then on."""

    __slots__ = ("destination", "display_name", "footprint", "from_slot", "highest_z",
                 "labware", "load_name", "message", "to_slot")

    kind = "moveLabware"
    execution = Execution.CHECKPOINT
    reversible = False  # the deck has changed: never done twice
    labware: int  # which: the run's loadLabware commands counted from 0 (the fixed trash)
    load_name: str
    display_name: str
    from_slot: str
    to_slot: str
    destination: str  # where it goes, in words: ``slot 5``, ``Temperature Module GEN2 on
    # slot 3``, ``off the deck``
    highest_z: float
    message: str  # what the pause asks of a person
    footprint: tuple[float, float, float, float] | None  # what it covers where it goes:
    # its front-left and back-right corners (x, y), in deck coordinates; None off the deck

    def __init__(self, labware: int, load_name: str, display_name: str, from_slot: str,
                 to_slot: str, destination: str, highest_z: float, message: str,
                 footprint: tuple[float, float, float, float] | None = None) -> None:
        object.__setattr__(self, "labware", labware)
        object.__setattr__(self, "load_name", load_name)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "from_slot", from_slot)
        object.__setattr__(self, "to_slot", to_slot)
        object.__setattr__(self, "destination", destination)
        object.__setattr__(self, "highest_z", highest_z)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "footprint", footprint)

    def pause_message(self) -> str | None:
        return self.message

    def arriving_top(self) -> float | None:
        return self.highest_z

    def apply(self, robot: RobotModel) -> Result:
        robot.stacks.move(self.labware, self.to_slot)
        robot.labware_top(self.labware, None if self.to_slot == OFF_DECK else self.highest_z)
        # The wells the tips last drew from or dispensed into may have left, or another
        # labware stand there now: a tip caught between wells waits where it stopped.
        robot.liquid_xy.clear()
        return {}


class RemoveLabware(MoveLabware):
    """``del ctx.deck[slot]`` (apiLevel 2.15 on): the labware is off the deck from now on,
    with no pause, as in Opentrons (the protocol's bookkeeping; a person is told nothing).
    ``to_slot`` is ``OFF_DECK``. As no one was asked to take it away, it may still stand
    there: the pipettes go on travelling clear of its top (Opentrons forgets it)."""

    __slots__ = ()

    kind = "removeLabware"
    execution = Execution.INSTANT

    def apply(self, robot: RobotModel) -> Result:
        robot.stacks.move(self.labware, self.to_slot)
        return {}
