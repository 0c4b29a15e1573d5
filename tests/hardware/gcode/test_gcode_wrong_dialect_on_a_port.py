"""A robot file naming the wrong firmware, on a serial port whose banner went by before
it was opened (a board that does not reset when its port opens: the emulator's
pseudo-terminal greets once, at power-up). The firmware's answers still say which it is;
"no answer" or a bare "rejected 'M999': error:9" would send someone hunting for a cable,
a baud rate or a broken board."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hardware.config import RobotConfig
from hardware.controller import HardwareFault
from hardware.emulator import running_emulator
from hardware.gcode import GcodeController, open_controller

ConfigFor = Callable[..., RobotConfig]
pytestmark = pytest.mark.anyio
SPEED = 20.0
POLL_S = 0.05


async def test_a_marlin_robot_file_on_grbl_is_named_from_grbl_s_numbered_errors(
        config_for: ConfigFor) -> None:
    with running_emulator("grbl", link="pty", speed=SPEED) as emu, \
            pytest.raises(HardwareFault) as raised:
        async with open_controller(config_for("marlin", emu.address), poll_interval=POLL_S):
            pass
    assert str(raised.value).endswith(
        "; the controller answered 'error:9' as grbl firmware does, but the robot file "
        "says dialect = 'marlin'"), raised.value


async def test_a_smoothieware_robot_file_on_grbl_says_so_when_it_homes(
        config_for: ConfigFor) -> None:
    # GRBL answers Smoothieware's status query, so the connection comes up; the first
    # line of the run (unlocking its power-up alarm) is refused with GRBL's own error.
    with running_emulator("grbl", link="pty", speed=SPEED) as emu:
        ctl = GcodeController(config_for("smoothie", emu.address), poll_interval=POLL_S)
        await ctl.connect()
        try:
            with pytest.raises(HardwareFault) as raised:
                await ctl.home()
        finally:
            await ctl.disconnect()
        assert not emu.homed
    assert str(raised.value) == (
        "controller rejected 'M999': error:9; the controller answered 'error:9' as grbl "
        "firmware does, but the robot file says dialect = 'smoothie'")


async def test_smoothieware_s_worded_errors_are_not_taken_for_grbl(
        config_for: ConfigFor) -> None:
    with running_emulator("smoothie", link="pty", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            emu.faults.error_next = 1  # worded as in grbl_mode, where GRBL's is a number
            emu.faults.error_message = "error:Injected failure"
            with pytest.raises(HardwareFault) as raised:
                await ctl.home()
    assert "error:Injected failure" in str(raised.value)
    assert "dialect" not in str(raised.value)
