"""What labrun ignores as Opentrons does is said in the run log at every verbosity."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.13"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], plate["B1"], tip_touch=True)
    p300.pick_up_tip()
    p300.mix(1.5, 20, plate["B1"])
'''


@pytest.mark.parametrize("verbosity", [[], ["-v"]])
def test_warnings_are_in_the_run_log_under_their_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verbosity: list[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL).lstrip("\n"))
    assert main(["simulate", str(path), *verbosity]) == 0
    out = capsys.readouterr().out
    lines = out.split("\nRun log\n", 1)[1].splitlines()
    transfer = next(i for i, line in enumerate(lines) if "Transferring 50.0 µL" in line)
    warnings = [line.strip() for line in lines if line.strip().startswith("warning: ")]
    assert warnings == [
        f"warning: {path}:8: transfer: tip_touch=True is not an option of transfer; "
        "ignored, as Opentrons does",
        f"warning: {path}:10: mix: repetitions=1.5 is not a whole number; mixing 2 times, "
        "as Opentrons does"]
    assert lines[transfer + 1].strip() == warnings[0]
