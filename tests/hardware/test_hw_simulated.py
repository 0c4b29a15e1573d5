"""The simulated robot: kinematics, virtual time, interrupted moves, configuration."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.clock import VirtualClock
from hardware.config import ConfigError, default_config, load_config
from hardware.kinematics import plan_move, profile_distance, profile_time
from hardware.simulated import SimulatedController


def test_trapezoid_and_triangle_profiles() -> None:
    # 600 mm at 100 mm/s, 1000 mm/s^2: 0.1 s ramps, 5.9 s cruise.
    assert profile_time(600, 100, 1000) == pytest.approx(6.1)
    # 1 mm never reaches cruise: 2 * sqrt(1 / 1000).
    assert profile_time(1, 100, 1000) == pytest.approx(2 * math.sqrt(0.001))
    assert profile_time(0, 100, 1000) == 0.0


@given(st.floats(0.01, 500), st.floats(1, 600), st.floats(10, 5000), st.floats(0, 1))
def test_profile_distance_is_monotonic_and_ends_at_the_target(d: float, v: float, a: float,
                                                              f: float) -> None:
    total = profile_time(d, v, a)
    t = total * f
    covered = profile_distance(t, d, v, a)
    assert -1e-9 <= covered <= d + 1e-9
    assert profile_distance(t + total * 0.01, d, v, a) >= covered - 1e-9
    assert profile_distance(total, d, v, a) == pytest.approx(d)


def test_coordinated_moves_are_limited_by_the_slowest_axis() -> None:
    axes = default_config().axes
    plan = plan_move({"X": 0, "Z": 0}, {"X": 100, "Z": 100}, axes)
    assert plan.duration == pytest.approx(profile_time(100, 125, 1500))  # Z is slower
    mid = plan.position_at(plan.duration / 2)
    assert mid["X"] == pytest.approx(50) and mid["Z"] == pytest.approx(50)


def test_a_move_takes_its_kinematic_time_on_the_virtual_clock() -> None:
    config = default_config()
    robot = SimulatedController(config)

    async def main() -> None:
        await robot.move({"X": 18.0})
        assert robot.clock.now() == pytest.approx(profile_time(400, 600, 3000))
        assert (await robot.read_position())["X"] == 18.0

    anyio.run(main)


def test_a_completed_move_ends_exactly_at_its_target() -> None:
    # The time a move took, read back from the clock ((start + duration) - start), can
    # fall short of its duration in the last bit; the move still ended at its target.
    config = default_config()
    robot = SimulatedController(config)
    targets = [{"X": 18.1 + (i * 37.3) % 380, "Y": 20.7 + (i * 53.9) % 300} for i in range(60)]

    async def main() -> None:
        for target in targets:
            await robot.move(target)
            assert await robot.read_position() | target == await robot.read_position()

    anyio.run(main)


def test_a_cancelled_move_stops_where_the_trajectory_is_at_that_instant() -> None:
    config = default_config()
    clock = VirtualClock()
    robot = SimulatedController(config, clock)

    async def main() -> None:
        with anyio.CancelScope() as scope:
            clock.call_at(0.3, scope.cancel)
            await robot.move({"X": 18.0})
        assert clock.now() == pytest.approx(0.3)
        x = (await robot.read_position())["X"]
        plan = plan_move({"X": 418.0}, {"X": 18.0}, config.axes)
        assert x == pytest.approx(plan.position_at(0.3)["X"])
        assert 18.0 < x < 418.0 and not robot.moving

    anyio.run(main)


def test_moves_outside_the_travel_and_before_homing_are_refused() -> None:
    config = default_config()

    async def main() -> None:
        with pytest.raises(Exception, match=r"X would go to 999\.00 mm, 581\.00 mm "
                           r"outside its travel \[0, 418\]"):
            await SimulatedController(config).move({"X": 999.0})
        with pytest.raises(Exception, match=r"Y would go to -2\.25 mm, 2\.25 mm outside"):
            await SimulatedController(config).move({"Y": -2.25})
        with pytest.raises(Exception, match=r"X would go to 418\.00 mm, less than 0\.01 mm "
                           r"outside"):
            await SimulatedController(config).move({"X": 418.003})
        with pytest.raises(Exception, match="homed"):
            await SimulatedController(config, homed=False).move({"X": 10.0})

    anyio.run(main)


def test_robot_configuration_overrides_and_errors_name_the_key(tmp_path: Path) -> None:
    good = tmp_path / "robot.toml"
    good.write_text('name = "bench"\nsafe_height = 150\n[axes.X]\nmax_speed = 300\n'
                    'acceleration = 1000\nhome = 418\n[interlocks.door]\nauto_resume = true\n')
    config = load_config(good)
    assert config.name == "bench" and config.safe_height == 150.0
    assert config.axes["X"].max_speed == 300 and config.axes["Y"].max_speed == 400
    assert config.interlocks["door"].auto_resume
    cases = {
        "speed = 3\n": "unknown key 'speed'",
        "[axes.X]\nmax_speed = 'fast'\n": "max_speed",
        "park_position = [1]\n": "park_position",
        "[controller]\nkind = 'gcode'\n": "controller.port",
        "[mounts.left]\nz_axis = 'Q'\nplunger_axis = 'B'\n": "mounts.left",
        "safe_height = \n": "not valid TOML",
    }
    for text, needle in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            load_config(bad)
    with pytest.raises(ConfigError, match="no such"):
        load_config(tmp_path / "missing.toml")
