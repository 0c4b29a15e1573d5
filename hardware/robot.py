"""One place that builds a robot: its motion controller, its devices, its clock.

``open_robot`` turns a robot configuration into a ``Robot`` ready to run protocols:

- the simulated controller, on a virtual clock (``labrun simulate``) or on real time
  sped up ``speed`` times (``labrun serve --simulate``);
- a G-code board (``controller.kind = "gcode"``), or labrun's emulator of a firmware
  started here (``emulate="grbl"``...), connected in a hardware thread of its own so the
  connection outlives every run (``hardware.threaded``);
- beside it, the modules the robot file names (``[modules.<name>]``), driven over their
  serial ports in the same thread, or over emulated twins started here with ``emulate``.

``Robot.close()`` disconnects and releases what it holds (the thread, the emulator).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from .clock import Clock, RealClock, VirtualClock
from .config import RobotConfig
from .controller import HardwareFault, MotionController
from .devices import Device, runs_in_hardware_thread
from .frozen import replace
from .simulated import SimulatedController

if TYPE_CHECKING:  # imported where a real connection is opened: simulate stays fast
    from anyio.from_thread import BlockingPortal

    from .emulator.modules import ModuleTwins

T = TypeVar("T")
DISCONNECT_TIMEOUT_S = 5.0


class Robot:
    """A robot ready to run: controller, devices, clock, and what it holds open."""

    def __init__(self, config: RobotConfig, controller: MotionController, clock: Clock, *,
                 devices: dict[str, Device] | None = None, kind: str,
                 door: Callable[[bool], None] | None = None,
                 connection: tuple[MotionController, BlockingPortal] | None = None,
                 resources: contextlib.ExitStack | None = None,
                 twins: ModuleTwins | None = None) -> None:
        self.config = config
        self.controller = controller
        self.clock = clock
        self.devices: dict[str, Device] = devices or {}
        self.kind = kind
        self.door = door  # opens/closes an emulated or simulated robot's door, else None
        self.twins = twins  # the modules' emulated twins, when started here
        # A real connection: the driver itself and the hardware thread's loop it lives in
        # (``controller`` is its face for the runs' loops).
        self._connection = connection
        self._resources = resources

    @property
    def simulated(self) -> SimulatedController | None:
        """The simulated controller, when that is what drives the robot."""
        controller = self.controller
        return controller if isinstance(controller, SimulatedController) else None

    @property
    def driver(self) -> MotionController:
        """The controller itself, in its own thread for a real connection (read-only use:
        its properties, such as the last position it reported)."""
        return self._connection[0] if self._connection is not None else self.controller

    def connect(self) -> None:
        """Open the connection to the controller and to each serial module (from a thread
        with no event loop); HardwareFault if one does not answer."""
        self.in_hardware_thread(lambda controller: controller.connect())
        for device in self.devices.values():
            if runs_in_hardware_thread(device):  # its connection lives in that thread
                from .threaded import ThreadedDevice  # imported already, if there is one

                assert isinstance(device, ThreadedDevice)
                self.in_hardware_thread(partial(_connect_device, device.inner))

    def home(self) -> dict[str, float]:
        """Home every axis (from a thread with no event loop); where the axes are."""
        return self.in_hardware_thread(lambda controller: controller.home())

    def in_hardware_thread(self, fn: Callable[[MotionController], Awaitable[T]]) -> T:
        """Run ``fn(driver)`` where the connection lives, from a thread with no event loop,
        and return its value (a G-code line to send before a run, a position to read)."""
        if self._connection is not None:
            driver, portal = self._connection
            return _in_portal(portal, lambda: fn(driver))

        async def run() -> T:
            return await fn(self.controller)

        import anyio

        return anyio.run(run)

    def close(self) -> None:
        """Disconnect and release what the robot holds."""
        if self._resources is not None:
            self._resources.close()


def open_robot(config: RobotConfig, *, emulate: str | None = None, speed: float = 1.0,
               virtual: bool = False, clock: Clock | None = None,
               announce: Callable[[str], None] | None = None) -> Robot:
    """The robot ``config`` names, its connection opened in a hardware thread of its own
    (not yet connected to the controller); with ``emulate`` (a dialect), labrun's
    emulator of that firmware is started here and driven over a real socket.

    A simulated robot runs on ``clock`` if given, else on a virtual clock when
    ``virtual``, else on real time sped up ``speed`` times; an emulated one's clock (the
    runs') is real time sped up ``speed`` times too, as its emulator moves. ``announce``
    is told what was started (the emulator's address).
    """
    if (config.controller.kind == "simulated" and emulate is None) or clock is not None:
        if clock is None:
            clock = VirtualClock() if virtual else RealClock(speed)
        controller = SimulatedController(config, clock)
        kind = ("simulated, virtual clock" if clock.is_virtual
                else f"simulated, real time x{speed:g}")
        return Robot(config, controller, clock, kind=kind,
                     door=lambda active: controller.set_interlock("door", active))
    import anyio
    from anyio.from_thread import start_blocking_portal

    from .emulator import running_emulator
    from .factory import create_controller
    from .modules.serial import serial_module
    from .threaded import ThreadedController, ThreadedDevice

    stack = contextlib.ExitStack()
    try:
        door: Callable[[bool], None] | None = None
        twins: ModuleTwins | None = None
        if emulate is not None:
            emulator = stack.enter_context(running_emulator(emulate, speed=speed,
                                                            config=config))
            config = replace(config, controller=replace(
                config.controller, kind="gcode", dialect=emulate, port=emulator.address))
            door = emulator.set_door
            if announce is not None:
                announce(f"emulator: {emulate} on {emulator.address} (speed x{speed:g})")
            if config.modules:
                config, twins = _with_twins(config, stack, speed, announce)
        portal = stack.enter_context(start_blocking_portal())
        inner, real_clock = create_controller(config)
        threaded = ThreadedController(inner, portal)
        stack.callback(threaded.close)
        modules = {name: serial_module(m.kind, name, m.port, real_clock, baudrate=m.baudrate,
                                       timeout_s=m.timeout_s,
                                       heaters_off_on_stop=m.heaters_off_on_stop,
                                       model=m.model)
                   for name, m in config.modules.items()}
        devices: dict[str, Device] = {name: ThreadedDevice(module, threaded)
                                      for name, module in modules.items()}

        async def disconnect() -> None:
            with anyio.move_on_after(DISCONNECT_TIMEOUT_S), \
                    contextlib.suppress(HardwareFault):
                for module in modules.values():
                    await module.disconnect()
                await inner.disconnect()

        stack.callback(lambda: _quietly(lambda: portal.call(disconnect)))
    except BaseException:
        stack.close()
        raise
    kind = (f"emulated {emulate} (x{speed:g})" if emulate
            else f"{config.controller.kind} {config.controller.dialect}")
    # On the emulator the run's clock (its delays, the record's times) keeps pace with
    # the emulated robot; the driver and the modules' polling keep real time.
    clock = RealClock(speed) if emulate is not None and speed != 1.0 else real_clock
    return Robot(config, threaded, clock, devices=devices, kind=kind, door=door,
                 connection=(inner, portal), resources=stack, twins=twins)


def _with_twins(config: RobotConfig, stack: contextlib.ExitStack, speed: float,
                announce: Callable[[str], None] | None) -> tuple[RobotConfig, ModuleTwins]:
    """Start an emulated twin of each module (held by ``stack``); ``config`` with their
    pseudo-terminals as the modules' ports, and the twins."""
    from .emulator.modules import running_module_twins

    twins = stack.enter_context(running_module_twins(
        {name: module.kind for name, module in config.modules.items()}, speed=speed,
        models={name: module.model for name, module in config.modules.items()}))
    if announce is not None:
        for name, module in config.modules.items():
            announce(f"emulated module: {name} ({module.kind}) on {twins.address(name)}")
    return replace(config, modules={
        name: replace(module, port=twins.address(name))
        for name, module in config.modules.items()}), twins


async def _connect_device(device: Device, _controller: MotionController) -> None:
    await device.connect()


def _in_portal(portal: BlockingPortal, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn()`` in the portal's loop; Ctrl-C cancels it and waits for the controller
    to stop the axes."""
    finished = threading.Event()

    async def job() -> T:
        try:
            return await fn()
        finally:
            finished.set()

    future = portal.start_task_soon(job)
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        finished.wait(DISCONNECT_TIMEOUT_S)
        raise


def _quietly(fn: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        fn()
