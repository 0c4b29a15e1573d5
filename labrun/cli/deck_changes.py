"""The deck after each change a run makes to it, for the deck picture (``deck_svg``).

The setup sheet's deck is the deck at the start. A run may change it: a labware moved by
hand (``move_labware``), taken away (``del ctx.deck[slot]``), or loaded where another
has left (or onto one that was not there at the start), which a person brings in then.
Each change, with the changes that follow it before any liquid moves, gives one entry of
the sheet's ``deck_changes``: the steps it spans, every deck slot's labware on top after
it (as the sheet's deck gives a labware, with ``start``: where it was at the start, the
place its wells are named by in the sheet) and the slots it changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.commands import OFF_DECK

from .calls import Labels


class DeckChanges:
    """Fed a simulated run's loads, moves and liquid commands in order (``SheetBuilder``)."""

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.entries: list[dict[str, Any]] = []
        self._pictured: list[dict[str, Any]] = []  # by count: each labware as drawn
        self._open = False  # the last entry takes the next change: no liquid moved since

    def loaded(self, labware: Mapping[str, Any], start: str, slot: str, step: int) -> None:
        """A labware loaded (after ``labels.load``); ``start``: where it is at the start."""
        self._pictured.append({**labware, "start": start})
        if start.startswith(OFF_DECK) and slot != OFF_DECK:  # brought in during the run
            self._changed(step, [slot])

    def moved(self, params: Mapping[str, Any], step: int) -> None:
        """A move by hand or a ``del`` (after ``labels.move``)."""
        self._changed(step, [str(params.get(k)) for k in ("from_slot", "to_slot")
                             if params.get(k) is not None
                             and not str(params.get(k)).startswith(OFF_DECK)])

    def liquid_moved(self) -> None:
        """Liquid moved: the next change is a new entry."""
        self._open = False

    def _changed(self, step: int, slots: list[str]) -> None:
        deck = [{"slot": slot, "labware": self._pictured[top]}
                for slot, top in sorted(self.labels.on_deck().items(), key=_slot_order)
                if top < len(self._pictured)]
        if self._open:
            last = self.entries.pop()
            step_from, slots = last["steps"][0], [*last["changed"], *slots]
        else:
            step_from = step
        self.entries.append({"steps": [step_from, step], "deck": deck,
                             "changed": sorted(set(slots), key=lambda s: _slot_order((s, 0)))})
        self._open = True


def _slot_order(item: tuple[str, int]) -> tuple[int, str]:
    slot = item[0]
    return (int(slot), "") if slot.isdigit() else (99, slot)
