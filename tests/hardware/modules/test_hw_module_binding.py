"""The engine and the robot's modules, as ``labrun run --emulate`` drives them (the emulated
G-code robot, the modules' twins on pseudo-terminals, the serial drivers): a
``load_module`` is bound only to the model it asks for or one Opentrons takes in its
place; a halt abandons a running profile and stops a shaking plate once the emergency
stop has gone out; a module that fails while the run waits fails the run at once."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from emulated_runs import WAIT_S, emulated_run, wait_until

from engine.run import Run
from engine.state import Status
from hardware.emulator.modules import HeaterShakerFirmware, ModuleTwins
from hardware.emulator.modules.base import Refused, code_of
from hardware.robot import Robot
from protocol_api.execute import open_context

SPEED = 50.0


@contextmanager
def robot_run(tmp_path: Path, body: str, api: str = "2.15") -> Iterator[tuple[Robot, Run]]:
    """A run of ``run(ctx)`` made of ``body`` (its first line is line 5) on the robot."""
    path = tmp_path / "protocol.py"
    lines = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    path.write_text(f'metadata = {{"apiLevel": "{api}"}}\n\n\ndef run(ctx):\n{lines}\n')
    with emulated_run(path, speed=SPEED) as robot_and_run:
        yield robot_and_run


def played(tmp_path: Path, body: str, api: str = "2.15") -> tuple[Any, list[dict[str, Any]]]:
    with robot_run(tmp_path, body, api) as (_robot, run):
        run.control.play()
        final = run.wait(WAIT_S)
        return final, list(run.record.events)


def failure(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["event"] == "failure")


@pytest.mark.parametrize(("name", "asked", "attached"), [
    ("thermocycler", "Thermocycler Module GEN1 (thermocyclerModuleV1) in slot 7",
     "thermocycler module [modules.thermocycler] is a Thermocycler Module GEN2 "
     "(thermocyclerModuleV2)"),
    ("magnetic module", "Magnetic Module GEN1 (magneticModuleV1) in slot 1",
     "magnetic module [modules.magnet] is a Magnetic Module GEN2 (magneticModuleV2)"),
])
def test_a_module_of_a_model_opentrons_does_not_take_in_its_place_is_refused(
        tmp_path: Path, name: str, asked: str, attached: str) -> None:
    # A GEN1 thermocycler's geometry on a GEN2 put the tip 13.8 mm behind A1 and 10 mm
    # below the well bottom; Opentrons refuses the load (ModuleNotAttachedError).
    slot = "" if name == "thermocycler" else ", 1"
    final, events = played(tmp_path, f"""
        m = ctx.load_module({name!r}{slot})
        m.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    """)
    assert final.status is Status.FAILED
    failed = failure(events)
    assert failed["location"] == f"{tmp_path / 'protocol.py'}:5"
    assert failed["error"].startswith(f"load_module: the protocol asks for a {asked}, but "
                                      f"the robot's {attached}, ")
    model = attached.rsplit("(", 1)[1].rstrip(")")
    assert failed["error"].endswith(f"load it as {model!r}, or attach a "
                                    f"{asked.split(' (')[0]}")


def test_a_model_opentrons_takes_in_its_place_is_bound_with_its_own_geometry(
        tmp_path: Path) -> None:
    # A Temperature Module GEN1 asked for, a GEN2 attached: as Opentrons, the module is
    # the GEN2, its labware where the GEN2's definition puts it.
    final, events = played(tmp_path, """
        t = ctx.load_module("temperature module", 9)
        plate = t.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        ctx.comment(f"{t.model} {tuple(plate['A1'].top().point)}")
    """)
    assert final.status is Status.SUCCEEDED, final
    with open_context(api_version=(2, 15)) as ctx:
        gen2 = ctx.load_module("temperature module gen2", 9)
        a1 = tuple(gen2.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")["A1"].top().point)
    said = [e["params"]["message"] for e in events
            if e["event"] == "command" and e.get("type") == "comment"]
    assert said == [f"temperatureModuleV2 {a1}"]
    assert [m["model"] for m in events[-1]["modules"]] == ["temperatureModuleV2"]


PROFILE = """
    tc = ctx.load_module("thermocycler module gen2")
    tc.close_lid()
    tc.execute_profile([{"temperature": 94, "hold_time_seconds": 2},
                        {"temperature": 55, "hold_time_seconds": 2}], repetitions=100)
"""


def block_lines(twins: ModuleTwins) -> list[str]:
    firmware = twins.firmware("thermocycler")
    return twins.call(lambda: [line for line in firmware.received if line.startswith("M104")])


@pytest.mark.parametrize("paused_first", [False, True])
def test_a_halt_abandons_a_running_profile_on_the_wire(tmp_path: Path,
                                                       paused_first: bool) -> None:
    # The profile used to run on after a halt (and in `labrun serve` override the next
    # run's setpoint): labrun stops sending its steps; the block holds the last one.
    with robot_run(tmp_path, PROFILE) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        run.control.play()
        wait_until(lambda: len(block_lines(twins)) >= 2, "the profile's second step")
        if paused_first:  # a profile runs on through a pause
            assert run.control.pause("immediate").accepted
            run.control.wait_until_paused(WAIT_S)
        assert run.control.halt().accepted
        final = run.wait(WAIT_S)
        sent = len(block_lines(twins))
        time.sleep(30.0 / SPEED)  # 30 s of the robot's: a step would have gone out by now
        events = list(run.record.events)
        assert len(block_lines(twins)) == sent
    assert final.status is Status.HALTED
    assert [e["abandoned"] for e in events if e["event"] == "module_halt"] == ["profile"]


SHAKE = """
    hs = ctx.load_module("heaterShakerModuleV1", 3)
    hs.close_labware_latch()
    hs.set_target_temperature(37)
    hs.set_and_wait_for_shake_speed(2000)
    ctx.delay(seconds=300)
"""


@pytest.mark.parametrize("refuses", [False, True])
def test_a_halt_stops_the_shaking_plate_on_the_wire_after_the_emergency_stop(
        tmp_path: Path, refuses: bool) -> None:
    # The plate went on shaking at 2000 rpm after the emergency stop. Its G28 goes out
    # once the controller's stop has (the record has it by then); a module that refuses
    # it (``refuses``) is a failure in the record, and the run still ends halted.
    with robot_run(tmp_path, SHAKE) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        firmware = twins.firmware("heater_shaker")
        execute = firmware.execute
        stops_seen_at_g28: list[int] = []

        async def watched(line: str) -> str:
            if code_of(line) == "G28":
                stops_seen_at_g28.append(sum(1 for e in list(run.record.events)
                                             if e["event"] == "emergency_stop"))
                if refuses:
                    raise Refused("ERR126:main motor:plate lock not closed (required)")
            return await execute(line)

        twins.call(lambda: setattr(firmware, "execute", watched))
        run.control.play()

        def in_the_delay() -> bool:
            step = run.control.status().step
            return step is not None and step.name == "delay"

        wait_until(in_the_delay, "the delay")
        assert twins.call(lambda: firmware.target_rpm) == 2000
        assert run.control.halt().accepted
        final = run.wait(WAIT_S)
        events = list(run.record.events)
        rpm = twins.call(lambda: firmware.shaker.value())
        target = twins.call(lambda: firmware.target_rpm)
    assert final.status is Status.HALTED
    assert stops_seen_at_g28 == [1]  # the only G28: after the emergency stop
    halts = [e for e in events if e["event"] == "module_halt"]
    failures = [e for e in events if e["event"] == "failure"]
    if refuses:
        assert halts == [] and target == 2000
        [failed] = failures
        assert failed["location"] == "heaterShakerModuleV1@3"
        port = robot.config.modules["heater_shaker"].port
        assert failed["error"] == (
            "the module loaded in slot 3 could not be stopped at the run's halt: the "
            f"heater-shaker module [modules.heater_shaker] on {port}: the module refused "
            "'G28': ERR126:main motor:plate lock not closed (required)")
    else:
        assert failures == [] and rpm == 0 and target == 0
        [halt] = halts
        assert halt["stopped_rpm"] == 2000 and halt["status"]["rpm"] == 0
        assert halt["status"]["target"] == 37  # the heater stays as it was


def test_a_module_that_cannot_be_made_safe_at_a_stop_is_named_in_the_failure(
        tmp_path: Path) -> None:
    # The stop's G28 refused: the record's failure named only the port ('/dev/pts/7: the
    # module refused ...'), not which module, nor that the stop could not make it safe.
    with robot_run(tmp_path, SHAKE) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        firmware = twins.firmware("heater_shaker")
        execute = firmware.execute

        async def refusing(line: str) -> str:
            if code_of(line) == "G28":
                raise Refused("ERR126:main motor:plate lock not closed (required)")
            return await execute(line)

        twins.call(lambda: setattr(firmware, "execute", refusing))
        run.control.play()

        def in_the_delay() -> bool:
            step = run.control.status().step
            return step is not None and step.name == "delay"

        wait_until(in_the_delay, "the delay")
        assert run.control.stop().accepted
        final = run.wait(WAIT_S)
        events = list(run.record.events)
    port = robot.config.modules["heater_shaker"].port
    assert final.status is Status.STOPPED
    [failed] = [e for e in events if e["event"] == "failure"]
    assert failed["location"] == "heaterShakerModuleV1@3"
    assert failed["error"] == (
        "the module loaded in slot 3 could not be made safe at the run's stop: the "
        f"heater-shaker module [modules.heater_shaker] on {port}: the module refused "
        "'G28': ERR126:main motor:plate lock not closed (required)")


@pytest.mark.parametrize(("at", "refused", "could_not"), [
    ("pause", "G28", "be stopped at the run's pause"),
    ("resume", "M3 S2000", "take up again at the run's resume what the pause stopped"),
])
def test_a_module_that_fails_at_a_pause_or_its_resume_is_named_in_the_failure(
        tmp_path: Path, at: str, refused: str, could_not: str) -> None:
    # The pause's G28 (or the resume's M3) refused: the run failed saying only
    # '/dev/pts/7: the module refused ...', naming neither the module nor its slot, nor
    # that it was the pause that could not stop it.
    with robot_run(tmp_path, SHAKE) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        firmware = twins.firmware("heater_shaker")
        execute = firmware.execute
        armed: list[bool] = []

        async def refusing(line: str) -> str:
            if armed and line.startswith(refused):
                raise Refused("ERR126:main motor:plate lock not closed (required)")
            return await execute(line)

        twins.call(lambda: setattr(firmware, "execute", refusing))
        run.control.play()

        def in_the_delay() -> bool:
            step = run.control.status().step
            return step is not None and step.name == "delay"

        wait_until(in_the_delay, "the delay")
        if at == "pause":
            armed.append(True)
        assert run.control.pause("immediate").accepted
        if at == "resume":
            assert run.control.wait_until_paused(WAIT_S).status is Status.PAUSED
            armed.append(True)
            assert run.control.resume().accepted
        final = run.wait(WAIT_S)
        events = list(run.record.events)
    port = robot.config.modules["heater_shaker"].port
    said = (f"the heater-shaker module [modules.heater_shaker] on {port}: the module "
            f"refused '{refused}': ERR126:main motor:plate lock not closed (required)")
    error = f"the module loaded in slot 3 could not {could_not}: {said}"
    assert final.status is Status.FAILED and final.outcome is not None
    assert final.outcome.error == error
    assert final.outcome.location == f"{tmp_path / 'protocol.py'}:9"  # the delay it cut
    failures = [e["error"] for e in events if e["event"] == "failure"]
    if at == "pause":  # the run's failure cannot stop the plate either
        assert failures == [error, "the module loaded in slot 3 could not be made safe at "
                                   f"the run's failure: {said}"]
    else:
        assert failures == [error]


def test_a_pause_that_cuts_a_shake_off_as_its_line_goes_out_records_what_it_stopped(
        tmp_path: Path) -> None:
    # An immediate pause cut set_and_wait_for_shake_speed off while the module answered
    # its M3: the park stopped the plate, but the record's module_park (and so the run
    # log) did not say it had been shaking at 2000 rpm, the driver's reading being from
    # before the M3.
    with robot_run(tmp_path, """
        hs = ctx.load_module("heaterShakerModuleV1", 3)
        hs.close_labware_latch()
        hs.set_and_wait_for_shake_speed(2000)
        hs.deactivate_shaker()
    """) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        firmware = twins.firmware("heater_shaker")
        assert isinstance(firmware, HeaterShakerFirmware)
        gate: anyio.Event = twins.call(anyio.Event)
        execute = firmware.execute

        async def held(line: str) -> str:  # M3 is answered once the gate opens
            if code_of(line) == "M3":
                await gate.wait()
            return await execute(line)

        async def nothing(controller: object) -> None:
            return None

        twins.call(lambda: setattr(firmware, "execute", held))
        run.control.play()
        wait_until(lambda: "M3 S2000" in twins.call(lambda: list(firmware.received)),
                   "the M3")
        assert run.control.pause("immediate").accepted
        # The call's cancellation has left the engine's loop (what was scheduled there
        # before has run), then reached the hardware thread's: only then is M3 answered.
        run.call(lambda: None)
        robot.in_hardware_thread(nothing)
        twins.call(gate.set)
        paused = run.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED
        target = twins.call(lambda: firmware.target_rpm)
        events = list(run.record.events)
    assert target == 0
    [park] = [e for e in events if e["event"] == "module_park"]
    assert park["stopped_rpm"] == 2000 and park["status"]["rpm"] == 0


@pytest.mark.parametrize("fault", ["drop", "async error"])
def test_a_module_that_fails_during_a_delay_fails_the_run_at_once(tmp_path: Path,
                                                                   fault: str) -> None:
    # Noticed only at its next command, it was blamed on that line 5 minutes later.
    with robot_run(tmp_path, """
        hs = ctx.load_module("heaterShakerModuleV1", 3)
        hs.close_labware_latch()
        hs.set_and_wait_for_shake_speed(1000)
        ctx.delay(seconds=300)
        hs.deactivate_shaker()
    """) as (robot, run):
        assert robot.twins is not None
        run.control.play()

        def in_the_delay() -> bool:
            step = run.control.status().step
            return step is not None and step.name == "delay"

        wait_until(in_the_delay, "the delay")
        if fault == "drop":
            robot.twins.drop("heater_shaker")
        else:
            robot.twins.report_error("heater_shaker", "ERR401:heater:thermistor error")
        final = run.wait(60.0 / SPEED)  # well within the delay's 300 s
        events = list(run.record.events)
    assert final.status is Status.FAILED
    failed = failure(events)
    assert failed["location"] is None
    assert "the heater-shaker module [modules.heater_shaker] on " in failed["error"]
    assert failed["error"].endswith("(the module loaded in slot 3)")
    if fault != "drop":
        assert "'async ERR401:heater:thermistor error'" in failed["error"]
