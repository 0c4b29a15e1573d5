"""Partial tip pickup on an OT-2 8-channel pipette (``configure_nozzle_layout``).

A layout picks up tips with some of the nozzles only: ``SINGLE`` with the back nozzle
(``start="A1"``) or the front one (``"H1"``), or ``PARTIAL_COLUMN`` from the front nozzle
back to ``end`` (``start="H1", end="E1"``: four tips). The *primary* nozzle (``start``)
is the one a location names: it goes where the protocol says, and the others follow.
What Opentrons 8.8.2 allows, refuses and chooses is followed here, with its words:

- the tip a layout takes by itself: column by column from the left, top to bottom for a
  front start and bottom to top for a back start, the first place where the active
  nozzles find a tip each and no inactive nozzle would come down onto a tip;
- a step that takes the tips to a well is refused where the pipette (the footprint its
  definition gives) would leave the deck's reach front or back, or come down onto
  something in a neighbouring slot at least as high as the bottom of its nozzles
  (``check_motion``). Into the trash the pipette goes as with all its nozzles, unchecked,
  as in Opentrons; labrun checks a ``move_to`` into a well too, which Opentrons does not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from hardware.frozen import Frozen

from .deck import SLOT_SIZE, around, item_top
from .errors import APIVersionError, InstrumentError, ProtocolError, UnsupportedAPIError
from .labware import Labware
from .types import APIVersion, Point

if TYPE_CHECKING:
    from .deck import Deck
    from .labware import Well
    from .pipettes import PipetteSpec


class NozzleLayout(enum.Enum):
    """The nozzle layouts of ``configure_nozzle_layout``, as Opentrons names them."""

    COLUMN = "COLUMN"
    PARTIAL_COLUMN = "PARTIAL_COLUMN"
    SINGLE = "SINGLE"
    ROW = "ROW"
    QUADRANT = "QUADRANT"
    ALL = "ALL"


COLUMN: Final = NozzleLayout.COLUMN
PARTIAL_COLUMN: Final = NozzleLayout.PARTIAL_COLUMN
SINGLE: Final = NozzleLayout.SINGLE
ROW: Final = NozzleLayout.ROW
ALL: Final = NozzleLayout.ALL

PARTIAL_API = APIVersion(2, 20)
"""From this apiLevel ``SINGLE`` and ``PARTIAL_COLUMN`` (``ALL`` from 2.16)."""
PRIMARY_NOZZLES = ("A1", "H1", "A12", "H12")
"""The starting nozzles Opentrons names (a 96-channel's corners among them)."""

REACH_FRONT_Y_MM = 31.89
REACH_BACK_Y_MM = 347.5 - 35.91
"""The back of the pipette's footprint may not come in front of the first figure, nor its
front behind the second: the front and back of what an OT-2's gantry reaches with a
partial layout (Opentrons' figures)."""


class Layout(Frozen):
    """The nozzles a partial layout uses: ``primary`` first, then the others in order
    from it; ``offset`` is from the primary nozzle to the first (A1), which the robot's
    commands name."""

    __slots__ = ("active", "offset", "primary", "style")

    style: NozzleLayout
    primary: str
    active: tuple[tuple[str, Point], ...]  # each active nozzle from the primary
    offset: Point  # from the primary nozzle to A1 (x, y; z 0)

    def __init__(self, style: NozzleLayout, primary: str,
                 active: tuple[tuple[str, Point], ...], offset: Point) -> None:
        object.__setattr__(self, "style", style)
        object.__setattr__(self, "primary", primary)
        object.__setattr__(self, "active", active)
        object.__setattr__(self, "offset", offset)

    @property
    def count(self) -> int:
        """How many nozzles pick up tips."""
        return len(self.active)

    @property
    def step(self) -> int:
        """From the primary nozzle's rack row to the next nozzle's: -1, toward the back
        (row A), from a front start (H1); +1 from a back start."""
        return -1 if self.primary.startswith("H") else 1

    def rows(self, row: int, channels: int) -> tuple[list[int], list[int]]:
        """The rack rows under the nozzles that take tips and under the others, with the
        primary at ``row`` (rows off the rack included)."""
        under = [row + self.step * k for k in range(channels)]
        return under[:self.count], under[self.count:]


def plan_layout(spec: PipetteSpec, style: object, start: str | None, end: str | None,
                front_right: str | None, back_left: str | None, *, api_version: APIVersion,
                holds_tip: bool) -> Layout | None:
    """The layout ``configure_nozzle_layout`` asks for (None: all nozzles), or the error
    Opentrons gives, in its order of checks."""
    if style is None:  # Opentrons documents None beside the layouts: all the nozzles
        if api_version < PARTIAL_API:  # where Opentrons fails on it ('NoneType' ... 'value')
            raise APIVersionError(f"configure_nozzle_layout: style None (all the nozzles) "
                                  f"needs apiLevel {PARTIAL_API} or later; this protocol's "
                                  f"apiLevel is {api_version}; give ALL")
        style = NozzleLayout.ALL
    if not isinstance(style, NozzleLayout):
        # Opentrons quietly takes a string as ALL: eight tips where one was meant
        raise ProtocolError(f"configure_nozzle_layout: style must be one of "
                            f"opentrons.protocol_api's SINGLE, PARTIAL_COLUMN or ALL, not "
                            f"{style!r}")
    if style is NozzleLayout.QUADRANT:
        raise UnsupportedAPIError("configure_nozzle_layout: Nozzle layout configuration of "
                                  "style QUADRANT is currently unsupported.")
    if style not in (NozzleLayout.COLUMN, NozzleLayout.ALL) and api_version < PARTIAL_API:
        raise APIVersionError(f"configure_nozzle_layout: the {style.value} layout needs "
                              f"apiLevel {PARTIAL_API} or later; this protocol's apiLevel is "
                              f"{api_version}")
    if style in (NozzleLayout.COLUMN, NozzleLayout.ROW):
        raise InstrumentError(f"configure_nozzle_layout: {style.value} configuration is only "
                              "supported on 96-Channel pipettes.")
    if style is NozzleLayout.ALL:
        _check_pipette(spec, holds_tip)
        return None
    if start is None:
        raise ProtocolError(f"configure_nozzle_layout: Cannot configure a nozzle layout of "
                            f"style {style.value} without a starting nozzle.")
    if start not in PRIMARY_NOZZLES:
        raise ProtocolError(f"configure_nozzle_layout: Starting nozzle specified is not one "
                            f"of {list(PRIMARY_NOZZLES)}.")
    if style is NozzleLayout.SINGLE:
        if end is not None or front_right is not None or back_left is not None:
            raise ProtocolError("configure_nozzle_layout: Parameters 'end', 'front_right' "
                                "and 'back_left' cannot be used with the SINGLE nozzle "
                                "configuration.")
        _check_pipette(spec, holds_tip)
        names = [start]
    else:
        if spec.channels != 8:
            raise InstrumentError("configure_nozzle_layout: Partial column configuration is "
                                  "only supported on 8-Channel pipettes.")
        names = _partial_column(spec, start, end, front_right, back_left)
        _check_pipette(spec, holds_tip)
    nozzles = dict(spec.nozzles)
    if start not in nozzles:
        raise InstrumentError(f"configure_nozzle_layout: {spec.display_name} has no nozzle "
                              f"{start}; an OT-2 8-channel starts at A1 (the back) or H1 "
                              "(the front)")
    here = nozzles[start]
    first = spec.nozzles[0][1]
    active = tuple((name, Point(nozzles[name][0] - here[0], nozzles[name][1] - here[1], 0.0))
                   for name in names)
    return Layout(style, start, active, Point(first[0] - here[0], first[1] - here[1], 0.0))


def _check_pipette(spec: PipetteSpec, holds_tip: bool) -> None:
    if holds_tip:
        raise InstrumentError(f"configure_nozzle_layout: {spec.display_name} holds a tip; "
                              "a layout is changed only with no tips on (drop them first)")
    if spec.channels == 1:
        raise InstrumentError("configure_nozzle_layout: Cannot configure nozzle layout with "
                              "a single channel pipette.")


def _partial_column(spec: PipetteSpec, start: str, end: str | None, front_right: str | None,
                    back_left: str | None) -> list[str]:
    """The nozzles from ``start`` (H1, the front) back to ``end``."""
    if end is None:
        raise ProtocolError("configure_nozzle_layout: Partial column configurations require "
                            "the 'end' parameter.")
    if start[0] in end:
        raise ProtocolError("configure_nozzle_layout: The 'start' and 'end' parameters of a "
                            "partial column configuration cannot be in the same row.")
    last_row = "A" if start.startswith("H") else "H"
    if last_row in end:
        raise ProtocolError(f"configure_nozzle_layout: A partial column configuration with "
                            f"'start'={start} cannot have its 'end' parameter be in row "
                            f"{last_row}. Use `ALL` configuration to utilize all nozzles.")
    if front_right is not None or back_left is not None:
        raise ProtocolError("configure_nozzle_layout: Parameters 'front_right' and "
                            "'back_left' cannot be used with the PARTIAL_COLUMN "
                            "configuration.")
    order = [name for name, _ in spec.nozzles]  # back to front
    if start != "H1" or end not in order:
        raise InstrumentError(f"configure_nozzle_layout: an OT-2 8-channel's partial column "
                              f"runs from H1 (the front nozzle) back to one of B1-G1, not "
                              f"from {start} to {end}")
    return order[order.index(end):order.index(start) + 1][::-1]


def tips_taken(layout: Layout, rack: Labware, well: Well) -> list[Well]:
    """The tips the active nozzles take with the primary at ``well`` (those in the rack)."""
    column = next(col for col in rack.columns() if well in col)
    active, _ = layout.rows(column.index(well), layout.count)
    return [column[r] for r in active if 0 <= r < len(column)]


def idle_tips(layout: Layout, channels: int, rack: Labware, well: Well) -> list[Well]:
    """The tips under the nozzles that take none, with the primary at ``well``."""
    column = next(col for col in rack.columns() if well in col)
    _, idle = layout.rows(column.index(well), channels)
    return [column[r] for r in idle if 0 <= r < len(column) and column[r].has_tip]


def next_tip(layout: Layout, channels: int, racks: Iterable[Labware]) -> Well | None:
    """Where the primary nozzle picks up by itself, as Opentrons chooses: column by
    column from the left, each from the back down for a front start (H1), from the front
    up for a back start (A1); the first place where every active nozzle finds a tip and
    no inactive nozzle comes down onto one. None when no rack has such a place."""
    for rack in racks:
        for column in rack.columns():
            size = len(column)
            for row in (range(size) if layout.step < 0 else range(size - 1, -1, -1)):
                active, idle = layout.rows(row, channels)
                if (all(0 <= r < size and column[r].has_tip for r in active)
                        and not any(0 <= r < size and column[r].has_tip for r in idle)):
                    return column[row]
    return None


def check_motion(op: str, layout: Layout, spec: PipetteSpec, primary: Point, tip_length: float,
                 labware: Labware, deck: Deck) -> None:
    """Refuse a step that takes the primary nozzle's tip end to ``primary`` in
    ``labware`` where the pipette would leave the deck's reach front or back, or come
    down onto something in a slot beside the labware's at least as high as the bottom of
    its nozzles (``tip_length`` above ``primary``), as Opentrons refuses it."""
    nozzle = dict(spec.nozzles)[layout.primary]
    mount_x, mount_y = primary.x - nozzle[0], primary.y - nozzle[1]
    (left, back, _), (right, front, _) = spec.bounding_box
    left, right, back, front = mount_x + left, mount_x + right, mount_y + back, mount_y + front
    if back < REACH_FRONT_Y_MM or front > REACH_BACK_Y_MM:
        raise InstrumentError(f"{op}: Requested motion with the {layout.primary} nozzle "
                              "partial configuration is outside of robot bounds for the "
                              "pipette.")
    bottom = primary.z + tip_length
    # A thermocycler's body behind its plate (slots 10 and 11) counts too, as Opentrons
    # counts it: it stands as high as the module's top.
    for slot in around(labware.slot):
        height = slot_top(deck, slot)
        if height is None:
            continue
        origin = deck.position_for(slot).point
        if (left < origin.x + SLOT_SIZE[0] and origin.x < right
                and front < origin.y + SLOT_SIZE[1] and origin.y < back
                and height >= bottom):
            raise InstrumentError(
                f"{op}: Moving to {labware.shown_name} in slot {labware.slot} with "
                f"{layout.primary} nozzle partial configuration will result in collision "
                f"with items in deck slot {slot}.")


def slot_top(deck: Deck, slot: str) -> float | None:
    """The top of what stands in ``slot``: its labware stack, or a module and what it
    holds (None: nothing there, or the fixed trash, which Opentrons counts as flat)."""
    item = deck.occupant(slot)
    if item is None or item is deck.trash:
        return None
    return item_top(item)


__all__ = ["ALL", "COLUMN", "PARTIAL_COLUMN", "ROW", "SINGLE", "Layout", "NozzleLayout",
           "check_motion", "next_tip", "plan_layout", "tips_taken"]
