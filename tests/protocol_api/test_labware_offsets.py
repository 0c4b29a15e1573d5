"""A labware's offset (``set_offset``, ``set_calibration``) moves its wells, and the robot
travels clear of where the labware now stands: an offset that raises the tallest labware
raises the height the pipettes travel at, as in Opentrons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, traced_run

from protocol_api.labware_definitions import get_definition

PLATE = "corning_96_wellplate_360ul_flat"
PLATE_HEIGHT = get_definition(PLATE)["dimensions"]["zDimension"]
RAISED = 90.0  # a plate on a stand the definitions do not know: above the fixed trash


def lowest_travel(path: Path) -> tuple[float, list[dict[str, Any]]]:
    """The lowest height (deck z) the right nozzle was at during a move that went across
    the deck (X or Y changing), and the run record."""
    run, trace = traced_run(path)
    mount = run.config.mount("right")
    lowest = min(min(start[mount.z_axis], end[mount.z_axis]) + mount.offset[2]
                 for kind, start, end in trace if kind == "move"
                 and (abs(start["X"] - end["X"]) > 1e-6 or abs(start["Y"] - end["Y"]) > 1e-6))
    return lowest, list(run.record.events)


@pytest.mark.parametrize("api, call", [("2.13", "plate.set_offset(0, 0, {z})"),
                                       ("2.13", "plate.set_calibration(Point(0, 0, {z}))"),
                                       ("2.18", "plate.set_offset(0, 0, {z})")])
def test_a_plate_raised_by_an_offset_is_travelled_over(tmp_path: Path, api: str,
                                                       call: str) -> None:
    path = protocol_file(tmp_path, f"""
from opentrons.types import Point
left = ctx.load_labware("{PLATE}", 1)
plate = ctx.load_labware("{PLATE}", 2)
right = ctx.load_labware("{PLATE}", 3)
p = ctx.load_instrument("p300_single_gen2", "right")
p.move_to(left["A1"].top())
{call.format(z=RAISED)}
p.move_to(right["A12"].top())
p.move_to(left["H1"].top())
""", api=api)
    lowest, events = lowest_travel(path)
    top = PLATE_HEIGHT + RAISED
    assert lowest >= top + 1.0, (lowest, top)
    offsets = [e for e in events if e.get("type") == "setLabwareOffset"]
    assert [(o["params"]["slot"], list(o["params"]["offset"]), o["params"]["highest_z"])
            for o in offsets] == [("2", [0.0, 0.0, RAISED], pytest.approx(top))]

