"""Pausing inside the engine loop: park, wait for resume, unpark, resume the step.

Every pause parks, whatever its source (docs/design.md §5). A pause that lands during
unparking parks again, keeping the position recorded when the run first paused, so
the run always continues from where it paused (or from the checkpoint of a rewound
step).
"""

from __future__ import annotations

from hardware import aio, parking
from hardware.clock import VirtualClock
from hardware.config import RobotConfig
from hardware.controller import Position

from . import commands as c
from .actions import Resume
from .core import EngineCore
from .entries import CommandEntry
from .record import rounded
from .reducer import ParkChanged
from .segments import Move
from .state import Park, PauseSource

TIP_CLEARANCE_MM = 3.0
"""How near a labware put in by hand a nozzle may be, sideways, and still count as over
it: a tip end's width, and the play of a labware placed by hand."""


class Pausing:
    """Parks and unparks the robot for one run; owns where the run paused."""

    def __init__(self, engine: EngineCore) -> None:
        self.engine = engine
        self.parked_at: Position | None = None  # where the robot stopped when it paused
        self.checkpoint: Position = {}  # where the robot was when the step began
        self.tripped: set[str] = set()  # interlocks tripped during this pause
        self.lowering: Position | None = None
        """The Z heights a checkpoint's unpark left the tips above: each lowered to before
        a command of its mount that acts where the pipette is (``Command.in_place``,
        ``lower_for``); forgotten when a command moves it elsewhere first."""
        self._clear_then: dict[str, float] = {}
        """Of ``lowering``'s axes, those whose tip was clear of every labware when the run
        paused, each with the top of the tallest labware then."""
        self._floors: dict[str, dict[int, float]] = {}
        """Of ``lowering``'s axes, those whose tip a labware was moved in under by hand,
        each with the lowest it may go for each such labware (by its ``loadLabware``
        count): just above that labware's top, for as long as it stays there."""

    def step_started(self) -> None:
        """A new step begins here: its checkpoint, should it be rewound."""
        self.checkpoint = dict(self.engine.model.position)

    def interlock_changed(self, name: str, active: bool) -> None:
        """Remember which interlocks tripped, for resuming by themselves."""
        if active:
            self.tripped.add(name)
        if self.engine.state.pause is None:
            self.tripped = {n for n in self.tripped if n in self.engine.state.interlocks}

    async def pause_here(self, *, back_to: Position | None = None, checkpoint: bool = False,
                         arriving_top: float | None = None) -> None:
        """Park, wait for resume, unpark; again if a pause comes during unparking.

        Unparking returns to where the robot stopped, or to ``back_to`` (a rewound step's
        checkpoint). At a ``checkpoint`` (between steps: a protocol pause, a deferred
        one, one during a delay) the tips stay at the safe height over where they were
        until a command acts there (``lowering``): a step that goes elsewhere first does
        not dip the used tip into the last well, perhaps of a plate swapped meanwhile.
        ``arriving_top``: the top of a labware a person was asked to move, in deck z: it
        may stand at its new place from the resume on (before the move completes and the
        deck changes), so parking again and unparking clear it too.
        """
        engine = self.engine
        while engine.state.pause is not None:
            if engine.state.park is not Park.PARKED:
                await self._park(arriving_top)
            await self._wait_resumed()
            self.tripped.clear()
            await engine.mark_job("resumed")
            await self._unpark(back_to, hold_z=checkpoint, arriving_top=arriving_top)

    def lower_for(self, mount: str) -> Position | None:
        """The move that lowers ``mount``'s tip, held up by a checkpoint's unpark, before a
        command of it acts in place (None: not held, or no lower than it is). Its recorded
        height, but a tip that was clear of every labware stays as far above the tallest
        as it was: a labware moved in by hand meanwhile may stand under it now. The tip is
        held until ``lowered`` says the move is done (a pause may cut it off); the other
        mount's stays up until a command of its own acts in place."""
        model = self.engine.model
        z = model.z_axis(mount)
        lowering = self.lowering
        if lowering is None or z not in lowering:
            return None
        height = lowering[z]
        then = self._clear_then.get(z)
        if then is not None and model.labware_highest > then:
            height += model.labware_highest - then
        height = max([height, *self._floors.get(z, {}).values()])
        height = min(height, model.config.axes[z].max)
        if height >= model.position[z] - 1e-9:
            return None  # no lower than it is: nothing to do
        return {z: height}

    def labware_moved(self, labware: int, footprint: tuple[float, float, float, float] | None,
                      top: float) -> None:
        """A person has moved ``labware`` by hand (its ``loadLabware`` count) to where it
        covers ``footprint`` (its front-left and back-right corners, x and y; None: off the
        deck) with its top at ``top``. A held pipette with any nozzle over it (a
        multi-channel's column reaches 63 mm in front of its first), which was not there
        when the run paused, is lowered no further than 1 mm above that top; one it stood
        under before, where it no longer is, may go back down."""
        for floors in self._floors.values():
            floors.pop(labware, None)
        model = self.engine.model
        if self.lowering is None or footprint is None:
            return
        x0, y0, x1, y1 = footprint
        margin = TIP_CLEARANCE_MM
        for name, mount in model.config.mounts.items():
            z = mount.z_axis
            if z not in self.lowering:
                continue
            x, front, back = model.nozzle_column(name)
            if (x0 - margin <= x <= x1 + margin
                    and front <= y1 + margin and back >= y0 - margin):
                # every nozzle counted as holding a tip (a partial layout's bare ones too)
                floor = model.nozzle_z(name, top + 1.0 + model.tip_length(name))
                self._floors.setdefault(z, {})[labware] = floor

    def lowered(self, mount: str) -> None:
        """``lower_for(mount)``'s move is done: that tip is no longer held."""
        z = self.engine.model.z_axis(mount)
        self._clear_then.pop(z, None)
        self._floors.pop(z, None)
        if self.lowering is not None:
            self.lowering = {a: h for a, h in self.lowering.items() if a != z} or None

    async def resume_step(self, interrupted: CommandEntry | None) -> None:
        """Resume the current step after an immediate pause (docs/design.md §4).

        ``interrupted`` is the command the pause cut off (None: the pause came between
        two commands of the step). If no irreversible command of the step has started,
        the step is rewound: the robot returns to the step's checkpoint and the moves
        made so far run again exactly as planned, then the interrupted command starts
        over. Otherwise the robot returns to where it stopped, the interrupted command
        completes toward its absolute targets and the step carries on; nothing is
        repeated.
        """
        engine = self.engine
        journal = engine.journal
        if not journal.rewindable:
            await self.pause_here()
            last = journal.last
            if interrupted is None:
                if last is not None:
                    engine.record.add("pause_effect", effect="continued", id=last.id,
                                      step=last.step.index)
            else:  # no plan yet: cut off in the lowering before it (or before it began)
                engine.record.add("pause_effect", effect="completed after pause",
                                  id=interrupted.id, from_segment=interrupted.done
                                  if interrupted.plan is not None else 0)
            return
        done = journal.entries
        upto = done.index(interrupted) if interrupted is not None else len(done)
        while True:
            await self.pause_here(back_to=self.checkpoint)
            with engine.interruptible() as scope:
                for entry in done[:upto]:
                    if entry.plan:
                        engine.record.add("pause_effect", effect="rewound", id=entry.id)
                        for segment in entry.plan:
                            await engine.move(segment)
            if not scope.cancelled_caught:
                break
        if interrupted is not None and interrupted.command.execution is c.Execution.MOTION:
            # it starts over: from its first segment, or planned afresh if the pause cut
            # off the lowering before it (or caught it as it began); either way rewound
            engine.record.add("pause_effect", effect="rewound", id=interrupted.id)
            if interrupted.plan is not None:
                interrupted.done = 0

    # -- the parts of a pause -----------------------------------------------------------

    async def _park(self, arriving_top: float | None = None) -> None:
        engine = self.engine
        engine.dispatch(ParkChanged(Park.PARKING))
        engine.record.flush()  # the pause is on disk before the robot parks
        stopped = await engine.controller.stop_motion()
        position = engine.model.position
        position.update(stopped)
        if self.parked_at is None:
            self.parked_at = dict(position)
        await engine.modules.park()  # a shaker stops; temperatures and magnets hold
        # A tip holds liquid, or may: a command that moves liquid was cut off (an aspirate
        # into an empty tip has drawn part of its volume, which the model counts only
        # once it completes). Either way it stays over its well rather than drip across:
        # caught between wells, over the one it last drew from or dispensed into.
        # With liquid in the tips of both mounts, each from its own well, the gantry cannot
        # be over both: it stays where it stopped.
        cut = engine.journal.last
        holding = set(engine.model.mounts_holding_liquid())
        if cut is not None and isinstance(cut.command, c.LIQUID_COMMANDS) \
                and cut.status == "started":
            holding.add(cut.command.mount)
        keep_xy = bool(holding)
        over = (engine.model.liquid_xy.get(next(iter(holding))) if len(holding) == 1
                and not engine.model.tip_down() else None)
        if over is not None and (_above(over, position) or (
                cut is not None and cut.status == "started"
                and _above(_heading(cut), position))):
            over = None  # over that well already, or over the one it is going down into
        # behind an interlock active already (a door open as the run paused) nothing moves
        held_by = sorted(engine.controller.active_interlocks())
        with engine.stopped_by_interlocks() as door:
            parked = await parking.park(engine.controller, self._clearing(arriving_top), position,
                                        keep_xy=keep_xy, over=over)
        extra: dict[str, object]
        if door.cancelled_caught:  # an interlock tripped: the axes stay where they stopped
            position.update(await engine.controller.stop_motion())
            parked = await parking.hold(engine.controller, engine.config)
            extra = {"stopped_by": sorted(engine.controller.active_interlocks())}
        elif held_by:  # nothing moved: it stands where it stopped
            extra = {"stopped_by": held_by}
        else:  # over that well only if the gantry got there
            extra = ({"over_last_well": True} if _above(over, parked, OVER_WELL_TOLERANCE_MM)
                     else {})
        position.update(parked)
        engine.record.add("park", recorded=rounded(self.parked_at), parked=rounded(parked),
                          kept_xy=keep_xy, **extra)
        # stopped and parked: the board's menu offers Resume print from now on (a Marlin's
        # print job timer paused), as the run is said to be paused
        await engine.mark_job("paused")
        engine.dispatch(ParkChanged(Park.PARKED, over_well=keep_xy,
                                    in_place="stopped_by" in extra))

    def _clearing(self, arriving_top: float | None = None) -> RobotConfig:
        """What parking and unparking clear: the deck (and ``arriving_top``), counting the
        tip that a pick-up cut off once its nozzle had pressed into it may already hold
        (the model counts it only once the pick-up completes)."""
        engine = self.engine
        cut = engine.journal.last
        if (cut is not None and cut.status == "started" and cut.plan is not None
                and isinstance(cut.command, c.PickUpTip)
                and cut.command.may_hold_tip(cut.done, cut.plan)):
            return engine.model.clearing_config({cut.command.mount: cut.command.tip_length},
                                                arriving_top)
        return engine.model.clearing_config(top=arriving_top)

    async def _wait_resumed(self) -> None:
        engine = self.engine
        while engine.state.pause is not None:
            pause = engine.state.pause
            if (pause.source is PauseSource.INTERLOCK and not engine.state.interlocks
                    and self._auto_resumes()):
                engine.apply(Resume(source="interlock"))
                continue
            engine.record.flush()
            engine.take_fault()  # a robot that dropped off while parked ends the run now
            if engine.state.pause is None:
                break
            # the board's menu offers Resume print again after a Resume print there was
            # refused (Marlin's started its print job timer), or a pause found it parked
            await engine.mark_job("paused")
            if isinstance(engine.clock, VirtualClock):
                if await engine.clock.advance_to_next_timer():
                    continue
                action = engine.on_stalled(engine.state) if engine.on_stalled else None
                if action is not None:
                    engine.apply(action)
                    await aio.checkpoint()
                    continue
            await engine.wait()

    def _auto_resumes(self) -> bool:
        """Whether every interlock tripped during this pause resumes by itself."""
        settings = self.engine.config.interlocks
        return all(name in settings and settings[name].auto_resume for name in self.tripped)

    async def _unpark(self, back_to: Position | None, *, hold_z: bool = False,
                      arriving_top: float | None = None) -> None:
        engine = self.engine
        assert self.parked_at is not None
        target = back_to if back_to is not None else self.parked_at
        clearing = self._clearing(arriving_top)
        going = target
        if hold_z:
            up = {z: max(target[z], clearing.safe_height) for z in clearing.z_axes}
            going = {**target, **up}
            # A tip still held from an earlier pause keeps the height it is to go back down
            # to (and its bounds): where it paused this time is where it was held, perhaps
            # below a safe height a labware brought in meanwhile has raised.
            held = self.lowering or {}
            lower = {z: target[z] for z in up if up[z] - target[z] > 1e-9 and z not in held}
            if lower:  # with one still pending from before this pause, for the other mount
                self.lowering = {**(self.lowering or {}), **lower}
                model = engine.model
                for name, mount in model.config.mounts.items():
                    if mount.z_axis in lower:  # was its tip end above every labware?
                        self._floors.pop(mount.z_axis, None)
                        end = target[mount.z_axis] + mount.offset[2] - model.tip_length(name)
                        if end >= model.labware_highest - 1e-6:
                            self._clear_then[mount.z_axis] = model.labware_highest
                        else:
                            self._clear_then.pop(mount.z_axis, None)
        engine.dispatch(ParkChanged(Park.UNPARKING))
        engine.record.flush()
        with engine.interruptible() as scope:
            if engine.state.pause is not None:
                scope.cancel()
            await aio.checkpoint()
            position = await parking.unpark(engine.controller, clearing, going,
                                            engine.model.max_speeds)
            engine.model.position.update(position)
            await engine.modules.unpark()  # a shaker back at speed before the run goes on
        if scope.cancelled_caught:
            await engine.read_back()
            engine.record.add("unpark", interrupted=True,
                              position=rounded(engine.model.position))
            engine.dispatch(ParkChanged(Park.NONE))
            return
        engine.model.position.update(position)
        extra: dict[str, object] = {"rewind": True} if back_to is not None else {}
        if hold_z and self.lowering is not None:
            extra["z_held"] = True  # up until a command acts where the tips are
        engine.record.add("unpark", recorded=rounded(target), position=rounded(position),
                          **extra)
        self.parked_at = None
        engine.dispatch(ParkChanged(Park.NONE))


OVER_WELL_TOLERANCE_MM = 0.5
"""How far from a well's centre a parked gantry still counts as over it: its read-back
position is a step or so off the target, and a well is millimetres wide."""


def _above(xy: tuple[float, float] | None, position: Position, within: float = 1e-6) -> bool:
    """Whether the gantry is at ``xy`` (``within`` mm: a position read back from a
    controller is a step or so off its target)."""
    return xy is not None and max(abs(xy[0] - position["X"]),
                                  abs(xy[1] - position["Y"])) <= within


def _heading(entry: CommandEntry) -> tuple[float, float] | None:
    """The X and Y the command's motion ends at (None: it does not move the gantry)."""
    for segment in reversed(entry.plan or ()):
        if isinstance(segment, Move) and "X" in segment.target and "Y" in segment.target:
            return segment.target["X"], segment.target["Y"]
    return None
