"""The robot a run manager drives: one robot for every run, and the clock of its runs.

The robot is built by ``hardware.robot.open_robot`` (the one place that builds robots):

- ``simulated_robot``: ``labrun serve --simulate`` uses the simulated controller on
  *real* time (optionally sped up), not the virtual clock: runs take the time the robot
  would take, so there is something to watch and to pause, and a paused run waits for
  ``re_resume`` instead of continuing by itself as ``labrun simulate`` does.
- ``hardware_robot``: a G-code board (``--robot``), or labrun's emulator started in
  this process (``--emulate``), connected in a hardware thread of its own, as ``labrun
  run`` does, for the life of the server.

The robot stays where the last run left it; a robot that needs homing (at connection,
after a halt) is homed before the next run starts. The robot's clock runs for the life of
the server; each run reads it through a ``RunClock`` of its own that starts at zero, so
its record and summary give the run's own times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.controller import HardwareFault, MotionController
from hardware.factory import emulator_config
from hardware.robot import Robot as HardwareRobot
from hardware.robot import open_robot
from hardware.simulated import SimulatedController


class RobotUnavailable(RuntimeError):
    """The robot cannot be built or connected (a missing driver, no answer)."""


class RunClock:
    """One run's clock: the robot's clock, read from the instant the run was made."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._origin = clock.now()
        self.is_virtual = clock.is_virtual

    def now(self) -> float:
        return self._clock.now() - self._origin

    async def sleep_until(self, deadline: float) -> None:
        await self._clock.sleep_until(self._origin + deadline)


class Robot:
    """A controller shared by the runs, their clock, and what clients are told."""

    def __init__(self, config: RobotConfig, controller: MotionController, clock: Clock, *,
                 kind: str, simulating: bool, door: Callable[[bool], None] | None = None,
                 hardware: HardwareRobot | None = None) -> None:
        self.config = config
        self.controller = controller
        self.clock = clock
        self.kind = kind
        self.simulating = simulating
        self.door = door
        self._hardware = hardware

    @classmethod
    def serving(cls, robot: HardwareRobot, *, simulating: bool) -> Robot:
        """The robot ``open_robot`` built, as the run manager drives it."""
        return cls(robot.config, robot.controller, robot.clock, kind=robot.kind,
                   simulating=simulating, door=robot.door, hardware=robot)

    @property
    def simulated(self) -> SimulatedController | None:
        """The simulated controller, when that is what drives the robot."""
        controller = self.controller
        return controller if isinstance(controller, SimulatedController) else None

    def run_clock(self) -> RunClock:
        """A clock for the next run, starting at zero now."""
        return RunClock(self.clock)

    def interlocks(self) -> tuple[str, ...]:
        """The robot's active interlocks."""
        return tuple(sorted(self.controller.active_interlocks()))

    async def home_if_needed(self) -> None:
        """Home the robot if it must be (just connected, or halted); HardwareFault if not."""
        if self.controller.requires_homing:
            await self.controller.home()

    def describe(self) -> dict[str, Any]:
        """Name and kind, for the status."""
        return {"name": self.config.name, "kind": self.kind}

    def close(self) -> None:
        """Disconnect and release what the robot holds (the hardware thread, an emulator)."""
        if self._hardware is not None:
            self._hardware.close()


def simulated_robot(config: RobotConfig, *, speed: float = 1.0,
                    virtual: bool = False) -> Robot:
    """The simulated robot on real time sped up by ``speed`` (or on a virtual clock)."""
    return Robot.serving(open_robot(config, speed=speed, virtual=virtual), simulating=True)


def emulated_robot(config: RobotConfig | None = None, *, dialect: str | None = None,
                   speed: float = 1.0) -> Robot:
    """labrun's emulator of ``dialect`` (default: the configuration's, or GRBL), started
    here, playing ``config`` (default: the shipped emulator robot)."""
    if config is None:
        config = emulator_config(dialect or "grbl")
    if dialect is None:
        dialect = config.controller.dialect if config.controller.kind == "gcode" else "grbl"
    return hardware_robot(config, emulate=dialect, speed=speed)


def hardware_robot(config: RobotConfig, *, emulate: str | None = None,
                   speed: float = 1.0) -> Robot:
    """The robot ``config`` names, connected; with ``emulate`` (a dialect), labrun's
    emulator of that firmware is started here and driven over a real socket."""
    if config.controller.kind == "simulated" and emulate is None:
        return simulated_robot(config)
    robot = open_robot(config, emulate=emulate, speed=speed)
    try:
        robot.connect()
    except HardwareFault as exc:
        robot.close()
        raise RobotUnavailable(f"cannot connect to the robot: {exc}") from None
    except BaseException:
        robot.close()
        raise
    return Robot.serving(robot, simulating=False)
