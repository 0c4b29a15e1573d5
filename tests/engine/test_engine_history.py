"""A run that keeps no history (``keep_history=False``, for flat memory) writes the same
record and the same summary as one that keeps every event and command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.record import read_record
from protocol_api.execute import continue_when_stalled, create_run

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    for i in range(4):
        p300.pick_up_tip()
        p300.aspirate(50, plate.wells()[i])
        if i == 2:
            ctx.pause("look")
        p300.dispense(30, plate.wells()[i + 8])
        p300.blow_out(plate.wells()[i + 8])
        p300.drop_tip()
'''


def recorded(tmp_path: Path, keep: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    path = tmp_path / f"record-{keep}.jsonl"
    run = create_run(protocol, record_path=path, on_stalled=continue_when_stalled,
                     keep_history=keep)
    run.control.play()
    run.wait()
    run.close()
    assert bool(run.engine.entries) is keep
    assert run.record.last is not None
    events = read_record(path)
    for event in events:  # what tells two runs apart: their ids and when they were made
        if event["event"] == "run":
            event.pop("id", None)
            event.pop("created_at", None)
    return events, run.record.last


def test_a_run_without_history_records_and_sums_up_the_same(tmp_path: Path) -> None:
    kept, kept_summary = recorded(tmp_path, True)
    streamed, streamed_summary = recorded(tmp_path, False)
    assert streamed == kept
    assert streamed_summary == kept_summary == kept[-1]
    assert kept_summary["tips_used"] == 4 and kept_summary["steps"] > 4
    assert [p["message"] for p in kept_summary["pauses"]] == ["look"]
    assert kept_summary["well_volumes_ul"]["2/A1"] == -50.0
    assert kept_summary["well_volumes_ul"]["2/A2"] == 50.0  # 30 dispensed + 20 blown out
