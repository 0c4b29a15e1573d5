"""Fixtures: an emulator in a background thread and a GcodeController talking to it.

The driver is always exercised over a real socket or pseudo-terminal against the
emulator, never against a stand-in of itself. The emulator's clock runs 20x faster
than real time and timeouts are short, so nothing here waits long. Test modules are
imported in importlib mode, so helpers reach them as fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from hardware.config import ControllerConfig, RobotConfig, default_config
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.frozen import replace
from hardware.gcode import GcodeController, open_controller

DIALECTS = ("grbl", "marlin", "smoothie")
SPEED = 20.0
TIMEOUT_S = 1.0
POLL_S = 0.05
TOLERANCE = {"grbl": 1e-3, "marlin": 0.006, "smoothie": 1e-4}
"""Position resolution of each firmware's reports (GRBL 3, Marlin 2, Smoothie 4 decimals)."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def gcode_config(dialect: str, port: str, timeout_s: float = TIMEOUT_S) -> RobotConfig:
    """The built-in robot on a G-code controller at ``port``."""
    return replace(default_config(), controller=ControllerConfig(
        kind="gcode", dialect=dialect, port=port, timeout_s=timeout_s))


@pytest.fixture
def config_for() -> Callable[..., RobotConfig]:
    """``config_for(dialect, port, timeout_s=1.0)``: the robot on that controller."""
    return gcode_config


@pytest.fixture
def check_at(dialect: str) -> Callable[[dict[str, float], dict[str, float]], None]:
    """``check_at(position, target)``: equal within the firmware's report resolution."""
    return lambda position, target: assert_at(position, target, dialect)


def assert_at(position: dict[str, float], target: dict[str, float], dialect: str) -> None:
    for axis, value in target.items():
        assert position[axis] == pytest.approx(value, abs=TOLERANCE[dialect]), axis


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(dialect: str) -> Iterator[EmulatorHandle]:
    with running_emulator(dialect, speed=SPEED, busy_interval=0.2) as emu:
        yield emu


@pytest.fixture
async def controller(emulator: EmulatorHandle, dialect: str) -> AsyncIterator[GcodeController]:
    async with open_controller(gcode_config(dialect, emulator.address),
                               poll_interval=POLL_S) as ctl:
        yield ctl


@pytest.fixture
async def homed(controller: GcodeController) -> GcodeController:
    await controller.home()
    return controller
