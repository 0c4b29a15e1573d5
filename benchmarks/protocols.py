"""Protocols the benchmarks share."""

PROTOCOL_96 = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    source = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    dest = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    for i, (s, d) in enumerate(zip(source.wells(), dest.wells())):
        if i == 48:
            ctx.pause("half-way: check the plates")
            ctx.delay(seconds=30)
        p300.transfer(100, s, d, new_tip="always")
'''
"""96 transfers, a new tip each, with a pause and a 30 s delay half-way."""
