"""Helpers of the remote-control tests: protocols, gates, a served manager.

The server runs in the test process (uvicorn in a thread), so a protocol file it runs
can ``import labrun_remote_gates`` and block its protocol thread at a named gate until
the test opens it: the test knows exactly where the run is, without sleeping.
"""

from __future__ import annotations

import sys
import textwrap
import threading
import types
from typing import Any

from protocol_api.remote import RunManagerAPI, ServerHandle
from protocol_api.remote.robots import Robot

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

    def _events(self, name: str) -> tuple[threading.Event, threading.Event]:
        with self._lock:
            return (self._open.setdefault(name, threading.Event()),
                    self._reached.setdefault(name, threading.Event()))

    def wait(self, name: str) -> None:
        """Protocol side: arrive at ``name`` and wait until it opens."""
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

    def open_all(self) -> None:
        with self._lock:
            for event in self._open.values():
                event.set()


GATE_MODULE = types.ModuleType("labrun_remote_gates")
sys.modules["labrun_remote_gates"] = GATE_MODULE


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


class Served:
    """A server, its manager and robot, and a connected sync client."""

    def __init__(self, handle: ServerHandle, robot: Robot) -> None:
        self.handle = handle
        self.manager = handle.manager
        self.robot = robot
        self.url = handle.url
        self.client = RunManagerAPI(handle.url, token=handle.token)

    def api(self, **options: Any) -> RunManagerAPI:
        """Another client of the same server."""
        return RunManagerAPI(self.url, token=self.handle.token, **options)


