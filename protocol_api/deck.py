"""The deck: named slots, what is loaded in each, and the fixed trash.

A ``Deck`` is a read-only mapping of slot name -> Labware (or None when empty). Slots
can be given as ``1`` or ``"1"``; on a deck numbered 1-12 like the OT-2, Flex-style
names (``"D1"`` .. ``"A3"``) are accepted too. The OT-2's slot positions and fixed trash
come from Opentrons' deck definition (``ot2_standard``); a robot configuration may give
its own slot positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Union

from protocol_api.api_level import (
    ADAPTER_API,
    COORDINATE_SLOT_API,
    ENGINE_CORE_API,
    NEWEST,
    TRASH_BIN_API,
    require,
)
from protocol_api.errors import InvalidSlotError, ProtocolError, SlotOccupiedError
from protocol_api.labware import Labware, TrashBin, highest_z_of
from protocol_api.labware_definitions import get_definition, read_json
from protocol_api.types import APIVersion, Location, Point

if TYPE_CHECKING:
    from protocol_api.modules import ModuleContext

__all__ = ["Deck", "OT2Deck", "ot2_deck"]

DeckItem = Union[Labware, "ModuleContext"]
"""What a slot can hold: a labware, or a module (the labware is then on the module)."""

OT2_DECK_DEFINITION = "deck/definitions/5/ot2_standard.json"

# Flex deck coordinates for the OT-2's numbered slots (as Opentrons accepts them).
_COORDINATE_SLOTS = {
    f"{row}{col}": str(3 * r + col) for r, row in enumerate("DCBA") for col in (1, 2, 3)
}


SLOT_SIZE = (128.0, 86.0)
"""A labware footprint on an OT-2 slot, from its origin (mm)."""


AROUND = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))
"""The steps (rows back, columns right) from an OT-2 slot to those around it, in the order
Opentrons looks at them: right, left, behind, in front, the corners behind, in front."""


def neighbours(slot: str, *, sideways_only: bool = False) -> set[str]:
    """The OT-2 slots left and right of ``slot`` (and in front and behind it)."""
    return set(around(slot, AROUND[:2] if sideways_only else AROUND[:4]))


def around(slot: str, steps: Sequence[tuple[int, int]] = AROUND) -> list[str]:
    """The OT-2 slots ``steps`` away from ``slot`` that are on the deck, in that order (by
    default all those around it, corners too); none for a slot not numbered 1-12."""
    if not slot.isdigit() or not 1 <= int(slot) <= 12:
        return []
    row, col = divmod(int(slot) - 1, 3)
    return [str(3 * (row + dr) + col + dc + 1) for dr, dc in steps
            if 0 <= row + dr < 4 and 0 <= col + dc < 3]


class OT2Deck:
    """What labrun reads from the OT-2 deck definition: slot origins and the fixed trash."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        locations = definition["locations"]
        cutouts = {c["id"]: c["position"] for c in locations["cutouts"]}
        areas = {a["id"]: a for a in locations["addressableAreas"]}
        origins: dict[str, Point] = {}
        for fixture in definition["cutoutFixtures"]:  # a standard slot on each cutout
            if fixture["id"] != "singleStandardSlot":
                continue
            for cutout, provided in fixture["providesAddressableAreas"].items():
                for area in provided:
                    offset = areas[area]["offsetFromCutoutFixture"]
                    origins[area] = Point(*(float(a) + float(b) for a, b in
                                            zip(cutouts[cutout], offset, strict=True)))
        self.slot_origins: dict[str, Point] = dict(
            sorted(origins.items(), key=lambda kv: _slot_sort_key(kv[0])))
        # what ctx.deck.slots gives, as Opentrons' engine gives it (without the position)
        self.slot_definitions: dict[str, dict[str, Any]] = {
            name: {"id": name, "boundingBox": dict(areas[name]["boundingBox"]),
                   "displayName": areas[name]["displayName"],
                   "compatibleModuleTypes": list(areas[name]["compatibleModuleTypes"])}
            for name in self.slot_origins}
        trash = next(f for f in locations["legacyFixtures"] if f["id"] == "fixedTrash")
        self.trash_slot: str = str(trash["slot"])
        self.trash_load_name: str = str(trash["labware"])


@cache
def ot2_deck() -> OT2Deck:
    """The OT-2 standard deck, read once from Opentrons' deck definition."""
    return OT2Deck(read_json(OT2_DECK_DEFINITION))


class Deck(Mapping[str | int, "DeckItem | None"]):
    """Slot name -> loaded Labware or None; the fixed trash is loaded at construction."""

    def __init__(self, slot_origins: Mapping[str, Sequence[float]] | None = None,
                 trash_slot: str | None = None,
                 api_version: tuple[int, int] | None = None, *,
                 remover: Callable[[Labware, bool], None] | None = None) -> None:
        """Slots at ``slot_origins`` (default: the OT-2's), the fixed trash in ``trash_slot``,
        for a protocol of ``api_version`` (the newest when None); ``remover`` takes a
        labware off the deck for ``del deck[slot]`` from apiLevel 2.15."""
        self._remover = remover
        standard = ot2_deck()
        if slot_origins is None:
            slot_origins = standard.slot_origins
        if trash_slot is None:
            trash_slot = standard.trash_slot
        if not slot_origins:
            raise InvalidSlotError("a deck needs at least one slot")
        names = sorted((str(name) for name in slot_origins), key=_slot_sort_key)
        self._origins = {
            str(name): Point(*(float(v) for v in origin)) for name, origin in slot_origins.items()
        }
        self._items: dict[str, DeckItem | None] = dict.fromkeys(names)
        self._numbered = set(names) >= set(_COORDINATE_SLOTS.values())
        self._api_version = APIVersion(*api_version) if api_version else NEWEST
        trash_slot = str(trash_slot)
        if trash_slot not in self._items:
            raise InvalidSlotError(
                f"the fixed trash slot {trash_slot!r} is not a slot of this deck "
                f"(slots are {_describe(names)})"
            )
        self._trash_slot = trash_slot
        others = [name for name in names if name != trash_slot]
        self._slot_text = (
            f"slots are {_describe(others)} and the fixed trash in {trash_slot}"
            if others
            else f"the only slot is {trash_slot}, which holds the fixed trash"
        )
        trash_definition = get_definition(standard.trash_load_name)
        kind = TrashBin if self._api_version >= TRASH_BIN_API else Labware
        trash = kind(trash_definition, trash_slot, self._origins[trash_slot],
                     api_version=api_version)
        self._items[trash_slot] = trash
        self._trash = trash

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Slot names in deck order."""
        return tuple(self._items)

    @property
    def slots(self) -> list[dict[str, Any]]:
        """Each slot's definition, in deck order, as Opentrons' ``deck.slots`` gives it:
        ``id``, ``position`` (its front-left corner), ``boundingBox``, ``displayName`` and
        ``compatibleModuleTypes``."""
        return [self.get_slot_definition(name) for name in self._items]

    def get_slot_definition(self, slot: object) -> dict[str, Any]:
        """One slot's definition (see ``slots``); a new dict each call."""
        name = self.check_slot(slot)
        standard = ot2_deck().slot_definitions.get(name)
        if standard is None:  # a slot of a robot configuration's own deck
            standard = {"id": name, "boundingBox": {"xDimension": SLOT_SIZE[0],
                                                    "yDimension": SLOT_SIZE[1],
                                                    "zDimension": 0.0},
                        "displayName": f"Slot {name}", "compatibleModuleTypes": []}
        origin = self._origins[name]
        return {"id": name, "position": [origin.x, origin.y, origin.z],
                "boundingBox": dict(standard["boundingBox"]),
                "displayName": standard["displayName"],
                "compatibleModuleTypes": list(standard["compatibleModuleTypes"])}

    @property
    def trash(self) -> Labware:
        """The fixed trash labware."""
        return self._trash

    @property
    def fixed_trash(self) -> Labware:
        """The fixed trash labware (Opentrons' name for it)."""
        return self._trash

    @property
    def highest_z(self) -> float:
        """The highest point of what is loaded on the deck (deck coordinates), as Opentrons
        gives it: the top of each labware stack and of each module with what it holds,
        the fixed trash's included below apiLevel 2.16 (from 2.16 it is a trash bin,
        which does not count); 0 for an empty deck. From apiLevel 2.14 a module counts
        at its own height too when what it holds is lower (a magnetic module's plate)."""
        engine_core = self._api_version >= ENGINE_CORE_API
        return max((max(item_top(item), item.own_top)
                    if engine_core and not isinstance(item, Labware) else item_top(item)
                    for item in self.values() if item is not None), default=0.0)

    @property
    def trash_slot(self) -> str:
        """The slot holding the fixed trash."""
        return self._trash_slot

    def check_slot(self, slot: object) -> str:
        """The canonical name of ``slot`` (``1`` -> ``"1"``); InvalidSlotError if none
        (``" 2"`` too: Opentrons reads a slot's name as it is written)."""
        if isinstance(slot, str):
            if slot in self._items:
                return slot
            if self._numbered and slot.upper() in _COORDINATE_SLOTS:
                require(f"a deck slot named like a Flex's ({slot!r})", COORDINATE_SLOT_API,
                        self._api_version, hint=f"(use {_COORDINATE_SLOTS[slot.upper()]})")
                return _COORDINATE_SLOTS[slot.upper()]
        elif isinstance(slot, int) and not isinstance(slot, bool) and str(slot) in self._items:
            return str(slot)
        raise InvalidSlotError(f"no slot {str(slot)!r} on this deck; {self._slot_text}")

    def check_free(self, slot: object) -> str:
        """Like check_slot, and SlotOccupiedError if something is already loaded there."""
        name = self.check_slot(slot)
        current = self._items[name]
        if current is not None:
            raise SlotOccupiedError(f"slot {name} already holds {current.shown_name}")
        return name

    def position_for(self, slot: object) -> Location:
        """The slot's front-left corner, as a Location relative to the slot name."""
        name = self.check_slot(slot)
        return Location(self._origins[name], name)

    def get_slot_center(self, slot: object) -> Point:
        """The middle of the slot's footprint (at the slot's height)."""
        origin = self.position_for(slot).point
        return Point(origin.x + SLOT_SIZE[0] / 2, origin.y + SLOT_SIZE[1] / 2, origin.z)

    def right_of(self, slot: object) -> DeckItem | None:
        """What ``deck[...]`` gives for the slot to the right of ``slot`` (None: nothing, or
        no slot there)."""
        return self._beside(slot, +1)

    def left_of(self, slot: object) -> DeckItem | None:
        """What ``deck[...]`` gives for the slot to the left of ``slot`` (None: nothing, or
        no slot there)."""
        return self._beside(slot, -1)

    def _beside(self, slot: object, step: int) -> DeckItem | None:
        name = self.check_slot(slot)
        for other in neighbours(name, sideways_only=True):
            if int(other) - int(name) == step:
                return self[other]  # as the deck reads it: no trash bin (apiLevel 2.16 on)
        return None

    def load(self, labware: Labware) -> Labware:
        """Put ``labware`` in the slot it was built for (``labware.slot``)."""
        return self.assign(labware.slot, labware)

    def assign(self, slot: object, labware: Labware) -> Labware:
        """Put ``labware`` in ``slot``; SlotOccupiedError if the slot is taken."""
        name = self.check_free(slot)
        if labware.slot != name:
            raise ValueError(f"{labware!r} was built for slot {labware.slot}, not slot {name}")
        self._items[name] = labware
        return labware

    def assign_module(self, slot: object, module: ModuleContext) -> None:
        """Put ``module`` in ``slot`` (each slot it takes); SlotOccupiedError if taken."""
        self._items[self.check_free(slot)] = module

    def __setitem__(self, slot: object, item: object) -> None:
        """Refused: what the deck holds changes only by loading or moving labware."""
        raise ProtocolError("ctx.deck cannot be assigned to; use load_labware or "
                            "move_labware")

    def __delitem__(self, slot: object) -> None:
        """Empty ``slot`` (``del ctx.deck["2"]``), as in Opentrons: before apiLevel 2.14 what
        it held is gone from the deck, a module from every slot it took; from 2.15 a
        labware is taken off the deck (as ``move_labware(labware, OFF_DECK)`` takes it,
        with no pause) and a module stays; at 2.14 it is refused."""
        name = self.check_slot(slot)
        item = self[name]
        if self._api_version >= ENGINE_CORE_API:
            require("del deck[slot]", ADAPTER_API, self._api_version,
                    hint="(or below 2.14)")
            if item is None:
                return  # nothing to take away, as Opentrons
            if not isinstance(item, Labware):
                raise ProtocolError(f"del deck[{slot!r}]: slot {name} holds "
                                    f"{item.shown_name}, a module; a module stays on the "
                                    "deck (from apiLevel 2.15, as in Opentrons): only a "
                                    "labware is taken off")
            if self._remover is not None:
                self._remover(item, False)
                return
        for name, held in self._items.items():
            if held is not None and held is item:
                self._items[name] = None
        if item is not None and self._remover is not None:
            # said in the record, the top of a stack first (on a module: what it held);
            # the labware objects stay as they were
            bottom = item if isinstance(item, Labware) else item.labware
            labware: object = bottom.topmost() if bottom is not None else None
            while isinstance(labware, Labware):  # down to the slot, or the module
                self._remover(labware, True)
                labware = labware.parent

    def release(self, slot: str) -> None:
        """Empty ``slot``: what it held has been taken away (``move_labware``)."""
        self._items[self.check_slot(slot)] = None

    def occupant(self, slot: object) -> DeckItem | None:
        """What stands in ``slot``, the fixed trash at any apiLevel (labrun's own rules
        read this; a protocol reads ``deck[slot]``)."""
        return self._items[self.check_slot(slot)]

    def __getitem__(self, slot: object) -> DeckItem | None:
        """What ``slot`` holds; None for the fixed trash from apiLevel 2.16, where Opentrons
        makes it a trash bin that the deck does not list (its slot stays taken)."""
        item = self._items[self.check_slot(slot)]
        return None if isinstance(item, TrashBin) else item

    def get(self, slot: object, default: Any = None) -> Any:
        """What ``slot`` holds, ``default`` for no such slot; below apiLevel 2.14 no such
        slot raises a ValueError there, as Opentrons' deck does."""
        try:
            return self[slot]
        except InvalidSlotError:
            if self._api_version < ENGINE_CORE_API:
                raise
            return default

    def __contains__(self, slot: object) -> bool:
        """Whether ``slot`` names a slot of this deck. A Flex-style name (``"A1"``) is
        one from apiLevel 2.15; below 2.14 it is none (False), as Opentrons' deck says
        there; at 2.14 asking is refused, as Opentrons refuses it."""
        if self._api_version < ENGINE_CORE_API and isinstance(slot, str) \
                and slot not in self._items:
            return False
        try:
            self.check_slot(slot)
        except InvalidSlotError:
            return False
        return True

    def __iter__(self) -> Iterator[str | int]:
        """The slot names; numbers below apiLevel 2.14, as Opentrons' deck gives them
        there (``1`` rather than ``"1"``: either reads a slot; labrun's own code reads
        ``slot_names``)."""
        if self._api_version < ENGINE_CORE_API:
            return iter([int(name) if name.isdigit() else name for name in self._items])
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        loaded = ", ".join(f"{k}: {v!r}" for k, v in self.items() if v is not None)
        return f"Deck({loaded})"


def item_top(item: DeckItem) -> float:
    """The top of what stands in a slot: a labware stack's, or a module's with what it
    holds (deck coordinates)."""
    return highest_z_of(item.topmost()) if isinstance(item, Labware) else item.stack_top


def _slot_sort_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _describe(names: list[str]) -> str:
    """``1-11`` for a run of consecutive numbers, else a comma-separated list."""
    if len(names) > 2 and all(n.isdigit() for n in names):
        numbers = [int(n) for n in names]
        if numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(names)
