"""What labrun does with the Opentrons internals that published protocols read, and the
Opentrons behaviours it follows for loose input (a fractional mix count)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file

from engine import commands as c
from protocol_api import open_context
from protocol_api.errors import LabwareDefinitionError, ProtocolError, UnsupportedAPIError
from protocol_api.execute import EmbeddedContext, continue_when_stalled
from protocol_api.labware import Well
from protocol_api.labware_definitions import get_definition
from protocol_api.types import APIVersion, Point


def protocol_commands(ctx: EmbeddedContext) -> list[Any]:
    return [e.command for e in ctx.run.engine.entries if e.origin == "protocol"]


@pytest.fixture
def ctx() -> Iterator[EmbeddedContext]:
    with open_context(api_version=(2, 13)) as context:
        yield context


def test_hw_manager_says_a_simulation_is_one_and_switches_the_rail_lights(
        ctx: EmbeddedContext) -> None:
    hardware = ctx._hw_manager.hardware
    assert hardware.is_simulator is True
    hardware.set_lights(rails=True)
    assert ctx.rail_lights_on
    assert hardware.get_lights() == {"button": True, "rails": True}
    hardware.set_lights(button=False)  # the button light is the robot's own: nothing sent
    hardware.set_lights(rails=False)
    assert not ctx.rail_lights_on
    lights = [cmd.on for cmd in protocol_commands(ctx) if isinstance(cmd, c.SetRailLights)]
    assert lights == [True, False]


def test_a_real_run_is_not_a_simulator() -> None:
    with open_context(simulating=False) as ctx:
        assert ctx._hw_manager.hardware.is_simulator is False


def test_the_blinking_thread_of_library_protocols_ends_at_once_in_a_simulation(
        ctx: EmbeddedContext) -> None:
    # The library's pattern: blink while a flag is set, the flag set only on a robot.
    blinking = {"on": not ctx._hw_manager.hardware.is_simulator}

    def blink(hardware: Any) -> None:
        while blinking["on"]:
            hardware.set_lights(rails=True)

    thread = threading.Thread(target=blink, args=(ctx._hw_manager.hardware,))
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_internals_labrun_cannot_honour_fail_naming_themselves(ctx: EmbeddedContext) -> None:
    with pytest.raises(UnsupportedAPIError,
                       match=r"ctx\._hw_manager\.hardware\._attached_instruments is an "
                             "Opentrons internal that labrun does not have"):
        ctx._hw_manager.hardware._attached_instruments  # noqa: B018
    with pytest.raises(UnsupportedAPIError, match=r"ctx\._hw_manager\.hardware\.get_pipette"):
        ctx._hw_manager.hardware.get_pipette("left")
    with pytest.raises(AttributeError, match="'ProtocolContext' object has no attribute "
                                             "'_implementation'"):
        ctx._implementation  # noqa: B018


def test_last_tip_picked_up_from_is_the_attached_tips_well(ctx: EmbeddedContext) -> None:
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    assert pipette._last_tip_picked_up_from is None
    pipette.pick_up_tip()
    pipette.drop_tip()
    pipette.pick_up_tip()
    parked = pipette._last_tip_picked_up_from
    assert parked is tips["B1"]
    pipette.return_tip()
    assert pipette._last_tip_picked_up_from is None
    pipette.pick_up_tip(parked)  # the parked tip again, as the library's protocols do
    picked = [cmd.well for cmd in protocol_commands(ctx) if isinstance(cmd, c.PickUpTip)]
    assert picked == ["1/A1", "1/B1", "1/B1"]


def test_private_tip_racks_are_the_tip_racks(ctx: EmbeddedContext) -> None:
    first = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
    more = ctx.load_labware("opentrons_96_tiprack_20ul", 2)
    pipette = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[first])
    assert pipette._tip_racks[0].wells()[0].depth == first.wells()[0].depth
    pipette._tip_racks.append(more)
    assert pipette.tip_racks == [first, more]


def test_a_well_subclass_built_from_well_core_is_the_same_well(ctx: EmbeddedContext) -> None:
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])

    class TrackedWell(Well):
        def __init__(self, well: Well, volume: float) -> None:
            super().__init__(well.parent, well._core, APIVersion(2, 13))
            self.volume = volume

    tracked = TrackedWell(plate["C4"], 150)
    assert tracked.well_name == "C4" and tracked.parent is plate and tracked.volume == 150
    assert tracked.bottom(1).point == plate["C4"].bottom(1).point
    assert tracked.diameter == plate["C4"].diameter
    pipette.pick_up_tip()
    pipette.aspirate(20, tracked.bottom(1))
    assert [cmd.well for cmd in protocol_commands(ctx) if isinstance(cmd, c.Aspirate)] == [
        "2/C4"]


def test_a_well_subclass_goes_where_its_well_goes_and_shares_its_liquid() -> None:
    # As in Opentrons 8.8.2: after an offset and a move by hand the subclass is where the
    # well is (it stayed where the well was made), and its liquid is the well's.
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])

        class TrackedWell(Well):
            def __init__(self, well: Well) -> None:
                super().__init__(well.parent, well._core, APIVersion(2, 20))

        tracked = TrackedWell(reservoir["A1"])
        reservoir.set_offset(x=0.5, y=0.5, z=4.0)
        assert tracked.top().point == reservoir["A1"].top().point == Point(147.38, 43.28, 35.4)
        ctx.move_labware(reservoir, 3)
        assert tracked.top().point == reservoir["A1"].top().point == Point(279.38, 42.78, 31.4)
        water = ctx.define_liquid("water", "", "#0000ff")
        tracked.load_liquid(water, 5000)
        assert reservoir["A1"].liquid == tracked.liquid == (water, 5000)
        pipette.pick_up_tip(TrackedWell(tips["A1"]))  # the rack's A1: its tip is used
        pipette.aspirate(50, tracked.bottom(5))
        (aspirate,) = [cmd for cmd in protocol_commands(ctx) if isinstance(cmd, c.Aspirate)]
        assert aspirate.well == "3/A1"
        assert tips.next_tip() is tips["B1"]


def test_a_fractional_mix_count_mixes_as_opentrons_does_and_says_so(
        ctx: EmbeddedContext) -> None:
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.pick_up_tip()
    pipette.mix(2.4, 10, plate["A1"])  # Opentrons counts down while more than 1 is left: 3
    pipette.mix(2.0, 10, plate["A1"])  # a whole number as a float: 2, no warning
    commands = protocol_commands(ctx)
    assert sum(isinstance(cmd, c.Aspirate) for cmd in commands) == 5
    assert sum(isinstance(cmd, c.Dispense) for cmd in commands) == 5
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {__file__}:")
    assert warnings[0].endswith("mix: repetitions=2.4 is not a whole number; mixing 3 "
                                "times, as Opentrons does")


def test_a_mix_with_no_volume_empties_the_tip_into_its_well_as_opentrons_does(
        ctx: EmbeddedContext) -> None:
    """Opentrons' mix with no volume aspirates and dispenses with no volume: all the tip
    takes, then all it holds. Liquid the tip held before the mix stays in the mix's well
    (labrun dispensed only what the mix drew, and carried the rest on to the next well)."""
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.pick_up_tip()
    pipette.aspirate(50, plate["A1"])
    pipette.mix(2, location=plate["A2"])
    assert pipette.current_volume == 0
    liquid = [(cmd.kind, cmd.volume, cmd.well) for cmd in protocol_commands(ctx)
              if isinstance(cmd, (c.Aspirate, c.Dispense))]
    assert liquid == [("aspirate", 50.0, "2/A1"), ("aspirate", 250.0, "2/A2"),
                      ("dispense", 300.0, "2/A2"), ("aspirate", 300.0, "2/A2"),
                      ("dispense", 300.0, "2/A2")]


def test_a_mix_of_zero_repetitions_mixes_once_as_opentrons_does_and_says_so(
        ctx: EmbeddedContext) -> None:
    # Opentrons aspirates and dispenses before it counts: mix(0) and a transfer's
    # mix_after=(0, v) each mix once (its simulator says "Mixing 0 times", then does).
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.pick_up_tip()
    pipette.mix(0, 50, plate["A1"])
    pipette.transfer(10, plate["A1"], plate["A2"], mix_after=(0, 10), new_tip="never")
    commands = protocol_commands(ctx)
    liquid = [(cmd.kind, cmd.volume, cmd.well) for cmd in commands
              if isinstance(cmd, (c.Aspirate, c.Dispense))]
    assert liquid == [("aspirate", 50.0, "2/A1"), ("dispense", 50.0, "2/A1"),
                      ("aspirate", 10.0, "2/A1"), ("dispense", 10.0, "2/A2"),
                      ("aspirate", 10.0, "2/A2"), ("dispense", 10.0, "2/A2")]
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert len(warnings) == 2
    assert all(w.endswith("mix: repetitions=0 mixes once, as Opentrons does") for w in warnings)


def test_a_multi_channel_touches_the_walls_of_a_reservoir_well_around_its_centre(
        tmp_path: Path) -> None:
    # A custom reservoir that centres a multi-channel and allows touching its walls
    # (Opentrons' own reservoirs disable touch_tip).
    definition = copy.deepcopy(get_definition("nest_12_reservoir_15ml"))
    definition["parameters"]["quirks"] = ["centerMultichannelOnWells"]
    definition["parameters"]["loadName"] = "touchable_12_reservoir"
    definition["namespace"] = "custom_beta"
    (tmp_path / "touchable_12_reservoir.json").write_text(json.dumps(definition))
    with open_context(api_version=(2, 13), labware_dirs=[str(tmp_path)]) as ctx:
        multi_channel_touch(ctx)


def multi_channel_touch(ctx: EmbeddedContext) -> None:
    reservoir = ctx.load_labware("touchable_12_reservoir", 1)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    m300 = ctx.load_instrument("p300_multi_gen2", "right", tip_racks=[tips])
    m300.pick_up_tip()
    m300.aspirate(50, reservoir["A1"])
    m300.touch_tip()
    well = reservoir["A1"]
    touch = next(cmd for cmd in protocol_commands(ctx) if isinstance(cmd, c.TouchTip))
    # The nozzles' middle at the well's centre: the first nozzle (A) 31.5 mm behind it,
    # the reach half the well's length and width, so no nozzle leaves the slot.
    centre = well.top(-1).point
    assert well.width is not None
    assert touch.point == pytest.approx((centre.x, centre.y + 31.5, centre.z))
    assert touch.reach_y == pytest.approx(well.width / 2)
    assert touch.point[1] - 31.5 - touch.reach_y >= 0


def test_an_air_gap_of_zero_before_2_16_fills_the_tip_as_an_aspirate_of_zero_does(
        ctx: EmbeddedContext) -> None:
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_filtertiprack_200ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.pick_up_tip()
    pipette.aspirate(50, plate["A1"])
    pipette.air_gap(0)  # apiLevel 2.13: 0 means all the tip can still take
    gaps = [cmd.volume for cmd in protocol_commands(ctx)
            if isinstance(cmd, c.Aspirate) and cmd.air_gap]
    assert gaps == [150]
    assert pipette.current_volume == 200


def test_a_pipette_given_tips_of_a_size_it_does_not_take_is_warned_as_opentrons_warns(
        ) -> None:
    # apiLevel 2.14: below it, a p300 does not pick up a 20 µL tip (test_api_pipette)
    with open_context(api_version=(2, 14)) as ctx:
        warned_of_tip_sizes(ctx)


def warned_of_tip_sizes(ctx: EmbeddedContext) -> None:
    big = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    small = ctx.load_labware("opentrons_96_tiprack_20ul", 3)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[big, small])
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[big])
    for well in ("G12", "H12"):  # once a rack, however often it is used
        p20.pick_up_tip(big[well] if p20.tip_racks else None)
        p20.aspirate(10, plate["A1"])
        p20.drop_tip()
    p300.pick_up_tip(small["A1"])  # a rack it was not loaded with: warned when used
    p300.drop_tip()
    warnings = [cmd.message.split(": ", 2)[2] for cmd in protocol_commands(ctx)
                if isinstance(cmd, c.Comment)]
    assert warnings == [
        "the pipette p20_single_gen2 and its tip rack opentrons_96_tiprack_300ul (300 µL "
        "tips) appear to be mismatched; it takes 10 or 20 µL tips",
        "the pipette p300_single_gen2 and its tip rack opentrons_96_tiprack_20ul (20 µL "
        "tips) appear to be mismatched; it takes 200 or 300 µL tips"]


def test_a_dispense_into_the_fixed_trash_goes_in_from_its_top_as_opentrons_does(
        ctx: EmbeddedContext) -> None:
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.well_bottom_clearance.dispense = 20  # not into the trash's depth
    trash = ctx.fixed_trash["A1"]
    pipette.transfer(50, plate["A1"], trash)
    moves = [cmd for cmd in protocol_commands(ctx) if isinstance(cmd, c.MoveTo)]
    into_trash = [m for m in moves if m.well == "12/A1"]
    assert into_trash[0].point[2] == pytest.approx(trash.top().point.z)  # 82 mm


@pytest.mark.parametrize("level", [(2, 18), (2, 24)])
def test_a_step_in_place_after_the_trash_bin_is_refused_from_2_16_until_2_24(
        level: tuple[int, int]) -> None:
    # As Opentrons 8.8.2: its last location is then a trash bin, which these levels do
    # not act in place at ("another method that moves to a location must ... be called").
    with open_context(api_version=level) as ctx:
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        pipette.pick_up_tip()
        pipette.aspirate(100, plate["A1"])
        pipette.dispense(100, ctx.fixed_trash)
        if level >= (2, 24):
            pipette.blow_out()  # in the trash bin, where it is
            assert protocol_commands(ctx)[-1].well == "12/A1"
            pipette.air_gap(10)
            assert protocol_commands(ctx)[-1].well == "12/A1"
            # touch_tip still not, at any level from 2.16 (it ran here, skipped as in a
            # labware that disables it): Opentrons' "Cached location of TrashBin".
            with pytest.raises(ProtocolError, match=r"^touch_tip: no location given and the "
                               r"pipette last went into the trash bin; from apiLevel 2\.16, "
                               r"as in Opentrons.*: give the well$"):
                pipette.touch_tip()
            # nor an aspirate, a mix's included: Opentrons' "Trash Bin and Waste Chute are
            # not acceptable location parameters for Aspirate commands"
            for step in (lambda: pipette.aspirate(10), lambda: pipette.mix(2, 10)):
                with pytest.raises(ProtocolError, match=r"^aspirate: no location given and "
                                   r"the pipette last went into the trash bin; from apiLevel "
                                   r"2\.16, as in Opentrons.*: give the well to draw from "
                                   r"\(nothing is drawn from a trash bin\)$"):
                    step()
            assert protocol_commands(ctx)[-1].kind == "aspirate"  # the air gap
            return
        with pytest.raises(ProtocolError, match="blow_out: no location given and the "
                           "pipette last went into the trash bin"):
            pipette.blow_out()
        # air_gap and touch_tip too, which ran here (Opentrons: "Cached location of None
        # is not valid"); neither moved.
        with pytest.raises(ProtocolError, match=r"^air_gap: no location given and the "
                           r"pipette last went into the trash bin; from apiLevel 2\.16 until "
                           r"2\.24, as in Opentrons.*: move to a well first$"):
            pipette.air_gap(10)
        with pytest.raises(ProtocolError, match=r"^touch_tip: no location given and the "
                           r"pipette last went into the trash bin.*: give the well$"):
            pipette.touch_tip()
        assert protocol_commands(ctx)[-1].kind == "dispense"


def two_pipettes_with_tips(ctx: EmbeddedContext) -> tuple[Any, Any, Any, Any]:
    """A plate in slot 1, a P300 (300 µL tips, slot 4) and a P20 (slot 5), each with a tip
    on: the plate, the P300's rack, the P300 and the P20."""
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    tips20 = ctx.load_labware("opentrons_96_tiprack_20ul", 5)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips20])
    p300.pick_up_tip()
    p20.pick_up_tip()
    return plate, tips, p300, p20


@pytest.mark.parametrize(("level", "drop"), [((2, 14), "trash"), ((2, 15), "trash"),
                                             ((2, 22), "rack"), ((2, 27), "rack")])
def test_touch_tip_and_air_gap_with_no_location_after_another_pipette_dropped_its_tip(
        level: tuple[int, int], drop: str) -> None:
    # As Opentrons 8.8.2: from 2.14 both read its location cache, whichever pipette moved,
    # which a drop_tip empties ("Cached location of None is not valid for touch tip").
    # labrun skipped the touch in the fixed trash and took the air gap over it (2.15), or
    # over the tip rack the tip was dropped into (2.22).
    with open_context(api_version=level) as ctx:
        plate, tips, p300, p20 = two_pipettes_with_tips(ctx)
        p20.aspirate(5, plate["A1"])
        if drop == "trash":
            p300.drop_tip()
        else:
            p300.drop_tip(tips["H12"])
        with pytest.raises(ProtocolError, match=r"^touch_tip: no location given and the last "
                           r"move dropped a tip; from apiLevel 2\.14, as in Opentrons.*: give "
                           r"the well$"):
            p20.touch_tip()
        with pytest.raises(ProtocolError, match=r"^air_gap: no location given and the last "
                           r"move dropped a tip.*: move to a well first$"):
            p20.air_gap(2)
        assert protocol_commands(ctx)[-1].kind == "dropTip"
        p20.touch_tip(plate["A1"])  # a well given: as before
        p20.air_gap(2)
        assert protocol_commands(ctx)[-1].well == "1/A1"


def test_touch_tip_with_no_location_after_a_drop_at_a_location_given_acts_there() -> None:
    # Opentrons keeps a Location given to drop_tip as its location cache.
    with open_context(api_version=(2, 15)) as ctx:
        plate, _, p300, p20 = two_pipettes_with_tips(ctx)
        p300.drop_tip(plate["B2"].top())
        p20.touch_tip()
        assert protocol_commands(ctx)[-1].well == "1/B2"


@pytest.mark.parametrize("level", [(2, 15), (2, 16)])
def test_the_fixed_trash_has_no_wells_to_name_from_2_16(level: tuple[int, int]) -> None:
    # As Opentrons 8.8.2: from 2.16 the fixed trash is a TrashBin ("'TrashBin' object is
    # not subscriptable"); steps take it whole.
    with open_context(api_version=level) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        pipette.pick_up_tip()
        if level < (2, 16):
            pipette.drop_tip(ctx.fixed_trash["A1"])
            assert len(ctx.fixed_trash.wells()) == 1
            return
        with pytest.raises(TypeError, match=r"ctx.fixed_trash\['A1'\]: from apiLevel 2.16 "
                           "the fixed trash is a trash bin"):
            ctx.fixed_trash["A1"]
        for name in ("wells", "rows", "columns", "wells_by_name", "well"):
            with pytest.raises(AttributeError, match=rf"ctx.fixed_trash.{name}\(\): from "):
                getattr(ctx.fixed_trash, name)()
        pipette.drop_tip(ctx.fixed_trash)
        assert protocol_commands(ctx)[-1].well == "12/A1"


@pytest.mark.parametrize(("level", "dropped_in"), [("2.15", "the trash's A1"),
                                                   ("2.16", "the trash bin")])
def test_a_protocol_asking_whether_the_trash_has_wells_is_told_no_from_2_16(
        tmp_path: Path, level: str, dropped_in: str) -> None:
    """Opentrons 8.8.2's trash bin (apiLevel 2.16 on) has no ``wells``, ``well``, ``rows``
    or ``columns``: ``hasattr`` says False, and protocols written for both kinds of
    trash branch on it. labrun's bin had them as methods that refuse when called, so
    hasattr said True and such a protocol failed at ``trash.wells()[0]``."""
    path = tmp_path / "protocol.py"
    path.write_text(f"""
metadata = {{"apiLevel": "{level}"}}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    trash = ctx.fixed_trash
    names = ("wells", "well", "rows", "columns", "wells_by_name")
    ctx.comment(" ".join(str(hasattr(trash, name)) for name in names))
    if hasattr(trash, "wells"):
        ctx.comment("dropping in the trash's A1")
        trash = trash.wells()[0]
    else:
        ctx.comment("dropping in the trash bin")
    pipette.pick_up_tip()
    pipette.drop_tip(trash)
""")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    has = "True" if level == "2.15" else "False"
    assert said == [" ".join([has] * 5), f"dropping in {dropped_in}"]
    drops = [e.command for e in run.engine.entries if isinstance(e.command, c.DropTip)]
    assert [d.well for d in drops] == ["12/A1"]


LABWARE_NAMES_THE_BIN_LACKS = (
    "api_version", "calibrated_offset", "child", "highest_z", "is_adapter", "is_tiprack",
    "load_empty", "load_labware", "load_labware_from_definition", "load_lid_stack",
    "load_liquid", "load_liquid_by_well", "load_name", "magdeck_engage_height", "name",
    "next_tip", "parameters", "parent", "previous_tip", "quirks", "reset", "return_tips",
    "separate_calibration", "set_calibration", "set_offset", "tip_length", "uri",
    "use_tips")
"""Opentrons 8.8.2's ``Labware`` has these; its ``TrashBin`` (the fixed trash from apiLevel
2.16) has none of them, only top, offset, location, area_name and height."""


@pytest.mark.parametrize("level", ["2.15", "2.16"])
def test_a_protocol_reading_a_labware_attribute_on_the_trash_bin_fails_from_2_16(
        tmp_path: Path, level: str) -> None:
    """labrun's bin was a whole Labware but for its wells: ``ctx.fixed_trash.load_name``,
    ``.uri``, ``.parent``, ``.highest_z``... read fine here and failed on the robot."""
    path = tmp_path / "protocol.py"
    path.write_text(f"""
metadata = {{"apiLevel": "{level}"}}

def run(ctx):
    trash = ctx.fixed_trash
    names = [n for n in {LABWARE_NAMES_THE_BIN_LACKS!r}  # (these two raise on a labware)
             if n not in ("separate_calibration", "tip_length")]
    ctx.comment(" ".join(n for n in names if hasattr(trash, n)))
    ctx.comment(" ".join(n for n in ("top", "offset", "location", "area_name", "height")
                         if hasattr(trash, n)))
    ctx.comment(f"{{trash.load_name}} {{trash.uri}}")
""")
    run = simulate_file(path)
    summary = run.record.events[-1]
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    if level == "2.15":
        assert summary["status"] == "succeeded", summary["error"]
        assert said[0] == " ".join(n for n in LABWARE_NAMES_THE_BIN_LACKS  # a labware's
                                   if n not in ("load_lid_stack", "separate_calibration",
                                                "tip_length"))
        assert said[1:] == ["", "opentrons_1_trash_1100ml_fixed "
                                "opentrons/opentrons_1_trash_1100ml_fixed/1"]
        return
    assert said == ["", "top offset location area_name height"]  # top called: from 2.18
    assert (summary["status"], summary["location"]) == ("failed", f"{path}:11")
    assert summary["error"] == (
        "AttributeError: 'TrashBin' object has no attribute 'load_name': from apiLevel 2.16 "
        "the fixed trash is a trash bin, as in Opentrons, not a labware: it has only top() "
        "(apiLevel 2.18), offset, location, area_name and height")


def test_the_trash_bin_keeps_what_a_protocol_sets_on_it_and_suggests_only_its_own_names(
) -> None:
    # As Opentrons 8.8.2's bin: an attribute set is kept, and read back; dir() and a
    # misspelt name's suggestion leave out the labware's names it lacks.
    with open_context(api_version=(2, 16)) as ctx:
        ctx.fixed_trash.name = "waste"
        assert ctx.fixed_trash.name == "waste"
        assert not any(hasattr(ctx.fixed_trash, n) for n in LABWARE_NAMES_THE_BIN_LACKS
                       if n != "name")
        assert not {"uri", "load_name", "wells", "parent"} & set(dir(ctx.fixed_trash))
        assert {"offset", "location", "area_name", "height", "top"} <= set(
            dir(ctx.fixed_trash))
        with pytest.raises(AttributeError) as raised:
            _ = ctx.fixed_trash.load_nam
        assert str(raised.value) == "'TrashBin' object has no attribute 'load_nam'"


def test_steps_in_the_trash_bin_and_a_heater_shaker_beside_it_still_work_from_2_16(
        tmp_path: Path) -> None:
    """labrun's own code reads the bin's load name, height and tip-rack-ness (loading
    it, dropping and dispensing in it, a Heater-Shaker refused beside it): those reads
    are not a protocol's, and the run goes on with labrun's own messages."""
    path = tmp_path / "protocol.py"
    path.write_text("""
metadata = {"apiLevel": "2.16"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.pick_up_tip()
    pipette.aspirate(100, plate["A1"])
    pipette.dispense(50, ctx.fixed_trash)
    pipette.blow_out(ctx.fixed_trash)
    pipette.drop_tip()
    for call in (lambda: ctx.load_module("heaterShakerModuleV1", 11),
                 lambda: pipette.pick_up_tip(ctx.fixed_trash),
                 lambda: ctx.load_instrument("p20_single_gen2", "left",
                                             tip_racks=[ctx.fixed_trash])):
        try:
            call()
        except Exception as error:
            ctx.comment(str(error))
""")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    said = [e.command.message for e in run.engine.entries if isinstance(e.command, c.Comment)]
    assert said == ["load_module: a Heater-Shaker Module GEN1 in slot 11 would stand beside "
                    "Trash Bin in slot 12, 82 mm tall; beside a Heater-Shaker nothing may be "
                    "53 mm tall or more",
                    "pick_up_tip: Trash Bin is not a tip rack",
                    "tip_racks must be tip racks; the Trash Bin in slot 12 is not"]
    load = next(e.command for e in run.engine.entries if isinstance(e.command, c.LoadLabware))
    assert load.load_name == "opentrons_1_trash_1100ml_fixed"


def test_the_trash_bins_height_prints_as_opentrons_prints_it() -> None:
    # Opentrons 8.8.2 prints 82 (its deck definition's number), not 82.0.
    with open_context(api_version=(2, 16)) as ctx:
        assert f"{ctx.fixed_trash.height}" == "82"


def test_the_trash_bins_top_takes_an_offset_from_2_18() -> None:
    with open_context(api_version=(2, 18)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        pipette.pick_up_tip()
        pipette.move_to(ctx.fixed_trash.top(x=10, z=5))
        pipette.drop_tip(ctx.fixed_trash.top())
        move, drop = protocol_commands(ctx)[-2:]
        centre = ctx.fixed_trash.first_well().top().point
        assert move.point == pytest.approx((centre.x + 10, centre.y, centre.z + 5))
        assert drop.point == pytest.approx(tuple(centre)) and drop.well == "12/A1"


TRASH_BIN_PROTOCOL = """
from opentrons.protocol_api import TrashBin
from opentrons.types import DeckSlotName

requirements = {"robotType": "OT-2", "apiLevel": "2.20"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    trash = ctx.fixed_trash
    ctx.comment(f"{isinstance(trash, TrashBin)} {trash.location == DeckSlotName.FIXED_TRASH} "
                f"{trash.location} {trash.area_name} {trash.height:g} {trash.offset}")
    above = trash.top(z=10)
    ctx.comment(f"{type(above).__name__} {above.offset} {above.top(x=5).offset} "
                f"{trash.offset}")
    p300.pick_up_tip()
    p300.aspirate(50, plate["A1"])
    p300.dispense(50, above)
    p300.blow_out(trash.top(x=5))
    p300.drop_tip(trash.top(z=-20))
    p300.pick_up_tip()
    p300.trash_container = trash.top(z=30)
    p300.drop_tip()
"""


def test_the_trash_bin_has_opentrons_attributes_and_its_top_is_a_bin_with_an_offset(
        tmp_path: Path) -> None:
    # As Opentrons (disposal_locations.TrashBin): location DeckSlotName.FIXED_TRASH, area
    # fixedTrash, the fixture's 82 mm; top() gives a TrashBin whose offset it sets (not
    # adds), which dispense, blow_out and drop_tip go to from the bin's top centre; a
    # trash_container with an offset drops in turn to either side, its offset ignored.
    path = tmp_path / "bin.py"
    path.write_text(TRASH_BIN_PROTOCOL, encoding="utf-8")
    run = simulate_file(path)
    assert run.record.last is not None and run.record.last["status"] == "succeeded", (
        run.record.last)
    commands = [e.command for e in run.engine.entries if e.origin == "protocol"]
    assert [cmd.message for cmd in commands if isinstance(cmd, c.Comment)] == [
        "True True 12 fixedTrash 82 DisposalOffset(x=0, y=0, z=0)",
        "TrashBin DisposalOffset(x=0, y=0, z=10) DisposalOffset(x=5, y=0, z=0) "
        "DisposalOffset(x=0, y=0, z=0)"]
    centre = Point(347.84, 351.5, 82.0)  # slot 12's trash, the top of its centre
    into_bin = [(cmd.kind, cmd.point) for cmd in commands
                if cmd.kind in ("moveTo", "dropTip") and cmd.well == "12/A1"]
    assert into_bin[:3] == [("moveTo", pytest.approx((centre.x, centre.y, centre.z + 10))),
                            ("moveTo", pytest.approx((centre.x + 5, centre.y, centre.z))),
                            ("dropTip", pytest.approx((centre.x, centre.y, centre.z - 20)))]
    kind, point = into_bin[3]
    assert kind == "dropTip" and point[2] == pytest.approx(centre.z) and point[0] != centre.x


def test_a_negative_delay_waits_nothing_as_opentrons_and_says_so(ctx: EmbeddedContext) -> None:
    ctx.delay(seconds=30, minutes=-1, msg="computed")  # a wait computed past its time
    ctx.delay(seconds=2)
    commands = protocol_commands(ctx)
    assert [(cmd.seconds, cmd.message) for cmd in commands if isinstance(cmd, c.Delay)] == [
        (0.0, "computed"), (2.0, None)]
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {__file__}:")
    assert warnings[0].endswith("delay: -30 s is negative; nothing is waited, as Opentrons "
                                "waits nothing")


def test_a_gen2_thermocycler_and_a_heater_shaker_load_at_any_level_its_calls_need_2_13(
        ) -> None:
    # As Opentrons 8.8.2: the modules load at 2.12; the heater-shaker's calls are refused.
    with open_context(api_version=(2, 12)) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        hs = ctx.load_module("heaterShakerModuleV1", 1)
        plate = tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        tc.open_lid()
        tc.set_block_temperature(4)
        assert plate.parent is tc
        assert repr(tc) == ("ThermocyclerContext at Thermocycler Module GEN2 on 7 lw NEST 96 "
                            "Well Plate 100 µL PCR Full Skirt on Thermocycler Module GEN2 on 7")
        assert str(hs) == "HeaterShakerContext at Heater-Shaker Module GEN1 on 1 lw None"
        with pytest.raises(UnsupportedAPIError, match=r"HeaterShakerContext\.close_labware_"
                           r"latch needs apiLevel 2\.13 or later"):
            hs.close_labware_latch()
        with pytest.raises(UnsupportedAPIError, match="current_temperature needs apiLevel"):
            hs.current_temperature  # noqa: B018 - a reading refused as a call is


def test_labware_loads_from_a_definition_object_into_a_slot_as_from_a_file(
        ctx: EmbeddedContext) -> None:
    definition = copy.deepcopy(get_definition("corning_96_wellplate_360ul_flat"))
    definition["parameters"]["loadName"] = "lab_96_plate"
    definition["namespace"] = "custom_beta"
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware_from_definition(definition, 3, label="samples")
    version = definition["version"]
    assert (plate.load_name, plate.uri, str(plate)) == (
        "lab_96_plate", f"custom_beta/lab_96_plate/{version}", "samples on 3")
    assert ctx.deck["3"] is plate
    pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    pipette.transfer(20, plate["A1"], plate["B2"])
    commands = protocol_commands(ctx)
    assert [(cmd.kind, cmd.well) for cmd in commands if isinstance(cmd, (
        c.Aspirate, c.Dispense))] == [("aspirate", "3/A1"), ("dispense", "3/B2")]
    assert [cmd.load_name for cmd in commands if isinstance(cmd, c.LoadLabware)][-1] == \
        "lab_96_plate"
    with pytest.raises(ProtocolError, match=r"slot 3 .*already"):
        ctx.load_labware_from_definition(definition, 3)
    definition["wells"]["A1"]["depth"] = 1000.0  # the protocol's dict, not the labware's
    assert plate["A1"].depth == 10.668
    del definition["wells"]
    with pytest.raises(LabwareDefinitionError, match="labware definition: wells: missing"):
        ctx.load_labware_from_definition(definition, 5)


def test_before_2_14_a_temperature_beyond_the_module_s_range_is_held_at_its_limit(
        ctx: EmbeddedContext) -> None:
    # Opentrons sends it then, and the module's firmware clips it; from 2.14 it is refused.
    temp = ctx.load_module("temperature module gen2", 3)
    temp.set_temperature(100)
    temp.start_set_temperature(-20)
    commands = protocol_commands(ctx)
    assert [cmd.celsius for cmd in commands if isinstance(cmd, c.SetTargetTemperature)] == [
        99.0, -9.0]
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert [w.partition(": ")[2].partition(": ")[2] for w in warnings] == [
        "set_temperature: 100 °C is outside the module's -9 to 99 °C; before apiLevel 2.14 "
        "the module holds the nearest, 99 °C",
        "start_set_temperature: -20 °C is outside the module's -9 to 99 °C; before apiLevel "
        "2.14 the module holds the nearest, -9 °C"]
    assert temp.target == -9.0


def test_the_readings_opentrons_added_by_2_20_answer_as_on_an_ot_2() -> None:
    """Opentrons' ``active_channels`` (2.16), ``liquid_presence_detection`` (2.20) and
    ``Labware.child`` (2.15) were plain AttributeErrors; Opentrons' simulator answers
    them, and refuses a trash bin on an OT-2 (labrun said it lacked trash bins)."""
    with open_context(api_version=(2, 20)) as ctx:
        single = ctx.load_instrument("p300_single_gen2", "right")
        multi = ctx.load_instrument("p20_multi_gen2", "left")
        assert (single.active_channels, multi.active_channels) == (1, 8)
        assert single.liquid_presence_detection is False
        single.liquid_presence_detection = False
        with pytest.raises(ProtocolError, match="has no pressure sensor"):
            single.liquid_presence_detection = True
        adapter = ctx.load_adapter("opentrons_96_flat_bottom_adapter", 1)
        assert adapter.child is None
        plate = adapter.load_labware("nest_96_wellplate_200ul_flat")
        assert adapter.child is plate and plate.child is None
        with pytest.raises(UnsupportedAPIError, match="an OT-2 cannot load a trash bin"):
            ctx.load_trash_bin("12")
    with open_context(api_version=(2, 15)) as ctx:
        pipette = ctx.load_instrument("p300_single_gen2", "right")
        with pytest.raises(UnsupportedAPIError, match=r"active_channels needs apiLevel 2\.16"):
            pipette.active_channels  # noqa: B018 - a reading refused as a call is


@pytest.mark.parametrize("as_trash", [False, True])
@pytest.mark.parametrize(("level", "outcome"), [
    ((2, 1), "10 mm above the bottom"), ((2, 2), "refused"), ((2, 13), "refused"),
    ((2, 14), "at the top")])
def test_a_tip_dropped_into_a_plate_well_as_opentrons_drops_it_at_each_level(
        level: tuple[int, int], outcome: str, as_trash: bool) -> None:
    """From 2.2 to 2.13 Opentrons fails on a tip dropped into a well of a labware that is
    not a tip rack (an assertion); labrun dropped it, so the protocol failed on the OT-2
    only. The trash's well is always taken. A plate made the ``trash_container`` is the
    same to ``drop_tip()`` as the plate's first well named."""
    with open_context(api_version=level) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        pipette = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        pipette.pick_up_tip()
        pipette.drop_tip(ctx.fixed_trash["A1"])
        pipette.pick_up_tip()
        if as_trash:
            pipette.trash_container = plate

        def drop() -> None:
            pipette.drop_tip() if as_trash else pipette.drop_tip(plate["A1"])

        if outcome == "refused":
            with pytest.raises(ProtocolError, match=r"is not in a tip rack: from apiLevel 2\.2 "
                                                    r"to 2\.13 Opentrons"):
                drop()
            assert sum(isinstance(cmd, c.DropTip) for cmd in protocol_commands(ctx)) == 1
            return
        drop()
        drops = [cmd for cmd in protocol_commands(ctx) if isinstance(cmd, c.DropTip)]
        assert drops[0].well.startswith("12/")
        expected = (plate["A1"].bottom(10) if outcome.startswith("10") else plate["A1"].top())
        assert drops[1].point == pytest.approx(tuple(expected.point))


def test_before_2_14_a_drop_tip_with_no_tip_goes_there_and_warns_as_opentrons_does() -> None:
    with open_context(api_version=(2, 13)) as ctx:
        pipette = ctx.load_instrument("p300_single_gen2", "left")
        pipette.drop_tip()  # Opentrons: "detach tip called with no tip", and on
        commands = protocol_commands(ctx)
        assert not any(isinstance(cmd, c.DropTip) for cmd in commands)
        assert [cmd.well for cmd in commands if isinstance(cmd, c.MoveTo)][-1].startswith("12/")
        (warning,) = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
        assert warning.endswith("drop_tip: the left pipette (p300_single_gen2) has no tip; it "
                                "goes where it would drop one and drops nothing, as Opentrons "
                                "does before apiLevel 2.14 (from 2.14 it fails)")
    with open_context(api_version=(2, 14)) as ctx:
        pipette = ctx.load_instrument("p300_single_gen2", "left")
        with pytest.raises(ProtocolError, match="has no tip"):
            pipette.drop_tip()


def test_the_deprecated_names_opentrons_still_answers_work_as_there(
        ctx: EmbeddedContext) -> None:
    # Each was an AttributeError here; older library protocols call load_labware_by_name.
    plate = ctx.load_labware_by_name("nest_96_wellplate_100ul_pcr_full_skirt", 2)
    assert plate.uri == "opentrons/nest_96_wellplate_100ul_pcr_full_skirt/1"  # as there
    module = ctx.load_module("temperature module gen2", 3)
    held = module.load_labware_by_name("opentrons_24_aluminumblock_nest_1.5ml_snapcap")
    assert module.labware is held and held.parent is module
    assert ctx.bundled_data == {}
    ctx.resume()  # the protocol runs, so the run is not paused: nothing to do
    pipette = ctx.load_instrument("p300_single_gen2", "right")
    pipette.delay()  # as Opentrons: nothing
    with pytest.raises(UnsupportedAPIError, match=r"^InstrumentContext\.delay\(\) is not "
                       r"supported in Python Protocol API v2; use ProtocolContext\.delay\(\)"):
        pipette.delay(seconds=5)
    commands = protocol_commands(ctx)
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert len(warnings) == 2
    assert all(w.endswith("load_labware_by_name is deprecated; use load_labware")
               for w in warnings)
    assert [type(cmd).__name__ for cmd in commands if not isinstance(cmd, c.Comment)][1:] == [
        "LoadLabware", "LoadModule", "LoadLabware", "LoadInstrument"]  # after the trash's


def test_from_2_14_a_protocol_cannot_resume_itself_and_2_15_loads_from_definitions() -> None:
    with open_context(api_version=(2, 15)) as ctx:
        with pytest.raises(UnsupportedAPIError, match=r"resuming itself after a pause was "
                           r"removed in apiLevel 2\.14.*use ProtocolContext\.delay\(\)"):
            ctx.resume()
        adapter = ctx.load_adapter_from_definition(get_definition("opentrons_96_pcr_adapter"), 1)
        assert adapter.is_adapter and ctx.deck["1"] is adapter
        plate = adapter.load_labware_from_definition(
            get_definition("nest_96_wellplate_100ul_pcr_full_skirt", version=2), label="pcr")
        assert not plate.is_adapter and plate.parent is adapter and adapter.child is plate
        assert plate.name == "pcr"
        block = ctx.load_module("temperature module gen2", 3).load_adapter_from_definition(
            get_definition("opentrons_96_well_aluminum_block"))
        assert block.is_adapter
        with pytest.raises(ProtocolError, match=r"corning_96_wellplate_360ul_flat cannot be "
                           r"loaded onto opentrons_96_well_aluminum_block"):
            block.load_labware_from_definition(get_definition("corning_96_wellplate_360ul_flat"))


@pytest.mark.parametrize(("call", "refusal"), [
    ('plate.load_liquid_by_well({"A1": 5, "A2": -1}, water)',
     "load_liquid_by_well: volume must be a number of µL >= 0, not -1"),
    ('plate.load_liquid_by_well({"A1": 5}, "water")',
     "load_liquid_by_well: the liquid must be one ctx.define_liquid made, not 'water'"),
    ('tips.load_liquid_by_well({"A1": 5}, water)',
     "load_liquid_by_well: Opentrons OT-2 96 Tip Rack 300 µL is a tip rack; liquid is loaded "
     "into a labware that holds liquid (refused from apiLevel 2.14, as in Opentrons)"),
])
def test_a_bad_load_liquid_by_well_is_refused_as_that_call(tmp_path: Path, call: str,
                                                          refusal: str) -> None:
    """A bad volume, liquid or labware given to ``load_liquid_by_well`` was refused as
    "load_liquid: ...", a call the protocol did not make; it names the call now."""
    path = protocol_file(tmp_path, "\n".join([
        'water = ctx.define_liquid("water")',
        'plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)',
        'tips = ctx.load_labware("opentrons_96_tiprack_300ul", 2)',
        call,
    ]), api="2.22")
    summary = simulate_file(path).record.last
    assert summary is not None and summary["status"] == "failed"
    assert (summary["location"], summary["error"]) == (f"{path}:8", refusal)


def test_from_2_22_a_labware_loads_liquid_into_many_wells_at_once() -> None:
    # Each was refused here as unsupported; new protocols use them instead of the well's.
    with open_context(api_version=(2, 22)) as ctx:
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        water = ctx.define_liquid("water", "", "#0000ff")
        assert ctx.define_liquid("oil").description == ""  # as Opentrons: text, never None
        plate.load_liquid(["A1", plate["A2"]], 100, water)
        plate.load_liquid(plate.rows()[1][:2], 40, water)
        plate.load_liquid_by_well({"D1": 10, plate["D2"]: 20.5}, water)
        plate.load_empty(["A2"])
        assert [(w.well_name, w.liquid) for w in plate.wells() if w.liquid is not None] == [
            ("A1", (water, 100.0)), ("B1", (water, 40.0)), ("D1", (water, 10.0)),
            ("B2", (water, 40.0)), ("D2", (water, 20.5))]
        other = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        with pytest.raises(KeyError, match=r"load_liquid: A1 of Corning 96 Well Plate 360 µL "
                           r"Flat on slot 2 is not a well of Corning"):
            plate.load_liquid([plate["C1"], other["A1"]], 5, water)
        with pytest.raises(KeyError, match="Z9"):
            plate.load_liquid_by_well({"C1": 5, "Z9": 5}, water)
        with pytest.raises(ProtocolError, match=r"volume must be a number of µL >= 0, not -1"):
            plate.load_liquid_by_well({"C1": 5, "C2": -1}, water)
        with pytest.raises(ProtocolError, match="must be a list of wells or well names"):
            plate.load_empty("A1")
        assert plate["C1"].liquid is None and plate["C2"].liquid is None  # nothing half-done
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 3)
        with pytest.raises(ProtocolError, match=r"is a tip rack; liquid is loaded into a "
                           r"labware that holds liquid"):
            tips["A1"].load_liquid(water, 10)
        with pytest.raises(ProtocolError, match=r"load_empty: Opentrons OT-2 96 Tip Rack 300 "
                           r"µL is a tip rack"):
            tips.load_empty(["A1"])
    with open_context(api_version=(2, 21)) as ctx, pytest.raises(
            ProtocolError, match=r"Labware\.load_liquid needs apiLevel 2\.22"):
        ctx.load_labware("corning_96_wellplate_360ul_flat", 1).load_liquid([], 1, None)


def test_load_labware_by_name_loads_version_1_unless_told_at_any_level() -> None:
    # As Opentrons: at 2.27 load_labware gives this plate version 5, by name version 1.
    with open_context(api_version=(2, 27)) as ctx:
        by_name = ctx.load_labware_by_name("corning_96_wellplate_360ul_flat", 1)
        default = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        told = ctx.load_labware_by_name("corning_96_wellplate_360ul_flat", 3, version=2)
        assert [lw.uri.rsplit("/", 1)[1] for lw in (by_name, default, told)] == ["1", "5", "2"]


def test_a_module_refuses_a_labware_on_an_adapter_below_2_15_before_placing_either() -> None:
    with open_context(api_version=(2, 14)) as ctx:
        module = ctx.load_module("temperature module gen2", 1)
        with pytest.raises(ProtocolError, match=r"^load_labware: adapter needs apiLevel 2\.15"):
            module.load_labware("nest_96_wellplate_100ul_pcr_full_skirt",
                                adapter="opentrons_96_well_aluminum_block")
        assert module.labware is None  # nothing half-loaded
