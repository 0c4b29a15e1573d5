"""PCR set-up of 24 samples with two pipettes, on a thermocycler.

An 8-channel P300 puts master mix into three columns of the PCR plate; a single-channel
P20 adds each sample with its own tip. The sample plate comes out of the fridge only
when the master mix is in: the protocol asks a person to put it on the deck (a move by
hand) and waits. Then the thermocycler closes its heated lid and cycles. A pause,
however it comes, never changes which wells either pipette touches.
"""

from opentrons import protocol_api

metadata = {"protocolName": "PCR set-up with two pipettes and a thermocycler",
            "apiLevel": "2.15"}


def run(ctx: protocol_api.ProtocolContext) -> None:
    cycler = ctx.load_module("thermocycler module", 7)
    pcr_plate = cycler.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", "PCR plate")
    samples = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt",
                               protocol_api.OFF_DECK, "samples")
    mix = ctx.load_labware("nest_12_reservoir_15ml", 5, "master mix")
    p300 = ctx.load_instrument("p300_multi_gen2", "left",
                               tip_racks=[ctx.load_labware("opentrons_96_tiprack_300ul", 1)])
    p20 = ctx.load_instrument("p20_single_gen2", "right",
                              tip_racks=[ctx.load_labware("opentrons_96_tiprack_20ul", 4)])

    cycler.open_lid()
    cycler.set_block_temperature(4)
    cycler.set_lid_temperature(105)

    columns = pcr_plate.columns()[:3]
    p300.distribute(15, mix["A1"], [column[0] for column in columns], new_tip="once")

    ctx.move_labware(samples, 2, use_gripper=False)  # a person brings it from the fridge
    for source, target in zip(samples.wells()[:24], pcr_plate.wells()[:24], strict=True):
        p20.transfer(5, source, target, mix_after=(2, 10), new_tip="always")

    cycler.close_lid()
    cycler.execute_profile(steps=[{"temperature": 95, "hold_time_seconds": 30},
                                  {"temperature": 57, "hold_time_seconds": 30},
                                  {"temperature": 72, "hold_time_seconds": 60}],
                           repetitions=5, block_max_volume=20)
    cycler.set_block_temperature(4)
    cycler.open_lid()
    ctx.move_labware(samples, protocol_api.OFF_DECK, use_gripper=False)  # back to the fridge
