"""The engine loop: executes the protocol's commands and carries out the actions.

It runs in the engine's thread (on anyio, or on the simulation's runtime: see
``hardware.aio``) and is the only owner of the run state. Every
action and observation goes through ``check_action`` and ``reduce``; the loop then
acts on the new state. Interruptions are scope cancellations inside this loop, never
exceptions thrown into another thread:

- an immediate pause (or an interlock, or any pause during a delay) cancels the
  *interruptible* scope around the command or unpark in progress;
- stop, abort and halt cancel the *protocol* scope; halt also cancels the cleanup.

After an immediate pause, ``Pausing.resume_step`` rewinds the step when none of its
irreversible commands has started, and otherwise completes the interrupted command from
its remaining segments (their targets are absolute) and carries on (docs/design.md §4).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hardware import aio
from hardware.aio import CancelScope, Scope, TaskGroupLike
from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.controller import BoardAction, HardwareFault, JobPhase, MotionController
from hardware.devices import Device

from . import commands as c
from .actions import BOARD, Action, Pause, Resume, SkipDelay, Stop, check_action
from .book import CommandBook
from .bridge import LoopCaller, LoopDriver
from .channel import CommandChannel, CommandRequest, ProtocolDone, Request
from .compat import assert_never
from .core import StalledPolicy
from .ending import RunEnding
from .entries import ActionResult, CommandEntry, StepJournal
from .errors import error_line
from .inbox import Inbox
from .modules import Modules
from .pausing import Pausing
from .record import RunRecord, action_fields, rounded, status_fields
from .reducer import (
    CheckpointReached,
    EngineEvent,
    InterlockChanged,
    ModuleWaitChanged,
    ProtocolFinished,
    ProtocolPaused,
    StepStarted,
    reduce,
)
from .robot_model import CommandError, RobotModel
from .segments import HomeAxes, Move, Segment, still_held
from .state import EndKind, RunState, Status, status_of
from .summary import summarize
from .waits import Waits


class Engine:
    """Runs one protocol run on one controller."""

    def __init__(self, controller: MotionController, clock: Clock, config: RobotConfig,
                 record: RunRecord, *, on_stalled: StalledPolicy | None = None,
                 start_protocol: Callable[[CommandChannel], None] | None = None,
                 devices: dict[str, Device] | None = None,
                 simulate_devices: bool = True, keep_entries: bool = True) -> None:
        self.controller = controller
        self.clock = clock
        self.config = config
        self.record = record
        self.state = RunState()  # replaced only by ``dispatch``
        self.model = RobotModel(config)
        # What other threads read: replaced (never changed in place) by the loop.
        self.position_seen: dict[str, float] = dict(self.model.position)
        self.position_unknown: str | None = None
        """Why the position is not known, once an emergency stop left the controller
        unable to report it (Marlin after ``M112``): nothing reports a position then."""
        self.book = CommandBook(clock.now, record, keep=keep_entries)
        self.entries, self.tally = self.book.entries, self.book.tally
        self.channel: CommandChannel | None = None
        self.caller: LoopCaller | None = None
        self.driver: LoopDriver | None = None  # set by whoever runs the loop with one
        self.on_stalled = on_stalled
        self.pausing = Pausing(self)
        self.ending = RunEnding(self)
        self.waits = Waits(self)
        self.modules = Modules(self, devices, simulate=simulate_devices)
        self.inbox = Inbox(self._wake)
        self._start_protocol = start_protocol
        self._wakeup: aio.EventLike | None = None  # what wait() awaits, until set
        self._new_scope: Callable[[], Scope] = CancelScope
        self._new_event: Callable[[], aio.EventLike] = aio.Event
        self.journal = StepJournal()  # the commands of the step in progress
        self._interruptible: Scope | None = None
        self._guarded: Scope | None = None  # motion that an interlock tripping stops
        self._protocol_scope: Scope | None = None
        self._tg: TaskGroupLike | None = None
        self._listeners: list[Callable[[RunState], None]] = []
        self._waiting = False  # nothing to do but wait for a request, an action or time
        self._job: JobPhase | None = None  # what the controller's board was last told

    # -- the outside world ----------------------------------------------------------

    def subscribe(self, listener: Callable[[RunState], None]) -> Callable[[], None]:
        """Call ``listener`` with every new state (in the loop); returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def apply(self, action: Action) -> ActionResult:
        """Check and carry out an action; loop thread only."""
        if self.caller is not None and self.caller.closed:
            return ActionResult(False, status_of(self.state), "the run has already ended")
        reason = check_action(self.state, action)
        self.record.add("action", action=action.name, source=action.source,
                        accepted=reason is None, refusal=reason, **action_fields(action))
        if reason is not None:
            return ActionResult(False, status_of(self.state), reason)
        self.dispatch(action)
        self._react(action)
        return ActionResult(True, status_of(self.state))

    def deliver(self, requests: Sequence[Request]) -> None:
        """Take requests from the protocol thread, in order; loop thread only."""
        done = requests[-1] if requests else None
        if (isinstance(done, ProtocolDone) and done.error is not None
                and self.state.ending is None and self.state.started
                and (self.state.pause is not None or self.waits.active
                     or self.state.module_wait)):
            # The protocol failed while the run waits on something else (an embedding
            # script raised, or was interrupted, while paused or in a delay): the run
            # fails now, as a stop would end it, not once a resume or the wait's end comes.
            self.ending.fail(done.error, done.location, around=True)  # (ends the protocol)
            return
        self.inbox.deliver(requests, self.channel.closed_error if self.channel else None)

    def on_interlock(self, name: str, active: bool) -> None:
        """The controller reports an interlock change; loop thread only."""
        self.record.add("interlock", name=name, active=active)
        self.dispatch(InterlockChanged(name, active))
        self.pausing.interlock_changed(name, active)
        if active and self._guarded is not None:
            self._guarded.cancel()
        self._react(None)

    def on_board(self, action: BoardAction) -> None:
        """A person asked for ``action`` at the robot's own board; loop thread only.

        It is an action from source ``board``, through the guard as any other (a refusal,
        a resume behind an open door, is recorded and changes nothing but the board's own
        menu, told again that the run is paused). A pause there is
        immediate: the person at the machine wants it still now, not at the step's end.
        """
        if action == "pause":
            self.apply(Pause(source=BOARD, option="immediate"))
        elif action == "resume":
            if not self.apply(Resume(source=BOARD)).accepted and self._job == "paused":
                # Marlin's Resume print started its print job timer itself: the pause's
                # wait pauses it again, for its menu to offer Resume print once more
                self._job = "resumed"
                self._wake()
        else:
            self.apply(Stop(source=BOARD))

    async def mark_job(self, phase: JobPhase) -> None:
        """Tell the controller's board where the run stands (``MotionController.mark_job``:
        a Marlin's LCD then offers Pause, Resume and Stop print as the run takes them);
        said once for each change, nothing but ``ended`` once the run is ending, and
        ``ended`` only for a run that started. A failure raises as any controller call's
        does."""
        job = self._job
        if phase == "started":
            changed = job is None
        elif phase == "resumed":
            changed = job == "paused" and self.state.ending is None
        elif phase == "paused":
            changed = job in ("started", "resumed") and self.state.ending is None
        else:
            changed = job not in (None, "ended")
        if not changed:
            return
        self._job = phase
        await self.controller.mark_job(phase)

    def on_fault(self, fault: HardwareFault) -> None:
        """The controller failed on its own (its connection was lost); loop thread only.

        A run that waits (paused, in a delay, for a module, or for the protocol) fails now
        rather than at its next move. A controller call in progress raises the fault
        itself, which fails the run with the protocol line that made the call.
        """
        self.ending.fault_reported(fault)
        if self._waiting or self.waits.active or self.state.module_wait:
            self.take_fault()

    def take_fault(self) -> None:
        """Fail the run on a fault the controller reported while the engine waited."""
        self.ending.take_fault()

    # -- the loop -------------------------------------------------------------------

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run to a terminal status; ``on_ready`` is called once actions can be taken."""
        self.caller = LoopCaller(self.driver)
        self.channel = CommandChannel(self.caller, self.deliver, lambda: self.state.interlocks)
        # The runtime's cancel scope and event classes, made directly: one is needed per
        # command, one per wait for the protocol.
        self._new_scope = aio.scope_class()
        self._new_event = aio.event_class()
        if on_ready is not None:
            on_ready()
        async with aio.create_task_group() as tg:
            self._tg = tg
            self.controller.set_interlock_listener(self.on_interlock)
            self.controller.set_fault_listener(self.on_fault)
            self.controller.set_board_listener(self.on_board)
            for name in sorted(self.controller.active_interlocks()):
                self.on_interlock(name, True)
            try:
                while not (self.state.started or self.state.outcome is not None):
                    await self.wait()
                if self.state.outcome is None:
                    with CancelScope() as self._protocol_scope:
                        if self._start_protocol is not None:
                            self._start_protocol(self.channel)
                        await self._execute_protocol()
                    await self.ending.finish()
                elif self.state.outcome.status is Status.HALTED:
                    await self.ending.emergency_stop()
            finally:
                with CancelScope(shield=True):
                    self.end_protocol()
                    self.controller.set_interlock_listener(None)
                    self.controller.set_fault_listener(None)
                    self.controller.set_board_listener(None)
                    self.caller.close()  # nothing is recorded after the summary
                    self.record.add("summary", **summarize(self))
                    self.record.flush()
                    self._notify()
                tg.cancel_scope.cancel()

    async def _execute_protocol(self) -> None:
        try:
            await self.mark_job("started")
        except HardwareFault as exc:  # as a move that failed before the first command
            self.ending.fail(str(exc), None)
            return
        while True:
            try:
                request = await self._next_request()
            except (HardwareFault, CommandError) as exc:  # parking or a rewind failed
                self.ending.fail(str(exc), None)
                return
            if self.record.write_error is not None:  # the disk filled up meanwhile...
                line = None if isinstance(request, ProtocolDone) else request.line
                self.ending.fail(self.record.write_error, line)
                return
            if isinstance(request, ProtocolDone):
                if request.error is not None:
                    self.ending.fail(request.error, request.location)
                else:
                    self.dispatch(ProtocolFinished())
                return
            self.inbox.current = request
            try:
                result = await self._handle(request)
            except (HardwareFault, CommandError) as exc:
                self.ending.fail(str(exc), request.line)  # the waiting call raises RunFailed
                return
            except Exception as exc:  # a bug must still end the run, never strand it
                self.ending.fail(f"internal error: {error_line(exc)}", request.line)
                return
            self.inbox.current = None
            if threading.get_ident() != request.sender:
                self.record.flush()  # on disk before the protocol goes on
            # else the protocol's thread runs this loop itself (a simulation): it goes on
            # only once the loop waits, which flushes first (``_next_request``), so a
            # call's commands are written together
            if self.record.write_error is not None:  # a run whose record cannot be
                self.ending.fail(self.record.write_error, request.line)  # written fails
                return
            if not request.reply.done:  # else the run ended meanwhile: the call raises
                request.reply.set(result)

    async def _next_request(self) -> CommandRequest | ProtocolDone:
        while True:
            if self.state.pause is not None:
                # Paused while the protocol computes. Inside a step, the step resumes as
                # after an interrupted command; between steps, it is a checkpoint.
                step = self.state.step
                assert self.channel is not None
                if step is not None and self.inbox.finished_step(self.channel) != step.index:
                    await self.pausing.resume_step(None)
                else:
                    await self.pausing.pause_here(checkpoint=True)
                continue
            waiting = self.inbox.waiting
            if waiting:
                return waiting.popleft()
            self.record.flush()
            await self.wait()

    async def _handle(self, request: CommandRequest) -> dict[str, Any]:
        step = self.state.step
        if step is None or step.index != request.step.index:
            checkpoint = request.command.execution is c.Execution.CHECKPOINT
            # A deferred pause asked for while the robot unparks from this checkpoint's
            # pause is taken here too: the step has still not begun.
            while not checkpoint and self.state.pending:
                self.dispatch(CheckpointReached())
                while self.state.pause is not None:
                    await self.pausing.pause_here(checkpoint=True)
            self.journal = StepJournal()
            self.pausing.step_started()
            self.dispatch(StepStarted(request.step))
            self.record.add("step", index=request.step.index, name=request.step.name)
            if self.state.ending is not None:  # ended as the step began (a record listener
                return {}  # stopped it): the step's first command is never carried out
        entry = self.book.add(request.command, request.step, request.line)
        journal = self.journal
        if journal.rewindable and request.command.execution is c.Execution.MOTION:
            journal.add(entry, tip_down=self.model.tip_down())
        else:
            journal.add(entry)
        self.record.add("command", id=entry.id, status="queued", type=entry.command.kind,
                        params=entry.command.params(), step=entry.step.index, line=entry.line)
        await self._run_entry(entry)
        return entry.result or {}

    async def _run_entry(self, entry: CommandEntry) -> None:
        self.book.set_status(entry, "started")
        command = entry.command
        match command.execution:
            case c.Execution.CHECKPOINT:
                self.dispatch(ProtocolPaused(command.pause_message()))
                # a labware someone moves by hand may stand at its new place by the resume:
                # the unparking clears it there too
                top = command.arriving_top()
                await self.pausing.pause_here(checkpoint=True, arriving_top=top)
                if top is not None and isinstance(command, c.MoveLabware):
                    self.pausing.labware_moved(command.labware, command.footprint, top)
                # resumed: what a person did meanwhile (moved a labware) now holds
                self.book.set_status(entry, "completed", result=command.apply(self.model))
            case c.Execution.INSTANT if self.state.pause is None:  # nothing to interrupt
                self.book.set_status(entry, "completed", result=command.apply(self.model))
            case (c.Execution.INSTANT | c.Execution.MOTION | c.Execution.WAIT
                  | c.Execution.DEVICE):
                await self._run_interruptible(entry)
            case unknown:
                assert_never(unknown)

    async def _run_interruptible(self, entry: CommandEntry) -> None:
        while True:
            if self.state.pause is None:
                # ``interruptible()`` written out: this is once a command, and the
                # generator-based context manager cost more than the scope itself.
                scope = self._interruptible = self._new_scope()
                try:
                    with scope:
                        await self.execute(entry)
                finally:
                    self._interruptible = None
                if not scope.cancelled_caught:
                    return
                self.record.add("pause_effect", effect="interrupted", id=entry.id,
                                position=rounded(self.model.position))
            elif entry.command.execution is not c.Execution.INSTANT:
                # caught by the pause before it began (as its step began): said as well
                self.record.add("pause_effect", effect="interrupted", id=entry.id,
                                position=rounded(self.model.position), before_start=True)
            if entry.command.execution is c.Execution.WAIT:
                # Nothing moves during a wait: it just continues after the pause.
                await self.pausing.pause_here(checkpoint=True)
            else:
                await self.pausing.resume_step(entry)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[Scope]:
        """A scope that an immediate pause cancels (motion, unparking, a rewind)."""
        with self._new_scope() as scope:
            self._interruptible = scope
            try:
                yield scope
            finally:
                self._interruptible = None

    @contextlib.contextmanager
    def stopped_by_interlocks(self) -> Iterator[Scope]:
        """A scope that an interlock tripping cancels: the motion no pause can cut off
        (parking, the cleanup, the closing lift), for nothing moves behind an open door."""
        with self._new_scope() as scope:
            outer, self._guarded = self._guarded, scope
            try:
                yield scope
            finally:
                self._guarded = outer

    async def execute(self, entry: CommandEntry) -> None:
        """Run a command's motion plan (from where it was cut off) and record its effect."""
        cmd = entry.command
        if isinstance(cmd, c.ModuleWait):  # nothing moves: a pause takes effect at once
            if isinstance(cmd, c.RunProfile):
                await self.modules.start_profile(entry)  # not a wait: once, never cut off
            self.dispatch(ModuleWaitChanged(True))  # takes a pending pause (the reducer)
            try:
                self.take_fault()  # a robot that dropped off meanwhile fails the run now
                if self.state.pause is not None or self.state.ending is not None:
                    await aio.checkpoint_if_cancelled()  # taken: cut off now
                await self.modules.execute(entry)
            finally:
                self.dispatch(ModuleWaitChanged(False))
            return
        if isinstance(cmd, (c.LoadModule, c.ModuleCommand)):  # a device call
            await self.modules.execute(entry)
            return
        if cmd.execution is c.Execution.WAIT:
            await self.waits.wait(entry)
            self.book.set_status(entry, "completed")
            return
        if entry.plan is None:
            pausing = self.pausing
            mount = getattr(cmd, "mount", "")
            target = pausing.lower_for(mount) \
                if pausing.lowering is not None and cmd.in_place else None
            if target is not None:  # a checkpoint's unpark left the tip up: down first
                # (this mount's only), within the protocol's max_speeds, as its own moves
                [lower] = self.model.capped([Move(target)])
                # Planned, and checked, as from where the lowering ends, before it: a
                # command refused does not take the tip down into the well first.
                plan = [lower, *self.model.planned_from(target, cmd.plan)]
                self.model.check_speeds(cmd.kind, plan)
                await self.move(lower)  # cut off by a pause: still held, lowered again
                pausing.lowered(mount)
                # The lowering is the plan's first segment, done: a rewound step (which
                # goes back to its checkpoint, above) lowers the tip again there.
                entry.plan, entry.done = plan, 1
            else:
                plan = cmd.plan(self.model)
                self.model.check_speeds(cmd.kind, plan)
                if pausing.lowering is not None:  # what the plan leaves of it, from here
                    pausing.lowering = still_held(pausing.lowering, plan, self.model.position)
                entry.plan, entry.done = plan, 0
        # else: resumed after a pause, on to the same absolute targets (or rewound: done=0)
        for segment in entry.plan[entry.done:]:
            await self.move(segment)
            entry.done += 1
        self.book.set_status(entry, "completed", result=cmd.apply(self.model))

    async def move(self, segment: Segment) -> None:
        """Make one motion; the position is read back if it is cut off.

        On a real clock the record is written first: what the robot is about to do is on
        disk before it moves.
        """
        if not self.clock.is_virtual:  # virtual: a move takes no time; written per command
            self.record.flush()
        try:
            match segment:
                case Move():
                    await self.controller.move(segment.target, segment.speed)
                    self.model.position.update(segment.target)
                case HomeAxes():
                    self.model.position.update(await self.controller.home(segment.axes))
                case unknown:
                    assert_never(unknown)
        except aio.cancelled_class():
            ending = self.state.ending
            if ending is None or ending.kind is not EndKind.HALT:  # (a halt's emergency
                with CancelScope(shield=True):  # stop reads it, or says it cannot)
                    await self.read_back()
            raise
        finally:
            self.position_seen = dict(self.model.position)
            if self.state.ending is not None:  # the cleanup: no step tells of its moves
                self._notify()

    async def read_back(self) -> None:
        """Read the controller's position into the robot model (a fault is ignored)."""
        with contextlib.suppress(HardwareFault):
            self.model.position.update(await self.controller.read_position())

    def dispatch(self, event: Action | EngineEvent) -> None:
        """Reduce ``event`` into the run state and tell the listeners."""
        old = self.state
        self.state = reduce(old, event)
        if self.state is old:
            return
        self.position_seen = dict(self.model.position)
        if type(event) is StepStarted:  # a new step never changes the status
            self._notify()
            return
        before, after = status_of(old), status_of(self.state)
        if (self.state.pause is not None and old.pause is None
                and self._interruptible is not None):
            # a pause taken (asked for now, or pending and taken by a delay or a module
            # wait that began): what may be cut off stops now
            self._interruptible.cancel()
        if before is not after or (
                after is Status.PAUSED and old.pause is not None and self.state.pause is not None
                and old.pause.source is not self.state.pause.source):
            # (paused still, but held by someone else now, a person's pause taking over
            # from the door's: a pause of its own, which the record, the logs and the
            # summary's pauses say)
            fields = status_fields(self.state)
            added = self.record.add("status", status=after.value, **fields)
            if after is Status.PAUSED:
                self.tally.paused(added["t"], fields.get("pause_source"),
                                  fields.get("pause_message"), fields.get("pause_also_for"),
                                  fields.get("pause_from"))
        self._notify()

    def _react(self, action: Action | None) -> None:
        """Make an accepted action take effect now, by cancelling the right scope."""
        state = self.state
        if state.ending is not None:
            self.end_protocol()
            if state.ending.kind is EndKind.HALT:
                self.ending.halt_requested(self._tg)
            return
        if state.pause is not None and self._interruptible is not None:
            self._interruptible.cancel()
        if isinstance(action, SkipDelay):
            self.waits.skip()

    def _notify(self) -> None:
        self._wake()
        for listener in self._listeners:
            listener(self.state)

    def _wake(self) -> None:
        self._waiting = False
        if self._wakeup is not None:
            self._wakeup.set()  # every wait() now, together
            self._wakeup = None

    async def wait(self) -> None:
        """Sleep until the next state change or request; the engine is idle meanwhile."""
        # A stop or halt may have cancelled our scope while we were busy: take it now,
        # rather than report idle with a cancellation still on its way.
        self.ending.take_fault()
        if self._protocol_scope is not None and self._protocol_scope.cancel_called:
            await aio.checkpoint_if_cancelled()
        if self._wakeup is None:
            self._wakeup = self._new_event()
        waiter = self._wakeup
        self._waiting = True
        try:
            await waiter.wait()
        finally:
            self._waiting = False

    def end_protocol(self) -> None:
        """Close the protocol's channel and cancel what the protocol is doing."""
        if self.channel is not None:
            self.inbox.close(self.channel, self.ending.protocol_error())
        if self._protocol_scope is not None:
            self._protocol_scope.cancel()
