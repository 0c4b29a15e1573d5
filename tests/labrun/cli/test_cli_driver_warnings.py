"""``labrun emulator --no-emergency-parser`` (Marlin's default build) in its own process,
and what ``labrun run`` and ``labrun doctor`` say of it: the driver's warning at
connection, one line in the command line's style (``warning: ...``), once."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hardware.modules.serial import wire
from labrun.cli.driver_warnings import driver_warnings
from labrun.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 60.0
NO_PARSER = ("warning: the Marlin at {port} has no emergency parser (its M115 says "
             "Cap:EMERGENCY_PARSER:0): without an emergency parser Marlin reads M410 "
             "(quickstop) and M112 (emergency stop) only once the move under way ends")

# A protocol may use Python's logging: its first logging.info sets logging up, after which
# the driver's warning came out as 'WARNING:hardware.gcode.driver:warning: the Marlin ...'.
LOGGING_PROTOCOL = '''
import logging

metadata = {"apiLevel": "2.15"}

def run(ctx):
    logging.info("the protocol starts")
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.drop_tip()
'''


@contextmanager
def labrun_emulator(*options: str) -> Iterator[tuple[str, str]]:
    """``labrun emulator --dialect marlin --no-emergency-parser OPTIONS`` in its own
    process: its banner and its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "emulator", "--dialect", "marlin",
         "--no-emergency-parser", "--speed", "100", *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # bounded: the emulator prints it at once
        match = re.search(r" on (\S+)$", banner)
        assert match, banner
        yield banner, match[1]
        process.terminate()
        assert process.wait(WAIT_S) == 0
    finally:
        process.kill()
        process.wait(WAIT_S)


def robot_file(tmp_path: Path, port: str) -> Path:
    path = tmp_path / "robot.toml"
    path.write_text(textwrap.dedent(f'''
        name = "test-marlin"
        [controller]
        kind = "gcode"
        dialect = "marlin"
        port = "{port}"
        timeout_s = 2.0
        poll_interval = 0.05
    '''))
    return path


def test_labrun_run_says_the_marlin_has_no_emergency_parser_in_one_line_of_its_own(
        tmp_path: Path) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(LOGGING_PROTOCOL)
    with labrun_emulator("--pty") as (banner, port):
        assert banner.startswith("labrun emulator (marlin, no emergency parser, speed x100) "
                                 "on /dev/")
        done = subprocess.run(
            [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--robot",
             str(robot_file(tmp_path, port)), "-y"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=WAIT_S)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    assert re.search(r"status:\s+succeeded", done.stdout)
    # Said once, between connecting and homing, as the command line says its notices.
    start = lines.index(f"connecting to {port} (gcode, marlin)")
    assert lines[start + 1].startswith(NO_PARSER.format(port=port))
    assert lines[start + 1].endswith("turn EMERGENCY_PARSER on in Marlin's Configuration_adv.h")
    assert lines[start + 2] == "homing"
    assert sum("no emergency parser" in line for line in lines) == 1
    assert not [line for line in lines if line.startswith("WARNING:hardware")]


def test_labrun_doctor_lists_it_with_the_controllers_answers_only(tmp_path: Path) -> None:
    with labrun_emulator("--port", "0") as (banner, port):
        assert "(marlin, no emergency parser, speed x100) on tcp://127.0.0.1:" in banner
        done = subprocess.run(
            [sys.executable, "-m", "labrun.cli.main", "doctor", "--robot",
             str(robot_file(tmp_path, port))],
            cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=WAIT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  capabilities: EEPROM:0 EMERGENCY_PARSER:0" in done.stdout
    assert "  " + NO_PARSER.format(port=port) in done.stdout
    assert done.stderr == ""  # not said a second time, on stderr


def test_no_emergency_parser_is_refused_for_other_firmwares(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--dialect", "grbl", "--no-emergency-parser"]) == 2
    assert capsys.readouterr().err == (
        "error: --no-emergency-parser applies only with --dialect marlin\n")


def test_a_marlin_without_tmc_drivers_is_said_in_its_banner_and_refused_for_the_others(
        capsys: pytest.CaptureFixture[str]) -> None:
    with labrun_emulator("--no-tmc-drivers", "--port", "0") as (banner, _):
        assert banner.startswith("labrun emulator (marlin, no emergency parser, no TMC "
                                 "drivers, speed x100) on tcp://127.0.0.1:")
    assert main(["emulator", "--dialect", "smoothie", "--no-tmc-drivers"]) == 2
    assert capsys.readouterr().err == (
        "error: --no-tmc-drivers applies only with --dialect marlin\n")



def test_the_serial_modules_drivers_failures_are_said_in_one_line_of_labruns_own(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The serial modules' driver logs what failed in its background reader through
    # Python's logging: labrun run printed it with a traceback, or, once a protocol had
    # set logging up, as 'ERROR:hardware.modules.serial.wire:...' and a traceback.
    protocols = logging.StreamHandler()  # a protocol's logging.basicConfig()
    logging.getLogger().addHandler(protocols)
    try:
        with driver_warnings():
            try:
                float("T:abc")
            except ValueError:
                wire.log.warning("reading the module on %s while quiet failed",
                                 "/dev/ttyACM1", exc_info=True)
            try:
                raise RuntimeError("listener bug")
            except RuntimeError:
                wire.log.exception("module fault listener failed for %s", "a fault")
    finally:
        logging.getLogger().removeHandler(protocols)
    assert capsys.readouterr().err == (
        "warning: reading the module on /dev/ttyACM1 while quiet failed: ValueError: could "
        "not convert string to float: 'T:abc'\n"
        "error: module fault listener failed for a fault: RuntimeError: listener bug\n")
