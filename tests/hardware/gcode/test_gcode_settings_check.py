"""A controller whose steps/mm disagree with the robot file is refused before it moves.

The firmware turns the millimetres labrun sends into steps with its own steps/mm: a board
whose settings went back to its defaults would put every move that many times off. The
driver reads GRBL's ``$$`` and Marlin's ``M503`` as it connects (a Marlin halted then,
once ``home()`` has brought it back) and refuses such a controller with one line naming
both values; ``labrun doctor`` connects without the check and lists them.
"""

from __future__ import annotations

import anyio
import pytest

from hardware.config import RobotConfig, default_config
from hardware.emulator import running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.frozen import replace
from hardware.gcode import GcodeController, SettingsMismatch

pytestmark = pytest.mark.anyio
SPEED = 20.0
MOTION = ("$H", "G0", "G1", "G28")


def robot(dialect: str, port: str, **steps: float) -> RobotConfig:
    """The built-in robot on ``port``, with the axes' steps/mm changed as given."""
    config = default_config()
    axes = {a: replace(c, steps_per_mm=steps.get(a, c.steps_per_mm))
            for a, c in config.axes.items()}
    return replace(config, axes=axes, controller=replace(
        config.controller, kind="gcode", dialect=dialect, port=port, timeout_s=1.0,
        poll_interval=0.05))


def moved(lines: list[str]) -> list[str]:
    """The lines that home or move (``$H``, ``G28``, ``G0``/``G1``, numbered or not)."""
    return [line for line in lines if set(line.split("*")[0].split()) & set(MOTION)]


async def test_a_grbl_whose_steps_differ_is_refused_as_it_connects() -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({100: 250.0, 102: 250.0}))
        driver = GcodeController(robot("grbl", emu.address))
        with pytest.raises(SettingsMismatch) as caught:
            await driver.connect()
        lines = list(emu.stats.lines)
    assert str(caught.value) == (
        "the controller's settings disagree with the robot file, so labrun will not move "
        "it: axis X: the firmware's steps/mm $100=250, the robot file's "
        "axes.X.steps_per_mm 80 (a move would go 3.12 times as far as asked); axis Z: the "
        "firmware's steps/mm $102=250, the robot file's axes.Z.steps_per_mm 80 (a move "
        "would go 3.12 times as far as asked); correct the firmware's setting or the robot "
        "file (labrun doctor lists both)")
    assert "$$" in lines and moved(lines) == []


async def test_a_grbl_reporting_in_inches_is_refused() -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({13: 1.0}))
        with pytest.raises(SettingsMismatch, match=r"reports in inches \(\$13=1\); labrun "
                                                   r"reads positions in mm: set \$13=0"):
            await GcodeController(robot("grbl", emu.address)).connect()


async def test_a_grbl_that_agrees_connects_and_homes() -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        driver = GcodeController(robot("grbl", emu.address))
        await driver.connect()
        try:
            position = await driver.home()
            await driver.move({"X": 100.0})
        finally:
            await driver.disconnect()
        lines = list(emu.stats.lines)
    assert position["X"] == pytest.approx(418.0)
    assert [line.split()[0] for line in moved(lines)] == ["$H", "G53"]


async def test_a_marlin_whose_steps_differ_is_refused_as_it_connects() -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        driver = GcodeController(robot("marlin", emu.address, X=100.0))
        with pytest.raises(SettingsMismatch,
                           match=r"axis X: the firmware's steps/mm M92 X80, the robot file's "
                                 r"axes\.X\.steps_per_mm 100 \(a move would go 0\.8 times"):
            await driver.connect()
        assert moved(list(emu.stats.lines)) == []


async def test_a_marlin_halted_at_connect_is_asked_before_it_homes() -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        emu.call(lambda: setattr(firmware, "killed", True))
        driver = GcodeController(robot("marlin", emu.address, X=100.0))
        await driver.connect()  # it answers nothing but its kill message: asked later
        try:
            with anyio.fail_after(10), pytest.raises(SettingsMismatch, match="M92 X80"):
                await driver.home()
        finally:
            await driver.disconnect()
        lines = list(emu.stats.lines)
    assert any("M503" in line for line in lines) and moved(lines) == []


async def test_doctors_connection_skips_the_check() -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        driver = GcodeController(robot("grbl", emu.address, X=100.0), check_settings=False)
        await driver.connect()
        await driver.disconnect()


async def test_a_grbl_whose_soft_limits_fall_short_of_the_travel_is_refused() -> None:
    """With soft limits on, GRBL alarms at a target past its $13x travel: a run would stop
    at the first such move; with them off, the shorter travel is only doctor's remark."""
    with running_emulator("grbl", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({130: 200.0}))
        driver = GcodeController(robot("grbl", emu.address))
        await driver.connect()  # soft limits off: it connects
        await driver.disconnect()
        emu.call(lambda: firmware.stored.update({20: 1.0}))
        with pytest.raises(SettingsMismatch) as caught:
            await GcodeController(robot("grbl", emu.address)).connect()
    assert ("axis X: soft limits are on ($20=1) and the firmware's max travel $130=200 mm is "
            "shorter than the robot file's axes.X min..max, 418 mm (a move beyond it would "
            "stop the run with an alarm)") in str(caught.value)
