"""The closing lines of ``labrun run`` under ``--speed``: a person's pause is wall time
(``--speed`` speeds the run's clock, not people), so the duration is the robot's time
with the pauses left out and the pauses are given in wall time (a 10 s pause at
``--speed 10`` read as 100 s). Real runs of the engine, on a virtual clock that counts as
ten times real time: nothing waits."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import simulate_file

from hardware.clock import VirtualClock
from labrun.cli import rehearsal
from labrun.cli.closing import RunTimes, summary_lines
from protocol_api.execute import continue_when_stalled, create_run

DELAYED = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 9)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    p300.move_to(plate["A1"].top(5))
    ctx.delay(seconds=300, msg="incubate")
    p300.move_to(plate["A2"].top(5))
'''


class TenTimes(VirtualClock):
    """The run's clock at ``--speed 10``: what a person does takes ten times as long on
    it (virtual, so the test waits for nothing)."""

    speed = 10.0


def run_paused(tmp_path: Path, body: str, *at: str) -> list[dict[str, Any]]:
    """The record of ``body`` run on ``TenTimes`` with the interventions ``at``."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(body))
    clock = TenTimes()
    run = create_run(path, clock=clock, on_stalled=continue_when_stalled)
    try:
        rehearsal.schedule(run, [rehearsal.parse(item) for item in at])
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    return list(run.record.events)


def closing(events: list[dict[str, Any]], speed: float) -> dict[str, str]:
    times = RunTimes(speed)
    for event in events:
        times.feed(event)
    lines = summary_lines(events[-1], duration_label="duration", times=times)
    return {label.rstrip(":"): value.strip() for label, _, value in
            (line.partition(": ") for line in lines if line)}


def paused_wall_s(events: list[dict[str, Any]], speed: float) -> float:
    """Wall seconds from each status ``paused`` to the next status, by the record."""
    statuses = [(e["t"], e["status"]) for e in events if e["event"] == "status"]
    return sum(later[0] - t for (t, status), later in itertools.pairwise(statuses)
               if status == "paused") / speed


def test_a_persons_pause_is_wall_time_and_the_duration_the_robots_time(tmp_path: Path) -> None:
    """A 10 s pause at --speed 10 (100 s on the run's clock) in the moves before the
    delay: it reads 10 s (less the parking, which is the robot's), and the duration is
    the robot's time without it."""
    quiet = run_paused(tmp_path, DELAYED)
    events = run_paused(tmp_path, DELAYED, "1:pause-immediate", "101:resume")
    assert events[-1]["duration_s"] == pytest.approx(quiet[-1]["duration_s"] + 100.0,
                                                     abs=5.0)  # the clock's
    paused = paused_wall_s(events, 10.0)
    assert paused == pytest.approx(10.0, abs=0.5)
    said = closing(events, 10.0)
    assert said["pauses"] == f"1, {paused:.2f} s paused in all (wall time)"
    robot_s = events[-1]["duration_s"] - paused * 10.0
    assert robot_s == pytest.approx(quiet[-1]["duration_s"], abs=5.0)  # parking, unparking
    minutes, seconds = divmod(robot_s, 60)
    assert said["duration"].startswith(f"{minutes:.0f} min {seconds:.1f} s ({robot_s:.1f} s) "
                                       "of robot time, pauses left out")
    assert said["duration"].endswith(f"({robot_s / 10:.2f} s at --speed 10)")


def test_a_pause_in_a_delay_is_counted_once(tmp_path: Path) -> None:
    """Paused 20 s (200 s on the clock) in the 300 s delay: the delay runs on through
    the pause, so the run ends about when it would have, and its pause reads 20 s of
    wall time while the robot's time is what the run took without it."""
    quiet = run_paused(tmp_path, DELAYED)
    start = next(e["t"] for e in quiet if e["event"] == "step" and e["name"] == "delay")
    events = run_paused(tmp_path, DELAYED, f"{start + 50}:pause", f"{start + 250}:resume")
    paused = paused_wall_s(events, 10.0)
    assert paused == pytest.approx(20.0, abs=0.5)
    said = closing(events, 10.0)
    assert said["pauses"] == f"1, {paused:.2f} s paused in all (wall time)"
    robot_s = events[-1]["duration_s"] - paused * 10.0
    assert robot_s == pytest.approx(quiet[-1]["duration_s"] - 200.0, abs=5.0)
    assert f"({robot_s:.1f} s) of robot time" in said["duration"]


def test_at_real_speed_and_without_a_pause_the_duration_reads_as_before(tmp_path: Path) -> None:
    events = run_paused(tmp_path, DELAYED)
    said = closing(events, 1.0)
    assert said["pauses"] == "0"
    assert said["duration"].endswith("of robot time, pauses left out")




READING = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    temp = ctx.load_module("temperature module gen2", 3)
    temp.set_temperature(30)
    ctx.comment(f"at {temp.temperature} C")
'''


def test_a_module_reading_is_counted_apart_from_the_steps_the_simulation_has(
        tmp_path: Path) -> None:
    """On a robot, reading a temperature asks the module, a step of its own that the
    simulation does not make: the closing lines count the steps as the simulation did,
    and say the reading apart (the run once ended with one step more than its sheet)."""
    path = tmp_path / "protocol.py"
    path.write_text(READING)
    simulated, on_robot = (
        closing(list(simulate_file(path, simulating=simulating).record.events), 1.0)["steps"]
        for simulating in (True, False))
    assert simulated.isdigit()
    assert on_robot == f"{simulated} (and 1 module reading, a step only a robot makes)"


LOADS_ON_MODULES = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    magnet = ctx.load_module("magnetic module", 1)
    magnet.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    temp = ctx.load_module("temperature module", 3)
    temp.load_labware("opentrons_96_aluminumblock_nest_wellplate_100ul")
'''


def test_only_a_temperature_modules_first_load_labware_reads_the_module(
        tmp_path: Path) -> None:
    """On a robot a temperature module's first ``load_labware`` asks which generation is
    attached (GEN1 and GEN2 stand in for each other): a step of its own, before the load.
    Every other module is bound to the model the protocol names, and reads nothing."""
    path = tmp_path / "protocol.py"
    path.write_text(LOADS_ON_MODULES)
    steps = {simulating: [e["name"] for e in simulate_file(path, simulating=simulating)
                          .record.events if e["event"] == "step"]
             for simulating in (True, False)}
    loads = ["load_labware", "load_module", "load_labware", "load_module", "load_labware"]
    assert steps[True] == loads
    assert steps[False] == [*loads[:4], "read_module", "load_labware"]


READING_GROUP = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    temp = ctx.load_module("temperature module gen2", 3)
    temp.set_temperature(30)
    with ctx.step("check the block"):
        reading = temp.temperature
    with ctx.step("read and say"):
        ctx.comment(f"at {temp.temperature} C")
    ctx.comment(f"at {reading} C")
'''


def test_a_group_that_only_reads_a_module_is_counted_as_a_module_reading(
        tmp_path: Path) -> None:
    """A ``ctx.step`` group that only reads a module is a step under the group's name on
    a robot and no step in the simulation: it was counted as one of the simulation's
    steps (one too many); a group that reads and does more is a step in both."""
    path = tmp_path / "protocol.py"
    path.write_text(READING_GROUP)
    simulated, on_robot = (
        closing(list(simulate_file(path, simulating=simulating).record.events), 1.0)["steps"]
        for simulating in (True, False))
    assert simulated == "5"
    assert on_robot == "5 (and 1 module reading, a step only a robot makes)"
