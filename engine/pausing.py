"""Pausing inside the engine loop: park, wait for resume, unpark, resume the step.

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
from hardware.controller import Position

from .actions import Resume
from .record import rounded
from .reducer import ParkChanged
from .state import Park, PauseSource

if TYPE_CHECKING:
    from .engine import Engine
    from .entries import CommandEntry


async def pause_here(engine: Engine, *, back_to: Position | None = None) -> None:
    """Park, wait for resume, unpark; again if a pause comes during unparking.

    Unparking returns to where the robot stopped, or to ``back_to`` (a rewound step's
    checkpoint).
    """
    while engine.state.pause is not None:
        if engine.state.park is not Park.PARKED:
            await park(engine)
        await wait_resumed(engine)
        engine._tripped.clear()
        await unpark(engine, back_to)

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

async def unpark(engine: Engine, back_to: Position | None = None) -> None:
    assert engine._parked_at is not None
    target = back_to if back_to is not None else engine._parked_at
    engine._dispatch(ParkChanged(Park.UNPARKING))
    with CancelScope() as scope:
        engine._interruptible = scope
        try:
            if engine.state.pause is not None:
                scope.cancel()
            await anyio.lowlevel.checkpoint()
            position = await parking.unpark(engine.controller, engine.config, target)
        finally:
            engine._interruptible = None
    if scope.cancelled_caught:
        await engine._read_back()
        engine.record.add("unpark", interrupted=True, position=engine._position())
        engine._dispatch(ParkChanged(Park.NONE))
        return
    engine.executor.position.update(position)
    engine.record.add("unpark", recorded=rounded(target), position=rounded(position),
                      **({"rewind": True} if back_to is not None else {}))
    engine._parked_at = None
    engine._dispatch(ParkChanged(Park.NONE))

async def resume_step(engine: Engine, interrupted: CommandEntry | None) -> None:
    """Resume the current step after an immediate pause (DESIGN.md §4).

    ``interrupted`` is the command the pause cut off (None: the pause came between two
    commands of the step). If no irreversible command of the step has started, the step
    is rewound: the robot returns to the step's checkpoint and the moves made so far run
    again exactly as planned, then the interrupted command starts over. Otherwise the
    robot returns to where it stopped, the interrupted command completes toward its
    absolute targets and the step carries on; nothing is repeated.
    """
    journal = engine._journal
    if not all(entry.command.reversible for entry in journal):
        await pause_here(engine)
        if interrupted is None:
            engine.record.add("pause_effect", effect="continued", id=journal[-1].id,
                              step=journal[-1].step.index)
        elif interrupted.plan is not None:
            engine.record.add("pause_effect", effect="completed after pause",
                              id=interrupted.id, from_segment=interrupted.done)
        return
    upto = journal.index(interrupted) if interrupted is not None else len(journal)
    while True:
        await pause_here(engine, back_to=engine._checkpoint)
        with CancelScope() as scope:
            engine._interruptible = scope
            try:
                for entry in journal[:upto]:
                    if entry.plan:
                        engine.record.add("pause_effect", effect="rewound", id=entry.id)
                        for segment in entry.plan:
                            await engine._move(segment)
            finally:
                engine._interruptible = None
        if not scope.cancelled_caught:
            break
    if interrupted is not None and interrupted.plan is not None:
        engine.record.add("pause_effect", effect="rewound", id=interrupted.id)
        interrupted.done = 0
