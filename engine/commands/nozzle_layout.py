"""``configureNozzleLayout``: which of a multi-channel pipette's nozzles take tips."""

from __future__ import annotations

from ..robot_model import RobotModel
from .base import Command, Result


class ConfigureNozzleLayout(Command):
    """From now on the pipette on ``mount`` takes tips with ``nozzles`` of its nozzles,
    from ``primary`` (the one a location names) to ``end``: ``SINGLE``, ``PARTIAL_COLUMN``
    or ``ALL``. Nothing moves, and the model keeps nothing: the positions and wells of
    later commands already say where each nozzle goes; this says why, in the record.
    Safe to set again on a rewind."""

    __slots__ = ("end", "mount", "nozzles", "primary", "style")

    kind = "configureNozzleLayout"
    mount: str
    style: str
    primary: str | None
    end: str | None
    nozzles: int

    def __init__(self, mount: str, style: str, primary: str | None, end: str | None,
                 nozzles: int) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "style", style)
        object.__setattr__(self, "primary", primary)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "nozzles", nozzles)

    def apply(self, robot: RobotModel) -> Result:
        return {"active_channels": self.nozzles}
