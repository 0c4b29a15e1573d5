"""Fixtures: a real server on a loopback port with a simulated robot, and fresh gates."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # remote_kit, for the tests

from remote_kit import GATE_MODULE, SPEED, Gates, Served

from hardware.config import default_config
from labrun.remote import RunManager, start_server
from labrun.remote.robots import simulated_robot


@pytest.fixture
def gates() -> Iterator[Gates]:
    fresh = Gates()
    GATE_MODULE.wait = fresh.wait  # type: ignore[attr-defined]
    GATE_MODULE.is_set = fresh.is_set  # type: ignore[attr-defined]
    yield fresh
    fresh.open_all()


@pytest.fixture
def served(gates: Gates) -> Iterator[Served]:
    robot = simulated_robot(default_config(), speed=SPEED)
    manager = RunManager(robot, emergency_lock_key="EMERGENCY")
    gates.watch(manager)
    with start_server(manager) as handle:
        server = Served(handle, robot)
        try:
            yield server
        finally:
            gates.open_all()
            server.client.close()
