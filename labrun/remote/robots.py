"""The robot a run manager drives: one robot for every run, and the clock of its runs.

A ``Robot`` lives in the process that runs the protocols: under ``labrun serve`` the run
worker (``runner``), which the server drives through ``supervisor.SupervisedRobot``; the
tests and benchmarks may also make one in the server's process. It is built by
``hardware.robot.open_robot`` (the one place that builds robots):

- ``simulated_robot``: ``labrun serve --simulate`` uses the simulated controller on
  *real* time (optionally sped up), not the virtual clock: runs take the time the robot
  would take, so there is something to watch and to pause, and a paused run waits for
  ``re_resume`` instead of continuing by itself as ``labrun simulate`` does.
- ``hardware_robot``: a G-code board (``--robot``), or labrun's emulator started in
  the same process (``--emulate``), connected in a hardware thread of its own, as ``labrun
  run`` does, for the life of that process.

The robot stays where the last run left it; a robot that needs homing (at connection,
after a halt) is homed before the next run starts. The robot's clock runs for the life of
its process; each run reads it through a ``RunClock`` of its own that starts at zero, so
its record and summary give the run's own times.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from engine.bridge import LoopClosedError
from engine.run import Run
from engine.state import status_of
from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.controller import HardwareFault, MotionController
from hardware.devices import Device
from hardware.factory import emulator_config
from hardware.robot import Robot as HardwareRobot
from hardware.robot import open_robot
from hardware.simulated import SimulatedController
from protocol_api.execute import create_run

from .served import ActiveRun, RunHooks, ServedRun

if TYPE_CHECKING:
    from .items import QueueItem


HOMING_HALTED = "its homing was halted (re_halt); it homes again before it moves"
HALTED_BEFORE_HOMING = "halted (re_halt) before it homed"
"""Why the robot was not homed for the next run: an emergency stop cut its homing off."""


def unconfirmed_stop(fault: HardwareFault) -> str:
    """What an emergency stop the controller did not confirm (``fault``) leaves, as a
    run's halt says it: the robot may still be moving."""
    return (f"the controller did not confirm the emergency stop ({fault}): it may still be "
            "moving; cut its power")


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
                 hardware: HardwareRobot | None = None, emulated: bool = False) -> None:
        self.config = config
        self.controller = controller
        self.clock = clock
        self.kind = kind
        self.simulating = simulating
        self.emulated = emulated  # labrun's emulator, started here with the server
        self.door = door
        self._hardware = hardware
        self._homing: anyio.CancelScope | None = None  # a homing cycle going on
        self._getting_ready = False  # in home_if_needed
        self._halt_asked = False  # halt_homing, before the homing began

    @classmethod
    def serving(cls, robot: HardwareRobot, *, simulating: bool,
                emulated: bool = False) -> Robot:
        """The robot ``open_robot`` built, as the run manager drives it."""
        return cls(robot.config, robot.controller, robot.clock, kind=robot.kind,
                   simulating=simulating, door=robot.door, hardware=robot, emulated=emulated)

    @property
    def simulated(self) -> SimulatedController | None:
        """The simulated controller, when that is what drives the robot."""
        controller = self.controller
        return controller if isinstance(controller, SimulatedController) else None

    @property
    def devices(self) -> dict[str, Device]:
        """The robot's hardware modules (none configured: a simulated robot simulates them)."""
        return self._hardware.devices if self._hardware is not None else {}

    @property
    def speed(self) -> float:
        """How much faster than real time the robot's clock runs."""
        return float(getattr(self.clock, "speed", 1.0))

    def run_clock(self) -> RunClock:
        """A clock for the next run, starting at zero now."""
        return RunClock(self.clock)

    def interlocks(self) -> tuple[str, ...]:
        """The robot's active interlocks."""
        return tuple(sorted(self.controller.active_interlocks()))

    def listen_interlocks(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` when an interlock changes between runs (None: stop)."""
        self.controller.set_interlock_listener(
            None if callback is None else lambda name, active: callback())

    async def set_interlock(self, name: str, active: bool,
                            run: ActiveRun | None) -> str | None:
        """Set a simulated interlock (or the emulator's door), through ``run``'s engine
        while it goes; the reason if this robot's interlocks cannot be set."""
        engine_run = run.run if isinstance(run, ServedRun) else None
        return await set_interlock(self.controller, self.door, name, active, engine_run)

    async def start_run(self, item: QueueItem, *, record_path: Path | None,
                        labware_dirs: list[str], started_at: float,
                        hooks: RunHooks) -> ActiveRun:
        """Make ``item``'s run on this robot, served through ``hooks``; not yet played."""
        run = create_run(item.path, config=self.config, controller=self.controller,
                         clock=self.run_clock(), record_path=record_path,
                         simulating=self.simulating, labware_dirs=labware_dirs,
                         devices=self.devices, shown_as=item.name, run_id=item.item_uid)
        served = ServedRun(item, run, hooks=hooks, owned=True, started_at=started_at)
        served.want_records()  # the progress reads every event
        served.attach()
        return served

    async def home_if_needed(self) -> None:
        """Home the robot if it must be (just connected, or halted); HardwareFault if not,
        or if ``halt_homing`` came first. A connection lost since the last run (between
        runs, nobody notices) is opened again first, rather than fail every later run at
        once."""
        self._getting_ready, self._halt_asked = True, False
        try:
            await self.controller.connect()
            if not self.controller.requires_homing:
                return
            if self._halt_asked:  # while it connected: it does not start homing
                raise HardwareFault(HALTED_BEFORE_HOMING)
            with anyio.CancelScope() as homing:
                self._homing = homing
                try:
                    await self.controller.home()
                finally:
                    self._homing = None
            if homing.cancelled_caught:
                raise HardwareFault(HOMING_HALTED)
        finally:
            self._getting_ready = False

    async def halt_homing(self) -> str | None:
        """An emergency stop of a homing cycle going on (between two runs, nobody's run
        has the robot): the controller's emergency stop, and the cycle cut off. None when
        none was going on; else why the robot may still be moving (``unconfirmed_stop``),
        empty when the controller confirmed its stop. The robot homes again before it next
        moves. Asked while the robot is connected before it homes, it does not start
        homing."""
        homing = self._homing
        if homing is None:
            self._halt_asked = self._getting_ready
            return None
        homing.cancel()
        try:
            await self.controller.emergency_stop()
        except HardwareFault as exc:  # its link gone: nothing says the axes have stopped
            return unconfirmed_stop(exc)
        return ""

    def describe(self) -> dict[str, Any]:
        """Name, kind and speed (how much faster than real time its clock runs), for the
        status."""
        return {"name": self.config.name, "kind": self.kind, "speed": self.speed}

    def close(self) -> None:
        """Disconnect and release what the robot holds (the hardware thread, an emulator)."""
        if self._hardware is not None:
            self._hardware.close()


async def set_interlock(controller: MotionController, door: Callable[[bool], None] | None,
                        name: str, active: bool, run: Run | None) -> str | None:
    """Set interlock ``name`` of a simulated ``controller`` (in ``run``'s engine loop while
    ``run`` goes), or the emulator's ``door`` input; the reason if neither is there."""
    if not isinstance(controller, SimulatedController):
        if door is None:
            return "only a simulated or emulated robot's interlocks can be set through the API"
        if name != "door":
            return f"this robot has no interlock {name[:40]!r}; its interlocks: door"
        door(active)  # the emulator's door input: the firmware reports it
        return None
    simulated = controller
    known = sorted(simulated.config.interlocks)
    if name not in known:
        return (f"this robot has no interlock {name[:40]!r}; its interlocks: "
                f"{', '.join(known) or 'none'}")

    def apply() -> bool:
        simulated.set_interlock(name, active)
        return True

    if run is not None and not status_of(run.engine.state).is_terminal:
        try:
            await run.acall(apply, 10.0)
        except (LoopClosedError, TimeoutError):
            apply()  # the run ended meanwhile: nobody listens to the door
    else:
        apply()
    return None


def simulated_robot(config: RobotConfig, *, speed: float = 1.0,
                    virtual: bool = False) -> Robot:
    """The simulated robot on real time sped up by ``speed`` (or on a virtual clock)."""
    return Robot.serving(open_robot(config, speed=speed, virtual=virtual), simulating=True)


def emulated_robot(config: RobotConfig | None = None, *, dialect: str | None = None,
                   speed: float = 1.0) -> Robot:
    """labrun's emulator of ``dialect`` (default: the configuration's, or GRBL), started
    here, playing ``config`` (default: the shipped emulator robot)."""
    config, dialect = emulator_setup(config, dialect)
    return hardware_robot(config, emulate=dialect, speed=speed)


def emulator_setup(config: RobotConfig | None,
                   dialect: str | None) -> tuple[RobotConfig, str]:
    """The robot and the firmware dialect labrun's emulator plays: by default the shipped
    emulator robot, and the configuration's dialect (or GRBL)."""
    if config is None:
        config = emulator_config(dialect or "grbl")
    if dialect is None:
        dialect = config.controller.dialect if config.controller.kind == "gcode" else "grbl"
    return config, dialect


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
    return Robot.serving(robot, simulating=False, emulated=emulate is not None)
