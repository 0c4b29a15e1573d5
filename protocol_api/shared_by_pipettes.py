"""What the pipettes of one protocol share: one gantry, one fixed trash, one set of tip
racks, one step tracker. The context makes them once (``SharedByPipettes``) and hands them
to each pipette it loads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .taken_tips import TakenTips
from .types import Location, Point

if TYPE_CHECKING:
    from .labware import Well
    from .steps import StepTracker

TRASH_DROP_MARGIN_MM = 37.5
"""How far from the fixed trash's left or right edge such a tip is let go: half the X
span of an OT-2 pipette with its tips, a margin included (Opentrons' figure)."""


class LastMove:
    """Where the last pipette move of the protocol went, and which mount made it.

    The OT-2's pipettes share one gantry: once one pipette moves, the other is no longer
    where it last went. A liquid step with no location acts where this says (see
    ``InstrumentContext._here``); homing the pipettes forgets it. ``homes`` counts the
    times every axis was homed, the plungers with the rest (``ctx.home()``). ``lifted``:
    the pipette that made it has homed its own Z since (``pipette.home()``): a step in
    place goes back down there first, as in Opentrons. ``cache``: what Opentrons' location
    cache holds from apiLevel 2.14 (``ProtocolContext.location_cache``): the last move's
    location, kept through a home, but none after a tip was dropped (unless at a Location
    the protocol gave).
    """

    __slots__ = ("cache", "homes", "lifted", "location", "mount")

    def __init__(self) -> None:
        self.location: Location | None = None
        self.cache: Location | None = None
        self.mount: str | None = None
        self.homes = 0
        self.lifted = False

    def moved(self, location: Location, mount: str) -> None:
        """A pipette on ``mount`` went to ``location``."""
        self.location, self.mount, self.lifted = location, mount, False
        self.cache = location

    def dropped(self, location: Location, mount: str, given: Location | None) -> None:
        """A pipette on ``mount`` dropped its tip at ``location``, ``given`` as a Location
        by the protocol (None: a well, the trash or no location)."""
        self.moved(location, mount)
        self.cache = given

    def forget(self, *, plungers: bool = False) -> None:
        """The pipettes homed (the robot did, or they were lifted clear of a module):
        no pipette is anywhere the protocol named; ``plungers``: they homed too."""
        self.location = self.mount = None
        self.lifted = False
        if plungers:
            self.homes += 1

    def slot(self) -> str | None:
        """The deck slot the last move went to; None if none or unknown."""
        return None if self.location is None else self.location.labware.first_parent()


class TrashDrops:
    """Which side of the fixed trash the next tip goes to: right of its centre first, then
    left, in turn, whichever pipette drops it (from apiLevel 2.15, as on an OT-2)."""

    __slots__ = ("_right_next",)

    def __init__(self) -> None:
        self._right_next = True

    def next_drop(self, trash: Well) -> Location:
        """Where the next tip dropped into ``trash`` (the fixed trash's well) is let go:
        its top, ``TRASH_DROP_MARGIN_MM`` in from one edge (the centre if narrower)."""
        half = (trash.length or 0.0) / 2
        offset = max(half - TRASH_DROP_MARGIN_MM, 0.0)
        side, self._right_next = (1 if self._right_next else -1), not self._right_next
        return trash.top().move(Point(side * offset, 0.0, 0.0))


class SharedByPipettes:
    """The context's objects every pipette it loads works with: the step tracker its calls
    go through, where the gantry last went, the next side of the fixed trash, the tips the
    racks hold, and the robot's mounts (mount -> (Z axis, plunger axis); None: an OT-2's
    left and right, axes unknown)."""

    __slots__ = ("last_move", "mounts", "steps", "taken_tips", "trash_drops")

    def __init__(self, steps: StepTracker, mounts: Mapping[str, tuple[str, str]] | None,
                 ) -> None:
        self.steps = steps
        self.mounts = mounts
        self.last_move = LastMove()
        self.trash_drops = TrashDrops()
        self.taken_tips = TakenTips()
