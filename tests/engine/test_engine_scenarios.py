"""The engine through whole runs on the simulated robot: pauses, delays, endings."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import P300, TIP_TOP, WELL, ScriptedRun
from motion_trace import TraceItem

from engine import commands as c
from engine.actions import Abort, Pause
from engine.bridge import LoopClosedError
from engine.channel import CommandChannel
from engine.errors import RunAborted, RunHalted, RunStopped
from engine.record import read_record
from engine.robot_model import CommandError, Pipette, PlungerSpec, RobotModel
from engine.run import Run
from engine.segments import Move
from engine.state import Park, Status, StepInfo, status_of
from engine.status import RunStatusReport
from hardware import aio
from hardware.clock import VirtualClock
from hardware.config import default_config
from hardware.controller import HardwareFault
from hardware.frozen import replace
from hardware.simulated import SimulatedController


@pytest.fixture
def run(tmp_path) -> Iterator[ScriptedRun]:  # type: ignore[no-untyped-def]
    scripted = ScriptedRun(record_path=str(tmp_path / "record.jsonl"))
    scripted.play()
    scripted.call(P300, name="load")
    yield scripted
    scripted.close()


def statuses(run: ScriptedRun) -> list[str]:
    return [e["status"] for e in run.events() if e["event"] == "status"]


def test_protocol_pause_parks_waits_and_continues_from_where_it_was(run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    before = run.status().position
    outcome = run.call(c.WaitForResume("check the plate"), name="pause")
    status = run.status()
    assert status.status is Status.PAUSED
    assert (status.pause_source, status.pause_message) == ("protocol", "check the plate")
    assert status.parked and not outcome.done.is_set()
    # Parked: Z up to safe height, gantry at the park position.
    assert status.position["Z"] == pytest.approx(run.config.safe_height)
    assert (status.position["X"], status.position["Y"]) == run.config.park_position
    assert run.control.resume().accepted
    run.settle()
    assert outcome.done.is_set() and outcome.error is None
    # Back over where it was, the tips at the safe height until a command acts there.
    after = run.status().position
    assert {a: v for a, v in after.items() if a not in ("Z", "A")} == pytest.approx(
        {a: v for a, v in before.items() if a not in ("Z", "A")}, abs=0.01)
    assert after["Z"] == pytest.approx(run.config.safe_height)
    unpark = [e for e in run.events() if e["event"] == "unpark"][-1]
    assert unpark["z_held"] is True and unpark["recorded"]["Z"] == pytest.approx(before["Z"])
    assert statuses(run)[-3:] == ["pausing", "paused", "running"]


def test_after_a_protocol_pause_the_tip_goes_down_again_only_to_act_where_it_was() -> None:
    trace: list[TraceItem] = []
    run = ScriptedRun(trace=trace)
    try:
        run.play()
        run.call(P300, name="load")
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
        low = run.controller.position["Z"]
        # "Swap the plate", resumed: the next call aspirates where the tip is, so the tip
        # goes back down first and draws from the well, not the air.
        run.call(c.WaitForResume("swap the plate"), name="pause")
        run.control.resume()
        run.settle()
        assert run.controller.position["Z"] == pytest.approx(run.config.safe_height)
        run.call(c.Aspirate("left", 20.0, 50.0, "2/A1"), name="aspirate here")
        assert run.controller.position["Z"] == pytest.approx(low)
        # Paused again; the next call goes to another well: the used tip does not dip into
        # A1 (perhaps a fresh plate's) on its way there.
        run.call(c.WaitForResume("swap the plate again"), name="pause")
        run.control.resume()
        run.settle()
        moves_from = len(trace)
        other = (WELL[0] + 9.0, WELL[1], WELL[2])
        run.call(c.MoveTo("left", other, well="2/A2"), name="move on")
        moved = [item for item in trace[moves_from:] if item[0] == "move"]
        assert moved and all(end["Z"] > low + 100 for _, _, end in moved[:-1])
        assert moved[-1][2]["X"] == pytest.approx(other[0] + 34.0)  # then down into A2
    finally:
        run.close()


def test_deferred_pause_waits_for_the_next_checkpoint(run: ScriptedRun) -> None:
    asked = []
    run.clock.call_at(run.clock.now() + 0.1, lambda: asked.append(run.engine.apply(Pause())))
    # Requested mid-move: the move and the rest of its step go on...
    first = run.call(c.MoveTo("left", (100.0, 100.0, 50.0)), c.Comment("same step"))
    assert asked[0].accepted
    assert first.done.is_set() and run.status().status is Status.RUNNING
    assert run.status().pause_pending
    # ...and the next step starts only after a pause.
    second = run.call(c.Comment("next step"))
    assert run.status().status is Status.PAUSED and not second.done.is_set()
    assert run.status().pause_source == "client"
    run.control.resume()
    run.settle()
    assert second.done.is_set()


def test_a_deferred_pause_asked_while_unparking_at_a_checkpoint_holds_the_next_step(
        run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    assert run.control.pause().accepted  # deferred: taken as the next step begins
    second = run.call(c.MoveTo("left", (200.0, 150.0, 50.0)), name="second")
    assert run.status().status is Status.PAUSED and not second.done.is_set()
    # Resumed, and paused again (deferred) while the robot goes back to where it was:
    # the second step has still not begun, so the run pauses before it once more.
    asked = []
    run.clock.call_at(run.clock.now() + 0.3, lambda: asked.append(
        (run.engine.state.park, run.engine.apply(Pause()))))
    assert run.control.resume().accepted
    status = run.settle()
    assert asked[0][0] is Park.UNPARKING and asked[0][1].accepted
    assert status.status is Status.PAUSED and status.pause_source == "client"
    assert not second.done.is_set()
    assert (status.position["X"], status.position["Y"]) == run.config.park_position
    events = run.events()
    assert [e["event"] for e in events if e["event"] in ("park", "unpark")] == [
        "park", "unpark", "park"]
    assert not [e for e in events if e["event"] == "step" and e["name"] == "second"]
    run.control.resume()
    run.settle()
    assert second.done.is_set() and run.status().status is Status.RUNNING
    # and then the second step went where it goes
    x, y, _ = run.config.mounts["left"].offset
    assert (run.controller.position["X"], run.controller.position["Y"]) == pytest.approx(
        (200.0 - x, 150.0 - y))


def test_deferred_pause_during_last_step_is_reported_unresolved(run: ScriptedRun) -> None:
    run.call(c.Comment("last"))
    run.control.pause()
    run.finish()
    final = run.run.wait(5)
    assert final.status is Status.SUCCEEDED and final.pause_unresolved
    assert run.events()[-1]["pause_unresolved"] is True


def test_immediate_pause_mid_move_stops_there_and_rewinds_a_step_of_moves(
        run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (50.0, 50.0, 60.0)))
    checkpoint = run.controller.position
    start = run.clock.now()
    run.clock.call_at(start + 0.3, lambda: run.engine.apply(Pause(option="immediate")))
    outcome = run.call(c.MoveTo("left", (350.0, 300.0, 60.0)), name="long move")
    status = run.status()
    assert status.status is Status.PAUSED and not outcome.done.is_set()
    park = [e for e in run.events() if e["event"] == "park"][-1]
    stopped_x = park["recorded"]["X"]
    assert 50.0 - 34 < stopped_x < 350.0 + 34  # mid-move (left mount offset -34 mm)
    effects = [e["effect"] for e in run.events() if e["event"] == "pause_effect"]
    assert effects == ["interrupted"]
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    # Only moves in the step: it is rewound to its checkpoint and the move runs again.
    unpark = [e for e in run.events() if e["event"] == "unpark"][-1]
    assert unpark["rewind"] is True
    assert unpark["position"] == pytest.approx(checkpoint, abs=0.01)
    effects = [e["effect"] for e in run.events() if e["event"] == "pause_effect"]
    assert effects == ["interrupted", "rewound"]
    move = [e for e in run.events() if e["event"] == "command" and e["id"] == 1]
    assert [e["status"] for e in move] == ["queued", "started", "completed"]
    assert run.status().position["X"] == pytest.approx(350.0 + 34.0)


def test_a_move_out_of_a_well_is_completed_not_rewound_into_that_well(run: ScriptedRun) -> None:
    # A dispense into the next well: its move starts in the well the last call drew from.
    run.call(c.LoadLabware("plate", "2", "a plate", 14.22), name="plate")
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 100.0, 100.0, "2/A1"),
             name="aspirate")
    next_well = (WELL[0], WELL[1] - 9.0, WELL[2])
    start = run.clock.now()
    # Pause once the tip is on its way down into B1 (the arc's last segment).
    run.clock.call_at(start + 0.45, lambda: run.engine.apply(Pause(option="immediate")))
    outcome = run.call(c.MoveTo("left", next_well, well="2/B1"),
                       c.Dispense("left", 100.0, 100.0, "2/B1"), name="dispense")
    assert run.status().status is Status.PAUSED
    stopped = run.controller.position
    assert stopped["Y"] == pytest.approx(next_well[1], abs=0.01)  # over B1, on its way down
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    unpark = [e for e in run.events() if e["event"] == "unpark"][-1]
    assert not unpark.get("rewind")  # never back to the checkpoint down in A1
    assert unpark["position"] == pytest.approx(unpark["recorded"], abs=0.01)
    assert unpark["position"]["Y"] == pytest.approx(next_well[1], abs=0.01)  # over B1
    effects = [e["effect"] for e in run.events() if e["event"] == "pause_effect"]
    assert effects == ["interrupted", "completed after pause"]


def test_interrupted_aspirate_completes_exactly_and_is_never_repeated(run: ScriptedRun) -> None:
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"))
    t0 = run.clock.now()
    # 100 µL at 10 µL/s takes 10 s of plunger travel: pause at 40 %.
    run.clock.call_at(t0 + 4.0, lambda: run.engine.apply(Pause(option="immediate")))
    outcome = run.call(c.MoveTo("left", WELL, well="2/A1"),
                       c.Aspirate("left", 100.0, 10.0, "2/A1"), name="aspirate")
    assert run.status().status is Status.PAUSED
    # The tip was empty, but the cut-off aspirate has drawn 40 µL: it stays over its well.
    park = [e for e in run.events() if e["event"] == "park"][-1]
    assert park["kept_xy"] is True
    assert park["parked"]["X"] == pytest.approx(park["recorded"]["X"])
    run.control.resume()
    run.settle()
    assert outcome.done.is_set() and outcome.result == {"volume_in_tip": 100.0}
    plunger = run.controller.position["B"]  # the simulated motor itself, unrounded
    assert plunger == pytest.approx(18.0 - 100.0 / (300.0 / 16), abs=1e-6)
    events = [e for e in run.events() if e["event"] == "command"]
    aspirate_id = next(e["id"] for e in events if e.get("type") == "aspirate")
    mine = [e["status"] for e in events if e["id"] == aspirate_id]
    assert mine == ["queued", "started", "completed"]  # its status is what it did
    effects = [(e["effect"], e["id"]) for e in run.events() if e["event"] == "pause_effect"]
    # The step had touched liquid: nothing is rewound, the aspirate completes.
    assert effects == [("interrupted", aspirate_id), ("completed after pause", aspirate_id)]


def test_pause_during_delay_keeps_the_deadline(run: ScriptedRun) -> None:
    t0 = run.clock.now()
    run.clock.call_at(t0 + 10, lambda: run.engine.apply(Pause()))  # deferred, still at once
    outcome = run.call(c.Delay(60.0, "incubate"), name="delay")
    status = run.status()
    assert status.status is Status.PAUSED
    # Paused at t0+10 and parked since: the deadline did not move.
    assert status.delay is not None
    assert status.delay.remaining_s == pytest.approx(t0 + 60.0 - run.clock.now(), abs=1e-5)
    assert 49.0 < status.delay.remaining_s < 50.0
    assert not run.engine.waits.active  # the run waits for a resume now, not the clock
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    # Unparking took a little time; the delay ended at its original deadline.
    assert run.clock.now() == pytest.approx(t0 + 60.0)


def load_temperature_module(run: ScriptedRun) -> float:
    """Load a temperature module (id ``temp``); the clock's time after."""
    run.call(c.LoadModule("temp", "temperature", "temperatureModuleV2", "3", 84.0),
             name="load_module")
    run.settle()
    return run.clock.now()


def test_a_deferred_pause_during_a_module_wait_takes_effect_at_once(run: ScriptedRun) -> None:
    # Nothing moves while the run waits for a temperature, as in a delay: a deferred pause
    # was held until the wait ended (minutes; a whole profile), and resume was refused.
    t0 = load_temperature_module(run)
    run.clock.call_at(t0 + 10, lambda: run.engine.apply(Pause()))
    outcome = run.call(c.SetTargetTemperature("temp", 4.0), c.WaitForTemperature("temp"),
                       name="set_temperature")
    assert run.status().status is Status.PAUSED
    assert t0 + 10 < run.clock.now() < t0 + 20  # paused and parked, the module cooling
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    reached = t0 + (23 - 4) / 0.035  # the plate cools on through the pause
    assert run.clock.now() == pytest.approx(reached, abs=0.5)
    assert run.engine.state.module_wait is False


def test_a_pause_pending_when_a_module_wait_begins_is_taken_then(run: ScriptedRun) -> None:
    # Asked for during the step's move (deferred: pending), it was held through the whole
    # wait that followed in the same step (on a robot: set the target, then wait).
    t0 = load_temperature_module(run)
    run.clock.call_at(t0 + 0.1, lambda: run.engine.apply(Pause()))
    outcome = run.call(c.MoveTo("left", (100.0, 100.0, 50.0)),
                       c.SetTargetTemperature("temp", 4.0), c.WaitForTemperature("temp"),
                       name="move and cool")
    assert run.status().status is Status.PAUSED
    assert run.clock.now() < t0 + 60  # paused as the wait began, the plate still cooling
    assert not outcome.done.is_set()
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    assert run.clock.now() == pytest.approx(t0 + (23 - 4) / 0.035, abs=30)


def test_a_pause_pending_when_a_delay_begins_is_taken_then(run: ScriptedRun) -> None:
    # Asked for during the step's move (deferred: pending), it was held through the whole
    # delay that followed in the same step (close a lid, then incubate), and a resume in
    # it was refused: nothing moves in a delay, so it is taken as the delay begins.
    t0 = run.clock.now()
    run.clock.call_at(t0 + 0.1, lambda: run.engine.apply(Pause()))
    outcome = run.call(c.MoveTo("left", (100.0, 100.0, 50.0)), c.Delay(600.0, "incubate"),
                       name="move and incubate")
    status = run.status()
    assert status.status is Status.PAUSED
    assert run.clock.now() < t0 + 60  # paused as the delay began
    assert status.delay is not None and status.delay.remaining_s > 500
    assert not outcome.done.is_set()
    assert run.control.resume().accepted
    run.settle()
    assert outcome.done.is_set() and outcome.error is None
    started = next(e["t"] for e in run.events()
                   if e["event"] == "command" and e["status"] == "started"
                   and e["id"] == max(x["id"] for x in run.events() if x.get("type") == "delay"))
    assert run.clock.now() == pytest.approx(started + 600.0, abs=1e-5)  # its own deadline
    assert statuses(run)[-3:] == ["pausing", "paused", "running"]


def test_skip_delay_while_paused_ends_it_and_stays_paused(run: ScriptedRun) -> None:
    t0 = run.clock.now()
    run.clock.call_at(t0 + 5, lambda: run.engine.apply(Pause(option="immediate")))
    outcome = run.call(c.Delay(600.0), name="delay")
    skipped_at = run.clock.now()
    assert run.control.skip_delay().accepted
    run.settle()
    status = run.status()
    assert status.status is Status.PAUSED
    assert status.delay is not None and status.delay.skipped
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    assert run.clock.now() > skipped_at + 0.1  # the unparking took its time
    assert run.clock.now() < t0 + 60
    # ended when it was skipped: what it had left then, not after the unparking
    delays = [(e["status"], e["remaining"]) for e in run.events() if e["event"] == "delay"]
    assert delays == [("skipped", round(t0 + 600.0 - skipped_at, 6))]


def test_stop_raises_in_the_protocol_and_cleans_up(run: ScriptedRun) -> None:
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    outcome = run.call(c.WaitForResume("hold"), name="pause")
    assert run.control.stop().accepted
    final = run.run.wait(5)
    assert final.status is Status.STOPPED
    assert outcome.done.wait(5)  # the protocol thread has seen its answer
    assert isinstance(outcome.error, RunStopped)
    later = run.call(c.Comment("after stop"))
    assert later.done.wait(5)
    assert isinstance(later.error, RunStopped)  # raises at once
    cleanup = [e for e in run.events() if e.get("origin") == "cleanup"]
    assert cleanup and cleanup[0]["type"] == "dropTip"
    assert run.events()[-1]["event"] == "summary"


def test_abort_carries_its_reason(run: ScriptedRun) -> None:
    outcome = run.call(c.WaitForResume(), name="pause")
    assert run.control.abort("contaminated").accepted
    final = run.run.wait(5)
    assert final.status is Status.ABORTED and final.outcome is not None
    assert final.outcome.reason == "contaminated"
    assert outcome.done.wait(5)  # the protocol thread has seen its answer
    assert isinstance(outcome.error, RunAborted)


def test_halt_needs_homing_before_the_robot_moves_again(run: ScriptedRun) -> None:
    run.clock.call_at(run.clock.now() + 0.2, lambda: run.engine.apply(
        __import__("engine.actions").actions.Halt()))
    outcome = run.call(c.MoveTo("left", (300.0, 300.0, 100.0)))
    final = run.run.wait(5)
    assert final.status is Status.HALTED
    assert outcome.done.wait(5)  # the protocol thread has seen its answer
    assert isinstance(outcome.error, RunHalted)
    assert run.controller.requires_homing
    assert not [e for e in run.events() if e.get("origin") == "cleanup"]


def test_halted_robot_refuses_to_move_until_homed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scripted = ScriptedRun(homed=False)
    try:
        scripted.play()
        outcome = scripted.call(c.MoveTo("left", (100.0, 100.0, 100.0)))
        assert scripted.run.wait(5).status is Status.FAILED
        assert outcome.error is not None and "homed" in str(outcome.error)
    finally:
        scripted.close()
    homed = ScriptedRun(homed=False)
    try:
        homed.play()
        homed.call(c.Home())
        assert homed.call(c.MoveTo("left", (100.0, 100.0, 100.0))).error is None
    finally:
        homed.close()


def test_refused_actions_change_nothing(run: ScriptedRun) -> None:
    before = run.engine.state
    for result in (run.control.resume(), run.control.skip_delay(), run.control.play()):
        assert not result.accepted and result.reason
    assert run.engine.state is before


def test_interlock_pauses_immediately_and_blocks_resume(run: ScriptedRun) -> None:
    run.clock.call_at(run.clock.now() + 0.2,
                      lambda: run.controller.set_interlock("door", True))
    outcome = run.call(c.MoveTo("left", (300.0, 300.0, 100.0)))
    status = run.status()
    assert status.status is Status.PAUSED and status.pause_source == "interlock"
    assert status.interlocks == ("door",)
    refused = run.control.resume()
    assert not refused.accepted and "door" in (refused.reason or "")
    run.control.set_interlock("door", False)
    run.settle()
    assert run.status().status is Status.PAUSED  # not configured to resume by itself
    assert run.control.resume().accepted
    run.settle()
    assert outcome.done.is_set()


def test_record_file_parses_and_ends_with_the_summary(run: ScriptedRun) -> None:
    run.call(c.Comment("hello"))
    run.finish()
    run.run.wait(5)
    events = run.events()
    assert events[0]["event"] == "run"
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "succeeded"
    assert [e["seq"] for e in events] == list(range(len(events)))


def test_other_threads_reach_the_engine_loop_only_while_the_run_lasts() -> None:
    scripted = ScriptedRun()
    run = scripted.run
    try:
        assert run.loop_running
        # Run in the engine loop, answered in this thread: values and errors alike.
        assert run.call(lambda: status_of(run.engine.state)) is Status.IDLE
        with pytest.raises(ZeroDivisionError):
            run.call(lambda: 1 / 0)
        seen: list[str] = []
        run.call(lambda: run.record.subscribe(lambda event: seen.append(event["event"])))
        scripted.play()
        assert "action" in seen and "status" in seen
    finally:
        scripted.close()
    assert not run.loop_running
    with pytest.raises(LoopClosedError):
        run.call(lambda: None)
    with pytest.raises(LoopClosedError):
        run.call_soon(lambda: None)
    assert seen[-1] == "summary"


# -- a robot that drops off -------------------------------------------------------------

LOST = "the connection to the robot was lost"


def failure_of(run: ScriptedRun) -> dict[str, object]:
    final = run.run.wait(5)
    assert final.status is Status.FAILED
    summary = run.events()[-1]
    assert summary["event"] == "summary" and summary["status"] == "failed"
    failures = [e for e in run.events() if e["event"] == "failure"]
    return {"error": summary["error"], "location": failures[0]["location"],
            "failed": [e["id"] for e in run.events()
                       if e["event"] == "command" and e["status"] == "failed"]}


def test_a_robot_lost_while_parked_fails_the_run_without_waiting_for_resume(
        run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    outcome = run.call(c.WaitForResume("check the plate"), name="pause")
    assert run.status().parked
    pause_id = len(run.engine.entries) - 1
    run.run.call(run.controller.lose_connection)
    failure = failure_of(run)
    # The cleanup could not move it either: said once, with what that leaves.
    assert failure["error"] == (
        f"the robot failed while the run waited: {LOST}; cleanup failed: the "
        "same reason, so the robot was left as it was (check the robot and home it before "
        "the next run)")
    assert failure["location"] is None and failure["failed"] == [pause_id]
    assert outcome.done.wait(5) and isinstance(outcome.error, RunStopped)
    assert not run.control.resume().accepted


def test_a_robot_lost_with_a_tip_on_says_the_tip_is_still_on(run: ScriptedRun) -> None:
    """The words for a robot left as it was name the tip it holds, and only then: a run
    that had picked up no tip was once told "tips on"."""
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.WaitForResume("check the plate"), name="pause")
    run.run.call(run.controller.lose_connection)
    assert str(failure_of(run)["error"]).endswith(
        "cleanup failed: the same reason, so the robot was left as it was (a tip still on "
        "the left pipette; check the robot and home it before the next run)")


def test_a_cleanup_that_cannot_reach_the_robot_still_sends_its_emergency_stop(
        run: ScriptedRun) -> None:
    # A link that timed out mid-move left the firmware running its buffered moves, and
    # nothing was sent after the fault: the gantry went on moving after labrun exited.
    run.clock.call_at(run.clock.now() + 0.05, run.controller.lose_connection)
    run.call(c.MoveTo("left", (300.0, 300.0, 100.0)))
    failure_of(run)
    kinds = [(e["event"], e.get("location")) for e in run.events()]
    assert kinds.index(("failure", "cleanup")) < kinds.index(("emergency_stop", None))
    # sent, though a lost link cannot confirm it: the record says so
    assert [e["confirmed"] for e in run.events() if e["event"] == "emergency_stop"] == [False]
    assert ("failure", "emergency stop") in kinds


def test_a_halt_whose_emergency_stop_is_not_confirmed_says_so(run: ScriptedRun) -> None:
    async def unconfirmed() -> None:
        raise HardwareFault("timed out after 5 s waiting for the controller to confirm the "
                            "emergency stop")

    run.controller.emergency_stop = unconfirmed  # type: ignore[method-assign]
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    assert run.control.halt().accepted
    final = run.run.wait(5)
    assert final.status is Status.HALTED
    summary = run.events()[-1]
    assert summary["reason"] == (
        "the controller did not confirm the emergency stop (timed out after 5 s waiting for "
        "the controller to confirm the emergency stop): it may still be moving; cut its power")
    # the record does not say it stopped: its emergency_stop was not confirmed
    (stop,) = [e for e in run.events() if e["event"] == "emergency_stop"]
    assert stop["confirmed"] is False


def test_a_robot_lost_during_a_delay_fails_the_run_then_not_at_the_deadline(
        run: ScriptedRun) -> None:
    lost_at = run.clock.now() + 10.0
    run.clock.call_at(lost_at, run.controller.lose_connection)
    outcome = run.call(c.Delay(3600.0), name="incubate")
    failure = failure_of(run)
    assert LOST in str(failure["error"])
    assert run.clock.now() == pytest.approx(lost_at)  # the hour was not waited out
    assert isinstance(outcome.error, RunStopped)


def test_a_fault_taken_as_a_delay_begins_ends_the_run_at_the_fault_not_the_deadline(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A robot lost during the last move of a call whose next command is a delay: the
    delay takes the fault as it begins and the run fails there. The virtual clock once
    ran on to the delay's deadline all the same (a virtual sleep checks for nothing), so
    the record, the status and the summary said the run failed an hour later."""
    step = StepInfo(1, "move, then incubate")
    move = c.MoveTo("left", (300.0, 300.0, 100.0), force_direct=True)  # one segment
    raised: list[BaseException] = []

    def protocol(channel: CommandChannel) -> None:
        try:
            for _ in channel.execute_all([(P300, step, None), (move, step, None),
                                          (c.Delay(3600.0), step, None)]):
                pass
        except RunStopped as exc:
            raised.append(exc)

    final, events, clock = _lost_mid_move(protocol, tmp_path)
    assert final.status is Status.FAILED and raised
    summary = events[-1]
    assert summary["error"].startswith(f"the robot failed while the run waited: {LOST}")
    moved = next(e["t"] for e in events
                 if e["event"] == "command" and e["id"] == 1 and e["status"] == "completed")
    assert moved < 10.0
    assert clock.now() == pytest.approx(moved)  # the hour was not waited out
    assert final.time == pytest.approx(moved)
    assert summary["duration_s"] == pytest.approx(moved, abs=0.001)
    after = events[next(i for i, e in enumerate(events) if e["t"] >= moved):]
    assert {e["t"] for e in after} == {moved}  # the failure, the cleanup, the summary
    # The delay failed as it began: it neither elapsed nor completed.
    assert [e.get("status") for e in after if e.get("id") == 2] == [
        "queued", "started", "failed"]
    assert not [e for e in events if e["event"] == "delay"]


def _lost_mid_move(protocol: Callable[[CommandChannel], None], tmp_path: Path
                   ) -> tuple[RunStatusReport, list[dict[str, Any]], VirtualClock]:
    """``protocol`` run on the simulated robot to its end, the robot lost 0.05 s in (mid
    move: the move ends, the fault waits to be taken): its final status, record, clock."""
    clock = VirtualClock()
    controller = SimulatedController(default_config(), clock)
    run = Run(protocol, controller=controller, clock=clock,
              record_path=tmp_path / "record.jsonl")
    clock.call_at(0.05, controller.lose_connection)
    run.start()
    try:
        assert run.control.play().accepted
        final = run.wait(5)
    finally:
        run.close(protocol_grace_s=5)
    return final, read_record(str(tmp_path / "record.jsonl")), clock


def test_a_robot_lost_during_a_module_wait_fails_the_run_then_not_once_it_is_reached(
        run: ScriptedRun) -> None:
    # The robot dropped off 10 s into the wait for 4 °C: the run waited out the cooling
    # (9 min) before it failed, as if nothing had happened.
    t0 = load_temperature_module(run)
    run.clock.call_at(t0 + 10, run.controller.lose_connection)
    outcome = run.call(c.SetTargetTemperature("temp", 4.0), c.WaitForTemperature("temp"),
                       name="cool")
    failure = failure_of(run)
    assert str(failure["error"]).startswith(f"the robot failed while the run waited: {LOST}")
    assert run.clock.now() == pytest.approx(t0 + 10)  # not the 4 °C it was cooling to
    assert failure["failed"] == [len(run.engine.entries) - 1]  # the wait
    assert isinstance(outcome.error, RunStopped)


def test_a_fault_taken_as_a_module_wait_begins_ends_the_run_at_the_fault(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As for a delay: the robot lost during the last move of a call whose next command
    waits for a module; the run fails as the wait begins, not once the module is there."""
    step = StepInfo(1, "move, then cool")
    move = c.MoveTo("left", (300.0, 300.0, 100.0), force_direct=True)  # one segment
    batch = [P300, c.LoadModule("temp", "temperature", "temperatureModuleV2", "3", 84.0),
             c.SetTargetTemperature("temp", 4.0), move, c.WaitForTemperature("temp")]

    def protocol(channel: CommandChannel) -> None:
        with contextlib.suppress(RunStopped):
            for _ in channel.execute_all([(command, step, None) for command in batch]):
                pass

    final, events, clock = _lost_mid_move(protocol, tmp_path)
    assert final.status is Status.FAILED
    moved = next(e["t"] for e in events
                 if e["event"] == "command" and e["id"] == 3 and e["status"] == "completed")
    assert moved < 10.0 and clock.now() == pytest.approx(moved)
    assert events[-1]["duration_s"] == pytest.approx(moved, abs=0.001)
    assert events[-1]["error"].startswith(f"the robot failed while the run waited: {LOST}")
    assert [e["status"] for e in events if e.get("id") == 4] == [
        "queued", "started", "failed"]


def test_a_robot_lost_mid_move_fails_the_next_call_to_it(run: ScriptedRun) -> None:
    run.clock.call_at(run.clock.now() + 0.05, run.controller.lose_connection)
    run.call(c.MoveTo("left", (300.0, 300.0, 100.0)), c.MoveTo("left", (100.0, 100.0, 100.0)))
    failure = failure_of(run)
    # The move that met the dead connection failed, not a wait.
    assert str(failure["error"]).startswith(LOST)
    assert failure["failed"] == [len(run.engine.entries) - 1]


def test_a_failure_is_an_ending_of_its_own_and_keeps_its_error_through_an_abort(
        run: ScriptedRun) -> None:
    statuses: list[str] = []
    aborts: list[bool] = []

    def watch(state: object) -> None:
        status = status_of(run.engine.state).value
        if not statuses or statuses[-1] != status:
            statuses.append(status)
            if status == "failing":  # a person presses abort while it cleans up
                aborts.append(run.engine.apply(Abort(reason="impatient")).accepted)

    run.run.call(lambda: run.engine.subscribe(watch))
    outcome = run.call(c.MoveTo("left", (5000.0, 0.0, 60.0)), name="out of reach")
    assert isinstance(outcome.error, RunStopped)
    final = run.status()
    assert statuses[-2:] == ["failing", "failed"]
    assert aborts == [True]  # accepted, and it changes nothing: the failure stands
    assert final.status is Status.FAILED and final.outcome is not None
    assert "cannot reach" in (final.outcome.error or "")
    assert final.outcome.reason is None


def test_an_abort_while_the_run_stops_ends_it_aborted_with_its_reason(
        run: ScriptedRun) -> None:
    """DESIGN's table takes abort while stopping: the result is then ``aborted`` (not
    a success a server's queue would go on from), after the same cleanup."""
    aborts: list[bool] = []

    def watch(event: dict[str, object]) -> None:
        if event.get("origin") == "cleanup" and not aborts:  # while it cleans up
            aborts.append(run.engine.apply(Abort(reason="spilled")).accepted)

    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.run.call(lambda: run.engine.record.subscribe(watch))
    outcome = run.call(c.WaitForResume("hold"), name="pause")
    assert run.control.stop().accepted
    final = run.run.wait(5)
    assert outcome.done.wait(5) and isinstance(outcome.error, RunStopped)
    assert aborts == [True] and statuses(run)[-3:] == ["stopping", "aborting", "aborted"]
    assert final.status is Status.ABORTED and final.outcome is not None
    assert final.outcome.reason == "spilled"
    cleanup = [e["type"] for e in run.events() if e.get("origin") == "cleanup"]
    assert cleanup[0] == "dropTip"  # the cleanup ran once, as for either
    assert run.events()[-1]["status"] == "aborted"


def test_travel_height_is_taken_in_the_z_axis_frame_of_a_mount_with_a_z_offset() -> None:
    # A mount whose nozzle sits 30 mm below its Z axis' zero (offset -30): to travel with
    # the nozzle 10 mm above the tallest labware (50 mm), its Z axis must be at 90.
    base = default_config()
    left = replace(base.mounts["left"], offset=(-34.0, 0.0, -30.0))
    config = replace(base, mounts={**base.mounts, "left": left})
    model = RobotModel(config)
    model.deck_highest = 50.0
    model.position["Z"] = 20.0  # low, so the arc begins by lifting
    lift, *_ = model.arc("left", (200.0, 200.0, 60.0))
    assert isinstance(lift, Move)
    assert lift.target["Z"] == pytest.approx(50.0 + 10.0 + 30.0)


def test_a_minimum_z_height_out_of_reach_is_refused_not_lowered() -> None:
    # It was capped at the top of the travel: the tip end went lower than the protocol
    # asked, silently (Opentrons: "Arc out of bounds in the Z-axis").
    model = RobotModel(default_config())
    model.pipettes["left"] = Pipette(PlungerSpec(300.0, 18.75, 18.0, 19.0, 20.0), tip_length=51.0)
    with pytest.raises(CommandError) as raised:
        model.arc("left", (200.0, 200.0, 100.0), minimum_z=1000.0)
    assert str(raised.value) == ("minimum_z_height 1000 mm is out of reach: the left mount's "
                                 "tip end goes up to 167 mm")
    model.position["Z"] = 20.0  # low, so the arc begins by lifting, to the very top
    lift, *_ = model.arc("left", (200.0, 200.0, 100.0), minimum_z=167.0)
    assert isinstance(lift, Move) and lift.target["Z"] == pytest.approx(218.0)


def test_labware_too_tall_to_travel_over_is_refused_not_scraped() -> None:
    # The Z axes end at 218 mm: with a tip 51 mm long, the tip end cannot get above a
    # labware 170 mm tall. The move is refused, naming the mount and the axis, rather than
    # made at 218 with the tip end through the labware. Nor may it pass less than 1 mm
    # above one (as Opentrons refuses too): 166.5 mm would leave it 0.5 mm.
    model = RobotModel(default_config())
    model.deck_highest = model.labware_highest = 170.0
    model.pipettes["left"] = Pipette(PlungerSpec(300.0, 18.75, 18.0, 19.0, 20.0), tip_length=51.0)
    with pytest.raises(CommandError) as raised:
        model.arc("left", (200.0, 200.0, 100.0))
    assert str(raised.value) == (
        "the left mount with its tip cannot travel over the tallest labware (170.0 mm "
        "high): it would need axis Z at 222.0 mm to clear it by 1 mm, outside its travel "
        "[0, 218]")
    model.labware_highest = model.deck_highest = 166.5
    with pytest.raises(CommandError, match=r"\(166.5 mm high\).* at 218.5 mm"):
        model.arc("left", (200.0, 200.0, 100.0))
    assert model.safe_height() == 218.0  # parking and the cleanup still go as high as they can
    # 160 mm: the tip end clears it at the top of the travel, 7 mm above rather than 10.
    model.labware_highest = model.deck_highest = 160.0
    model.position["Z"] = 20.0  # low, so the arc begins by lifting
    lift, *_ = model.arc("left", (200.0, 200.0, 100.0))
    assert isinstance(lift, Move) and lift.target["Z"] == 218.0


def test_a_robot_lost_once_a_pick_up_has_pressed_into_its_tip_says_the_tip_may_be_on(
        run: ScriptedRun) -> None:
    """Lost mid pick-up, the failed pick-up may hold its tip: the words and the summary say
    so, as for a pick-up a stop cut off (they once said no tip was on)."""
    pick_up = c.PickUpTip("left", TIP_TOP, "1/A1", 51.0)
    run.clock.call_at(run.clock.now() + 2.0, run.controller.lose_connection)
    run.call(pick_up)  # fails: the robot is lost
    entry = run.engine.book.last_protocol
    assert entry is not None and entry.plan is not None
    assert pick_up.may_hold_tip(entry.done, entry.plan)  # the nozzle had pressed in
    assert str(failure_of(run)["error"]).endswith(
        "cleanup failed: the same reason, so the robot was left as it was (a tip perhaps "
        "still on the left pipette; check the robot and home it before the next run)")
    summary = run.events()[-1]
    assert summary["tips_at_end"]["left"]["uncertain"] is True


def test_a_cleanup_that_cannot_carry_the_tip_clear_says_to_take_it_off_by_hand(
        run: ScriptedRun) -> None:
    """The cleanup fails as the run did, on a reach limit, not on a lost robot: the words
    say to take the tip off, not to check and home the robot."""
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.LoadLabware("tall_rack", "5", "a tall rack", 205.0))
    run.call(c.MoveTo("left", (100.0, 100.0, 100.0)))  # refused: the tip cannot clear it
    error = str(failure_of(run)["error"])
    assert "cannot travel over the tallest labware" in error
    assert error.endswith("cleanup failed: the same reason, so the robot was left as it was "
                          "(a tip still on the left pipette: take it off by hand)"), error


def test_a_halt_while_a_failed_cleanups_emergency_stop_reads_the_position_still_ends(
        run: ScriptedRun) -> None:
    # An abort's cleanup fails; its emergency stop goes out and asks where the axes
    # stopped; a person halts then. The halt cut the position read off, the emergency stop
    # was never marked done, and the halt waited for it for ever: the run stayed halting.
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    controller = run.controller
    plain_read = controller.read_position
    reading = threading.Event()
    answers: list[aio.EventLike] = []

    async def failing_move(target: object, speed: float | None = None) -> None:
        raise HardwareFault("alarm during the cleanup")

    async def slow_read() -> dict[str, float]:  # a controller slow to answer
        answers.append(aio.Event())  # (made in the engine's loop)
        reading.set()
        await answers[-1].wait()
        return await plain_read()

    controller.move = failing_move  # type: ignore[method-assign,assignment]
    controller.read_position = slow_read  # type: ignore[method-assign]
    assert run.control.abort("test").accepted
    assert reading.wait(5)
    assert run.control.halt().accepted
    run.run.call(answers[-1].set)
    final = run.run.wait(5)
    assert final.status is Status.HALTED
    events = run.events()
    assert [e["confirmed"] for e in events if e["event"] == "emergency_stop"] == [True]
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "halted"


def test_a_halt_whose_emergency_stop_is_confirmed_records_it_so(run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (100.0, 100.0, 50.0)))
    assert run.control.halt().accepted
    assert run.run.wait(5).status is Status.HALTED
    assert [e["confirmed"] for e in run.events() if e["event"] == "emergency_stop"] == [True]
    assert "reason" not in run.events()[-1] or run.events()[-1]["reason"] is None
