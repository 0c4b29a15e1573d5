"""An immediate pause at any instant of a step never changes what touches liquid.

A step of two transfers, each with its own tip, is paused immediately at instants
spread over the whole step (mid-move, mid-aspirate, mid-pick-up, mid-drop, during
parking and unparking). Each run is compared with the same step run without a pause:
the same (tip, place, volume) contacts, and no nozzle or tip end lower anywhere.
"""

from __future__ import annotations

import pytest
from labrun_testing import P300, TIP_TOP, ScriptedRun
from motion_trace import PhysicalTrace, TraceItem

from engine import commands as c
from engine.actions import Pause
from engine.state import Status
from hardware.config import default_config

TRASH = (347.84, 325.06, 82.0)


def well(name: str) -> tuple[float, float, float]:
    column = int(name[1:])
    return (146.88 + 9.0 * (column - 1), 74.24 - 9.0 * "ABCDEFGH".index(name[0]), 3.0)


def two_transfers() -> list[c.Command]:
    commands: list[c.Command] = []
    for index, (source, destination) in enumerate([("A1", "A2"), ("B1", "B2")]):
        top = (TIP_TOP[0], TIP_TOP[1] - 9.0 * index, TIP_TOP[2])
        commands += [c.PickUpTip("left", top, f"1/{'AB'[index]}1", 51.0),
                     c.MoveTo("left", well(source), well=f"2/{source}"),
                     c.Aspirate("left", 100.0, 50.0, f"2/{source}"),
                     c.MoveTo("left", well(destination), well=f"2/{destination}"),
                     c.Dispense("left", 100.0, 50.0, f"2/{destination}"),
                     c.DropTip("left", TRASH, "12/A1")]
    return commands


def run_step(pause_at: float | None, *, pause_while_unparking: bool = False,
             ) -> tuple[PhysicalTrace, list[dict[str, object]]]:
    """Run the step with an immediate pause at ``pause_at`` s into it (None: no pause)."""
    config = default_config()
    trace: list[TraceItem] = []
    run = ScriptedRun(config, trace=trace)
    try:
        run.play()
        run.call(P300)
        start = run.clock.now()

        def pause() -> None:
            run.engine.apply(Pause(option="immediate"))

        if pause_at is not None:
            run.clock.call_at(start + pause_at, pause)
        outcome = run.call(*two_transfers(), name="two transfers")
        while not outcome.done.is_set():
            assert run.status().status is Status.PAUSED
            if pause_while_unparking:
                pause_while_unparking = False
                run.run.call(lambda: run.clock.call_at(run.clock.now() + 0.3, pause))
            assert run.control.resume().accepted
            run.settle()
        assert outcome.error is None
        run.finish()
        assert run.status().status is Status.SUCCEEDED
        events = run.events()
    finally:
        run.close()
    return PhysicalTrace(config, trace), events


TWIN = None


def twin() -> PhysicalTrace:
    global TWIN
    if TWIN is None:
        TWIN = run_step(None)[0]
    return TWIN


@pytest.mark.parametrize("pause_at", [0.5 + 1.5 * k for k in range(30)])
def test_an_immediate_pause_anywhere_in_the_step_keeps_contacts_and_heights(
        pause_at: float) -> None:
    paused, events = run_step(pause_at)
    assert paused.rounded_contacts() == twin().rounded_contacts()
    assert paused.floor_violations(twin()) == []
    # Each command completed once; what the pause did stands beside it.
    completed = [e["id"] for e in events if e["event"] == "command"
                 and e["status"] == "completed"]
    assert len(completed) == len(set(completed))


@pytest.mark.parametrize("pause_at", [3.0, 9.0, 21.0])
def test_a_second_pause_during_unparking_keeps_contacts_and_heights(pause_at: float) -> None:
    # The first pause parks; resume unparks; the second lands while unparking.
    paused, events = run_step(pause_at, pause_while_unparking=True)
    assert any(e["event"] == "unpark" and e.get("interrupted") for e in events)
    assert paused.rounded_contacts() == twin().rounded_contacts()
    assert paused.floor_violations(twin()) == []
