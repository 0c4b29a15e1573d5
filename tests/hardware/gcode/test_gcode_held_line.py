"""A board holding its serial line (flow control, a USB firmware that stopped reading),
over a real pseudo-terminal: the driver's loop goes on meanwhile; its emergency stop goes
out as soon as the line is let go, or, held past the timeout, is said not sent, naming
the port and why."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.gcode import ConnectionLost, open_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
STOPS = (b"\x18", b"M112")
"""What the emulator notes of an emergency stop (GRBL's and Smoothieware's reset byte,
Marlin's M112)."""


@pytest.fixture
def on_a_pty(dialect: str) -> Iterator[EmulatorHandle]:
    with running_emulator(dialect, link="pty", speed=SPEED, busy_interval=0.2) as emu:
        yield emu


def stops_seen(emulator: EmulatorHandle) -> int:
    return emulator.call(lambda: sum(data in STOPS for data, _ in emulator.stats.realtime))


async def test_an_emergency_stop_on_a_held_line_goes_out_once_it_is_let_go(
        on_a_pty: EmulatorHandle, dialect: str,
        config_for: Callable[..., RobotConfig]) -> None:
    # a timeout far longer than the hold, so that a busy machine cannot make it lapse
    config = config_for(dialect, on_a_pty.address, timeout_s=10.0)
    async with open_controller(config, poll_interval=POLL_S) as controller:
        on_a_pty.hold_line(True)
        stopped = anyio.Event()

        async def stop() -> None:
            await controller.emergency_stop()  # sent and confirmed, or raises
            stopped.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            await anyio.wait_all_tasks_blocked()
            # the stop waits for the line, and the loop goes on meanwhile
            assert not stopped.is_set() and stops_seen(on_a_pty) == 0
            on_a_pty.hold_line(False)
        assert stops_seen(on_a_pty) >= 1


async def test_an_emergency_stop_on_a_line_held_past_the_timeout_says_so(
        on_a_pty: EmulatorHandle, dialect: str,
        config_for: Callable[..., RobotConfig]) -> None:
    config = config_for(dialect, on_a_pty.address, timeout_s=1.0)
    async with open_controller(config, poll_interval=POLL_S) as controller:
        on_a_pty.hold_line(True)
        with pytest.raises(ConnectionLost) as raised:
            await controller.emergency_stop()
        on_a_pty.hold_line(False)
    assert str(raised.value) == (
        f"the emergency stop was not sent: lost {on_a_pty.address}: a write waited 1 s for "
        "the line to take it (the controller stopped reading its line: it hangs, or holds "
        "the line with flow control)")
    assert stops_seen(on_a_pty) == 0
