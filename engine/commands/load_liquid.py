"""``loadLiquid``: the liquid a protocol says some wells hold at the start
(``load_liquid``, ``load_liquid_by_well``, ``load_empty``)."""

from __future__ import annotations

from .base import Command


class LoadLiquid(Command):
    """Wells ``wells`` of labware ``labware`` start with ``volumes`` µL (each its own) of
    ``liquid`` (its name; None: empty), drawn in ``color``. For the records: nothing moves,
    and the robot model does not change."""

    __slots__ = ("color", "labware", "liquid", "volumes", "wells")

    kind = "loadLiquid"
    labware: int  # which: the run's loadLabware commands counted from 0 (the fixed trash)
    wells: tuple[str, ...]  # their names, such as A1
    volumes: tuple[float, ...]
    liquid: str | None
    color: str | None

    def __init__(self, labware: int, wells: tuple[str, ...], volumes: tuple[float, ...],
                 liquid: str | None, color: str | None = None) -> None:
        object.__setattr__(self, "labware", labware)
        object.__setattr__(self, "wells", wells)
        object.__setattr__(self, "volumes", volumes)
        object.__setattr__(self, "liquid", liquid)
        object.__setattr__(self, "color", color)
