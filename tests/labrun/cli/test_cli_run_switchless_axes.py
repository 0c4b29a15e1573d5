"""``labrun run --robot`` on a robot with axes that have no homing switch (``homing =
"none"``): they are not homed but taken to stand at their home, and the line after
"homing" says so instead of counting them as homed (an operator who forgot to jog them
there would read "homed at" as the machine having found its switches)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hardware.emulator import running_emulator
from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("hello")
'''


def test_axes_without_a_switch_are_not_said_to_be_homed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent(PROTOCOL).lstrip("\n"))
    with running_emulator("grbl", speed=100.0) as emu:
        robot = tmp_path / "robot.toml"
        robot.write_text(textwrap.dedent(f'''
            name = "switchless-plunger"
            [controller]
            kind = "gcode"
            dialect = "grbl"
            port = "{emu.address}"
            timeout_s = 2.0
            poll_interval = 0.05
            [axes.B]
            homing = "none"
            [axes.C]
            homing = "none"
        '''))
        status = main(["run", str(protocol), "--robot", str(robot)])
    out, err = capsys.readouterr()
    assert status == 0, err
    [line] = [line for line in out.splitlines() if line.startswith(("homed", "no switch"))]
    assert line == ('homed at X 418.0 Y 353.0 Z 218.0 A 218.0; no switch (homing = "none"), '
                    "taken as home where they stand: B 0.0 C 0.0")


def test_a_robot_whose_axes_all_have_switches_is_homed_at(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent(PROTOCOL).lstrip("\n"))
    status = main(["run", str(protocol), "--emulate", "--speed", "100"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "\nhomed at X 418.0 Y 353.0 Z 218.0 A 218.0 B 0.0 C 0.0\n" in out
    assert "no switch" not in out
