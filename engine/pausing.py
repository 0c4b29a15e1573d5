"""Pausing inside the engine loop: park, wait for resume, unpark, roll the step back.

Every pause parks, whatever its source (DESIGN.md §5). A pause that lands during
unparking parks again, keeping the position recorded when the run first paused, so
the run always continues from where it paused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
from anyio import CancelScope

from hardware import parking
from hardware.clock import VirtualClock

from .actions import Resume
from .record import rounded
from .reducer import ParkChanged
from .state import Park, PauseSource

if TYPE_CHECKING:
    from .engine import Engine


async def pause_here(engine: Engine) -> None:
    """Park, wait for resume, unpark; again if a pause comes during unparking."""
    while engine.state.pause is not None:
        if engine.state.park is not Park.PARKED:
            await park(engine)
        await wait_resumed(engine)
        engine._tripped.clear()
        await unpark(engine)

async def park(engine: Engine) -> None:
    engine._dispatch(ParkChanged(Park.PARKING))
    stopped = await engine.controller.stop_motion()
    engine.executor.position.update(stopped)
    if engine._parked_at is None:
        engine._parked_at = dict(engine.executor.position)
    keep_xy = engine.executor.liquid_in_tips()
    parked = await parking.park(engine.controller, engine.config, engine.executor.position,
                                keep_xy=keep_xy)
    engine.executor.position.update(parked)
    engine.record.add("park", recorded=rounded(engine._parked_at), parked=rounded(parked),
                    kept_xy=keep_xy)
    engine._dispatch(ParkChanged(Park.PARKED))

async def wait_resumed(engine: Engine) -> None:
    while engine.state.pause is not None:
        pause = engine.state.pause
        if (pause.source is PauseSource.INTERLOCK and not engine.state.interlocks
                and auto_resumes(engine)):
            engine.apply(Resume(source="interlock"))
            continue
        engine.record.flush()
        engine._take_fault()  # a robot that dropped off while parked ends the run now
        if engine.state.pause is None:
            break
        if isinstance(engine.clock, VirtualClock):
            if await engine.clock.advance_to_next_timer():
                continue
            action = engine._on_stalled(engine.state) if engine._on_stalled else None
            if action is not None:
                engine.apply(action)
                await anyio.lowlevel.checkpoint()
                continue
        await engine._wait()

def auto_resumes(engine: Engine) -> bool:
    """Whether every interlock tripped during this pause is set to resume by itengine."""
    settings = engine.config.interlocks
    return all(name in settings and settings[name].auto_resume for name in engine._tripped)

async def unpark(engine: Engine) -> None:
    assert engine._parked_at is not None
    engine._dispatch(ParkChanged(Park.UNPARKING))
    with CancelScope() as scope:
        engine._interruptible = scope
        try:
            if engine.state.pause is not None:
                scope.cancel()
            await anyio.lowlevel.checkpoint()
            position = await parking.unpark(engine.controller, engine.config, engine._parked_at)
        finally:
            engine._interruptible = None
    if scope.cancelled_caught:
        await engine._read_back()
        engine.record.add("unpark", interrupted=True, position=engine._position())
        engine._dispatch(ParkChanged(Park.NONE))
        return
    engine.executor.position.update(position)
    engine.record.add("unpark", recorded=rounded(engine._parked_at), position=rounded(position))
    engine._parked_at = None
    engine._dispatch(ParkChanged(Park.NONE))

async def resume_step(engine: Engine, upto: int) -> None:
    """Roll the current step back: replay reversible commands, skip irreversible ones."""
    while True:
        with CancelScope() as scope:
            engine._interruptible = scope
            try:
                for entry in engine._journal[:upto]:
                    if entry.command.reversible:
                        engine._set_status(entry, "replayed")
                        await engine._execute(entry, replay=True)
                    else:
                        engine._set_status(entry, "skipped")
            finally:
                engine._interruptible = None
        if not scope.cancelled_caught:
            return
        await pause_here(engine)

