"""Travel over a module's labware clears what Opentrons clears: the labware's top plus
the module definition's ``overLabwareHeight`` (a magnetic module's 4.052 mm), at every
apiLevel (Opentrons 8's ``GeometryView._get_highest_z_from_labware_data``; before 2.14
its deck's ``highest_z`` through ``ModuleGeometry.highest_z``), plus its 10 mm margin.
``Labware.highest_z`` counts that height from apiLevel 2.14, as Opentrons' does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, traced_run

from protocol_api.execute import open_context
from protocol_api.labware_definitions import get_definition, read_json

DEEP = "nest_96_wellplate_2ml_deep"  # on a magnetic module, taller than the module itself
PLATE = "corning_96_wellplate_360ul_flat"
ARC_MARGIN_MM = 10.0  # Opentrons' margin over the highest obstacle between labware
OVER_MAGNETS = 4.052  # overLabwareHeight of both magnetic modules' definitions


def nozzle_travel(path: Path) -> tuple[float, list[dict[str, Any]]]:
    """The lowest the right nozzle (no tip) went while moving across the deck, and the
    run record."""
    run, trace = traced_run(path)
    mount = run.config.mount("right")
    lowest = min(min(start[mount.z_axis], end[mount.z_axis]) + mount.offset[2]
                 for kind, start, end in trace if kind == "move"
                 and (abs(start["X"] - end["X"]) > 1e-6 or abs(start["Y"] - end["Y"]) > 1e-6))
    return lowest, list(run.record.events)


def queued(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["params"] for e in events
            if e["event"] == "command" and e["status"] == "queued" and e["type"] == kind]


def comments(events: list[dict[str, Any]]) -> list[str]:
    return [params["message"] for params in queued(events, "comment")]


@pytest.mark.parametrize(("api", "name"), [("2.13", "magdeck"),
                                           ("2.13", "magnetic module gen2"),
                                           ("2.15", "magnetic module"),
                                           ("2.20", "magnetic module gen2")])
def test_the_tip_travels_clear_of_the_magnets_above_a_deep_well_plate(
        tmp_path: Path, api: str, name: str) -> None:
    # The deep-well plate's top (123.25) is above the module's own (110.152); the module
    # reaches 4.052 mm higher still, which Opentrons clears by 10 mm: labrun travelled
    # at 133.25, 4 mm lower than Opentrons would.
    path = protocol_file(tmp_path, f"""
mag = ctx.load_module({name!r}, 1)
deep = mag.load_labware("{DEEP}")
plate = ctx.load_labware("{PLATE}", 2)
p = ctx.load_instrument("p300_single_gen2", "right")
ctx.comment(f"highest_z {{deep.highest_z:.3f}} top {{deep.calibrated_offset.z:.3f}}")
p.move_to(plate["A1"].top())
p.move_to(deep["A1"].top())
p.move_to(plate["H12"].top())
""", api=api)
    lowest, events = nozzle_travel(path)
    height = get_definition(DEEP)["dimensions"]["zDimension"]
    [said] = comments(events)
    bare = float(said.split(" top ")[1]) + height
    clearance = bare + OVER_MAGNETS
    assert lowest >= clearance + ARC_MARGIN_MM - 1e-6, (lowest, clearance)
    # Opentrons' Labware.highest_z: with the magnets' height from apiLevel 2.14 (the
    # engine's), the bare top before (the legacy core adds it in the deck's highest_z).
    shown = clearance if api >= "2.14" else bare
    assert said.startswith(f"highest_z {shown:.3f} ")
    loads = {p["load_name"]: p["highest_z"] for p in queued(events, "loadLabware")}
    assert loads[DEEP] == pytest.approx(clearance)
    assert loads[PLATE] == pytest.approx(get_definition(PLATE)["dimensions"]["zDimension"])


def test_a_plate_moved_onto_the_magnets_and_off_again_is_travelled_over_as_it_stands(
        tmp_path: Path) -> None:
    path = protocol_file(tmp_path, f"""
mag = ctx.load_module("magnetic module gen2", 1)
deep = ctx.load_labware("{DEEP}", 3)
plate = ctx.load_labware("{PLATE}", 2)
p = ctx.load_instrument("p300_single_gen2", "right")
ctx.move_labware(deep, mag)
ctx.comment(f"{{deep.calibrated_offset.z:.3f}}")
p.move_to(plate["A1"].top())
p.move_to(deep["A1"].top())
ctx.move_labware(deep, 3)
""", api="2.16")
    lowest, events = nozzle_travel(path)
    height = get_definition(DEEP)["dimensions"]["zDimension"]
    [said] = comments(events)
    clearance = float(said) + height + OVER_MAGNETS
    assert lowest >= clearance + ARC_MARGIN_MM - 1e-6, (lowest, clearance)
    moved = [p["highest_z"] for p in queued(events, "moveLabware")]
    assert moved == [pytest.approx(clearance), pytest.approx(height)]


@pytest.mark.parametrize("model", ["temperatureModuleV1", "temperatureModuleV2",
                                   "magneticModuleV1", "magneticModuleV2",
                                   "thermocyclerModuleV1", "thermocyclerModuleV2",
                                   "heaterShakerModuleV1"])
def test_every_module_adds_its_definitions_height_over_labware(model: str) -> None:
    # The same rule for every module, as Opentrons': only the magnetic modules' is not 0.
    over = read_json(f"module/definitions/3/{model}.json")["dimensions"]["overLabwareHeight"]
    with open_context(api_version=(2, 15)) as ctx:
        slot = None if model.startswith("thermocycler") else 1
        plate = ctx.load_module(model, slot).load_labware(
            "nest_96_wellplate_100ul_pcr_full_skirt")
        top = plate.calibrated_offset.z + plate.definition["dimensions"]["zDimension"]
        assert plate.highest_z == pytest.approx(top + over)
        assert plate.clearance_top == plate.highest_z
