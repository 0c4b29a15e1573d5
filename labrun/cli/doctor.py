"""``labrun doctor --robot ROBOT.toml``: what answers on the robot's ports, and where the
robot file disagrees with it, without moving anything unless asked (``--home``).

It connects to the controller (which sends only the dialect's mode lines, ``G21``
``G90``), says what firmware answered, its axes and the settings that matter
(``hardware.gcode.inspect``), then asks each ``[modules.<name>]`` what it is and reads
its state. Exit status 0 when everything answered and agrees, 1 otherwise, 2 for a
robot file that cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import anyio

from hardware.clock import RealClock
from hardware.config import ConfigError, RobotConfig, load_config
from hardware.controller import HardwareFault
from hardware.gcode import GcodeController
from hardware.gcode.inspect import Inspection, inspect_controller
from hardware.modules.serial import serial_module

from .driver_warnings import driver_warnings
from .exits import NOT_STARTED_EXIT
from .robot_lock import RobotInUse, hold_robot, robot_lock_file


def add_parser(commands: Any) -> None:
    """Register the ``doctor`` sub-command."""
    parser = commands.add_parser(
        "doctor", help="check a robot: what firmware answers and what the robot file gets wrong",
        description="Connect to the robot's controller and modules, say what answered "
                    "(firmware, axes, the settings that matter) and what in the robot file "
                    "disagrees with it. Nothing moves unless --home is given.")
    parser.add_argument("--robot", required=True, metavar="ROBOT.toml",
                        help="the robot configuration to check")
    parser.add_argument("--home", action="store_true",
                        help="also run the homing cycle and compare where the axes end up "
                             "with the robot file's home positions (the robot moves)")
    parser.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    """Check the robot; return the exit status."""
    try:
        config = load_config(args.robot)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.controller.kind != "gcode" and not config.modules:
        print(f"error: {args.robot} describes a simulated robot with no modules: "
              "nothing to connect to", file=sys.stderr)
        return 2
    try:  # asking the controller while another labrun drives it would confuse both
        held = hold_robot(  # noqa: F841 - held until labrun exits
            robot_lock_file(config), "labrun doctor",
            robot=f"the robot at {config.controller.port}")
    except RobotInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NOT_STARTED_EXIT
    # Its warnings found at connection are listed with the controller's answers.
    with driver_warnings(at_connection=False):
        return anyio.run(doctor, config, args.home, sys.stdout)


async def doctor(config: RobotConfig, home: bool, out: TextIO) -> int:
    """Check the robot `config` describes, writing to `out`; the exit status."""
    print(f"robot: {config.name}", file=out)
    problems = 0
    if config.controller.kind == "gcode":
        problems += await _controller(config, home, out)
    for name in config.modules:
        problems += await _module(config, name, out)
    if problems:
        print(f"{problems} problem{'s' if problems != 1 else ''} found", file=out)
    else:
        print("the robot file agrees with what answered", file=out)
    if not home:
        print("nothing was moved (--home runs the homing cycle)", file=out)
    return 1 if problems else 0


async def _controller(config: RobotConfig, home: bool, out: TextIO) -> int:
    ctl = config.controller
    print(f"controller: {ctl.dialect} on {ctl.port}", file=out)
    driver = GcodeController(config, check_settings=False)  # it lists them
    try:
        await driver.connect()
    except HardwareFault as exc:
        print(f"  no answer: {exc}", file=out)
        return 1
    found: Inspection | None = None
    failure: HardwareFault | None = None
    try:
        found = await inspect_controller(driver)
        if home:
            _homed(config, await driver.home(), found)
    except HardwareFault as exc:
        failure = exc  # what was found before it (a homing cycle that failed) is said too
    finally:
        await driver.disconnect()
    if found is not None:
        for label, text in found.facts:
            print(f"  {label}: {text}", file=out)
        for disagreement in found.disagreements:
            print(f"  DISAGREES: {disagreement}", file=out)
    if failure is not None:
        print(f"  failed: {failure}", file=out)
    return (len(found.disagreements) if found is not None else 0) + (failure is not None)


def _homed(config: RobotConfig, position: dict[str, float], found: Inspection) -> None:
    found.fact("homed at", ", ".join(f"{a} {v:g}" for a, v in position.items()))
    for axis, value in position.items():
        expected = config.axes[axis].home
        if abs(value - expected) > 0.05:
            found.disagreements.append(f"axis {axis} homed at {value:g}, the robot file's "
                                       f"home is {expected:g}")


async def _module(config: RobotConfig, name: str, out: TextIO) -> int:
    module = config.modules[name]
    model = f" ({module.model})" if module.model else ""
    print(f"module {name}: {module.kind}{model} on {module.port}", file=out)
    device = serial_module(module.kind, name, module.port, RealClock(),
                           baudrate=module.baudrate, timeout_s=module.timeout_s,
                           model=module.model)
    try:
        with anyio.fail_after(module.timeout_s * 2):
            await device.connect()
    except (HardwareFault, TimeoutError) as exc:
        print(f"  FAILED: {str(exc) or f'no answer within {module.timeout_s * 2:g} s'}",
              file=out)
        return 1
    try:
        print(f"  firmware: {device.firmware}", file=out)
        status = {k: v for k, v in device.status().items() if k not in ("kind", "name", "port")}
        print("  " + ", ".join(f"{k} {v}" for k, v in status.items()), file=out)
    finally:
        await device.disconnect()
    return 0
