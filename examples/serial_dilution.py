"""A 1:2 serial dilution across each row of a plate, mixing after every transfer."""

from opentrons import protocol_api

metadata = {"protocolName": "Serial dilution", "apiLevel": "2.13"}

ROWS = "ABCDEFGH"


def run(ctx: protocol_api.ProtocolContext) -> None:
    tiprack = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tiprack])

    # Diluent into every well but the first of each row.
    p300.transfer(100, reservoir["A1"], [plate[f"{r}{c}"] for r in ROWS for c in range(2, 13)])

    for row in ROWS:
        with ctx.step(f"dilute row {row}"):
            p300.transfer(200, reservoir["A2"], plate[f"{row}1"], new_tip="always")
            p300.pick_up_tip()
            for col in range(1, 12):
                p300.aspirate(100, plate[f"{row}{col}"])
                p300.dispense(100, plate[f"{row}{col + 1}"])
                p300.mix(3, 50)
                p300.blow_out(plate[f"{row}{col + 1}"])
            p300.aspirate(100, plate[f"{row}12"])
            p300.drop_tip()
