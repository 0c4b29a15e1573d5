"""The emulated machine: kinematic timing, holds, stops and homing on a fast clock."""

from __future__ import annotations

import anyio
import pytest
from labrun_testing import SteppedClock

from hardware.clock import RealClock
from hardware.config import default_config
from hardware.emulator import Machine
from hardware.emulator.motion import Profile
from hardware.kinematics import plan_move

pytestmark = pytest.mark.anyio

SPEED = 50.0


async def run_machine(start: dict[str, float] | None = None) -> Machine:
    return Machine(default_config(), RealClock(SPEED), planner_blocks=4,
                   start_position=start or {"X": 100.0, "Y": 100.0, "Z": 100.0})


def test_profile_speed_and_brake() -> None:
    axes = default_config().axes
    profile = Profile(plan_move({"X": 0.0}, {"X": 300.0}, axes))
    # 600 mm/s reached after 0.2 s at 3000 mm/s^2; cruise; symmetric ramp down.
    assert profile.speed_at(0.1) == pytest.approx(300.0)
    assert profile.speed_at(0.3) == pytest.approx(600.0)
    assert profile.speed_at(profile.duration - 0.1) == pytest.approx(300.0)
    brake = profile.brake(0.3)
    assert brake.duration == pytest.approx(0.2)
    covered = brake.target["X"] - brake.start["X"]
    assert covered == pytest.approx(600.0**2 / (2 * 3000.0))  # v^2 / 2a


def stepped_machine(start: dict[str, float] | None = None) -> tuple[Machine, SteppedClock]:
    clock = SteppedClock()
    return Machine(default_config(), clock, planner_blocks=4,
                   start_position=start or {"X": 100.0, "Y": 100.0, "Z": 100.0}), clock


def test_a_move_takes_its_kinematic_time() -> None:
    machine, clock = stepped_machine()
    expected = plan_move({"X": 100.0}, {"X": 400.0}, machine.config.axes).duration
    clock.t = 1.0
    machine.add_move({"X": 400.0}, None)
    assert machine.moving
    clock.t = 1.0 + expected - 1e-6
    assert machine.moving and 399.0 < machine.current_position()["X"] < 400.0
    clock.t = 1.0 + expected
    assert machine.idle and machine.position["X"] == 400.0
    assert machine.finished_at == pytest.approx(1.0 + expected)


async def test_the_ticker_wakes_a_waiter_once_the_move_has_ended() -> None:
    # On the real clock, only the order of events is asserted: never how late the
    # waiter woke, which depends on how busy the host is.
    machine = await run_machine()
    async with anyio.create_task_group() as tg:
        tg.start_soon(machine.ticker)
        expected = plan_move({"X": 100.0}, {"X": 400.0}, machine.config.axes).duration
        machine.add_move({"X": 400.0}, None)
        began = machine.blocks[0].not_before
        await machine.wait_until(lambda: machine.idle)
        assert machine.finished_at - began == pytest.approx(expected, abs=1e-9)
        assert machine.clock.now() >= machine.finished_at
        assert machine.position["X"] == 400.0
        tg.cancel_scope.cancel()


def test_moves_queue_back_to_back_in_a_bounded_planner() -> None:
    machine, clock = stepped_machine()
    for x in (110.0, 120.0, 130.0, 140.0):
        machine.add_move({"X": x}, 100.0)
    assert machine.free_blocks == 0  # bounded: a fifth block would have to wait
    assert machine.planned["X"] == 140.0
    block = plan_move({"X": 100.0}, {"X": 110.0}, machine.config.axes, 100.0).duration
    clock.t = block / 2
    assert machine.free_blocks == 0 and 100.0 < machine.current_position()["X"] < 110.0
    clock.t = block * 1.5  # the second block started the instant the first ended
    assert machine.free_blocks == 1
    assert 110.0 < machine.current_position()["X"] < 120.0
    assert machine.finished_at == pytest.approx(block)
    clock.t = block * 4 - 1e-6
    assert not machine.idle and machine.free_blocks == 3
    clock.t = block * 4
    assert machine.idle and machine.position["X"] == 140.0
    assert machine.finished_at == pytest.approx(4 * block)  # back to back, no gaps


def test_hold_brakes_between_start_and_target_and_resume_finishes() -> None:
    machine, clock = stepped_machine()
    move = plan_move({"X": 100.0, "Y": 100.0}, {"X": 400.0, "Y": 300.0},
                     machine.config.axes).duration
    machine.add_move({"X": 400.0, "Y": 300.0}, None)
    clock.t = move / 4
    machine.hold()
    assert machine.braking
    clock.t += 10.0  # far past the brake's end
    assert not machine.moving
    held = machine.current_position()
    assert 100.0 < held["X"] < 400.0
    # Still on the straight line from start to target.
    assert (held["Y"] - 100.0) / (held["X"] - 100.0) == pytest.approx(200.0 / 300.0)
    clock.t += 10.0
    assert machine.current_position() == held  # nothing moves during a hold
    machine.resume()
    assert machine.moving
    clock.t += move
    assert machine.idle
    assert machine.position == {**machine.position, "X": 400.0, "Y": 300.0}


def test_stop_discards_the_queue_where_the_axes_are() -> None:
    machine, clock = stepped_machine()
    assert not machine.stop()
    machine.add_move({"X": 400.0}, 100.0)
    machine.add_move({"X": 0.0}, 100.0)
    clock.t = 1.0  # 1 s into the 3 s the first move takes
    assert machine.stop()
    stopped = machine.current_position()["X"]
    assert 100.0 < stopped < 400.0
    assert machine.idle and machine.planned["X"] == stopped
    clock.t = 10.0
    assert machine.current_position()["X"] == stopped


def test_homing_runs_the_z_axes_first() -> None:
    machine, clock = stepped_machine({"X": 100.0, "Z": 10.0, "A": 10.0})
    machine.add_home(["X", "Z", "A"])
    assert [set(b.target) for b in machine.blocks] == [{"Z", "A"}, {"X"}]
    clock.t = 0.5  # 0.5 s into the 1.75 s the Z axes take
    during = machine.current_position()
    assert 10.0 < during["Z"] < 218.0
    assert during["X"] == 100.0  # X waits for the Z axes
    clock.t = 60.0
    assert machine.idle
    assert machine.homed == {"X", "Z", "A"}
    assert machine.position["X"] == 418.0 and machine.position["Z"] == 218.0


def test_scaled_clock() -> None:
    clock = RealClock(10.0)
    assert clock.wall(5.0) == 0.5
    with pytest.raises(ValueError, match="positive"):
        RealClock(0)
