"""Runs on the emulated G-code robot with its modules' twins, as ``labrun run --emulate``
makes them: the robot file's controller, clock and devices behind ``create_run``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.run import Run
from hardware.config import RobotConfig, load_config
from hardware.robot import Robot, open_robot
from protocol_api.execute import create_run

MODULES_EXAMPLE = Path(__file__).parents[2] / "hardware" / "robots" / "modules_example.toml"
"""The robot file with one module of each kind."""

WAIT_S = 60.0


@contextmanager
def emulated_run(protocol: Path, *, config: RobotConfig | None = None, speed: float = 50.0,
                 record: Path | None = None) -> Iterator[tuple[Robot, Run]]:
    """``protocol`` on the emulated GRBL robot of ``config`` (``MODULES_EXAMPLE``'s if
    None), homed, its clock sped up ``speed`` times; the run record written to ``record``
    (beside the protocol if None)."""
    config = config if config is not None else load_config(MODULES_EXAMPLE)
    robot = open_robot(config, emulate="grbl", speed=speed)
    try:
        robot.connect()
        robot.home()
        run = create_run(protocol, config=robot.config, controller=robot.controller,
                         clock=robot.clock,  # sped up as the emulator is
                         record_path=record or protocol.with_name("record.jsonl"),
                         simulating=False, devices=robot.devices)
        try:
            yield robot, run
        finally:
            run.close()
    finally:
        robot.close()


def wait_until(predicate: Callable[[], bool], what: str, limit: float = WAIT_S) -> None:
    """Poll ``predicate`` (every 5 ms of wall time) until it holds; fail after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def grbl_robot_file(directory: Path, address: str) -> Path:
    """``directory/robot.toml``: a GRBL controller at ``address`` (labrun's emulator on a
    socket or a pseudo-terminal), with short timeouts for tests."""
    path = directory / "robot.toml"
    path.write_text(f'name = "bench"\n[controller]\nkind = "gcode"\ndialect = "grbl"\n'
                    f'port = "{address}"\ntimeout_s = 2.0\npoll_interval = 0.05\n')
    return path
