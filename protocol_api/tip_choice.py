"""Which tip a pick-up takes, as Opentrons chooses it: the next one tip tracking finds in a
pipette's tip racks (from its starting tip on; a whole column for a multi-channel, or a
place for a partial nozzle layout), or the one a protocol names; with the refusals and
warnings that say why a pick-up cannot be, or would go wrong on a robot.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InstrumentError, TipError, listed
from .labware import Labware, OutOfTipsError, Well, is_tiprack, own_well
from .nozzles import Layout, idle_tips, next_tip
from .types import Location


def tip_rack_list(racks: object) -> list[Labware]:
    """``tip_racks`` as given to a pipette: a list of tip racks (None: none), as a new
    list; InstrumentError saying what is wrong otherwise."""
    if racks is None:
        return []
    if isinstance(racks, Labware):
        raise InstrumentError(f"tip_racks must be a list: tip_racks=[rack], not the rack "
                              f"itself ({racks.shown_name} in slot {racks.slot})")
    if isinstance(racks, (str, bytes)) or not hasattr(racks, "__iter__"):
        raise InstrumentError(f"tip_racks must be a list of tip racks, not {racks!r}")
    given = list(racks)
    for rack in given:
        if not isinstance(rack, Labware) or not is_tiprack(rack):
            what = (f"the {rack.shown_name} in slot {rack.slot}"
                    if isinstance(rack, Labware) else repr(rack))
            raise InstrumentError(f"tip_racks must be tip racks; {what} is not")
    return given


def racks_from(racks: Sequence[Labware], start: object) -> tuple[list[Labware], Well | None]:
    """The tip racks to search, as Opentrons does: from the starting tip's rack on (all of
    them without a starting tip), and that tip."""
    if start is None:
        return list(racks), None
    for index, rack in enumerate(racks):
        if isinstance(start, Well) and start.parent is rack:
            return list(racks[index:]), start
    raise TipError(f"pick_up_tip: the starting_tip {start!r} is not a well of this "
                   "pipette's tip_racks")


def next_tip_in(racks: Sequence[Labware], start: Well | None, channels: int,
                layout: Layout | None) -> Well:
    """The tip a pick-up with no location takes from ``racks`` (``racks_from``): the first
    unused one (a column of ``channels``), or the partial ``layout``'s next place;
    ``OutOfTipsError`` saying what is left when there is none."""
    if layout is not None:
        return partial_tip(layout, channels, racks, start)
    for rack in racks:
        well = rack.next_tip(channels, start if start is not None and start.parent is rack
                             else None)
        if well is not None:
            return well
    after = f" from the starting_tip {start.well_name} on" if start else ""
    left = tips_left(racks, start)
    if left and channels > 1:  # single tips left, but no full column
        raise OutOfTipsError(
            f"pick_up_tip: out of tips for this {channels}-channel pipette; no column{after} "
            f"in {rack_names(racks)} still holds {channels} unused tips (it takes a whole "
            f"column), though {left} single tip(s) are left")
    raise every_tip_used(racks, after)


def named_tip(location: object, channels: int, layout: Layout | None) -> Well:
    """The tip a pick-up at ``location`` takes: a tip rack's next one (the rack, or a point
    of it), or the well named (a ``Location`` in it too); ``TipError`` for anything else."""
    if isinstance(location, Labware):
        if not is_tiprack(location):
            raise TipError(f"pick_up_tip: {location} is not a tip rack")
        if layout is not None:
            return partial_tip(layout, channels, [location], None)
        well = location.next_tip(channels)
        if well is None:
            raise every_tip_used([location])
        return well
    if isinstance(location, Location):
        if location.labware.is_labware:  # a rack's point: its next tip, as in Opentrons
            return named_tip(location.labware.as_labware(), channels, layout)
        if not location.labware.is_well:
            raise TipError("pick_up_tip: the location must be a well of a tip rack")
        location = location.labware.as_well()
    if isinstance(location, list | tuple):  # a column or a row: taken for a well
        first = location[0] if location else None
        if isinstance(first, Well) and not is_tiprack(first.parent):
            plate = first.parent
            raise TipError(f"pick_up_tip: {plate.load_name} in slot {plate.slot} is not "
                           f"a tip rack; give one well of a tip rack, not a list of "
                           f"{len(location)} wells of {plate.load_name}")
        hint = (f"; a multi-channel takes the tips below the well it is given: give "
                f"{first.well_name}" if channels > 1 else
                f", such as {first.well_name}") if isinstance(first, Well) else ""
        raise TipError(f"pick_up_tip: give one well of a tip rack{hint}, not a list of "
                       f"{len(location)}")
    if not isinstance(location, Well) or not is_tiprack(location.parent):
        raise TipError(f"pick_up_tip: {location!r} is not a well of a tip rack")
    return own_well(location)  # a protocol's Well subclass: the rack's own position


def partial_tip(layout: Layout, channels: int, racks: Sequence[Labware],
                start: Well | None) -> Well:
    """The tip a partial layout picks up by itself (``nozzles.next_tip``)."""
    if start is not None:
        raise TipError("pick_up_tip: Automatic tip tracking is not available when using "
                       "a partial pipette nozzle configuration and "
                       "InstrumentContext.starting_tip. Switch to a full configuration "
                       "or set starting_tip to None.")
    well = next_tip(layout, channels, racks)
    if well is None:
        names = rack_names(racks) or "no rack"
        hint = ("" if racks else " (configure_nozzle_layout replaces the tip racks: "
                "give it tip_racks=)")
        raise OutOfTipsError(
            f"pick_up_tip: out of tips for the {layout.style.value} layout from "
            f"{layout.primary}: {names} has no place where its {layout.count} active "
            f"nozzle(s) each find a tip and no other nozzle comes down onto one{hint}")
    return well


def every_tip_used(racks: Sequence[Labware], after: str = "") -> OutOfTipsError:
    """The refusal of a pick-up whose tip racks are empty (``after``: from which tip on)."""
    return OutOfTipsError(f"pick_up_tip: out of tips; every tip{after} in "
                          f"{rack_names(racks)} has been used")


def rack_names(racks: Sequence[Labware]) -> str:
    """The tip racks as a refusal names them: load name and slot, which tell alike racks
    apart."""
    return ", ".join(f"{r.load_name} in slot {r.slot}" for r in racks)


def tips_left(racks: Sequence[Labware], start: Well | None) -> int:
    """How many unused tips ``racks`` hold, from ``start`` on in its rack (column order)."""
    left = 0
    for rack in racks:
        wells = rack.wells()
        if start is not None and start.parent is rack:
            wells = wells[wells.index(start):]
        left += sum(1 for well in wells if well.has_tip)
    return left


def down_the_column(well: Well, count: int) -> list[Well]:
    """``well`` and the wells after it down its column, ``count`` in all if the column
    has them: the positions under the nozzles of a pipette's full layout there."""
    column = next(col for col in well.parent.columns() if well in col)
    start = column.index(well)
    return column[start:start + count]


def partial_pick_warnings(layout: Layout, channels: int, rack: Labware, well: Well,
                          taken: int) -> list[str]:
    """The warnings of a named tip where the layout's nozzles find fewer tips than they
    are, or where a nozzle that takes none comes down onto a tip (it would take it too on
    a robot; Opentrons neither refuses nor tracks it)."""
    warnings = []
    if taken < layout.count:
        warnings.append(f"pick_up_tip: at {well.well_name} only {taken} of the layout's "
                        f"{layout.count} nozzles find a place in {rack.load_name}; the "
                        f"pipette takes {taken} tip(s)")
    idle = idle_tips(layout, channels, rack, well)
    if idle:
        names = ", ".join(tip.well_name for tip in idle)
        warnings.append(f"pick_up_tip: at {well.well_name} nozzles that take no tip come "
                        f"down onto the tips in {names}; on a robot they would be picked "
                        "up too (tip tracking marks only the layout's)")
    return warnings


def no_tip_warning(empty: Sequence[tuple[Well, str | None]], taken: int) -> str:
    """The warning of a pick-up at rack positions whose tips the run took and put none
    back in since its last pause (``TakenTips``: each with the line that took it): on a
    robot the nozzles over them find nothing, and go on bare. ``taken``: the positions
    the pick-up takes from."""
    first = empty[0][0]
    names = [well.well_name for well, _ in empty]
    where = first.display_name  # "A1 of <rack> on slot 4": the rack, as its wells say
    if len(names) > 1:
        where = f"{listed(names)} of {where.removeprefix(f'{first.well_name} of ')}"
    lines: dict[str | None, list[str]] = {}  # the lines that took them, in order
    for well, line in empty:
        lines.setdefault(line, []).append(well.well_name)
    if len(lines) == 1:
        (line,) = lines
        at = "earlier in the run" if line is None else f"at {line}"
    else:  # (a line is unknown only to a caller outside any protocol file)
        at = "at " + listed([f"{line or 'an unknown line'} ({', '.join(wells)})"
                             for line, wells in lines.items()])
    one = len(names) == 1
    if len(names) == taken:
        who = "the pipette"
    else:
        who = "the nozzle over it" if one else "the nozzles over them"
    return (f"pick_up_tip: {where} {'has no tip' if one else 'have no tips'}: "
            f"{'its tip was' if one else 'their tips were'} taken {at} and not put back; "
            f"on a robot {who} would pick up nothing")
