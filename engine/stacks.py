"""Where each labware of a run is, and which one is on top in each slot.

A labware is known by its count among the run's ``loadLabware`` commands (0: the fixed
trash), the number a ``moveLabware`` command names it by. A labware loaded or moved onto
a slot that holds one already sits on it (an adapter's plate, a stacked plate); off the
deck (``OFF_DECK``) nothing sits on anything.
"""

from __future__ import annotations

OFF_DECK = "offDeck"
"""The slot of a labware that is not on the deck (loaded there, or moved there)."""


class LabwareStacks:
    """The run's labware by count: its slot, its name, and each slot's stack."""

    __slots__ = ("_stacks", "names", "slots")

    def __init__(self) -> None:
        self.slots: list[str] = []  # by count: where it is now
        self.names: list[str] = []  # by count: the name it was loaded with
        self._stacks: dict[str, list[int]] = {}  # slot -> its labware, bottom first

    def load(self, slot: str, name: str) -> int | None:
        """A labware loaded in ``slot``; the one it now covers, if any."""
        self.slots.append(slot)
        self.names.append(name)
        return self._put(len(self.slots) - 1, slot)

    def move(self, index: int, to: str) -> tuple[str, int | None, int | None]:
        """Labware ``index`` moved to ``to``: where it was, the one it uncovered there and
        the one it now covers, if any. An unknown count changes nothing."""
        if not 0 <= index < len(self.slots):
            return to, None, None
        was = self.slots[index]
        stack = self._stacks.get(was, [])
        if index in stack:
            stack.remove(index)
        uncovered = stack[-1] if stack and was != OFF_DECK else None
        self.slots[index] = to
        return was, uncovered, self._put(index, to)

    def emptied(self, slot: str) -> bool:
        """Whether ``slot`` held labware that has all left it."""
        return slot in self._stacks and not self._stacks[slot]

    def top(self, slot: str) -> int | None:
        """The labware on top in ``slot``, if any."""
        stack = self._stacks.get(slot)
        return stack[-1] if stack else None

    def tops(self) -> dict[str, str]:
        """Each slot on the deck with labware in it -> the name of the one on top."""
        return {slot: self.names[stack[-1]] for slot, stack in self._stacks.items()
                if stack and slot != OFF_DECK}

    def _put(self, index: int, slot: str) -> int | None:
        stack = self._stacks.setdefault(slot, [])
        covered = stack[-1] if stack and slot != OFF_DECK else None
        stack.append(index)
        return covered
