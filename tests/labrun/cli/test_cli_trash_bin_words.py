"""From apiLevel 2.16 the fixed trash is a trash bin with no wells (as in Opentrons, whose run
log says ``Dropping tip into Trash Bin on slot 12``): the run log, the setup sheet and the
deck picture name the bin and its slot, never ``A1 of Opentrons Fixed Trash``. Below 2.16
the trash is a labware with a well A1, named as before.

The record says which: the fixed trash's ``loadLabware`` carries ``trash_bin: true`` from
2.16 (``calls.TRASH_BIN``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from engine.record import read_record
from labrun.cli import deck_svg, setup_sheet
from labrun.cli.main import main
from labrun.cli.report import TextLog

PROTOCOL = '''
metadata = {{"apiLevel": "{level}"}}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p20 = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[tips])
    p20.pick_up_tip()
    p20.aspirate(10, plate["A1"])
    p20.dispense(10, {trash})
    p20.blow_out({trash})
    p20.drop_tip()
'''


def _events(tmp_path: Path, level: str, trash: str) -> list[dict[str, Any]]:
    """The record of the protocol at ``level``: the trash's load says whether it is a bin."""
    path, record = tmp_path / "p.py", tmp_path / "run.jsonl"
    path.write_text(textwrap.dedent(PROTOCOL.format(level=level, trash=trash)))
    assert main(["simulate", str(path), "--record", str(record), "--json"]) == 0
    events = list(read_record(record))
    load = next(e for e in events if e.get("type") == "loadLabware")
    assert load["params"]["load_name"] == "opentrons_1_trash_1100ml_fixed"
    assert load["params"]["trash_bin"] is (tuple(map(int, level.split("."))) >= (2, 16))
    return events


def _log(events: list[dict[str, Any]]) -> list[str]:
    log = TextLog(step_words=False)
    lines = [line for event in events for line in log.feed(event)]
    return [line.split("] ", 1)[1] for line in [*lines, *log.finish()]]


def test_from_2_16_the_log_names_the_trash_bin_and_its_slot(tmp_path: Path, capsys: Any) -> None:
    lines = _log(_events(tmp_path, "2.16", "ctx.fixed_trash"))
    capsys.readouterr()
    assert "Loading Trash Bin (slot 12)" in lines
    assert "Dispensing 10.0 µL into Trash Bin (slot 12)" in lines
    assert "Blowing out into Trash Bin (slot 12)" in lines
    assert "Dropping tip into Trash Bin (slot 12)" in lines
    assert not [line for line in lines if "Fixed Trash" in line or "A1 of Trash" in line]


def test_from_2_16_the_setup_sheet_lists_the_trash_bin(tmp_path: Path, capsys: Any) -> None:
    sheet = setup_sheet.build(_events(tmp_path, "2.16", "ctx.fixed_trash"))
    capsys.readouterr()
    assert "    slot 12  Trash Bin" in setup_sheet.text(sheet)
    assert ">Trash Bin</text>" in deck_svg.svg(sheet)


def test_below_2_16_the_trash_keeps_its_well(tmp_path: Path, capsys: Any) -> None:
    events = _events(tmp_path, "2.15", 'ctx.fixed_trash["A1"]')
    lines = _log(events)
    capsys.readouterr()
    assert "Dispensing 10.0 µL into A1 of Opentrons Fixed Trash (slot 12)" in lines
    assert "Blowing out at A1 of Opentrons Fixed Trash (slot 12)" in lines
    assert "Dropping tip into A1 of Opentrons Fixed Trash (slot 12)" in lines
    assert "    slot 12  Opentrons Fixed Trash" in setup_sheet.text(setup_sheet.build(events))
