"""A Marlin without its emergency parser (its default configuration) reads M410 and M112
only once the move under way ends: the driver reads that at connection (M115), says so,
and waits the move out instead of taking it for stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.controller import HardwareFault
from hardware.emulator import running_emulator
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.gcode import GcodeController, open_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
SHORT_TIMEOUT_S = 0.4
CheckAt = Callable[[dict[str, float], dict[str, float]], None]
ConfigFor = Callable[..., RobotConfig]
NO_PARSER = "has no emergency parser (its M115 says Cap:EMERGENCY_PARSER:0)"


async def test_a_marlin_without_its_emergency_parser_is_said_at_connection(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    with running_emulator("marlin", speed=SPEED, emergency_parser=False) as emu, \
            caplog.at_level(logging.WARNING):
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            assert ctl.emergency_parser is False
            [warning] = ctl.warnings
            assert NO_PARSER in warning
            assert ("an immediate pause takes effect then, and a halt stops the axes only "
                    "then") in warning
            assert warning in caplog.text
    with running_emulator("marlin", speed=SPEED) as emu:  # the parser on: nothing to say
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            assert ctl.emergency_parser is True and ctl.warnings == []


@pytest.mark.parametrize("dialect", ["marlin"])
async def test_an_immediate_pause_on_marlin_without_its_emergency_parser_waits_the_move_out(
        config_for: ConfigFor, check_at: CheckAt) -> None:
    # The cancelled move's M410 was taken to act at once, and the move's M400 was then
    # allowed no motion time: Marlin answers it only once the move ends, so a long move
    # failed the link ('stayed busy with M400') instead of pausing. 390 mm at 10 mm/s:
    # 39 s emulated, about 2 s here, past 3 times the 0.4 s timeout.
    with running_emulator("marlin", speed=SPEED, busy_interval=0.05,
                          emergency_parser=False) as emu:
        async with open_controller(config_for("marlin", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 10.0})
            stops = len(emu.stats.realtime)
            with anyio.fail_after(10):
                with anyio.move_on_after(0.03) as scope:
                    await ctl.move({"X": 400.0}, speed=10.0)
                assert scope.cancelled_caught
                check_at(await ctl.read_position(), {"X": 400.0})  # the move's end
            assert emu.stats.realtime[stops:] == []  # no M410 it would read too late
            assert not ctl.requires_homing
            await ctl.move({"X": 300.0})  # the link is good
            check_at(await ctl.read_position(), {"X": 300.0})


@pytest.mark.parametrize("dialect", ["marlin"])
async def test_a_halt_on_marlin_without_its_emergency_parser_is_confirmed_when_the_move_ends(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # M112 goes out at once, but Marlin reads it only once the move's M400 ends: its kill
    # was awaited for the timeout only, and the halt failed ('not confirmed') while the
    # axes still moved. 390 mm at 10 mm/s: about 2 s here.
    with running_emulator("marlin", speed=SPEED, busy_interval=0.05,
                          emergency_parser=False) as emu, caplog.at_level(logging.WARNING):
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        async with open_controller(config_for("marlin", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 10.0})
            seen = len(emu.stats.lines)
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_move_ended_by_the_halt, ctl)
                    while not any("M400" in line for line in emu.stats.lines[seen:]):
                        await anyio.sleep(0.01)
                    await ctl.emergency_stop()
            assert emu.call(lambda: firmware.killed)
            check_at(emu.position(), {"X": 400.0})  # it stopped only at the move's end
            assert ctl.requires_homing
            assert "emergency stop: M112 sent; without an emergency parser" in caplog.text


async def _move_ended_by_the_halt(ctl: GcodeController) -> None:
    with pytest.raises(HardwareFault):
        await ctl.move({"X": 400.0}, speed=10.0)
