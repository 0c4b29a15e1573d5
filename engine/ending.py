"""Ending a run inside the engine loop: stop, abort, halt, failure and success (§6).

stop and abort clean up (lift Z, drop tips into the trash, home); halt sends the
controller's emergency stop and moves nothing (once it has gone out, a shaking plate
stops); a failure cleans up as for abort where the controller still answers. Whatever
happens, the run reaches one terminal status.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hardware import aio, parking
from hardware.aio import CancelScope
from hardware.controller import HardwareFault

from . import commands as c
from .core import EngineCore
from .entries import CommandEntry
from .errors import RunAborted, RunFailed, RunHalted, RunStopped
from .record import rounded
from .reducer import RunEnded, RunFailing
from .segments import HomeAxes, Move
from .state import EndKind, Outcome, Status, StepInfo

END_STATUS = {EndKind.STOP: Status.STOPPED, EndKind.ABORT: Status.ABORTED,
              EndKind.HALT: Status.HALTED, EndKind.FAIL: Status.FAILED}
END_ERRORS: dict[EndKind, type[RunStopped]] = {
    EndKind.STOP: RunStopped, EndKind.ABORT: RunAborted, EndKind.HALT: RunHalted,
    EndKind.FAIL: RunFailed}
POSITION_AFTER_STOP_S = 1.0
"""How long the controller is given to report where its emergency stop left the axes."""
POSITION_UNKNOWN = "position unknown after the emergency stop: home before moving"
"""What the status, the record and the summary say instead of a position the controller
could not report after its emergency stop (Marlin's ``M112`` kills the board, which then
answers nothing): the robot model's would be where a move was going, not where it is."""


class RunEnding:
    """Brings one run to its terminal status; owns the cleanup and the emergency stop."""

    def __init__(self, engine: EngineCore) -> None:
        self.engine = engine
        self._estop_done: aio.EventLike | None = None
        self._estop_failed: str | None = None  # why the emergency stop was not confirmed
        self._cleanup_scope: aio.Scope | None = None
        self._fault: HardwareFault | None = None  # reported while the engine waited
        self._fault_in_halt: str | None = None  # what the command a halt cut off raised

    def fault_reported(self, fault: HardwareFault) -> None:
        """The controller failed on its own (its connection was lost)."""
        self._fault = fault

    def take_fault(self) -> None:
        """Fail the run on a fault the controller reported while the engine waited."""
        fault, state = self._fault, self.engine.state
        if fault is None or not state.started or state.outcome is not None:
            return
        self._fault = None
        if state.ending is None:
            self.fail(f"the robot failed while the run waited: {fault}", None)

    def fail(self, error: str, location: str | None, *, around: bool = False) -> None:
        """A protocol error or a fault: the command in progress failed (``around``: the
        protocol failed while it waited, as a script that raised while paused: the command
        is cut off, as a stop cuts it off, by ``finish``); clean up as for abort, then end
        ``failed`` with ``error`` at ``location``."""
        engine = self.engine
        ending = engine.state.ending
        if ending is not None and ending.kind is EndKind.FAIL:
            return  # the first failure is the one reported
        unfinished = self._unfinished()
        if (ending is not None and ending.kind is EndKind.HALT and unfinished is not None
                and not around):
            # The command the halt cut off complained of it (a link the stop reset): the
            # halt's doing, not a failure. The command ends interrupted by the halt, and
            # keeps the controller's words (``finish``).
            self._fault_in_halt = self._fault_in_halt or error
            engine.end_protocol()
            return
        if unfinished is not None and not around:
            engine.book.set_status(unfinished, "failed", error=error)
        engine.record.add("failure", error=error, location=location)
        engine.dispatch(RunFailing(error, location))
        engine.end_protocol()

    def protocol_error(self) -> RunStopped:
        """What the protocol's calls raise from now on: the ending's own error."""
        ending = self.engine.state.ending
        if ending is None:
            return RunStopped("the run has ended")
        if ending.kind is EndKind.FAIL:
            return RunFailed(ending.reason or "the run failed")
        return END_ERRORS[ending.kind](f"the run was {END_STATUS[ending.kind].value}")

    def halt_requested(self, tasks: aio.TaskGroupLike | None) -> None:
        """A halt: cut the cleanup off, abandon what the modules run by themselves, and
        send the emergency stop now, in ``tasks``."""
        self.engine.modules.halt()
        if self._cleanup_scope is not None:
            self._cleanup_scope.cancel()
        if tasks is not None and self._estop_done is None:
            tasks.start_soon(self.emergency_stop)

    async def finish(self) -> None:
        """Bring the run to its terminal status, cleaning up as its ending requires."""
        engine = self.engine
        engine.end_protocol()
        ending = engine.state.ending
        unfinished = self._unfinished()
        if unfinished is not None and ending is not None:  # cut off by stop, abort or halt
            fault = {"fault": self._fault_in_halt} if self._fault_in_halt else {}
            engine.book.set_status(unfinished, "interrupted", reason=ending.kind.value,
                                   **fault)
        if ending is not None:  # what the protocol left, for the people who pick it up
            last = engine.book.last_protocol
            cut = last if last is not None and last.status in ("interrupted", "failed") else None
            uncertain = self._tip_maybe_taken(cut)
            engine.book.tally.ended_early(cut, {mount: engine.model.pipettes[mount].volume
                                                for mount in engine.model.tips_attached()},
                                          uncertain)
        if ending is not None and ending.kind is EndKind.HALT:
            await self.emergency_stop()
            await engine.modules.stop_moving()
            engine.dispatch(RunEnded(self._halted()))
            return
        if ending is None:
            outcome = Outcome(Status.SUCCEEDED)
        elif ending.kind is EndKind.FAIL:
            outcome = Outcome(Status.FAILED, error=ending.reason, location=ending.location)
        else:
            outcome = Outcome(END_STATUS[ending.kind], reason=ending.reason)
        with CancelScope() as self._cleanup_scope:
            try:
                if ending is None:
                    await self._lift()
                    ending = engine.state.ending
                    if ending is not None and ending.kind is EndKind.ABORT:
                        # aborted while it finished: ended as an abort ends, cleanup too
                        outcome = Outcome(Status.ABORTED, reason=ending.reason)
                        await self._cleanup()
                else:
                    await self._cleanup()
            except Exception as exc:  # the controller failed too: the run still ends
                self._end_cleanup_command("failed", error=str(exc))
                engine.record.add("failure", error=str(exc), location="cleanup")
                why = str(exc)
                if outcome.error and why in outcome.error:  # said once
                    why = self._left_as_it_was(controller=isinstance(exc, HardwareFault))
                outcome = Outcome(Status.FAILED, error=f"{outcome.error or ''}; "
                                  f"cleanup failed: {why}".strip("; "), location=outcome.location)
                # Moves the controller took before it stopped answering may still run:
                # its emergency stop goes out, if the link can still carry it.
                await self.emergency_stop()
        if self._cleanup_scope.cancelled_caught:  # cut off by a halt
            self._end_cleanup_command("interrupted", reason="halt")
        state = engine.state
        if state.ending is not None and state.ending.kind is EndKind.HALT:
            await self.emergency_stop()
            await engine.modules.stop_moving()
            outcome = self._halted()
        elif (outcome.status is Status.STOPPED and state.ending is not None
              and state.ending.kind is EndKind.ABORT):  # aborted while it stopped
            outcome = Outcome(Status.ABORTED, reason=state.ending.reason)
        engine.dispatch(RunEnded(outcome))

    async def emergency_stop(self) -> None:
        """The controller's emergency stop, once however often it is asked for."""
        engine = self.engine
        if self._estop_done is None:
            self._estop_done = aio.Event()
            engine.position_unknown = POSITION_UNKNOWN  # until the controller says
            # Never cut off half-way (a halt asked for as a failed cleanup's stop goes
            # out): a second call waits for this one to be done
            with CancelScope(shield=True):
                try:
                    try:
                        await engine.controller.emergency_stop()
                    except HardwareFault as exc:
                        self._estop_failed = str(exc)
                        engine.record.add("failure", error=str(exc),
                                          location="emergency stop")
                    where = await self._where_stopped()
                    # sent and confirmed, or not (the failure before it says why)
                    engine.record.add("emergency_stop", confirmed=self._estop_failed is None,
                                      **where)
                    # the board's job ends too, as far as it still takes a line (a
                    # Marlin's M112 killed it, and its print job timer, until a reset)
                    with contextlib.suppress(HardwareFault):
                        await engine.mark_job("ended")
                finally:
                    self._estop_done.set()
        await self._estop_done.wait()

    # -- helpers ------------------------------------------------------------------------

    async def _where_stopped(self) -> dict[str, Any]:
        """Where the emergency stop left the axes, read from the controller (GRBL's and
        Smoothieware's status report still answer): the record's ``position``. When it
        cannot say (Marlin answers nothing after ``M112``; a stop not confirmed may leave
        the axes moving), ``position_unknown``: no report gives a position again (none
        has since the stop was sent)."""
        engine = self.engine
        if self._estop_failed is None:
            position = None
            # asked briefly: a board that confirmed its stop, then went silent, must not
            # hold the run's end for its whole timeout (nor be failed by that timeout)
            with aio.move_on_after(POSITION_AFTER_STOP_S), contextlib.suppress(HardwareFault):
                position = await engine.controller.read_position()
            if position is not None:
                engine.model.position.update(position)
                engine.position_seen = dict(engine.model.position)
                engine.position_unknown = None
                return {"position": rounded(engine.model.position)}
        return {"position_unknown": POSITION_UNKNOWN}

    def _halted(self) -> Outcome:
        """A halt's outcome: the reason says so when the controller did not confirm its
        emergency stop (the robot may still be moving: cut its power)."""
        if self._estop_failed is None:
            return Outcome(Status.HALTED)
        return Outcome(Status.HALTED, reason="the controller did not confirm the emergency "
                       f"stop ({self._estop_failed}): it may still be moving; cut its power")

    def _end_cleanup_command(self, status: str, **extra: object) -> None:
        """Give a cleanup command that did not finish its ending in the record."""
        last = self.engine.book.last
        if (last is not None and last.origin == "cleanup"
                and last.status not in ("completed", "failed", "interrupted")):
            self.engine.book.set_status(last, status, **extra)

    def _left_as_it_was(self, *, controller: bool) -> str:
        """Why the cleanup failed when it failed as the run did: the robot left as it was,
        the tips the run left on (as its summary counts them), and what to do: a robot
        whose controller failed (``controller``: it stopped answering, hit a switch...) is
        checked and homed before the next run; a tip the robot cannot carry clear (out of
        reach) is taken off by hand."""
        tips, count = [], 0
        for mount, tip in (self.engine.book.tally.tips_at_end or {}).items():
            if tip["dropped"]:
                continue
            on = int(tip.get("tips", 1))
            count += on
            perhaps = "perhaps " if tip.get("uncertain") else ""
            tips.append(f"{f'{on} tips' if on > 1 else 'a tip'} {perhaps}still on the "
                        f"{mount} pipette")
        held = " and ".join(tips)
        if controller:
            todo = "; ".join([*([held] if held else []),
                              "check the robot and home it before the next run"])
        else:
            todo = f"{held}: take {'them' if count > 1 else 'it'} off by hand" if held else ""
        left = "the same reason, so the robot was left as it was"
        return f"{left} ({todo})" if todo else left

    def _tip_maybe_taken(self, cut: CommandEntry | None) -> str | None:
        """The mount of a pick-up cut off (or failed: a robot lost) once its nozzle had
        pressed into the tip: the robot model takes the tip as held, so that the cleanup
        lifts it clear of the deck and drops it into the trash rather than leave it on the
        nozzle."""
        if (cut is None or cut.status not in ("interrupted", "failed") or cut.plan is None
                or not isinstance(cut.command, c.PickUpTip)
                or not cut.command.may_hold_tip(cut.done, cut.plan)):
            return None
        cut.command.apply(self.engine.model)
        return cut.command.mount

    def _arriving_top(self) -> float | None:
        """The top of a labware a person was asked to move by hand when the run ended in
        that pause, or as it unparked after it (cut off or failed there): it may stand at
        its new place already, though the deck counts it there only once the move
        completes, so the cleanup lifts clear of it too before it travels."""
        last = self.engine.book.last_protocol
        if last is None or last.status not in ("interrupted", "failed"):
            return None
        return last.command.arriving_top()

    def _unfinished(self) -> CommandEntry | None:
        """The protocol command left in progress, if any: every other one has finished."""
        entry = self.engine.book.last_protocol
        if entry is not None and entry.status not in ("completed", "failed"):
            return entry
        return None

    async def _lift(self) -> None:
        """After success: Z axes up to the safe height; axes without a homing switch back
        to their home point, Z first."""
        engine = self.engine
        await engine.mark_job("ended")  # the board's menu offers no Pause or Stop print
        if self._held("an interlock holds motion"):
            return
        with engine.stopped_by_interlocks() as door:
            await self._lift_and_home()
        if door.cancelled_caught:
            await self._cut_by_interlock()

    async def _lift_and_home(self) -> None:
        engine = self.engine
        here, safe = engine.model.position, engine.model.safe_height()
        lift = {z: max(here[z], safe) for z in engine.config.z_axes}
        if any(abs(lift[z] - here[z]) > 1e-9 for z in lift):
            await engine.move(Move(lift))
        # Such an axis takes wherever it stands as home when the robot is next connected:
        # left where the run ended, the next run's coordinates would be off by that much
        # and its moves would go past the ends of the axis.
        free = [a for a, axis in engine.config.axes.items() if axis.homing == "none"]
        for group in ([a for a in free if a in engine.config.z_axes],
                      [a for a in free if a not in engine.config.z_axes]):
            if group:
                await engine.move(HomeAxes(tuple(group)))

    async def _cleanup(self) -> None:
        """After stop, abort or failure: lift Z, drop tips into the trash, home."""
        engine = self.engine
        try:
            engine.model.position.update(await engine.controller.stop_motion())
        finally:  # also when the controller is lost: the shaker stops (heaters as configured)
            await engine.modules.deactivate()
        # the run is ending: the board's menu offers no Pause or Stop print any more
        await engine.mark_job("ended")
        # Behind an open door nothing moves: a controller that refuses motion then (GRBL)
        # would fail the run's ending, and one that does not (Marlin, the simulated
        # robot) would sweep a tip to the trash past the hands that opened it. Leave the
        # robot where it stopped, also when the door opens during the cleanup.
        if self._held("an interlock holds motion"):
            return
        with engine.stopped_by_interlocks() as door:
            await self._clean_up_moves()
        if door.cancelled_caught:
            await self._cut_by_interlock()

    def _held(self, reason: str) -> bool:
        """Whether an interlock is active: then the cleanup is skipped (recorded, and the
        summary says so) and the robot stays where it stopped."""
        interlocks = sorted(self.engine.controller.active_interlocks())
        if not interlocks:
            return False
        self.engine.record.add("cleanup", skipped=True, reason=reason, interlocks=interlocks)
        self.engine.book.tally.cleanup_skipped = f"the {', '.join(interlocks)} held motion"
        return True

    async def _cut_by_interlock(self) -> None:
        """An interlock tripped during the cleanup's (or the closing lift's) motion: it
        stops where it is, and the rest is skipped."""
        engine = self.engine
        with contextlib.suppress(HardwareFault):
            engine.model.position.update(await engine.controller.stop_motion())
        self._end_cleanup_command("interrupted", reason="interlock")
        if not self._held("an interlock tripped during the cleanup"):
            engine.record.add("cleanup", skipped=True,
                              reason="an interlock tripped during the cleanup", interlocks=[])
            engine.book.tally.cleanup_skipped = "an interlock held motion"

    async def _clean_up_moves(self) -> None:
        engine = self.engine
        await parking.restore_currents(engine.controller, engine.config)
        here, safe = engine.model.position, engine.model.safe_height(top=self._arriving_top())
        await engine.move(Move({z: max(here[z], safe) for z in engine.config.z_axes}))
        if engine.config.drop_tips_on_stop:
            for mount in engine.model.tips_attached():
                drop = c.DropTip(mount, engine.model.trash_drop_point(), "trash")
                entry = engine.book.add(drop, StepInfo(-1, "cleanup"), origin="cleanup")
                engine.record.add("command", id=entry.id, status="queued", type=drop.kind,
                                  params=drop.params(), step=-1, origin="cleanup")
                engine.book.set_status(entry, "started")
                await engine.execute(entry)
                engine.book.tally.tip_dropped_by_cleanup(mount)
        await engine.move(HomeAxes(tuple(engine.config.axes)))
