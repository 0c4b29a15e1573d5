"""What the engine knows of the robot: where its axes are, its pipettes with their tips
and liquid, the deck's highest labware; and the geometry every command plans with.

Commands read and change this model (``Command.plan`` and ``Command.apply``); the
engine loop owns it. Positions are axis positions in mm; points are deck coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hardware.config import ConfigError, MountConfig, RobotConfig
from hardware.frozen import Frozen, replace
from hardware.kinematics import capped_speed

from .segments import Move, Segment
from .stacks import LabwareStacks

TRAVEL_MARGIN_MM = 10.0
MINIMUM_CLEARANCE_MM = 1.0
"""The least a tip end may clear the tallest labware by when it travels over the deck,
the 10 mm margin given up (Opentrons refuses the move below 1 mm too)."""
Point = tuple[float, float, float]


class CommandError(Exception):
    """A command the robot cannot carry out (out of reach, no pipette, over capacity)."""


class PlungerSpec(Frozen):
    """A pipette's capacity and plunger positions (mm on its plunger axis)."""

    __slots__ = ("blow_out", "bottom", "drop_tip", "max_volume", "ul_per_mm")

    max_volume: float
    ul_per_mm: float
    bottom: float
    blow_out: float
    drop_tip: float

    def __init__(self, max_volume: float, ul_per_mm: float, bottom: float, blow_out: float,
                 drop_tip: float) -> None:
        object.__setattr__(self, "max_volume", max_volume)
        object.__setattr__(self, "ul_per_mm", ul_per_mm)
        object.__setattr__(self, "bottom", bottom)
        object.__setattr__(self, "blow_out", blow_out)
        object.__setattr__(self, "drop_tip", drop_tip)


NOZZLE_PITCH_MM = 9.0
"""A multi-channel's nozzles: a column from the first, this far apart toward the front."""


class Pipette:
    """A loaded pipette: its plunger, the tip it holds (its length) and the liquid in it."""

    __slots__ = ("channels", "nozzle_xy", "spec", "tip_length", "volume")

    def __init__(self, spec: PlungerSpec, tip_length: float | None = None, volume: float = 0.0,
                 nozzle_xy: tuple[float, float] = (0.0, 0.0), channels: int = 1) -> None:
        self.spec = spec
        self.tip_length = tip_length
        self.volume = volume
        self.nozzle_xy = nozzle_xy  # first nozzle from the mount (a multi's)
        self.channels = channels

    def __repr__(self) -> str:
        return (f"Pipette(spec={self.spec!r}, tip_length={self.tip_length!r}, "
                f"volume={self.volume!r}, nozzle_xy={self.nozzle_xy!r}, "
                f"channels={self.channels!r})")

    def nozzle_span_y(self) -> float:
        """How far the last nozzle is in front of the first (0 for a single channel)."""
        return (self.channels - 1) * NOZZLE_PITCH_MM


def _offset_said(pipette: Pipette | None, x: float, y: float, config: RobotConfig) -> str:
    """Why a multi-channel's point is out of the gantry's reach where a single channel's
    would not be: its first nozzle goes to the point, and the mount sits off it (an OT-2
    8-channel's 31.5 mm in front: its rows F to H of a front slot are out of reach)."""
    if pipette is None or pipette.channels < 2 or pipette.nozzle_xy == (0.0, 0.0) \
            or config.out_of_travel({"X": x, "Y": y}) is None:
        return ""
    dx, dy = pipette.nozzle_xy
    side = (f"{abs(dy):g} mm {'in front of' if dy > 0 else 'behind'} it" if dy else
            f"{abs(dx):g} mm to its {'left' if dx > 0 else 'right'}")
    return (f" (the {pipette.channels}-channel's first nozzle goes to the point, and its "
            f"mount {side})")


class RobotModel:
    """The robot as the commands of one run have left it; owned by the engine loop."""

    def __init__(self, config: RobotConfig) -> None:
        self.config = config
        self.pipettes: dict[str, Pipette] = {}
        self.position: dict[str, float] = {a: cfg.home for a, cfg in config.axes.items()}
        self.deck_highest = 0.0  # the top of the tallest labware or module on the deck
        self.labware_highest = 0.0  # the top of the tallest labware on the deck
        self._labware_tops: dict[int, float] = {}  # labware count -> its top, on the deck
        self._module_tops: dict[str, float] = {}  # module -> its top
        self.stacks = LabwareStacks()  # where each labware is
        self.trash_point: Point | None = None
        # Per mount, the gantry's X and Y at its last aspirate or dispense: the well its
        # tip, holding liquid, waits over during a pause that caught it between wells.
        self.liquid_xy: dict[str, tuple[float, float]] = {}
        self.rail_lights = False
        self.max_speeds: dict[str, float] = {}  # axis -> speed cap (mm/s), ctx.max_speeds
        self.slowest_speed = config.controller.slowest_speed  # mm/s: a move asks no less

    # -- what stands on the deck ------------------------------------------------------

    def labware_top(self, index: int, top: float | None) -> None:
        """Labware ``index`` (its count among the run's loads) has its top at ``top``
        now, or (None) is off the deck: moves travel clear of what is there now."""
        if top is None:
            self._labware_tops.pop(index, None)
        else:
            self._labware_tops[index] = top
        self._tallest()

    def module_top(self, module: str, top: float) -> None:
        """Module ``module`` stands on the deck, its top at ``top``."""
        self._module_tops[module] = top
        self._tallest()

    def _tallest(self) -> None:
        self.labware_highest = max(self._labware_tops.values(), default=0.0)
        self.deck_highest = max(self.labware_highest,
                                max(self._module_tops.values(), default=0.0))

    # -- queries --------------------------------------------------------------------

    @property
    def labware(self) -> dict[str, str]:
        """Each slot with labware -> the name of the one on top there."""
        return self.stacks.tops()

    def mounts_holding_liquid(self) -> list[str]:
        """Mounts whose tip holds liquid."""
        return [m for m, p in self.pipettes.items() if p.tip_length is not None
                and p.volume > 1e-9]

    def tips_attached(self) -> list[str]:
        """Mounts holding a tip."""
        return [m for m, p in self.pipettes.items() if p.tip_length is not None]

    def safe_height(self, tips: Mapping[str, float] | None = None,
                    top: float | None = None) -> float:
        """The Z axis position at which every mount's tip end clears the tallest labware
        and module on the deck (never below the robot's configured safe height).

        ``tips``: tip lengths to count on mounts the model takes as bare, which may hold
        one all the same (a pick-up cut off once the nozzle had pressed into its tip);
        ``top``: a height in deck z to clear as well (a labware on its way onto the deck).
        """
        above = None if top is None else top + TRAVEL_MARGIN_MM
        return max([self.config.safe_height,
                    *(self._travel_height(mount, above, (tips or {}).get(mount))
                      for mount in self.config.mounts)])

    def clearing_config(self, tips: Mapping[str, float] | None = None,
                        top: float | None = None) -> RobotConfig:
        """The robot configuration with ``safe_height`` raised to clear the deck: what
        parking, unparking and the cleanup lift to (``tips``, ``top``: as for
        ``safe_height``)."""
        height = self.safe_height(tips, top)
        if height <= self.config.safe_height:
            return self.config
        return replace(self.config, safe_height=height)

    def trash_drop_point(self) -> Point:
        """Where tips are dropped during cleanup."""
        if self.trash_point is not None:
            return self.trash_point
        x, y, z = self.config.slots[self.config.trash_slot]
        return (x + 80.0, y + 45.0, z + 85.0)

    def pipette(self, mount: str) -> Pipette:
        """The pipette on ``mount``; CommandError if there is none."""
        try:
            return self.pipettes[mount]
        except KeyError:
            raise CommandError(f"no pipette is loaded on the {mount} mount") from None

    def tip_length(self, mount: str) -> float:
        """The length of the tip on ``mount`` (0 for a bare nozzle)."""
        pipette = self.pipettes.get(mount)
        return pipette.tip_length if pipette and pipette.tip_length is not None else 0.0

    def z_axis(self, mount: str) -> str:
        """The Z axis of ``mount``."""
        return self._mount(mount).z_axis

    def plunger_axis(self, mount: str) -> str:
        """The plunger axis of ``mount``; CommandError if its tool has no plunger."""
        axis = self._mount(mount).plunger_axis
        if not axis:
            raise CommandError(f"the tool on the {mount} mount has no plunger")
        return axis

    def nozzle_column(self, mount: str) -> tuple[float, float, float]:
        """Where the nozzles of ``mount`` are over the deck now: their x, the y of the
        last (the front one: a multi-channel's column reaches 63 mm in front of its first)
        and the y of the first."""
        cfg = self._mount(mount)
        pipette = self.pipettes.get(mount)
        dx, dy = pipette.nozzle_xy if pipette is not None else (0.0, 0.0)
        span = pipette.nozzle_span_y() if pipette is not None else 0.0
        back = self.position["Y"] + cfg.offset[1] + dy
        return self.position["X"] + cfg.offset[0] + dx, back - span, back

    def nozzle_z(self, mount: str, point_z: float) -> float:
        """The Z axis position that puts the nozzle of ``mount`` at ``point_z``."""
        return point_z - self._mount(mount).offset[2]

    def tip_down(self) -> bool:
        """Whether a mount's tip end (or nozzle) is below the top of the tallest labware
        (not module): it may be in a well now, and a step rewound from here would return
        it there."""
        highest = self.labware_highest - 1e-6
        position, pipettes = self.position, self.pipettes
        for name, cfg in self.config.mounts.items():  # once a step: no calls but these
            pipette = pipettes.get(name)
            tip = pipette.tip_length if pipette is not None else None
            if position[cfg.z_axis] + cfg.offset[2] - (tip or 0.0) < highest:
                return True
        return False

    # -- planning -------------------------------------------------------------------

    def arc(self, mount: str, point: Point, *, force_direct: bool = False,
            minimum_z: float | None = None, speed: float | None = None,
            tip_length: float | None = None) -> list[Segment]:
        """Moves that bring the tip end (or nozzle) of ``mount`` to ``point``: up to the
        travel height, across, down; or straight there when ``force_direct``."""
        cfg = self._mount(mount)
        tip = tip_length if tip_length is not None else self.tip_length(mount)
        pipette = self.pipettes.get(mount)
        dx, dy = pipette.nozzle_xy if pipette is not None else (0.0, 0.0)
        x, y = point[0] - cfg.offset[0] - dx, point[1] - cfg.offset[1] - dy
        z = point[2] + tip - cfg.offset[2]
        problem = self.config.out_of_travel({"X": x, "Y": y, cfg.z_axis: z})
        if problem is not None:
            raise CommandError(f"the {mount} mount cannot reach that point "
                               f"({point[0]:.2f}, {point[1]:.2f}, {point[2]:.2f}): {problem}"
                               f"{_offset_said(pipette, x, y, self.config)}")
        if minimum_z is not None:  # else travel would go lower than asked, silently
            top = self.config.axes[cfg.z_axis].max - tip + cfg.offset[2]
            if minimum_z > top + 1e-6:
                raise CommandError(
                    f"minimum_z_height {minimum_z:g} mm is out of reach: the {mount} "
                    f"mount's {'tip end' if tip else 'nozzle'} goes up to {top:g} mm")
        here = self.position
        if force_direct:
            return self.capped([Move({"X": x, "Y": y, cfg.z_axis: z}, speed)])
        segments: list[Segment] = []
        if abs(here["X"] - x) > 1e-6 or abs(here["Y"] - y) > 1e-6:
            lift: dict[str, float] = {}
            topped: list[str] = []  # lifted as high as they go: may not clear the labware
            for name, other in self.config.mounts.items():
                travel = self._travel_height(name, minimum_z)
                # a mount without a pipette has no nozzle to drag through a labware
                if travel >= self.config.axes[other.z_axis].max and (
                        name == mount or name in self.pipettes):
                    topped.append(name)
                if name == mount:
                    travel = max(travel, z)
                lift[other.z_axis] = max(here[other.z_axis], travel)
            if topped:  # (rare: no sort, no function made on every move)
                for name in sorted(topped, key=lambda name: name != mount):  # moving first
                    self._check_clears_labware(name)
            for axis, height in lift.items():  # a loop, not any(): no generator frame
                if abs(height - here[axis]) > 1e-6:
                    segments.append(Move(lift))
                    break
            segments.append(Move({"X": x, "Y": y}, speed))
        segments.append(Move({cfg.z_axis: z}, speed))
        return self.capped(segments)

    def capped(self, segments: list[Segment]) -> list[Segment]:
        """``segments`` (from where the robot is now) with each move's path speed lowered
        so that no axis goes faster than its ``max_speeds`` cap."""
        if not self.max_speeds:
            return segments
        here = dict(self.position)
        out: list[Segment] = []
        for segment in segments:
            if not isinstance(segment, Move):
                out.append(segment)
                continue
            speed = capped_speed(here, segment.target, segment.speed, self.max_speeds)
            out.append(segment if speed == segment.speed else Move(segment.target, speed))
            here.update(segment.target)
        return out

    def planned_from(self, target: Mapping[str, float],
                     plan: Callable[[RobotModel], list[Segment]]) -> list[Segment]:
        """What ``plan`` plans with the robot at ``target`` (a move not yet made); where it
        is does not change."""
        position = self.position
        now = {axis: position[axis] for axis in target}
        position.update(target)
        try:
            return plan(self)
        finally:
            position.update(now)

    def check_speeds(self, kind: str, segments: list[Segment]) -> None:
        """CommandError if a move of ``segments`` asks for a speed slower than the robot's
        controller moves at as asked (a flow rate far too low): refused at the protocol's
        line, in a simulation as on the robot."""
        slowest = self.slowest_speed
        for segment in segments:
            speed = getattr(segment, "speed", None)
            if speed is not None and speed < slowest:
                raise CommandError(f"{kind} at {speed:.3g} mm/s is slower than the robot's "
                                   f"controller moves (at least {slowest:.3g} mm/s): a flow "
                                   "rate or speed far too low")

    def check_reach(self, mount: str, target: Mapping[str, float]) -> None:
        """CommandError if ``target`` is outside an axis' travel."""
        problem = self.config.out_of_travel(target)
        if problem is not None:
            raise CommandError(f"the {mount} mount cannot reach that point: {problem}")

    def _check_clears_labware(self, mount: str) -> None:
        """CommandError if the tip end of ``mount`` would be below the top of the tallest
        labware, with 1 mm to spare, even at the top of its Z travel: a move over the deck
        would drag the tip through it or graze it. (Its 10 mm margin is given up first, as
        Opentrons does; a module's height, such as an open thermocycler lid, is not
        labware a tip passes over.)"""
        cfg = self._mount(mount)
        need = (self.labware_highest + MINIMUM_CLEARANCE_MM + self.tip_length(mount)
                - cfg.offset[2])
        axis = self.config.axes[cfg.z_axis]
        if need > axis.max + 1e-6:
            held = " with its tip" if self.tip_length(mount) else ""
            raise CommandError(
                f"the {mount} mount{held} cannot travel over the tallest labware "
                f"({self.labware_highest:.1f} mm high): it would need axis {cfg.z_axis} "
                f"at {need:.1f} mm to clear it by {MINIMUM_CLEARANCE_MM:g} mm, outside its "
                f"travel [{axis.min:g}, {axis.max:g}]")

    def _travel_height(self, mount: str, minimum_z: float | None,
                       tip_length: float | None = None) -> float:
        """The Z axis position at which ``mount`` travels: its tip end clear of the
        tallest labware (deck heights, turned into the axis' frame by the mount's offset);
        ``tip_length``: the tip to count, when longer than the one the model knows of."""
        cfg = self.config.mounts[mount]  # one of the robot's own: the callers walk them
        height = self.deck_highest + TRAVEL_MARGIN_MM
        if minimum_z is not None:
            height = max(height, minimum_z)
        tip = self.tip_length(mount)
        if tip_length is not None and tip_length > tip:
            tip = tip_length
        return min(height + tip - cfg.offset[2],
                   self.config.axes[cfg.z_axis].max)

    def _mount(self, mount: str) -> MountConfig:
        cfg = self.config.mounts.get(mount)  # a few times a command
        if cfg is not None:
            return cfg
        try:
            return self.config.mount(mount)
        except ConfigError as exc:  # e.g. a mount this robot does not have
            raise CommandError(str(exc)) from None
