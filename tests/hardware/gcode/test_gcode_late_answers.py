"""Smoothieware answers the line a halt ended (a hard limit, ctrl-X) after the halt's
message, maybe after a status report saying ``Alarm`` and after the host sent its next
line (``M999``): that late ``ok`` is the halted line's, never a later line's, so home()
and the moves after it are answered by their own ``ok``."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.emulator import running_emulator
from hardware.emulator.server import EmulatorHandle
from hardware.gcode import ControllerAlarm, open_controller
from hardware.gcode.driver import GcodeController

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
ConfigFor = Callable[..., RobotConfig]
CheckAt = Callable[[dict[str, float], dict[str, float]], None]


async def answered_in_step(ctl: GcodeController, emu: EmulatorHandle, check_at: CheckAt,
                           xs: tuple[float, ...]) -> None:
    """After the halt: ``home()`` and a move to each of ``xs`` return only once the axes
    have stopped (each line answered by its own ``ok``), where they were sent."""
    def still() -> bool:
        return bool(emu.call(lambda: emu.emulator.machine.idle))

    homed = await ctl.home()
    assert still(), "home() returned while the homing cycle ran"
    check_at(homed, {a: c.home for a, c in ctl.config.axes.items()})
    for x in xs:
        await ctl.move({"X": x})
        # the move's M400 is answered once the axes stopped, not before
        assert still(), f"move to X {x:g} returned while the axes moved"
        check_at(emu.position(), {"X": x})
        check_at(await ctl.read_position(), {"X": x})


@pytest.mark.parametrize("dialect", ["smoothie"])
@pytest.mark.parametrize("link", ["pty", "tcp"])
async def test_a_late_ok_after_a_smoothie_hard_limit_answers_no_later_line(
        dialect: str, link: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator(dialect, link=link, speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.limit_next = 1
            emu.faults.late_ok_held_next = 1  # <Alarm|...>, then the M400's ok after M999
            with anyio.fail_after(5), pytest.raises(
                    ControllerAlarm, match=r"ALARM: Hard limit -X"):
                await ctl.move({"X": 18.0})
            with anyio.fail_after(5):
                # answered while halted: its own answer, not the M400's late ok
                printed = await ctl.query("M119")
                assert any(said.startswith("X_min:0 Y_min:0") for said in printed), printed
                await answered_in_step(ctl, emu, check_at, (100.0, 40.0))


@pytest.mark.parametrize("dialect", ["smoothie"])
async def test_a_line_a_smoothie_ctrl_x_flushed_unread_takes_no_later_answer(
        dialect: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    # The line and the ctrl-X arrive together: Smoothieware flushes the line unread and
    # never answers it; its status reports say Alarm, the M400 in progress is answered
    # late. home()'s M999 is then answered by its own ok (after its WARNING line).
    with running_emulator(dialect, link="pty", speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.late_ok_held_next = 1
            streamer = ctl.link.streamer
            await ctl.send_gcode(["G53 G1 X300 F6000"])
            in_progress = await streamer.submit("M400")
            with anyio.fail_after(5):
                while not emu.call(lambda: emu.emulator.machine.moving):
                    await anyio.sleep(0.01)
            unread = await streamer.submit("G53 G1 X40 F6000", out_of_band=True)
            await ctl.emergency_stop()
            for entry in (in_progress, unread):
                with anyio.fail_after(5), pytest.raises(ControllerAlarm):
                    await streamer.wait(entry)
            with anyio.fail_after(5):
                await answered_in_step(ctl, emu, check_at, (100.0,))
