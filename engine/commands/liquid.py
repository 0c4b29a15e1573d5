"""``aspirate`` and ``dispense``: move liquid through the tip where it is."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from ..robot_model import CommandError, Pipette, RobotModel
from ..segments import Move, Segment
from .base import Command, Execution, Result


def tip_pipette(robot: RobotModel, command: Command, mount: str) -> Pipette:
    """The pipette on ``mount``, which must hold a tip for ``command``."""
    pipette = robot.pipette(mount)
    if pipette.tip_length is None:
        raise CommandError(f"cannot {command.kind} with no tip on the {mount} pipette")
    return pipette


@frozen
class LiquidCommand(Command):
    """Moves ``volume`` µL through the tip where it is, at ``flow_rate`` µL/s.

    A multi-channel pipette moves ``volume`` through each of its tips: ``well`` is the
    first nozzle's, ``wells`` those of the others (a well twice when two share it).
    """

    reversible = False
    execution = Execution.MOTION
    sign: ClassVar[float] = 1.0  # +1 draws liquid in, -1 pushes it out
    mount: str
    volume: float
    flow_rate: float
    well: str | None = None
    wells: tuple[str, ...] = ()

    def plan(self, robot: RobotModel) -> list[Segment]:
        pipette = tip_pipette(robot, self, self.mount)
        spec = pipette.spec
        axis = robot.plunger_axis(self.mount)
        after = pipette.volume + self.sign * self.volume
        if after < -1e-6 or after > spec.max_volume + 1e-6:
            raise CommandError(
                f"{self.kind} of {self.volume:g} µL would leave {after:g} µL in a "
                f"{spec.max_volume:g} µL pipette")
        segments: list[Segment] = []
        empty = self.sign > 0 and pipette.volume <= 1e-9
        if empty and abs(robot.position[axis] - spec.bottom) > 1e-6:
            segments.append(Move({axis: spec.bottom}))  # ready to draw from the bottom
        segments.append(Move({axis: spec.bottom - after / spec.ul_per_mm},
                             self.flow_rate / spec.ul_per_mm))
        return segments

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        pipette.volume += self.sign * self.volume
        return {"volume_in_tip": round(pipette.volume, 6)}


@frozen
class Aspirate(LiquidCommand):
    """Draw ``volume`` µL into the tip."""

    kind = "aspirate"


@frozen
class Dispense(LiquidCommand):
    """Push ``volume`` µL out of the tip."""

    kind = "dispense"
    sign = -1.0
