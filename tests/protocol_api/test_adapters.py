"""Adapters: load_adapter, labware loaded on an adapter, and where its wells end up."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import simulate_file

from protocol_api import open_context
from protocol_api.errors import LabwareCannotBeStackedError, UnsupportedAPIError
from protocol_api.labware import Labware
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Point

ADAPTER = "opentrons_96_flat_bottom_adapter"
PLATE = "nest_96_wellplate_200ul_flat"


def test_a_labware_sits_on_its_adapter_sunk_by_its_stacking_offset() -> None:
    adapter = Labware(get_definition(ADAPTER), "2", (132.5, 0.0, 0.0))
    plate_def = get_definition(PLATE)
    origin = adapter.stacked_origin(plate_def)
    # The adapter is 7.9 mm tall and the plate sinks 6.7 mm into it; the adapter's own
    # corner offset (8.5, 5.5) does not move the plate.
    assert adapter.definition["dimensions"]["zDimension"] == 7.9
    assert plate_def["stackingOffsetWithLabware"][ADAPTER]["z"] == 6.7
    assert origin == Point(132.5, 0.0, pytest.approx(1.2))
    plate = Labware(plate_def, "2", origin)
    a1 = plate_def["wells"]["A1"]
    assert plate["A1"].bottom().point == Point(
        132.5 + a1["x"], a1["y"], pytest.approx(1.2 + a1["z"]))


def test_an_adapter_not_loaded_by_a_context_refuses_labware_on_it() -> None:
    adapter = Labware(get_definition(ADAPTER), "2", (132.5, 0.0, 0.0))
    with pytest.raises(UnsupportedAPIError, match="not loaded by a protocol context"):
        adapter.load_labware(PLATE)


PROTOCOL = f"""
metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    adapter = ctx.load_adapter("{ADAPTER}", 1)
    plate = adapter.load_labware("{PLATE}")
    other = ctx.load_labware("{PLATE}", 2, adapter="{ADAPTER}")
    assert plate.parent is adapter and adapter.parent == "1"
    assert ctx.deck["1"] is adapter and other.parent.load_name == "{ADAPTER}"
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], other["B1"])
"""


def test_a_protocol_loads_and_pipettes_from_labware_on_adapters(tmp_path: Path) -> None:
    path = tmp_path / "adapters.py"
    path.write_text(textwrap.dedent(PROTOCOL), encoding="utf-8")
    run = simulate_file(path)
    summary = run.record.events[-1]
    assert summary["status"] == "succeeded", summary
    wells = [e.command.params()["well"] for e in run.engine.entries
             if e.command.kind in ("aspirate", "dispense")]
    assert wells == ["1/A1", "2/B1"]


@pytest.mark.parametrize(("level", "call", "message"), [
    ("2.15", f'ctx.load_labware("{ADAPTER}", 1)',
     f"{ADAPTER} is not defined as a normal labware; load it with load_adapter"),
    ("2.15", f'ctx.load_adapter("{ADAPTER}", 1).load_labware("{ADAPTER}")',
     f"{ADAPTER} is not defined as a normal labware; load it with load_adapter"),
    ("2.15", f'ctx.load_module("temperature module gen2", 1).load_labware("{ADAPTER}")',
     f"{ADAPTER} is not defined as a normal labware; load it with load_adapter"),
    ("2.15", f'ctx.load_adapter("{PLATE}", 1)', f"{PLATE} is not an adapter; load it with "
                                               "load_labware"),
    ("2.14", f'ctx.load_labware("{ADAPTER}", 1)',  # load_adapter comes with 2.15
     f"{ADAPTER} is not defined as a normal labware; load it with load_adapter, from "
     "apiLevel 2.15"),
])
def test_a_definition_loads_only_in_a_role_it_allows(tmp_path: Path, level: str, call: str,
                                                      message: str) -> None:
    # As Opentrons from apiLevel 2.14: an adapter loaded as a labware ran here.
    path = tmp_path / "roles.py"
    path.write_text(f'metadata = {{"apiLevel": "{level}"}}\n\ndef run(ctx):\n    {call}\n')
    summary = simulate_file(path).record.events[-1]
    assert (summary["status"], summary["error"], summary["location"]) == (
        "failed", message, f"{path}:4")


PCR = "nest_96_wellplate_100ul_pcr_full_skirt"  # its version 4 sits on itself too
PCR200 = "opentrons_96_wellplate_200ul_pcr_full_skirt"  # its version 4 too, 4 high
CORNING = "corning_96_wellplate_360ul_flat"


@pytest.mark.parametrize(("calls", "message"), [
    ([f'ctx.load_adapter("{ADAPTER}", 1).load_labware("{CORNING}")'],
     f"{CORNING} cannot be loaded onto {ADAPTER}: it sits only on "
     "opentrons_aluminum_flat_bottom_plate, opentrons_universal_flat_adapter "
     "(stackingOffsetWithLabware)"),
    ([f'ctx.load_labware("{CORNING}", 1, adapter="opentrons_96_well_aluminum_block")'],
     f"{CORNING} cannot be loaded onto opentrons_96_well_aluminum_block: it sits only on "),
    ([f'ctx.load_labware("opentrons_96_tiprack_300ul", 1).load_labware("{CORNING}")'],
     f"{CORNING} cannot be loaded onto opentrons_96_tiprack_300ul: "),
    ([f'ctx.load_module("temperature module gen2", 1).load_labware("{PCR}", version=4)'
      f'.load_labware("{PCR}", version=4)'],
     f"{PCR} cannot be loaded onto {PCR}, a labware on the Temperature Module GEN2: only an "
     "adapter there holds a labware"),
    ([f'a = ctx.load_labware("{PCR}", 1, version=4)',
      f'a.load_labware("{PCR}", version=4).load_labware("{PCR}", version=4)'],
     f"{PCR} cannot be loaded onto {PCR}, which is already stacked on {PCR}: 2 labware in "
     "the stack, adapters aside, and its stackLimit is 1"),
    ([f'ctx.load_adapter("opentrons_96_pcr_adapter", 1).load_labware("{PCR200}", version=4)'
      f'.load_labware("{PCR200}", version=4)'],  # a stack limit of 4 is not what stops it
     f"{PCR200} cannot be loaded onto {PCR200}, which sits on the adapter "
     "opentrons_96_pcr_adapter"),
    ([f'a = ctx.load_labware("{PCR200}", 1, version=4)',
      f'b = a.load_labware("{PCR200}", version=4).load_labware("{PCR200}", version=4)',
      f'b.load_labware("{PCR200}", version=4).load_labware("{PCR200}", version=4)'],
     f"{PCR200} cannot be loaded onto {PCR200}, which is already stacked on {PCR200}: 4 "
     "labware in the stack, adapters aside, and its stackLimit is 4"),  # the fifth
])
def test_a_labware_loads_only_onto_one_its_definition_sits_on(
        tmp_path: Path, calls: list[str], message: str) -> None:
    # As Opentrons: such a plate ran here, pipetted at heights no definition gives.
    path = tmp_path / "stacked.py"
    body = "".join(f"    {call}\n" for call in calls)
    path.write_text(f'metadata = {{"apiLevel": "2.15"}}\n\ndef run(ctx):\n{body}')
    summary = simulate_file(path).record.events[-1]
    assert (summary["status"], summary["location"]) == ("failed", f"{path}:{3 + len(calls)}")
    assert summary["error"].startswith(message), summary["error"]


def test_a_labware_stacks_where_its_definition_allows(tmp_path: Path) -> None:
    path = tmp_path / "stacked.py"
    path.write_text(f"""metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    block = ctx.load_module("temperature module gen2", 3).load_adapter(
        "opentrons_96_well_aluminum_block")
    on_block = block.load_labware("{PCR}", version=4)
    on_plate = ctx.load_labware("{PCR}", 2, version=4).load_labware("{PCR}", version=4)
    assert on_plate.wells()[0].top().point == (146.88, 74.24, 27.62)
    assert round(on_block.wells()[0].top().point.z, 2) == 101.21
    # As Opentrons: each slot once, where its first labware was loaded, with its top one.
    assert list(ctx.loaded_labwares.items())[1:] == [(3, on_block), (2, on_plate)]
""")
    summary = simulate_file(path).record.events[-1]
    assert summary["status"] == "succeeded", summary


def test_before_2_14_an_adapter_loads_as_a_labware_as_in_opentrons(tmp_path: Path) -> None:
    path = tmp_path / "roles.py"
    path.write_text(f'metadata = {{"apiLevel": "2.13"}}\n\ndef run(ctx):\n'
                    f'    ctx.load_labware("{ADAPTER}", 1)\n')
    assert simulate_file(path).record.events[-1]["status"] == "succeeded"


WELL_LESS = f"""
import json
metadata = {{"apiLevel": "2.13"}}

def run(ctx):  # before 2.14 an adapter loads as a labware
    definition = json.loads(json.dumps(ctx.load_labware("{ADAPTER}", 1).definition))
    definition["parameters"]["loadName"] = "lab_riser"
    definition["namespace"], definition["version"] = "lab", 7
    ctx.load_labware_from_definition(definition, 2)
"""


def test_the_record_names_the_version_of_a_standard_labware_only(tmp_path: Path) -> None:
    """A reader draws a standard labware from its load name and version; a custom one,
    even with no wells to draw (an adapter), has its wells and no version."""
    path = tmp_path / "riser.py"
    path.write_text(textwrap.dedent(WELL_LESS), encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    loads = {e.command.params()["load_name"]: e.command.params() for e in run.engine.entries
             if e.command.kind == "loadLabware"}
    assert (loads[ADAPTER]["version"], loads[ADAPTER]["wells"]) == (
        get_definition(ADAPTER)["version"], None)
    assert (loads["lab_riser"]["version"], loads["lab_riser"]["wells"]) == (None, {})


@pytest.mark.parametrize(("offsets", "sits_on"), [
    ({"default": {"x": 0, "y": 0, "z": 3}}, True),
    ({"default": {"x": 0, "y": 0, "z": 3}, "other_adapter": {"x": 0, "y": 0, "z": 9}}, True),
    ({"other_adapter": {"x": 0, "y": 0, "z": 3}}, False),
])
def test_a_default_stacking_offset_admits_any_labware_and_sinks_it_as_named_one_would(
        offsets: dict[str, Any], sits_on: bool) -> None:
    # As Opentrons: "default" stands for any labware below, and says how far it sinks in.
    with open_context(api_version=(2, 15)) as ctx:
        definition = copy.deepcopy(get_definition(PCR, version=2))
        definition["parameters"]["loadName"] = "lab_pcr_plate"
        definition["namespace"] = "custom_beta"
        adapter = ctx.load_adapter("opentrons_96_pcr_adapter", 1)
        named = dict(definition, stackingOffsetWithLabware={
            "opentrons_96_pcr_adapter": {"x": 0, "y": 0, "z": 3}})
        expected = adapter.stacked_origin(named)
        definition["stackingOffsetWithLabware"] = offsets
        if not sits_on:
            with pytest.raises(LabwareCannotBeStackedError, match="it sits only on "
                               "other_adapter"):
                adapter.load_labware_from_definition(definition)
            return
        plate = adapter.load_labware_from_definition(definition)
        assert adapter.stacked_origin(definition) == expected
        assert plate["A1"].top().point == Labware(named, "1", expected)["A1"].top().point


def test_a_lid_goes_on_a_plate_on_a_module_or_an_adapter_as_in_opentrons(
        tmp_path: Path) -> None:
    # Opentrons refuses a labware on a labware that sits on a module or an adapter, but
    # not a lid (allowedRoles "lid"): a plate is covered where it stands.
    path = tmp_path / "lids.py"
    path.write_text("""from opentrons.protocol_api import OFF_DECK

metadata = {"apiLevel": "2.20"}

def run(ctx):
    module = ctx.load_module("temperature module gen2", 3)
    plate = module.load_labware("corning_96_wellplate_360ul_flat")
    lid = plate.load_labware("corning_96_wellplate_360ul_lid")
    assert plate.child is lid and lid.parent is plate
    block = ctx.load_module("temperature module gen2", 1).load_adapter(
        "opentrons_96_well_aluminum_block")
    pcr = block.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt")
    seal = pcr.load_labware("opentrons_tough_pcr_auto_sealing_lid")
    assert seal.parent is pcr and seal.highest_z > pcr.highest_z
    ctx.move_labware(lid, OFF_DECK)
    try:
        plate.load_labware("stacks_on_any_96_plate")  # stacks on any labware
    except Exception as error:  # but is no lid
        assert "only an adapter there holds a labware" in str(error), error
    else:
        raise AssertionError("a plate went onto a plate on a module")
""")
    # A plate whose definition stacks it on any labware (Opentrons' newer definitions
    # have some, such as millipore_96_wellplate_400ul; the 8.8 package Python 3.13
    # installs has none): written here, so that the test runs on every Python.
    stacking = copy.deepcopy(get_definition("corning_96_wellplate_360ul_flat"))
    stacking["parameters"]["loadName"] = "stacks_on_any_96_plate"
    stacking["namespace"] = "custom_beta"
    stacking["stackingOffsetWithLabware"] = {"default": {"x": 0, "y": 0, "z": 0}}
    (tmp_path / "labware").mkdir()
    (tmp_path / "labware" / "stacks_on_any_96_plate.json").write_text(json.dumps(stacking))
    summary = simulate_file(path, labware_dirs=[str(tmp_path / "labware")]).record.events[-1]
    assert summary["status"] == "succeeded", summary


def test_a_definition_with_a_broken_stacking_offset_is_refused_at_its_load(
        tmp_path: Path) -> None:
    plate = copy.deepcopy(get_definition(PLATE))
    plate["parameters"]["loadName"] = "my_plate"
    plate["stackingOffsetWithLabware"] = {ADAPTER: {"x": None, "y": 0, "z": 6.7}}
    path = tmp_path / "broken.py"
    path.write_text(f"""metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    adapter = ctx.load_adapter("{ADAPTER}", 2)
    adapter.load_labware_from_definition({plate!r})
""")
    summary = simulate_file(path).record.events[-1]
    assert (summary["status"], summary["error"], summary["location"]) == (
        "failed", f"labware definition: stackingOffsetWithLabware.{ADAPTER}.x: missing",
        f"{path}:5")


@pytest.mark.parametrize("level", ["2.0", "2.13", "2.14", "2.20"])
def test_a_definition_the_protocol_gave_is_found_by_its_name_later_as_in_opentrons(
        tmp_path: Path, level: str) -> None:
    """Opentrons (8.8.2, at every apiLevel: its older core as its engine) keeps a
    definition given to load_labware_from_definition, and a later load_labware of its
    load name loads it; labrun said "no labware definition named 'my_plate'" below
    apiLevel 2.14."""
    plate = copy.deepcopy(get_definition(PLATE))
    plate["parameters"]["loadName"] = "my_plate"
    plate["namespace"] = "custom_beta"
    path = tmp_path / "given.py"
    path.write_text(f"""metadata = {{"apiLevel": "{level}"}}

def run(ctx):
    first = ctx.load_labware_from_definition({plate!r}, 1)
    second = ctx.load_labware("my_plate", 2)
    assert second.uri == first.uri == "custom_beta/my_plate/{plate['version']}"
""")
    summary = simulate_file(path).record.events[-1]
    assert summary["status"] == "succeeded", summary
