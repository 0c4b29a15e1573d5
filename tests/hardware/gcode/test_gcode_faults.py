"""Injected faults give a clear HardwareFault or are recovered from; nothing hangs."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.controller import HardwareFault
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.emulator.firmware import GrblFirmware
from hardware.gcode import (
    ConnectionLost,
    ControllerError,
    ControllerTimeout,
    GcodeController,
    open_controller,
)
from hardware.kinematics import plan_move

pytestmark = pytest.mark.anyio

SPEED = 20.0
LEFT_MOTION_SPEED = 2.0
"""The emulator's speed where motion a lost link left must still run as labrun
reconnects: slow enough that it does, on however busy a machine."""
POLL_S = 0.05
STOPS_EARLY = ("grbl", "marlin")
"""The dialects whose cancelled move stops short: Smoothieware's feed hold lets the move
under way run to its end, so the driver waits it out."""
SHORT_TIMEOUT_S = 0.4
CheckAt = Callable[[dict[str, float], dict[str, float]], None]
ConfigFor = Callable[..., RobotConfig]


async def test_dropped_connection_fails_the_move_at_once(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    started = time.monotonic()
    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drop_after, emulator, 0.02)
            with pytest.raises(ConnectionLost, match=r"tcp://127\.0\.0\.1"):
                await homed.move({"X": 20.0}, speed=100.0)
    assert time.monotonic() - started < homed.timeout_s  # not a timeout: noticed at once
    with pytest.raises(ConnectionLost):
        await homed.read_position()
    # Reconnecting gives a working controller that must be homed again.
    await homed.disconnect()
    await homed.connect()
    assert homed.requires_homing
    await homed.home()
    await homed.move({"X": 100.0})
    check_at(await homed.read_position(), {"X": 100.0})


async def test_reconnecting_to_a_grbl_still_moving_stops_what_the_lost_link_left(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    # GRBL does not notice a lost connection (a network link to grblHAL, say): it runs
    # on what it was sent, and runs no '$' command meanwhile. Reconnecting failed
    # ("controller rejected '$I': error:8") until that motion ended, wherever it went.
    # 390 mm at 10 mm/s: 39 s emulated, about 20 s here (the emulator at twice real
    # time), far more than reconnecting takes, however busy the machine: the test does
    # not wait for it, as the motion is stopped at the connection.
    with running_emulator("grbl", speed=LEFT_MOTION_SPEED) as emu, \
            caplog.at_level(logging.WARNING):
        ctl = GcodeController(config_for("grbl", emu.address), poll_interval=POLL_S)
        await ctl.connect()
        try:
            await ctl.home()
            await ctl.move({"X": 10.0})
            seen = len(emu.stats.lines)
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_lost_move, ctl)
                    while not any("X400" in line for line in emu.stats.lines[seen:]):
                        await anyio.sleep(0.01)
                    emu.drop_connection()
                assert not emu.call(lambda: emu.emulator.machine.idle)  # it runs on
                await ctl.connect()
                assert emu.call(lambda: emu.emulator.machine.idle)  # stopped short
                stopped = emu.position()["X"]
                assert 10.0 < stopped < 400.0
                assert re.search(r"the controller at tcp://\S+ was still moving \(Run\) when "
                                 r"labrun connected, .*: labrun stopped it", caplog.text)
                assert ctl.requires_homing
                await ctl.home()
        finally:
            await ctl.disconnect()


async def test_a_grbl_held_with_motion_a_lost_link_left_stops_it_once_resumed(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    # Someone holds GRBL mid-move at its board and the connection is lost. Reconnected,
    # labrun waits for the hold to be resumed there; resumed, GRBL ran on what the lost
    # link left, and the homing that waited failed: "controller rejected '$I': error:8".
    with running_emulator("grbl", speed=LEFT_MOTION_SPEED) as emu, \
            caplog.at_level(logging.WARNING):
        ctl = GcodeController(config_for("grbl", emu.address), poll_interval=POLL_S)
        await ctl.connect()
        try:
            await ctl.home()
            await ctl.move({"X": 10.0})
            seen = len(emu.stats.lines)
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_lost_move, ctl)
                    while not any("X400" in line for line in emu.stats.lines[seen:]):
                        await anyio.sleep(0.01)
                    emu.call(emu.emulator.machine.hold)  # at the board
                    emu.drop_connection()
                await ctl.connect()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ctl.home)
                    while "labrun did not set" not in caplog.text:
                        await anyio.sleep(0.01)
                    emu.call(emu.emulator.machine.resume)  # cycle start, at the board
                assert re.search(r"the controller at tcp://\S+ was still moving \(Run\) once "
                                 r"its hold was resumed at its board, .*: labrun stopped it",
                                 caplog.text)
                assert not ctl.requires_homing
        finally:
            await ctl.disconnect()


async def test_a_grbl_silent_at_connection_may_still_be_homing_and_the_error_says_so(
        config_for: ConfigFor) -> None:
    # GRBL answers nothing, not even '?', while it homes: connecting while a cycle from
    # a lost connection runs on failed as a dead board does, 'no status report'.
    with running_emulator("grbl", speed=SPEED) as emu:
        emu.faults.silent = True
        ctl = GcodeController(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                              poll_interval=POLL_S)
        with anyio.fail_after(10), pytest.raises(
                ControllerTimeout, match=r"no status report within 0\.4 s \(GRBL answers "
                                         r"nothing while it homes: if a homing cycle was under "
                                         r"way when a connection to it was lost, connect again "
                                         r"once it has ended\)"):
            await ctl.connect()


async def _lost_move(ctl: GcodeController) -> None:
    with pytest.raises(ConnectionLost):
        await ctl.move({"X": 400.0}, speed=10.0)


async def _drop_after(emulator: EmulatorHandle, delay: float) -> None:
    await anyio.sleep(delay)
    emulator.drop_connection()


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
async def test_dropped_pseudo_terminal(dialect: str, config_for: ConfigFor) -> None:
    with running_emulator(dialect, link="pty", speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home(["Z"])
            with anyio.fail_after(3):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_drop_after, emu, 0.02)
                    with pytest.raises(ConnectionLost):
                        await ctl.home()


@pytest.mark.parametrize("dialect", ["grbl", "marlin"])  # Smoothieware halts: alarms
async def test_error_reply_names_the_line_and_the_controller_carries_on(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    emulator.faults.error_next = 1
    with pytest.raises(ControllerError, match=r"rejected '(G53 )?G1 X50\.000.*(rror)"):
        await homed.move({"X": 50.0})
    await homed.move({"X": 60.0})
    check_at(await homed.read_position(), {"X": 60.0})


async def test_silence_times_out_with_a_clear_fault(
        emulator: EmulatorHandle, dialect: str, config_for: ConfigFor,
        check_at: CheckAt) -> None:
    config = config_for(dialect, emulator.address, SHORT_TIMEOUT_S)
    async with open_controller(config, poll_interval=POLL_S) as ctl:
        await ctl.home()
        emulator.faults.silent = True
        started = time.monotonic()
        with anyio.fail_after(3), pytest.raises(
                ControllerTimeout, match=r"no answer|no status|stopped answering"):
            await ctl.move({"X": 100.0})
        assert time.monotonic() - started < SHORT_TIMEOUT_S + 1.0
        # The controller is not trusted again until reconnected...
        with pytest.raises(ControllerTimeout):
            await ctl.read_position()
        # ...but an emergency stop still goes out.
        realtime = len(emulator.stats.realtime)
        with pytest.raises(ControllerTimeout):
            await ctl.emergency_stop()
        await anyio.sleep(0.05)
        assert len(emulator.stats.realtime) > realtime
        emulator.faults.silent = False
        await ctl.disconnect()
        await ctl.connect()
        await ctl.home()
        await ctl.move({"X": 100.0})
        check_at(await ctl.read_position(), {"X": 100.0})


async def test_a_grbl_silent_while_it_homes_is_not_taken_for_lost(
        config_for: ConfigFor) -> None:
    # GRBL answers no status query while it homes (longer than the timeout here): the
    # homing line's own allowance holds, not the poller's silence.
    with running_emulator("grbl", speed=1.0) as emu:
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            started = time.monotonic()
            await ctl.home()
            assert time.monotonic() - started > 2 * SHORT_TIMEOUT_S
            assert (await ctl.read_position())["X"] == pytest.approx(418.0, abs=0.01)


async def test_a_grbl_homing_at_its_own_seek_rate_is_allowed_the_time_it_takes(
        config_for: ConfigFor) -> None:
    # GRBL seeks its switches at $25 (stock: 500 mm/min), whatever the robot file's
    # speeds, and answers nothing meanwhile. Allowed only the time the robot file's speeds
    # take (here X's 418 mm at 600 mm/s: 1.8 s, plus a second and the timeout), a cycle
    # from mid-travel at 50 mm/s (4.2 s) failed the link with a timeout.
    with running_emulator("grbl", speed=1.0) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({25: 3000.0}))  # 50 mm/s
        async with open_controller(config_for("grbl", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            started = time.monotonic()
            position = await ctl.home(["X"])
            assert time.monotonic() - started > 4.0  # at the firmware's rate
            assert position["X"] == pytest.approx(418.0, abs=0.01)
            assert ctl.link.fault is None


async def test_a_poll_interval_longer_than_the_timeout_is_no_silence(
        emulator: EmulatorHandle, dialect: str, config_for: ConfigFor) -> None:
    if dialect == "marlin":
        pytest.skip("Marlin has no status query to poll")
    async with open_controller(config_for(dialect, emulator.address, SHORT_TIMEOUT_S),
                               poll_interval=3 * SHORT_TIMEOUT_S) as ctl:
        await ctl.home()
        await anyio.sleep(8 * SHORT_TIMEOUT_S)  # answered every poll: never silent
        await ctl.move({"X": 100.0})


async def test_marlin_idle_is_asked_again_after_an_error_and_its_silence_noticed(
        config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address, SHORT_TIMEOUT_S),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.error_next = 1  # the heartbeat's own question is refused once
            await anyio.sleep(2 * SHORT_TIMEOUT_S)
            await ctl.read_position()  # the link is fine
            link = ctl.link
            emu.faults.silent = True
            with anyio.fail_after(3):
                while link.fault is None:  # nothing is asked of it but its heartbeat
                    await anyio.sleep(0.05)
            assert "no answer from the controller to 'M114 R'" in str(link.fault)


async def test_cancelling_a_move_to_a_silent_controller_does_not_hang(
        emulator: EmulatorHandle, dialect: str, config_for: ConfigFor) -> None:
    config = config_for(dialect, emulator.address, SHORT_TIMEOUT_S)
    async with open_controller(config, poll_interval=POLL_S) as ctl:
        home = await ctl.home()
        # Smoothieware's stop waits the move out: its answer is allowed the move's time
        waited = 0.0 if dialect in STOPS_EARLY else plan_move(
            home, {"X": 20.0}, config.axes, 100.0).duration + 0.5
        started = time.monotonic()
        with anyio.fail_after(3 + waited):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_silence_after, emulator, 0.01)
                with anyio.move_on_after(0.03):
                    await ctl.move({"X": 20.0}, speed=100.0)
        # The shielded stop gave up after the timeout; the fault is kept.
        assert time.monotonic() - started < 3 * SHORT_TIMEOUT_S + 1.0 + waited
        with pytest.raises(HardwareFault):
            await ctl.read_position()


async def _silence_after(emulator: EmulatorHandle, delay: float) -> None:
    await anyio.sleep(delay)
    emulator.faults.silent = True


async def test_slow_acknowledgements_are_waited_for(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str,
        check_at: CheckAt) -> None:
    emulator.faults.ack_delay = 0.1  # well under the 1 s timeout, for every line
    for target in ({"X": 30.0}, {"Y": 40.0, "Z": 50.0}):
        await homed.move(target)
        check_at(await homed.read_position(), target)
    await homed.set_currents({"B": 0.2})
    with anyio.move_on_after(0.25):
        await homed.move({"X": 300.0}, speed=30.0)  # 9 s emulated, 0.45 s here
    stopped = await homed.read_position()
    if dialect in STOPS_EARLY:
        assert 30.0 < stopped["X"] < 300.0
    else:  # Smoothieware's feed hold lets the move run to its end
        check_at(stopped, {"X": 300.0})


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
async def test_a_slow_controller_stays_alive_through_busy_lines_and_status(
        dialect: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    # The emulator runs 10x slower than real time, so motion outlasts the driver's own
    # estimate plus the 0.3 s timeout: only busy lines / status reports keep it alive.
    with running_emulator(dialect, speed=0.1, busy_interval=0.1,
                          start_position={"X": 10.0}) as emu:
        homed_at = {"X": 10.0}
        emu.emulator.machine.homed.update(emu.emulator.config.axes)
        async with open_controller(config_for(dialect, emu.address, 0.3),
                                   poll_interval=POLL_S) as ctl:
            ctl._unhomed.clear()  # the emulator was started homed
            if dialect == "grbl":
                await ctl.recover()  # GRBL powers up locked
            check_at(await ctl.read_position(), homed_at)
            with anyio.fail_after(5):
                await ctl.move({"X": 20.0}, speed=100.0)  # ~0.13 s at full speed, 1.3 s here
            check_at(await ctl.read_position(), {"X": 20.0})


async def test_marlin_resend_requests_are_honoured(config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.resend_next = 3
            for x in (50.0, 60.0, 70.0):
                await ctl.move({"X": x})
            position = await ctl.read_position()
            assert position["X"] == pytest.approx(70.0, abs=0.006)
            assert emu.stats.resends_requested == 3
            assert ctl.link.streamer.resent_lines == 3
            # Every numbered line the emulator accepted passed its checksum.
            numbered = [line for line in emu.stats.lines if line.startswith("N")]
            assert emu.stats.checksums_verified == len(numbered) - 3
            assert emu.stats.checksum_failures == 3


async def test_marlin_link_that_keeps_corrupting_is_a_fault(config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.resend_next = 100
            with anyio.fail_after(3), pytest.raises(ControllerError, match="refused 5 times"):
                await ctl.move({"X": 50.0})


async def test_marlin_that_lost_count_of_its_lines_fails_the_move_once_and_says_so(
        config_for: ConfigFor) -> None:
    # Marlin asks for the line after the last one it ran: here line 1, long acknowledged
    # (a restart whose banner never came). Sending the move in flight again is refused
    # for ever, and sending line 1 on again could run every move twice.
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 50.0})
            sent_before = len(emu.stats.lines)
            emu.emulator.firmware.last_line = 0
            with anyio.fail_after(3), pytest.raises(ControllerError) as raised:
                await ctl.move({"X": 60.0})
            assert str(raised.value) == (
                "controller asked to resend line 1 ('G21'), which it had already "
                "acknowledged: the firmware lost count of the lines it ran (a restart whose "
                "banner did not arrive, an answer lost on the line), so which of them it ran "
                "is unknown, and so is the robot's position; reconnect and home it")
            with pytest.raises(ControllerError, match="resend line 1"):
                await ctl.read_position()  # the position is not guessed
        assert emu.stats.lines[sent_before:] == ["N10 G1 X60.000 F36000.0*52"]
        assert emu.stats.resends_requested == 1
        assert emu.position()["X"] == pytest.approx(50.0)


async def test_marlin_every_line_is_numbered_and_checksummed(config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0, "Y": 100.0})
            await ctl.set_currents({"B": 0.1})
            with anyio.move_on_after(0.02):
                await ctl.move({"X": 300.0}, speed=100.0)
            await ctl.emergency_stop()
            await ctl.home()
        numbered = [line for line in emu.stats.lines if line.startswith("N")]
        plain = [line for line in emu.stats.lines if not line.startswith("N")]
        assert len(numbered) > 10
        assert emu.stats.checksums_verified == len(numbered)
        assert emu.stats.checksum_failures == 0
        # Only the line-counter resets, the emergency-parser commands and the restart
        # travel without a number.
        assert {line.split()[0] for line in plain} <= {"M110", "M410", "M112", "M999"}


async def test_grbl_streaming_stays_within_the_rx_buffer(config_for: ConfigFor) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            lines = [f"G1 X{300 + (i % 7) * 1.5:.3f} Y{200 + (i % 5):.3f} F30000"
                     for i in range(80)]
            with anyio.fail_after(10):
                replies = await ctl.send_gcode(lines)
                await ctl.wait_until_idle()
            assert len(replies) == 80
            assert emu.stats.rx_overflows == 0
            assert emu.stats.max_rx_in_flight <= 127
            assert emu.stats.max_rx_in_flight > 100  # really streamed, not one at a time
            assert (await ctl.read_position())["X"] == pytest.approx(300 + (79 % 7) * 1.5)


@pytest.mark.parametrize("dialect", STOPS_EARLY)
async def test_a_cancelled_move_sends_its_stop_while_the_axes_still_move(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str) -> None:
    # How soon the stop is on the wire is a figure (benchmarks/gcode_latency.py: pause to
    # stop, 2 ms median target), not a test: here only that it comes while the move is
    # under way, and the axes stop there. 390 mm at 10 mm/s last 2 s of
    # wall time at SPEED 20; the cancel comes after 20 ms.
    stop_marker = b"M410" if dialect == "marlin" else b"!"
    for _ in range(3):
        await homed.move({"X": 10.0})
        before = len(emulator.stats.realtime)
        with anyio.move_on_after(0.02):
            await homed.move({"X": 400.0}, speed=10.0)
        stops = [data for data, _ in emulator.stats.realtime[before:] if data == stop_marker]
        assert stops, "no stop request reached the controller"
        stopped = (await homed.read_position())["X"]
        assert 10.0 < stopped < 300.0, stopped  # cut short mid-move, not run to its end
        assert not emulator.call(lambda: emulator.emulator.machine.moving)


@asynccontextmanager
async def _homed_at_x10(config_for: ConfigFor, dialect: str, **emulator: Any
                        ) -> AsyncIterator[tuple[EmulatorHandle, GcodeController]]:
    """The emulator of ``dialect`` (``emulator``: its options) and a controller on it,
    homed and moved to X 10: where the "lost on the line" tests begin their long move."""
    with running_emulator(dialect, speed=SPEED, **emulator) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 10.0})
            yield emu, ctl


async def test_a_grbl_feed_hold_lost_on_the_line_is_sent_again_until_the_axes_hold(
        config_for: ConfigFor) -> None:
    # A '!' lost on a noisy line: GRBL goes on with the move and reports Run. The driver
    # holds again until GRBL reports the hold, so a cancelled move (a pause, a stop) stops
    # where it is, not at its end. 390 mm at 5 mm/s last about 4 s of wall time here.
    async with _homed_at_x10(config_for, "grbl") as (emu, ctl):
        emu.faults.lost_feed_hold_next = 1
        before, link = len(emu.stats.realtime), ctl.link
        sent = link.streamer.lines_sent
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(ctl.move, {"X": 400.0}, speed=5.0))
            await link.wait_for(lambda: link.streamer.lines_sent == sent + 2, "G1, G4")
            seq = link.status_seq
            await link.wait_for(lambda: link.status_seq > seq and link.status is not None
                                and link.status.state == "Run", "a report of the move")
            tg.cancel_scope.cancel()
        assert not emu.call(lambda: emu.emulator.machine.moving)
        holds = [data for data, _ in emu.stats.realtime[before:] if data == b"!"]
        assert len(holds) >= 2  # the lost one and the one that held it
        stopped = (await ctl.read_position())["X"]
        assert 10.0 < stopped < 300.0, stopped  # cut short mid-move
        assert emu.position()["X"] == pytest.approx(stopped, abs=1e-3)


async def test_a_marlin_quickstop_lost_on_the_line_is_sent_again_until_the_axes_stop(
        config_for: ConfigFor) -> None:
    # An M410 damaged on the line: Marlin's emergency parser misses it and the move goes
    # on (the damaged line is answered in turn, after the move's M400). It is sent again,
    # so a cancelled move (a pause, a stop) stops where it is, not at its end.
    async with _homed_at_x10(config_for, "marlin", busy_interval=0.2) as (emu, ctl):
        emu.faults.lost_quickstop_next = 1
        link, sent = ctl.link, len(emu.stats.lines)
        sent_lines = link.streamer.lines_sent
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(ctl.move, {"X": 400.0}, speed=5.0))
            await link.wait_for(  # G1 planned (answered), its M400 busy: it moves
                lambda: link.streamer.lines_sent == sent_lines + 2, "G1, M400")
            tg.cancel_scope.cancel()
        assert not emu.call(lambda: emu.emulator.machine.moving)
        received = emu.stats.lines[sent:]
        assert received[2:4] == ["M410", "M410"]  # the damaged one, and again
        stopped = (await ctl.read_position())["X"]
        assert 10.0 < stopped < 300.0, stopped  # cut short mid-move
        assert emu.position()["X"] == pytest.approx(stopped, abs=0.006)


async def test_a_grbl_emergency_stop_lost_on_the_line_is_sent_again_until_confirmed(
        config_for: ConfigFor) -> None:
    # A 0x18 lost on a noisy line: GRBL goes on with the move. The stop is sent again
    # until GRBL confirms it (its ALARM:3 and banner), not left unconfirmed, still moving.
    async with _homed_at_x10(config_for, "grbl") as (emu, ctl):
        emu.faults.lost_reset_next = 1
        before, link = len(emu.stats.realtime), ctl.link
        sent = link.streamer.lines_sent
        failed: list[HardwareFault] = []

        async def move() -> None:
            try:
                await ctl.move({"X": 400.0}, speed=5.0)
            except HardwareFault as exc:
                failed.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(move)
            await link.wait_for(lambda: link.streamer.lines_sent == sent + 2, "G1, G4")
            seq = link.status_seq
            await link.wait_for(lambda: link.status_seq > seq and link.status is not None
                                and link.status.state == "Run", "a report of the move")
            with anyio.fail_after(5):
                await ctl.emergency_stop()
        assert not emu.call(lambda: emu.emulator.machine.moving)
        resets = [data for data, _ in emu.stats.realtime[before:] if data == b"\x18"]
        assert len(resets) >= 2  # the lost one and the one that stopped it
        assert emu.position()["X"] < 300.0  # cut short mid-move
        assert [str(exc) for exc in failed] == [
            "the move was ended early by an emergency stop"]
        assert ctl.requires_homing


async def test_a_controller_busy_for_too_long_says_so_and_still_takes_the_emergency_stop(
        config_for: ConfigFor) -> None:
    # Marlin says "busy: processing" while a move runs far slower than planned (its max
    # feed rate below the robot file's): the limit that runs out is the busy one.
    with running_emulator("marlin", speed=SPEED, busy_interval=0.05) as emu:
        async with open_controller(config_for("marlin", emu.address, 0.4),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.call(emu.emulator.machine.hold)  # the next move never ends: busy for ever
            with anyio.fail_after(10), pytest.raises(
                    ControllerTimeout, match=r"stayed busy with 'M400' for [\d.]+ s without "
                                             r"answering, longer than it may \(3 times 0\.4 s "
                                             r"timeout_s plus the [\d.]+ s of motion"):
                await ctl.move({"X": 417.0})
            with pytest.raises(ControllerTimeout):
                await ctl.stop_motion()  # the link is not trusted: nothing more is sent...
            stops = len(emu.stats.realtime)
            with anyio.fail_after(5):
                await ctl.emergency_stop()  # ...but the emergency stop, and it is confirmed
            assert [data for data, _ in emu.stats.realtime[stops:]] == [b"M112"]
            assert ctl.requires_homing


async def test_an_emergency_stop_that_cannot_be_written_says_so(
        homed: GcodeController, emulator: EmulatorHandle) -> None:
    emulator.drop_connection()
    with anyio.fail_after(5), pytest.raises(ConnectionLost):
        await homed.read_position()  # the reader sees the end of the connection
    with pytest.raises(ConnectionLost, match=r"^the emergency stop was not sent: .*closed"):
        await homed.emergency_stop()


async def test_a_klipper_error_fails_its_line_though_an_ok_follows(
        config_for: ConfigFor) -> None:
    # Klipper answers a line it refuses '!! <why>' and then ok (klippy/gcode.py:
    # _respond_error, then gcmd.ack()): the ok was taken for a move done.
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.error_message = "!! Move out of range: 500.000 0.000 0.000 [0.000]"
            emu.faults.error_next = 1
            with pytest.raises(ControllerError, match=(
                    r"^controller rejected 'G1 X50\.000 .*': !! Move out of range: "
                    r"500\.000 0\.000 0\.000 \[0\.000\]$")):
                await ctl.move({"X": 50.0})
            await ctl.move({"X": 60.0})  # the next lines are answered as before
            assert (await ctl.read_position())["X"] == pytest.approx(60.0, abs=0.006)


async def test_a_klipper_shutdown_while_the_run_waits_is_reported_at_once(
        config_for: ConfigFor) -> None:
    # An M112 or an MCU fault shuts Klipper down ('// Klipper state: Shutdown', its
    # steppers off): the robot's position is lost, though every line is still answered.
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            reported: list[HardwareFault] = []
            ctl.set_fault_listener(reported.append)
            firmware = emu.emulator.firmware
            emu.run(firmware.send, "// Klipper state: Shutdown")
            with anyio.fail_after(5):
                while not reported:
                    await anyio.sleep(0.01)
            assert str(reported[0]) == "controller alarm: // Klipper state: Shutdown"
            assert ctl.requires_homing
