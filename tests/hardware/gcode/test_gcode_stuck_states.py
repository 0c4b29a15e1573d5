"""Status reports of motion (Run, Home) keep a waiting line alive only so long, as busy
lines do: a firmware stuck reporting them fails the line, naming the state. A hold set at
the board keeps it waiting, and a warning says why; labrun never resumes such a hold."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from hardware.config import RobotConfig, default_config
from hardware.controller import HardwareFault
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from hardware.emulator.firmware.smoothie import SmoothieFirmware
from hardware.frozen import replace
from hardware.gcode import ControllerTimeout, GcodeController, InterlockActive, open_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
SHORT_TIMEOUT_S = 0.4
HOMES = {name: axis.home for name, axis in default_config().axes.items()}
"""Where homing leaves the axes: an emulator started there homes at once, however slowed
(the tests that catch a move mid-way run at a tenth of real time)."""
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
    async with _homed_at_a_tenth(config_for, caplog) as (emu, ctl):
        seen = len(emu.stats.lines)
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_move, ctl)
                await _until_sent(emu, seen, "G4 P0")
                emu.call(emu.emulator.machine.hold)  # at the board
                await _until_logged(caplog, "keeps the run waiting until it is resumed")
                assert "the controller reports Hold" in caplog.text
                assert "while 'G4 P0' waits" in caplog.text
                assert emu.call(lambda: emu.emulator.machine.holding)
                emu.call(emu.emulator.machine.resume)  # at the board
        check_at(await ctl.read_position(), {"X": 410.0})


async def _move(ctl: GcodeController) -> None:
    await ctl.move({"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl", "smoothie"])
async def test_a_hold_set_at_the_board_between_moves_is_left_for_the_board_to_resume(
        dialect: str, config_for: ConfigFor, check_at: CheckAt,
        caplog: pytest.LogCaptureFixture) -> None:
    # Someone held the machine at its board while it stood still (to reach in, say): the
    # next move sent '~' first and went at once, overriding the person's hold. Now
    # nothing is sent until it is resumed at the board, and a warning says so at once.
    with running_emulator(dialect, speed=SPEED) as emu, caplog.at_level(logging.WARNING):
        async with open_controller(config_for(dialect, emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            _hold_at_the_board(emu, dialect, True)
            with anyio.fail_after(10):
                await _until_state(ctl, "Hold")
                seen, stops = len(emu.stats.lines), len(emu.stats.realtime)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_move, ctl)
                    await _until_logged(caplog, "labrun did not set")
                    assert (f"the controller at {emu.address} is in a feed hold (Hold"
                            in caplog.text)
                    assert ("labrun does not resume it; the run waits, without moving, "
                            "until it is resumed there (cycle start)") in caplog.text
                    assert emu.stats.lines[seen:] == []  # no move sent behind the hold
                    assert b"~" not in [byte for byte, _ in emu.stats.realtime[stops:]]
                    check_at(emu.position(), {"X": 100.0})
                    _hold_at_the_board(emu, dialect, False)  # cycle start, at the board
            check_at(await ctl.read_position(), {"X": 410.0})


def _hold_at_the_board(emu: EmulatorHandle, dialect: str, on: bool) -> None:
    """Press the board's feed hold button (``on``) or its cycle start."""
    firmware = emu.emulator.firmware
    if isinstance(firmware, SmoothieFirmware):
        emu.call(firmware.set_feed_hold, on)
    else:
        emu.call(emu.emulator.machine.hold if on else emu.emulator.machine.resume)


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_move_cancelled_in_a_hold_set_at_the_board_leaves_the_hold_to_the_board(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # Someone holds the board mid-move, and the run is paused (a cancelled move): the
    # reset that discards the held move ended the person's hold too, and the park that
    # follows a pause went at once. The hold is set again after the reset: the next move
    # waits for the board. The emulator runs at a tenth of real time.
    async with _homed_at_a_tenth(config_for, caplog) as (emu, ctl):
        seen = len(emu.stats.lines)
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_move, ctl)
                await _until_sent(emu, seen, "G4 P0")
                emu.call(emu.emulator.machine.hold)  # at the board
                await _until_state(ctl, "Hold")
                tg.cancel_scope.cancel()  # the run's pause
            assert emu.call(lambda: emu.emulator.machine.holding)
            held_at = emu.position()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_move, ctl)  # the park
                await _until_logged(caplog, "labrun did not set")
                assert emu.position() == held_at
                emu.call(emu.emulator.machine.resume)  # at the board
        check_at(await ctl.read_position(), {"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_halt_while_a_move_waits_for_the_board_sends_nothing_more(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # The move waiting for a hold at the board to be resumed ends with the halt, unsent;
    # the link stays good, and homing recovers.
    async with _held_at_the_board(config_for, caplog) as (emu, ctl):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_move_ended_by_the_halt, ctl)
            await _until_logged(caplog, "labrun did not set")
            await ctl.emergency_stop()
        check_at(emu.position(), {"X": 100.0})
        assert ctl.link.fault is None
        await ctl.home()


async def _move_ended_by_the_halt(ctl: GcodeController) -> None:
    with pytest.raises(HardwareFault, match="emergency-stopped"):
        await ctl.move({"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_reset_at_the_board_while_a_move_waits_for_its_hold_sends_nothing(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # The person at the board ends the hold with its reset button, not cycle start: GRBL
    # restarts (keeping its position, as nothing moved), and the move that waited went
    # out at once to a controller whose state labrun no longer knows.
    async with _held_at_the_board(config_for, caplog) as (emu, ctl):
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_move_ended_by_the_restart, ctl)
            await _until_logged(caplog, "labrun did not set")
            seen = len(emu.stats.lines)
            emu.run(firmware.soft_reset)  # at the board
        assert not [line for line in emu.stats.lines[seen:] if "X410" in line]
        check_at(emu.position(), {"X": 100.0})
        assert ctl.requires_homing
        await ctl.home()


async def _move_ended_by_the_restart(ctl: GcodeController) -> None:
    with pytest.raises(HardwareFault, match=r"^the controller restarted while labrun waited "
                                            r"for its hold to be resumed at its board \(its "
                                            r"reset, not cycle start\): nothing was sent; the "
                                            r"robot must be homed again$"):
        await ctl.move({"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl"])
@pytest.mark.parametrize("held_by", ["the board", "the door"])
async def test_a_grbl_held_as_labrun_connects_is_read_once_the_hold_is_left(
        held_by: str, config_for: ConfigFor, check_at: CheckAt,
        caplog: pytest.LogCaptureFixture) -> None:
    # GRBL answers $I (and $#, settings) only when Idle or in an alarm: connecting to one
    # held at its board, or by a door opened and closed (Door:0), failed at once with
    # "controller rejected '$I': error:8". They are read in home(), once the hold is left.
    with running_emulator("grbl", speed=SPEED) as emu, caplog.at_level(logging.WARNING):
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()  # out of its power-up alarm
        if held_by == "the door":
            emu.set_door(True)
            emu.set_door(False)  # GRBL now waits in Door:0 for a cycle start
        else:
            _hold_at_the_board(emu, "grbl", True)
        seen = len(emu.stats.lines)
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            assert "$I" not in emu.stats.lines[seen:]
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ctl.home)
                    if held_by == "the board":
                        await _until_logged(caplog, "labrun did not set")
                        _hold_at_the_board(emu, "grbl", False)  # cycle start, at the board
            assert {"$I", "$$"} <= set(emu.stats.lines[seen:])  # read before homing
            check_at(await ctl.read_position(), {"X": 418.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_door_opened_while_a_move_waits_for_the_board_refuses_the_move(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # A move waits for a hold set at the board; the door opens (GRBL: Hold -> Door). The
    # wait ended at any state but Hold and the move went out, behind the open door, where
    # a move waiting no longer is refused at once.
    async with _held_at_the_board(config_for, caplog) as (emu, ctl):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_move_refused_behind_the_door, ctl)
            await _until_logged(caplog, "labrun did not set")
            seen = len(emu.stats.lines)
            emu.set_door(True)
        assert not [line for line in emu.stats.lines[seen:] if "X410" in line]
        check_at(emu.position(), {"X": 100.0})


async def _move_refused_behind_the_door(ctl: GcodeController) -> None:
    with pytest.raises(InterlockActive, match="door open"):
        await ctl.move({"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_door_opened_and_closed_in_a_hold_set_at_the_board_leaves_it_to_the_board(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # Someone holds the board; the door is opened and closed meanwhile (GRBL: Hold ->
    # Door:1 -> Door:0). The next move sent '~' for the closed door, which ended the
    # person's hold too, and went at once. It now waits for cycle start at the board.
    async with _held_at_the_board(config_for, caplog) as (emu, ctl):
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.set_door(True)
        await _until_state(ctl, "Door", 1)
        emu.set_door(False)
        await _until_state(ctl, "Door", 0)
        stops = len(emu.stats.realtime)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_move, ctl)
            await _until_logged(caplog, "labrun did not set")
            assert ("is in a feed hold (Door:0) that labrun did not set: someone held "
                    "it at its board, its door opened and closed since. labrun does "
                    "not resume it") in caplog.text
            assert b"~" not in [byte for byte, _ in emu.stats.realtime[stops:]]
            check_at(emu.position(), {"X": 100.0})
            emu.run(firmware.cycle_start)  # at the board
        check_at(await ctl.read_position(), {"X": 410.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_door_opened_as_a_pause_resets_a_hold_set_at_the_board_refuses_the_park(
        config_for: ConfigFor, check_at: CheckAt, caplog: pytest.LogCaptureFixture) -> None:
    # A move held at the board is cancelled (a pause): the reset that discards it ends
    # the hold, and labrun holds again. A door opened in that moment keeps GRBL in Door
    # (it takes no feed hold there): the wait for Hold timed out and the link failed.
    # Now the park is refused behind the open door, and once it is closed (Door:0) the
    # hold is still the board's. The emulator runs at a tenth of real time.
    with running_emulator("grbl", speed=0.1, start_position=HOMES) as emu, \
            caplog.at_level(logging.WARNING):
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        reset = firmware.soft_reset

        async def reset_as_the_door_opens() -> None:
            await reset()
            await firmware.on_door(True)  # the person opens the door in that moment

        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()  # at once: the axes start at their switches
            seen = len(emu.stats.lines)
            with anyio.fail_after(15):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_move, ctl)
                    while "G4 P0" not in emu.stats.lines[seen:]:
                        await anyio.sleep(0.01)
                    emu.call(emu.emulator.machine.hold)  # at the board
                    await _until_state(ctl, "Hold")
                    emu.call(setattr, firmware, "soft_reset", reset_as_the_door_opens)
                    tg.cancel_scope.cancel()  # the run's pause
                emu.call(setattr, firmware, "soft_reset", reset)
                held_at = emu.position()
                assert ctl.link.fault is None
                with pytest.raises(InterlockActive, match="door open"):
                    await ctl.move({"X": 410.0})  # the park
                emu.set_door(False)
                await _until_state(ctl, "Door", 0)
                stops = len(emu.stats.realtime)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_move, ctl)  # the park, once the door is closed
                    await _until_logged(caplog, "its door opened and closed since")
                    assert b"~" not in [byte for byte, _ in emu.stats.realtime[stops:]]
                    assert emu.position() == held_at
                    emu.run(firmware.cycle_start)  # at the board
            check_at(await ctl.read_position(), {"X": 410.0})


@contextlib.asynccontextmanager
async def _homed_at_a_tenth(config_for: ConfigFor, caplog: pytest.LogCaptureFixture,
                            ) -> AsyncIterator[tuple[EmulatorHandle, GcodeController]]:
    """A GRBL at a tenth of real time (a move lasts long enough to be caught mid-way),
    homed at once: its axes start at their switches."""
    with running_emulator("grbl", speed=0.1, start_position=HOMES) as emu, \
            caplog.at_level(logging.WARNING):
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            yield emu, ctl


async def _until_sent(emu: EmulatorHandle, seen: int, line: str) -> None:
    """Until the emulator has been sent ``line`` (after its first ``seen`` lines)."""
    while line not in emu.stats.lines[seen:]:
        await anyio.sleep(0.01)


@contextlib.asynccontextmanager
async def _held_at_the_board(config_for: ConfigFor, caplog: pytest.LogCaptureFixture,
                             ) -> AsyncIterator[tuple[EmulatorHandle, GcodeController]]:
    """A GRBL homed, moved to X 100 and held there at its board (its feed hold button),
    the driver's polling having seen the hold; ten seconds for what follows."""
    with running_emulator("grbl", speed=SPEED) as emu, caplog.at_level(logging.WARNING):
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            _hold_at_the_board(emu, "grbl", True)
            with anyio.fail_after(10):
                await _until_state(ctl, "Hold")
                yield emu, ctl


async def _until_logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    """Until the driver has logged ``text``."""
    while text not in caplog.text:
        await anyio.sleep(0.01)


async def _until_state(ctl: GcodeController, state: str, substate: int | None = None) -> None:
    """Until the driver's polling has seen ``state`` (and ``substate``, if given)."""
    while (ctl.link.status is None or ctl.link.status.state != state
           or (substate is not None and ctl.link.status.substate != substate)):
        await anyio.sleep(0.01)


async def test_homing_in_a_hold_set_at_the_board_before_a_door_says_it_waited_for_the_board(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    # home_held (what labrun run says of a Ctrl-C meanwhile) looked for Hold only: in the
    # Door:0 of a door opened and closed in the board's hold it said no hold was found.
    with running_emulator("grbl", speed=SPEED) as emu, caplog.at_level(logging.WARNING):
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            _hold_at_the_board(emu, "grbl", True)
            with anyio.fail_after(10):
                await _until_state(ctl, "Hold")
                emu.set_door(True)
                await _until_state(ctl, "Door", 1)
                emu.set_door(False)
                await _until_state(ctl, "Door", 0)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ctl.home)
                    await _until_logged(caplog, "its door opened and closed since")
                    assert ctl.home_held
                    assert not ctl.home_moved
                    emu.run(firmware.cycle_start)  # at the board
            assert ctl.home_moved
