"""Scenarios a hand mutation of the engine showed no test caught: each fails when that
mutation is put back (a halt reported as a failure, a pending pause outliving the run,
a door that no longer resumes, a rewind that dips into the previous call's well, a cut
unpark recorded at the park, a robot unparking under a pause already taken)."""

from __future__ import annotations

from pathlib import Path

import pytest
from labrun_testing import P300, ScriptedRun

from engine import commands as c
from engine.actions import Halt, Pause
from engine.state import Park, RunState, Status
from hardware import aio
from hardware.config import InterlockConfig, default_config
from hardware.controller import HardwareFault
from hardware.frozen import replace


def test_a_halt_whose_cut_off_move_raises_a_fault_ends_halted_and_moves_nothing_more(
        tmp_path: Path) -> None:
    """A controller whose move, cut off by the emergency stop, raises a fault of its own
    (its link reset by the stop): the run still ends halted, not failed, and nothing
    moves after the halt (a failure's cleanup would lift the Z axes)."""
    run = ScriptedRun(record_path=str(tmp_path / "record.jsonl"))
    try:
        run.play()
        run.call(P300, name="load")
        plain = run.controller.move
        after_halt: list[dict[str, float]] = []

        async def move(target: dict[str, float], speed: float | None = None) -> None:
            if run.engine.state.ending is not None:
                after_halt.append(dict(target))
            try:
                await plain(target, speed)
            except aio.cancelled_class():
                raise HardwareFault("link reset by the emergency stop") from None

        run.controller.move = move  # type: ignore[method-assign,assignment]
        run.clock.call_at(run.clock.now() + 0.5, lambda: run.engine.apply(Halt()))
        run.call(c.MoveTo("left", (300.0, 300.0, 50.0)), wait=False)
        final = run.run.wait(5)
        assert final.status is Status.HALTED, final
        assert [e["status"] for e in run.events() if e["event"] == "status"][-2:] == [
            "halting", "halted"]
        assert after_halt == []
        # The record says what a person reading it must know: the move was cut off by
        # the halt (the controller's complaint kept beside it), and nothing failed.
        moved = next(e["id"] for e in run.events() if e["event"] == "command"
                     and e["status"] == "queued" and e["type"] == "moveTo")
        ends = [e for e in run.events() if e["event"] == "command" and e["id"] == moved
                and e["status"] not in ("queued", "started")]
        assert [(e["status"], e.get("reason"), e.get("fault")) for e in ends] == [
            ("interrupted", "halt", "link reset by the emergency stop")]
        assert [e for e in run.events() if e["event"] == "failure"] == []
    finally:
        run.close()


def test_a_pause_asked_for_as_the_protocol_ends_is_not_pending_once_it_has_ended() -> None:
    """The protocol returned with a deferred pause still pending: the run succeeds and its
    status no longer says a pause is pending (a client waiting for it to clear waited for
    ever); the record's summary says the pause was never taken."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
        assert run.control.pause().accepted
        run.finish()
        final = run.run.wait(5)
        assert final.status is Status.SUCCEEDED
        assert final.pause_pending is False and final.pause_unresolved is True
    finally:
        run.close()


@pytest.mark.parametrize("curtain", ["during the run", "before the run"])
def test_a_door_resumes_the_run_after_another_interlock_was_resumed_by_hand(
        curtain: str) -> None:
    """A curtain (resumed by a person) trips and clears, during the run (and the person
    resumes it) or before it is played; then the door (which resumes the run by itself)
    opens and closes: the run goes on, as its status promised, the curtain's trip
    forgotten."""
    config = replace(default_config(), interlocks={
        "door": InterlockConfig(True), "curtain": InterlockConfig(False)})
    run = ScriptedRun(config)
    try:
        if curtain == "before the run":
            run.control.set_interlock("curtain", True)
            run.control.set_interlock("curtain", False)
        run.play()
        run.call(P300)
        if curtain == "during the run":
            run.control.set_interlock("curtain", True)
            run.settle()
            run.control.set_interlock("curtain", False)
            run.settle()
            assert run.control.resume().accepted
            assert run.settle().status is Status.RUNNING
        run.control.set_interlock("door", True)
        status = run.settle()
        assert status.status is Status.PAUSED and status.resumes_when_clear
        run.control.set_interlock("door", False)
        assert run.settle().status is Status.RUNNING
    finally:
        run.close()


def test_a_deferred_pause_is_taken_before_the_next_step_so_its_rewind_stays_high(
        tmp_path: Path) -> None:
    """A deferred pause pending as a step ends is taken there, before the next step
    begins: the status names the step that ended. An immediate pause in the next step
    then rewinds that step to its own start, at the height the checkpoint's unpark held,
    never back down into the previous call's well (30 mm above the deck)."""
    run = ScriptedRun(record_path=str(tmp_path / "record.jsonl"))
    try:
        run.play()
        run.call(P300, name="load")
        run.call(c.MoveTo("left", (100.0, 100.0, 30.0)), name="down in a well")
        assert run.control.pause().accepted  # deferred: pending
        plain = run.controller.move
        targets: list[dict[str, float]] = []
        armed = [True]

        async def move(target: dict[str, float], speed: float | None = None) -> None:
            targets.append(dict(target))
            if armed[0] and target.get("Y") == 250.0:  # the next step's move, under way
                armed[0] = False
                run.clock.call_at(run.clock.now() + 0.2,
                                  lambda: run.engine.apply(Pause(option="immediate")))
            await plain(target, speed)

        run.controller.move = move  # type: ignore[method-assign,assignment]
        run.call(c.MoveTo("left", (300.0, 250.0, 120.0)), name="go elsewhere", wait=False)
        status = run.settle()
        assert status.status is Status.PAUSED
        assert status.step is not None and status.step.name == "down in a well"
        for _ in range(2):  # the checkpoint's pause, then the immediate one
            assert run.control.resume().accepted
            run.settle()
        assert min(t.get("Z", 999.0) for t in targets) > 30.0, targets
    finally:
        run.close()


def test_an_unpark_cut_off_by_a_pause_records_where_the_robot_stopped() -> None:
    """An immediate pause cuts off the unparking after a protocol's pause: its record line
    gives the position the controller reports where the move stopped, not the park's."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.MoveTo("left", (100.0, 100.0, 60.0)))
        run.call(c.WaitForResume("first"), name="pause", wait=False)
        run.settle()
        plain = run.controller.move
        stopped: list[dict[str, float]] = []

        async def move(target: dict[str, float], speed: float | None = None) -> None:
            try:
                await plain(target, speed)
            except aio.cancelled_class():
                stopped.append(dict(run.controller.position))
                raise

        run.controller.move = move  # type: ignore[method-assign,assignment]
        run.clock.call_at(run.clock.now() + 0.3,
                          lambda: run.engine.apply(Pause(option="immediate")))
        assert run.control.resume().accepted
        assert run.settle().status is Status.PAUSED
        [cut] = [e for e in run.events() if e["event"] == "unpark" and e.get("interrupted")]
        assert stopped, "no move was cut off"
        assert cut["position"] == {axis: round(value, 4) for axis, value in stopped[0].items()}
        assert (cut["position"]["X"], cut["position"]["Y"]) != (340.0, 330.0)  # not parked
    finally:
        run.close()


def test_a_pause_taken_as_unparking_begins_moves_nothing() -> None:
    """A listener (a door sensor's script, say) pauses the run again the instant it starts
    unparking: the robot stays parked; nothing moves toward the work."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300, name="load")
        run.call(c.MoveTo("left", (100.0, 100.0, 30.0)), name="down")
        run.run.call(lambda: run.engine.apply(Pause(option="immediate")))
        assert run.settle().status is Status.PAUSED
        paused_again: list[bool] = []

        def listener(state: RunState) -> None:
            if state.park is Park.UNPARKING and not paused_again:
                paused_again.append(False)  # (the pause notifies the listeners again)
                paused_again[0] = run.engine.apply(Pause(option="immediate")).accepted

        run.run.call(lambda: run.engine.subscribe(listener))
        moves: list[dict[str, float]] = []
        plain = run.controller.move

        async def move(target: dict[str, float], speed: float | None = None) -> None:
            moves.append(dict(target))
            await plain(target, speed)

        run.controller.move = move  # type: ignore[method-assign,assignment]
        assert run.control.resume().accepted
        assert run.settle().status is Status.PAUSED
        assert paused_again == [True] and moves == []
    finally:
        run.close()
