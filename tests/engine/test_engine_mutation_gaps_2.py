"""Scenarios a second hand mutation of the engine's pause, ending, module and delay code
showed no engine test caught: each fails when that mutation is put back (a skip that does
not end the running delay, a skipped delay that skips the next one too, a second pause
unparked to the first one's position, an unrecorded continuation, a stop's cleanup that
does not home or drops tips the robot file keeps, a halt said to leave the position
unknown when it was read back, a cleanup command cut off by a halt left started, an abort
during the closing lift without its cleanup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import P300, TIP_TOP, WELL, ScriptedRun

from engine import commands as c
from engine.actions import Abort, Halt, Pause, SkipDelay
from engine.state import Status
from hardware.config import default_config
from hardware.frozen import replace


def command_ids(run: ScriptedRun, kind: str) -> list[int]:
    """The ids of the commands of ``kind`` the record queued, in order."""
    return [e["id"] for e in run.events() if e["event"] == "command"
            and e["status"] == "queued" and e["type"] == kind]


def test_skip_delay_ends_a_running_delay_now() -> None:
    """A delay skipped while it runs ends then: the protocol goes on at once, and the
    record says what it had left."""
    run = ScriptedRun()
    try:
        run.play()
        t0 = run.clock.now()
        run.clock.call_at(t0 + 5.0, lambda: run.engine.apply(SkipDelay()))
        outcome = run.call(c.Delay(600.0, "incubate"), name="delay")
        assert outcome.done.is_set() and outcome.error is None
        assert run.clock.now() == pytest.approx(t0 + 5.0)  # not at its deadline
        delays = [(e["status"], e["remaining"]) for e in run.events() if e["event"] == "delay"]
        assert delays == [("skipped", pytest.approx(595.0))]
    finally:
        run.close()


def test_a_delay_after_a_skipped_one_runs_to_its_own_deadline() -> None:
    """Skipping one delay skips only that one: the status shows no delay once it ended,
    and the next delay is waited out in full."""
    run = ScriptedRun()
    try:
        run.play()
        t0 = run.clock.now()
        run.clock.call_at(t0 + 5.0, lambda: run.engine.apply(SkipDelay()))
        run.call(c.Delay(600.0), name="skipped")
        assert run.status().delay is None
        t1 = run.clock.now()
        run.call(c.Delay(60.0), name="waited")
        assert run.clock.now() == pytest.approx(t1 + 60.0)
        assert run.status().delay is None
        assert [e["status"] for e in run.events() if e["event"] == "delay"] == [
            "skipped", "elapsed"]
    finally:
        run.close()


def test_a_second_pause_unparks_to_where_the_run_was_when_it_paused_again() -> None:
    """Two protocol pauses at different places: the second resume brings the gantry back
    over the second place, not the first."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        for x, y in ((100.0, 100.0), (200.0, 150.0)):
            run.call(c.MoveTo("left", (x, y, 60.0)))
            before = run.status().position
            run.call(c.WaitForResume("check"), name="pause", wait=False)
            assert run.settle().status is Status.PAUSED
            assert run.control.resume().accepted
            status = run.settle()
            assert status.status is Status.RUNNING
            assert (status.position["X"], status.position["Y"]) == pytest.approx(
                (before["X"], before["Y"]))
    finally:
        run.close()


def test_an_immediate_pause_between_two_commands_of_a_step_past_rewinding_is_recorded(
        tmp_path: Path) -> None:
    """An immediate pause lands after an aspirate, before the next command of its step:
    nothing is rewound, and the record says the step continued after its last command."""
    run = ScriptedRun(record_path=str(tmp_path / "record.jsonl"))
    try:
        run.play()
        run.call(P300, name="load")
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", WELL, well="2/A1"))
        paused: list[bool] = []

        def watch(event: dict[str, Any]) -> None:
            if (event["event"] == "command" and event.get("status") == "completed"
                    and not paused and event["id"] == max(command_ids(run, "aspirate"),
                                                          default=-1)):
                paused.append(run.engine.apply(Pause(option="immediate")).accepted)

        run.run.call(lambda: run.engine.record.subscribe(watch))
        outcome = run.call(c.Aspirate("left", 50.0, 50.0, "2/A1"),
                           c.MoveTo("left", (200.0, 150.0, 100.0)), name="aspirate, then away")
        assert paused == [True] and run.status().status is Status.PAUSED
        assert run.control.resume().accepted
        run.settle()
        assert outcome.done.is_set() and outcome.error is None
        [aspirate] = command_ids(run, "aspirate")
        effects = [(e["effect"], e["id"]) for e in run.events() if e["event"] == "pause_effect"]
        assert effects == [("continued", aspirate)]
    finally:
        run.close()


def test_a_stops_cleanup_homes_every_axis() -> None:
    """A stop's cleanup ends with every axis at its home point."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", (100.0, 100.0, 60.0)))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        home = {name: axis.home for name, axis in run.config.axes.items()}
        assert run.controller.position == pytest.approx(home)
    finally:
        run.close()


def test_a_stop_leaves_the_tip_on_when_the_robot_file_says_drop_tips_on_stop_false() -> None:
    """``drop_tips_on_stop = false``: a stop's cleanup lifts and homes, but drops no tip;
    the summary says the tip is still on."""
    run = ScriptedRun(replace(default_config(), drop_tips_on_stop=False))
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        assert [e for e in run.events() if e.get("origin") == "cleanup"] == []
        assert run.engine.model.tips_attached() == ["left"]
    finally:
        run.close()


def test_a_halt_whose_position_is_read_back_does_not_say_it_is_unknown() -> None:
    """The simulated robot reports where its emergency stop left it: the status and the
    summary give that position and do not call it unknown."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.MoveTo("left", (100.0, 100.0, 60.0)))
        here = run.status().position
        assert run.control.halt().accepted
        final = run.run.wait(5)
        assert final.status is Status.HALTED
        assert final.position_unknown is None
        assert final.position == pytest.approx(here)
        summary = run.events()[-1]
        assert summary["event"] == "summary" and "position_unknown" not in summary
    finally:
        run.close()


def test_a_cleanup_drop_tip_cut_off_by_a_halt_ends_interrupted_in_the_record() -> None:
    """A halt during a stop's cleanup cuts off its drop into the trash: that command's
    lifecycle in the record ends ``interrupted`` by the halt, as any other command's."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        halted: list[bool] = []

        def watch(event: dict[str, Any]) -> None:
            if (event.get("origin") == "cleanup" and event.get("status") == "queued"
                    and not halted):  # its motion about to begin
                halted.append(True)
                run.clock.call_at(run.clock.now() + 0.2, lambda: run.engine.apply(Halt()))

        run.run.call(lambda: run.engine.record.subscribe(watch))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.HALTED
        [drop] = [e["id"] for e in run.events() if e.get("origin") == "cleanup"
                  and e.get("status") == "queued"]
        ends = [(e["status"], e.get("reason")) for e in run.events()
                if e["event"] == "command" and e["id"] == drop
                and e["status"] not in ("queued", "started")]
        assert halted == [True] and ends == [("interrupted", "halt")]
    finally:
        run.close()


def test_an_abort_during_the_closing_lift_cleans_up_as_an_abort_does() -> None:
    """The protocol returned and the robot lifts its tip; an abort then ends the run
    aborted, with an abort's cleanup: the tip goes into the trash."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", WELL, well="2/A1"))
        plain = run.controller.move
        aborted: list[bool] = []

        async def move(target: dict[str, float], speed: float | None = None) -> None:
            if run.engine.state.finishing and not aborted:
                aborted.append(True)
                run.clock.call_at(run.clock.now() + 0.05,
                                  lambda: run.engine.apply(Abort(reason="spilled")))
            await plain(target, speed)

        run.controller.move = move  # type: ignore[method-assign,assignment]
        run.finish()
        final = run.run.wait(5)
        assert aborted == [True]
        assert final.status is Status.ABORTED and final.outcome is not None
        assert final.outcome.reason == "spilled"
        assert [e["type"] for e in run.events() if e.get("origin") == "cleanup"
                and e["status"] == "queued"] == ["dropTip"]
        assert run.engine.model.tips_attached() == []
    finally:
        run.close()
