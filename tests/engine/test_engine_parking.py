"""Parking in full (docs/design.md §5) on the simulated robot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from labrun_testing import P300, TIP_TOP, WELL, ScriptedRun
from labrun_testing import P300_RIGHT as RIGHT

from engine import commands as c
from engine.actions import Pause
from engine.state import Status
from hardware.config import InterlockConfig, default_config
from hardware.frozen import replace
from hardware.simulated import SimulatedController


@pytest.fixture
def run() -> Iterator[ScriptedRun]:
    scripted = ScriptedRun()
    scripted.play()
    scripted.call(P300, name="load")
    yield scripted
    scripted.close()


def test_parking_lifts_z_moves_to_park_and_lowers_plunger_current(run: ScriptedRun) -> None:
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"))
    run.call(c.WaitForResume("look"), name="pause")
    position = run.controller.position
    assert position["Z"] == pytest.approx(run.config.safe_height)
    assert position["A"] >= run.config.safe_height
    assert (position["X"], position["Y"]) == run.config.park_position
    assert run.status().parked and not run.status().held_over_well
    currents = run.controller.currents
    assert currents["B"] == run.config.axes["B"].idle_current  # lowered, never switched off
    assert currents["B"] > 0
    run.control.resume()
    run.settle()
    assert run.controller.currents["B"] == run.config.axes["B"].run_current
    assert run.status().position["X"] == pytest.approx(WELL[0] + 34.0, abs=0.01)


def test_a_tip_holding_liquid_stays_above_where_it_was(run: ScriptedRun) -> None:
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
    here = dict(run.controller.position)
    run.call(c.WaitForResume("liquid in the tip"), name="pause")
    parked = run.controller.position
    assert (parked["X"], parked["Y"]) == (here["X"], here["Y"])
    assert parked["Z"] == pytest.approx(run.config.safe_height)
    park = [e for e in run.events() if e["event"] == "park"][-1]
    assert park["kept_xy"] is True
    assert run.status().held_over_well and run.status().parked  # not clear of the deck
    run.control.resume()
    run.settle()
    assert not run.status().held_over_well


def test_a_tip_holding_liquid_caught_between_wells_waits_over_the_well_it_left(
        run: ScriptedRun) -> None:
    """Cut off on its way to the next well, a tip holding liquid waits over the well it
    drew from (a drop falls back where it came from), not over whatever well it was
    passing, and the run continues from where it stopped."""
    run.call(c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", 14.22))
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
    over_source = (run.controller.position["X"], run.controller.position["Y"])
    run.clock.call_at(run.clock.now() + 0.4,
                      lambda: run.engine.apply(Pause(option="immediate")))
    outcome = run.call(c.MoveTo("left", (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2])))
    status = run.settle()
    assert status.status is Status.PAUSED and not outcome.done.is_set()
    park = [e for e in run.events() if e["event"] == "park"][-1]
    stopped = park["recorded"]
    assert 200.0 < stopped["X"] < 346.88 + 34.0 - 10.0  # travelling, over neither well
    parked = run.controller.position
    assert (parked["X"], parked["Y"]) == pytest.approx(over_source)
    assert parked["Z"] == pytest.approx(run.config.safe_height)
    assert park["kept_xy"] is True and park["over_last_well"] is True
    run.control.resume()
    run.settle()
    assert outcome.done.is_set() and outcome.error is None
    unpark = [e for e in run.events() if e["event"] == "unpark"][-1]
    assert unpark["position"] == pytest.approx(stopped)  # back where it stopped, then on
    assert run.controller.position["X"] == pytest.approx(WELL[0] + 200.0 + 34.0, abs=0.01)


def holding_liquid_in_a1() -> ScriptedRun:
    """A run with a door that does not resume it by itself, its left tip holding 50 µL
    drawn from A1 of a plate in slot 2, still in that well."""
    scripted = ScriptedRun(replace(default_config(), interlocks={"door": InterlockConfig(False)}))
    scripted.play()
    scripted.call(P300, name="load")
    scripted.call(c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", 14.22))
    scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    scripted.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
    return scripted


def test_a_tip_holding_liquid_caught_between_wells_by_the_door_is_not_said_over_its_well(
        ) -> None:
    """The door opens while a tip holding liquid travels to the next well: nothing moves
    behind it, so the tip stays where it stopped, between the wells, and the record (and
    with it the terminal) must not say it waits over the well it drew from."""
    scripted = holding_liquid_in_a1()
    try:
        scripted.clock.call_at(scripted.clock.now() + 0.4,
                               lambda: scripted.control.set_interlock("door", True))
        scripted.call(c.MoveTo("left", (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2])))
        status = scripted.settle()
        assert status.status is Status.PAUSED and status.pause_source == "interlock"
        park = [e for e in scripted.events() if e["event"] == "park"][-1]
        assert park["kept_xy"] is True and "over_last_well" not in park
        assert park["parked"] == pytest.approx(park["recorded"])  # nothing moved
        assert 200.0 < park["recorded"]["X"] < 346.88 + 34.0 - 10.0  # between the wells
        # said: it stands where it stopped (low over the deck), not parked clear of it
        assert park["stopped_by"] == ["door"]
        assert status.held_in_place and status.held_over_well and status.parked
    finally:
        scripted.close()


def test_a_door_that_cuts_off_the_way_back_over_the_well_leaves_the_tip_where_it_stopped(
        ) -> None:
    """A pause catches a tip holding liquid between wells, and the door opens while it
    goes back over the well it drew from: it stops there, and the run goes on once the
    door closes and it is resumed (the park said where the door stopped it)."""
    scripted = holding_liquid_in_a1()
    try:
        now = scripted.clock.now()
        scripted.clock.call_at(now + 0.4, lambda: scripted.engine.apply(Pause(option="immediate")))
        scripted.clock.call_at(now + 0.45, lambda: scripted.control.set_interlock("door", True))
        outcome = scripted.call(c.MoveTo("left", (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2])))
        status = scripted.settle()
        assert status.status is Status.PAUSED, status
        park = [e for e in scripted.events() if e["event"] == "park"][-1]
        assert park["stopped_by"] == ["door"] and "over_last_well" not in park
        assert status.held_in_place
        scripted.control.set_interlock("door", False)
        assert scripted.settle().held_in_place  # closed: it still stands where it stopped
        scripted.control.resume()
        status = scripted.settle()
        assert outcome.done.is_set() and outcome.error is None
        assert not status.held_in_place
    finally:
        scripted.close()


@pytest.mark.parametrize("right_keeps", [False, True])
def test_each_tip_waits_over_its_own_well_and_two_holding_liquid_stay_where_they_stopped(
        run: ScriptedRun, right_keeps: bool) -> None:
    """The left tip holds liquid from A1 when the right pipette works at H12 and is cut
    off between wells: the gantry goes back over A1 for the left tip, not over H12 (the
    right's last well, which the left never touched). With liquid in both tips, from
    two wells, it cannot be over both: it stays where it stopped."""
    run.call(RIGHT, name="load")
    run.call(c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", 14.22))
    run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
    run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
    left_source = (run.controller.position["X"], run.controller.position["Y"])
    run.call(c.PickUpTip("right", (TIP_TOP[0] + 9, TIP_TOP[1], TIP_TOP[2]), "1/A2", 51.0))
    far = (WELL[0] + 9 * 11, WELL[1] - 9 * 7, WELL[2])
    run.call(c.MoveTo("right", far, well="2/H12"), c.Aspirate("right", 20.0, 50.0, "2/H12"))
    if not right_keeps:
        run.call(c.Dispense("right", 20.0, 50.0, "2/H12"))
    run.clock.call_at(run.clock.now() + 0.4,
                      lambda: run.engine.apply(Pause(option="immediate")))
    run.call(c.MoveTo("right", (WELL[0] + 200.0, WELL[1] + 150.0, WELL[2])))
    assert run.settle().status is Status.PAUSED
    park = [e for e in run.events() if e["event"] == "park"][-1]
    parked = run.controller.position
    assert park["kept_xy"] is True
    if right_keeps:
        assert "over_last_well" not in park
        assert (parked["X"], parked["Y"]) == pytest.approx(
            (park["recorded"]["X"], park["recorded"]["Y"]))
    else:
        assert park["over_last_well"] is True
        assert (parked["X"], parked["Y"]) == pytest.approx(left_source)


def test_a_pause_during_unparking_parks_again_and_keeps_the_first_position(
        run: ScriptedRun) -> None:
    run.call(c.MoveTo("left", (100.0, 100.0, 60.0)))
    recorded = dict(run.controller.position)
    outcome = run.call(c.WaitForResume("first"), name="pause")
    # Unparking takes a second or so of virtual time: pause again half-way through it.
    run.clock.call_at(run.clock.now() + 0.3,
                      lambda: run.engine.apply(Pause(option="immediate")))
    run.control.resume()
    status = run.settle()
    assert status.status is Status.PAUSED and not outcome.done.is_set()
    unparks = [e for e in run.events() if e["event"] == "unpark"]
    assert unparks[-1].get("interrupted") is True
    parks = [e for e in run.events() if e["event"] == "park"]
    assert len(parks) == 2 and parks[1]["recorded"] == parks[0]["recorded"]
    run.control.resume()
    run.settle()
    assert outcome.done.is_set()
    # Back over the first position; at a checkpoint the tip waits at the safe height
    # until a command acts there.
    here = run.controller.position
    assert {a: here[a] for a in ("X", "Y")} == pytest.approx(
        {a: recorded[a] for a in ("X", "Y")}, abs=0.01)
    assert here["Z"] == pytest.approx(run.config.safe_height)


def test_nothing_moves_while_paused_even_when_time_passes(run: ScriptedRun) -> None:
    run.call(c.WaitForResume("wait"), name="pause")
    before = dict(run.controller.position)
    run.clock.call_at(run.clock.now() + 3600, lambda: None)  # an hour passes while paused
    run.control.skip_delay()  # refused: no delay; nothing changes
    run.settle()
    assert run.controller.position == before and not run.controller.moving


def test_an_interlock_set_to_auto_resume_resumes_once_clear() -> None:
    config = replace(default_config(), interlocks={"door": InterlockConfig(True)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.control.set_interlock("door", True)
        scripted.settle()
        assert scripted.status().status is Status.PAUSED
        assert scripted.status().pause_source == "interlock"
        assert scripted.status().resumes_when_clear  # (the page says so)
        scripted.control.set_interlock("door", False)
        status = scripted.settle()
        assert status.status is Status.RUNNING and not status.parked
        actions = [e for e in scripted.events() if e["event"] == "action"]
        assert actions[-1]["action"] == "resume" and actions[-1]["source"] == "interlock"
    finally:
        scripted.close()


def test_a_client_pause_is_not_resumed_by_a_door_closing() -> None:
    config = replace(default_config(), interlocks={"door": InterlockConfig(True)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.control.pause("immediate")
        scripted.settle()
        scripted.control.set_interlock("door", True)
        scripted.settle()
        assert not scripted.status().resumes_when_clear  # the person's pause holds it
        assert not scripted.status().held_in_place  # parked clear before the door opened
        assert not scripted.control.resume().accepted  # the door is open
        scripted.control.set_interlock("door", False)
        status = scripted.settle()
        assert status.status is Status.PAUSED and status.pause_source == "client"
    finally:
        scripted.close()


def test_a_person_pause_as_the_door_closes_is_not_ended_by_its_resume() -> None:
    # The door closes and a person pauses in the same turn of the loop, before the
    # door's own resume: the person's pause holds the run; nothing moves.
    config = replace(default_config(), interlocks={"door": InterlockConfig(True)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.control.set_interlock("door", True)
        assert scripted.settle().status is Status.PAUSED
        controller = scripted.run.controller
        assert isinstance(controller, SimulatedController)
        replies = []

        def close_and_pause() -> None:
            controller.set_interlock("door", False)
            replies.append(scripted.engine.apply(Pause(source="remote", message="wait")))

        scripted.run.call(close_and_pause)
        status = scripted.settle()
        assert replies[0].accepted
        assert (status.status, status.pause_source, status.pause_from) == (
            Status.PAUSED, "client", "remote")
        assert not status.pause_pending and status.parked
        events = [e.get("action") or e.get("status") for e in scripted.events()
                  if e["event"] in ("action", "status")]
        assert "resume" not in events and events[-3:] == ["paused", "pause", "paused"], events
        held = [e for e in scripted.events() if e["event"] == "status"][-1]
        assert (held["pause_source"], held["pause_from"]) == ("client", "remote")
    finally:
        scripted.close()


def test_a_pause_asked_while_the_door_holds_the_run_holds_it_once_the_door_closes() -> None:
    # The door's own pause ends when it closes; a pause someone asked for does not.
    config = replace(default_config(), interlocks={"door": InterlockConfig(True)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.control.set_interlock("door", True)
        scripted.settle()
        assert scripted.control.pause(message="swap plate").accepted
        status = scripted.settle()
        assert status.status is Status.PAUSED and status.pause_source == "interlock"
        assert status.pause_pending
        scripted.control.set_interlock("door", False)
        status = scripted.settle()
        assert status.status is Status.PAUSED, status
        assert (status.pause_source, status.pause_message) == ("client", "swap plate")
        assert not status.pause_pending
        resumes = [e for e in scripted.events() if e["event"] == "action"
                   and e["action"] == "resume"]
        assert resumes == []
        assert scripted.control.resume().accepted
        status = scripted.settle()
        assert status.status is Status.RUNNING and not status.pause_pending
    finally:
        scripted.close()


A2, A3 = (WELL[0] + 9.0, WELL[1], WELL[2]), (WELL[0] + 18.0, WELL[1], WELL[2])


@pytest.mark.parametrize("auto_resume", [True, False], ids=["door resumes", "person resumes"])
def test_a_deferred_pause_asked_before_the_door_opened_waits_for_the_next_checkpoint(
        auto_resume: bool) -> None:
    # Found by a red-team: a deferred pause ("swap plate") pending when the door opened
    # mid-step held the run, as that person's pause, once the door closed: paused in the
    # middle of the step, 50 µL still in the tip for A3. The person, told their pause had
    # come, swapped the plate, and the step went on into the new one. A deferred pause
    # is taken between steps, door or no door.
    config = replace(default_config(), interlocks={"door": InterlockConfig(auto_resume)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        now = scripted.clock.now()
        scripted.clock.call_at(now + 0.2,
                               lambda: scripted.engine.apply(Pause(message="swap plate")))
        scripted.clock.call_at(now + 0.3, lambda: scripted.control.set_interlock("door", True))
        scripted.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 100.0, 50.0, "2/A1"),
                      c.MoveTo("left", A2, well="2/A2"), c.Dispense("left", 50.0, 50.0, "2/A2"),
                      c.MoveTo("left", A3, well="2/A3"), c.Dispense("left", 50.0, 50.0, "2/A3"),
                      name="transfer", wait=False)
        status = scripted.settle()
        assert status.status is Status.PAUSED and status.pause_source == "interlock"
        assert status.pause_pending
        assert status.resumes_when_clear is auto_resume  # (the page says so)
        scripted.control.set_interlock("door", False)
        status = scripted.settle()
        if not auto_resume:  # the door's pause, until someone resumes it
            assert (status.status, status.pause_source) == (Status.PAUSED, "interlock")
            assert scripted.control.resume().accepted
            status = scripted.settle()
        assert status.status is Status.RUNNING and status.pause_pending  # the step goes on
        scripted.call(c.MoveTo("left", WELL, well="2/A1"), name="next", wait=False)
        status = scripted.settle()
        assert (status.status, status.pause_source, status.pause_message) == (
            Status.PAUSED, "client", "swap plate")
        events = scripted.events()
        paused = next(i for i, e in enumerate(events) if e["event"] == "status"
                      and e["status"] == "paused" and e.get("pause_source") == "client")
        queued = {e["id"]: e for e in events if e["event"] == "command"
                  and e["status"] == "queued"}
        done = [queued[e["id"]]["params"]["well"] for e in events[:paused]
                if e["event"] == "command" and e["status"] == "completed"
                and queued[e["id"]]["type"] == "dispense"]
        assert done == ["2/A2", "2/A3"]  # the whole step before the person's pause
        assert scripted.run.engine.model.pipettes["left"].volume == 0.0
        assert scripted.control.resume().accepted
        assert scripted.settle().status is Status.RUNNING
    finally:
        scripted.close()


def unparking(cap: float | None) -> tuple[float, float]:
    """A move down into A1 cut off by an immediate pause 2 mm above its end, then resumed,
    with ``max_speeds`` capping Z at ``cap`` mm/s (None: no cap): the seconds the unparking
    took, and how far it lowered Z back (from the safe height to where it stopped)."""
    scripted = ScriptedRun()
    try:
        scripted.play()
        scripted.call(P300)
        scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        if cap is not None:
            scripted.call(c.SetMaxSpeeds((("Z", cap),)))
        above = (WELL[0], WELL[1], WELL[2] + 60.0)
        scripted.call(c.MoveTo("left", above, well="2/A1"))
        scripted.call(c.MoveTo("left", WELL, well="2/A1"), wait=False)
        descent = 60.0 / (cap or scripted.config.axes["Z"].max_speed)
        scripted.clock.call_at(scripted.clock.now() + descent * (58 / 60),
                               lambda: scripted.engine.apply(Pause(option="immediate")))
        scripted.settle()
        assert scripted.status().status is Status.PAUSED
        stopped = scripted.controller.position["Z"]
        assert scripted.control.resume().accepted
        scripted.settle()
        events = scripted.events()
    finally:
        scripted.close()
    resumed = [e for e in events if e["event"] == "status" and e["status"] == "running"][-1]
    unpark = next(e for e in events if e["event"] == "unpark")
    recorded = float(unpark["recorded"]["Z"])  # type: ignore[index]
    assert stopped == pytest.approx(scripted.config.safe_height)  # parked up there
    return float(unpark["t"]) - float(resumed["t"]), stopped - recorded  # type: ignore[arg-type]


def test_unparking_keeps_to_the_protocols_max_speeds() -> None:
    # The unparking takes the tips back to work, into the well: as every move of the run
    # after a max_speeds, no faster than its caps (the parking, getting clear, is not).
    took, lowered = unparking(5.0)
    assert lowered > 50  # back down from the safe height
    assert took >= lowered / 5.0
    assert unparking(None)[0] < lowered / 5.0 / 4


def test_a_pause_asked_again_while_the_door_holds_the_run_holds_it_once_the_door_closes() -> None:
    # A deferred pause pending from before the door waits for the next checkpoint; a
    # pause asked for while the door holds the run holds it where it is, as that person's.
    config = replace(default_config(), interlocks={"door": InterlockConfig(True)})
    scripted = ScriptedRun(config)
    try:
        scripted.play()
        scripted.call(P300)
        now = scripted.clock.now()
        scripted.clock.call_at(now + 0.2,
                               lambda: scripted.engine.apply(Pause(message="swap plate")))
        scripted.clock.call_at(now + 0.3, lambda: scripted.control.set_interlock("door", True))
        outcome = scripted.call(c.MoveTo("left", (300.0, 300.0, 60.0)), name="move", wait=False)
        assert scripted.settle().resumes_when_clear
        assert scripted.control.pause(message="hold it", source="remote").accepted
        status = scripted.settle()
        assert status.pause_pending and not status.resumes_when_clear
        scripted.control.set_interlock("door", False)
        status = scripted.settle()
        assert (status.status, status.pause_source, status.pause_message, status.pause_from) == (
            Status.PAUSED, "client", "hold it", "remote")
        assert not status.pause_pending and not outcome.done.is_set()
        assert scripted.control.resume().accepted
        status = scripted.settle()
        assert status.status is Status.RUNNING and not status.pause_pending
        assert outcome.done.is_set()
    finally:
        scripted.close()
