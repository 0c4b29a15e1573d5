"""Status reports of motion (Run, Home) keep a waiting line alive only so long, as busy
lines do: a firmware stuck reporting them fails the line, naming the state. A hold set at
the board keeps it waiting, and a warning says why."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.emulator import running_emulator
from hardware.frozen import replace
from hardware.gcode import ControllerTimeout, GcodeController, open_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
SHORT_TIMEOUT_S = 0.4
CheckAt = Callable[[dict[str, float], dict[str, float]], None]
ConfigFor = Callable[..., RobotConfig]


@pytest.mark.parametrize(("dialect", "wait_line"), [("grbl", "G4 P0"), ("smoothie", "M400")])
async def test_a_controller_stuck_reporting_run_fails_the_move_naming_it(
        dialect: str, wait_line: str, config_for: ConfigFor) -> None:
    # A jammed axis or a lost step signal: the move never ends and the firmware goes on
    # reporting Run. Each report kept the wait line alive, and the run hung for ever.
    with running_emulator(dialect, speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.call(lambda: setattr(emu.emulator.machine, "stalled", True))
            with anyio.fail_after(10), pytest.raises(
                    ControllerTimeout,
                    match=rf"kept reporting Run while '{wait_line}' waited, for [\d.]+ s "
                          r"without answering, longer than it may \(3 times 0\.4 s timeout_s "
                          r"plus the [\d.]+ s of motion it waits for\): is an axis stuck"):
                await ctl.move({"X": 410.0})


async def test_a_controller_stuck_reporting_home_fails_the_homing_naming_it(
        config_for: ConfigFor) -> None:
    # Smoothieware reports Home while it homes; a cycle that never ends hung the run.
    # B's travel is short here, so that its homing allowance is too.
    config = config_for("smoothie", "", SHORT_TIMEOUT_S)
    config = replace(config, axes={**config.axes, "B": replace(config.axes["B"], max=5.0)})
    with running_emulator("smoothie", speed=SPEED, config=config) as emu:
        config = replace(config, controller=replace(config.controller, port=emu.address))
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.call(lambda: setattr(emu.emulator.machine, "stalled", True))
            with anyio.fail_after(15), pytest.raises(
                    ControllerTimeout,
                    match=r"^homing B failed: .*kept reporting Home while 'G28.2 B0' waited"):
                await ctl.home(["B"])


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_hold_set_at_the_board_keeps_the_move_waiting_and_says_why(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # Someone holds the board (its feed hold button) mid-move: the run waits until it is
    # resumed there, however long that takes, and a warning says why it waits. The
    # emulator runs at a tenth of real time: the move lasts about 1 s.
    with running_emulator("grbl", speed=0.1, start_position={"X": 418.0}) as emu, \
            caplog.at_level(logging.WARNING):
        emu.emulator.machine.homed.update(emu.emulator.config.axes)
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.recover()  # GRBL powers up locked
            ctl._unhomed.clear()  # the emulator was started homed
            seen = len(emu.stats.lines)
            with anyio.fail_after(15):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_move, ctl)
                    while "G4 P0" not in emu.stats.lines[seen:]:
                        await anyio.sleep(0.01)
                    emu.call(emu.emulator.machine.hold)  # at the board
                    while "keeps the run waiting until it is resumed" not in caplog.text:
                        await anyio.sleep(0.05)
                    assert "the controller reports Hold" in caplog.text
                    assert "while 'G4 P0' waits" in caplog.text
                    assert emu.call(lambda: emu.emulator.machine.holding)
                    emu.call(emu.emulator.machine.resume)  # at the board
            check_at(await ctl.read_position(), {"X": 410.0})


async def _move(ctl: GcodeController) -> None:
    await ctl.move({"X": 410.0})
