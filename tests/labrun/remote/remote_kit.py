"""Helpers of the remote-control tests: protocols, gates, a served manager.

The server runs in the test process (uvicorn in a thread), so a protocol file it runs
can ``import labrun_remote_gates`` and block its protocol thread at a named gate until
the test opens it: the test knows exactly where the run is, without sleeping. A gate
holds only the run a watched manager is running on its robot; the server's simulations
of the protocol (when it is added, before it starts) pass through. ``gates.is_set(name)``
lets a protocol see a flag the test raised, as a real protocol reads a sensor.

The simulations run in the server's worker processes, and a run served by a run worker
(``SupervisedRobot``, as ``labrun serve`` runs them) in that worker: there
``labrun_remote_gates`` is the file of that name, which asks this process over a socket
(``GATES_ADDRESS``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, Listener
from typing import Any

from hardware.config import RobotConfig, default_config
from labrun.remote import RunManager, RunManagerAPI, ServerHandle, start_server
from labrun.remote.robots import Robot, simulated_robot
from labrun.remote.runner import RobotSpec
from labrun.remote.supervisor import SupervisedRobot

SPEED = 50.0
"""The test robot moves this much faster than real time."""
WAIT = 15.0
"""Upper bound of any wait in these tests; they normally return in milliseconds."""


class Gates:
    """Named gates: a protocol thread waits at one until the test opens it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, threading.Event] = {}
        self._reached: dict[str, threading.Event] = {}
        self._flags: set[str] = set()
        self._managers: list[RunManager] = []

    def watch(self, manager: RunManager) -> None:
        """Hold the protocol of the run ``manager`` runs (not its simulations of it)."""
        self._managers.append(manager)

    def _holds_this_thread(self) -> bool:
        me = threading.current_thread()
        return any(getattr(getattr(m.active, "run", None), "protocol_thread", None) is me
                   for m in self._managers)

    def _events(self, name: str) -> tuple[threading.Event, threading.Event]:
        with self._lock:
            return (self._open.setdefault(name, threading.Event()),
                    self._reached.setdefault(name, threading.Event()))

    def wait(self, name: str, *, simulation: bool = False) -> None:
        """Protocol side: arrive at ``name`` and wait until it opens, in a watched run (or,
        with ``simulation``, only in the server's simulations of the protocol)."""
        if self._holds_this_thread() == simulation:
            return
        self.arrive(name)

    def arrive(self, name: str) -> None:
        """Protocol side: arrive at ``name`` and wait until it opens (a run worker's run)."""
        opened, reached = self._events(name)
        reached.set()
        if not opened.wait(WAIT):
            raise RuntimeError(f"gate {name} was never opened")

    def reached(self, name: str) -> None:
        """Test side: wait until a protocol has arrived at ``name``."""
        assert self._events(name)[1].wait(WAIT), f"no protocol reached gate {name}"

    def open(self, name: str) -> None:
        """Test side: let the protocol through."""
        self._events(name)[0].set()

    def set(self, flag: str) -> None:
        """Test side: raise ``flag``."""
        with self._lock:
            self._flags.add(flag)

    def is_set(self, flag: str) -> bool:
        """Protocol side: whether the test has raised ``flag``."""
        with self._lock:
            return flag in self._flags

    def open_all(self) -> None:
        with self._lock:
            for event in self._open.values():
                event.set()


GATE_MODULE = types.ModuleType("labrun_remote_gates")
sys.modules["labrun_remote_gates"] = GATE_MODULE


def _answer(connection: Connection) -> None:
    with connection:
        try:
            kind, name = connection.recv()
        except EOFError:  # the worker was killed before it asked
            return
        try:
            if kind == "wait":
                GATE_MODULE.wait(name, simulation=True)
            elif kind == "arrive":
                GATE_MODULE.arrive(name)
        finally:
            with contextlib.suppress(OSError):  # the asking worker may have been killed
                connection.send(GATE_MODULE.is_set(name) if kind == "is_set" else None)


def _serve_gates(listener: Listener) -> None:
    while True:
        threading.Thread(target=_answer, args=(listener.accept(),), daemon=True).start()


_LISTENER = Listener(family="AF_UNIX")
GATES_ADDRESS = str(_LISTENER.address)
os.environ["LABRUN_TEST_GATES"] = GATES_ADDRESS  # before any worker process starts
threading.Thread(target=_serve_gates, args=(_LISTENER,), name="gates", daemon=True).start()


def protocol(body: str, api: str = "2.15") -> str:
    """A protocol file: tips in slot 1, a plate in 2, a p300 on the right; then ``body``."""
    gates = "import labrun_remote_gates as gates\n\n" if "gates." in body else ""
    return (f'{gates}metadata = {{"apiLevel": "{api}"}}\n\n'
            "def run(ctx):\n"
            '    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
            '    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)\n'
            '    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])\n'
            + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")


def item(body: str, name: str = "protocol.py") -> dict[str, Any]:
    """A queue item whose protocol runs ``body``."""
    return {"name": name, "source": protocol(body)}


QUICK = item('p300.transfer(50, plate["A1"], plate["B1"])', "quick.py")
MODULES = item('''
temp = ctx.load_module("temperature module gen2", 3)
magnet = ctx.load_module("magnetic module gen2", 6)
magnet.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
temp.start_set_temperature(95)
magnet.engage(height_from_base=5)
gates.wait("heating")
temp.deactivate()
magnet.disengage()
''', "modules.py")
"""A run with two modules, held at gate ``heating`` while its plate heats (at ``SPEED``
it takes some 12 s to reach 95 °C: the test sees it on its way)."""
SHAKEN = item('''
hs = ctx.load_module("heaterShakerModuleV1", 4)
hs.close_labware_latch()
hs.set_and_wait_for_shake_speed(2000)
gates.wait("shaking")
hs.deactivate_shaker()
''', "shaken.py")
"""A run whose heater-shaker in slot 4 shakes at 2000 rpm while it is held at gate
``shaking``."""


class Served:
    """A server, its manager and robot, and a connected sync client."""

    def __init__(self, handle: ServerHandle, robot: Robot | SupervisedRobot) -> None:
        self.handle = handle
        self.manager = handle.manager
        self.robot = robot
        self.url = handle.url
        self.client = RunManagerAPI(handle.url, token=handle.token)

    def api(self, **options: Any) -> RunManagerAPI:
        """Another client of the same server."""
        return RunManagerAPI(self.url, token=self.handle.token, **options)




def door_opens_as_the_next_run_starts(served: Served) -> None:
    """The door opens in the instant the queue's next run is being started, once: from
    the robot's ``start_run``, as the run is made and before it is played (the manager has
    looked at the door for the last time), so the window is hit every time."""
    robot = served.robot
    start_run = robot.start_run
    tripped: list[str] = []

    async def door_opens(item: Any, **options: Any) -> Any:
        active = await start_run(item, **options)
        if not tripped:
            tripped.append(item.name)
            assert await robot.set_interlock("door", True, active) is None
        return active

    robot.start_run = door_opens  # type: ignore[method-assign]


@contextmanager
def serving(gates: Gates, *, run_worker: bool = False, record_dir: str | None = None,
            port: int = 0, token: str | None = None,
            config: RobotConfig | None = None,
            robot_tips: str | None = None,
            log: Callable[[str], None] | None = None) -> Iterator[Served]:
    """A server on a loopback port (any free one unless ``port``) over the simulated robot
    at ``SPEED`` (of ``config``, the default one unless given), its runs held by ``gates``:
    in this process, or (``run_worker``) in a run worker process; each run's record in
    ``record_dir``, if given; the tips left on it shared with the state folder under
    ``robot_tips``, if given, as ``labrun serve --robot`` shares a robot's; what the
    server says in its terminal to ``log``, if given."""
    robot: Robot | SupervisedRobot
    config = config or default_config()
    if run_worker:
        robot = SupervisedRobot.start(RobotSpec(config, speed=SPEED))
    else:
        robot = simulated_robot(config, speed=SPEED)
    manager = RunManager(robot, emergency_lock_key="EMERGENCY", record_dir=record_dir,
                         robot_tips=robot_tips)
    manager.log = log
    gates.watch(manager)
    try:
        with start_server(manager, port=port, token=token) as handle:
            server = Served(handle, robot)
            try:
                yield server
            finally:
                gates.open_all()
                server.client.close()
    finally:
        robot.close()
