"""What the engine tells the controller's board of the run's job (``mark_job``): started
as it starts moving the robot, paused once a pause has parked it, resumed, ended as the
run ends, whatever ends it. A Marlin's LCD offers Pause, Resume and Stop print from that
(its print job timer); the simulated controller keeps the marks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from labrun_testing import WELL, ScriptedRun, loaded_run

from engine import commands as c
from engine.state import Status
from hardware.controller import HardwareFault, JobPhase

FAR = (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2] + 40.0)


@pytest.fixture
def scripted() -> Iterator[ScriptedRun]:
    with loaded_run() as run:
        yield run


def marks(scripted: ScriptedRun) -> list[JobPhase]:
    return list(scripted.controller.job_marks)


def pause_mid_move(scripted: ScriptedRun) -> None:
    """A client's immediate pause, in the middle of a long move."""
    scripted.clock.call_at(scripted.clock.now() + 0.4,
                           lambda: scripted.control.pause("immediate"))
    scripted.call(c.MoveTo("left", FAR))
    status = scripted.settle()
    assert status.status is Status.PAUSED and status.parked


def test_a_run_is_started_paused_resumed_and_ended_on_the_board(
        scripted: ScriptedRun) -> None:
    assert marks(scripted) == ["started"]
    pause_mid_move(scripted)
    assert marks(scripted) == ["started", "paused"]
    assert scripted.control.resume().accepted
    assert scripted.settle().status is Status.RUNNING
    assert marks(scripted) == ["started", "paused", "resumed"]
    scripted.finish()
    assert scripted.run.wait(5).status is Status.SUCCEEDED
    assert marks(scripted) == ["started", "paused", "resumed", "ended"]


def test_a_run_stopped_while_paused_ends_its_job_without_resuming_it(
        scripted: ScriptedRun) -> None:
    pause_mid_move(scripted)
    assert scripted.control.stop().accepted
    assert scripted.run.wait(5).status is Status.STOPPED
    assert marks(scripted) == ["started", "paused", "ended"]


def test_a_halted_run_ends_its_job_after_the_emergency_stop(scripted: ScriptedRun) -> None:
    assert scripted.control.halt().accepted
    assert scripted.run.wait(5).status is Status.HALTED
    assert marks(scripted) == ["started", "ended"]


def test_a_run_stopped_before_it_started_tells_the_board_nothing() -> None:
    run = ScriptedRun()
    try:
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        assert marks(run) == []
    finally:
        run.close()


def test_a_resume_refused_at_the_board_tells_it_again_that_the_run_is_paused(
        scripted: ScriptedRun) -> None:
    """Marlin's Resume print starts its print job timer itself: refused behind the open
    door, the run is paused still, and the board is told so again (its LCD then offers
    Resume print once more, not Pause print)."""
    scripted.control.set_interlock("door", True)
    assert scripted.settle().status is Status.PAUSED
    assert marks(scripted) == ["started", "paused"]
    scripted.run.call(lambda: scripted.controller.ask_at_board("resume"))
    assert scripted.settle().status is Status.PAUSED
    assert marks(scripted) == ["started", "paused", "paused"]
    scripted.control.set_interlock("door", False)
    scripted.run.call(lambda: scripted.controller.ask_at_board("resume"))
    assert scripted.settle().status is Status.RUNNING
    assert marks(scripted) == ["started", "paused", "paused", "resumed"]


def test_a_board_that_cannot_be_told_of_the_pause_fails_the_run_as_any_line_would(
        scripted: ScriptedRun, monkeypatch: pytest.MonkeyPatch) -> None:
    controller = scripted.controller
    marked = controller.mark_job

    async def mark_job(phase: JobPhase) -> None:
        if phase == "paused":
            raise HardwareFault("the controller does not answer")
        await marked(phase)

    monkeypatch.setattr(controller, "mark_job", mark_job)
    scripted.clock.call_at(scripted.clock.now() + 0.4,
                           lambda: scripted.control.pause("immediate"))
    outcome = scripted.call(c.MoveTo("left", FAR))
    final = scripted.run.wait(5)
    assert final.status is Status.FAILED
    assert final.outcome is not None and final.outcome.error is not None
    assert "the controller does not answer" in final.outcome.error
    assert outcome.error is not None  # the protocol's call raises RunFailed
    assert marks(scripted) == ["started", "ended"]  # the cleanup ends the job
