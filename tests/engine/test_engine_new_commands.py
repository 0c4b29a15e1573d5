"""Air gaps, the touchTip, setRailLights and setMaxSpeeds commands against the robot model;
what the record says of a command's numbers."""

from __future__ import annotations

import math

import pytest

from engine import commands as c
from engine.robot_model import CommandError, Pipette, PlungerSpec, RobotModel
from engine.segments import HomeAxes, Move
from hardware.config import default_config


def model(tip: bool = True) -> RobotModel:
    robot = RobotModel(default_config())
    robot.pipettes["left"] = Pipette(PlungerSpec(300, 300 / 19, 18, 19, 20),
                                     tip_length=50.0 if tip else None)
    return robot


def test_the_registry_names_the_new_commands() -> None:
    for command in (c.TouchTip, c.SetRailLights, c.SetMaxSpeeds):
        assert c.REGISTRY[command.kind] is command
    assert not c.TouchTip.reversible
    assert c.SetRailLights.reversible and c.SetMaxSpeeds.reversible


def test_an_air_gap_moves_the_plunger_like_an_aspirate() -> None:
    robot = model()
    gap = c.Aspirate("left", 19.0, 50.0, "1/A1", air_gap=True)
    (*_, last) = gap.plan(robot)
    assert isinstance(last, Move) and last.target == {"B": pytest.approx(18 - 19 / (300 / 19))}
    gap.apply(robot)
    assert robot.pipettes["left"].volume == 19.0


def test_touch_tip_visits_four_sides_and_the_centre() -> None:
    robot = model()
    touch = c.TouchTip("left", (100.0, 100.0, 50.0), 3.0, 2.0, 60.0, "1/A1")
    segments = touch.plan(robot)
    sides = [(s.target["X"], s.target["Y"]) for s in segments[-5:]
             if isinstance(s, Move)]
    x0 = 100.0 + 34.0  # the left mount's offset is -34 mm in x
    assert sides == [(x0 + 3, 100), (x0 - 3, 100), (x0, 102), (x0, 98), (x0, 100)]
    assert all(isinstance(s, Move) and s.speed == 60.0 for s in segments[-5:])
    with pytest.raises(CommandError, match="no tip"):
        touch.plan(model(tip=False))


def test_touch_tip_leaves_the_wall_it_is_told_to_skip() -> None:
    robot = model()
    x0 = 100.0 + 34.0  # the left mount's offset is -34 mm in x
    for skip, first in (("right", [(x0 - 3, 100)]), ("left", [(x0 + 3, 100)])):
        touch = c.TouchTip("left", (100.0, 100.0, 50.0), 3.0, 2.0, 60.0, "1/A1",
                           skip_wall=skip)
        segments = touch.plan(robot)
        sides = [(s.target["X"], s.target["Y"]) for s in segments[-4:] if isinstance(s, Move)]
        assert sides == [*first, (x0, 102), (x0, 98), (x0, 100)]
        assert touch.params()["skip_wall"] == skip
    with pytest.raises(ValueError, match="skip_wall is 'right', 'left' or None, not 'up'"):
        c.TouchTip("left", (100.0, 100.0, 50.0), 3.0, 2.0, 60.0, skip_wall="up")


def test_speed_caps_slow_the_moves_of_that_axis_only() -> None:
    robot = model()
    c.SetMaxSpeeds((("X", 10.0),)).apply(robot)
    x, y = robot.position["X"], robot.position["Y"]
    (move,) = robot.arc("left", (x - 34.0 - 30.0, y - 40.0, 100.0), force_direct=True)
    assert isinstance(move, Move)
    dz = abs(100.0 + 50.0 - robot.position["Z"])
    path = math.hypot(30.0, 40.0, dz)
    assert move.speed == pytest.approx(10.0 * path / 30.0)  # X at 10 mm/s along the path
    c.SetMaxSpeeds(()).apply(robot)
    (free,) = robot.arc("left", (x - 64.0, y - 40.0, 100.0), force_direct=True)
    assert isinstance(free, Move) and free.speed is None
    with pytest.raises(CommandError, match="no axis 'Q'"):
        c.SetMaxSpeeds((("Q", 1.0),)).apply(robot)


def test_rail_lights_change_the_model_only() -> None:
    robot = model()
    assert c.SetRailLights(True).plan(robot) == []
    assert c.SetRailLights(True).apply(robot) == {"rail_lights_on": True}
    assert robot.rail_lights


def test_a_multi_channel_gantry_carries_the_middle_of_its_nozzles() -> None:
    robot = model()
    robot.pipettes["left"].nozzle_xy = (0.0, 31.5)  # the first nozzle, behind the middle
    (move,) = robot.arc("left", (100.0, 200.0, 50.0), force_direct=True)
    assert isinstance(move, Move) and move.target["Y"] == pytest.approx(200.0 - 31.5)
    with pytest.raises(CommandError, match=r"axis Y would go to -21\.5"):
        robot.arc("left", (100.0, 10.0, 50.0), force_direct=True)


def test_lift_pipettes_homes_every_z_then_the_gantry_and_no_plunger() -> None:
    robot = model()
    config = robot.config
    assert c.REGISTRY["liftPipettes"] is c.LiftPipettes and c.LiftPipettes.reversible
    (lift,) = c.LiftPipettes("heaterShakerModuleV1@1").plan(robot)
    assert isinstance(lift, HomeAxes) and set(lift.axes) == set(config.z_axes)
    z_first, gantry = c.LiftPipettes("thermocyclerModuleV2@7", gantry=True).plan(robot)
    assert isinstance(z_first, HomeAxes) and set(z_first.axes) == set(config.z_axes)
    assert isinstance(gantry, HomeAxes) and set(gantry.axes) == {"X", "Y"}
    assert not set(config.plunger_axes) & {*z_first.axes, *gantry.axes}  # a tip may hold liquid


@pytest.mark.parametrize("plunger_at", [19.0, 0.0])  # past the bottom (a blow-out), homed
def test_an_empty_tips_plunger_is_made_ready_out_of_the_liquid(plunger_at: float) -> None:
    robot = model()
    robot.position.update({"Z": 60.0, "B": plunger_at})  # the tip down in a well
    segments = c.Aspirate("left", 30.0, 50.0, "1/A1").plan(robot)
    up, ready, down, draw = segments
    assert isinstance(up, Move) and up.target == {"Z": robot.safe_height()}
    assert isinstance(ready, Move) and ready.target == {"B": 18.0}
    assert isinstance(down, Move) and down.target == {"Z": 60.0}
    assert isinstance(draw, Move) and draw.target == {"B": pytest.approx(18 - 30 / (300 / 19))}
    robot.position["B"] = 18.0  # ready: it draws where it is
    (draw,) = c.Aspirate("left", 30.0, 50.0, "1/A1").plan(robot)
    assert isinstance(draw, Move) and set(draw.target) == {"B"}


def test_a_push_out_goes_past_empty_on_a_dispense_that_empties_the_tip_only() -> None:
    robot = model()
    ul_per_mm = 300 / 19
    robot.pipettes["left"].volume = 30.0
    robot.position["B"] = 18 - 30 / ul_per_mm
    *_, empty, past = c.Dispense("left", 30.0, 50.0, "1/A1", push_out=10.0).plan(robot)
    assert isinstance(empty, Move) and empty.target == {"B": pytest.approx(18.0)}
    assert isinstance(past, Move) and past.target == {"B": pytest.approx(18 + 10 / ul_per_mm)}
    with pytest.raises(CommandError, match="empties the tip; 10 µL would stay"):
        c.Dispense("left", 20.0, 50.0, "1/A1", push_out=5.0).plan(robot)
    with pytest.raises(CommandError, match="past the blow-out position"):
        c.Dispense("left", 30.0, 50.0, "1/A1", push_out=20.0).plan(robot)


def test_the_record_has_a_commands_numbers_to_6_decimals_the_engine_its_own() -> None:
    """A protocol's float noise (55.1 + 55.2 is 110.30000000000001) is not in the record;
    the model and a module are given the numbers as the protocol made them."""
    robot = model()
    aspirate = c.Aspirate("left", 55.1 + 55.2, 50.0, "1/A1", ("1/B1",))
    assert aspirate.params() == {"mount": "left", "volume": 110.3, "flow_rate": 50.0,
                                 "well": "1/A1", "wells": ("1/B1",), "air_gap": False}
    aspirate.apply(robot)
    assert robot.pipettes["left"].volume == 55.1 + 55.2 != 110.3
    move = c.MoveTo("left", (0.1 + 0.2, 1.0, 2.0))
    assert move.params()["point"] == (0.3, 1.0, 2.0)
    assert move.point == (0.1 + 0.2, 1.0, 2.0)
    heat = c.SetTargetTemperature("temperatureModuleV2/3", 36.8 + 0.3)
    assert heat.params()["celsius"] == 37.1
    assert heat.device_params() == {"celsius": 36.8 + 0.3} != {"celsius": 37.1}
