"""Ending a run inside the engine loop: stop, abort, halt, failure and success (§6).

stop and abort clean up (lift Z, drop tips into the trash, home); halt sends the
controller's emergency stop and moves nothing; a failure cleans up as for abort where
the controller still answers. Whatever happens, the run reaches one terminal status.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import anyio
from anyio import CancelScope

from hardware import parking
from hardware.controller import HardwareFault

from . import commands as c
from .channel import CommandRequest, StepRef
from .entries import CommandEntry
from .errors import RunAborted, RunFailed, RunHalted, RunStopped
from .executor import Segment
from .reducer import RunEnded, RunFailing
from .state import EndKind, Outcome, Status

if TYPE_CHECKING:
    from .engine import Engine

END_ERRORS: dict[EndKind, type[RunStopped]] = {
    EndKind.STOP: RunStopped, EndKind.ABORT: RunAborted, EndKind.HALT: RunHalted}
END_STATUS = {EndKind.STOP: Status.STOPPED, EndKind.ABORT: Status.ABORTED,
              EndKind.HALT: Status.HALTED}



def fail(engine: Engine, error: str, location: str | None) -> None:
    """A protocol error or a fault: the command in progress failed; clean up as for abort."""
    engine._failure = Outcome(Status.FAILED, error=error, location=location)
    unfinished = _unfinished(engine)
    if unfinished is not None:
        engine._set_status(unfinished, "failed", error=error)
    engine.record.add("failure", error=error, location=location)
    engine._dispatch(RunFailing(error))
    engine._react(None)

async def finish(engine: Engine) -> None:
    """Bring the run to its terminal status, cleaning up as its ending requires."""
    close_channel(engine)
    ending = engine.state.ending
    unfinished = _unfinished(engine)
    if unfinished is not None and ending is not None:  # cut off by stop, abort or halt
        engine._set_status(unfinished, "interrupted", reason=ending.kind.value)
    if ending is None and engine._failure is None:
        outcome = Outcome(Status.SUCCEEDED)
        work = functools.partial(finish_motion, engine)
    elif ending is not None and ending.kind is EndKind.HALT:
        await emergency_stop(engine)
        engine._dispatch(RunEnded(Outcome(Status.HALTED)))
        return
    else:
        assert ending is not None
        outcome = engine._failure or Outcome(END_STATUS[ending.kind], reason=ending.reason)
        work = functools.partial(cleanup, engine)
    with CancelScope() as engine._cleanup_scope:
        try:
            await work()
        except Exception as exc:  # the controller failed too: the run still ends
            _end_cleanup_command(engine, "failed", error=str(exc))
            engine.record.add("failure", error=str(exc), location="cleanup")
            outcome = Outcome(Status.FAILED, error=f"{outcome.error or ''}; "
                              f"cleanup failed: {exc}".strip("; "), location=outcome.location)
    if engine._cleanup_scope.cancelled_caught:  # cut off by a halt
        _end_cleanup_command(engine, "interrupted", reason="halt")
    if engine.state.ending is not None and engine.state.ending.kind is EndKind.HALT:
        await emergency_stop(engine)
        outcome = Outcome(Status.HALTED)
    engine._dispatch(RunEnded(outcome))

def _end_cleanup_command(engine: Engine, status: str, **extra: object) -> None:
    """Give a cleanup command that did not finish its ending in the record."""
    if engine.entries:
        last = engine.entries[-1]
        if last.origin == "cleanup" and last.status not in ("completed", "failed",
                                                             "interrupted"):
            engine._set_status(last, status, **extra)

def _unfinished(engine: Engine) -> CommandEntry | None:
    """The protocol command left in progress, if any: every other one has finished."""
    for entry in reversed(engine.entries):
        if entry.origin == "protocol":
            return entry if entry.status not in ("completed", "failed") else None
    return None


async def finish_motion(engine: Engine) -> None:
    here = engine.executor.position
    lift = {z: max(here[z], engine.config.safe_height) for z in engine.config.z_axes}
    if any(abs(lift[z] - here[z]) > 1e-9 for z in lift):
        await engine._move(Segment(lift))

async def cleanup(engine: Engine) -> None:
    """After stop, abort or failure: lift Z, drop tips into the trash, home."""
    engine.executor.position.update(await engine.controller.stop_motion())
    if parking.holds_motion(engine.controller):
        # The controller refuses motion behind an open door (GRBL): leave the robot
        # where it stopped rather than fail the run's ending.
        engine.record.add("cleanup", skipped=True, reason="an interlock holds motion",
                          interlocks=sorted(engine.controller.active_interlocks()))
        return
    await parking.restore_currents(engine.controller, engine.config)
    here = engine.executor.position
    await engine._move(Segment({z: max(here[z], engine.config.safe_height)
                              for z in engine.config.z_axes}))
    if engine.config.drop_tips_on_stop:
        for mount in engine.executor.tips_attached():
            drop = c.DropTip(mount, engine.executor.trash_drop_point(), "trash")
            entry = CommandEntry(len(engine.entries), drop, StepRef(-1, "cleanup"),
                                 origin="cleanup")
            engine.entries.append(entry)
            engine.record.add("command", id=entry.id, status="queued", type=drop.kind,
                            params=drop.params(), step=-1, origin="cleanup")
            engine._set_status(entry, "started")
            await engine._execute(entry)
    await engine._move(Segment(home=tuple(engine.config.axes)))

async def emergency_stop(engine: Engine) -> None:
    if engine._estop_done is None:
        engine._estop_done = anyio.Event()
        try:
            await engine.controller.emergency_stop()
        except HardwareFault as exc:
            engine.record.add("failure", error=str(exc), location="emergency stop")
        engine.record.add("emergency_stop")
        engine._estop_done.set()
    await engine._estop_done.wait()

def close_channel(engine: Engine) -> None:
    if engine.channel is None:
        return
    ending = engine.state.ending
    if engine._failure is not None:
        error: RunStopped = RunFailed(engine._failure.error or "the run failed")
    elif ending is not None:
        error = END_ERRORS[ending.kind](f"the run was {END_STATUS[ending.kind].value}")
    else:
        error = RunStopped("the run has ended")
    if engine.channel.closed_error is None:
        engine.channel.closed_error = error
    if engine._current is not None and not engine._current.reply.done:
        engine._current.reply.fail(engine.channel.closed_error)
    while engine._inbox:
        request = engine._inbox.popleft()
        if isinstance(request, CommandRequest):
            request.reply.fail(engine.channel.closed_error)

