"""Partial tip pickup (apiLevel 2.20): a layout that starts at the front nozzle (H1) takes
the tips behind the well it is sent to, so the run log names them all (four tips from B1
to E1), as Opentrons' run log names the range; ``from E1`` read as E1 and the tips in
front of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labrun.cli.main import main

PROTOCOL = '''
from opentrons.protocol_api import ALL, PARTIAL_COLUMN, SINGLE

metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    m20 = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[tips])
    m20.configure_nozzle_layout(SINGLE, start="H1", tip_racks=[tips])
    m20.pick_up_tip()
    m20.drop_tip()
    m20.configure_nozzle_layout(PARTIAL_COLUMN, start="H1", end="E1", tip_racks=[tips])
    m20.pick_up_tip()
    m20.aspirate(10, plate["H5"])
    m20.drop_tip()
    m20.configure_nozzle_layout(ALL, tip_racks=[tips])
    m20.pick_up_tip()
    m20.drop_tip()
'''


def test_a_front_start_pick_up_names_every_tip_it_takes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "partial.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    assert main(["simulate", str(path)]) == 0
    rack = "Opentrons OT-2 96 Tip Rack 20 µL (slot 4)"
    picks = [line.split("] ", 1)[1] for line in capsys.readouterr().out.splitlines()
             if "] Picking up" in line]
    assert picks == [f"Picking up tip from A1 of {rack}",
                     f"Picking up 4 tips from B1\N{EN DASH}E1 of {rack}",  # H1 nozzle at E1
                     f"Picking up 8 tips from A2 of {rack}"]  # all eight: from A2 down
