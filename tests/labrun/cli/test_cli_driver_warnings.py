"""``labrun emulator --no-emergency-parser`` (Marlin's default build) in its own process,
and what ``labrun doctor`` says of it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labrun.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 60.0
NO_PARSER = ("warning: the Marlin at {port} has no emergency parser (its M115 says "
             "Cap:EMERGENCY_PARSER:0): without an emergency parser Marlin reads M410 "
             "(quickstop) and M112 (emergency stop) only once the move under way ends")

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


def test_labrun_doctor_lists_it_with_the_controllers_answers(tmp_path: Path) -> None:
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


def test_no_emergency_parser_is_refused_for_other_firmwares(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--dialect", "grbl", "--no-emergency-parser"]) == 2
    assert capsys.readouterr().err == (
        "error: --no-emergency-parser applies only with --dialect marlin\n")

