"""A tip a run left on a robot's pipette is remembered until someone says it is off.

``labrun run --robot`` on the emulator over a real socket: a run halted with a tip on
leaves it there, and the next run on that robot must not press a fresh tip onto it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from pty_terminal import Terminal

from engine.record import read_record
from hardware.emulator import running_emulator
from labrun.cli.main import main
from labrun.cli.tips_left import left_on, remember, robot_key, state_file

WAIT_S = 30.0

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


def robot_file(path: Path, controller: str) -> Path:
    """A robot that leaves its tips on when a run fails (``drop_tips_on_stop = false``)."""
    path.write_text(f'name = "bench"\ndrop_tips_on_stop = false\n[controller]\n{controller}')
    return path


def grbl_at(address: str) -> str:
    """A ``[controller]`` table's keys for the GRBL emulator at ``address``."""
    return f'kind = "gcode"\ndialect = "grbl"\nport = "{address}"\n'


def test_a_tip_left_by_a_halted_run_holds_the_next_until_someone_says_it_is_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    halted, quick = tmp_path / "halted.py", tmp_path / "quick.py"
    halted.write_text(textwrap.dedent(TIP_THEN_WAIT))
    quick.write_text(textwrap.dedent(NO_TIP))
    with running_emulator("grbl", speed=50.0) as emulator:
        robot = robot_file(tmp_path / "robot.toml", grbl_at(emulator.address))
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
        assert status == 4
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


FAILS_WITH_A_TIP = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
    m300 = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    m300.pick_up_tip()
    raise RuntimeError("reagent lot expired")
'''


def test_a_multi_channel_s_tips_left_by_a_failed_run_are_named_and_counted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing, quick = tmp_path / "failing.py", tmp_path / "quick.py"
    failing.write_text(FAILS_WITH_A_TIP)
    quick.write_text(textwrap.dedent(NO_TIP))
    with running_emulator("grbl", speed=50.0) as emulator:
        robot = robot_file(tmp_path / "robot.toml", grbl_at(emulator.address))
        assert main(["run", str(failing), "--robot", str(robot), "--no-simulate"]) == 1
        capsys.readouterr()
        assert main(["run", str(quick), "--robot", str(robot)]) == 4
        err = capsys.readouterr().err
        assert ("error: the left pipette holds 8 tips, left by failing.py (failed): take them "
                "off the robot, then run again with --tips-removed\n") in err


def test_the_simulated_robot_starts_afresh_each_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its tips are not kept: nothing is on it when the next run starts."""
    failing, quick = tmp_path / "failing.py", tmp_path / "quick.py"
    failing.write_text(FAILS_WITH_A_TIP)
    quick.write_text(textwrap.dedent(NO_TIP))
    robot = robot_file(tmp_path / "robot.toml", 'kind = "simulated"\n')
    assert main(["run", str(failing), "--robot", str(robot), "--no-simulate"]) == 1
    assert left_on(robot_key(str(robot))) is None
    assert main(["run", str(quick), "--robot", str(robot)]) == 0
    capsys.readouterr()


def test_a_run_killed_midway_leaves_word_that_a_tip_may_be_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    halted, quick = tmp_path / "killed.py", tmp_path / "quick.py"
    halted.write_text(textwrap.dedent(TIP_THEN_WAIT).replace(
        "    ctx.delay", "    ctx.comment('tip on, soaking')\n    ctx.delay"))
    quick.write_text(textwrap.dedent(NO_TIP))
    with running_emulator("grbl", speed=50.0) as emulator:
        robot = robot_file(tmp_path / "robot.toml", grbl_at(emulator.address))
        process = subprocess.Popen(
            [sys.executable, "-m", "labrun.cli.main", "run", str(halted), "--robot",
             str(robot)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        guard = threading.Timer(WAIT_S, process.kill)  # however the run goes, not longer
        guard.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if "tip on, soaking" in line:  # said as the run comes to it
                    break
            process.kill()  # as a power cut would: no ending of its own
        finally:
            guard.cancel()
            process.kill()
            process.wait()
        status = main(["run", str(quick), "--robot", str(robot)])
        err = capsys.readouterr().err
        assert status == 4
        assert ("error: the last run here, killed.py, never ended (labrun stopped during it): "
                "a tip may still be on a pipette; take any off the robot, then run again "
                "with --tips-removed\n") in err


def test_a_state_file_that_cannot_be_read_holds_every_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing is known, so nothing is taken as off: the error names the file."""
    quick = tmp_path / "quick.py"
    quick.write_text(textwrap.dedent(NO_TIP))
    state = state_file()
    state.parent.mkdir(parents=True, exist_ok=True)
    kept = state.read_bytes() if state.exists() else None
    state.write_text('{"cut off')
    try:
        robot = robot_file(tmp_path / "robot.toml",
                           'kind = "gcode"\ndialect = "grbl"\nport = "tcp://127.0.0.1:9"\n')
        assert main(["run", str(quick), "--robot", str(robot)]) == 4
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot read {state} (")
        assert "remove it once the tips are off every robot" in err
    finally:
        if kept is None:
            state.unlink()
        else:
            state.write_bytes(kept)


def test_two_robots_ending_together_each_keep_their_tips() -> None:
    """Each write reads, changes and replaces the whole file: without the lock, one robot's
    entry was lost to the other's write now and then, and its next run went ahead."""
    tips = {"run": "p.py", "status": "halted", "mounts": {"left": {"volume_ul": 5.0}}}
    lost: list[str] = []

    def robot(name: str) -> None:
        for _ in range(150):
            remember(name, tips)
            if left_on(name) is None:
                lost.append(name)
            remember(name, None)

    threads = [threading.Thread(target=robot, args=(f"/robots/{n}.toml",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lost == []
