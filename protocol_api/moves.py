"""Moves of labware by hand (``ctx.move_labware``): where a labware may go, and how.

An OT-2 has no gripper: a labware moves when a person moves it. ``plan_move`` checks a
move as Opentrons checks it and says where the labware lands; the context then sends a
``moveLabware`` command, which parks the robot and pauses the run with a message saying
what to move where, until someone resumes it. From then on the labware's wells are at
their new place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from engine.commands import OFF_DECK as OFF_DECK_SLOT

from .deck import Deck
from .errors import LabwareMovementNotAllowedError, ProtocolError, SlotOccupiedError
from .labware import Labware, bottom_holder, stacked_on
from .off_deck import OffDeckType
from .types import Point

if TYPE_CHECKING:
    from .modules import ModuleContext


class PlannedMove:
    """Where a labware lands: its slot (``OFF_DECK_SLOT`` off the deck) and slot origin
    (None off the deck), what it sits on, and the words for the place."""

    __slots__ = ("destination", "holder", "module", "on", "origin", "slot")

    def __init__(self, slot: str, origin: Point | None, destination: str, *,
                 on: Labware | None = None, holder: ModuleContext | None = None,
                 module: str | None = None) -> None:
        self.slot = slot
        self.origin = origin
        self.destination = destination
        self.on = on  # the labware (an adapter) it goes onto
        self.holder = holder  # the module it goes onto directly
        self.module = module  # the display name of the module under it, if any


def module_under(labware: Labware) -> ModuleContext | None:
    """The module a labware sits on, directly or through the labware under it."""
    return cast("ModuleContext | None", bottom_holder(labware))


def plan_move(labware: object, new_location: object, *, deck: Deck,
              modules: Iterable[ModuleContext], use_gripper: object = False,
              pick_up_offset: object = None, drop_offset: object = None,
              op: str = "move_labware") -> PlannedMove:
    """Check that a person may move ``labware`` to ``new_location`` (a deck slot, a module,
    a labware or adapter, or ``OFF_DECK``) and say where it lands; refused as Opentrons
    refuses it, with a closed lid or latch at either end too (``op``: the call, for its
    messages)."""
    try:
        return _plan(labware, new_location, deck, modules, use_gripper, pick_up_offset,
                     drop_offset)
    except ProtocolError as exc:  # one prefix, whichever check refused it
        message = str(exc).removeprefix("move_labware: ")
        raise type(exc)(f"{op}: {message}") from None


def _plan(labware: object, new_location: object, deck: Deck,
          modules: Iterable[ModuleContext], use_gripper: object, pick_up_offset: object,
          drop_offset: object) -> PlannedMove:
    if not isinstance(labware, Labware) or labware is deck.trash:
        what = "the fixed trash, which stays in its slot" if labware is deck.trash else \
            repr(labware)
        raise ProtocolError(f"move_labware: expected a labware that load_labware loaded, "
                            f"not {what}")
    if use_gripper:
        raise LabwareMovementNotAllowedError(
            "move_labware: an OT-2 has no gripper (use_gripper=True is a Flex's); with "
            "use_gripper=False, the default, the run pauses for a person to move it")
    for name, offset in (("pick_up_offset", pick_up_offset), ("drop_offset", drop_offset)):
        _check_offset(name, offset)
    held = stacked_on(labware)
    if held is not None:
        raise LabwareMovementNotAllowedError(
            f"move_labware: {labware.shown_name} holds {held.shown_name}; "
            "move that one first")
    source = module_under(labware)
    if source is not None:
        from .modules.base import check_hand_access  # loaded with the first module
        check_hand_access(source)
    definition = labware.definition
    if isinstance(new_location, OffDeckType):
        return PlannedMove(OFF_DECK_SLOT, None, "off the deck")
    if isinstance(new_location, Labware) and new_location is deck.trash:
        raise LabwareMovementNotAllowedError(
            "move_labware: only tips (and lids) go into the trash; a labware moved away by "
            "hand goes OFF_DECK")
    if isinstance(new_location, Labware):
        return _onto_labware(labware, new_location, definition)
    module = next((m for m in modules if m is new_location), None)
    if module is not None:
        if module.labware is not None:
            raise SlotOccupiedError(f"move_labware: {module.described} already holds "
                                    f"{module.labware.shown_name}")
        from .modules.base import check_hand_access, labware_origin
        check_hand_access(module)
        return PlannedMove(module.slots[0], labware_origin(module, definition),
                           f"{module.shown_name} on slot {module.slots[0]}",
                           holder=module, module=module.shown_name)
    if not isinstance(new_location, (int, str)) or isinstance(new_location, bool):
        raise ProtocolError(f"move_labware: the new location must be a deck slot, a module, "
                            f"a labware or OFF_DECK, not {new_location!r}")
    try:
        slot = deck.check_free(new_location)
    except SlotOccupiedError as exc:
        raise SlotOccupiedError(f"move_labware: {exc}") from None
    return PlannedMove(slot, deck.position_for(slot).point, f"slot {slot}")


def _onto_labware(labware: Labware, target: Labware,
                  definition: Mapping[str, Any]) -> PlannedMove:
    if target is labware:
        raise LabwareMovementNotAllowedError(
            f"move_labware: {labware.shown_name} cannot go onto itself")
    held = stacked_on(target)
    if held is not None:
        raise SlotOccupiedError(f"move_labware: {target.shown_name} already holds "
                                f"{held.shown_name}")
    target.check_can_hold(definition)
    holder = module_under(target)
    if holder is not None:
        from .modules.base import check_hand_access
        check_hand_access(holder)
    if target.slot == OFF_DECK_SLOT:
        where = f"{target.shown_name}, off the deck"
        return PlannedMove(OFF_DECK_SLOT, None, where, on=target)
    where = f"{target.shown_name} on {target.whereabouts}"
    return PlannedMove(target.slot, target.stacked_origin(definition), where, on=target,
                       module=holder.shown_name if holder is not None else None)


def _check_offset(name: str, offset: object) -> None:
    """A gripper's offset, checked as Opentrons checks it (and unused: a person moves)."""
    if not offset:
        return
    if not (isinstance(offset, Mapping) and {"x", "y", "z"} <= set(offset)
            and all(isinstance(offset[k], (int, float)) and not isinstance(offset[k], bool)
                    and math.isfinite(offset[k]) for k in "xyz")):
        raise ProtocolError(f"move_labware: {name} must be a dict of numbers for x, y and z "
                            f"(such as {{'x': 1.1, 'y': 2.2, 'z': 3.3}}), not {offset!r}")


def pause_message(labware: Labware, move: PlannedMove) -> str:
    """What the run's pause asks a person to do."""
    name = labware.shown_name
    if move.origin is None and move.on is None:
        return f"Take {name} off the deck (from {labware.whereabouts}), then resume"
    into = "in" if move.on is None and move.holder is None else "on"
    if labware.slot == OFF_DECK_SLOT:
        return f"Put {name} {into} {move.destination}, then resume"
    return f"Move {name} from {labware.whereabouts} to {move.destination}, then resume"
