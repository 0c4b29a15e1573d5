"""How commands move the robot: motion plans with absolute targets, and their effects.

``Executor.plan`` turns a command into motion segments whose targets are absolute axis
positions, computed from where the robot is when the command starts. Because targets
are absolute, an interrupted irreversible command can be completed later by running
its remaining segments again: an aspirate cut off at 40 % of its stroke still ends
with exactly the requested volume drawn. ``Executor.apply`` records a completed
command's effect on tips and liquid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define

from hardware.config import ConfigError, RobotConfig

from . import commands as c

TRAVEL_MARGIN_MM = 10.0
PICK_UP_PRESS_MM = 10.0
PICK_UP_SPEED = 30.0


class CommandError(Exception):
    """A command the robot cannot carry out (out of reach, no pipette, over capacity)."""


class Segment:
    """One motion: a coordinated move to absolute targets, or homing of some axes.

    A plain slotted class: several are made per command, on the hot path.
    """

    __slots__ = ("home", "speed", "target")

    def __init__(self, target: Mapping[str, float] | None = None, speed: float | None = None,
                 home: tuple[str, ...] | None = None) -> None:
        self.target = target
        self.speed = speed
        self.home = home

    def __repr__(self) -> str:
        return f"Segment(target={self.target!r}, speed={self.speed!r}, home={self.home!r})"


@define
class Pipette:
    """A loaded pipette: its plunger geometry, the tip it holds and the liquid in it."""

    spec: c.LoadInstrument
    tip_length: float | None = None
    volume: float = 0.0


class Executor:
    """Plans and effects of commands for one robot; owned by the engine loop."""

    def __init__(self, config: RobotConfig) -> None:
        self.config = config
        self.pipettes: dict[str, Pipette] = {}
        self.position: dict[str, float] = {a: cfg.home for a, cfg in config.axes.items()}
        self.deck_highest = 0.0
        self.trash_point: tuple[float, float, float] | None = None

    # -- queries --------------------------------------------------------------------

    def liquid_in_tips(self) -> bool:
        """True if any attached tip holds liquid (parking then keeps the gantry still)."""
        return any(p.tip_length is not None and p.volume > 1e-9 for p in self.pipettes.values())

    def tips_attached(self) -> list[str]:
        """Mounts holding a tip."""
        return [m for m, p in self.pipettes.items() if p.tip_length is not None]

    def trash_drop_point(self) -> tuple[float, float, float]:
        """Where tips are dropped during cleanup."""
        if self.trash_point is not None:
            return self.trash_point
        x, y, z = self.config.slots[self.config.trash_slot]
        return (x + 80.0, y + 45.0, z + 85.0)

    # -- planning -------------------------------------------------------------------

    def plan(self, cmd: c.Command) -> list[Segment]:
        """The motion segments for ``cmd`` from the current position."""
        try:
            return self._plan(cmd)
        except ConfigError as exc:  # e.g. a mount this robot does not have
            raise CommandError(str(exc)) from None

    def _plan(self, cmd: c.Command) -> list[Segment]:
        if isinstance(cmd, c.MoveTo):
            return self._arc(cmd.mount, cmd.point, force_direct=cmd.force_direct,
                             minimum_z=cmd.minimum_z_height, speed=cmd.speed)
        if isinstance(cmd, c.Home):
            axes = cmd.axes if cmd.axes is not None else tuple(self.config.axes)
            return [Segment(home=tuple(axes))]
        if isinstance(cmd, c.PickUpTip):
            return self._pick_up(cmd)
        if isinstance(cmd, c.DropTip):
            return self._drop(cmd)
        if isinstance(cmd, (c.Aspirate, c.Dispense, c.BlowOut)):
            return self._plunger(cmd)
        return []

    def _arc(self, mount: str, point: tuple[float, float, float], *, force_direct: bool = False,
             minimum_z: float | None = None, speed: float | None = None,
             tip_length: float | None = None) -> list[Segment]:
        cfg = self.config.mount(mount)
        tip = tip_length if tip_length is not None else self._tip(mount)
        x, y = point[0] - cfg.offset[0], point[1] - cfg.offset[1]
        z = point[2] + tip - cfg.offset[2]
        self._check_reach(mount, {"X": x, "Y": y, cfg.z_axis: z})
        here = self.position
        if force_direct:
            return [Segment({"X": x, "Y": y, cfg.z_axis: z}, speed)]
        segments: list[Segment] = []
        if abs(here["X"] - x) > 1e-6 or abs(here["Y"] - y) > 1e-6:
            lift: dict[str, float] = {}
            for name, other in self.config.mounts.items():
                travel = self._travel_height(name, minimum_z)
                if name == mount:
                    travel = max(travel, z)
                lift[other.z_axis] = max(here[other.z_axis], travel)
            if any(abs(lift[a] - here[a]) > 1e-6 for a in lift):
                segments.append(Segment(lift))
            segments.append(Segment({"X": x, "Y": y}, speed))
        segments.append(Segment({cfg.z_axis: z}, speed))
        return segments

    def _travel_height(self, mount: str, minimum_z: float | None) -> float:
        axis = self.config.mount(mount).z_axis
        height = self.deck_highest + self._tip(mount) + TRAVEL_MARGIN_MM
        if minimum_z is not None:
            height = max(height, minimum_z + self._tip(mount))
        return min(height, self.config.axes[axis].max)

    def _pick_up(self, cmd: c.PickUpTip) -> list[Segment]:
        pipette = self._pipette(cmd.mount)
        if pipette.tip_length is not None:
            raise CommandError(f"the {cmd.mount} pipette already holds a tip")
        z_axis = self.config.mount(cmd.mount).z_axis
        top = cmd.point[2] - self.config.mount(cmd.mount).offset[2]
        segments = self._arc(cmd.mount, cmd.point, tip_length=0.0)
        segments.append(Segment({z_axis: top - PICK_UP_PRESS_MM}, PICK_UP_SPEED))
        segments.append(Segment({z_axis: min(top + cmd.tip_length + TRAVEL_MARGIN_MM,
                                             self.config.axes[z_axis].max)}))
        plunger = pipette_axis(self.config, cmd.mount)
        segments.append(Segment({plunger: pipette.spec.plunger_bottom}))
        return segments

    def _drop(self, cmd: c.DropTip) -> list[Segment]:
        pipette = self._pipette(cmd.mount)
        if pipette.tip_length is None:
            raise CommandError(f"the {cmd.mount} pipette has no tip to drop")
        plunger = pipette_axis(self.config, cmd.mount)
        segments = self._arc(cmd.mount, cmd.point)
        segments.append(Segment({plunger: pipette.spec.plunger_drop_tip}))
        segments.append(Segment({plunger: pipette.spec.plunger_bottom}))
        return segments

    def _plunger(self, cmd: c.Aspirate | c.Dispense | c.BlowOut) -> list[Segment]:
        pipette = self._pipette(cmd.mount)
        spec = pipette.spec
        if pipette.tip_length is None:
            raise CommandError(f"cannot {cmd.kind} with no tip on the {cmd.mount} pipette")
        axis = pipette_axis(self.config, cmd.mount)
        speed = cmd.flow_rate / spec.ul_per_mm
        if isinstance(cmd, c.BlowOut):
            return [Segment({axis: spec.plunger_blow_out}, speed)]
        sign = 1.0 if isinstance(cmd, c.Aspirate) else -1.0
        after = pipette.volume + sign * cmd.volume
        if after < -1e-6 or after > spec.max_volume + 1e-6:
            raise CommandError(
                f"{cmd.kind} of {cmd.volume:g} µL would leave {after:g} µL in a "
                f"{spec.max_volume:g} µL pipette")
        segments = []
        if isinstance(cmd, c.Aspirate) and pipette.volume <= 1e-9:
            here = self.position[axis]
            if abs(here - spec.plunger_bottom) > 1e-6:
                segments.append(Segment({axis: spec.plunger_bottom}))
        segments.append(Segment({axis: spec.plunger_bottom - after / spec.ul_per_mm}, speed))
        return segments

    # -- effects --------------------------------------------------------------------

    def apply(self, cmd: c.Command) -> dict[str, Any]:
        """Record a completed command's effect; return its result for the run record."""
        if type(cmd) is c.MoveTo:  # the most common command has no effect to record
            return {}
        if isinstance(cmd, c.LoadInstrument):
            self.pipettes[cmd.mount] = Pipette(cmd)
        elif isinstance(cmd, c.LoadLabware):
            self.deck_highest = max(self.deck_highest, cmd.highest_z)
            if cmd.drop_point is not None:
                self.trash_point = cmd.drop_point
        elif isinstance(cmd, c.PickUpTip):
            pipette = self._pipette(cmd.mount)
            pipette.tip_length, pipette.volume = cmd.tip_length, 0.0
        elif isinstance(cmd, c.DropTip):
            pipette = self._pipette(cmd.mount)
            pipette.tip_length, pipette.volume = None, 0.0
        elif isinstance(cmd, c.Aspirate):
            self._pipette(cmd.mount).volume += cmd.volume
        elif isinstance(cmd, c.Dispense):
            self._pipette(cmd.mount).volume -= cmd.volume
        elif isinstance(cmd, c.BlowOut):
            pipette = self._pipette(cmd.mount)
            expelled, pipette.volume = pipette.volume, 0.0
            return {"volume_in_tip": 0.0, "volume_expelled": round(expelled, 6)}
        if isinstance(cmd, (c.Aspirate, c.Dispense)):
            return {"volume_in_tip": round(self._pipette(cmd.mount).volume, 6)}
        return {}

    # -- helpers --------------------------------------------------------------------

    def _pipette(self, mount: str) -> Pipette:
        try:
            return self.pipettes[mount]
        except KeyError:
            raise CommandError(f"no pipette is loaded on the {mount} mount") from None

    def _tip(self, mount: str) -> float:
        pipette = self.pipettes.get(mount)
        return pipette.tip_length if pipette and pipette.tip_length is not None else 0.0

    def _check_reach(self, mount: str, target: Mapping[str, float]) -> None:
        for axis, value in target.items():
            cfg = self.config.axes[axis]
            if not cfg.min - 1e-6 <= value <= cfg.max + 1e-6:
                raise CommandError(
                    f"the {mount} mount cannot reach that point: axis {axis} would go to "
                    f"{value:.1f} mm, outside [{cfg.min:g}, {cfg.max:g}]")


def pipette_axis(config: RobotConfig, mount: str) -> str:
    """The plunger axis of ``mount``."""
    return config.mount(mount).plunger_axis
