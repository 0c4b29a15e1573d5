"""Modules in the robot file: ``[modules.<name>]`` tables, checked, and built into
``Robot.devices`` by ``open_robot`` (emulated twins with ``emulate``)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hardware.config import ConfigError, config_from_dict, load_config
from hardware.robot import open_robot

EXAMPLE = Path(__file__).parents[3] / "hardware" / "robots" / "modules_example.toml"


def test_the_example_robot_file_names_all_four_modules() -> None:
    config = load_config(EXAMPLE)
    assert {name: m.kind for name, m in config.modules.items()} == {
        "temperature": "temperature", "magnet": "magnetic", "thermocycler": "thermocycler",
        "heater_shaker": "heater_shaker"}
    assert config.modules["thermocycler"].heaters_off_on_stop is True
    assert config.modules["magnet"].port == "/dev/ttyACM1"


@pytest.mark.parametrize(("table", "message"), [
    ({"kind": "centrifuge", "port": "/dev/x"}, r"modules\.m\.kind: 'centrifuge' is not"),
    ({"port": "/dev/x"}, r"modules\.m: missing key 'kind'"),
    ({"kind": "magnetic", "port": "/dev/x", "speed": 3}, r"modules\.m\.speed: unknown key"),
    ({"kind": "magnetic", "port": "/dev/x", "timeout_s": 0}, r"modules\.m\.timeout_s"),
])
def test_a_bad_module_table_names_its_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"modules": {"m": table}})


def test_a_real_robot_needs_each_module_port() -> None:
    with pytest.raises(ConfigError, match=r"modules\.m\.port"):
        config_from_dict({"controller": {"kind": "gcode", "port": "/dev/ttyUSB0"},
                          "modules": {"m": {"kind": "magnetic"}}})


def test_emulate_starts_twins_and_the_devices_work_from_another_loop() -> None:
    robot = open_robot(load_config(EXAMPLE), emulate="grbl", speed=200)
    try:
        assert sorted(robot.devices) == ["heater_shaker", "magnet", "temperature",
                                         "thermocycler"]
        assert all(robot.config.modules[n].port.startswith("/dev/") for n in robot.devices)
        robot.connect()
        magnet = robot.devices["magnet"]
        shaker = robot.devices["heater_shaker"]

        async def run() -> None:  # a run's own loop, as the engine's
            with anyio.fail_after(30):
                await magnet.call("engage", {"height_mm": 8})
                await shaker.call("set_shake_speed", {"rpm": 800})
                await shaker.park()
                assert shaker.status()["target_rpm"] == 0
                await shaker.unpark()
                await shaker.deactivate()

        anyio.run(run)
        assert magnet.status()["height_mm"] == 8.0
        assert shaker.status()["rpm"] == 0.0
    finally:
        robot.close()
