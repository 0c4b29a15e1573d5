"""``aspirate`` and ``dispense``: move liquid (or air) through the tip where it is."""

from __future__ import annotations

from typing import ClassVar

from ..robot_model import CommandError, Pipette, RobotModel
from ..segments import Move, Segment
from .base import Command, Execution, Result


def tip_pipette(robot: RobotModel, command: Command, mount: str) -> Pipette:
    """The pipette on ``mount``, which must hold a tip for ``command``."""
    pipette = robot.pipette(mount)
    if pipette.tip_length is None:
        raise CommandError(f"cannot {command.kind} with no tip on the {mount} pipette")
    return pipette


def _ready_out_of_the_liquid(robot: RobotModel, mount: str, plunger: str,
                             bottom: float) -> list[Segment]:
    """Moves that bring an empty tip's plunger to the bottom, ready to draw, with the tip
    lifted to the safe height and back: a plunger past the bottom (after a blow-out)
    would draw liquid in on its way back, a homed one would blow bubbles. An OT-2 resets
    it at the well's top before going down, for the same reason."""
    z_axis = robot.z_axis(mount)
    here = robot.position[z_axis]
    lift = max(here, robot.safe_height())
    if lift - here <= 1e-6:
        return [Move({plunger: bottom})]
    return [Move({z_axis: lift}), Move({plunger: bottom}), Move({z_axis: here})]


class LiquidCommand(Command):
    """Moves ``volume`` µL through the tip where it is, at ``flow_rate`` µL/s.

    A multi-channel pipette moves ``volume`` through each of its tips: ``well`` is the
    first nozzle's, ``wells`` those of the others (a well twice when two share it).
    """

    __slots__ = ("flow_rate", "mount", "volume", "well", "wells")

    reversible = False
    moves_liquid = True
    in_place = True
    execution = Execution.MOTION
    sign: ClassVar[float] = 1.0  # +1 draws liquid in, -1 pushes it out
    mount: str
    volume: float
    flow_rate: float
    well: str | None
    wells: tuple[str, ...]

    def __init__(self, mount: str, volume: float, flow_rate: float, well: str | None = None,
                 wells: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "volume", volume)
        object.__setattr__(self, "flow_rate", flow_rate)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "wells", wells)

    def plan(self, robot: RobotModel) -> list[Segment]:
        pipette = tip_pipette(robot, self, self.mount)
        spec = pipette.spec
        axis = robot.plunger_axis(self.mount)
        after = pipette.volume + self.sign * self.volume
        if self.sign < 0:
            after = max(after, 0.0)  # the plunger stops at empty
        if after < -1e-6 or after > spec.max_volume + 1e-6:
            raise CommandError(
                f"{self.kind} of {self.volume:g} µL would leave {after:g} µL in a "
                f"{spec.max_volume:g} µL pipette")
        segments: list[Segment] = []
        empty = self.sign > 0 and pipette.volume <= 1e-9
        if empty and abs(robot.position[axis] - spec.bottom) > 1e-6:
            segments += _ready_out_of_the_liquid(robot, self.mount, axis, spec.bottom)
        segments.append(Move({axis: spec.bottom - after / spec.ul_per_mm},
                             self.flow_rate / spec.ul_per_mm))
        return segments

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        pipette.volume += self.sign * self.volume
        position = robot.position
        robot.liquid_xy[self.mount] = (position["X"], position["Y"])
        return {"volume_in_tip": round(pipette.volume, 6)}

    def moved(self, result: Result | None) -> float:
        """The µL that went through the tip, by the completed command's ``result``."""
        return self.volume


class Aspirate(LiquidCommand):
    """Draw ``volume`` µL into the tip; of air above ``well`` when ``air_gap``.

    An air gap is an aspirate as the reference reports it (a liquid step at the well it
    is drawn above, balanced by the dispense that pushes it out); ``air_gap`` keeps in
    the record that what it drew was air.
    """

    __slots__ = ("air_gap",)

    kind = "aspirate"
    air_gap: bool

    def __init__(self, mount: str, volume: float, flow_rate: float, well: str | None = None,
                 wells: tuple[str, ...] = (), air_gap: bool = False) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "volume", volume)
        object.__setattr__(self, "flow_rate", flow_rate)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "wells", wells)
        object.__setattr__(self, "air_gap", air_gap)


class Dispense(LiquidCommand):
    """Push ``volume`` µL out of the tip; the plunger stops at empty, or ``push_out`` µL
    of plunger travel past it (a dispense that empties the tip only).

    Protocols below apiLevel 2.17 may ask for more than the tip holds: the command keeps
    the volume asked (as the reference logs it) and its result says what left the tip.
    """

    __slots__ = ("push_out",)

    kind = "dispense"
    sign = -1.0
    push_out: float

    def __init__(self, mount: str, volume: float, flow_rate: float, well: str | None = None,
                 wells: tuple[str, ...] = (), push_out: float = 0.0) -> None:
        object.__setattr__(self, "mount", mount)
        object.__setattr__(self, "volume", volume)
        object.__setattr__(self, "flow_rate", flow_rate)
        object.__setattr__(self, "well", well)
        object.__setattr__(self, "wells", wells)
        object.__setattr__(self, "push_out", push_out)

    def plan(self, robot: RobotModel) -> list[Segment]:
        segments = super().plan(robot)
        if self.push_out > 0:
            spec = robot.pipette(self.mount).spec
            left = robot.pipette(self.mount).volume - self.volume
            if left > 1e-6:
                raise CommandError(f"a push-out needs a dispense that empties the tip; "
                                   f"{left:g} µL would stay in it")
            past = spec.bottom + self.push_out / spec.ul_per_mm
            if past > spec.blow_out + 1e-6:
                raise CommandError(
                    f"a push-out of {self.push_out:g} µL goes past the blow-out position "
                    f"(at most {(spec.blow_out - spec.bottom) * spec.ul_per_mm:g} µL)")
            segments.append(Move({robot.plunger_axis(self.mount): past},
                                 self.flow_rate / spec.ul_per_mm))
        return segments

    def apply(self, robot: RobotModel) -> Result:
        pipette = robot.pipette(self.mount)
        out = min(self.volume, pipette.volume)
        pipette.volume = max(pipette.volume - self.volume, 0.0)
        position = robot.position
        robot.liquid_xy[self.mount] = (position["X"], position["Y"])
        return {"volume_in_tip": round(pipette.volume, 6), "volume_dispensed": round(out, 6)}

    def moved(self, result: Result | None) -> float:
        return float((result or {}).get("volume_dispensed", self.volume))
