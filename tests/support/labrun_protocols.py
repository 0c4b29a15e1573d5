"""Protocol files the tests write out, shared across test modules."""

from __future__ import annotations

_HOPS = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 9)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    for well in ("A12", "B11", "C12", "D11") * %d:
        p300.move_to(plate[well].top(5))
'''


def hops(rounds: int) -> str:
    """Short hops at full speed near the home corner (slot 9): ``4 * rounds`` moves."""
    return _HOPS % rounds


LONG_MOVE = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    p300.move_to(plate["A1"].top(40), force_direct=True, speed=40)
    p300.move_to(plate["A2"].top(40))
'''
"""One long slow move from the home corner towards slot 1 (about 400 mm at 40 mm/s), then a
short one: a step that lasts while a test pauses or presses keys."""


LONG_MOVE_WITH_TIP = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    with ctx.step("pick up a tip and travel"):
        p300.pick_up_tip()
        p300.move_to(plate["A1"].top(40), force_direct=True, speed=40)
    p300.move_to(plate["A2"].top(40))
    p300.drop_tip()
'''
"""``LONG_MOVE`` in a step that has picked up a tip: an immediate pause during the long
move is never rewound (the step changed the tip), so resume returns to where it stopped."""


SLOW_TRANSFER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 6)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.flow_rate.aspirate = 20
    with ctx.step("transfer"):
        p300.pick_up_tip()
        p300.aspirate(200, plate["A1"])
        p300.move_to(plate["A12"].top(2), force_direct=True, speed=10)
        p300.dispense(200, plate["A12"])
        p300.drop_tip()
'''
"""One step that picks up a tip, aspirates slowly, carries the liquid slowly along row A
and dispenses: an immediate pause can land mid-pick-up, mid-aspirate or mid-move with a
tip that holds liquid; none of these may rewind the step."""


SLOW_STEPS = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 6)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.flow_rate.aspirate = 20
    with ctx.step("to the tips"):
        p300.move_to(tips["A1"].top(60))
    with ctx.step("pick up"):
        p300.pick_up_tip()
    with ctx.step("to the well"):
        p300.move_to(plate["A1"].bottom(1))
    with ctx.step("aspirate"):
        p300.aspirate(200)
    with ctx.step("carry"):
        p300.move_to(plate["A12"].top(2), force_direct=True, speed=10)
        p300.dispense(200)
    p300.drop_tip()
'''
"""``SLOW_TRANSFER`` in named steps, so a person or a client sees which command is under
way (the step's name) and can pause mid-pick-up, mid-aspirate or mid-move with a tip."""


_ASPIRATING_AT = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(20, plate["A1"], rate=%r)
    p300.drop_tip()
'''
ASPIRATE_LINE = 9
"""The line of ``aspirating_at``'s aspirate."""


def aspirating_at(rate: float) -> str:
    """A tip picked up, then 20 µL aspirated at ``rate`` times a P300's flow rate (line
    ``ASPIRATE_LINE``; 4.95e-3 mm/s of plunger at a rate of 0.001), and the tip dropped."""
    return _ASPIRATING_AT % rate
