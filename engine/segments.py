"""Motion segments, what a command's plan is made of: a closed union.

Targets are absolute axis positions, so an interrupted segment is completed by running
it again. Plain slotted classes: several are made per command, on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Move:
    """A coordinated straight move to absolute targets (mm), at ``speed`` mm/s or the
    axes' own limits."""

    __slots__ = ("speed", "target")

    def __init__(self, target: Mapping[str, float], speed: float | None = None) -> None:
        self.target = target
        self.speed = speed

    def __repr__(self) -> str:
        return f"Move({self.target!r}, speed={self.speed!r})"


class HomeAxes:
    """Home the given axes; the machine then reports where they are."""

    __slots__ = ("axes",)

    def __init__(self, axes: tuple[str, ...]) -> None:
        self.axes = axes

    def __repr__(self) -> str:
        return f"HomeAxes({self.axes!r})"


Segment = Move | HomeAxes


def moves_any(plan: Iterable[Segment], axes: Iterable[str]) -> bool:
    """Whether any segment of ``plan`` moves (or homes) one of ``axes``."""
    wanted = set(axes)
    for segment in plan:
        moved = segment.target if isinstance(segment, Move) else segment.axes
        if any(axis in wanted for axis in moved):
            return True
    return False
