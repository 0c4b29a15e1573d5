"""The plunger moves with a tip down only for the protocol's liquid, by the volume the
record says: traced on the simulated robot, for every example and for blow-outs, homes
and air gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file, traced_run
from motion_trace import plunger_strokes

from engine.run import Run
from protocol_api.labware_definitions import get_definition

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))
BLOW_OUTS = """
tips = ctx.load_labware('opentrons_96_tiprack_300ul', 1)
plate = ctx.load_labware('corning_96_wellplate_360ul_flat', 2)
p = ctx.load_instrument('p300_single_gen2', 'right', tip_racks=[tips])
p.transfer(60, plate.wells()[:4], plate.wells()[8:12], blow_out=True, air_gap=10,
           new_tip='once')
p.distribute(20, plate['A1'], plate.columns()[3], disposal_volume=15)
p.pick_up_tip()
p.aspirate(40, plate['A2'])
p.blow_out()
p.home()
p.aspirate(30, plate['A3'])
p.air_gap(5)
p.dispense(35, plate['A4'], push_out=5)
p.aspirate(20, plate['A5'])
p.dispense(20, plate['A6'])
p.blow_out()
p.aspirate(20, plate['A7'].top(2))
p.dispense(20, plate['A8'])
p.drop_tip()
"""
PLATE_TOP = get_definition("corning_96_wellplate_360ul_flat")["dimensions"]["zDimension"]
# Commands that move the plunger with the tip down for another reason than liquid:
# picking a tip up and ejecting one.
TIP_HANDLING = {"pickUpTip", "dropTip"}


def traced_strokes(path: Path) -> tuple[dict[int, tuple[dict[str, Any], list[float]]], Run]:
    run, trace = traced_run(path)
    low = run.engine.model.safe_height() - 1.0
    return plunger_strokes(run.config, trace, low), run


@pytest.mark.parametrize("source", [*EXAMPLES, "blow-outs"],
                         ids=[*(p.stem for p in EXAMPLES), "blow-outs"])
def test_the_plunger_moves_in_a_well_only_by_the_recorded_volumes(
        tmp_path: Path, source: Path | str) -> None:
    path = protocol_file(tmp_path, BLOW_OUTS) if source == "blow-outs" else source
    strokes, run = traced_strokes(path)
    model = run.engine.model
    checked = pushes = prepared = 0
    went: dict[str, Any] = {}  # the last move's params
    for event, moved in strokes.values():
        kind, params = event["type"], event.get("params", {})
        if kind == "moveTo":
            went = params
        if kind in TIP_HANDLING or not moved:
            continue
        if kind == "prepareToAspirate":  # out of the liquid: at the top of the well or above
            assert went["point"][2] >= PLATE_TOP - 1e-6, (event, went)
            prepared += 1
            continue
        ul_per_mm = model.pipette(params["mount"]).spec.ul_per_mm
        microlitres = [round(stroke * ul_per_mm, 3) for stroke in moved]
        if kind == "aspirate":
            assert microlitres == [round(params["volume"], 3)], (event, microlitres)
        elif kind == "dispense":  # and its push-out past empty, if any
            assert all(ul < 0 for ul in microlitres), (event, microlitres)
            assert -sum(microlitres) <= params["volume"] + params["push_out"] + 1e-3, event
            pushes += params["push_out"] > 0 and microlitres[-1] == -params["push_out"]
        elif kind == "blowOut":
            assert len(microlitres) == 1 and microlitres[0] < 0, (event, microlitres)
        else:
            raise AssertionError(f"{kind} moved the plunger with the tip down: {microlitres}")
        checked += 1
    assert checked > 0
    assert pushes == (source == "blow-outs")  # the push-out went 5 µL past empty
    if source == "blow-outs":
        # three in the transfer, after the home, after the push-out, 2 mm above A7
        assert prepared == 6


@pytest.mark.parametrize(("api", "extra", "refused"), [
    ("2.16", "", None),
    ("2.16", "p.aspirate(10, plate['A1'])\n", "the tip holds 10 µL"),
    ("2.15", "", "prepare_to_aspirate"),
])
def test_prepare_to_aspirate_moves_the_plunger_where_the_tip_is(
        tmp_path: Path, api: str, extra: str, refused: str | None) -> None:
    # Opentrons' pre-wetting pattern: blow out above the well, prepare there, go down and
    # aspirate without leaving the well.
    body = ("tips = ctx.load_labware('opentrons_96_tiprack_300ul', 1)\n"
            "plate = ctx.load_labware('corning_96_wellplate_360ul_flat', 2)\n"
            "p = ctx.load_instrument('p300_single_gen2', 'right', tip_racks=[tips])\n"
            "p.pick_up_tip()\np.aspirate(50, plate['A1'])\np.blow_out(plate['A1'])\n"
            + extra + "p.prepare_to_aspirate()\np.move_to(plate['A1'].bottom(2))\n"
            "p.aspirate(10, plate['A1'].bottom(2))")
    path = protocol_file(tmp_path, body, api)
    if refused is not None:
        result = simulate_file(path).record.events[-1]
        assert result["status"] == "failed" and refused in result["error"], result
        assert result["location"] == f"{path}:{11 + extra.count(chr(10))}"
        return
    run, trace = traced_run(path)
    # the last aspirate: no move of its own (no lift out of the well), one stroke
    kinds: dict[int, str] = {}
    moves: list[dict[str, float]] = []
    last: list[dict[str, float]] = []  # the moves of the last aspirate
    for kind, first, second in trace:
        if kind == "event" and first["event"] == "command":
            if first["status"] == "queued":
                kinds[first["id"]] = first["type"]
            elif first["status"] == "started":
                moves = []
            elif first["status"] == "completed" and kinds[first["id"]] == "aspirate":
                last = list(moves)
        elif kind == "move":
            moves.append({axis: second[axis] - first[axis] for axis in second
                          if second[axis] != first[axis]})
    stroke = -10 / run.engine.model.pipette("right").spec.ul_per_mm
    assert last == [{"C": pytest.approx(stroke)}]
