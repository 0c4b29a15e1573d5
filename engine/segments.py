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


def still_held(lowering: Mapping[str, float], plan: Iterable[Segment],
               position: Mapping[str, float]) -> dict[str, float] | None:
    """What is left of ``lowering`` (the Z axes a checkpoint's unpark held up, to lower
    when a command acts where the tips were) once ``plan`` has run from ``position``:
    nothing if it moves the gantry (the tips go elsewhere); else all but the axes it
    moves (the other mount's home, or a plunger's, or a straight move of the other mount
    up or down, leaves the held tips waiting). None when nothing is left. An axis named
    but sent where it already is does not move."""
    left, here = dict(lowering), dict(position)
    for segment in plan:
        if isinstance(segment, Move):
            moved = [a for a, v in segment.target.items() if abs(v - here.get(a, v)) > 1e-6]
            here.update(segment.target)
        else:
            moved = list(segment.axes)
        if "X" in moved or "Y" in moved:
            return None
        for axis in moved:
            left.pop(axis, None)
    return left or None
