"""A labware's offset in the run log: a line of its own, and a line of ``ctx.commands()``."""

from __future__ import annotations

from pathlib import Path

import pytest
from labrun_testing import protocol_file

from labrun.cli.main import main

PLATE = "corning_96_wellplate_360ul_flat"


def test_an_offset_is_a_line_of_the_run_log_and_of_the_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = protocol_file(tmp_path, f"""
plate = ctx.load_labware("{PLATE}", 2, "samples")
plate.set_offset(0.1, -0.2, 1.5)
ctx.comment(ctx.commands()[-1])
""", api="2.18")
    assert main(["simulate", str(path)]) == 0
    log = capsys.readouterr().out.split("\nRun log\n", 1)[1].splitlines()
    assert [line[8:] for line in log[2:4]] == [
        "Shifting samples (slot 2) by (0.1, -0.2, 1.5) mm from where its definition "
        "places it",
        "Shifting samples by (0.1, -0.2, 1.5) mm"]
