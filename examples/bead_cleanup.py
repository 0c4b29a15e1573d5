"""Magnetic-bead clean-up of 8 samples: bind, pull the beads down, wash twice, elute.

The elution buffer goes on a temperature module at 4 °C; once the beads have dried and
the block is cold, the protocol pauses for a person to add it. During any pause the
magnets stay where they are (up while engaged) and the block stays cold
(docs/design.md §5).
"""

from opentrons import protocol_api

metadata = {"protocolName": "Bead clean-up with a magnet and a cold block",
            "apiLevel": "2.15"}


def run(ctx: protocol_api.ProtocolContext) -> None:
    magnet = ctx.load_module("magnetic module gen2", 1)
    cold = ctx.load_module("temperature module gen2", 3)
    samples_plate = magnet.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", "samples")
    buffer = cold.load_labware("opentrons_96_aluminumblock_nest_wellplate_100ul",
                               "elution buffer")
    eluate_plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 2, "eluates")
    reagents = ctx.load_labware("nest_12_reservoir_15ml", 5)
    tips = [ctx.load_labware("opentrons_96_tiprack_300ul", slot) for slot in (4, 6)]
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=tips)

    beads, ethanol, waste = reagents["A1"], reagents["A2"], reagents["A12"]
    samples = samples_plate.columns()[0]
    eluates = eluate_plate.columns()[0]

    cold.start_set_temperature(4)  # cools while the beads bind
    p300.transfer(45, beads, samples, new_tip="always", mix_after=(5, 40))
    ctx.delay(minutes=5, msg="beads bind the DNA")

    magnet.engage()
    ctx.delay(minutes=2, msg="beads settle on the magnet")
    p300.transfer(70, samples, waste, new_tip="always")

    for _ in range(2):  # two ethanol washes, on the magnet
        p300.transfer(100, ethanol, samples, new_tip="once")
        ctx.delay(seconds=30)
        p300.transfer(100, samples, waste, new_tip="always")

    magnet.disengage()
    ctx.delay(minutes=3, msg="beads air-dry")
    cold.await_temperature(4)
    ctx.pause("Add 30 µL of elution buffer to column 1 of the cold block, then resume")

    p300.transfer(25, buffer.columns()[0], samples, new_tip="always", mix_after=(5, 20))
    ctx.delay(minutes=2, msg="DNA elutes")
    magnet.engage()
    ctx.delay(minutes=1)
    p300.transfer(22, samples, eluates, new_tip="always")
    magnet.disengage()
    cold.deactivate()
