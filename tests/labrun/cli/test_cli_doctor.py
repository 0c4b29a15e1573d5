"""``labrun doctor`` against labrun's emulator (GRBL, Marlin), the module twins and, for
Marlin, OctoPrint's virtual printer: what answered, the settings, the disagreements, and
that nothing moved."""

from __future__ import annotations

import argparse
import io
import re
import textwrap
from pathlib import Path

import anyio
import pytest

from hardware.config import load_config
from hardware.emulator import running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.emulator.modules import running_module_twins
from hardware.modules.models import display_name
from labrun.cli import doctor

SPEED = 50.0


def run_doctor(robot: Path, *, home: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    status = anyio.run(doctor.doctor, load_config(robot), home, out)
    return status, out.getvalue()


def robot_file(tmp_path: Path, dialect: str, port: str, extra: str = "") -> Path:
    path = tmp_path / "robot.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "doctor-test"
        [controller]
        kind = "gcode"
        dialect = "{dialect}"
        port = "{port}"
        timeout_s = 5.0
        """) + textwrap.dedent(extra))
    return path


def test_grbl_settings_and_a_robot_file_that_agrees(tmp_path: Path) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        start = emu.position()
        status, text = run_doctor(robot_file(tmp_path, "grbl", emu.address))
        assert emu.position() == start  # nothing moved
    assert status == 0, text
    assert "firmware: Grbl 1.1h.20190825 (labrun emulator)" in text
    assert "buffers: planner 15 blocks, serial receive buffer 128 bytes" in text
    assert "axes: X Y Z A B C" in text
    assert "homing $22=1, soft limits $20=0, units $13=0 (mm), report mask $10=1 (MPos)" in text
    assert "steps/mm: X 80, Y 80, Z 80, A 80, B 768, C 768" in text
    assert "max travel mm: X 418, Y 353" in text
    assert "work offsets: all zero" in text
    assert "the robot file agrees with what answered" in text
    assert "nothing was moved" in text


def test_a_marlin_built_for_a_board_named_after_another_firmware_is_marlin(
        tmp_path: Path) -> None:
    """Marlin runs on Smoothieboards too: its name line says so, and says Marlin first."""
    with running_emulator("marlin", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, MarlinFirmware)
        firmware.name = "Marlin 2.1.2 (Github) MACHINE_TYPE:Smoothieboard"
        status, text = run_doctor(robot_file(tmp_path, "marlin", emu.address))
    assert "firmware: Marlin 2.1.2 (Github) MACHINE_TYPE:Smoothieboard" in text
    assert "DISAGREES" not in text and status == 0, text


def test_grbl_disagreements_are_named(tmp_path: Path) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({13: 1, 22: 0, 133: 200}))
        path = robot_file(tmp_path, "grbl", emu.address, """\
            [axes.X]
            steps_per_mm = 100
            """)
        status, text = run_doctor(path)
    assert status == 1
    assert ("axis X: the firmware's steps/mm $100=80, the robot file's axes.X.steps_per_mm 100 "
            "(a move would go 0.8 times as far as asked)") in text
    assert "reports in inches ($13=1)" in text
    assert "homing is disabled ($22=0) but the robot file homes X, Y, Z, A, B, C" in text
    assert "axis A: the firmware's max travel mm $133=200 is below the robot file's 218" in text
    assert "4 problems found" in text


def test_grbl_home_on_request(tmp_path: Path) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "grbl", emu.address), home=True)
        assert emu.homed  # the cycle ran
    assert status == 0, text
    assert "homed at: X 418, Y 353, Z 218, A 218, B 0, C 0" in text
    assert "nothing was moved" not in text


def test_grbl_held_by_a_door_opened_and_closed_is_said_and_homes(tmp_path: Path) -> None:
    with running_emulator("grbl", speed=SPEED) as emu:
        robot = robot_file(tmp_path, "grbl", emu.address)
        assert run_doctor(robot, home=True)[0] == 0  # out of its power-up alarm
        emu.set_door(True)
        emu.set_door(False)  # GRBL now waits in Door:0 for a cycle start
        status, text = run_doctor(robot, home=True)
    assert status == 0, text
    assert ("state: Door (the door is or was open: it holds until the door is closed and "
            "it is resumed, which labrun does before it homes)") in text
    assert "homed at: X 418, Y 353, Z 218, A 218, B 0, C 0" in text
    # GRBL answers $I and $# only when Idle or in an alarm: said, not a failure
    assert ("$I: not answered in this state (GRBL answers it only when Idle or in an "
            "alarm; labrun asks it again before it homes)") in text
    assert "firmware:" not in text and "steps/mm: X 80" in text


@pytest.mark.parametrize("dialect", ["marlin", "smoothie"])
def test_an_open_door_is_said_and_nothing_homes_behind_it(tmp_path: Path, dialect: str) -> None:
    """On Marlin and Smoothieware doctor said nothing of an open door, and --home homed
    through it (their firmware does not hold motion itself, as GRBL's does)."""
    with running_emulator(dialect, speed=SPEED) as emu:
        emu.set_door(True)
        status, text = run_doctor(robot_file(tmp_path, dialect, emu.address), home=True)
        assert not emu.homed
    assert status == 1, text
    assert "interlocks: door open: labrun neither homes nor runs until it is closed" in text
    assert "door open: labrun does not home the robot until it is closed" in text


def test_a_marlin_without_its_emergency_parser_is_said(tmp_path: Path) -> None:
    # Marlin's default configuration: M410 and M112 are read only once the move ends.
    with running_emulator("marlin", speed=SPEED, emergency_parser=False) as emu:
        status, text = run_doctor(robot_file(tmp_path, "marlin", emu.address))
    assert status == 0, text
    assert "capabilities: EEPROM:0 EMERGENCY_PARSER:0" in text
    assert re.search(r"warning: the Marlin at tcp://\S+ has no emergency parser \(its M115 "
                     r"says Cap:EMERGENCY_PARSER:0\): without an emergency parser Marlin reads "
                     r"M410 \(quickstop\) and M112 \(emergency stop\) only once the move "
                     r"under way ends", text), text


def test_marlin_capabilities_and_settings(tmp_path: Path) -> None:
    with running_emulator("marlin", speed=SPEED) as emu:
        path = robot_file(tmp_path, "marlin", emu.address, """\
            [axes.Y]
            max_speed = 900
            """)
        status, text = run_doctor(path)
    assert status == 1
    assert "firmware: Marlin 2.1.2 (labrun emulator)" in text
    assert "axis count: 6" in text
    assert "capabilities: EEPROM:0 EMERGENCY_PARSER:1" in text
    assert "axes: X Y Z A B C" in text
    assert "steps/mm: X 80, Y 80, Z 80, A 80, B 768, C 768" in text
    assert "soft endstops: off" in text
    assert ("axis Y: the firmware's max feed rate M203 Y400 mm/s is below the robot "
            "file's max_speed 900") in text


def test_smoothieware_axes(tmp_path: Path) -> None:
    with running_emulator("smoothie", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "smoothie", emu.address, """\
            [axes]
            C = false
            [mounts.right]
            z_axis = "A"
            plunger_axis = ""
            """))
    assert status == 0, text
    assert "firmware: Smoothieware edge-labrun-emulator" in text  # from its M115
    assert "axes: X Y Z A B C" in text  # the firmware has C; the robot file need not


def test_a_grbl_robot_file_on_smoothieware_is_a_problem(tmp_path: Path) -> None:
    # Smoothieware takes GRBL's realtime status query, so the link comes up; its answer
    # to $I carries no GRBL version.
    with running_emulator("smoothie", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "grbl", emu.address))
    assert status == 1, text
    assert "DISAGREES: the controller did not answer $I with its version ([VER:...]) as " \
           "GRBL does: is the robot file's dialect right? (the controller said 'Smoothie': " \
           "it looks like smoothie firmware, but the robot file says dialect = 'grbl')" in text
    assert "firmware: unknown (no version, [VER:...], in its answer to $I)" in text
    assert "Grbl ?" not in text  # it is not GRBL of an unknown version
    assert "the robot file agrees" not in text


def test_a_marlin_robot_file_on_smoothieware_is_a_problem(tmp_path: Path) -> None:
    # Smoothieware answers M114 and M503 with an ok, so everything "answered"; but its
    # M115 names Smoothieware.
    with running_emulator("smoothie", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "marlin", emu.address))
    assert status == 1, text
    assert "firmware: Smoothieware\n" in text
    assert ("DISAGREES: the controller did not answer M115 with its name "
            "(FIRMWARE_NAME:Marlin ...) as Marlin does: is the robot file's dialect right? "
            "(the controller said 'FIRMWARE_NAME:Smoothieware, ") in text
    assert "X-GRBL_MODE:0': it looks like smoothie firmware, but the robot file says " \
           "dialect = 'marlin')" in text  # its name says so, not its GRBL_MODE field
    assert "the robot file agrees" not in text


def test_a_smoothieware_robot_file_on_grbl_behind_a_serial_port_is_a_problem(
        tmp_path: Path) -> None:
    # On a port opened after the banner went by, only GRBL's numbered error says what
    # answered; a bare "failed: controller rejected ...: error:20" said nothing.
    with running_emulator("grbl", link="pty", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "smoothie", emu.address))
    assert status == 1, text
    assert "firmware: unknown (it rejected M115)" in text
    assert re.search(r"DISAGREES: the controller rejected M115, which Smoothieware answers: "
                     r"is the robot file's dialect right\? \(the controller answered "
                     r"'error:\d+' as grbl firmware does, but the robot file says dialect = "
                     r"'smoothie'\)", text), text
    assert "failed:" not in text


def test_a_homing_that_fails_still_says_what_answered(tmp_path: Path) -> None:
    # X and Y swapped: the settings already disagree, and the homing cycle ends with each
    # at the other's home. The failure comes with what was found before it.
    with running_emulator("grbl", speed=SPEED) as emu:
        status, text = run_doctor(robot_file(tmp_path, "grbl", emu.address, """\
            axis_map = { X = "Y", Y = "X" }
            """), home=True)
    assert status == 1, text
    assert "firmware: Grbl 1.1h.20190825 (labrun emulator)" in text
    assert ("DISAGREES: axis X: the firmware's max travel mm $131=353 is below the robot "
            "file's 418") in text
    assert ("failed: after homing, the controller reports X at 353.000, Y at 418.000 mm "
            "(machine coordinates) but the robot file says [axes.X] home = 418, "
            "[axes.Y] home = 353") in text
    assert "4 problems found" in text


def test_modules_say_what_they_are(tmp_path: Path) -> None:
    kinds = {"temp": "temperature", "hs": "heater_shaker"}
    with running_module_twins(kinds, speed=SPEED) as twins:
        path = tmp_path / "robot.toml"
        path.write_text("".join(
            f'[modules.{name}]\nkind = "{kind}"\nport = "{twins.address(name)}"\n'
            for name, kind in kinds.items()))
        status, text = run_doctor(path)
        received = twins.call(lambda: list(twins.firmware("hs").received))
    assert status == 0, text
    assert "module temp: temperature on /dev/" in text
    assert "firmware: serial:TDV20EMULATED model:temp_deck_v20" in text
    assert "firmware: M115 FW:v1.0.4-emulated HW:Opentrons Heater-Shaker" in text
    assert "latch closed" in text
    assert not [line for line in received if line.startswith(("M3", "G28", "M242", "M243"))]


def test_a_gen1_thermocycler_the_robot_file_names_is_spoken_to_as_one(tmp_path: Path) -> None:
    model = {"tc": "thermocyclerModuleV1"}
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED, models=model) as twins:
        path = tmp_path / "robot.toml"
        path.write_text(f'[modules.tc]\nkind = "thermocycler"\nmodel = "thermocyclerModuleV1"\n'
                        f'port = "{twins.address("tc")}"\ntimeout_s = 2.0\n')
        status, text = run_doctor(path)
    assert status == 0, text
    assert "module tc: thermocycler (thermocyclerModuleV1) on /dev/" in text
    assert "model thermocyclerModuleV1" in text


def test_a_module_on_the_wrong_port_is_named(tmp_path: Path) -> None:
    with running_module_twins({"mag": "magnetic"}, speed=SPEED) as twins:
        path = tmp_path / "robot.toml"
        path.write_text(f'[modules.temp]\nkind = "temperature"\nport = "{twins.address("mag")}"\n')
        status, text = run_doctor(path)
    assert status == 1
    assert "says it is a magnetic module (serial:MDEMULATED model:mag_deck_v20" in text
    assert "not a temperature module: check the port of [modules.temp]" in text


def test_a_controller_that_does_not_answer_is_a_problem(tmp_path: Path) -> None:
    status, text = run_doctor(robot_file(tmp_path, "grbl", "tcp://127.0.0.1:9"))
    assert status == 1
    assert "no answer: cannot connect to tcp://127.0.0.1:9" in text


def test_a_bad_robot_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    path = tmp_path / "robot.toml"
    path.write_text('[modules.m]\nkind = "centrifuge"\n')
    assert doctor.run_doctor(argparse.Namespace(robot=str(path), home=False)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:2: ") and err.count("\n") == 1  # its line
    assert "modules.m.kind: 'centrifuge'" in err


@pytest.mark.parametrize(("kind", "said", "named"), [
    ("magnetic", "magneticModuleV2", "magneticModuleV1"),
    ("temperature", "temperatureModuleV1", "temperatureModuleV2"),
    ("thermocycler", "thermocyclerModuleV2", "thermocyclerModuleV1"),
    ("thermocycler", "thermocyclerModuleV1", "thermocyclerModuleV2"),
])
def test_a_module_of_another_model_than_the_robot_file_names_is_a_problem(
        tmp_path: Path, kind: str, said: str, named: str) -> None:
    # The robot file's model decides how the module is spoken to (a GEN1 magnet counts
    # half-mm, a GEN1 thermocycler frames its lines otherwise) and what a simulation
    # with that file times: a module that says it is another model is refused at once.
    with running_module_twins({"m": kind}, speed=SPEED, models={"m": said}) as twins:
        path = tmp_path / "robot.toml"
        path.write_text(f'[modules.m]\nkind = "{kind}"\nmodel = "{named}"\n'
                        f'port = "{twins.address("m")}"\ntimeout_s = 2.0\n')
        status, text = run_doctor(path)
    assert status == 1, text
    [failed] = [line for line in text.splitlines() if "FAILED" in line]
    assert failed.endswith(f"says it is a {display_name(said)} ({said}), but [modules.m] says "
                           f"model = {named!r}: correct the model in the robot file, or "
                           f"attach a {display_name(named)}"), failed


def test_a_gen1_thermocycler_the_robot_file_names_no_model_for_is_named(tmp_path: Path) -> None:
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED,
                              models={"tc": "thermocyclerModuleV1"}) as twins:
        path = tmp_path / "robot.toml"
        path.write_text(f'[modules.tc]\nkind = "thermocycler"\nport = "{twins.address("tc")}"\n'
                        'timeout_s = 2.0\n')
        status, text = run_doctor(path)
    assert status == 1, text
    [failed] = [line for line in text.splitlines() if "FAILED" in line]
    assert failed == (
        f"  FAILED: the thermocycler module on {twins.address('tc')} says it is a "
        "Thermocycler Module GEN1 (thermocyclerModuleV1), which is spoken to otherwise: add "
        "model = 'thermocyclerModuleV1' to [modules.tc] in the robot file")
