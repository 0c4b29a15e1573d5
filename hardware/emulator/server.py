"""Serving the emulator: over TCP or a pseudo-terminal, in this loop or a background thread.

- ``await serve_emulator("grbl", port=7800)``: run until cancelled (the CLI's path);
- ``with running_emulator("marlin", link="pty", speed=20) as emu:``: a background thread
  runs it; ``emu.address`` is ``tcp://127.0.0.1:<port>`` or the pty's slave path (give
  it to ``ControllerConfig.port``), and ``emu`` switches the door and faults from the
  calling thread.
- ``main(argv)``: ``labrun emulator --dialect grbl --port 7800 [--pty] [--speed 10]``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
from anyio.abc import SocketAttribute

from ..clock import RealClock, speed_problem
from ..config import ConfigError, RobotConfig, default_config, load_config
from .faults import Faults, Stats
from .firmware import FIRMWARES
from .links import PtyLink, TcpLink, hold_line
from .planner import Machine

log = logging.getLogger(__name__)

PLANNER_BLOCKS = {"grbl": 15, "marlin": 16, "smoothie": 32}
LinkKind = Literal["tcp", "pty"]
T = TypeVar("T")


class Emulator:
    """One emulated controller: a machine, its firmware, faults and statistics.

    Create it inside a running event loop; ``run`` serves it until cancelled.
    """

    def __init__(self, dialect: str = "grbl", *, config: RobotConfig | None = None,
                 speed: float = 1.0, planner_blocks: int | None = None,
                 busy_interval: float = 2.0, start_position: Mapping[str, float] | None = None,
                 home_position: Mapping[str, float] | None = None,
                 **firmware_options: Any) -> None:
        if dialect not in FIRMWARES:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of {sorted(FIRMWARES)}")
        self.config = config or default_config()
        axes = "".join(self.config.axes)
        if dialect != "marlin" and not "XYZABC".startswith(axes):
            raise ValueError(f"{dialect} reports positions in the order X Y Z A B C; this "
                             f"robot's axes {axes} must be a prefix of it")
        self.dialect = dialect
        self.clock = RealClock(speed)
        self.faults = Faults()
        self.stats = Stats()
        self.machine = Machine(self.config, self.clock,
                               planner_blocks=planner_blocks or PLANNER_BLOCKS[dialect],
                               start_position=start_position, home_position=home_position)
        self.firmware = FIRMWARES[dialect](self.machine, self.faults, self.stats,
                                           busy_interval=busy_interval, **firmware_options)
        self.address = ""

    async def run(self, link: LinkKind = "tcp", host: str = "127.0.0.1", port: int = 7800, *,
                  task_status: anyio.abc.TaskStatus[Emulator] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Serve until cancelled; ``address`` is set before ``task_status.started``."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.machine.ticker)
            if link == "pty":
                await self._serve_pty(task_status)
            else:
                listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
                async with listener:  # closed when the emulator stops, not when collected
                    bound = listener.extra(SocketAttribute.local_port)
                    self.address = f"tcp://{host}:{bound}"
                    task_status.started(self)
                    await listener.serve(self._serve_tcp)

    async def _serve_tcp(self, stream: anyio.abc.SocketStream) -> None:
        stream.extra(SocketAttribute.raw_socket).setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self.firmware.serve(TcpLink(stream))
        except Exception:  # one broken session must not take the listener down
            log.exception("emulator session failed")

    async def _serve_pty(self, task_status: anyio.abc.TaskStatus[Emulator]) -> None:
        # The path is published once the power-up banner is out, as with a real board
        # that has booted before anyone opens its port.
        pty = PtyLink()
        self.address = pty.path
        async with anyio.create_task_group() as tg:
            await tg.start(partial(self.firmware.serve, pty))
            task_status.started(self)
        while True:  # a dropped pty is replaced by a new one (with a new path)
            pty = PtyLink()
            self.address = pty.path
            await self.firmware.serve(pty)

    async def set_door(self, open_: bool) -> None:
        """Open (True) or close the door input."""
        await self.firmware.on_door(open_)

    async def drop_connection(self) -> None:
        """Fault: close the host's connection now."""
        await self.firmware.drop()

    def position(self) -> dict[str, float]:
        """Where the emulated axes are now (mm)."""
        return self.machine.current_position()


async def serve_emulator(dialect: str = "grbl", host: str = "127.0.0.1", port: int = 7800,
                         speed: float = 1.0, *, link: LinkKind = "tcp",
                         config: RobotConfig | None = None,
                         task_status: anyio.abc.TaskStatus[Emulator] = anyio.TASK_STATUS_IGNORED,
                         **options: Any) -> None:
    """Run an emulated ``dialect`` controller on ``host:port`` (or a pty) until cancelled."""
    emulator = Emulator(dialect, config=config, speed=speed, **options)
    await emulator.run(link, host, port, task_status=task_status)


class EmulatorHandle:
    """An emulator running in a background thread, controlled from this one."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, emulator: Emulator) -> None:
        self._portal = portal
        self.emulator = emulator

    @property
    def address(self) -> str:
        """``tcp://127.0.0.1:<port>`` or the pseudo-terminal's path."""
        return self.emulator.address

    @property
    def faults(self) -> Faults:
        return self.emulator.faults

    @property
    def stats(self) -> Stats:
        return self.emulator.stats

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the plain function ``fn(*args)`` in the emulator's loop; return its result."""
        return self._portal.call(fn, *args)

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run the coroutine function ``fn(*args)`` in the emulator's loop; its result."""
        return self._portal.call(fn, *args)

    def set_door(self, open_: bool) -> None:
        """Open (True) or close the door, as a person at the robot would."""
        self._portal.call(self.emulator.set_door, open_)

    def drop_connection(self) -> None:
        """Fault: close the host's connection now."""
        self._portal.call(self.emulator.drop_connection)

    def position(self) -> dict[str, float]:
        """Where the emulated axes are now (mm)."""
        return self.call(self.emulator.position)

    def hold_line(self, held: bool) -> None:
        """Fault: hold the pseudo-terminal's line (True) as a board does with flow
        control, or one whose firmware stopped reading it: labrun's writes wait until it is
        let go (False)."""
        self._portal.call(hold_line, self.emulator.firmware.link, held)

    @property
    def homed(self) -> set[str]:
        return set(self.emulator.machine.homed)


@contextmanager
def running_emulator(dialect: str = "grbl", *, link: LinkKind = "tcp",
                     host: str = "127.0.0.1", port: int = 0, speed: float = 1.0,
                     config: RobotConfig | None = None,
                     **options: Any) -> Iterator[EmulatorHandle]:
    """Run an emulator in a background thread for the duration of the ``with`` block."""
    with anyio.from_thread.start_blocking_portal() as portal:

        async def create() -> Emulator:
            return Emulator(dialect, config=config, speed=speed, **options)

        emulator = portal.call(create)
        future, _ = portal.start_task(emulator.run, link, host, port, name="labrun-emulator")
        try:
            yield EmulatorHandle(portal, emulator)
        finally:
            future.cancel()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``labrun emulator``, each with its help (their one definition:
    ``labrun emulator`` and ``main`` here both take them from this)."""
    parser.add_argument("--dialect", choices=sorted(FIRMWARES), default="grbl",
                        help="the firmware to speak (default: grbl)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7800,
                        help="the TCP port to listen on (default: 7800)")
    parser.add_argument("--pty", action="store_true",
                        help="serve on a pseudo-terminal instead of TCP (prints its path)")
    parser.add_argument("--speed", default=1.0, metavar="N",
                        help="run the motion clock N times faster than real time (default: 1)")
    parser.add_argument("--config", metavar="ROBOT.toml",
                        help="the robot to emulate (default: the built-in OT-2-like robot)")
    parser.add_argument("--busy-interval", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between Marlin's busy lines (default: 2)")
    parser.add_argument("--no-emergency-parser", dest="emergency_parser",
                        action="store_false",
                        help="Marlin built without its emergency parser (Marlin's default "
                             "configuration): M410 and M112 act only once the move under "
                             "way ends, and M115 says Cap:EMERGENCY_PARSER:0")
    parser.add_argument("--no-tmc-drivers", dest="tmc_drivers", action="store_false",
                        help="Marlin built without TMC stepper drivers: it answers M906 "
                             "(motor currents) 'echo:Unknown command: \"M906 ...\"'")


def run_from_args(args: argparse.Namespace) -> int:
    """Serve the emulator ``args`` describe until interrupted; return the exit status."""
    problem = speed_problem(args.speed)
    if problem is None and not 0 < args.busy_interval <= 3600:
        problem = (f"--busy-interval must be more than 0 and at most 3600 seconds, "
                   f"not {args.busy_interval:g}")
    if problem is None and args.dialect != "marlin":
        for given, option in ((not args.emergency_parser, "--no-emergency-parser"),
                              (not args.tmc_drivers, "--no-tmc-drivers")):
            if given:
                problem = f"{option} applies only with --dialect marlin"
                break
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    args.speed = float(args.speed)  # given as text: a non-number is said in one line
    if not args.pty and not 0 <= args.port <= 65535:
        print(f"error: --port must be 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config) if args.config else None
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    # Marlin's build without its emergency parser, or TMC drivers (refused above for the
    # others)
    firmware: dict[str, Any] = {name: False for name in ("emergency_parser", "tmc_drivers")
                                if not getattr(args, name)}

    async def serve() -> None:
        # Ctrl-C and SIGTERM end it cleanly on every Python: on 3.10, anyio's runner turns
        # a bare SIGINT into a CancelledError traceback and exit status 1.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tg:
                emulator = await tg.start(partial(
                    serve_emulator, args.dialect, args.host, args.port, args.speed,
                    link="pty" if args.pty else "tcp", config=config,
                    busy_interval=args.busy_interval, **firmware))
                built = "".join(f", {said}" for said, on in (
                    ("no emergency parser", args.emergency_parser),
                    ("no TMC drivers", args.tmc_drivers)) if not on)
                print(f"labrun emulator ({args.dialect}{built}, speed x{args.speed:g}) on "
                      f"{emulator.address}", flush=True)
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    break

    try:
        anyio.run(serve)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        cause = exc  # the task group hands an error over wrapped in an exception group
        while isinstance(getattr(cause, "exceptions", None), tuple) and cause.exceptions:  # type: ignore[attr-defined]
            cause = cause.exceptions[0]  # type: ignore[attr-defined]
        if not isinstance(cause, (OSError, ValueError)):
            raise
        print(f"error: cannot serve on {args.host}:{args.port}: "
              f"{getattr(cause, 'strerror', None) or cause}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``labrun emulator``: serve an emulated controller until interrupted."""
    parser = argparse.ArgumentParser(prog="labrun emulator",
                                     description="Run labrun's G-code controller emulator.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
