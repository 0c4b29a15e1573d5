"""The driver held to how real firmware behaves (issue 12), against the emulator taught
each behaviour: robots with fewer axes, switchless axes, homing that fails or disagrees
with the robot file, work offsets and intermittent WCO, grblHAL's banner, Marlin's
position on the ok line, resend formats and lost oks among wait lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hardware import parking
from hardware.config import RobotConfig, load_config
from hardware.controller import HardwareFault, NotHomedError
from hardware.emulator import running_emulator
from hardware.emulator.firmware.grbl import GRBLHAL_BANNER, GrblFirmware
from hardware.frozen import replace
from hardware.gcode import (
    ControllerError,
    ControllerTimeout,
    GcodeController,
    Grbl,
    open_controller,
)

pytestmark = pytest.mark.anyio

ConfigFor = Callable[..., RobotConfig]
CheckAt = Callable[[dict[str, float], dict[str, float]], None]
SPEED = 20.0
POLL_S = 0.05

GANTRY_TOML = """
name = "three-axis gantry"
[controller]
kind = "gcode"
dialect = "grbl"
port = "{port}"
timeout_s = 1.0
[axes]
A = false
B = false
C = false
[mounts]
right = false
[mounts.left]
z_axis = "Z"
plunger_axis = ""
"""


def gantry(tmp_path: Path, port: str) -> RobotConfig:
    path = tmp_path / "gantry.toml"
    path.write_text(GANTRY_TOML.format(port=port))
    return load_config(path)


async def test_a_three_axis_gantry_homes_moves_parks_and_unparks(tmp_path: Path) -> None:
    config = gantry(tmp_path, "tcp://127.0.0.1:1")
    assert list(config.axes) == ["X", "Y", "Z"] and list(config.mounts) == ["left"]
    with running_emulator("grbl", speed=SPEED, config=config) as emu:
        config = replace(config, controller=replace(config.controller,
                                                              port=emu.address))
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            home = await ctl.home()
            assert home == pytest.approx({"X": 418.0, "Y": 353.0, "Z": 218.0}, abs=1e-3)
            await ctl.move({"X": 100.0, "Y": 80.0})
            await ctl.move({"Z": 50.0})
            recorded = await ctl.read_position()
            parked = await parking.park(ctl, config, recorded, keep_xy=False)
            assert parked == pytest.approx({"X": 340.0, "Y": 330.0, "Z": 190.0}, abs=1e-3)
            back = await parking.unpark(ctl, config, recorded)
            assert back == pytest.approx({"X": 100.0, "Y": 80.0, "Z": 50.0}, abs=1e-3)
        assert set(emu.position()) == {"X", "Y", "Z"}


@pytest.mark.parametrize("dialect", ["grbl", "smoothie"])
async def test_work_offsets_on_the_controller_do_not_shift_moves_or_reads(
        dialect: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator(dialect, speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            # Someone left a work offset active (G54 shifted by X10 Y-5), and a G92.
            await ctl.send_gcode(["G10 L2 P1 X10 Y-5", "G54", "G92 Z3"])
            await ctl.move({"X": 100.0, "Y": 200.0, "Z": 150.0})
            check_at(emu.position(), {"X": 100.0, "Y": 200.0, "Z": 150.0})
            check_at(await ctl.read_position(), {"X": 100.0, "Y": 200.0, "Z": 150.0})


async def test_grbl_work_positions_with_an_intermittent_wco(config_for: ConfigFor,
                                                            check_at: CheckAt) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        config = config_for("grbl", emu.address)
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.send_gcode(["$10=0", "G10 L2 P1 X10 Y-5 Z2"])
            await ctl.move({"X": 100.0})
            for _ in range(3):  # many reports, only some of which carry WCO
                check_at(await ctl.read_position(), {"X": 100.0, "Y": 353.0, "Z": 218.0})
                await anyio.sleep(0.3)
            reported = ctl.reported_position
            assert reported is not None and reported["X"] == pytest.approx(100.0, abs=1e-3)
        # A new connection arrives between two WCO fields: the first reports carry WPos
        # only, and the driver waits for a WCO instead of taking WPos as the position.
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            firmware = emu.emulator.firmware
            assert isinstance(firmware, GrblFirmware)
            assert emu.call(lambda: firmware.reports_until_wco) > 0
            check_at(await ctl.read_position(), {"X": 100.0, "Y": 353.0, "Z": 218.0})


class WorkFrameGrbl(Grbl):
    """GRBL as the driver spoke it before G53: moves in the active work system."""

    def move_line(self, target: dict[str, float], feed_mm_per_min: float) -> str:  # type: ignore[override]
        return super().move_line(target, feed_mm_per_min).removeprefix("G53 ")


async def test_a_resume_that_would_land_off_the_recorded_position_fails(
        config_for: ConfigFor) -> None:
    # Issue 12's run: moves in work coordinates, reads in machine coordinates, and a
    # G10 L2 P1 X10 on the controller. Parking and unparking "succeeded" 10 mm off.
    with running_emulator("grbl", speed=SPEED) as emu:
        config = config_for("grbl", emu.address)
        async with open_controller(config, dialect=WorkFrameGrbl(),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.send_gcode(["G10 L2 P1 X10"])
            await ctl.move({"X": 48.16, "Z": 60.0})
            recorded = await ctl.read_position()
            await parking.park(ctl, config, recorded, keep_xy=False)
            with pytest.raises(HardwareFault, match=r"X is at 68\.160, recorded 58\.160"):
                await parking.unpark(ctl, config, recorded)
            assert emu.position()["Z"] == pytest.approx(190.0, abs=1e-3)  # Z never went down


async def test_with_g53_the_same_resume_lands_on_the_recorded_position(
        config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        config = config_for("grbl", emu.address)
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.send_gcode(["G10 L2 P1 X10"])
            await ctl.move({"X": 58.16, "Z": 60.0})
            recorded = await ctl.read_position()
            await parking.park(ctl, config, recorded, keep_xy=False)
            check_at(await parking.unpark(ctl, config, recorded), recorded)
            check_at(emu.position(), {"X": 58.16, "Z": 60.0})


@pytest.mark.parametrize(("dialect", "cause"), [
    ("grbl", r"ALARM:8 \(homing failed: could not clear the limit switch"),
    ("marlin", r"controller halted \(kill\(\) called\) after: Homing Failed"),  # why it died
])
async def test_a_failed_homing_cycle_is_a_fault_with_its_cause(
        dialect: str, cause: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator(dialect, speed=SPEED) as emu:
        async with open_controller(config_for(dialect, emu.address),
                                   poll_interval=POLL_S) as ctl:
            emu.faults.home_fails = 1
            with anyio.fail_after(5), pytest.raises(HardwareFault, match=cause):
                await ctl.home()
            assert ctl.requires_homing
            with pytest.raises(NotHomedError):
                await ctl.move({"X": 100.0})
            await ctl.home()  # the next cycle works: the alarm is cleared first
            await ctl.move({"X": 100.0})
            check_at(await ctl.read_position(), {"X": 100.0})


@pytest.mark.parametrize("dialect", ["grbl"])
async def test_stock_grbl_homes_some_axes_with_its_whole_cycle(
        config_for: ConfigFor, check_at: CheckAt) -> None:
    # Stock GRBL has no single-axis homing ($HX: its HOMING_SINGLE_AXIS_COMMANDS build
    # option, which $I lists as H). It answered a pipette's home ($HZ) with error:3, and
    # left in its Home state, where no move starts: the cleanup's lift waited for ever.
    with running_emulator("grbl", speed=SPEED, single_axis_homing=False) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 100.0, "Z": 100.0})
            with anyio.fail_after(5):
                position = await ctl.home(["Z"])  # the whole cycle: X goes home too
                check_at(position, {a: c.home for a, c in ctl.config.axes.items()})
                await ctl.move({"X": 100.0})
            check_at(await ctl.read_position(), {"X": 100.0})
            assert not any(line.startswith("$H") and line != "$H" for line in emu.stats.lines)


async def test_homing_that_leaves_the_axes_elsewhere_than_the_robot_file_says(
        config_for: ConfigFor) -> None:
    # Stock GRBL: machine zero at the switches, the travel on the negative side.
    with running_emulator("grbl", speed=SPEED, home_position={"X": 0.0, "Y": 0.0}) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            with pytest.raises(HardwareFault, match=r"reports X at 0\.000, Y at 0\.000 mm "
                               r"\(machine coordinates\) but the robot file says "
                               r"\[axes\.X\] home = 418, \[axes\.Y\] home = 353"):
                await ctl.home()
            assert ctl.requires_homing
            with pytest.raises(NotHomedError):
                await ctl.move({"Z": 100.0})


def switchless(config: RobotConfig) -> RobotConfig:
    axes = {a: replace(c, homing="none") for a, c in config.axes.items()}
    return replace(config, axes=axes)


@pytest.mark.parametrize("dialect", ["grbl", "marlin"])
async def test_switchless_axes_take_their_home_where_they_stand(
        dialect: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator(dialect, speed=SPEED, config=switchless(config_for(dialect, ""))
                          ) as emu:
        config = switchless(config_for(dialect, emu.address))
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            assert ctl.requires_homing
            stood = emu.position()
            home = await ctl.home()  # nothing moves: here is home
            check_at(home, {a: c.home for a, c in config.axes.items()})
            check_at(emu.position(), stood)
            await ctl.move({"X": 300.0})  # 118 mm towards the origin
            assert emu.position()["X"] == pytest.approx(stood["X"] - 118.0, abs=0.006)
            await ctl.home()  # once the origin is known, homing goes back to it
            check_at(emu.position(), stood)
            await ctl.emergency_stop()
            with pytest.raises(HardwareFault, match=r"no homing switch .* position was lost "
                               r"\(an emergency stop\): jog it to its home point"):
                await ctl.home()


async def test_grbl_without_a_homing_cycle_says_how_to_configure_it(
        config_for: ConfigFor) -> None:
    # $22=0: the firmware has no homing cycle, the robot file still expects switches.
    with running_emulator("grbl", speed=SPEED,
                          config=switchless(config_for("grbl", ""))) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            with pytest.raises(ControllerError, match=r"error:5 \(homing is not enabled "
                               r"\(\$22\)\).*homing = \"none\""):
                await ctl.home()


async def test_grblhal_banner_is_a_restart(config_for: ConfigFor, check_at: CheckAt) -> None:
    # A feed hold is discarded with a soft reset; the driver waits for the banner.
    with running_emulator("grbl", speed=SPEED, banner=GRBLHAL_BANNER) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            with anyio.fail_after(3):
                with anyio.move_on_after(0.05):
                    await ctl.move({"X": 10.0}, speed=100.0)
                stopped = await ctl.read_position()
                assert 10.0 < stopped["X"] < 418.0
                await ctl.move({"X": 200.0})
            check_at(await ctl.read_position(), {"X": 200.0})
            assert ctl.link.restart_seq >= 1


async def test_marlin_position_on_the_ok_line(config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator("marlin", speed=SPEED, position_on_ok=True) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 123.0, "Y": 45.0})
            check_at(await ctl.read_position(), {"X": 123.0, "Y": 45.0})


@pytest.mark.parametrize("resend_format", ["Resend: {n}", "Resend:N{n}", "rs N{n}", "rs {n}"])
async def test_marlin_resend_requests_with_and_without_n(
        resend_format: str, config_for: ConfigFor, check_at: CheckAt) -> None:
    with running_emulator("marlin", speed=SPEED, resend_format=resend_format) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.resend_next = 2
            await ctl.move({"X": 50.0})
            check_at(await ctl.read_position(), {"X": 50.0})
            assert ctl.link.streamer.resent_lines == 2


async def test_marlin_lost_ok_times_out_although_wait_lines_keep_coming(
        config_for: ConfigFor) -> None:
    with running_emulator("marlin", speed=SPEED, wait_interval=0.05) as emu:
        async with open_controller(config_for("marlin", emu.address, 0.5),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.drop_ok_next = 1
            started = anyio.current_time()
            with anyio.fail_after(5), pytest.raises(ControllerTimeout, match="no answer"):
                await ctl.set_currents({"B": 0.2})
            assert anyio.current_time() - started < 1.5
            assert emu.stats.waits_sent > 5  # they kept coming, and explained nothing



async def test_damaged_status_reports_are_asked_again_then_named_in_the_timeout(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        async with open_controller(config_for("grbl", emu.address, 0.5),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.move({"X": 12.0, "Y": 34.0})
            # A few damaged reports: read past, the position is the true one.
            emu.faults.garble_status_next = 3
            with anyio.fail_after(5):
                position = await ctl.read_position()
            assert (position["X"], position["Y"]) == pytest.approx((12.0, 34.0), abs=2e-3)
            assert emu.stats.status_garbled == 3
            # Nothing but damaged reports: a timeout that says so, and a warning at the
            # 1st, 10th, 100th... damaged report, not at every one.
            emu.faults.garble_status_next = 10**6
            seen = ctl.link.garbled_reports
            with anyio.fail_after(5):  # the good reports already on their way are read
                while ctl.link.garbled_reports == seen:
                    await anyio.sleep(POLL_S)
            with anyio.fail_after(5), pytest.raises(
                    ControllerTimeout, match=r"no status report that reads: \d+ came damaged, "
                                             r"the last '<Idle.*>' within 0\.5 s"):
                await ctl.read_position()
            warned = [r.getMessage() for r in caplog.records
                      if "damaged status report" in r.getMessage()]
            assert 2 <= len(warned) <= 3 and "(10 so far)" in warned[1], warned


async def test_a_reset_during_a_move_fails_it_with_the_alarm_that_explains_it(
        config_for: ConfigFor) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        async with open_controller(config_for("grbl", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()

            async def press_reset() -> None:
                await anyio.sleep(0.05)
                firmware = emu.emulator.firmware
                assert isinstance(firmware, GrblFirmware)
                emu.run(firmware.soft_reset)  # someone at the board

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(press_reset)
                    with pytest.raises(ControllerError,
                                       match=r"restarted \(Grbl 1\.1h.*\) after ALARM:3 "
                                             r"\(reset while in motion; position lost"):
                        await ctl.move({"X": 10.0}, speed=100.0)
            assert ctl.requires_homing


async def test_the_shipped_three_axis_grbl_example(check_at: CheckAt) -> None:
    shipped = load_config(Path(parking.__file__).parent / "robots" / "grbl_3axis_example.toml")
    assert list(shipped.axes) == ["X", "Y", "Z"] and shipped.plunger_axes == ()
    with running_emulator("grbl", speed=SPEED, config=shipped) as emu:
        config = replace(shipped, controller=replace(shipped.controller,
                                                               port=emu.address))
        async with open_controller(config, poll_interval=POLL_S) as ctl:
            check_at(await ctl.home(), {"X": -1.0, "Y": -1.0, "Z": -1.0})
            await ctl.move({"X": -150.0, "Y": -120.0, "Z": -60.0})
            check_at(await ctl.read_position(), {"X": -150.0, "Y": -120.0, "Z": -60.0})
            with pytest.raises(HardwareFault, match="outside its travel"):
                await ctl.move({"X": 10.0})


@pytest.mark.parametrize(("dialect", "frame"), [("grbl", "machine coordinates (G53"),
                                                ("smoothie", "machine coordinates (G53"),
                                                ("marlin", "Marlin's logical")])
def test_the_driver_says_which_coordinates_it_uses(dialect: str, frame: str,
                                                   config_for: ConfigFor) -> None:
    assert GcodeController(config_for(dialect, "tcp://127.0.0.1:1")).coordinates.startswith(
        frame)


async def test_a_wco_reported_before_an_offset_change_is_not_taken_after_it(
        config_for: ConfigFor) -> None:
    # grblHAL's simulator answers a line only after some 0.3 s; the status reports of that
    # time still carry the old WCO and arrive after the driver sent the G10. With $10=0
    # grblHAL sends no WCO afterwards: the stale one must not be taken for the new one.
    with running_emulator("grbl", speed=SPEED, banner=GRBLHAL_BANNER) as emu:
        async with open_controller(config_for("grbl", emu.address, timeout_s=5.0),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            emu.faults.ack_delay = 1.5  # 30 idle reports: some carry WCO:0,0,0
            await ctl.send_gcode(["$10=0", "G10 L2 P1 X10 Y-5"])
            emu.faults.ack_delay = 0.0
            with pytest.raises(ControllerError, match=r"WPos\) and no WCO"):
                await ctl.read_position()
