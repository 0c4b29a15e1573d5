"""GcodeController against the emulator, for every dialect: the MotionController contract."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest

from hardware.config import RobotConfig, slowest_feed
from hardware.controller import HardwareFault, JobPhase, MotionController, NotHomedError
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.frozen import replace
from hardware.gcode import (
    GcodeController,
    InterlockActive,
    MotionInterrupted,
    Smoothie,
    open_controller,
)

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
STOPS_EARLY = ("grbl", "marlin")
"""The dialects whose cancelled move stops short: Smoothieware's feed hold lets the move
under way run to its end, so the driver waits it out."""
CheckAt = Callable[[dict[str, float], dict[str, float]], None]
ConfigFor = Callable[..., RobotConfig]


async def test_is_a_motion_controller_that_needs_homing_after_connect(
        controller: GcodeController, dialect: str) -> None:
    assert isinstance(controller, MotionController)
    assert controller.requires_homing
    assert controller.supports_currents == (dialect != "grbl")
    with pytest.raises(NotHomedError):
        await controller.move({"X": 10.0})


async def test_home_move_and_read_position_agree_with_the_targets(
        controller: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    with anyio.fail_after(5):
        home = await controller.home()
        expected_home = {a: c.home for a, c in controller.config.axes.items()}
        check_at(home, expected_home)
        assert not controller.requires_homing
        assert emulator.homed == set(controller.config.axes)

        for target in ({"X": 120.0, "Y": 80.5, "Z": 150.25},
                       {"A": 100.0, "B": 12.5, "C": 3.0},
                       {"X": 10.0, "Y": 300.0}):
            await controller.move(target, speed=400.0)
            check_at(await controller.read_position(), target)
            check_at(emulator.position(), target)


async def test_moves_take_their_kinematic_time(homed: GcodeController) -> None:
    # X 418 -> 18 at 600 mm/s, 3000 mm/s^2: 400/600 + 600/3000 = 0.8667 s emulated.
    started = anyio.current_time()
    await homed.move({"X": 18.0})
    elapsed = (anyio.current_time() - started) * SPEED
    assert 0.85 < elapsed < 1.6


async def test_home_named_axes_only(homed: GcodeController, check_at: CheckAt) -> None:
    await homed.move({"X": 50.0, "Z": 100.0})
    position = await homed.home(["Z"])
    check_at(position, {"X": 50.0, "Z": 218.0})


@pytest.mark.parametrize("dialect", STOPS_EARLY)
async def test_cancelled_move_stops_between_start_and_target(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str, check_at: CheckAt) -> None:
    await homed.move({"X": 10.0})
    with anyio.fail_after(5):
        with anyio.move_on_after(0.03) as scope:
            await homed.move({"X": 400.0}, speed=100.0)
        assert scope.cancelled_caught
        stopped = await homed.read_position()
    assert 10.0 < stopped["X"] < 400.0
    # The axes are still: the emulator agrees and does not move on.
    await anyio.sleep(0.1)
    check_at(emulator.position(), {"X": stopped["X"]})
    # The controller carries on normally from there.
    await homed.move({"X": 200.0})
    check_at(await homed.read_position(), {"X": 200.0})


@pytest.mark.parametrize("dialect", ["smoothie"])
async def test_a_cancelled_move_on_smoothieware_is_waited_out_not_halted_dead(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    # Smoothieware's feed hold only keeps it from planning new moves: the move under way
    # runs to its end, and its reports say Hold at once. Taken for still axes, the
    # driver halted the board (ctrl-X) mid-move: the axes stopped dead, unbraked, the
    # board's homing was lost, and the driver still counted the robot homed.
    await homed.move({"X": 10.0})
    realtime = len(emulator.stats.realtime)
    with anyio.fail_after(5):
        with anyio.move_on_after(0.03) as scope:
            await homed.move({"X": 400.0}, speed=100.0)
        assert scope.cancelled_caught
        check_at(await homed.read_position(), {"X": 400.0})
    check_at(emulator.position(), {"X": 400.0})
    assert [data for data, _ in emulator.stats.realtime[realtime:]
            if data in (b"!", b"\x18")] == []
    assert emulator.homed == set(homed.config.axes) and not homed.requires_homing


@pytest.mark.parametrize("dialect", STOPS_EARLY)
async def test_stop_motion_from_another_task_ends_the_move_early(
        homed: GcodeController, check_at: CheckAt) -> None:
    await homed.move({"Y": 10.0})
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async def move() -> None:
                with pytest.raises(MotionInterrupted, match=r"stop_motion\(\)"):
                    await homed.move({"Y": 300.0}, speed=100.0)
            tg.start_soon(move)
            await anyio.sleep(0.03)
            stopped = await homed.stop_motion()
    assert 10.0 < stopped["Y"] < 300.0
    check_at(await homed.read_position(), stopped)


async def test_stop_motion_when_still_returns_the_position(
        homed: GcodeController, dialect: str, check_at: CheckAt) -> None:
    await homed.move({"Y": 100.0})
    check_at(await homed.stop_motion(), {"Y": 100.0})
    await homed.move({"Y": 120.0})
    check_at(await homed.read_position(), {"Y": 120.0})


async def test_emergency_stop_requires_homing_and_homing_recovers(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str, check_at: CheckAt) -> None:
    failures: list[HardwareFault] = []

    async def move() -> None:
        try:
            await homed.move({"X": 20.0, "Y": 20.0})
        except HardwareFault as exc:  # the move in flight fails: the firmware dropped it
            failures.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(move)
            await anyio.sleep(0.02)
            await homed.emergency_stop()
        assert len(failures) == 1
        assert isinstance(failures[0], MotionInterrupted)
        assert "emergency stop" in str(failures[0])
        assert homed.requires_homing
        assert emulator.homed != set(homed.config.axes)  # stopped in motion: position lost
        with pytest.raises(NotHomedError):
            await homed.move({"X": 100.0})
        await homed.home()
        assert not homed.requires_homing
        await homed.move({"X": 100.0})
        check_at(await homed.read_position(), {"X": 100.0})


async def test_a_halt_while_a_cancelled_move_stops_is_not_undone(
        config_for: ConfigFor) -> None:
    # A halt as the engine makes it: the move in flight is cancelled (its stop sends a
    # feed hold) and the emergency stop goes out while the axes brake. The stop must not
    # go on to unlock ($X) or set up (G21, G90) the halted board: it stays halted until
    # home(). At a tenth of real time the brake lasts about 0.3 s.
    with running_emulator("grbl", speed=0.1, start_position={"X": 10.0}) as emu:
        emu.emulator.machine.homed.update(emu.emulator.config.axes)
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.recover()  # GRBL powers up locked
            ctl._unhomed.clear()  # the emulator was started homed
            moving = anyio.CancelScope()

            async def move() -> None:
                with moving:
                    await ctl.move({"X": 20.0}, speed=100.0)

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(move)
                    while emu.position()["X"] < 12.0:  # at full speed
                        await anyio.sleep(0.005)
                    held = len(emu.stats.realtime)
                    moving.cancel()
                    while b"!" not in [data for data, _ in emu.stats.realtime[held:]]:
                        await anyio.sleep(0.005)  # the cancelled move's stop is under way
                    await ctl.emergency_stop()
                await ctl.link.fresh_status()  # a round trip: whatever was sent has arrived
            halted_at = max(t for data, t in emu.stats.realtime if data == b"\x18")
            undone = [line for line, t in zip(emu.stats.lines, emu.stats.line_times,
                                              strict=True)
                      if t > halted_at and line.split()[0] in ("M999", "$X", "G21", "G90")]
            assert undone == []
            assert emu.call(lambda: firmware.locked)
            assert ctl.requires_homing
            with pytest.raises(HardwareFault, match="home the robot"):
                await ctl.wait_until_idle()  # nothing is sent to the halted board


async def test_a_cancelled_homing_cycle_stops_the_axes_and_leaves_them_unhomed(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    # Ctrl-C while the robot homes: the firmware's cycle would run on by itself.
    await homed.move({"X": 20.0, "Y": 20.0, "Z": 20.0})
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(homed.home)
            while not emulator.call(lambda: emulator.emulator.machine.homing):
                await anyio.sleep(0.01)  # the firmware's cycle has started
            tg.cancel_scope.cancel()
    stopped = emulator.position()
    await anyio.sleep(0.3)  # a cycle left running would have moved on by now
    assert emulator.position() == stopped
    assert stopped != {a: c.home for a, c in homed.config.axes.items()}
    assert homed.requires_homing
    with anyio.fail_after(5):
        check_at(await homed.home(), {a: c.home for a, c in homed.config.axes.items()})


async def test_emergency_stop_when_idle(homed: GcodeController, check_at: CheckAt) -> None:
    await homed.emergency_stop()
    assert homed.requires_homing
    await homed.home(["Z", "X"])
    assert homed.requires_homing  # Y, A, B, C not homed yet
    await homed.home()
    await homed.move({"Z": 50.0})
    check_at(await homed.read_position(), {"Z": 50.0})


async def test_door_reaches_the_interlock_listener(
        homed: GcodeController, emulator: EmulatorHandle) -> None:
    seen: list[tuple[str, bool]] = []
    homed.set_interlock_listener(lambda name, active: seen.append((name, active)))
    with anyio.fail_after(3):
        emulator.set_door(True)
        while ("door", True) not in seen:
            await anyio.sleep(POLL_S / 2)
        assert homed.active_interlocks() == frozenset({"door"})
        emulator.set_door(False)
        while ("door", False) not in seen:
            await anyio.sleep(POLL_S / 2)
    assert homed.active_interlocks() == frozenset()
    assert seen == [("door", True), ("door", False)]


@pytest.mark.parametrize("dialect", ["marlin"])
async def test_marlins_lcd_pause_resume_and_stop_reach_the_board_listener_over_a_pty(
        dialect: str, check_at: CheckAt, config_for: ConfigFor,
        caplog: pytest.LogCaptureFixture) -> None:
    """Marlin's host action commands (``//action:pause``, ``resume``, ``cancel``), said as
    a person chooses Pause, Resume and Stop print on its LCD; the prompts and notifications
    around them, and the actions that ask nothing of a run, go by without a word. The LCD
    offers them as the print job timer the driver runs (``mark_job``) says."""
    seen: list[str] = []
    with running_emulator(dialect, link="pty", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            ctl.set_board_listener(seen.append)
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.mark_job("started")
                assert emu.run(firmware.lcd_pause)
                emu.run(firmware.send, "//action:notification Printer ready")
                emu.run(firmware.send, "//action:start")
                # heard before the job's pause, which the run makes once paused: a pause
                # the board says while M76 awaits its ok is taken for M76's own
                await ctl.read_position()
                await ctl.mark_job("paused")
                assert emu.run(firmware.lcd_resume)
                assert emu.run(firmware.lcd_stop)
                await ctl.move({"X": 100.0})  # answered after every line said before
                check_at(await ctl.read_position(), {"X": 100.0})
            ctl.set_board_listener(None)
            emu.run(firmware.lcd_pause)  # nobody listens: nothing happens
            await ctl.read_position()
    assert seen == ["pause", "resume", "stop"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_the_job_runs_marlins_print_job_timer_and_its_lcd_offers_what_it_says(
        controller: GcodeController, emulator: EmulatorHandle, dialect: str) -> None:
    """Started, paused, resumed and ended: ``M75``, ``M76``, ``M75``, ``M77`` on a Marlin,
    whose LCD offers Pause and Stop print while the timer runs, Resume print while it is
    paused, nothing once it is stopped; nothing is sent to GRBL or Smoothieware."""
    firmware = emulator.emulator.firmware
    phases: tuple[JobPhase, ...] = ("started", "paused", "resumed", "ended")
    offered: list[tuple[str, ...]] = []
    with anyio.fail_after(5):
        await controller.home()
        await controller.move({"X": 100.0})
        sent = len(emulator.stats.lines)
        for phase in phases:
            await controller.mark_job(phase)
            if isinstance(firmware, MarlinFirmware):
                offered.append(firmware.lcd_items)
        jobs = [line.partition(" ")[2].partition("*")[0] if line.startswith("N") else line
                for line in emulator.stats.lines[sent:]]
        await controller.move({"X": 50.0})  # the link goes on as before
    if dialect == "marlin":
        assert jobs == ["M75", "M76", "M75", "M77"]
        assert offered == [("Pause print", "Stop print"), ("Resume print",),
                           ("Pause print", "Stop print"), ()]
    else:
        assert jobs == []


@pytest.mark.parametrize("dialect", ["marlin"])
async def test_a_marlin_that_says_its_own_m76_as_a_pause_is_not_heard_as_a_person(
        dialect: str, config_for: ConfigFor) -> None:
    """With ``HOST_PAUSE_M76`` a Marlin answers the job's ``M76`` with ``//action:pause``:
    the driver's own pause said back, not a person at the board. A pause chosen on the
    LCD afterwards is heard."""
    seen: list[str] = []
    with running_emulator(dialect, speed=SPEED, host_pause_m76=True) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            ctl.set_board_listener(seen.append)
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.mark_job("started")
                await ctl.mark_job("paused")
                await ctl.read_position()  # every line the board said before is read
                assert seen == []
                assert emu.run(firmware.lcd_resume)
                assert emu.run(firmware.lcd_pause)
                await ctl.read_position()
    assert seen == ["resume", "pause"]


@pytest.mark.parametrize("dialect", STOPS_EARLY)
async def test_door_opened_mid_move_then_cancelled_like_an_immediate_pause(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str, check_at: CheckAt) -> None:
    """What the engine does on an interlock: cancel the move, read the position."""
    opened = anyio.Event()
    homed.set_interlock_listener(lambda name, active: opened.set() if active else None)
    await homed.move({"X": 10.0})
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async def move_until_door() -> None:
                with anyio.CancelScope() as scope:
                    tg.start_soon(_cancel_on, opened, scope)
                    await homed.move({"X": 400.0}, speed=100.0)
            tg.start_soon(move_until_door)
            await anyio.sleep(0.03)
            emulator.set_door(True)
        stopped = await homed.read_position()
        assert 10.0 < stopped["X"] < 400.0
        if dialect == "grbl":  # GRBL itself refuses motion while the door is open
            with pytest.raises(InterlockActive):
                await homed.move({"Z": 100.0})
        emulator.set_door(False)
        while homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        await homed.move({"Z": 100.0})
        check_at(await homed.read_position(), {"X": stopped["X"], "Z": 100.0})


async def test_homing_after_the_door_was_opened_and_closed_between_runs(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str) -> None:
    # GRBL is left waiting for cycle start (Door:0), where it refuses '$H' (error:8): the
    # driver resumes it first, rather than home into a refusal (or, before, wait forever).
    with anyio.fail_after(5):
        emulator.set_door(True)
        while not homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        emulator.set_door(False)
        while homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        if dialect == "grbl":
            status, _ = await homed.link.machine_status()
            assert (status.state, status.substate) == ("Door", 0)
            with pytest.raises(HardwareFault, match="error:8"):
                await homed.link.streamer.request("$H")
        position = await homed.home()
    assert position["Z"] == pytest.approx(218.0, abs=0.01)
    assert not homed.requires_homing


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def test_currents_where_supported(
        homed: GcodeController, emulator: EmulatorHandle, dialect: str) -> None:
    before = dict(emulator.emulator.machine.currents)
    await homed.set_currents({"B": 0.05, "C": 0.25})
    after = emulator.emulator.machine.currents
    if homed.supports_currents:
        assert after["B"] == pytest.approx(0.05)
        assert after["C"] == pytest.approx(0.25)
    else:
        assert after == before


async def test_motors_off_and_on(homed: GcodeController, emulator: EmulatorHandle,
                                 dialect: str) -> None:
    await homed.set_motors_enabled(False, ["B"])
    enabled = emulator.emulator.machine.motors_enabled
    if dialect == "grbl":
        assert enabled["B"]
        assert not homed.requires_homing
    else:
        assert not enabled["B"]
        assert homed.requires_homing  # a motor switched off loses its position
        await homed.set_motors_enabled(True, ["B"])
        assert emulator.emulator.machine.motors_enabled["B"]


async def test_wait_until_idle(homed: GcodeController, emulator: EmulatorHandle,
                               check_at: CheckAt) -> None:
    machine = emulator.emulator.machine
    line = homed.dialect.move_line({"X": 300.0}, 6000.0)  # 2.5 s emulated, 0.13 s here
    await homed.send_gcode([line])  # answered once planned, long before it ends
    assert not emulator.call(lambda: machine.idle)
    await homed.wait_until_idle()
    assert emulator.call(lambda: machine.idle)
    check_at(emulator.position(), {"X": 300.0})


async def test_bad_targets_are_refused_before_anything_is_sent(homed: GcodeController) -> None:
    sent = homed.link.streamer.lines_sent
    with pytest.raises(HardwareFault, match="unknown axis 'Q'"):
        await homed.move({"Q": 1.0})
    with pytest.raises(HardwareFault, match="outside its travel"):
        await homed.move({"X": 1000.0})
    assert homed.link.streamer.lines_sent == sent


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_a_halt_during_a_pauses_flush_ends_the_stop_at_once_on_a_board_gone_silent(
        homed: GcodeController, emulator: EmulatorHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A pause's stop holds the axes, then flushes; an emergency stop comes during the
    # flush, and the board answers nothing after it. The stop then read the position for
    # the link's whole timeout, and failed the link.
    await homed.move({"X": 10.0})
    flush = homed._flush

    async def halted_meanwhile(reset: bytes) -> None:
        emulator.faults.silent_after_reset = True
        await homed.emergency_stop()
        await flush(reset)

    monkeypatch.setattr(homed, "_flush", halted_meanwhile)
    interrupted: list[str] = []

    async def long_move() -> None:
        with pytest.raises(HardwareFault) as ended:
            await homed.move({"X": 400.0}, 100.0)
        interrupted.append(str(ended.value))

    async with anyio.create_task_group() as tg:
        tg.start_soon(long_move)
        await anyio.sleep(0.05)
        await homed.stop_motion()  # it read the position for the link's whole timeout
        # (a second) and raised ControllerTimeout, failing the link
    assert interrupted == ["the move was ended early by an emergency stop"]
    assert homed.link.fault is None


async def test_a_move_slower_than_the_firmware_moves_is_refused(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    # A plunger at a flow rate far too low: written as F0.0, Marlin and Smoothieware kept
    # their last speed and GRBL ran it at 1 mm/min, none at the speed asked.
    before = emulator.position()
    sent = homed.link.streamer.lines_sent
    with pytest.raises(HardwareFault, match=r"a move at 1e-06 mm/s is slower than "
                       rf"{homed.dialect.name} moves \(at least 0.0\d+ mm/s\)"):
        await homed.move({"B": before["B"] + 1.0}, speed=1e-6)
    assert homed.link.streamer.lines_sent == sent
    check_at(emulator.position(), before)
    slowest = slowest_feed(homed.dialect.name) / 60  # as slow as it goes: moved as asked
    await homed.move({"B": before["B"] + 0.01}, speed=slowest)
    assert emulator.emulator.firmware.feed_mm_per_min == pytest.approx(slowest * 60)
    check_at(emulator.position(), {"B": before["B"] + 0.01})
    # just above it, written as asked (F0.149, not F0.1: a third slower)
    await homed.move({"B": before["B"] + 0.02}, speed=slowest * 1.49)
    assert emulator.emulator.firmware.feed_mm_per_min == pytest.approx(slowest * 60 * 1.49,
                                                                       rel=1e-3)


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
async def test_over_a_pseudo_terminal(dialect: str, check_at: CheckAt,
                                      config_for: ConfigFor) -> None:
    with running_emulator(dialect, link="pty", speed=SPEED) as emu:
        assert emu.address.startswith("/dev/")
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.move({"X": 100.0, "Y": 100.0})
                check_at(await ctl.read_position(), {"X": 100.0, "Y": 100.0})
                with anyio.move_on_after(0.03):
                    await ctl.move({"X": 400.0}, speed=100.0)
                stopped = await ctl.read_position()
                if dialect in STOPS_EARLY:
                    assert 100.0 < stopped["X"] < 400.0
                else:  # Smoothieware's feed hold lets the move run to its end
                    check_at(stopped, {"X": 400.0})


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
async def test_through_a_pyserial_socket_url(dialect: str, check_at: CheckAt,
                                             config_for: ConfigFor) -> None:
    with running_emulator(dialect, speed=SPEED) as emu:
        url = emu.address.replace("tcp://", "socket://")
        async with open_controller(config_for(dialect, url), poll_interval=POLL_S) as ctl:
            with anyio.fail_after(5):
                await ctl.home(["X"])
                await ctl.home()
                await ctl.move({"Y": 42.0})
                check_at(await ctl.read_position(), {"Y": 42.0})


@pytest.mark.parametrize("dialect", ["smoothie"])
async def test_smoothie_without_realtime_commands(config_for: ConfigFor,
                                                  check_at: CheckAt) -> None:
    """Feed hold and ``?`` disabled in the firmware: positions come from ``M114`` and a
    cancelled move can only be waited out (there is no way to stop it early)."""
    with running_emulator("smoothie", speed=SPEED, feed_hold=False,
                          realtime_status=False) as emu:
        dialect = Smoothie(feed_hold=False, realtime_status=False)
        async with open_controller(config_for("smoothie", emu.address),
                                   dialect=dialect) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            check_at(await ctl.read_position(), {"X": 100.0})
            with anyio.fail_after(3):
                with anyio.move_on_after(0.02):
                    await ctl.move({"X": 300.0})
                check_at(await ctl.read_position(), {"X": 300.0})
            assert not any(data == b"!" for data, _ in emu.stats.realtime)


async def test_connect_and_disconnect_from_different_tasks(
        emulator: EmulatorHandle, dialect: str, config_for: ConfigFor) -> None:
    ctl = GcodeController(config_for(dialect, emulator.address), poll_interval=POLL_S)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ctl.connect)
    await ctl.home(["Z"])
    async with anyio.create_task_group() as tg:
        tg.start_soon(ctl.disconnect)
    with pytest.raises(HardwareFault, match="not connected"):
        await ctl.read_position()


@pytest.mark.parametrize(("robot_file_says", "firmware"), [("marlin", "grbl"),
                                                           ("grbl", "marlin")])
async def test_the_wrong_dialect_is_named_from_the_banner_the_firmware_sent(
        robot_file_says: str, firmware: str, config_for: ConfigFor) -> None:
    # "No answer" alone sends someone hunting for a cable or a baud rate; the firmware
    # did answer, with its own name.
    with running_emulator(firmware, speed=SPEED) as emu:
        config = config_for(robot_file_says, emu.address)
        config = replace(config, controller=replace(config.controller, timeout_s=1.0))
        with pytest.raises(HardwareFault) as raised:
            async with open_controller(config, poll_interval=POLL_S):
                pass
    assert (f"it looks like {firmware} firmware, but the robot file says dialect = "
            f"{robot_file_says!r}") in str(raised.value)
    assert "the controller said" in str(raised.value)


async def test_nothing_homes_behind_an_open_door_on_any_dialect(
        homed: GcodeController, emulator: EmulatorHandle) -> None:
    """GRBL refuses motion behind its door itself; Marlin and Smoothieware homed through
    it (labrun run, labrun doctor --home). The driver refuses on every dialect."""
    before = await homed.read_position()
    with anyio.fail_after(5):
        emulator.set_door(True)
        while not homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        with pytest.raises(InterlockActive, match="door open"):
            await homed.home()
        assert await homed.read_position() == before  # nothing moved
        emulator.set_door(False)
        while homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        await homed.home()


async def test_a_door_opened_while_halted_is_known_once_recovered(
        homed: GcodeController, emulator: EmulatorHandle) -> None:
    """After a halt the interlocks were not asked again: Marlin's and Smoothieware's
    door, opened meanwhile, stayed unknown, and the next run moved behind it."""
    await homed.emergency_stop()
    emulator.set_door(True)
    with anyio.fail_after(5):
        await homed.recover()
        while not homed.active_interlocks():
            await anyio.sleep(POLL_S / 2)
        with pytest.raises(InterlockActive):
            await homed.home()
    emulator.set_door(False)
