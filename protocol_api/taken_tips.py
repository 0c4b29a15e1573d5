"""The tips the tip racks hold on the robot, apart from tip tracking.

Tip tracking (``Labware.next_tip``, ``Well.has_tip``) chooses tips, as Opentrons chooses
them; it is not what the racks hold. ``reset_tipracks()`` marks every tip unused whether
or not it is there, a named well is picked up whether or not it is marked used, and from
apiLevel 2.14 a position a tip is put back in stays used. ``TakenTips`` follows the tips
themselves, so that a pick-up where the run left no tip is warned of: on a robot the
pipette finds nothing there and goes on with a bare nozzle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .labware import Well


class TakenTips:
    """The tip-rack positions this run has taken a tip from and put none back in, each
    with the protocol line (``file:line``, None if unknown) that took it; one for the
    run, shared by the pipettes.

    A position is empty from the pick-up that takes its tip (every position a nozzle
    takes one from) until a tip is put back into it (``return_tip``, or ``drop_tip``
    into that position), and then holds a used tip, with the line that put it back,
    until a pick-up takes it. Any pause the protocol asks for (``ctx.pause``, and
    ``move_labware``, which pauses for a person to move the labware) forgets them all:
    a person may refill any rack then, as ``ctx.pause("replace the tips")`` followed by
    ``reset_tipracks()`` says; a pause from outside the protocol (the door, a person, a
    remote client) is not counted, as the protocol asked for no refill there. A tip rack
    loaded later has all its tips (its positions are new ones). Only pick-ups, drops and
    pauses come here, never a liquid step.
    """

    __slots__ = ("_put_back", "_taken")

    def __init__(self) -> None:
        self._taken: dict[Well, str | None] = {}
        self._put_back: dict[Well, str | None] = {}  # a used tip there, and the line

    def empty(self, positions: Iterable[Well]) -> list[tuple[Well, str | None]]:
        """Those of ``positions`` (a rack's own wells) that hold no tip, each with the
        protocol line that took its tip."""
        taken = self._taken
        return [(well, taken[well]) for well in positions if well in taken]

    def used(self, positions: Iterable[Well]) -> list[tuple[Well, str | None]]:
        """Those of ``positions`` that hold a tip put back (a used one), each with the
        protocol line that put it back."""
        put_back = self._put_back
        return [(well, put_back[well]) for well in positions if well in put_back]

    def take(self, positions: Iterable[Well], line: str | None) -> None:
        """A pick-up at ``line`` took the tips of ``positions``; one already empty keeps
        the line that emptied it."""
        for well in positions:
            self._taken.setdefault(well, line)
            self._put_back.pop(well, None)

    def put_back(self, positions: Iterable[Well], line: str | None = None, *,
                 used: bool = True) -> None:
        """Tips were dropped into ``positions`` at ``line``: they hold one again, a used
        one unless ``used`` is False (a tip that touched no liquid, only moved)."""
        for well in positions:
            self._taken.pop(well, None)
            if used:
                self._put_back[well] = line
            else:
                self._put_back.pop(well, None)

    def refilled(self) -> None:
        """The run paused for a person, who may have refilled any rack."""
        self._taken.clear()
        self._put_back.clear()
