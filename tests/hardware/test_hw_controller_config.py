"""The ``[controller]`` table: axis map, Smoothieware's realtime options, polling; the
errors name the key; the factory and the driver follow it; the shipped emulator files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.clock import RealClock
from hardware.config import ConfigError, config_from_dict, line_of_key, load_config
from hardware.factory import (
    EMULATOR_DIALECTS,
    create_controller,
    emulator_config,
    emulator_config_path,
)
from hardware.gcode import GcodeController
from hardware.simulated import SimulatedController


def test_defaults_keep_the_driver_as_it_was() -> None:
    ctl = config_from_dict({}).controller
    assert (ctl.kind, ctl.dialect, ctl.port, ctl.baudrate, ctl.timeout_s) == (
        "simulated", "grbl", "", 115200, 10.0)
    assert (dict(ctl.axis_map), ctl.feed_hold, ctl.realtime_status, ctl.poll_interval) == (
        {}, True, True, 0.1)


def test_the_driver_takes_its_options_from_the_config() -> None:
    config = config_from_dict({"controller": {
        "kind": "gcode", "dialect": "smoothie", "port": "tcp://127.0.0.1:1",
        "feed_hold": False, "realtime_status": False, "poll_interval": 0.25,
        "timeout_s": 3, "axis_map": {"B": "C", "C": "B"}}})
    controller, clock = create_controller(config)
    assert isinstance(controller, GcodeController) and isinstance(clock, RealClock)
    assert controller.dialect.feed_hold is None and controller.dialect.status_query is None
    assert controller.dialect.position_line() == "M114.2"  # the machine position
    assert controller.poll_interval == 0.25 and controller.timeout_s == 3.0
    assert controller.axis_map["B"] == "C" and controller.axis_map["C"] == "B"
    assert controller.port == "tcp://127.0.0.1:1"
    assert controller.moves_during_interlock is True


def test_grbl_holds_motion_behind_its_door_the_others_do_not() -> None:
    for dialect, moves in (("grbl", False), ("marlin", True), ("smoothie", True)):
        config = config_from_dict({"controller": {"kind": "gcode", "dialect": dialect,
                                                  "port": "tcp://127.0.0.1:1"}})
        controller, _ = create_controller(config)
        assert controller.moves_during_interlock is moves, dialect


def test_a_simulated_robot_runs_on_real_time() -> None:
    controller, clock = create_controller(config_from_dict({}))
    assert isinstance(controller, SimulatedController)
    assert not clock.is_virtual and controller.clock is clock


@pytest.mark.parametrize(("table", "message"), [
    ({"dialect": "reprap"}, "controller.dialect: 'reprap' is not one of 'grbl', 'marlin', "
                            "'smoothie'"),
    ({"axis_map": {"Q": "X"}}, "controller.axis_map.Q: axis 'Q' is not defined under [axes]"),
    ({"axis_map": "B=E"}, "controller.axis_map: expected a table of axis letters"),
    ({"axis_map": {"B": 3}}, "controller.axis_map: expected a table of axis letters"),
    ({"kind": "gcode", "port": "/dev/ttyACM0", "axis_map": {"B": "E"}},
     "controller.axis_map: axis B: grbl has no axis 'E'"),
    ({"kind": "gcode", "port": "/dev/ttyACM0", "axis_map": {"B": "X"}},
     "controller.axis_map: axis_map sends two axes to one firmware letter"),
    ({"poll_interval": 0}, "controller.poll_interval: expected a positive number"),
    ({"timeout_s": -1}, "controller.timeout_s: expected a positive number"),
    ({"feed_hold": "yes"}, "controller.feed_hold: expected bool, got 'yes'"),
    ({"realtime_status": 1}, "controller.realtime_status: expected bool, got 1"),
    ({"baudrate": 1.5}, "controller.baudrate: expected int, got 1.5"),
    ({"baudrate": 0}, "controller.baudrate: expected a positive number, got 0"),
    ({"kind": "gcode", "port": "tcp://127.0.0.1:70000"},
     "controller.port: bad TCP address 'tcp://127.0.0.1:70000': the port number must be "
     "1 to 65535"),
    ({"kind": "gcode", "port": "tcp://127.0.0.1:abc"},
     "controller.port: bad TCP address 'tcp://127.0.0.1:abc'; expected tcp://host:port"),
    ({"colour": "red"}, "controller.colour: unknown key"),
])
def test_bad_controller_tables_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_dict({"controller": table})
    assert message in str(raised.value)


def test_marlin_may_drive_a_plunger_as_an_extruder(tmp_path: Path) -> None:
    path = tmp_path / "robot.toml"
    path.write_text('[controller]\nkind = "gcode"\ndialect = "marlin"\n'
                    'port = "/dev/ttyACM0"\naxis_map = { B = "E" }\n')
    config = load_config(path)
    assert dict(config.controller.axis_map) == {"B": "E"}
    controller, _ = create_controller(config)
    assert isinstance(controller, GcodeController) and controller.axis_map["B"] == "E"


def test_the_shipped_emulator_configurations() -> None:
    for dialect in EMULATOR_DIALECTS:
        config = emulator_config(dialect)
        assert config.controller.kind == "gcode" and config.controller.dialect == dialect
        assert config.controller.port == "tcp://127.0.0.1:7800"
        assert load_config(emulator_config_path(dialect)) == config
    with pytest.raises(ConfigError, match=r"controller\.dialect: 'reprap'"):
        emulator_config("reprap")


def test_a_robot_file_removes_axes_mounts_and_interlocks(tmp_path: Path) -> None:
    path = tmp_path / "gantry.toml"
    path.write_text('[axes]\nA = false\nB = false\nC = false\n[axes.Z]\nhoming = "none"\n'
                    '[mounts]\nright = false\n[mounts.left]\nplunger_axis = ""\n'
                    '[interlocks]\ndoor = false\n')
    config = load_config(path)
    assert list(config.axes) == ["X", "Y", "Z"] and config.axes["Z"].homing == "none"
    assert list(config.mounts) == ["left"] and config.plunger_axes == ()
    assert config.z_axes == ("Z",) and dict(config.interlocks) == {}


@pytest.mark.parametrize(("data", "message"), [
    ({"axes": {"X": False}}, "axes.X: the gantry axis X cannot be removed"),
    ({"axes": {"Q": False}}, "axes.Q: cannot remove 'Q': it is not defined"),
    ({"axes": {"B": False}}, "mounts.left.plunger_axis: axis 'B' is not defined under [axes]"),
    ({"mounts": {"left": {"plunger_axis": "Z"}}}, "mounts.left.plunger_axis: axis 'Z' is "
     "already mounts.left.z_axis; every mount needs a Z axis and a plunger axis of its own"),
    ({"mounts": {"left": {"plunger_axis": "X"}}},
     "mounts.left.plunger_axis: axis 'X' is already a gantry axis"),
    ({"mounts": {"right": {"z_axis": "Z"}}},
     "mounts.right.z_axis: axis 'Z' is already mounts.left.z_axis"),
    ({"mounts": {"right": {"plunger_axis": "B"}}},
     "mounts.right.plunger_axis: axis 'B' is already mounts.left.plunger_axis"),
    ({"mounts": {"left": False, "right": False}}, "mounts: a robot needs at least one mount"),
    ({"axes": {"X": {"homing": "optical"}}},
     "axes.X.homing: 'optical' is not one of 'switch', 'none'"),
    # Numbers a controller would divide by, or send as a feed rate: refused when the
    # file is read, not as an internal error blamed on the protocol's first move.
    ({"axes": {"X": {"acceleration": 0}}},
     "axes.X.acceleration: expected a positive number of mm/s^2, got 0.0"),
    ({"axes": {"Y": {"max_speed": -600}}},
     "axes.Y.max_speed: expected a positive number of mm/s, got -600.0"),
    ({"axes": {"Y": {"max_speed": float("nan")}}},
     "axes.Y.max_speed: expected a positive number of mm/s, got nan"),
    ({"axes": {"B": {"steps_per_mm": 0}}},
     "axes.B.steps_per_mm: expected a positive number of steps a mm, got 0.0"),
    ({"axes": {"Z": {"run_current": -1}}},
     "axes.Z.run_current: expected a current in A, 0 or more, got -1.0"),
    ({"axes": {"X": {"min": 418, "max": 0}}},
     "axes.X: the travel min = 418.0 .. max = 0.0 must be finite with min below max"),
    # The home the file did not write is named as the default it is.
    ({"axes": {"X": {"max": 300}}}, "axes.X: max = 300 leaves its home, 418 (the default), "
                                    "outside the travel [0, 300]; set axes.X.home too"),
    ({"axes": {"X": {"max": 300, "home": 350}}},
     "axes.X.home: 350 is outside the axis' travel [0, 300]"),
    # Where a pause parks: found when the file is read, not at the first pause.
    ({"park_position": [500, 330]},
     "park_position: X 500 mm is outside the travel of axis X [0, 418]"),
    ({"safe_height": 500}, "safe_height: 500 mm is outside the travel of axis Z [0, 218]"),
    ({"safe_height": float("nan")}, "safe_height: nan mm is outside the travel of axis Z"),
    # A plunger is held while parked, never switched off (an X axis may idle at 0 A)
    ({"axes": {"C": {"idle_current": 0}, "X": {"idle_current": 0}}},
     "axes.C.idle_current: 0 A would switch plunger C's motor off while the robot is "
     "paused, and the plunger of a tip holding liquid could slip; give it a holding current "
     "(an OT-2's is 0.05 A)"),
])
def test_bad_axes_and_mounts_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_dict(data)
    assert message in str(raised.value)


def test_a_robot_file_error_names_the_line_that_wrote_the_key(tmp_path: Path) -> None:
    """The line of the key (an array written over several lines counted whole), or of
    the nearest table above it that the file writes."""
    path = tmp_path / "robot.toml"
    path.write_text('name = "bench"\npark_position = [\n  10,\n  20,\n]\n\n'
                    '[controller]\nkind = "gcode"\n')
    with pytest.raises(ConfigError) as caught:  # a key it does not write: its table's line
        load_config(path)
    assert str(caught.value).startswith(f"{path}:7: controller.port: a G-code controller")
    path.write_text(path.read_text() + 'port = "/dev/ttyACM0"\ndialect = "reprap"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:10: controller.dialect: 'reprap'")
    path.write_text('[mounts.left]\nz_axis = "Q"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"{path}:2: mounts.left.z_axis: axis 'Q' is not defined "
                                 "under [axes]")


def test_strings_and_comments_hide_no_table_and_make_none() -> None:
    """A bracket or a key inside a string or a comment is no table or key: a wrong line is
    worse than none."""
    text = ('name = "bench [old"\n'
            '# travel [0, 300)\n'
            'notes = """\n'
            'stesp_per_mm = 1\n'
            '[axes.Y]\n'
            '"""\n'
            '[axes.X]  # the gantry\n'
            'max = 400  # mm [really]\n'
            'stesp_per_mm = 80\n')
    assert [line_of_key(text, key) for key in (
        "axes.X.stesp_per_mm", "axes.X.max", "axes.X", "axes.Y", "notes", "name")] == [
        9, 8, 7, None, 3, 1]
