"""Multi-channel pipettes: a column of tips, eight wells per stroke, reservoirs, 384 plates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import commands as c
from engine.errors import RunFailed
from protocol_api import open_context
from protocol_api.errors import ProtocolError
from protocol_api.execute import continue_when_stalled


def finish(ctx: Any) -> dict[str, Any]:
    ctx.run.channel.finish()
    ctx.run.wait(timeout=30)
    summary: dict[str, Any] = ctx.run.record.events[-1]
    return summary


def liquid(ctx: Any) -> list[Any]:
    return [e.command for e in ctx.run.engine.entries
            if isinstance(e.command, c.LiquidCommand)]


@pytest.mark.parametrize("name", ["p20_multi_gen2", "p300_multi_gen2", "p10_multi",
                                  "p50_multi", "p300_multi"])
def test_every_ot2_multi_loads_with_eight_channels(name: str) -> None:
    with open_context(api_version=(2, 13)) as ctx:
        p = ctx.load_instrument(name, "right")
        assert (p.channels, p.type) == (8, "multi")
        assert p.hw_pipette["channels"] == 8


def test_a_multi_takes_a_column_of_tips_and_tracks_them_by_column() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.drop_tip()
        p.pick_up_tip()
        picks = [e.command for e in ctx.run.engine.entries
                 if isinstance(e.command, c.PickUpTip)]
        assert [(cmd.well, cmd.tips) for cmd in picks] == [("4/A1", 8), ("4/A2", 8)]
        assert tips.next_tip(8) is tips["A3"]
        p.drop_tip()
        p.reset_tipracks()
        assert tips.next_tip(8) is tips["A1"]
        assert finish(ctx)["tips_used"] == 16


def test_a_multi_fills_a_column_and_a_reservoir_well_gives_eight_times() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, reservoir["A1"])
        p.dispense(50, plate["A1"])
        aspirate, dispense = liquid(ctx)
        assert aspirate.well == "2/A1" and aspirate.wells == ("2/A1",) * 7
        assert dispense.wells == tuple(f"1/{r}1" for r in "BCDEFGH")
        volumes = finish(ctx)["well_volumes_ul"]
        assert volumes["2/A1"] == -400
        assert {w: v for w, v in volumes.items() if w.startswith("1/")} == {
            f"1/{r}1": 50 for r in "ABCDEFGH"}


def test_a_multi_in_a_384_plate_takes_every_other_row() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
        plate = ctx.load_labware("corning_384_wellplate_112ul_flat", 1)
        p = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(5, plate["B1"])
        (aspirate,) = liquid(ctx)
        assert aspirate.wells == tuple(f"1/{r}1" for r in "DFHJLNP")


def test_a_multi_transfer_keeps_the_first_row_targets() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.transfer(30, plate.columns()[0], plate.columns()[1], new_tip="always")
        assert [(cmd.kind, cmd.well) for cmd in liquid(ctx)] == [
            ("aspirate", "1/A1"), ("dispense", "1/A2")]
        assert finish(ctx)["tips_used"] == 8


def test_a_multi_reaches_the_trash_with_its_nozzles_centred_on_it() -> None:
    # The gantry carries the middle of the nozzles: the first one is 31.5 mm behind it,
    # so the fixed trash (centred, as on the OT-2) is within the Y axis' travel.
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        p.dispense(50, ctx.fixed_trash)  # the trash bin, at 2.20
        p.drop_tip()
        summary = finish(ctx)
        assert summary["status"] == "succeeded"
        assert summary["well_volumes_ul"]["12/A1"] == 400


@pytest.mark.parametrize(("level", "rows"), [((2, 0), "A"), ((2, 2), "AB")])
def test_a_multi_transfer_into_a_384_plate_uses_two_rows_from_2_2(
        level: tuple[int, int], rows: str) -> None:
    with open_context(api_version=level) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
        plate = ctx.load_labware("corning_384_wellplate_112ul_flat", 1)
        p = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[tips])
        p.transfer(5, plate.columns()[0], plate.columns()[1])
        assert [cmd.well for cmd in liquid(ctx) if cmd.kind == "dispense"] == [
            f"1/{r}2" for r in rows]


Call = Callable[[Any, Any], object]


@pytest.mark.parametrize(("api", "call", "refusal"), [
    # Below apiLevel 2.2 Opentrons 8.8.2 fails on these too, once it took a tip
    # (ZeroDivisionError, StopIteration, IndexError); labrun moved nothing, saying nothing.
    ((2, 0), lambda p, plate: p.transfer(5, plate["B1"], plate["A2"]),
     "transfer: a multi-channel pipette reaches none of the source wells with its first "
     "nozzle; give wells of the first row (a 384-well plate's too, below apiLevel 2.2)"),
    ((2, 0), lambda p, plate: p.transfer(5, plate["A1"], plate["B2"], new_tip="always"),
     "transfer: a multi-channel pipette reaches none of the dest wells with its first "
     "nozzle; give wells of the first row (a 384-well plate's too, below apiLevel 2.2)"),
    ((2, 1), lambda p, plate: p.distribute(5, plate["A1"], plate.rows()[1][:3]),
     "distribute: a multi-channel pipette reaches none of the dest wells"),
    ((2, 1), lambda p, plate: p.consolidate(5, plate.rows()[1][:3], plate["A1"]),
     "consolidate: a multi-channel pipette reaches none of the source wells"),
    ((2, 15), lambda p, plate: p.transfer(5, plate["C1"], plate["A2"]),
     "transfer: a multi-channel pipette reaches none of the source wells with its first "
     "nozzle; give wells of the first row"),
])
def test_a_multi_transfer_from_or_to_no_reachable_well_is_refused(
        api: tuple[int, int], call: Call, refusal: str) -> None:
    with open_context(api_version=api) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
        plate = ctx.load_labware("corning_384_wellplate_112ul_flat", 1)
        p = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[tips])
        with pytest.raises(ProtocolError) as refused:
            call(p, plate)
        assert str(refused.value).startswith(refusal)
        assert liquid(ctx) == []


def test_below_2_2_a_multi_transfer_between_no_reachable_wells_moves_nothing_and_says_so(
        ) -> None:
    # Opentrons 8.8.2 takes a tip, drops it and moves nothing.
    with open_context(api_version=(2, 0)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
        plate = ctx.load_labware("corning_384_wellplate_112ul_flat", 1)
        p = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[tips])
        p.transfer(5, plate.rows()[1][:2], plate.rows()[3][:2])
        assert liquid(ctx) == []
        warnings = [e.command.message for e in ctx.run.engine.entries
                    if isinstance(e.command, c.Comment)]
        assert len(warnings) == 1
        assert warnings[0].endswith(
            "transfer: a multi-channel pipette reaches none of these wells with its first "
            "nozzle, so nothing is moved, as Opentrons moves nothing; give wells of the first "
            "row (a 384-well plate's too, below apiLevel 2.2)")


@pytest.mark.parametrize("api", [(2, 13), (2, 18)])
def test_a_multi_finds_the_wells_where_the_labware_is_after_an_offset(
        api: tuple[int, int]) -> None:
    # The plate moves by exactly one column: A2 is now where A3 was. The 8-channel over
    # A2 touches column 2, and nothing tells of a tip over another well.
    with open_context(api_version=api) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(100, plate["A1"])
        p.dispense(50, plate["A3"])
        plate.set_offset(x=9.0, y=0.0, z=0.0)
        p.dispense(50, plate["A2"])
        first, second = [cmd for cmd in liquid(ctx) if isinstance(cmd, c.Dispense)]
        assert first.wells == tuple(f"1/{r}3" for r in "BCDEFGH")
        assert (second.well, second.wells) == ("1/A2", tuple(f"1/{r}2" for r in "BCDEFGH"))
        comments = [e.command.message for e in ctx.run.engine.entries
                    if isinstance(e.command, c.Comment)]
        assert not [m for m in comments if m.startswith("warning")], comments
        volumes = finish(ctx)["well_volumes_ul"]
        assert volumes["1/H2"] == 50 and volumes["1/H3"] == 50


def test_a_multi_finds_the_wells_where_the_labware_is_after_a_move_by_hand() -> None:
    # The plate goes from slot 2 to slot 3 and another takes slot 2: the second dispense
    # into the moved plate fills its column, not the new plate's.
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 5)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(100, reservoir["A1"])
        p.dispense(50, plate["A1"])
        ctx.move_labware(plate, 3)
        ctx.load_labware("corning_96_wellplate_360ul_flat", 2, "other plate")
        p.dispense(50, plate["A1"])
        moved = [cmd for cmd in liquid(ctx) if isinstance(cmd, c.Dispense)][-1]
        assert (moved.well, moved.wells) == ("3/A1", tuple(f"3/{r}1" for r in "BCDEFGH"))
        volumes = finish(ctx)["well_volumes_ul"]
        assert {w: v for w, v in volumes.items() if w.startswith(("2/", "3/"))} == {
            f"3/{r}1": 100 for r in "ABCDEFGH"}


def test_a_multi_holding_fewer_tips_than_nozzles_moves_liquid_with_those_only() -> None:
    # Picked up at B1, the 8-channel holds 7 tips: its last nozzle is bare, a tip length
    # above the liquid. The reservoir gives 7 x 100 µL (the record said 8), and row I of
    # the plate is past its end: each of A1..G1 gets 100 µL.
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip(tips["B1"])
        p.aspirate(100, reservoir["A1"])
        p.dispense(100, plate["B2"])
        aspirate, dispense = liquid(ctx)
        assert aspirate.wells == ("2/A1",) * 6
        assert dispense.wells == tuple(f"1/{r}2" for r in "CDEFGH")
        p.drop_tip()
        p.pick_up_tip()  # a whole column: all eight again
        p.aspirate(100, reservoir["A1"])
        assert liquid(ctx)[-1].wells == ("2/A1",) * 7
        volumes = finish(ctx)["well_volumes_ul"]
        assert volumes["2/A1"] == -1500
        assert {w: v for w, v in volumes.items() if w.startswith("1/")} == {
            f"1/{r}2": 100 for r in "BCDEFGH"}


def test_a_multi_whose_tips_go_past_the_labware_is_warned_of() -> None:
    # At C1 the last two tips of an 8-channel are past row H: on a robot their liquid
    # falls on whatever is in front of the plate. Nothing said so (nor does Opentrons).
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 6)
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
        p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(100, reservoir["A1"])
        p.dispense(50, plate["A1"])
        p.dispense(50, plate["C1"])
        warnings = [e.command.message for e in ctx.run.engine.entries
                    if isinstance(e.command, c.Comment) and e.command.message.startswith(
                        "warning")]
        assert len(warnings) == 1
        assert warnings[0].endswith(
            "dispense at C1 of Corning 96 Well Plate 360 µL Flat on slot 6: 2 of the 8 tips "
            "are over no well of it (past its edge, or between its wells); on a robot they "
            "would let liquid fall there")


@pytest.mark.parametrize(("name", "refusal"), [
    ("p300_single_gen2", None),  # a single channel reaches it
    ("p300_multi_gen2", "the left mount cannot reach that point (14.38, 11.24, 4.55): axis Y "
                        "would go to -20.26 mm, 20.26 mm outside its travel [0, 353] (the "
                        "8-channel's first nozzle goes to the point, and its mount 31.5 mm in "
                        "front of it)"),
])
def test_a_multi_at_a_front_row_out_of_reach_is_said_to_be_so_by_its_mount(
        name: str, refusal: str | None) -> None:
    # Row F to H of a front slot: an 8-channel's mount would go 20 mm in front of the Y
    # travel. The refusal said only "the left mount cannot reach that point", of a well a
    # single channel reaches; it names the point and why a multi-channel cannot.
    with open_context(api_version=(2, 16)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument(name, "left", tip_racks=[tips])
        p.pick_up_tip()
        if refusal is None:
            p.aspirate(10, plate["H1"])
            assert [cmd.well for cmd in liquid(ctx)] == ["1/H1"]
            return
        with pytest.raises(RunFailed) as refused:
            p.aspirate(10, plate["H1"])
        assert str(refused.value) == refusal
        assert liquid(ctx) == []
