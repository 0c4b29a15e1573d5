"""One labrun at a time on a robot's controller.

Two processes driving one controller would interleave their G-code: each would move the
robot from where it believes it is. A serial port is opened exclusively (the transport
does that), but a controller on ``tcp://`` or a pyserial URL takes a second connection.
So every process that drives a robot (``labrun run``, ``labrun doctor``, a server's run
worker) first locks a file named for the controller's address, in ``robots/`` of labrun's
state folder; the kernel lets go of the lock when the process ends, however it ends. The
holder writes who it is into the file, so that a process refused can name it. The
state folder is the user's: another user's labrun is not seen (one user drives a robot).

``labrun serve --record-dir`` without a real controller (the simulated robot) locks a file
in its record folder instead (``ROBOT_LOCK_NAME``): that keeps a restarted server's worker
from playing runs beside the worker of the server killed before it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from hardware.config import RobotConfig

from .state import state_folder

ROBOT_LOCK_NAME = ".labrun-robot.lock"
"""The file of ``labrun serve --record-dir`` that a run worker of the simulated robot holds."""
ROBOT_LOCK_WAIT_S = 30.0
"""Longest a server's run worker waits for another process to let go of the robot."""


class RobotInUse(Exception):
    """Another process holds the robot's lock (the message names it)."""


def robot_lock_file(config: RobotConfig) -> Path | None:
    """The lock file of the controller ``config`` drives: None for the simulated robot,
    which is this process's own. A serial device is named by the file it links to, so
    two names of one port share a lock."""
    controller = config.controller
    if controller.kind == "simulated" or not controller.port:
        return None
    address = controller.port
    if "://" not in address:
        address = os.path.realpath(address)
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", address).strip("_")[:60]
    digest = hashlib.sha256(address.encode()).hexdigest()[:10]
    return state_folder() / "robots" / f"{readable}-{digest}.lock"


def hold_robot(path: str | Path | None, what: str, *, wait_s: float = 0.0,
               robot: str = "the robot", say: Callable[[str], None] | None = None,
               sleep: Callable[[float], None] = time.sleep,
               pid: int | None = None) -> IO[bytes] | None:
    """Lock ``path`` for as long as the file returned stays open (at the latest, until
    this process ends), and write ``what`` this process is into it, with ``pid``: the
    process to stop to free the robot (this one unless given: a server for its worker).

    Another process holding it is waited for up to ``wait_s`` seconds (said once through
    ``say``, else on standard error); ``RobotInUse`` if it still holds it, naming that
    process and what it is. None without a path. A folder that cannot be made or a file
    that cannot be opened is ``RobotInUse`` too: no process can tell it is alone.
    """
    if path is None:
        return None
    import fcntl  # POSIX, as the robots' computers are

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        held = open(path, "a+b")  # noqa: SIM115 - held for as long as the robot is
    except OSError as exc:
        raise RobotInUse(f"cannot lock {robot} ({path}): {exc.strerror or exc}") from None
    deadline = time.monotonic() + wait_s
    waited = False
    while True:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = _holder(path)
            if time.monotonic() >= deadline:
                held.close()
                after = f" after {wait_s:g} s" if waited else ""
                raise RobotInUse(f"{robot} is in use by {holder}{after} (it holds {path}); "
                                 "stop that process or let its run end, then start again"
                                 ) from None
            if not waited:
                waited = True
                message = f"waiting for {holder} to let go of {robot}, up to {wait_s:g} s"
                if say is not None:
                    say(message)
                else:
                    print(f"labrun: {message}", file=sys.stderr, flush=True)
            sleep(0.1)
    with contextlib.suppress(OSError):  # who holds it: for the next process's message
        held.truncate(0)
        held.write(f"{pid or os.getpid()} {what}".encode())
        held.flush()
    return held


def _holder(path: Path) -> str:
    """The process holding ``path``, as it wrote itself there."""
    try:
        pid, _, what = path.read_text(errors="replace").partition(" ")
    except OSError:
        pid, what = "", ""
    if not pid.isdigit():  # it has not written itself yet
        return "another process"
    return f"another process (pid {pid}: {what.strip()[:120] or 'labrun'})"
