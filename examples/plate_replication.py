"""Replicate a 96-well source plate into two destination plates, pausing to swap plates."""

from opentrons import protocol_api

metadata = {
    "protocolName": "Plate replication with a plate swap",
    "author": "labrun examples",
    "apiLevel": "2.15",
}


def run(ctx: protocol_api.ProtocolContext) -> None:
    tips = [ctx.load_labware("opentrons_96_tiprack_300ul", slot) for slot in (4, 5)]
    source = ctx.load_labware("corning_96_wellplate_360ul_flat", 1, label="source")
    dest = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="replica")
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=tips)

    for copy in (1, 2):
        ctx.comment(f"replica {copy} of 2")
        for column in range(12):
            p300.transfer(50, source.columns()[column], dest.columns()[column], new_tip="always")
        if copy == 1:
            ctx.pause("Replace the replica plate in slot 2 with an empty plate, then resume.")
