"""The deck: named slots, what is loaded in each, and the fixed trash.

A ``Deck`` is a read-only mapping of slot name -> Labware (or None when empty). Slots
can be given as ``1`` or ``"1"``; on a deck numbered 1-12 like the OT-2, Flex-style
names (``"D1"`` .. ``"A3"``) are accepted too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from protocol_api.errors import InvalidSlotError, SlotOccupiedError
from protocol_api.labware import Labware
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Location, Point

__all__ = ["Deck"]

FIXED_TRASH_LOAD_NAME = "opentrons_1_trash_1100ml_fixed"

# Flex deck coordinates for the OT-2's numbered slots (as Opentrons accepts them).
_COORDINATE_SLOTS = {
    f"{row}{col}": str(3 * r + col) for r, row in enumerate("DCBA") for col in (1, 2, 3)
}


class Deck(Mapping[str, "Labware | None"]):
    """Slot name -> loaded Labware or None; the fixed trash is loaded at construction."""

    def __init__(self, slot_origins: Mapping[str, Sequence[float]], trash_slot: str = "12") -> None:
        if not slot_origins:
            raise InvalidSlotError("a deck needs at least one slot")
        names = sorted((str(name) for name in slot_origins), key=_slot_sort_key)
        self._origins = {
            str(name): Point(*(float(v) for v in origin)) for name, origin in slot_origins.items()
        }
        self._items: dict[str, Labware | None] = dict.fromkeys(names)
        self._numbered = set(names) >= set(_COORDINATE_SLOTS.values())
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
        trash_definition = get_definition(FIXED_TRASH_LOAD_NAME)
        trash = Labware(trash_definition, trash_slot, self._origins[trash_slot])
        self._items[trash_slot] = trash
        self._trash = trash

    @property
    def slots(self) -> tuple[str, ...]:
        """Slot names in deck order."""
        return tuple(self._items)

    @property
    def trash(self) -> Labware:
        """The fixed trash labware."""
        return self._trash

    @property
    def fixed_trash(self) -> Labware:
        """The fixed trash labware (Opentrons' name for it)."""
        return self._trash

    @property
    def trash_slot(self) -> str:
        """The slot holding the fixed trash."""
        return self._trash_slot

    def check_slot(self, slot: object) -> str:
        """The canonical name of ``slot`` (``1`` -> ``"1"``); InvalidSlotError if none."""
        if isinstance(slot, str):
            name = slot.strip()
            if name in self._items:
                return name
            if self._numbered and name.upper() in _COORDINATE_SLOTS:
                return _COORDINATE_SLOTS[name.upper()]
        elif isinstance(slot, int) and not isinstance(slot, bool) and str(slot) in self._items:
            return str(slot)
        raise InvalidSlotError(f"no slot {str(slot)!r} on this deck; {self._slot_text}")

    def check_free(self, slot: object) -> str:
        """Like check_slot, and SlotOccupiedError if something is already loaded there."""
        name = self.check_slot(slot)
        current = self._items[name]
        if current is not None:
            raise SlotOccupiedError(f"slot {name} already holds {current.display_name}")
        return name

    def position_for(self, slot: object) -> Location:
        """The slot's front-left corner, as a Location relative to the slot name."""
        name = self.check_slot(slot)
        return Location(self._origins[name], name)

    def load(self, labware: Labware) -> Labware:
        """Put ``labware`` in the slot it was built for (``labware.parent``)."""
        return self.assign(labware.parent, labware)

    def assign(self, slot: object, labware: Labware) -> Labware:
        """Put ``labware`` in ``slot``; SlotOccupiedError if the slot is taken."""
        name = self.check_free(slot)
        if labware.parent != name:
            raise ValueError(f"{labware!r} was built for slot {labware.parent}, not slot {name}")
        self._items[name] = labware
        return labware

    def __getitem__(self, slot: object) -> Labware | None:
        return self._items[self.check_slot(slot)]

    def __contains__(self, slot: object) -> bool:
        try:
            self.check_slot(slot)
        except InvalidSlotError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        loaded = ", ".join(f"{k}: {v!r}" for k, v in self._items.items() if v is not None)
        return f"Deck({loaded})"


def _slot_sort_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _describe(names: list[str]) -> str:
    """``1-11`` for a run of consecutive numbers, else a comma-separated list."""
    if len(names) > 2 and all(n.isdigit() for n in names):
        numbers = [int(n) for n in names]
        if numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(names)
