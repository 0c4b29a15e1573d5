"""Fixtures: a real server on a loopback port with a simulated robot, and fresh gates."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # remote_kit, for the tests

from browser_kit import open_page
from remote_kit import GATE_MODULE, Gates, Served, serving


@pytest.fixture
def gates() -> Iterator[Gates]:
    fresh = Gates()
    GATE_MODULE.wait = fresh.wait  # type: ignore[attr-defined]
    GATE_MODULE.is_set = fresh.is_set  # type: ignore[attr-defined]
    GATE_MODULE.arrive = fresh.arrive  # type: ignore[attr-defined]
    yield fresh
    fresh.open_all()


@pytest.fixture
def served(gates: Gates) -> Iterator[Served]:
    with serving(gates) as server:
        yield server


@pytest.fixture
def served_by_worker(gates: Gates) -> Iterator[Served]:
    """A server whose runs go in a run worker process, as ``labrun serve`` runs them."""
    with serving(gates, run_worker=True) as server:
        yield server


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page of a fresh headless chromium with an empty profile (the browser tests)."""
    with open_page(tmp_path / "profile") as opened:
        yield opened
