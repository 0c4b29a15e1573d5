"""Scenarios a second hand mutation of the engine's pause, ending, module and delay code
(``engine/pausing.py``, ``ending.py``, ``modules.py``, ``waits.py``) showed no engine test
caught: each fails when its mutation is put back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import P300, TIP_TOP, WELL, ScriptedRun, traced_run

from engine import commands as c
from engine.actions import Abort, Halt, Pause, SkipDelay
from engine.state import Status
from hardware.clock import Clock
from hardware.config import ModuleConfig, default_config
from hardware.controller import FaultListener, HardwareFault
from hardware.frozen import replace
from hardware.modules.simulated import SimulatedHeaterShaker, SimulatedTemperatureModule


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


HS = c.LoadModule("heaterShakerModuleV1@10", "heater_shaker", "heaterShakerModuleV1", "10",
                  82.0)
TC = c.LoadModule("thermocyclerModuleV1@7", "thermocycler", "thermocyclerModuleV1", "7",
                  135.5, ("8", "10", "11"))


def test_a_shaker_the_park_stops_is_recorded_with_the_speed_it_was_set_to() -> None:
    """A protocol pause while the heater-shaker spins: its ``module_park`` line says it
    was stopped, and at what speed it had been set to (the run log tells the user so);
    its ``module_unpark`` line that it is back at speed."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300, HS, name="load")
        run.call(c.LoadLabware("opentrons_96_flat_bottom_adapter_nest_wellplate_200ul_flat",
                               "10", "plate", 100.0))
        run.call(c.CloseLabwareLatch(HS.module), c.SetAndWaitForShakeSpeed(HS.module, 500.0),
                 name="shake")
        run.call(c.WaitForResume("check"), name="pause", wait=False)
        assert run.settle().status is Status.PAUSED
        [park] = [e for e in run.events() if e["event"] == "module_park"]
        assert park["module"] == HS.module and park["stopped_rpm"] == 500.0
        assert not park["status"].get("rpm")
        # Resumed: back at speed before the run goes on, as its module_unpark line says.
        assert run.control.resume().accepted
        assert run.settle().status is Status.RUNNING
        [unpark] = [e for e in run.events() if e["event"] == "module_unpark"]
        assert unpark["module"] == HS.module and unpark["status"]["rpm"] == 500.0
        run.finish()
        [module] = run.events()[-1]["modules"]
        assert module["labware"] == "plate"  # the summary says what stood on it
    finally:
        run.close()


def shake_then_halt(run: ScriptedRun, *, paused_first: bool = False) -> Status:
    """Load the heater-shaker in slot 10, with its heater set to 37 °C, shake it at 2000
    rpm, then halt the run 5 s into a delay (``paused_first``: while the run is paused);
    the run's final status."""
    run.play()
    run.call(P300, HS, name="load")
    run.call(c.CloseLabwareLatch(HS.module), c.SetTargetTemperature(HS.module, 37.0),
             c.SetAndWaitForShakeSpeed(HS.module, 2000.0), name="shake")
    if paused_first:
        run.call(c.WaitForResume("check"), name="pause", wait=False)
        assert run.settle().status is Status.PAUSED
        assert run.control.halt().accepted
    else:
        run.clock.call_at(run.clock.now() + 5.0, lambda: run.engine.apply(Halt()))
        run.call(c.Delay(600.0), name="delay", wait=False)
    return run.run.wait(5).status


def test_a_halt_stops_a_shaking_plate_once_the_emergency_stop_has_gone_out() -> None:
    """A halt while the heater-shaker shakes at 2000 rpm: the run ends halted with the
    plate still, its ``module_halt`` line (after the emergency stop's) saying it was
    stopped from 2000 rpm; the heater keeps its target, as the emergency stop leaves it."""
    run = ScriptedRun()
    try:
        assert shake_then_halt(run) is Status.HALTED
        events = run.events()
        order = [e["event"] for e in events if e["event"] in ("emergency_stop", "module_halt")]
        assert order == ["emergency_stop", "module_halt"]
        [halt] = [e for e in events if e["event"] == "module_halt"]
        assert halt["module"] == HS.module and halt["stopped_rpm"] == 2000.0
        assert halt["status"]["rpm"] == 0 and halt["status"]["target"] == 37.0
        [module] = events[-1]["modules"]
        assert module["status"]["rpm"] == 0 and module["status"]["target_rpm"] == 0
        assert module["status"]["target"] == 37.0
        assert not [e for e in events if e["event"] in ("module_deactivate", "failure")]
    finally:
        run.close()


def test_a_halt_while_paused_has_no_shaker_left_to_stop() -> None:
    """The pause stopped the plate already: the halt says nothing of it (its module_halt
    line is only for a plate it stopped), and the plate stays still."""
    run = ScriptedRun()
    try:
        assert shake_then_halt(run, paused_first=True) is Status.HALTED
        events = run.events()
        assert [e for e in events if e["event"] == "module_halt"] == []
        assert events[-1]["modules"][0]["status"]["rpm"] == 0
    finally:
        run.close()


class StuckHeaterShaker(SimulatedHeaterShaker):
    """A heater-shaker that does not answer once the run has halted."""

    def __init__(self, clock: Clock) -> None:
        super().__init__("hs", clock, model="heaterShakerModuleV1")

    async def stop_moving(self) -> dict[str, Any]:
        raise HardwareFault("the heater-shaker does not answer")


def test_a_heater_shaker_that_fails_to_stop_at_a_halt_still_ends_the_run_halted() -> None:
    """The module fails as the halt stops it: the fault is recorded against the module,
    and the run still ends halted, the emergency stop confirmed."""
    run = ScriptedRun()
    try:
        run.run.call(lambda: run.engine.modules.devices.update(hs=StuckHeaterShaker(run.clock)))
        assert shake_then_halt(run) is Status.HALTED
        events = run.events()
        failures = [(e["error"], e["location"], e["at_module"]) for e in events
                    if e["event"] == "failure"]
        assert failures == [("the module loaded in slot 10 could not be stopped at the run's "
                             "halt: the heater-shaker does not answer", HS.module,
                             "could not be stopped at the run's halt: the heater-shaker does "
                             "not answer")]
        assert [e["confirmed"] for e in events if e["event"] == "emergency_stop"] == [True]
        assert [e for e in events if e["event"] == "module_halt"] == []
        assert run.run.wait(5).outcome is not None and run.run.wait(5).outcome.reason is None
    finally:
        run.close()


def test_a_profile_paused_part_way_is_on_its_modules_timeline_once() -> None:
    """A pause during a thermocycler profile, then a resume: the profile is waited for
    again, but the summary's timeline of targets lists it once, as the protocol gave it."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300, TC, name="load")
        run.clock.call_at(run.clock.now() + 60.0, lambda: run.engine.apply(Pause()))
        outcome = run.call(c.RunProfile(TC.module, ((95.0, 30.0), (60.0, 30.0)), 2, 20.0),
                           name="profile")
        assert run.status().status is Status.PAUSED and not outcome.done.is_set()
        assert run.control.resume().accepted
        run.settle()
        assert outcome.done.is_set() and outcome.error is None
        run.finish()
        [module] = run.events()[-1]["modules"]
        assert [entry["call"] for entry in module["timeline"]] == ["execute_profile"]
    finally:
        run.close()


HELD_NEAR_A_RACK_MOVED_IN = '''
from opentrons.protocol_api import OFF_DECK
from opentrons.types import Point
metadata = {"apiLevel": "2.16"}

def run(ctx):
    tips20 = ctx.load_labware("opentrons_96_tiprack_20ul", 7)
    rack = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", OFF_DECK)
    left = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips20])
    left.pick_up_tip()
    left.move_to(ctx.deck.position_for(4).move(%s))
    ctx.move_labware(rack, %d)  # by hand: the park lifts the tip, a 124 mm rack goes in
    left.prepare_to_aspirate()  # in place
    left.drop_tip()
'''
"""A tip held low near slot 4 (its end 30 mm above the deck, where the park lifts it),
a 124.35 mm tube rack put by hand into a slot, then a step in place. Slot 4 is 127.76 mm
wide; slot 5, beyond the gap, stays empty."""


def held_tip_ends(protocol: Path) -> list[float]:
    """Simulate ``protocol`` (one pipette, on the left); where the end of its tip was at
    each motion after the move of labware by hand, up to the first that moves the gantry
    (the in-place step's lowering)."""
    run, trace = traced_run(protocol)
    record = [event for kind, event, _ in trace if kind == "event"]
    moved = next(e["id"] for e in record if e["event"] == "command"
                 and e.get("type") == "moveLabware")
    done = next(i for i, (kind, event, _) in enumerate(trace) if kind == "event"
                and event["event"] == "command" and event["id"] == moved
                and event["status"] == "completed")
    left = run.config.mounts["left"]
    tip_length = next(e["params"]["tip_length"] for e in record if e["event"] == "command"
                      and e.get("type") == "pickUpTip")
    ends = []
    for kind, start, end in trace[done:]:
        if kind == "move":
            if (start["X"], start["Y"]) != (end["X"], end["Y"]):
                break  # on its way to the trash
            ends.append(end[left.z_axis] + left.offset[2] - tip_length)
    return ends


def test_a_held_tip_within_the_clearance_of_a_labware_moved_in_stays_above_it(
        tmp_path: Path) -> None:
    """A tip held 2 mm beside a labware put in by hand (within the 3 mm the play of a
    hand placement takes) counts as over it: the step in place lowers it no further than
    1 mm above that labware's top."""
    protocol = tmp_path / "beside.py"
    protocol.write_text(HELD_NEAR_A_RACK_MOVED_IN % ("Point(129.76, 43.24, 30)", 4))
    ends = held_tip_ends(protocol)
    assert ends and min(ends) >= 124.35 + 1.0 - 1e-6  # the tube rack's top, and 1 mm


def test_a_held_tip_goes_back_down_when_the_labware_moved_in_stands_behind_it(
        tmp_path: Path) -> None:
    """A tube rack put by hand into slot 10, behind the tip held low over slot 4: no
    nozzle is over it, so the step in place lowers the tip back to where it paused."""
    protocol = tmp_path / "behind.py"
    protocol.write_text(HELD_NEAR_A_RACK_MOVED_IN % ("Point(113.88, 43.24, 30)", 10))
    ends = held_tip_ends(protocol)
    assert ends and min(ends) == pytest.approx(30.0, abs=0.01)


def test_each_simulated_module_switches_its_heater_off_as_its_own_robot_file_module_says(
        ) -> None:
    """A robot file with two temperature modules, only the second switching its heater
    off at a stop: simulated, the second module loaded stands for it, and only its heater
    is off after the stop."""
    config = replace(default_config(), modules={
        "cold": ModuleConfig("temperature"),
        "warm": ModuleConfig("temperature", heaters_off_on_stop=True)})
    run = ScriptedRun(config)
    try:
        run.play()
        run.call(P300, c.LoadModule("first", "temperature", "temperatureModuleV2", "3", 84.0),
                 c.LoadModule("second", "temperature", "temperatureModuleV2", "1", 84.0),
                 name="load")
        run.call(c.SetTargetTemperature("first", 4.0), c.SetTargetTemperature("second", 4.0))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        targets = {e["module"]: e["status"]["target"] for e in run.events()
                   if e["event"] == "module_deactivate"}
        assert targets == {"first": 4.0, "second": None}
    finally:
        run.close()


class FaultyTemperatureModule(SimulatedTemperatureModule):
    """A temperature module whose faults the test raises: one it meets on its own (its
    cable pulled, ``meet``), and one when it is deactivated (``fails_to_deactivate``)."""

    def __init__(self, clock: Clock, *, fails_to_deactivate: bool = False) -> None:
        super().__init__("temp", clock, model="temperatureModuleV2")
        self.listener: FaultListener | None = None
        self.fails_to_deactivate = fails_to_deactivate

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        self.listener = listener

    def meet(self, fault: HardwareFault) -> None:
        assert self.listener is not None, "nobody listens to the module"
        self.listener(fault)

    async def deactivate(self) -> None:
        if self.fails_to_deactivate:
            raise HardwareFault("the module does not answer")
        await super().deactivate()


def run_with(device: FaultyTemperatureModule, run: ScriptedRun) -> None:
    """Play ``run`` with ``device`` the robot's temperature module, loaded in slot 3."""
    run.play()
    run.run.call(lambda: run.engine.modules.devices.update(temp=device))
    run.call(P300, c.LoadModule("temp", "temperature", "temperatureModuleV2", "3", 84.0),
             name="load")


def test_a_fault_a_module_meets_while_the_run_is_paused_fails_the_run_naming_its_slot(
        ) -> None:
    """A module's cable is pulled while the run waits for a resume: the run fails now,
    and its error names the slot the protocol loaded the module in."""
    run = ScriptedRun()
    try:
        device = FaultyTemperatureModule(run.clock)
        run_with(device, run)
        run.call(c.WaitForResume("check"), name="pause", wait=False)
        assert run.settle().status is Status.PAUSED
        run.run.call(lambda: device.meet(HardwareFault("its cable was pulled")))
        final = run.run.wait(5)
        assert final.status is Status.FAILED and final.outcome is not None
        assert final.outcome.error is not None
        assert "its cable was pulled (the module loaded in slot 3)" in final.outcome.error
    finally:
        run.close()


def test_a_module_that_fails_to_deactivate_does_not_fail_a_stop() -> None:
    """A stop whose cleanup cannot deactivate a module: the fault is recorded against that
    module, the rest of the cleanup still runs, and the run ends stopped."""
    run = ScriptedRun()
    try:
        run_with(FaultyTemperatureModule(run.clock, fails_to_deactivate=True), run)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        failures = [(e["error"], e["location"], e["at_module"]) for e in run.events()
                    if e["event"] == "failure"]
        assert failures == [("the module loaded in slot 3 could not be made safe at the "
                             "run's stop: the module does not answer", "temp",
                             "could not be made safe at the run's stop: the module does not "
                             "answer")]
        assert [e["type"] for e in run.events() if e.get("origin") == "cleanup"
                and e["status"] == "queued"] == ["dropTip"]
    finally:
        run.close()


def test_a_tip_holding_liquid_left_down_in_another_well_waits_there_at_a_pause() -> None:
    """A tip that drew from A1 and was then lowered into A3 (no liquid moved there) when
    the protocol pauses: the robot lifts it and waits over A3, where it stood, not over
    A1 (it is not caught between wells)."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300, name="load")
        run.call(c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", 14.22))
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
        run.call(c.MoveTo("left", (WELL[0] + 18.0, WELL[1], WELL[2]), well="2/A3"))
        run.call(c.WaitForResume("check"), name="pause", wait=False)
        assert run.settle().status is Status.PAUSED
        [park] = [e for e in run.events() if e["event"] == "park"]
        assert park["kept_xy"] is True and "over_last_well" not in park
        assert (park["parked"]["X"], park["parked"]["Y"]) == pytest.approx(
            (park["recorded"]["X"], park["recorded"]["Y"]))
    finally:
        run.close()


def test_a_stop_with_the_door_open_moves_nothing_and_leaves_the_tip_on() -> None:
    """The door is open (the run paused by it) when the run is stopped: the cleanup is
    skipped, as the record says, so nothing moves and the tip stays on."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.control.set_interlock("door", True)
        assert run.settle().status is Status.PAUSED
        here = dict(run.controller.position)
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        assert run.controller.position == pytest.approx(here)
        assert [(e["reason"], e["interlocks"]) for e in run.events()
                if e["event"] == "cleanup"] == [("an interlock holds motion", ["door"])]
        assert [e for e in run.events() if e.get("origin") == "cleanup"] == []
        assert run.engine.model.tips_attached() == ["left"]
        assert run.events()[-1]["cleanup_skipped"] == "the door held motion"
    finally:
        run.close()


def test_a_robot_without_a_module_of_the_kind_loaded_fails_the_run_at_the_load() -> None:
    """On a robot (no module simulated for it) a load_module of a kind the robot has none
    of fails the run, saying how to name one in the robot file."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.run.call(lambda: setattr(run.engine.modules, "simulate", False))
        run.call(c.LoadModule("temp", "temperature", "temperatureModuleV2", "3", 84.0))
        final = run.run.wait(5)
        assert final.status is Status.FAILED and final.outcome is not None
        assert final.outcome.error is not None and final.outcome.error.startswith(
            "load_module: this robot has no free temperature module")
        assert run.engine.modules.loaded == {}
    finally:
        run.close()


def test_a_robot_lost_as_a_delay_begins_fails_the_run_then_not_at_the_deadline() -> None:
    """The robot's connection is lost just as a delay begins (the engine busy, not yet
    sleeping): the run fails then, as the record says, not after the hour it was to
    wait."""
    run = ScriptedRun()
    try:
        run.play()
        lost: list[float] = []

        def watch(event: dict[str, Any]) -> None:
            if (event["event"] == "command" and event.get("status") == "started"
                    and event["id"] in command_ids(run, "delay") and not lost):
                lost.append(run.clock.now())
                run.controller.lose_connection()

        run.run.call(lambda: run.engine.record.subscribe(watch))
        outcome = run.call(c.Delay(3600.0), name="incubate")
        final = run.run.wait(5)
        assert final.status is Status.FAILED and final.outcome is not None
        assert "the connection to the robot was lost" in str(final.outcome.error)
        [failure] = [e for e in run.events() if e["event"] == "failure"
                     and e["location"] is None]
        assert lost and failure["t"] == pytest.approx(lost[0], abs=1e-3)  # not an hour on
        assert outcome.done.is_set() and outcome.error is not None
    finally:
        run.close()


def test_a_delay_skipped_after_its_deadline_passed_in_a_pause_had_nothing_left() -> None:
    """A pause outlasts what a delay had left, then the delay is skipped: the record says
    it had nothing left, never a negative time."""
    run = ScriptedRun()
    try:
        run.play()
        t0 = run.clock.now()
        run.clock.call_at(t0 + 10.0, lambda: run.engine.apply(Pause()))
        run.clock.call_at(t0 + 100.0, lambda: run.engine.apply(SkipDelay()))
        outcome = run.call(c.Delay(60.0), name="delay")
        status = run.settle()
        assert status.status is Status.PAUSED and run.clock.now() >= t0 + 100.0
        assert status.delay is not None and status.delay.skipped
        assert run.control.resume().accepted
        run.settle()
        assert outcome.done.is_set()
        assert [(e["status"], e["remaining"]) for e in run.events()
                if e["event"] == "delay"] == [("skipped", 0.0)]
    finally:
        run.close()


def test_a_stops_cleanup_drops_the_tip_with_the_plungers_run_current() -> None:
    """A stop while parked (the plunger motors at their low holding current): the
    cleanup gives them their run current again before it drops the tip into the trash."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.WaitForResume("check"), name="pause", wait=False)
        assert run.settle().status is Status.PAUSED
        plungers = run.config.plunger_axes
        idle = {axis: run.config.axes[axis].idle_current for axis in plungers}
        assert {axis: run.controller.currents[axis] for axis in plungers} == idle
        at_drop: list[dict[str, float]] = []

        def watch(event: dict[str, Any]) -> None:
            if event.get("origin") == "cleanup" and event.get("status") == "queued":
                at_drop.append({axis: run.controller.currents[axis] for axis in plungers})

        run.run.call(lambda: run.engine.record.subscribe(watch))
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        assert at_drop == [{axis: run.config.axes[axis].run_current for axis in plungers}]
    finally:
        run.close()


def z_targets(run: ScriptedRun, while_ending: list[dict[str, float]]) -> None:
    """Keep in ``while_ending`` the Z heights of each move ``run`` makes once it ends."""
    plain = run.controller.move
    z_axes = run.config.z_axes

    async def move(target: dict[str, float], speed: float | None = None) -> None:
        if run.engine.state.finishing or run.engine.state.ending is not None:
            while_ending.append({axis: target[axis] for axis in z_axes if axis in target})
        await plain(target, speed)

    run.controller.move = move  # type: ignore[method-assign,assignment]


def test_the_closing_lift_leaves_a_z_axis_above_the_safe_height_where_it_is() -> None:
    """The protocol returns with both Z axes at their home, above the safe height: the
    closing lift lifts, it never lowers, so nothing moves."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        here = dict(run.controller.position)
        assert min(here[axis] for axis in run.config.z_axes) > run.config.safe_height
        moves: list[dict[str, float]] = []
        z_targets(run, moves)
        run.finish()
        assert run.status().status is Status.SUCCEEDED
        assert moves == [] and run.controller.position == pytest.approx(here)
    finally:
        run.close()


def test_a_stops_cleanup_never_lowers_a_z_axis_above_the_safe_height_to_it() -> None:
    """A stop with both Z axes at their home, above the safe height, and no tip on: the
    cleanup's lift lowers neither before it homes."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300)
        here = dict(run.controller.position)
        moves: list[dict[str, float]] = []
        z_targets(run, moves)
        assert run.control.stop().accepted
        assert run.run.wait(5).status is Status.STOPPED
        assert all(target[axis] >= here[axis] - 1e-9 for target in moves for axis in target)
    finally:
        run.close()


def test_a_succeeded_run_takes_axes_without_a_homing_switch_back_home_z_first() -> None:
    """Z and plunger axes without a homing switch (``homing = "none"``): a run that
    succeeds takes them back to their home point, the Z axes first, so that the next
    connection, which takes wherever they stand as home, finds them there."""
    base = default_config()
    switchless = ("Z", "A", "B", "C")
    config = replace(base, axes={name: replace(axis, homing="none") if name in switchless
                                 else axis for name, axis in base.axes.items()})
    run = ScriptedRun(config)
    try:
        run.play()
        run.call(P300)
        run.call(c.PickUpTip("left", TIP_TOP, "1/A1", 51.0))
        run.call(c.MoveTo("left", WELL, well="2/A1"), c.Aspirate("left", 50.0, 50.0, "2/A1"))
        homes: list[tuple[str, ...]] = []
        plain = run.controller.home

        async def home(axes: Sequence[str] | None = None) -> dict[str, float]:
            homes.append(tuple(axes or ()))
            return await plain(axes)

        run.controller.home = home  # type: ignore[method-assign]
        run.finish()
        assert run.status().status is Status.SUCCEEDED
        assert homes == [("Z", "A"), ("B", "C")]
        assert {axis: run.controller.position[axis] for axis in switchless} == pytest.approx(
            {axis: config.axes[axis].home for axis in switchless})
    finally:
        run.close()


def test_a_module_bound_in_place_of_the_model_asked_for_is_reported_as_attached() -> None:
    """The protocol asks for a Temperature Module GEN2 and the robot has a GEN1, which
    Opentrons takes in its place: the load's result and the summary name the GEN1, the
    module the run actually drove."""
    run = ScriptedRun()
    try:
        run.play()
        gen1 = SimulatedTemperatureModule("temp", run.clock, model="temperatureModuleV1")
        run.run.call(lambda: run.engine.modules.devices.update(temp=gen1))
        loaded = run.call(P300, c.LoadModule("temp", "temperature", "temperatureModuleV2", "3",
                                             84.0), name="load")
        assert loaded.error is None and loaded.result is not None
        assert loaded.result["model"] == "temperatureModuleV1"
        run.finish()
        [module] = run.events()[-1]["modules"]
        assert (module["model"], module["device"]) == ("temperatureModuleV1", "temp")
    finally:
        run.close()
