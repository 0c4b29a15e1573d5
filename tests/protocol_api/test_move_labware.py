"""Moves of labware by hand: ``ctx.move_labware`` and labware loaded ``OFF_DECK``.

The figures of where wells land are Opentrons 8.8.2's simulator's, for the same protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import ScriptedRun, protocol_file, simulate_file

from engine import commands as c
from engine.state import Status
from protocol_api import OFF_DECK, open_context
from protocol_api.errors import (
    LabwareMovementNotAllowedError,
    LabwareOffDeckError,
    ProtocolError,
)
from protocol_api.execute import continue_when_stalled
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Point

PLATE = "corning_96_wellplate_360ul_flat"
NEST = "nest_96_wellplate_200ul_flat"
ADAPTER = "opentrons_96_flat_bottom_adapter"
SET_UP = f"""
tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
plate = ctx.load_labware("{PLATE}", 2)
p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
"""


def _events(path: Path) -> list[dict[str, Any]]:
    return list(simulate_file(path).record.events)


def test_a_moved_plate_is_pipetted_where_it_now_stands(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, SET_UP + """
p300.pick_up_tip()
p300.aspirate(10, plate["A1"])
ctx.move_labware(plate, 5)
assert plate.parent == "5" and ctx.deck["5"] is plate and ctx.deck["2"] is None
p300.dispense(10, plate["A1"])
""", api="2.20")
    events = _events(path)
    assert events[-1]["status"] == "succeeded", events[-1]
    queued = [e for e in events if e["event"] == "command" and e["status"] == "queued"]
    moves = [e["params"] for e in queued if e["type"] == "moveTo"]
    liquid = [(e["type"], e["params"]["well"]) for e in queued
              if e["type"] in ("aspirate", "dispense")]
    assert liquid == [("aspirate", "2/A1"), ("dispense", "5/A1")]
    # A1 of the plate in slot 5, as Opentrons has it: x 146.88, y 164.74 (top 14.22)
    assert moves[-1]["point"][:2] == (146.88, 164.74)
    # The totals follow the plate: its A1 gave 10 µL in slot 2 and got them back in 5.
    assert events[-1]["well_volumes_ul"] == {"5/A1": 0.0}


def test_the_run_s_totals_name_each_well_where_its_labware_ended_up(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, SET_UP + f"""
other = ctx.load_labware("{NEST}", 3)
p300.transfer(10, plate["A1"], other["B1"])
ctx.move_labware(plate, OFF_DECK)
ctx.move_labware(other, 2)
p300.transfer(5, other["B1"], other["C1"])
""", api="2.20")
    path.write_text("from opentrons.protocol_api import OFF_DECK\n" + path.read_text())
    summary = _events(path)[-1]
    assert summary["status"] == "succeeded", summary
    # the plate is the run's third labware (the fixed trash, the tips, the plate)
    assert summary["well_volumes_ul"] == {"offDeck-2/A1": -10.0, "2/B1": 5.0, "2/C1": 5.0}


def test_the_run_pauses_for_a_person_saying_what_to_move_where(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, SET_UP + "ctx.move_labware(plate, 5)", api="2.15")
    events = _events(path)
    paused = [e for e in events if e["event"] == "status" and e["status"] == "paused"]
    message = ("Move Corning 96 Well Plate 360 µL Flat from slot 2 to slot 5, then resume")
    assert [(e["pause_source"], e["pause_message"]) for e in paused] == [("protocol", message)]
    move = next(e for e in events if e.get("type") == "moveLabware")
    assert move["params"] == {
        "labware": 2, "load_name": PLATE, "display_name": PLATE, "from_slot": "2",
        "to_slot": "5", "destination": "slot 5", "highest_z": 14.22, "message": message,
        "footprint": (132.5, 90.5, 260.26, 175.97)}  # where it covers the deck in slot 5
    assert events[-1]["pauses"][0]["message"] == message


def test_the_deck_changes_only_once_a_person_resumes_the_run() -> None:
    run = ScriptedRun()
    try:
        run.play()
        run.call(c.LoadLabware("tall", "2", "tall", 120.0))
        tall_in_5 = c.MoveLabware(0, "tall", "tall", "2", "5", "slot 5", 135.0, "move it")
        outcome = run.call(tall_in_5)
        report = run.status()
        assert (report.status, report.pause_message) == (Status.PAUSED, "move it")
        assert not outcome.done.is_set()  # the protocol waits for the person
        assert run.engine.model.labware == {"2": "tall"}
        assert run.engine.model.labware_highest == 120.0
        assert run.control.resume().accepted
        run.settle()
        assert outcome.done.is_set() and outcome.error is None
        assert run.engine.model.labware == {"5": "tall"}
        assert run.engine.model.labware_highest == 135.0  # moves clear it where it now is
        off = c.MoveLabware(0, "tall", "tall", "5", c.OFF_DECK, "off the deck", 135.0, "off")
        run.call(off)
        assert run.control.resume().accepted
        run.settle()
        assert run.engine.model.labware == {}
        assert run.engine.model.labware_highest == 0.0  # gone: nothing to travel over
        run.call(c.LoadLabware("tall", "2", "tall", 120.0))
        run.call(c.RemoveLabware(1, "tall", "tall", "2", c.OFF_DECK, "off the deck", 120.0,
                                 ""))
        run.settle()
        assert run.engine.model.labware == {}
        # del ctx.deck[slot] asks no one to take it away: it may stand there still
        assert run.engine.model.labware_highest == 120.0
    finally:
        run.close()


def test_a_tall_labware_taken_off_the_deck_is_no_longer_travelled_over(
        tmp_path: Path) -> None:
    # A 150 mm box leaves the deck; the p1000 with a 1000 µL tip then works: with the box
    # there its tip cannot pass over it, and the run was refused as if it still stood.
    box = {**get_definition(PLATE), "parameters": {
        **get_definition(PLATE)["parameters"], "loadName": "tall_box"}}
    box["dimensions"] = {**box["dimensions"], "zDimension": 150.0}
    box["metadata"] = {**box["metadata"], "displayName": "Tall box"}
    box["namespace"] = "custom_beta"
    path = protocol_file(tmp_path, f"""
from opentrons.protocol_api import OFF_DECK
box = ctx.load_labware_from_definition({box!r}, 3)
tips = ctx.load_labware("opentrons_96_tiprack_1000ul", 1)
plate = ctx.load_labware("{PLATE}", 2)
p = ctx.load_instrument("p1000_single_gen2", "right", tip_racks=[tips])
ctx.move_labware(box, OFF_DECK)
p.pick_up_tip()
p.aspirate(100, plate["A1"])
p.dispense(100, plate["A2"])
p.drop_tip()
""", api="2.20")
    events = _events(path)
    assert events[-1]["status"] == "succeeded", events[-1].get("error")


@pytest.mark.parametrize(("body", "point"), [
    # onto a temperature module, an adapter, an open heater-shaker's adapter, into an open
    # thermocycler: where Opentrons 8.8.2 puts the plate's A1 top
    ('tm = ctx.load_module("temperature module gen2", 3)\nctx.move_labware(plate, tm)\n'
     'assert tm.labware is plate and plate.parent is tm\nwell = plate["A1"]',
     (280.53, 74.09, 94.31)),
    (f'ad = ctx.load_adapter("{ADAPTER}", 6)\nnest = ctx.load_labware("{NEST}", 7)\n'
     f'ctx.move_labware(nest, ad)\nassert nest.parent is ad and ad.child is nest\n'
     f'assert ctx.deck["7"] is None and ctx.loaded_labwares[6] is nest\nwell = nest["A1"]',
     (279.28, 164.68, 15.5)),
    (f'hs = ctx.load_module("heaterShakerModuleV1", 10)\n'
     f'ad = hs.load_adapter("{ADAPTER}")\nnest = ctx.load_labware("{NEST}", 7)\n'
     f'hs.open_labware_latch()\nctx.move_labware(nest, ad)\nhs.close_labware_latch()\n'
     f'well = nest["A1"]',
     (14.155, 346.805, 83.775)),
    ('tc = ctx.load_module("thermocyclerModuleV2")\ntc.open_lid()\n'
     'ctx.move_labware(plate, tc)\nassert tc.labware is plate\nwell = plate["A1"]',
     (14.38, 324.04, 112.48)),
    ('pcr = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", OFF_DECK)\n'
     'assert pcr.parent is OFF_DECK and 4 not in ctx.loaded_labwares\n'
     'ctx.move_labware(pcr, 4)\nassert ctx.loaded_labwares[4] is pcr\nwell = pcr["A1"]',
     (14.38, 164.74, 15.7)),
])
def test_a_labware_moved_onto_a_module_an_adapter_or_the_deck_is_where_opentrons_has_it(
        tmp_path: Path, body: str, point: tuple[float, float, float]) -> None:
    path = protocol_file(tmp_path, "from opentrons.protocol_api import OFF_DECK\n" + SET_UP
                         + body + "\np300.pick_up_tip()\np300.move_to(well.top())", api="2.20")
    events = _events(path)
    assert events[-1]["status"] == "succeeded", events[-1]
    last = [e["params"] for e in events
            if e.get("type") == "moveTo" and e["status"] == "queued"][-1]
    assert last["point"] == pytest.approx(point)


def test_a_labware_off_the_deck_has_no_place_to_pipette() -> None:
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        plate = ctx.load_labware(PLATE, 2)
        ctx.move_labware(plate, OFF_DECK)
        assert plate.parent is OFF_DECK and 2 not in ctx.loaded_labwares
        assert str(plate["A1"]) == "A1 of Corning 96 Well Plate 360 µL Flat on [off-deck]"
        with pytest.raises(LabwareOffDeckError, match=(
                "bottom: A1 of Corning 96 Well Plate 360 µL Flat has no place: the labware "
                r"is off the deck; move it onto the deck first \(ctx.move_labware\)")):
            plate["A1"].bottom()
        ctx.move_labware(plate, 3)
        assert plate["A1"].top().point == Point(279.38, 74.24, 14.22)


LATCH = (f'hs = ctx.load_module("heaterShakerModuleV1", 10)\n'
         f'ad = hs.load_adapter("{ADAPTER}")\n')


@pytest.mark.parametrize(("level", "body", "message"), [
    ("2.14", "ctx.move_labware(plate, 5)",
     "ProtocolContext.move_labware needs apiLevel 2.15 or later; this protocol's apiLevel "
     "is 2.14"),
    ("2.14", f'ctx.load_labware("{NEST}", OFF_DECK)',
     "loading a labware OFF_DECK needs apiLevel 2.15 or later"),
    ("2.20", "ctx.move_labware(plate, 5, use_gripper=True)",
     "move_labware: an OT-2 has no gripper (use_gripper=True is a Flex's)"),
    ("2.20", "ctx.move_labware(plate, 1)",
     "move_labware: slot 1 already holds Opentrons OT-2 96 Tip Rack 300 µL"),
    ("2.20", "ctx.move_labware(plate, 2)",
     "move_labware: slot 2 already holds Corning 96 Well Plate 360 µL Flat"),
    ("2.20", "ctx.move_labware(plate, plate)",
     "move_labware: Corning 96 Well Plate 360 µL Flat cannot go onto itself"),
    ("2.20", "ctx.move_labware(ctx.fixed_trash, 5)",
     "move_labware: expected a labware that load_labware loaded, not the fixed trash"),
    ("2.20", "ctx.move_labware('plate', 5)",
     "move_labware: expected a labware that load_labware loaded, not 'plate'"),
    ("2.20", f'ctx.move_labware(ctx.load_labware("{NEST}", 7), plate)',
     f"move_labware: {NEST} cannot be loaded onto {PLATE}: it sits only on "),
    ("2.20", "ctx.move_labware(plate, ctx.fixed_trash)",
     "move_labware: only tips (and lids) go into the trash; a labware moved away by hand "
     "goes OFF_DECK"),
    ("2.20", 'pcr = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 3, version=4)\n'
             'top = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)\n'
             'below = pcr["A1"].bottom(1)\nctx.move_labware(top, pcr)\np300.pick_up_tip()\n'
             'p300.aspirate(10, below)',  # as Opentrons: the location is made, not used
     "aspirate: NEST 96 Well Plate 100 µL PCR Full Skirt is out of reach: NEST 96 Well Plate "
     "100 µL PCR Full Skirt is stacked on it; move that one first"),
    ("2.20", 'pcr = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 3, version=4)\n'
             'top = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)\n'
             'p300.pick_up_tip()\np300.aspirate(10, pcr["A1"])\nctx.move_labware(top, pcr)\n'
             'p300.dispense(10)',
     "dispense: no location given, and NEST 96 Well Plate 100 µL PCR Full Skirt, where the "
     "pipette last went, is out of reach: NEST 96 Well Plate 100 µL PCR Full Skirt is "
     "stacked on it; give a location"),
    ("2.20", 'tc = ctx.load_module("thermocyclerModuleV2")\ntc.open_lid()\n'
             'ctx.move_labware(plate, tc)\nold = plate["A1"].bottom(1)\n'
             'ctx.move_labware(plate, 5)\ntc.close_lid()\np300.pick_up_tip()\n'
             'p300.aspirate(10, old.move(Point(0, 0, 1)))',  # Opentrons goes into the lid
     "aspirate: the location (14.38, 324.04, 103.81) in A1 of Corning 96 Well Plate 360 µL "
     "Flat was made before the labware was moved by hand, and points where it stood; make "
     "it again after the move"),
    ("2.20", 'del ctx.deck["2"]\np300.pick_up_tip()\np300.aspirate(10, plate["A1"])',
     "aspirate: A1 of Corning 96 Well Plate 360 µL Flat has no place: the labware is off the "
     "deck"),
    ("2.20", 'ctx.move_labware(plate, OFF_DECK)\nplate.set_offset(1, 2, 3)',
     "set_offset: Corning 96 Well Plate 360 µL Flat is off the deck; an offset is for a "
     "place on the deck"),
    ("2.20", f'ad = ctx.load_adapter("{ADAPTER}", 6)\nad.load_labware("{NEST}")\n'
             'ctx.move_labware(ad, 8)',
     "move_labware: Opentrons 96 Flat Bottom Heater-Shaker Adapter holds NEST 96 Well Plate "
     "200 µL Flat; move that one first"),
    ("2.20", 'tc = ctx.load_module("thermocyclerModuleV2")\nctx.move_labware(plate, tc)',
     "move_labware: no labware goes onto or off Thermocycler Module GEN2 (slot 7) while its "
     "lid is not known to be open (the protocol has not called open_lid(), though it may "
     "stand open); open it with open_lid() first"),
    ("2.20", LATCH + f'ctx.move_labware(ctx.load_labware("{NEST}", 7), ad)',
     "move_labware: no labware goes onto or off Heater-Shaker Module GEN1 (slot 10) while its "
     "labware latch is not known to be open (the protocol has not called "
     "open_labware_latch(), though it may stand open); open it with open_labware_latch() "
     "first"),
    ("2.20", LATCH + f'nest = ad.load_labware("{NEST}")\nhs.close_labware_latch()\n'
                     'ctx.move_labware(nest, 7)',  # off the heater-shaker, through the adapter
     "move_labware: no labware goes onto or off Heater-Shaker Module GEN1 (slot 10) while its "
     "labware latch is closed; open it with open_labware_latch() first"),
    ("2.20", "ctx.move_labware(plate, 5, drop_offset={'x': 1})",
     "move_labware: drop_offset must be a dict of numbers for x, y and z"),
    ("2.20", 'ctx.move_labware(plate, OFF_DECK)\np300.pick_up_tip()\n'
             'p300.aspirate(10, plate["A1"])',
     "aspirate: A1 of Corning 96 Well Plate 360 µL Flat has no place: the labware is off the "
     "deck"),
    # The protocol's own call is named, not the top() or bottom() of the well it went to
    # (Opentrons 8.8.2 fails on each too: "Cannot get ancestor slot of location offDeck").
    ("2.20", 'ctx.move_labware(plate, OFF_DECK)\np300.pick_up_tip()\n'
             'with ctx.step("mixing"):\n    p300.mix(2, 10, plate["A1"])',
     "mix: A1 of Corning 96 Well Plate 360 µL Flat has no place: the labware is off the "
     "deck; move it onto the deck first (ctx.move_labware)"),
    ("2.20", 'ctx.move_labware(plate, OFF_DECK)\np300.pick_up_tip()\n'
             'p300.transfer(10, plate["A1"], plate["A2"], new_tip="never")',
     "transfer: A1 of Corning 96 Well Plate 360 µL Flat has no place"),
    ("2.20", 'ctx.move_labware(tips, OFF_DECK)\np300.pick_up_tip()',
     "pick_up_tip: the next tip, A1 of Opentrons OT-2 96 Tip Rack 300 µL, is in a labware "
     "that is off the deck; move it onto the deck first (ctx.move_labware)"),
    ("2.20", 'p300.pick_up_tip()\nctx.move_labware(tips, OFF_DECK)\np300.return_tip()',
     "return_tip: the tip's place, A1 of Opentrons OT-2 96 Tip Rack 300 µL, is in a labware "
     "that is off the deck; move it onto the deck first (ctx.move_labware)"),
    ("2.20", 'p300.pick_up_tip()\nctx.move_labware(tips, OFF_DECK)\np300.drop_tip(tips["B1"])',
     "drop_tip: B1 of Opentrons OT-2 96 Tip Rack 300 µL is in a labware that is off the "
     "deck"),
    ("2.20", 'p300.pick_up_tip()\np300.aspirate(10, plate["A1"])\n'
             'ctx.move_labware(plate, 5)\np300.dispense(10)',
     "dispense: no location given, and Corning 96 Well Plate 360 µL Flat, where the pipette "
     "last went, has been moved by hand since; give a location"),
])
def test_a_move_that_cannot_be_done_fails_at_its_line(tmp_path: Path, level: str, body: str,
                                                      message: str) -> None:
    # As Opentrons refuses them (the last: Opentrons dispenses where the plate was).
    head = "from opentrons.protocol_api import OFF_DECK\nfrom opentrons.types import Point\n"
    path = protocol_file(tmp_path, head + SET_UP + body, api=level)
    summary = _events(path)[-1]
    line = 4 + len((head + SET_UP + body).strip().splitlines())
    assert (summary["status"], summary["location"]) == ("failed", f"{path}:{line}")
    assert summary["error"].startswith(message), summary["error"]


def test_a_refused_move_changes_nothing() -> None:
    with open_context(api_version=(2, 20)) as ctx:
        plate = ctx.load_labware(PLATE, 2)
        tc = ctx.load_module("thermocyclerModuleV2")
        before = plate["A1"].top()
        with pytest.raises(LabwareMovementNotAllowedError):
            ctx.move_labware(plate, tc)
        assert ctx.deck["2"] is plate and tc.labware is None and plate.parent == "2"
        assert plate["A1"].top() == before
        assert not any(line.startswith("Moving") for line in ctx.commands())


def test_an_offset_is_for_a_place_and_a_labware_moved_there_takes_it() -> None:
    # As Opentrons 8.8.2 from apiLevel 2.18: by definition and place, not by object.
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        plate = ctx.load_labware(PLATE, 1)
        other = ctx.load_labware(PLATE, 3)
        plate.set_offset(1, 2, 3)
        assert plate["A1"].top().point == Point(15.38, 76.24, 17.22)
        ctx.move_labware(plate, 2)
        assert plate["A1"].top().point == Point(146.88, 74.24, 14.22)
        ctx.move_labware(plate, 1)
        assert plate["A1"].top().point == Point(15.38, 76.24, 17.22)
        ctx.move_labware(plate, 5)
        ctx.move_labware(other, 1)
        assert other["A1"].top().point == Point(15.38, 76.24, 17.22)


def test_an_offset_on_an_adapter_on_a_module_is_for_that_place_however_the_plate_came(
        ) -> None:
    # Opentrons 8.8.2: the offset set for the plate on the block is found again when the
    # plate is moved back there, and one set after a move there holds for a plate loaded
    # there later (labrun lost both: a loaded plate and a moved one were not at one place).
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        temp = ctx.load_module("temperature module gen2", 3)
        block = temp.load_adapter("opentrons_96_well_aluminum_block")
        plate = block.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt")
        plate.set_offset(x=1.0, y=2.0, z=3.0)
        assert plate["A1"].top().point == Point(281.53, 76.09, 105.34)
        ctx.move_labware(plate, OFF_DECK)
        ctx.move_labware(plate, block)
        assert plate["A1"].top().point == Point(281.53, 76.09, 105.34)
        plate.set_offset(x=0.0, y=0.0, z=1.0)
        ctx.move_labware(plate, OFF_DECK)
        fresh = block.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt")
        assert fresh["A1"].top().point == Point(280.53, 74.09, 103.34)


def test_a_plate_set_down_beside_a_heater_shaker_is_judged_by_its_height_there(
        tmp_path: Path) -> None:
    # On the heater-shaker's adapter its top is 83.8 mm high; beside it (slot 2), 14.3 mm.
    set_up = SET_UP.replace('"opentrons_96_tiprack_300ul", 1', '"opentrons_96_tiprack_300ul", 6'
                            ).replace(f'"{PLATE}", 2', f'"{PLATE}", 5')
    path = protocol_file(tmp_path, set_up + f"""
hs = ctx.load_module("heaterShakerModuleV1", 1)
ad = hs.load_adapter("{ADAPTER}")
nest = ad.load_labware("{NEST}")
hs.open_labware_latch()
ctx.move_labware(nest, 2)
""", api="2.20")
    assert _events(path)[-1]["status"] == "succeeded"


def test_the_totals_of_stacked_plates_stay_with_each_plate(tmp_path: Path) -> None:
    pcr = "nest_96_wellplate_100ul_pcr_full_skirt"
    path = protocol_file(tmp_path, f"""
from opentrons.protocol_api import OFF_DECK
x = ctx.load_labware("{pcr}", 1, version=4, label="bottom")
y = ctx.load_labware("{pcr}", 2, version=4, label="top")
tips = ctx.load_labware("opentrons_96_tiprack_20ul", 3)
p = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips])
p.pick_up_tip()
p.aspirate(10, x["A1"])
p.dispense(10, x["B1"])
p.aspirate(5, y["A1"])
p.dispense(5, y["C1"])
ctx.move_labware(y, x)
p.aspirate(2, y["C1"])
p.dispense(2, y["D1"])
ctx.move_labware(y, OFF_DECK)
p.aspirate(1, x["B1"])
p.dispense(1, x["E1"])
""", api="2.20")
    summary = _events(path)[-1]
    # y went onto x, then off the deck, uncovering x; y is the run's third labware
    assert summary["well_volumes_ul"] == {
        "1/A1": -10.0, "1/B1": 9.0, "1/E1": 1.0,
        "offDeck-2/A1": -5.0, "offDeck-2/C1": 3.0, "offDeck-2/D1": 2.0}


def test_a_location_made_before_a_move_is_good_again_once_the_labware_is_back() -> None:
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        plate = ctx.load_labware(PLATE, 2)
        p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        below = plate["A1"].bottom(1)
        ctx.move_labware(plate, 5)
        ctx.move_labware(plate, 2)  # back where it stood: the location is right again
        p300.pick_up_tip()
        p300.aspirate(10, below)
        ctx.move_labware(plate, OFF_DECK)
        with pytest.raises(LabwareOffDeckError, match=r"^aspirate: Corning 96 Well Plate 360 "
                           r"µL Flat is off the deck; move it onto the deck first"):
            p300.aspirate(10, below)


def test_labware_relative_points_are_free_and_a_plate_moved_back_is_a_place_again(
        tmp_path: Path) -> None:
    # As Opentrons: a point relative to a labware (not a well) is checked for nothing; a
    # step with no location acts where the pipette last went once the plate is back.
    path = protocol_file(tmp_path, SET_UP + f"""
from opentrons.types import Location, Point
ad = ctx.load_adapter("{ADAPTER}", 6)
ad.load_labware("{NEST}")
p300.pick_up_tip()
p300.move_to(Location(Point(300, 200, 150), ad))
p300.aspirate(20, plate["A1"])
ctx.move_labware(plate, 4)
ctx.move_labware(plate, 2)
p300.dispense(20)
""", api="2.20")
    events = _events(path)
    assert events[-1]["status"] == "succeeded", events[-1]
    assert [e["params"]["well"] for e in events if e.get("type") == "dispense"] == ["2/A1"]


def test_from_2_16_the_deck_lists_no_trash_bin_and_del_of_its_slot_does_nothing(
        tmp_path: Path) -> None:
    # As Opentrons 8.8.2: a protocol that walks the deck's labware reaches no trash bin
    # (whose wells it could not name), and del ctx.deck[12] leaves the bin where it is.
    body = ('plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)\n'
            'wells = [w for lw in ctx.deck.values() if lw is not None for w in lw.wells()]\n'
            'assert len(wells) == 96 and ctx.deck[12] is None\n'
            'del ctx.deck[12]\n'
            'rack = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
            'p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])\n'
            'p300.pick_up_tip()\np300.drop_tip()\n')
    events = _events(protocol_file(tmp_path, body, api="2.16"))
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    drops = [e for e in events if e.get("type") == "dropTip"]
    assert drops and drops[0]["params"]["well"].startswith("12/")


def test_an_aspirate_refused_for_a_stale_location_moves_nothing() -> None:
    # After a blow-out the plunger is reset at the well's top before an aspirate: the
    # refused aspirate went there and reset it first, so the pipette "was" at the moved
    # plate and a next aspirate in place drew air there.
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        plate = ctx.load_labware(PLATE, 2)
        p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        p.blow_out(plate["A1"])
        stale = plate["A1"].bottom(1)
        ctx.move_labware(plate, 3)
        sent = len(ctx.commands())
        with pytest.raises(ProtocolError, match="made before the labware was moved by hand"):
            p.aspirate(50, stale)
        assert ctx.commands()[sent:] == []
        with pytest.raises(ProtocolError, match="has been moved by hand since"):
            p.aspirate(50)
