"""The gates as a protocol sees them in one of the server's worker processes (the check
of an item by simulation, or the run worker's run): each call asks the test process over
a socket (``remote_kit.GATES_ADDRESS``). In the test process itself ``remote_kit``
registers the module first, so this file is only ever imported by a worker."""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Client
from typing import Any


def _ask(kind: str, name: str) -> Any:
    with Client(os.environ["LABRUN_TEST_GATES"]) as connection:
        connection.send((kind, name))
        return connection.recv()


def _in_run_worker() -> bool:
    runner = sys.modules.get("labrun.remote.runner")
    return bool(getattr(runner, "SERVING", False))


def wait(name: str, *, simulation: bool = False) -> None:
    """Arrive at ``name`` and wait there, if the gate holds what this worker does: a
    check worker simulates, the run worker runs."""
    if simulation and not _in_run_worker():
        _ask("wait", name)
    elif not simulation and _in_run_worker():
        _ask("arrive", name)


def is_set(flag: str) -> bool:
    """Whether the test has raised ``flag``."""
    return bool(_ask("is_set", flag))
