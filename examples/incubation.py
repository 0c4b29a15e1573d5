"""Add a reagent, incubate with timed delays inside one grouped step, then quench."""

from opentrons import protocol_api

metadata = {"protocolName": "Timed incubation", "apiLevel": "2.20"}


def run(ctx: protocol_api.ProtocolContext) -> None:
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
    plate = ctx.load_labware("biorad_96_wellplate_200ul_pcr", 1)
    reagents = ctx.load_labware("nest_12_reservoir_15ml", 2)
    p20 = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[tips])

    samples = plate.wells()[:8]
    p20.transfer(15, reagents["A1"], samples, new_tip="always", mix_after=(2, 10))

    with ctx.step("incubate"):
        ctx.comment("incubating at room temperature")
        ctx.delay(minutes=5, msg="first incubation")
        p20.pick_up_tip()
        p20.mix(3, 15, samples[0])
        p20.drop_tip()
        ctx.delay(minutes=10, msg="second incubation")

    p20.transfer(5, reagents["A2"], samples, new_tip="always", blow_out=True,
                 blowout_location="destination well")
