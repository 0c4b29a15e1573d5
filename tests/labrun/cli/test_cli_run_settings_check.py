"""``labrun run --robot`` on a controller whose steps/mm disagree with the robot file: it
homes nothing, moves nothing, and says which axis and both values in one error line, with
a record of a run that failed before it started."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.record import read_record
from hardware.emulator import running_emulator
from hardware.emulator.firmware.grbl import GrblFirmware
from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("hello")
'''


def test_a_board_reset_to_its_default_steps_is_not_moved(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent(PROTOCOL).lstrip("\n"))
    record = tmp_path / "record.jsonl"
    with running_emulator("grbl", speed=100.0) as emu:
        firmware = emu.emulator.firmware
        assert isinstance(firmware, GrblFirmware)
        emu.call(lambda: firmware.stored.update({101: 250.0}))  # as after an EEPROM reset
        robot = tmp_path / "robot.toml"
        robot.write_text(textwrap.dedent(f'''
            name = "reset-board"
            [controller]
            kind = "gcode"
            dialect = "grbl"
            port = "{emu.address}"
            timeout_s = 2.0
            poll_interval = 0.05
        '''))
        status = main(["run", str(protocol), "--robot", str(robot), "-y",
                       "--record", str(record)])
        lines = list(emu.stats.lines)
    out, err = capsys.readouterr()
    assert status == 1
    assert err.splitlines()[-1] == (
        "error: the robot was not ready: the controller's settings disagree with the robot "
        "file, so labrun will not move it: axis Y: the firmware's steps/mm $101=250, the "
        "robot file's axes.Y.steps_per_mm 80 (a move would go 3.12 times as far as asked); "
        "correct the firmware's setting or the robot file (labrun doctor lists both)")
    assert "homing" not in out.splitlines() and "$H" not in lines
    summary = read_record(record)[-1]
    assert summary["status"] == "failed" and "axes.Y.steps_per_mm 80" in summary["error"]
