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
