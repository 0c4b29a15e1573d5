"""A tip a run left on a robot's pipette is remembered until someone says it is off.

``labrun run --robot`` on the emulator over a real socket: a run halted with a tip on
leaves it there, and the next run on that robot must not press a fresh tip onto it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from pty_terminal import Terminal

from engine.record import read_record
from hardware.emulator import running_emulator
from labrun.cli.main import main
from labrun.cli.tips_left import left_on, robot_key

TIP_THEN_WAIT = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 6)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(40, plate["A1"])
    ctx.delay(minutes=10, msg="soak")
    p300.drop_tip()
'''

NO_TIP = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("nothing to pick up")
'''

LEFT = (r"the right pipette holds a tip with about 40 µL, left by halted\.py \(halted\): "
        r"take it off the robot, then ")


def test_a_tip_left_by_a_halted_run_holds_the_next_until_someone_says_it_is_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    halted, quick = tmp_path / "halted.py", tmp_path / "quick.py"
    halted.write_text(textwrap.dedent(TIP_THEN_WAIT))
    quick.write_text(textwrap.dedent(NO_TIP))
    with running_emulator("grbl", speed=50.0) as emulator:
        robot = tmp_path / "robot.toml"
        robot.write_text(textwrap.dedent(f'''
            name = "bench"
            [controller]
            kind = "gcode"
            dialect = "grbl"
            port = "{emulator.address}"
        '''))
        # Halted in the delay, a tip with liquid on: no cleanup drops it.
        term = Terminal("run", str(halted), "--robot", str(robot))
        try:
            term.expect(r"press Enter to start")
            term.type(b"\n")
            term.expect(r"soak")
            term.type(b"h")
            term.expect(r"press h again")
            term.type(b"h")
            term.expect(r"status:\s+halted")
            assert term.wait() == 1
        finally:
            term.close()
        assert left_on(robot_key(str(robot))) is not None

        # Without a terminal: refused before anything is connected, with a record.
        connections = emulator.stats.connections
        record = tmp_path / "refused.jsonl"
        status = main(["run", str(quick), "--robot", str(robot), "--record", str(record)])
        out, err = capsys.readouterr()
        assert status == 1
        assert re.search(rf"error: {LEFT}run again with --tips-removed\n", err), err
        assert "nothing was connected or moved" in err
        assert emulator.stats.connections == connections
        summary = read_record(record)[-1]
        assert summary["status"] == "failed" and summary["commands"] == 0
        assert "--tips-removed" in summary["error"]

        # At a terminal: asked, and q keeps it (and the tip) as it was.
        term = Terminal("run", str(quick), "--robot", str(robot))
        try:
            term.expect(LEFT[0].upper() + LEFT[1:] + r"press Enter \(q and Enter to quit\)")
            assert "connecting to" not in term.text()
            term.type(b"q\n")
            term.expect(r"not started; nothing was connected or moved")
            assert term.wait() == 0
        finally:
            term.close()
        assert left_on(robot_key(str(robot))) is not None

        # Said to be off: the run goes, and the next needs no word.
        assert main(["run", str(quick), "--robot", str(robot), "--tips-removed"]) == 0
        out, err = capsys.readouterr()
        assert "taken as off the robot (--tips-removed)" in out
        assert left_on(robot_key(str(robot))) is None
        assert main(["run", str(quick), "--robot", str(robot)]) == 0
        capsys.readouterr()
