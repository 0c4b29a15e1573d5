"""What a person asks for at the robot's own board (Marlin's LCD menu, a button wired to
it), which the controller reports: an action from source ``board``, through the guard as
any other. A pause there is immediate; a resume behind an open door is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from labrun_testing import TIP_TOP, WELL, ScriptedRun, loaded_run

from engine import commands as c
from engine.state import Status
from hardware.controller import BoardAction

FAR = (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2] + 40.0)


@pytest.fixture
def scripted() -> Iterator[ScriptedRun]:
    with loaded_run() as run:
        yield run


def ask_at_board(scripted: ScriptedRun, action: BoardAction) -> None:
    """As the controller reports it, in the engine's loop."""
    scripted.run.call(lambda: scripted.controller.ask_at_board(action))


def actions(scripted: ScriptedRun) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("t", "seq")} for e in scripted.events()
            if e["event"] == "action" and e["action"] != "play"]


def test_a_pause_at_the_board_stops_the_move_now_and_a_resume_there_goes_on_from_it(
        scripted: ScriptedRun) -> None:
    start = scripted.controller.position["X"]
    scripted.clock.call_at(scripted.clock.now() + 0.4,
                           lambda: scripted.controller.ask_at_board("pause"))
    outcome = scripted.call(c.MoveTo("left", FAR))
    status = scripted.settle()
    # Immediate: mid-move, not at the step's end; named by where it was asked.
    assert status.status is Status.PAUSED and status.parked
    assert (status.pause_source, status.pause_from) == ("client", "board")
    assert not outcome.done.is_set()
    events = scripted.events()
    park = [e for e in events if e["event"] == "park"][-1]
    assert FAR[0] + 10.0 < park["recorded"]["X"] < start - 10.0  # stopped on the way
    assert [e["effect"] for e in events if e["event"] == "pause_effect"] == ["interrupted"]
    paused = [e for e in events if e["event"] == "status" and e["status"] == "paused"][-1]
    assert (paused["pause_source"], paused["pause_from"]) == ("client", "board")
    ask_at_board(scripted, "resume")
    status = scripted.settle()
    assert outcome.done.is_set() and outcome.error is None
    assert status.status is Status.RUNNING
    events = scripted.events()
    unpark = [e for e in events if e["event"] == "unpark"][-1]
    # a step of moves only runs again from its checkpoint, as after any immediate pause
    assert unpark["rewind"] is True
    assert unpark["position"] == pytest.approx(unpark["recorded"])
    move = next(e["id"] for e in events if e["event"] == "command" and e.get("type") == "moveTo")
    said = [e["status"] for e in events if e["event"] == "command" and e["id"] == move]
    assert said[-1] == "completed"
    assert actions(scripted) == [
        {"event": "action", "action": "pause", "source": "board", "accepted": True,
         "refusal": None, "option": "immediate"},
        {"event": "action", "action": "resume", "source": "board", "accepted": True,
         "refusal": None},
    ]


def test_a_resume_at_the_board_behind_the_open_door_is_refused_and_changes_nothing(
        scripted: ScriptedRun) -> None:
    scripted.control.set_interlock("door", True)
    assert scripted.settle().status is Status.PAUSED
    ask_at_board(scripted, "resume")
    status = scripted.settle()
    assert status.status is Status.PAUSED and status.pause_source == "interlock"
    assert actions(scripted) == [
        {"event": "action", "action": "resume", "source": "board", "accepted": False,
         "refusal": "interlock door is active; resume is refused until it clears"}]
    scripted.control.set_interlock("door", False)
    ask_at_board(scripted, "resume")
    assert scripted.settle().status is Status.RUNNING
    assert actions(scripted)[-1]["accepted"] is True


def test_a_stop_at_the_board_ends_the_run_stopped_with_its_cleanup(
        scripted: ScriptedRun) -> None:
    scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    scripted.clock.call_at(scripted.clock.now() + 0.4,
                           lambda: scripted.controller.ask_at_board("stop"))
    outcome = scripted.call(c.MoveTo("left", FAR))
    status = scripted.settle()
    assert status.status is Status.STOPPED
    assert outcome.error is not None  # the protocol's call raises RunStopped
    events = scripted.events()
    assert actions(scripted) == [{"event": "action", "action": "stop", "source": "board",
                                  "accepted": True, "refusal": None}]
    # the cleanup: the tip into the trash, the robot homed
    cleanup = [e for e in events if e["event"] == "command" and e.get("origin") == "cleanup"]
    assert [e["type"] for e in cleanup] == ["dropTip"]
    home = {axis: axis_config.home for axis, axis_config in scripted.config.axes.items()}
    assert scripted.controller.position == pytest.approx(home)
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "stopped"
