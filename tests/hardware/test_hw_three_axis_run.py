"""A whole run on the shipped 3-axis GRBL example robot (X, Y, Z, no plunger) on the
emulator, with a work offset left on the controller and an immediate pause mid-move:
the engine, the driver and parking all work with the axes the robot has, in machine
coordinates."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from labrun_testing import assert_unparked_where_recorded

from engine.state import Status
from hardware.config import load_config
from hardware.emulator import running_emulator
from hardware.frozen import replace
from hardware.gcode import GcodeController
from hardware.robot import open_robot
from protocol_api.execute import create_run

EXAMPLE = Path(__file__).parents[2] / "hardware" / "robots" / "grbl_3axis_example.toml"
WAIT_S = 20.0
PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    tool = ctx.load_instrument("p300_single_gen2", "left")
    for well in ("A1", "H12", "A12", "H1"):
        tool.move_to(plate[well].top(5))
    ctx.pause("look at the plate")
    tool.move_to(plate["A1"].top(5))
'''


def test_a_three_axis_gantry_runs_a_protocol_with_pauses_in_machine_coordinates(
        tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    shipped = load_config(EXAMPLE)
    with running_emulator("grbl", speed=10.0, config=shipped) as emu:
        config = replace(shipped, controller=replace(
            shipped.controller, port=emu.address, timeout_s=2.0))
        robot = open_robot(config)
        driver = robot.driver
        assert isinstance(driver, GcodeController)
        robot.connect()
        robot.home()
        # Someone left a work offset and a G92 on the controller.
        robot.in_hardware_thread(lambda _: driver.send_gcode(["G10 L2 P1 X10 Y10", "G92 Z5"]))
        run = create_run(path, config=config, controller=robot.controller, clock=robot.clock,
                         record_path=tmp_path / "record.jsonl", simulating=False)
        try:
            control = run.control
            assert control.play().accepted
            deadline = time.monotonic() + WAIT_S
            while not emu.call(lambda: emu.emulator.machine.moving):
                assert time.monotonic() < deadline
                time.sleep(0.002)
            assert control.pause("immediate").accepted
            assert control.wait_until_paused(WAIT_S).status is Status.PAUSED
            assert control.resume().accepted
            assert control.wait_until_paused(WAIT_S).pause_source == "protocol"
            assert control.resume().accepted
            final = run.wait(WAIT_S)
            assert final.status is Status.SUCCEEDED, final
        finally:
            run.close()
            robot.close()
        # A1's top, 5 mm up, in machine coordinates: deck origin at (-200, -200, -100).
        a1 = {"X": 14.38 - 200.0, "Y": 74.24 - 200.0}
        here = emu.position()
        assert set(here) == {"X", "Y", "Z"}
        assert here["X"] == pytest.approx(a1["X"], abs=0.01)
        assert here["Y"] == pytest.approx(a1["Y"], abs=0.01)
        events = list(run.record.events)
        unparks = [e for e in events if e["event"] == "unpark"]
        assert len(unparks) == 2
        for unpark in unparks:
            assert_unparked_where_recorded(unpark, config.z_axes)


def test_a_robot_without_switches_ends_each_run_at_home_so_the_next_starts_there(
        tmp_path: Path) -> None:
    # No homing switches: each connection takes wherever the axes stand as home. A run
    # left where it ended would make the next one's coordinates wrong by that much.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL).replace('    ctx.pause("look at the plate")\n',
                                                      ""))
    shipped = load_config(EXAMPLE)
    with running_emulator("grbl", speed=20.0, config=shipped) as emu:
        config = replace(shipped, controller=replace(
            shipped.controller, port=emu.address, timeout_s=2.0), axes={
                name: replace(axis, homing="none") for name, axis in shipped.axes.items()})
        home = {name: axis.home for name, axis in config.axes.items()}
        start = emu.position()
        reached = []
        for _ in range(2):
            robot = open_robot(config)
            robot.connect()
            robot.home()
            run = create_run(path, config=config, controller=robot.controller,
                             clock=robot.clock, simulating=False)
            try:
                assert run.control.play().accepted
                assert run.wait(WAIT_S).status is Status.SUCCEEDED
            finally:
                run.close()
                robot.close()
            moves = [e for e in run.record.events if e["event"] == "command"
                     and e.get("type") == "moveTo"]
            assert len(moves) == 5
            reached.append(emu.position())
        # Back where the first connection found the axes, both times: their home point.
        for here in reached:
            assert here == pytest.approx(start, abs=0.01), (reached, start, home)
