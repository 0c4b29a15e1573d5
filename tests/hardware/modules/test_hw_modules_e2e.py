"""A protocol with all four modules on the emulated G-code robot and the modules' emulated
twins, through the serial drivers, as ``labrun run --emulate`` drives them: the robot
file's modules are the run's devices; an immediate pause during a shake stops the shaker
on the wire, and the resumed run waits until it is back at speed."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulated_runs import WAIT_S, emulated_run, wait_until

from engine.run import Run
from engine.state import Status
from hardware.emulator.modules import HeaterShakerFirmware
from hardware.robot import Robot

SPEED = 50.0

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    temperature = ctx.load_module("temperature module gen2", 9)
    magnet = ctx.load_module("magnetic module gen2", 1)
    cycler = ctx.load_module("thermocycler module gen2")
    shaker = ctx.load_module("heaterShakerModuleV1", 3)
    magnet.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    temperature.set_temperature(30)
    magnet.engage(height_from_base=7.5)  # 10 mm above the magnets' home
    cycler.open_lid()
    cycler.close_lid()
    cycler.set_lid_temperature(105)
    cycler.execute_profile(steps=[{"temperature": 95, "hold_time_seconds": 5},
                                  {"temperature": 60, "hold_time_seconds": 5}],
                           repetitions=2, block_max_volume=20)
    shaker.close_labware_latch()
    shaker.set_and_wait_for_shake_speed(1000)
    ctx.delay(seconds=60)
    shaker.deactivate_shaker()
    magnet.disengage()
    temperature.deactivate()
'''


@contextmanager
def modules_run(tmp_path: Path) -> Iterator[tuple[Robot, Run]]:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    with emulated_run(path, speed=SPEED) as robot_and_run:
        yield robot_and_run


def test_a_protocol_with_all_four_modules_runs_on_their_twins(tmp_path: Path) -> None:
    with modules_run(tmp_path) as (_robot, run):
        run.control.play()
        final = run.wait(WAIT_S)
        events = list(run.record.events)
    assert final.status is Status.SUCCEEDED, final
    # The lid starts open, as in a simulation (and Opentrons' simulator and emulator): the
    # first open_lid takes no time, the close its 20 s, so both estimate the run alike.
    queued = {e["type"]: e["t"] for e in events
              if e.get("event") == "command" and e.get("status") == "queued"}
    assert queued["thermocycler/closeLid"] - queued["thermocycler/openLid"] < 5.0
    assert queued["thermocycler/setTargetLidTemperature"] - queued[
        "thermocycler/closeLid"] >= 19.0
    summary = events[-1]
    devices = {m["kind"]: m["device"] for m in summary["modules"]}
    assert devices == {"temperature": "temperature", "magnetic": "magnet",
                       "thermocycler": "thermocycler", "heater_shaker": "heater_shaker"}
    statuses = {m["kind"]: m["status"] for m in summary["modules"]}
    assert statuses["temperature"]["target"] is None
    assert statuses["magnetic"]["engaged"] is False
    assert statuses["thermocycler"]["block_target"] == 60.0
    assert statuses["heater_shaker"]["rpm"] == 0.0


def test_an_immediate_pause_during_a_shake_stops_the_shaker_on_the_wire(
        tmp_path: Path) -> None:
    with modules_run(tmp_path) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins
        shaker = twins.firmware("heater_shaker")
        assert isinstance(shaker, HeaterShakerFirmware)

        def twin() -> tuple[int, float, list[str]]:
            return twins.call(lambda: (shaker.target_rpm, round(shaker.shaker.value()),
                                       list(shaker.received)))

        def shaking_in_the_delay() -> bool:
            step = run.control.status().step
            return (step is not None and step.name == "delay"
                    and twin()[0] == 1000)

        run.control.play()
        wait_until(shaking_in_the_delay, "the shaker at speed during the delay")
        before = len(twin()[2])
        assert run.control.pause("immediate").accepted
        paused = run.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED and paused.parked
        target, rpm, lines = twin()
        # Parked: the driver sent G28 (stop and home the plate) and waited until still.
        assert (target, rpm) == (0, 0)
        assert "G28" in lines[before:]
        assert not [line for line in lines[before:] if line.startswith("M3")]
        at_park = len(lines)
        assert run.control.resume().accepted
        def resumed() -> bool:
            status = run.control.status()
            return (status.status is Status.RUNNING and not status.parked
                    and not status.unparking)

        wait_until(resumed, "the run to go on")
        target, rpm, lines = twin()
        assert target == 1000 and abs(rpm - 1000) <= 25  # at speed before the run went on
        assert "M3 S1000" in lines[at_park:]
        final = run.wait(WAIT_S)
        events = list(run.record.events)
    assert final.status is Status.SUCCEEDED, final
    parks = [e for e in events if e["event"] == "module_park" and "heater" in e["module"]]
    unparks = [e for e in events if e["event"] == "module_unpark" and "heater" in e["module"]]
    assert len(parks) == len(unparks) == 1
    assert parks[0]["status"]["target_rpm"] == 0
    assert unparks[0]["status"]["target_rpm"] == 1000
