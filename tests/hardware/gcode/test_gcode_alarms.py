"""Alarms, limit switches, endstops and kills: each fails what it cuts short at once and
says what it was, during a move or while the run waits (the fault listener)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.controller import HardwareFault
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.emulator.firmware.smoothie import SmoothieFirmware
from hardware.frozen import replace
from hardware.gcode import ControllerAlarm, ControllerError, GcodeController, open_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
ConfigFor = Callable[..., RobotConfig]
CheckAt = Callable[[dict[str, float], dict[str, float]], None]


@pytest.mark.parametrize(("dialect", "alarm"), [
    ("grbl", r"ALARM:1 \(hard limit triggered; position lost, re-home\)"),
    ("smoothie", r"ALARM: Hard limit -X"),
])
async def test_a_limit_switch_during_a_move_fails_it_with_the_alarm(
        dialect: str, alarm: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    # GRBL then reads no line until a reset, Smoothieware answers none: the wait line
    # would otherwise only time out, hiding the alarm.
    with running_emulator(dialect, speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.limit_next = 1
            with anyio.fail_after(5), pytest.raises(
                    ControllerAlarm, match=rf"^controller alarm( while '.+' waited)?: {alarm}"):
                await ctl.move({"X": 18.0})
            assert emu.stats.limits_tripped == 1
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()  # GRBL needs its reset first ([MSG:Reset to continue])
                await ctl.move({"X": 100.0})
            check_at(await ctl.read_position(), {"X": 100.0})


async def test_a_smoothie_move_past_its_soft_endstop_fails_naming_it(
        config_for: ConfigFor) -> None:
    # Smoothieware answers a move's ok before planning it; the planner then refuses it
    # (its travel shorter than the robot file's) with an error that answers no line, and
    # halts: every later line gets '!!'. The run must say the soft endstop, not the halt.
    with running_emulator("smoothie", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            moves = len([line for line in emu.stats.lines if "G1" in line])
            emu.faults.soft_endstop_next = 1
            with anyio.fail_after(5), pytest.raises(ControllerAlarm, match=(
                    r"^controller alarm( while 'M400' waited)?: Error: Soft Endstop X was "
                    r"exceeded - reset or \$X or M999 required$")):
                await ctl.move({"X": 18.0})
            assert ctl.requires_homing  # Smoothieware: after a halt, home
            assert len([line for line in emu.stats.lines if "G1" in line]) == moves + 1
            assert emu.position()["X"] == pytest.approx(100.0)  # nothing moved
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.move({"X": 50.0})
            assert (await ctl.read_position())["X"] == pytest.approx(50.0, abs=1e-4)


async def test_a_smoothie_move_its_soft_endstops_ignore_fails_and_the_run_may_go_on(
        config_for: ConfigFor) -> None:
    # With soft_endstop.halt false, Smoothieware ignores such a move after its ok and
    # says so ('... - entire move ignored', Robot.cpp), without halting. That answers
    # no line: it was dropped, or failed the next line, and the move passed for done.
    with running_emulator("smoothie", speed=SPEED, soft_endstop_halt=False) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            emu.faults.soft_endstop_next = 1
            with anyio.fail_after(5), pytest.raises(ControllerError) as raised:
                await ctl.move({"X": 18.0})
            assert str(raised.value) == (
                "controller refused 'G53 G1 X18.000 F36000.0' after its ok: Error: Soft "
                "Endstop X was exceeded - entire move ignored; the robot did not move")
            assert emu.position()["X"] == pytest.approx(100.0)
            assert not ctl.requires_homing  # not halted: the next moves go as ever
            await ctl.move({"X": 50.0})
            assert (await ctl.read_position())["X"] == pytest.approx(50.0, abs=1e-4)


async def test_an_error_halts_smoothieware_and_the_robot_is_homed_again(
        config_for: ConfigFor) -> None:
    # Smoothieware answers a line's error 'Error: ...' and then, "as we cannot continue
    # safely", 'Entering Alarm/Halt state': every later line is answered '!!' until
    # M999. Over a pseudo-terminal, as its USB serial port is.
    with running_emulator("smoothie", link="pty", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0})
            reported: list[HardwareFault] = []
            ctl.set_fault_listener(reported.append)
            sent = len(emu.stats.lines)
            emu.faults.error_next = 1
            with anyio.fail_after(5), pytest.raises(HardwareFault, match=(
                    r"^controller rejected 'G53 G1 X18\.000 .*': Error: Injected failure$")):
                await ctl.move({"X": 18.0})
            with anyio.fail_after(5):
                while not reported:
                    await anyio.sleep(0.01)
            assert str(reported[0]) == "controller alarm: Entering Alarm/Halt state"
            assert ctl.requires_homing  # its position may be off: home before moving
            assert emu.position()["X"] == pytest.approx(100.0)  # nothing moved
            with anyio.fail_after(5):
                await ctl.home()  # M999 first
                await ctl.move({"X": 50.0})
            assert (await ctl.read_position())["X"] == pytest.approx(50.0, abs=1e-4)
            assert [line for line in emu.stats.lines[sent:] if line.startswith(
                ("M999", "G28.2"))][:2] == ["M999", "G28.2"]


async def test_a_failed_smoothie_homing_cycle_fails_home_and_the_next_home_recovers(
        config_for: ConfigFor) -> None:
    # Smoothieware halts when no switch is found ('ERROR: Homing cycle failed - check
    # the max_travel settings', Endstops.cpp) and still answers the G28.2 ok. Taken for
    # the line's error, its ok went astray and the halt unseen: every later home() was
    # answered '!!', M999 never sent.
    with running_emulator("smoothie", link="pty", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            emu.faults.home_fails = 1
            with anyio.fail_after(5), pytest.raises(ControllerAlarm, match=(
                    r"^homing X, Y, Z, A, B, C failed: ERROR: Homing cycle failed - check "
                    r"the max_travel settings; the axes are not homed$")):
                await ctl.home()
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()  # M999 first
                await ctl.move({"X": 50.0})
            assert (await ctl.read_position())["X"] == pytest.approx(50.0, abs=1e-4)


@pytest.mark.parametrize("grbl_mode", [False, True])  # its '!!' is then 'error:Alarm lock'
async def test_a_smoothie_halted_before_labrun_connected_is_connected_and_homed(
        grbl_mode: bool, config_for: ConfigFor) -> None:
    # Without realtime status nothing says so before a line gets '!!' (halted by its
    # kill button, or left so by another host): connecting failed ("controller rejected
    # 'G21': controller is halted: send M999"), though home() sends M999 itself.
    with running_emulator("smoothie", speed=SPEED, realtime_status=False,
                          grbl_mode=grbl_mode) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, SmoothieFirmware)
        emu.run(firmware.halt)
        config = config_for("smoothie", emu.address)
        config = replace(config, controller=replace(config.controller, realtime_status=False))
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.move({"X": 50.0})
            assert (await ctl.read_position())["X"] == pytest.approx(50.0, abs=1e-4)
        assert emu.stats.lines[:2] == ["G21", "M999"]


async def test_an_m112_sent_to_smoothieware_halts_it_and_is_said(
        config_for: ConfigFor) -> None:
    # Its answer is an ok that says the halt (GcodeDispatch.cpp): taken for a plain ok,
    # the robot passed for homed and the next move was refused '!!'.
    with running_emulator("smoothie", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            reported: list[HardwareFault] = []
            ctl.set_fault_listener(reported.append)
            assert await ctl.send_gcode(["M112"]) == [
                "Emergency Stop Requested - reset or M999 required to exit HALT state"]
            with anyio.fail_after(5):
                while not reported:
                    await anyio.sleep(0.01)
            assert str(reported[0]) == ("controller alarm: ok Emergency Stop Requested - "
                                        "reset or M999 required to exit HALT state")
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.move({"X": 50.0})


async def test_a_move_a_stopped_marlin_ignores_fails_and_home_brings_it_back(
        config_for: ConfigFor) -> None:
    # Stopped (Marlin's stop(), MF_STOPPED) before labrun connected, Marlin still homes
    # but answers each G0/G1 'Printer stopped due to errors. ...' and ok, without
    # moving (MOTION_CONDITIONS): the move passed for done.
    with running_emulator("marlin", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        emu.run(firmware.stop)
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            with anyio.fail_after(5), pytest.raises(ControllerAlarm, match=(
                    r"^controller alarm while 'G1 X100\.000 .*' waited: Printer stopped "
                    r"due to errors\. Fix the error and use M999 to restart\.$")):
                await ctl.move({"X": 100.0})
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()  # M999 S1 first
                await ctl.move({"X": 100.0})
            assert emu.position()["X"] == pytest.approx(100.0)
            assert not firmware.stopped


async def wait_for_fault(ctl: GcodeController, act: Callable[[], object]) -> HardwareFault:
    """What the fault listener is told after ``act()``, with no call in progress."""
    reported: list[HardwareFault] = []
    told = anyio.Event()

    def listener(fault: HardwareFault) -> None:
        reported.append(fault)
        told.set()

    ctl.set_fault_listener(listener)
    act()
    with anyio.fail_after(5):
        await told.wait()
    return reported[0]


async def test_an_alarm_while_the_run_waits_is_reported_at_once(
        config_for: ConfigFor) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            firmware = emu.emulator.firmware
            assert isinstance(firmware, GrblFirmware)
            fault = await wait_for_fault(ctl, lambda: emu.run(firmware.trip_limit, "Y", False))
            assert isinstance(fault, ControllerAlarm)
            assert "ALARM:1 (hard limit triggered; position lost, re-home)" in str(fault)
            assert ctl.requires_homing


async def test_a_restart_while_the_run_waits_is_reported_at_once(
        config_for: ConfigFor) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            firmware = emu.emulator.firmware
            assert isinstance(firmware, GrblFirmware)
            fault = await wait_for_fault(ctl, lambda: emu.run(firmware.soft_reset))
            assert "the controller restarted (Grbl 1.1h ['$' for help])" in str(fault)
            assert ctl.requires_homing
            # The restart an emergency stop causes is no news.
            await ctl.home()
            reported: list[HardwareFault] = []
            ctl.set_fault_listener(reported.append)
            await ctl.emergency_stop()  # confirmed by the banner after the reset
            assert reported == []


@pytest.mark.parametrize("dialect", ["smoothie"])
async def test_a_smoothie_that_rebooted_is_homed_again_and_answers_in_step(
        config_for: ConfigFor, check_at: CheckAt) -> None:
    # Smoothieware's boot line (on its UART: a USB port goes away with the board) is
    # followed by no ok, unlike the greeting its USB port sends a host ('Smoothie', 'ok').
    # Taken for that greeting, it had the next line's ok swallowed: home() timed out.
    with running_emulator("smoothie", speed=SPEED) as emu:
        async with open_controller(config_for("smoothie", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            firmware = emu.emulator.firmware
            assert isinstance(firmware, SmoothieFirmware)
            fault = await wait_for_fault(ctl, lambda: emu.run(firmware.reboot))
            assert "the controller restarted (Smoothie Running @100MHz)" in str(fault)
            assert ctl.requires_homing
            with anyio.fail_after(5):
                await ctl.home()
                await ctl.move({"X": 100.0})
            check_at(await ctl.read_position(), {"X": 100.0})
            assert ctl.link.fault is None


@pytest.mark.parametrize("dialect", ["marlin"])
async def test_a_marlin_endstop_hit_during_a_move_fails_it(
        config_for: ConfigFor, check_at: CheckAt) -> None:
    # With endstops always on, Marlin stops the axis, says so and answers on: taken for
    # a finished move, the run would go on with the tip elsewhere than it was sent.
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.limit_next = 1
            with anyio.fail_after(5), pytest.raises(HardwareFault) as raised:
                await ctl.move({"X": 18.0})
            stopped = emu.position()["X"]
            assert 18.0 < stopped < 418.0
            assert str(raised.value) == (
                f"an endstop stopped axis X at {stopped:.2f} mm during a move: the robot is "
                "not where it was sent")
            check_at(await ctl.read_position(), {"X": stopped})
            await ctl.move({"X": 100.0})  # Marlin knows where it is: the robot carries on
            check_at(await ctl.read_position(), {"X": 100.0})


KILL_REASON = "Error:Thermal Runaway, system stopped! Heater_ID: 0"


async def test_a_marlin_that_kills_itself_mid_move_says_why(config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            firmware = emu.emulator.firmware
            assert isinstance(firmware, MarlinFirmware)
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(kill_once_moving, emu, firmware)
                    with pytest.raises(ControllerAlarm, match=(
                            r"^controller halted \(kill\(\) called\) after: Thermal Runaway, "
                            r"system stopped! Heater_ID: 0$")):
                        await ctl.move({"X": 18.0}, speed=100.0)
            # While nothing is sent, the listener hears it with its reason.
            await ctl.home()
            fault = await wait_for_fault(ctl, lambda: emu.run(firmware.kill, KILL_REASON))
            assert "Thermal Runaway, system stopped! Heater_ID: 0" in str(fault)


async def kill_once_moving(emu: EmulatorHandle, firmware: MarlinFirmware) -> None:
    while not emu.call(lambda: emu.emulator.machine.moving):
        await anyio.sleep(0.005)
    emu.run(firmware.kill, KILL_REASON)
