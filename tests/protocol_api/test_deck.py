"""The deck: slot names, the fixed trash, loading and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from labrun_testing import protocol_file, simulate_file

from engine import commands as c
from protocol_api.deck import Deck, ot2_deck
from protocol_api.errors import InvalidSlotError, SlotOccupiedError
from protocol_api.labware import Labware, highest_z_of, load_name_of, parent_of
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Location, Point

# OT-2 slot origins (front-left corners), as the hardware configuration gives them.
OT2_SLOTS = {str(i + 1): (132.5 * (i % 3), 90.5 * (i // 3), 0.0) for i in range(12)}


@pytest.fixture
def deck() -> Deck:
    return Deck(OT2_SLOTS)


def labware_for(deck: Deck, load_name: str, slot: object) -> Labware:
    name = deck.check_slot(slot)
    return Labware(get_definition(load_name), name, deck.position_for(name).point)


def test_a_new_deck_has_twelve_slots_and_the_fixed_trash(deck: Deck) -> None:
    assert len(deck) == 12
    assert tuple(deck) == deck.slot_names == tuple(str(i) for i in range(1, 13))
    assert deck.trash is deck.fixed_trash is deck.occupant("12") is deck.occupant(12)
    assert load_name_of(deck.trash) == "opentrons_1_trash_1100ml_fixed"  # the bin: labrun reads
    assert [deck[s] for s in range(1, 12)] == [None] * 11


@pytest.mark.parametrize("api", [(2, 13), (2, 14), (2, 15), (2, 16), (2, 20)])
def test_the_deck_reads_as_opentrons_deck_at_each_level(api: tuple[int, int]) -> None:
    """Below 2.14 the slots are numbers, from 2.14 names; from 2.16 the fixed trash is a
    trash bin, which the deck does not list, as in Opentrons 8.8.2 (its slot stays taken)."""
    deck = Deck(api_version=api)
    assert list(deck) == ([*range(1, 13)] if api < (2, 14) else [str(s) for s in range(1, 13)])
    shown = None if api >= (2, 16) else deck.trash
    assert deck[12] is deck["12"] is shown
    listed = [k for k, v in deck.items() if v is not None]
    assert listed == ([] if shown is None else [list(deck)[-1]])
    assert deck.occupant(12) is deck.trash
    # from 2.16 named "Trash Bin", as labrun's log and deck picture name the bin
    held = "Trash Bin" if api >= (2, 16) else "Opentrons Fixed Trash"
    with pytest.raises(SlotOccupiedError, match=f"^slot 12 already holds {held}$"):
        deck.check_free(12)


def test_the_fixed_trash_sits_where_the_ot2_trash_is(deck: Deck) -> None:
    # slot 12 at (265, 271.5) + the trash well's centre (82.84, 80), its top 82 mm up
    assert deck.trash.first_well().top().point == Point(347.84, 351.5, 82.0)
    # as Opentrons prints it: the name alone from apiLevel 2.14, with the slot before
    assert repr(Deck(api_version=(2, 15)).trash) == "Opentrons Fixed Trash"
    assert repr(deck.trash) == "Trash Bin"  # from 2.16, the bin as labrun's log names it
    assert repr(Deck(api_version=(2, 13)).trash) == "Opentrons Fixed Trash on 12"


def test_position_for_is_the_slot_corner_relative_to_the_slot(deck: Deck) -> None:
    position = deck.position_for(5)
    assert position == Location(Point(132.5, 90.5, 0.0), "5")
    assert position.labware.is_slot
    assert deck.position_for("5") == position


@pytest.mark.parametrize(("given", "name"), [(1, "1"), ("1", "1"), ("10", "10"), ("D1", "1"),
                                             ("c2", "5"), ("A3", "12")])
def test_slots_can_be_named_many_ways(deck: Deck, given: object, name: str) -> None:
    assert deck.check_slot(given) == name
    assert given in deck


@pytest.mark.parametrize("bad", [13, "13", 0, "x", True, 1.5, None, "E1",
                                 " 2", "10 "])  # as Opentrons: a name as it is written
def test_an_unknown_slot_names_it_and_lists_the_slots(deck: Deck, bad: object) -> None:
    with pytest.raises(InvalidSlotError) as info:
        deck.check_slot(bad)
    assert str(info.value) == (
        f"no slot {str(bad)!r} on this deck; slots are 1-11 and the fixed trash in 12"
    )
    assert bad not in deck
    with pytest.raises(InvalidSlotError):
        deck[bad]


@pytest.mark.parametrize(("api", "catch"), [("2.13", "ValueError"), ("2.16", "KeyError")])
def test_a_protocol_asking_the_deck_for_no_slot_gets_what_opentrons_gives(
        tmp_path: Path, api: str, catch: str) -> None:
    # Opentrons' deck raises a ValueError for no slot below apiLevel 2.14 (deck.get(13)
    # too), a KeyError from 2.14 (so there deck.get(13) gives its default). labrun's
    # refusal was neither: a protocol catching it failed at its line here, and ran on
    # Opentrons.
    path = protocol_file(tmp_path, f"""
try:
    ctx.deck[13]
except {catch} as e:
    ctx.comment(f"{catch}: {{e}}")
try:
    ctx.comment(f"get: {{ctx.deck.get(13, 'none there')}}")
except ValueError as e:
    ctx.comment(f"get, ValueError: {{e}}")
""", api=api)
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    no_slot = "no slot '13' on this deck; slots are 1-11 and the fixed trash in 12"
    # below 2.14 deck.get(13) raises the ValueError too, as in Opentrons 8.8.2; it gave
    # its default in labrun, the refusal being a KeyError as well
    got = "get: none there" if api == "2.16" else f"get, ValueError: {no_slot}"
    assert said == [f"{catch}: {no_slot}", got]


def said_in(path: Path) -> list[str]:
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    return [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]


# Opentrons 8.8.2's deck.highest_z (opentrons_simulate) after each load below: the fixed
# trash's 82 mm counts below 2.16; a heater-shaker's adapter and plate count above it; a
# magnetic module counts at its own 110.152 mm, above the plate it holds.
LOADED_ONE_BY_ONE = """
ctx.comment(str(ctx.deck.highest_z))
ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
ctx.comment(str(ctx.deck.highest_z))
shaker = ctx.load_module("heaterShakerModuleV1", 1)
ctx.comment(str(ctx.deck.highest_z))
shaker.load_adapter("opentrons_96_flat_bottom_adapter").load_labware("nest_96_wellplate_200ul_flat")
ctx.comment(str(ctx.deck.highest_z))
block = ctx.load_module("temperature module gen2", 3)
ctx.comment(str(ctx.deck.highest_z))
ctx.load_module("magnetic module gen2", 6).load_labware("biorad_96_wellplate_200ul_pcr")
ctx.comment(str(ctx.deck.highest_z))
ctx.load_labware("opentrons_6_tuberack_falcon_50ml_conical", 5)
ctx.comment(str(ctx.deck.highest_z))
block.load_labware("opentrons_24_aluminumblock_nest_1.5ml_snapcap")
ctx.comment(str(ctx.deck.highest_z))
"""


@pytest.mark.parametrize(("api", "tops"), [
    ("2.15", ["82.0", "82.0", "82.0", "83.775", "84.0", "110.152", "120.3", "123.79"]),
    ("2.18", ["0.0", "14.22", "82.0", "83.775", "84.0", "110.152", "120.3", "123.79"]),
])
def test_the_decks_highest_z_is_opentrons_highest_point_of_what_is_loaded(
        tmp_path: Path, api: str, tops: list[str]) -> None:
    assert said_in(protocol_file(tmp_path, LOADED_ONE_BY_ONE, api=api)) == tops


def test_below_2_14_the_decks_highest_z_counts_the_fixed_trash_and_labware(
        tmp_path: Path) -> None:
    path = protocol_file(tmp_path, """
ctx.comment(str(ctx.deck.highest_z))
ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
ctx.comment(str(ctx.deck.highest_z))
ctx.load_labware("opentrons_6_tuberack_falcon_50ml_conical", 5)
ctx.comment(str(ctx.deck.highest_z))
""", api="2.13")
    assert said_in(path) == ["82.0", "82.0", "120.3"]  # as Opentrons 8.8.2


def test_loading_puts_labware_in_its_slot(deck: Deck) -> None:
    tips = labware_for(deck, "opentrons_96_tiprack_300ul", 1)
    assert deck.load(tips) is tips
    assert deck[1] is deck["1"] is tips
    assert dict(deck.items())["1"] is tips
    assert "1: Opentrons OT-2 96 Tip Rack 300 µL" in repr(deck)


def test_a_taken_slot_is_refused_naming_what_is_there(deck: Deck) -> None:
    deck.load(labware_for(deck, "opentrons_96_tiprack_300ul", 1))
    plate = labware_for(deck, "corning_96_wellplate_360ul_flat", 1)
    taken = r"^slot 1 already holds Opentrons OT-2 96 Tip Rack 300 µL$"
    with pytest.raises(SlotOccupiedError, match=taken):
        deck.load(plate)
    with pytest.raises(SlotOccupiedError, match=r"^slot 12 already holds Trash Bin$"):
        deck.assign("12", labware_for(deck, "corning_96_wellplate_360ul_flat", 12))
    with pytest.raises(SlotOccupiedError):
        deck.check_free("1")
    assert deck.check_free(2) == "2"


def test_assign_checks_the_labware_was_built_for_that_slot(deck: Deck) -> None:
    plate = labware_for(deck, "corning_96_wellplate_360ul_flat", 3)
    with pytest.raises(ValueError, match="built for slot 3, not slot 4"):
        deck.assign(4, plate)
    assert deck.assign(3, plate) is plate


def test_the_trash_slot_must_exist() -> None:
    with pytest.raises(InvalidSlotError, match="fixed trash slot '13' is not a slot"):
        Deck(OT2_SLOTS, trash_slot="13")


def test_a_custom_deck_lists_its_own_slots() -> None:
    deck = Deck({"left": (0, 0, 0), "right": (200, 0, 0), "bin": (400, 0, 0)}, trash_slot="bin")
    assert deck.slot_names == ("bin", "left", "right")
    assert parent_of(deck.trash) == "bin"
    with pytest.raises(InvalidSlotError, match="slots are left, right and the fixed trash in bin"):
        deck.check_slot("D1")  # Flex names only on a deck numbered like the OT-2


# -- the OT-2 deck definition -----------------------------------------------------------


def test_the_ot2_deck_definition_gives_the_slot_grid_and_the_fixed_trash() -> None:
    standard = ot2_deck()
    # Opentrons' ot2_standard: slots 132.5 mm apart in x and 90.5 mm in y, 1 front-left.
    assert standard.slot_origins == {k: Point(*v) for k, v in OT2_SLOTS.items()}
    assert list(standard.slot_origins) == [str(i) for i in range(1, 13)]
    assert (standard.trash_slot, standard.trash_load_name) == (
        "12", "opentrons_1_trash_1100ml_fixed")


def test_a_deck_without_slots_given_is_the_ot2_deck() -> None:
    deck = Deck()
    assert deck.slot_names == tuple(str(i) for i in range(1, 13))
    assert deck.trash_slot == "12"
    assert deck.position_for(6).point == Point(265.0, 90.5, 0.0)
    assert highest_z_of(deck.trash) == 82.0


def test_slot_centres_and_what_is_left_and_right_of_a_slot(deck: Deck) -> None:
    # The figures of Opentrons 8.8.2's Deck.get_slot_center on an OT-2.
    assert deck.get_slot_center("1") == Point(64.0, 43.0, 0.0)
    assert deck.get_slot_center(5) == Point(196.5, 133.5, 0.0)
    assert deck.get_slot_center("12") == Point(329.0, 314.5, 0.0)
    plate = deck.load(labware_for(deck, "corning_96_wellplate_360ul_flat", 5))
    assert deck.left_of(6) is plate and deck.right_of("4") is plate
    assert deck.right_of(5) is None  # slot 6 is empty
    assert deck.right_of(6) is None and deck.left_of(4) is None  # the deck's edges
    # as deck[12]: from apiLevel 2.16 the fixed trash is a trash bin the deck does not list
    assert deck.right_of(11) is None and deck[12] is None
    older = Deck(OT2_SLOTS, api_version=(2, 15))
    assert older.right_of(11) is older.fixed_trash is older[12]
    with pytest.raises(InvalidSlotError):
        deck.left_of(13)


@pytest.mark.parametrize("api", ["2.13", "2.15"])
def test_a_protocol_reads_the_slot_definitions_as_opentrons_gives_them(
        tmp_path: Path, api: str) -> None:
    path = tmp_path / "slots.py"
    path.write_text(f"""metadata = {{"apiLevel": "{api}"}}

def run(ctx):
    slots = ctx.deck.slots
    assert [slot["id"] for slot in slots] == [str(n) for n in range(1, 13)], slots
    assert ctx.deck.get_slot_definition(5) == slots[4] == {{
        "id": "5", "position": [132.5, 90.5, 0.0],
        "boundingBox": {{"xDimension": 128.0, "yDimension": 86.0, "zDimension": 0}},
        "displayName": "Slot 5",
        "compatibleModuleTypes": ["magneticModuleType", "temperatureModuleType",
                                  "heaterShakerModuleType"]}}
    assert "thermocyclerModuleType" in ctx.deck.get_slot_definition("7")["compatibleModuleTypes"]
    assert slots[11]["compatibleModuleTypes"] == []
    ctx.deck.get_slot_definition(13)
""")
    summary = simulate_file(path).record.events[-1]
    assert (summary["status"], summary["error"], summary["location"]) == (
        "failed", "no slot '13' on this deck; slots are 1-11 and the fixed trash in 12",
        f"{path}:14")


@pytest.mark.parametrize(("api", "said"), [
    ("2.13", "False False True"),
    ("2.15", "True True True"),
])
def test_asking_whether_the_deck_has_a_flex_named_slot_is_an_answer_below_2_14(
        tmp_path: Path, api: str, said: str) -> None:
    """Opentrons 8.8.2 answers ``"A1" in ctx.deck`` with False below apiLevel 2.14 (its
    deck there knows slots 1-12 only) and True from 2.15; labrun refused the question
    below 2.15 as if the protocol had loaded into that slot, failing at its line a
    protocol that only checks which deck it is on."""
    path = protocol_file(tmp_path, """
ctx.comment(f"{'A1' in ctx.deck} {'d1' in ctx.deck} {'12' in ctx.deck}")
""", api=api)
    assert said_in(path) == [said]


@pytest.mark.parametrize(("api", "status"), [("2.0", "succeeded"), ("2.13", "failed")])
def test_below_2_14_after_del_deck_12_the_fixed_trash_is_what_slot_12_holds(
        tmp_path: Path, api: str, status: str) -> None:
    """Opentrons 8.8.2 below apiLevel 2.14 reads the fixed trash from slot 12: after
    ``del ctx.deck['12']`` asking for ctx.fixed_trash fails ('Robot must have a trash
    container in 12'), and a labware loaded there then is the trash, which a pipette
    loaded from then on drops its tips into (its A1 at 2.0; from 2.2 that drop fails, as
    a well not of a tip rack). labrun kept the deleted trash and dropped the tip where it
    no longer stood, over the reservoir in its place."""
    path = protocol_file(tmp_path, """
del ctx.deck['12']
try:
    ctx.fixed_trash
except Exception as e:
    ctx.comment(str(e))
reservoir = ctx.load_labware('agilent_1_reservoir_290ml', '12')
ctx.comment(str(ctx.fixed_trash))
p300 = ctx.load_instrument('p300_single_gen2', 'left',
                           tip_racks=[ctx.load_labware('opentrons_96_tiprack_300ul', 1)])
ctx.comment(str(p300.trash_container))
p300.pick_up_tip()
p300.drop_tip()
""", api=api)
    run = simulate_file(path)
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    assert said == [
        "slot 12 holds no trash: del ctx.deck[12] took the fixed trash away, and below "
        "apiLevel 2.14 the fixed trash is the labware slot 12 holds (Opentrons fails too: "
        "'Robot must have a trash container in 12'); load a labware there first to be the "
        "trash", "Agilent 1 Well Reservoir 290 mL on 12", "Agilent 1 Well Reservoir 290 mL on 12"]
    summary = run.record.events[-1]
    assert summary["status"] == status
    drops = [e.command.well for e in run.engine.entries
             if isinstance(e.command, c.DropTip) and e.line == f"{path}:16"]
    if status == "succeeded":
        assert drops == ["12/A1"]
    else:
        assert drops == [] and summary["location"] == f"{path}:16"
        assert summary["error"].startswith("drop_tip: A1 of Agilent 1 Well Reservoir 290 mL "
                                           "on 12 is not in a tip rack")


@pytest.mark.parametrize(("api", "replaced"), [("2.0", True), ("2.13", True), ("2.14", False)])
def test_below_2_14_a_labware_loaded_into_slot_12_takes_the_fixed_trashs_place(
        tmp_path: Path, api: str, replaced: bool) -> None:
    """Below apiLevel 2.14 ``load_labware(name, 12)`` with the fixed trash there puts the
    labware in its place, as if ``del ctx.deck[12]`` came first: it is ``ctx.fixed_trash``
    and the trash of the pipettes loaded from then on, and one loaded before drops its tip
    where the trash stood. From 2.14 the slot is taken. labrun refused it at every level."""
    path = protocol_file(tmp_path, """
tips = ctx.load_labware('opentrons_96_tiprack_300ul', 1)
early = ctx.load_instrument('p300_single_gen2', 'right', tip_racks=[tips])
reservoir = ctx.load_labware('nest_1_reservoir_195ml', 12)
late = ctx.load_instrument('p20_single_gen2', 'left')
ctx.comment(f"{ctx.fixed_trash} | {early.trash_container} | {late.trash_container}")
early.pick_up_tip()
early.aspirate(10, reservoir['A1'])
early.drop_tip()
""", api=api)
    run = simulate_file(path)
    summary = run.record.events[-1]
    if not replaced:
        assert summary["status"] == "failed" and summary["location"] == f"{path}:7"
        assert summary["error"] == "slot 12 already holds Opentrons Fixed Trash"
        return
    assert summary["status"] == "succeeded"
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    assert said == ["NEST 1 Well Reservoir 195 mL on 12 | Opentrons Fixed Trash on 12 | "
                    "NEST 1 Well Reservoir 195 mL on 12"]
    drop = next(e.command for e in run.engine.entries if isinstance(e.command, c.DropTip))
    assert drop.point == (347.84, 351.5, 82.0)  # the fixed trash's top, where it stood
