"""InstrumentContext through simulated runs: tips, liquid, positions and what the run records.

Most tests open a context in the test thread (``open_context``), so they can compare the
commands the engine ran with the wells' own positions; a few run protocol files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file

from engine import commands as c
from engine.run import Run
from hardware.config import default_config
from hardware.frozen import replace
from protocol_api import OFF_DECK, Labware, Location, Point, open_context
from protocol_api.errors import InstrumentError, ProtocolError, TipError, VolumeError
from protocol_api.execute import EmbeddedContext, continue_when_stalled
from protocol_api.instrument import InstrumentContext
from protocol_api.labware import mark_used

TIPS_300 = "opentrons_96_tiprack_300ul"
TIPS_20 = "opentrons_96_tiprack_20ul"
PLATE = "corning_96_wellplate_360ul_flat"


class Bench:
    """An open simulated context with a p300, two tip racks and a plate."""

    def __init__(self, ctx: EmbeddedContext) -> None:
        self.ctx = ctx
        self.racks = [ctx.load_labware(TIPS_300, 4), ctx.load_labware(TIPS_300, 5)]
        self.plate = ctx.load_labware(PLATE, 1)
        self.p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=self.racks)

    @property
    def run(self) -> Run:
        return self.ctx.run

    def commands(self, kind: type[c.Command] | None = None) -> list[Any]:
        entries = [e for e in self.run.engine.entries if e.origin == "protocol"]
        return [e.command for e in entries if kind is None or isinstance(e.command, kind)]

    def summary(self) -> dict[str, Any]:
        last = self.run.record.events[-1]
        assert last["event"] == "summary"
        return last


@pytest.fixture
def bench() -> Iterator[Bench]:
    with open_context(api_version=(2, 15)) as ctx:
        yield Bench(ctx)


def ctx_commands(ctx: EmbeddedContext, kind: type[c.Command]) -> list[Any]:
    return [e.command for e in ctx.run.engine.entries if isinstance(e.command, kind)]


def plate_and_p300(ctx: EmbeddedContext) -> tuple[Labware, InstrumentContext]:
    """A plate in slot 2 and a P300 GEN2 on the right, with a rack of tips in slot 1."""
    rack = ctx.load_labware(TIPS_300, 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    return plate, ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])


def picked(bench: Bench) -> list[str]:
    return [cmd.well for cmd in bench.commands(c.PickUpTip)]


def cycle(pipette: InstrumentContext, times: int) -> None:
    for _ in range(times):
        pipette.pick_up_tip()
        pipette.drop_tip()


# -- tips -----------------------------------------------------------------------------------


def test_tips_are_taken_column_by_column_then_from_the_next_rack(bench: Bench) -> None:
    cycle(bench.p300, 3)
    assert picked(bench) == ["4/A1", "4/B1", "4/C1"]
    for well in bench.racks[0].wells()[3:]:
        mark_used(bench.racks[0], well)
    cycle(bench.p300, 2)
    assert picked(bench)[3:] == ["5/A1", "5/B1"]


def test_starting_tip_in_the_second_rack_skips_the_first_rack(bench: Bench) -> None:
    # As in Opentrons: racks before the starting tip's rack are not used at all.
    bench.p300.starting_tip = bench.racks[1]["C3"]
    cycle(bench.p300, 2)
    assert picked(bench) == ["5/C3", "5/D3"]


def test_starting_tip_in_the_first_rack_then_the_second_rack_from_its_start(
        bench: Bench) -> None:
    bench.p300.starting_tip = bench.racks[0]["G12"]
    cycle(bench.p300, 3)
    assert picked(bench) == ["4/G12", "4/H12", "5/A1"]


def test_a_starting_tip_outside_the_tip_racks_is_refused(bench: Bench) -> None:
    other = bench.ctx.load_labware(TIPS_300, 6)
    bench.p300.starting_tip = other["A1"]
    with pytest.raises(TipError, match=r"starting_tip .* is not a well of this pipette's"):
        bench.p300.pick_up_tip()
    assert bench.commands(c.PickUpTip) == []


def test_pick_up_tip_at_a_named_well_or_rack(bench: Bench) -> None:
    bench.p300.pick_up_tip(bench.racks[1]["H12"])
    bench.p300.drop_tip()
    bench.p300.pick_up_tip(bench.racks[1])  # the rack's next tip
    bench.p300.drop_tip()
    bench.p300.pick_up_tip(bench.racks[0]["B2"].top())
    bench.p300.drop_tip()
    assert picked(bench) == ["5/H12", "5/A1", "4/B2"]
    assert not bench.racks[1]["H12"].has_tip and not bench.racks[0]["B2"].has_tip


def test_a_pick_up_at_a_location_goes_to_its_point_offset_and_all(bench: Bench) -> None:
    # As Opentrons: top(-1) presses 1 mm lower, a move() shifts the nozzle; a location
    # in the rack itself takes its next tip. labrun went to the tip's top whatever it was.
    rack = bench.racks[0]
    bench.p300.pick_up_tip(rack["B1"].top(-1))
    bench.p300.drop_tip()
    bench.p300.pick_up_tip(rack["C1"].top().move(Point(1, 0, 2)))
    bench.p300.drop_tip()
    bench.p300.pick_up_tip(Location(rack["H12"].top().point, rack))
    bench.p300.drop_tip()
    b1, c1 = rack["B1"].top().point, rack["C1"].top().point
    assert [pick.point for pick in bench.commands(c.PickUpTip)] == [
        (b1.x, b1.y, b1.z - 1), (c1.x + 1, c1.y, c1.z + 2), tuple(rack["A1"].top().point)]
    assert picked(bench) == ["4/B1", "4/C1", "4/A1"]


def test_a_pick_up_pressing_past_the_z_travel_fails_before_the_pipette_moves() -> None:
    # At a tip's bottom the nozzle's press would go below the Z travel: it went down into
    # the rack and failed there, "perhaps holding a tip"; now it fails before moving.
    with open_context(api_version=(2, 15)) as ctx:
        _, p300 = plate_and_p300(ctx)
        rack = p300.tip_racks[0]
        with pytest.raises(Exception, match=r"cannot reach that point: axis A would go to "
                           r"-\d+\.\d+ mm"):
            p300.pick_up_tip(rack["G12"].bottom())
        [pick] = [e for e in ctx.run.engine.entries if isinstance(e.command, c.PickUpTip)]
        assert pick.done == 0  # not one of its moves made


@pytest.mark.parametrize("level", [(2, 12), (2, 15)])
def test_a_step_in_place_after_the_pipette_homed_goes_back_down_first(
        level: tuple[int, int]) -> None:
    # pipette.home() lifts its Z; an aspirate with no location then drew air ~190 mm above
    # A2 while the record said "aspirate from 2/A2". As Opentrons, the aspirate and the
    # dispense go back down to where the pipette was; a blow-out is done where it is.
    with open_context(api_version=level) as ctx:
        plate, p300 = plate_and_p300(ctx)
        p300.pick_up_tip()
        p300.aspirate(50, plate["A1"])
        p300.dispense(20, plate["A2"])
        p300.home()
        p300.aspirate(10)
        p300.home()
        p300.dispense(10)
        p300.home()
        p300.blow_out()
        # an empty tip: its plunger is readied up there, out of the liquid, not in A2
        p300.home()
        p300.aspirate(10)
        kinds = [type(e.command).__name__ for e in ctx.run.engine.entries
                 if e.origin == "protocol"]
        assert kinds[-12:] == ["Home", "MoveTo", "Aspirate", "Home", "MoveTo", "Dispense",
                               "Home", "BlowOut", "Home", "PrepareToAspirate", "MoveTo",
                               "Aspirate"]
        a2 = plate["A2"].bottom(1).point
        assert [m.point for m in ctx_commands(ctx, c.MoveTo)][-3:] == [tuple(a2)] * 3


def test_the_pick_up_goes_to_the_tips_top_and_the_drop_to_the_trash(bench: Bench) -> None:
    bench.p300.pick_up_tip()
    bench.p300.drop_tip()
    pick = bench.commands(c.PickUpTip)[0]
    assert pick.point == tuple(bench.racks[0]["A1"].top().point)
    assert pick.mount == "right"
    # the rack's tipLength less the p300 GEN2's overlap on it (59.3 - 8.2 mm)
    assert pick.tip_length == pytest.approx(bench.racks[0].tip_length - 8.2)
    drop = bench.commands(c.DropTip)[0]
    trash = bench.ctx.fixed_trash["A1"].top().point
    # at the trash's top; at apiLevel 2.15, right of its centre first (sides alternate)
    assert drop.point == pytest.approx((trash.x + 107.11 / 2 - 37.5, trash.y, trash.z))
    assert drop.well == "12/A1"


def test_return_tip_puts_it_back_and_it_can_be_picked_up_again_by_name(bench: Bench) -> None:
    bench.p300.pick_up_tip()
    bench.p300.return_tip()
    drop = bench.commands(c.DropTip)[0]
    # let go half a tip length into the rack (the p300's return height), as an OT-2
    rack = bench.racks[0]
    assert (drop.well, drop.point) == ("4/A1", tuple(rack["A1"].top(-0.5 * rack.tip_length)
                                                     .point))
    assert not bench.p300.has_tip
    # As in Opentrons, tip tracking is not reset: the next automatic pick-up takes a
    # fresh tip, never the used one ...
    bench.p300.pick_up_tip()
    assert picked(bench) == ["4/A1", "4/B1"]
    bench.p300.drop_tip()
    # ... and the returned tip is used again when the protocol names its well.
    bench.p300.pick_up_tip(bench.racks[0]["A1"])
    bench.p300.return_tip()
    bench.p300.pick_up_tip(bench.racks[0]["A1"])
    assert picked(bench) == ["4/A1", "4/B1", "4/A1", "4/A1"]
    bench.p300.drop_tip()


@pytest.mark.parametrize(("api", "after_reset"), [((2, 13), "1/A1"), ((2, 14), "1/B1"),
                                                  ((2, 20), "1/B1")])
def test_a_tip_put_back_is_never_picked_up_again_by_itself_from_2_14(
        api: tuple[int, int], after_reset: str) -> None:
    # Opentrons 8.8.2: from 2.14 its engine marks the rack positions a tip is dropped into
    # as used, so even after reset_tipracks() the next pick-up takes a fresh tip; before,
    # the used tip (2.13: a tip that touched liquid, picked up again).
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        rack = p.tip_racks[0]
        p.pick_up_tip()
        p.aspirate(100, plate["A1"])
        p.dispense(100, plate["A2"])
        p.reset_tipracks()
        p.return_tip()
        p.pick_up_tip()
        p.drop_tip(rack["D1"])  # into another position: used from 2.14 too
        p.pick_up_tip()
        picks = [cmd.well for cmd in ctx_commands(ctx, c.PickUpTip)]
        assert picks[:2] == ["1/A1", after_reset]
        assert picks[2] == ("1/B1" if api < (2, 14) else "1/C1")
        p.drop_tip()
        if api >= (2, 14):
            assert rack.next_tip() == rack["E1"]  # D1 was dropped into


def test_a_drop_at_a_point_in_no_well_is_refused_as_opentrons_refuses_it(bench: Bench) -> None:
    # labrun dropped the tip over the plate and recorded it as dropped in the "trash"
    bench.p300.pick_up_tip()
    with pytest.raises(ProtocolError, match=r"^drop_tip: the location \(.*\) is relative to "
                       r"Corning 96 Well Plate 360 µL Flat, not to a well; a tip is "
                       r"dropped into a well"):
        bench.p300.drop_tip(Location(Point(185.3, 121.4, 53.4), bench.plate))
    assert bench.commands(c.DropTip) == []
    bench.p300.drop_tip(bench.racks[0]["A1"].top(-10))  # relative to a well: taken
    assert [cmd.well for cmd in bench.commands(c.DropTip)] == ["4/A1"]


def test_an_8_channel_dropping_into_a_column_uses_all_its_positions() -> None:
    # Opentrons 8.8.2 at 2.20: a single channel took A1, an 8-channel A2..H2 and dropped
    # them into column 1: the single channel's next tip is A3, not B1.
    with open_context(api_version=(2, 20)) as ctx:
        rack = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
        single = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[rack])
        multi = ctx.load_instrument("p20_multi_gen2", "left", tip_racks=[rack])
        single.pick_up_tip()
        single.drop_tip()
        multi.pick_up_tip()
        multi.drop_tip(rack["A1"])
        single.pick_up_tip()
        assert [cmd.well for cmd in ctx_commands(ctx, c.PickUpTip)] == ["1/A1", "1/A2", "1/A3"]
        single.drop_tip()


@pytest.mark.parametrize(("api", "name", "z"), [
    # the tip end's height as opentrons_simulate 8.8.2 puts it (the mount's position less
    # the tip's length on it), rack top at 64.69 mm, tips 59.3 mm long
    ((2, 15), "p300_single_gen2", 64.69 - 0.5 * 59.3),
    ((2, 15), "p1000_single_gen2", None),
    ((2, 1), "p300_single_gen2", None),
])
def test_a_tip_dropped_into_a_rack_is_seated_in_it(api: tuple[int, int], name: str,
                                                   z: float | None) -> None:
    with open_context(api_version=api) as ctx:
        rack = ctx.load_labware(TIPS_300 if "300" in name else "opentrons_96_tiprack_1000ul", 4)
        pipette = ctx.load_instrument(name, "right", tip_racks=[rack])
        pipette.pick_up_tip()
        pipette.drop_tip(rack["B1"])
        (drop,) = ctx_commands(ctx, c.DropTip)
        if api < (2, 2):  # 10 mm above the well's bottom, as Opentrons before 2.2
            expected = rack["B1"].bottom(10).point.z
        else:
            expected = rack["B1"].top(-pipette.return_height * rack.tip_length).point.z
        assert drop.point[2] == pytest.approx(expected)
        if z is not None:
            assert drop.point[2] == pytest.approx(z)
        pipette.pick_up_tip()
        pipette.drop_tip(ctx.fixed_trash["A1"])  # the trash: at its top
        assert ctx_commands(ctx, c.DropTip)[-1].point[2] == ctx.fixed_trash["A1"].top().point.z


@pytest.mark.parametrize("api", [(2, 14), (2, 15), (2, 17), (2, 27)])
def test_tips_dropped_into_the_fixed_trash_go_to_either_side_in_turn(
        api: tuple[int, int]) -> None:
    # From apiLevel 2.15, as an OT-2: right of the trash's centre, then left, whichever
    # pipette drops; the X figures are opentrons_simulate 8.8.2's drop positions at 2.15
    # and 2.17 (the trash's well 107.11 mm wide, let go 37.5 mm in from an edge).
    with open_context(api_version=api) as ctx:
        rack = ctx.load_labware(TIPS_300, 1)
        right = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])
        left = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[rack])
        for pipette in (right, right, left, right):
            pipette.pick_up_tip()
            pipette.drop_tip()
        right.pick_up_tip()
        # a named well: its centre (from 2.16 a protocol cannot name the trash bin's, but
        # any other well is dropped at the same way)
        right.drop_tip(ctx.fixed_trash.first_well())
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 3)
        right.trash_container = reservoir  # another trash: its first well's centre
        right.pick_up_tip()
        right.drop_tip()
        drops = ctx_commands(ctx, c.DropTip)
        centre = ctx.fixed_trash.first_well().top().point
        xs = [drop.point[0] for drop in drops[:4]]
        if api < (2, 15):
            assert xs == pytest.approx([centre.x] * 4)
        else:
            assert xs == pytest.approx([363.895, 331.785, 363.895, 331.785])
        assert {drop.point[1:] for drop in drops[:5]} == {(centre.y, centre.z)}
        assert {drop.well for drop in drops[:5]} == {"12/A1"}
        assert drops[4].point == tuple(centre)
        assert (drops[5].well, drops[5].point) == ("3/A1", tuple(reservoir["A1"].top().point))


def test_a_named_tip_is_taken_as_it_is_from_api_2_2() -> None:
    # Tip tracking chooses tips; a well the protocol names is picked up as it is.
    with open_context(api_version=(2, 2)) as ctx:
        rack = ctx.load_labware(TIPS_300, 4)
        p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])
        cycle(p300, 1)  # 4/A1 went to the trash
        p300.pick_up_tip(rack["A1"])
        p300.drop_tip()
        assert [cmd.well for cmd in ctx_commands(ctx, c.PickUpTip)] == ["4/A1", "4/A1"]


def test_before_api_2_2_a_used_tip_is_refused_and_a_returned_one_is_unused_again() -> None:
    with open_context(api_version=(2, 1)) as ctx:
        rack = ctx.load_labware(TIPS_300, 4)
        p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])
        cycle(p300, 1)
        with pytest.raises(TipError, match="no tip in A1 of"):
            p300.pick_up_tip(rack["A1"])
        p300.pick_up_tip()
        p300.return_tip()  # B1 is marked unused again: the next pick-up takes it
        p300.pick_up_tip()
        p300.drop_tip()
        assert [cmd.well for cmd in ctx_commands(ctx, c.PickUpTip)] == ["4/A1", "4/B1", "4/B1"]


@pytest.mark.parametrize(("level", "picked"), [
    ((2, 0), ["4/A1", "4/A1", "4/A1", "4/B1"]), ((2, 1), ["4/A1", "4/A1", "4/A1", "4/B1"]),
    ((2, 2), ["4/A1", "4/B1", "4/C1", "4/D1"])])
def test_before_api_2_2_a_tip_dropped_into_an_empty_rack_position_is_picked_up_again(
        level: tuple[int, int], picked: list[str]) -> None:
    # As Opentrons: below 2.2 drop_tip into a tip rack's well (a Well or a Location in
    # one) puts the tip back in the tracking, as return_tip does; a position that still
    # holds a tip takes it back nowhere, and the log says so.
    with open_context(api_version=level) as ctx:
        rack = ctx.load_labware(TIPS_300, 4)
        p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])
        p300.pick_up_tip()
        p300.drop_tip(rack["A1"])
        p300.pick_up_tip()
        p300.drop_tip(rack["A1"].top())
        p300.pick_up_tip()
        p300.drop_tip(rack["H12"])  # a position that holds a tip
        p300.pick_up_tip()
        assert [cmd.well for cmd in ctx_commands(ctx, c.PickUpTip)] == picked
        warnings = [cmd.message for cmd in ctx_commands(ctx, c.Comment)]
        if level < (2, 2):
            assert len(warnings) == 1 and warnings[0].endswith(
                "drop_tip: the tip stays out of the tip tracking: cannot return a tip to H12 "
                "of Opentrons OT-2 96 Tip Rack 300 µL on 4: it has a tip"), warnings
        else:
            assert warnings == []


def test_a_tip_may_be_dropped_onto_any_rack_position(bench: Bench) -> None:
    # Nothing is checked, as in Opentrons: a rack position that holds a tip is a place.
    bench.p300.pick_up_tip()
    bench.p300.drop_tip(bench.racks[0]["B1"])
    drop = bench.commands(c.DropTip)[0]
    seated = bench.racks[0]["B1"].top(-0.5 * bench.racks[0].tip_length)
    assert (drop.well, drop.point) == ("4/B1", tuple(seated.point))
    # a tip is there, but from apiLevel 2.14 it counts as used, as in Opentrons' engine
    assert not bench.p300.has_tip and not bench.racks[0]["B1"].has_tip


def test_reset_tipracks_refills_them(bench: Bench) -> None:
    cycle(bench.p300, 2)
    bench.p300.reset_tipracks()
    cycle(bench.p300, 1)
    assert picked(bench) == ["4/A1", "4/B1", "4/A1"]


def test_reset_tipracks_forgets_the_starting_tip(bench: Bench) -> None:
    bench.p300.starting_tip = bench.racks[0]["C3"]
    cycle(bench.p300, 1)
    bench.p300.reset_tipracks()
    assert bench.p300.starting_tip is None  # as Opentrons: the racks' first tip next
    cycle(bench.p300, 1)
    assert picked(bench) == ["4/C3", "4/A1"]


TIP_RACK_SET_UP = """tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
"""
"""Lines 5 to 7 of a ``protocol_file``: the protocol's own lines start at line 8."""
RACK = "Opentrons OT-2 96 Tip Rack 300 µL"


def run_warnings(tmp_path: Path, body: str, api: str = "2.15") -> tuple[Path, list[str]]:
    """Simulate the tip rack set-up and ``body`` (its first line is line 8): the file and
    the warnings of its record; the run succeeds, as in Opentrons."""
    path = protocol_file(tmp_path, TIP_RACK_SET_UP + body, api)
    events = simulate_file(path).record.events
    assert events[-1]["status"] == "succeeded", events[-1]
    return path, [e["params"]["message"] for e in events if e.get("status") == "queued"
                  and e.get("type") == "comment"
                  and e["params"]["message"].startswith("warning: ")]


def test_a_named_tip_picked_up_again_after_going_to_the_trash_is_warned_of(
        tmp_path: Path) -> None:
    # Opentrons picks it up with no word (from apiLevel 2.2 a named well is taken as it
    # is); on a robot the pipette finds no tip at A1 and aspirates with a bare nozzle.
    path, warnings = run_warnings(tmp_path, """p.pick_up_tip(tips["A1"])
p.drop_tip()
p.pick_up_tip(tips["A1"])
p.drop_tip()""")
    assert warnings == [
        f"warning: {path}:10: pick_up_tip: A1 of {RACK} on slot 1 has no tip: its tip was "
        f"taken at {path}:8 and not put back; on a robot the pipette would pick up nothing"]


@pytest.mark.parametrize(("refill", "warned"), [
    ("", True),
    ('ctx.pause("Replace the tips")', False),  # a person may refill the rack at a pause
    ("ctx.move_labware(tips, 2)", False),  # the run pauses for a person to move it
    ('ctx.comment("Replace the tips")', True),  # no pause: nobody is at the deck
])
def test_a_tip_taken_before_reset_tipracks_is_warned_of_unless_the_run_paused(
        tmp_path: Path, refill: str, warned: bool) -> None:
    # reset_tipracks() refills the tip tracking, not the rack: the next pick-up is A1
    # again, whose tip went to the trash.
    path, warnings = run_warnings(tmp_path, f"""p.pick_up_tip()
p.drop_tip()
{refill or "pass"}
p.reset_tipracks()
p.pick_up_tip()
p.drop_tip()""")
    slot = "slot 2" if "move_labware" in refill else "slot 1"
    assert warnings[-1:] == ([f"warning: {path}:12: pick_up_tip: A1 of {RACK} on {slot} has "
                              f"no tip: its tip was taken at {path}:8 and not put back; on "
                              "a robot the pipette would pick up nothing"] if warned else [])


@pytest.mark.parametrize("api", ["2.1", "2.13", "2.20"])
def test_a_tip_put_back_is_picked_up_again_with_no_warning(tmp_path: Path, api: str) -> None:
    # From 2.14 tip tracking counts A1 as used after return_tip (a pick-up by name takes
    # it); its tip is back in the rack all the same, as after a drop_tip into A1.
    _, warnings = run_warnings(tmp_path, """p.pick_up_tip()
p.return_tip()
p.pick_up_tip(tips["A1"])
p.drop_tip(tips["A1"])
p.pick_up_tip(tips["A1"])
p.drop_tip()
m.pick_up_tip(tips["A2"])
m.return_tip()
p.pick_up_tip(tips["H2"])
p.drop_tip()""", api)
    assert warnings == []


def test_a_multi_channel_pick_up_where_some_tips_are_gone_is_warned_of_once(
        tmp_path: Path) -> None:
    # A1 and C1 went to the trash on the single channel: on a robot two of the 8-channel's
    # nozzles come up bare, and the warning names both.
    path, warnings = run_warnings(tmp_path, """p.pick_up_tip(tips["A1"])
p.drop_tip()
p.pick_up_tip(tips["C1"])
p.drop_tip()
m.pick_up_tip(tips["A1"])
m.drop_tip()""")
    assert warnings == [
        f"warning: {path}:12: pick_up_tip: A1 and C1 of {RACK} on slot 1 have no tips: "
        f"their tips were taken at {path}:8 (A1) and {path}:10 (C1) and not put back; on a "
        "robot the nozzles over them would pick up nothing"]


def test_a_multi_channel_pick_up_with_a_tip_gone_between_two_is_warned_of(
        tmp_path: Path) -> None:
    # D1 went to the trash on the single channel: at A1 the 8-channel's fourth nozzle
    # comes up bare between two that take tips, and row D moves no liquid on a robot. Not
    # the end of the column emptied on purpose (single tips up a column): it was silent.
    path, warnings = run_warnings(tmp_path, """p.pick_up_tip(tips["D1"])
p.drop_tip()
m.pick_up_tip(tips["A1"])
m.drop_tip()
p.pick_up_tip(tips["H2"])
p.drop_tip()
m.pick_up_tip(tips["A2"])
m.drop_tip()""")
    assert warnings == [
        f"warning: {path}:10: pick_up_tip: D1 of {RACK} on slot 1 has no tip: its tip was "
        f"taken at {path}:8 and not put back; on a robot the nozzle over it would pick up "
        "nothing"]


def test_a_multi_channel_pick_up_by_itself_where_the_last_tips_are_gone_is_warned_of(
        tmp_path: Path) -> None:
    # Tip tracking (reset) sends the 8-channel to A1, whose H1 went to the trash: it
    # takes seven tips and row H moves no liquid. Not a single tip taken on purpose up a
    # column, which names its well: the pick-up chose the place itself.
    path, warnings = run_warnings(tmp_path, """p.pick_up_tip(tips["H1"])
p.drop_tip()
m.reset_tipracks()
m.pick_up_tip()
m.drop_tip()""")
    assert warnings == [
        f"warning: {path}:11: pick_up_tip: H1 of {RACK} on slot 1 has no tip: its tip was "
        f"taken at {path}:8 and not put back; on a robot the nozzle over it would pick up "
        "nothing"]


@pytest.mark.parametrize(("api", "body", "line", "put_back"), [
    # below 2.2 return_tip marks its tip unused, as in Opentrons: new_tip="always" with
    # trash=False takes the tip it has just returned, for every pair
    ("2.1", 'p.transfer(10, plate.wells()[:2], plate.wells()[2:4], new_tip="always", '
     "trash=False)", 9, 9),
    # at any level reset_tipracks() offers a tip put back again
    ("2.15", 'p.pick_up_tip()\np.aspirate(10, plate["A1"])\np.return_tip()\n'
     'p.reset_tipracks()\np.distribute(10, plate["A2"], plate.wells()[8:10])', 13, 11),
])
def test_a_transfer_whose_new_tip_is_one_put_back_is_warned_of(
        tmp_path: Path, api: str, body: str, line: int, put_back: int) -> None:
    # It was silent: a new tip is what new_tip asks for, and a used one carries what it
    # touched into the wells of the transfer.
    path, warnings = run_warnings(tmp_path, f'plate = ctx.load_labware("{PLATE}", 2)\n' + body,
                                  api)
    call = "transfer" if "transfer" in body else "distribute"
    assert warnings == [
        f"warning: {path}:{line}: {call}: the new tip it picks up, A1 of {RACK} on "
        f"{'1' if api == '2.1' else 'slot 1'}, "  # as a well prints at that level
        f"is a used one, put back at {path}:{put_back}; tip tracking offers it again "
        "(return_tip below apiLevel 2.2, as in Opentrons, or reset_tipracks()), and on a "
        f"robot it carries what it touched into the {call}'s wells"]



def test_a_tip_put_back_that_touched_no_liquid_is_not_warned_of_as_a_used_one(
        tmp_path: Path) -> None:
    # Tips moved from rack to rack (a protocol that lays out single tips for an
    # 8-channel) touched nothing: a transfer that picks one up again takes a clean tip.
    _, warnings = run_warnings(tmp_path, f"""plate = ctx.load_labware("{PLATE}", 2)
p.pick_up_tip()
p.return_tip()
p.reset_tipracks()
p.transfer(10, plate["A1"], plate["A2"])""")
    assert warnings == []


def test_a_used_tip_taken_again_and_put_back_untouched_is_still_a_used_one(
        tmp_path: Path) -> None:
    # It touched liquid before it was first put back: picked up and put back again
    # without a liquid step, it still carries what it touched.
    path, warnings = run_warnings(tmp_path, f"""plate = ctx.load_labware("{PLATE}", 2)
p.pick_up_tip()
p.aspirate(10, plate["A1"])
p.return_tip()
p.pick_up_tip(tips["A1"])
p.return_tip()
p.reset_tipracks()
p.transfer(10, plate["A2"], plate["A3"])""")
    assert warnings == [
        f"warning: {path}:15: transfer: the new tip it picks up, A1 of {RACK} on slot 1, "
        f"is a used one, put back at {path}:13; tip tracking offers it again "
        "(return_tip below apiLevel 2.2, as in Opentrons, or reset_tipracks()), and on a "
        "robot it carries what it touched into the transfer's wells"]

def test_a_multi_channel_pick_up_where_every_tip_is_gone_says_the_pipette_takes_none(
        tmp_path: Path) -> None:
    # at E1 an 8-channel takes the four tips left in the column: none is there
    path, warnings = run_warnings(tmp_path, """m.pick_up_tip(tips["A1"])
m.drop_tip()
m.pick_up_tip(tips["E1"])
m.drop_tip()""")
    assert warnings == [
        f"warning: {path}:10: pick_up_tip: E1, F1, G1 and H1 of {RACK} on slot 1 have no "
        f"tips: their tips were taken at {path}:8 and not put back; on a robot the pipette "
        "would pick up nothing"]


def test_a_multi_channel_taking_single_tips_up_a_column_is_not_warned_of(
        tmp_path: Path) -> None:
    # A common way to take one tip with an 8-channel: H1 (the nozzles past the rack's
    # end take none), then G1, whose second nozzle comes over the emptied H1: it takes
    # one tip, as meant. Only a first nozzle over an emptied position is warned of.
    path, warnings = run_warnings(tmp_path, f"""back = ctx.load_labware("{TIPS_300}", 7)
m.pick_up_tip(back["H1"])
m.drop_tip()
m.pick_up_tip(back["G1"])
m.drop_tip()
m.pick_up_tip(back["G1"])
m.drop_tip()""")
    assert warnings == [
        f"warning: {path}:13: pick_up_tip: G1 and H1 of {RACK} on slot 7 have no tips: "
        f"their tips were taken at {path}:11 (G1) and {path}:9 (H1) and not put back; on a "
        "robot the pipette would pick up nothing"]


def test_a_multi_channel_taking_single_tips_up_a_column_moves_liquid_with_them_only(
        tmp_path: Path) -> None:
    # At G1, after H1's tip went to the trash, the 8-channel takes one tip: its second
    # nozzle, over the emptied H1, comes up bare, as past the rack's end. The run counted
    # two tips, then three at F1, and liquid moved under the bare nozzles (B1 to B2, C1
    # to C2), which the robot never touches: the summary and the liquids to load said so.
    path = protocol_file(tmp_path, TIP_RACK_SET_UP + f"""back = ctx.load_labware("{TIPS_300}", 7)
plate = ctx.load_labware("{PLATE}", 2)
for well in ["H1", "G1", "F1"]:
    m.pick_up_tip(back[well])
    m.aspirate(50, plate["A1"])
    m.dispense(50, plate["A2"])
    m.drop_tip()""")
    events = simulate_file(path).record.events
    assert events[-1]["status"] == "succeeded", events[-1]
    queued = [e for e in events if e.get("status") == "queued"
              and e["type"] in ("pickUpTip", "aspirate", "dispense")]
    assert [(e["type"], e["params"]["well"], e["params"].get("tips"),
             list(e["params"].get("wells", ()))) for e in queued] == [
        (kind, well, tips, []) for pick in ("7/H1", "7/G1", "7/F1") for kind, well, tips in (
            ("pickUpTip", pick, 1), ("aspirate", "2/A1", None), ("dispense", "2/A2", None))]
    summary = events[-1]
    assert summary["tips_used"] == 3
    assert {w: v for w, v in summary["well_volumes_ul"].items() if v} == {
        "2/A1": -150.0, "2/A2": 150.0}


def test_the_tips_a_partial_layout_took_are_gone_for_the_full_layout(tmp_path: Path) -> None:
    # every position a nozzle took a tip from, in whatever layout
    path, warnings = run_warnings(tmp_path, """from opentrons.protocol_api import ALL, SINGLE
m.configure_nozzle_layout(SINGLE, start="H1")
m.pick_up_tip(tips["A1"])  # the other nozzles are behind the rack
m.drop_tip()
m.configure_nozzle_layout(ALL, tip_racks=[tips])
m.pick_up_tip(tips["A1"])
m.drop_tip()""", "2.20")
    assert warnings == [
        f"warning: {path}:13: pick_up_tip: A1 of {RACK} on slot 1 has no tip: its tip was "
        f"taken at {path}:10 and not put back; on a robot the nozzle over it would pick up "
        "nothing"]


def test_a_protocol_that_takes_each_tip_once_is_not_warned_of(tmp_path: Path) -> None:
    # 40 tips for the single channel, six columns for the 8-channel, one tip put back
    # (which tip tracking, from 2.14, passes over) and the next one
    _, warnings = run_warnings(tmp_path, f"""plate = ctx.load_labware("{PLATE}", 2)
p.transfer(10, plate["A1"], plate.wells()[8:48], new_tip="always")
m.transfer(10, plate["A1"], plate.rows()[0][6:], new_tip="always")
p.transfer(10, plate["A1"], plate["B1"], new_tip="always", trash=False)
p.pick_up_tip()
p.drop_tip()""")
    assert warnings == []


def test_out_of_tips_names_the_racks() -> None:
    with open_context() as ctx:
        rack = ctx.load_labware(TIPS_20, 2)
        p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[rack])
        for well in rack.wells()[:-1]:
            mark_used(rack, well)
        cycle(p20, 1)
        with pytest.raises(TipError, match="out of tips; every tip in "
                                           "opentrons_96_tiprack_20ul in slot 2 has been used"):
            p20.pick_up_tip()


def test_pick_up_tip_without_tip_racks_or_location_is_refused() -> None:
    with open_context() as ctx:
        p = ctx.load_instrument("p20_single_gen2", "left")
        with pytest.raises(TipError, match="no tip_racks"):
            p.pick_up_tip()


def test_tip_racks_set_as_a_generator_fail_the_pick_up_with_no_location() -> None:
    """As in Opentrons, a generator set as tip_racks is kept so: the next pick-up with no
    location fails; a list set again picks from the racks."""
    with open_context() as ctx:
        rack = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
        p = ctx.load_instrument("p20_single_gen2", "left")
        p.tip_racks = (r for r in [rack])  # type: ignore[assignment]
        assert p.tip_racks == [rack]
        with pytest.raises(TipError) as refused:
            p.pick_up_tip()
        assert str(refused.value).startswith("pick_up_tip: no location given, and this "
                                             "pipette's tip_racks is a generator (set as "
                                             "tip_racks")
        assert not p.has_tip
        p.tip_racks = [rack]
        p.pick_up_tip()
        assert p.has_tip


def test_tips_used_counts_every_pick_up(bench: Bench) -> None:
    cycle(bench.p300, 5)
    bench.p300.pick_up_tip()
    bench.p300.return_tip()
    bench.ctx.run.channel.finish()
    bench.run.wait(timeout=30)
    assert bench.summary()["tips_used"] == 6


# -- liquid ---------------------------------------------------------------------------------


def test_aspirate_and_dispense_at_a_well_go_to_its_bottom_clearance(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.aspirate(100, plate["A1"])
    p.well_bottom_clearance.dispense = 3.5
    p.dispense(60, plate["B2"])
    p.dispense(40, plate["C3"].top(-2))
    moves = bench.commands(c.MoveTo)
    assert [m.point for m in moves] == [tuple(plate["A1"].bottom(1.0).point),
                                        tuple(plate["B2"].bottom(3.5).point),
                                        tuple(plate["C3"].top(-2).point)]
    assert [m.well for m in moves] == ["1/A1", "1/B2", "1/C3"]
    liquid = bench.commands(c.Aspirate) + bench.commands(c.Dispense)
    assert [(cmd.kind, cmd.volume, cmd.well) for cmd in liquid] == [
        ("aspirate", 100, "1/A1"), ("dispense", 60, "1/B2"), ("dispense", 40, "1/C3")]
    assert p.current_volume == 0


@pytest.mark.parametrize(("level", "shown"), [
    ((2, 13), ["0.0", "0", "100", "120.0", "60.0", "0.0", "300.0", "0", "20", "300", "0"]),
    ((2, 14), ["0", "0", "100.0", "120.0", "60.0", "0", "300.0", "0", "20.0", "300.0", "0"]),
    ((2, 20), ["0", "0", "100.0", "120.0", "60.0", "0", "300.0", "0", "20.0", "300.0", "0"]),
])
def test_current_volume_prints_as_opentrons_through_air_gaps_and_blow_outs(
        level: tuple[int, int], shown: list[str]) -> None:
    """What print(pipette.current_volume) shows in Opentrons 8.8.2: from apiLevel 2.14 the
    int 0 when the tip is empty (its engine core returns ``volume or 0``); below 2.14 the
    sum of the volumes as the protocol gave them (aspirate(100) shows 100, aspirate(20.0)
    then 120.0), the int 0 after a pick-up, a blow-out or a drop, 0.0 before any tip, and
    with an aspirate of all it can take, what the tip holds less what the count shows
    (300 - 0.0 is 300.0, 300 - 0 is 300)."""
    with open_context(api_version=level) as ctx:
        plate, p = plate_and_p300(ctx)
        seen = [str(p.current_volume)]
        p.pick_up_tip()
        seen.append(str(p.current_volume))
        p.aspirate(100, plate["A1"])
        seen.append(str(p.current_volume))
        p.aspirate(20.0)
        seen.append(str(p.current_volume))
        p.dispense(60)
        seen.append(str(p.current_volume))
        p.dispense()
        seen.append(str(p.current_volume))
        p.aspirate(300 if level >= (2, 14) else None)
        seen.append(str(p.current_volume))
        p.blow_out()
        seen.append(str(p.current_volume))
        p.air_gap(20)
        seen.append(str(p.current_volume))
        p.dispense(20)
        p.aspirate(300 if level >= (2, 14) else None)
        seen.append(str(p.current_volume))
        p.drop_tip()
        seen.append(str(p.current_volume))
        assert seen == shown


@pytest.mark.parametrize(("level", "single", "multi"), [
    ((2, 13), "1", "8"), ((2, 14), "single", "multi"), ((2, 20), "single", "multi")])
def test_channels_prints_as_opentrons_prints_it(level: tuple[int, int], single: str,
                                                multi: str) -> None:
    """From apiLevel 2.14 Opentrons 8.8.2's ``channels`` is its PipetteChannelType, an int
    that prints as "single" or "multi" (print(p.channels), f"{p.channels}"); below 2.14 a
    plain int. It still equals and counts as 1 or 8."""
    with open_context(api_version=level) as ctx:
        p300 = ctx.load_instrument("p300_single_gen2", "right")
        multi_300 = ctx.load_instrument("p300_multi_gen2", "left")
        assert (str(p300.channels), f"{multi_300.channels}") == (single, multi)
        assert (p300.channels, multi_300.channels + 0, multi_300.channels > 1) == (1, 8, True)


def test_numbers_of_other_real_types_are_taken_as_plain_numbers(bench: Bench) -> None:
    # Volumes read from a CSV file with numpy or pandas arrive as numpy's scalars: any
    # real number is taken (a Fraction here; numpy's int64 and float32 below, if numpy
    # is installed), and what reaches the commands and the run record is a plain float.
    p, plate = bench.p300, bench.plate
    numbers: list[Any] = [Fraction(101, 2), Fraction(50)]
    with contextlib.suppress(ImportError):
        import numpy
        numbers += [numpy.int64(50), numpy.float32(50.5)]
    p.pick_up_tip()
    for volume in numbers:
        p.aspirate(volume, plate["A1"])
        p.dispense(volume, plate["B1"])
    p.mix(Fraction(2), Fraction(20), plate["B1"])
    p.transfer([Fraction(10), Fraction(20)], plate["A1"], [plate["B1"], plate["B2"]],
               new_tip="never")
    volumes = [cmd.volume for cmd in bench.commands(c.Aspirate)]
    assert volumes == [float(v) for v in numbers] + [20.0, 20.0, 10.0, 20.0]
    assert all(type(v) is float for v in volumes)
    with pytest.raises(VolumeError, match="volume must be a number of µL, not 'x'"):
        p.aspirate("x", plate["A1"])
    with contextlib.suppress(ImportError):
        import numpy
        with pytest.raises(ProtocolError, match=r"aspirate: volume is nan; every number"):
            p.aspirate(numpy.float32("nan"), plate["A1"])


def test_a_transfers_mix_counts_are_any_real_number_as_mix_takes_them(bench: Bench) -> None:
    # (repetitions, volume) inside a transfer's options: a count read with numpy (a
    # Fraction here) is a count, and one that is not whole mixes ceil(r) times, as mix()
    # itself does, with its warning; a count that is not a number is refused.
    p, plate = bench.p300, bench.plate
    p.transfer(20, plate["A1"], plate["B1"], mix_after=(Fraction(2), Fraction(30)))
    p.transfer(20, plate["A1"], plate["B2"], mix_before=(2.5, 40))
    strokes = [(cmd.kind, cmd.volume, cmd.well) for cmd in bench.commands()
               if isinstance(cmd, (c.Aspirate, c.Dispense))]
    assert strokes == [("aspirate", 20.0, "1/A1"), ("dispense", 20.0, "1/B1"),
                       *[("aspirate", 30.0, "1/B1"), ("dispense", 30.0, "1/B1")] * 2,
                       *[("aspirate", 40.0, "1/A1"), ("dispense", 40.0, "1/A1")] * 3,
                       ("aspirate", 20.0, "1/A1"), ("dispense", 20.0, "1/B2")]
    with pytest.raises(ProtocolError, match=r"transfer: mix_after must be \(repetitions, "
                       r"volume\), not \('2', 30\)"):
        p.transfer(20, plate["A1"], plate["B1"], mix_after=("2", 30))


def test_volume_none_means_all_the_tip_holds_or_all_it_has(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.aspirate(120, plate["A1"])
    p.aspirate(None, plate["A1"])  # the rest of the 300 µL
    assert p.current_volume == 300
    p.dispense(location=plate["B1"])  # everything
    assert p.current_volume == 0
    assert [cmd.volume for cmd in bench.commands(c.Aspirate)] == [120, 180]
    assert [cmd.volume for cmd in bench.commands(c.Dispense)] == [300]


def test_aspirate_none_with_small_tips_draws_what_the_tip_holds() -> None:
    with open_context() as ctx:
        rack = ctx.load_labware(TIPS_20, 2)
        plate = ctx.load_labware(PLATE, 1)
        p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[rack])
        p300.pick_up_tip()
        p300.aspirate(None, plate["A1"])
        assert p300.current_volume == 20
        with pytest.raises(VolumeError, match="holds at most 20 µL"):
            p300.aspirate(1)


@pytest.mark.parametrize(("api", "zero_means_all"), [((2, 15), True), ((2, 16), False)])
def test_a_volume_of_zero_depends_on_the_api_level_as_in_opentrons(
        api: tuple[int, int], zero_means_all: bool) -> None:
    with open_context(api_version=api) as ctx:
        rack = ctx.load_labware(TIPS_300, 2)
        plate = ctx.load_labware(PLATE, 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[rack])
        p.pick_up_tip()
        p.aspirate(0, plate["A1"])
        assert p.current_volume == (300 if zero_means_all else 0)
        p.blow_out()
        p.aspirate(50)
        p.dispense(0, plate["A2"])
        assert p.current_volume == (0 if zero_means_all else 50)
        p.blow_out()
        p.mix(1, 0)
        assert [cmd.volume for cmd in ctx_commands(ctx, c.Aspirate)][-1] == (
            300 if zero_means_all else 0)


def test_aspirating_in_place_uses_the_last_location(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.move_to(plate["D4"].bottom(2))
    p.aspirate(30)
    p.dispense(30)
    assert [cmd.well for cmd in bench.commands(c.Aspirate)] == ["1/D4"]
    assert [cmd.well for cmd in bench.commands(c.Dispense)] == ["1/D4"]
    assert len(bench.commands(c.MoveTo)) == 1


@contextlib.contextmanager
def two_pipettes(api: tuple[int, int]) -> Iterator[tuple[EmbeddedContext, Any, Any, Labware]]:
    """A context with a p20 on the left and a p300 on the right, each holding a tip and
    liquid from the plate (left at B1, then right at A1: the right moved last)."""
    with open_context(api_version=api) as ctx:
        plate = ctx.load_labware(PLATE, 2)
        left = ctx.load_instrument("p20_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS_20, 4)])
        right = ctx.load_instrument("p300_single_gen2", "right",
                                    tip_racks=[ctx.load_labware(TIPS_300, 1)])
        left.pick_up_tip()
        right.pick_up_tip()
        left.aspirate(5, plate["B1"])
        right.aspirate(50, plate["A1"])
        yield ctx, left, right, plate


def liquid_steps(ctx: EmbeddedContext) -> list[tuple[str, str, str | None]]:
    """(command, mount, well) of every move and liquid step after the tips were taken."""
    kinds = (c.MoveTo, c.Aspirate, c.Dispense, c.BlowOut, c.TouchTip)
    return [(type(cmd).__name__, cmd.mount, cmd.well)
            for e in ctx.run.engine.entries if isinstance(cmd := e.command, kinds)]


@pytest.mark.parametrize("api", [(2, 8), (2, 13)])
def test_below_2_14_in_place_means_where_either_pipette_last_went(
        api: tuple[int, int]) -> None:
    # The pipettes share the gantry: once the right one moved to A1, the left one is no
    # longer at B1. As Opentrons before 2.14 (checked with opentrons_simulate 8.8.2 at 2.8
    # and 2.13), the left one's in-place steps act at A1, and it goes there first.
    for call in ("dispense", "blow_out"):
        with two_pipettes(api) as (ctx, left, _, _):
            getattr(left, call)()
            kind = "Dispense" if call == "dispense" else "BlowOut"
            assert liquid_steps(ctx)[-2:] == [("MoveTo", "left", "2/A1"), (kind, "left", "2/A1")]


def test_from_2_14_in_place_after_the_other_pipette_moved_is_refused() -> None:
    # As Opentrons from 2.14: a pipette acts in place only where it moved last.
    with two_pipettes((2, 15)) as (ctx, left, right, _):
        before = len(ctx.run.engine.entries)
        for call in (left.dispense, left.blow_out, lambda: left.mix(1, 5)):
            with pytest.raises(ProtocolError, match=r"the right pipette has moved since this "
                                                     r"one did .* give a location"):
                call()
        assert len(ctx.run.engine.entries) == before  # refused before anything moved
        right.dispense(10)  # the right one is where it moved last: in place at A1
        assert liquid_steps(ctx)[-1] == ("Dispense", "right", "2/A1")


@pytest.mark.parametrize("api", [(2, 8), (2, 15)])
def test_touch_tip_and_air_gap_act_at_the_last_well_of_either_pipette(
        api: tuple[int, int]) -> None:
    # As Opentrons at every level: the last well any pipette went to.
    with two_pipettes(api) as (ctx, left, _, _):
        left.touch_tip()
        left.dispense(5)  # the left pipette went to A1 for the touch: in place there now
        left.air_gap(2)
        assert liquid_steps(ctx)[-4:] == [
            ("TouchTip", "left", "2/A1"), ("Dispense", "left", "2/A1"),
            ("MoveTo", "left", "2/A1"), ("Aspirate", "left", "2/A1")]


@pytest.mark.parametrize("api", [(2, 8), (2, 15)])
def test_after_the_robot_homed_in_place_is_refused(api: tuple[int, int]) -> None:
    # The pipettes are at the home position, over no well the protocol named. Opentrons
    # refuses before 2.14; from 2.14 it would dispense at the home position: labrun
    # refuses at every level.
    with two_pipettes(api) as (ctx, _, right, plate):
        ctx.home()
        for call in (right.dispense, right.blow_out, lambda: right.aspirate(10)):
            with pytest.raises(ProtocolError, match=r"the pipettes have homed since the last "
                                                     r"move \(ctx.home\(\)"):
                call()
        right.dispense(10, plate["C1"])
        right.dispense(10)
        assert liquid_steps(ctx)[-2:] == [("Dispense", "right", "2/C1")] * 2


@pytest.mark.parametrize("api", [(2, 8), (2, 15)])
def test_a_touch_tip_or_air_gap_after_the_robot_homed_says_it_homed(
        api: tuple[int, int]) -> None:
    """touch_tip() and air_gap() with no well after ctx.home() said "the last move was not
    to a well" and "a pipette must have been at a well first", where the last move was to a
    well: the robot homed since, which is what they say now. (Opentrons 8.8.2 refuses them
    below apiLevel 2.14, "Cached location of None"; from 2.14 it goes back to that well.)"""
    with two_pipettes(api) as (ctx, _, right, plate):
        right.aspirate(10, plate["C1"])
        ctx.home()
        with pytest.raises(ProtocolError, match=r"^touch_tip: no location given and the "
                           r"pipettes have homed since the last move \(ctx.home\(\), or "
                           r"lifted clear of a module\); give the well$"):
            right.touch_tip()
        with pytest.raises(ProtocolError, match=r"^air_gap: the pipettes have homed since the "
                           r"last move \(ctx.home\(\), or lifted clear of a module\); move to "
                           r"the well to take the air gap above first$"):
            right.air_gap(5)
        right.touch_tip(plate["C1"])
        right.air_gap(5)
        assert liquid_steps(ctx)[-3:] == [("TouchTip", "right", "2/C1"),
                                          ("MoveTo", "right", "2/C1"),
                                          ("Aspirate", "right", "2/C1")]


@pytest.mark.parametrize(("name", "height"), [
    ("p300_single_gen2", 0.5), ("p300_multi_gen2", 0.4), ("p1000_single_gen2", 0.83),
    ("p10_single", 0.5)])
def test_return_height_and_requested_as_are_the_definitions_and_the_load_name(
        name: str, height: float) -> None:
    # return_height as Opentrons 8.8.2 gives it at apiLevel 2.13 and 2.15
    with open_context(api_version=(2, 15)) as ctx:
        pipette = ctx.load_instrument(name, "left")
        assert pipette.return_height == height
        assert pipette.requested_as == name


def test_flow_rates_and_rate_set_the_plunger_speed(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    assert (p.flow_rate.aspirate, p.flow_rate.dispense, p.flow_rate.blow_out) == (
        92.86, 92.86, 92.86)
    p.flow_rate.aspirate = 50
    p.pick_up_tip()
    p.aspirate(100, plate["A1"], rate=2.0)
    p.dispense(100, plate["A1"], rate=0.5)
    assert bench.commands(c.Aspirate)[0].flow_rate == 100.0
    assert bench.commands(c.Dispense)[0].flow_rate == pytest.approx(46.43)
    with pytest.raises(ProtocolError, match=r"flow_rate\.dispense must be a positive number"):
        p.flow_rate.dispense = 0


def test_blow_out_at_a_well_goes_to_its_top_and_empties_the_tip_into_it(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.aspirate(80, plate["A1"])
    p.dispense(70, plate["A2"])
    p.blow_out(plate["A3"])
    assert p.current_volume == 0
    blow = bench.commands(c.BlowOut)[0]
    assert blow.well == "1/A3" and blow.flow_rate == 92.86
    assert bench.commands(c.MoveTo)[-1].point == tuple(plate["A3"].top().point)
    p.blow_out()  # in place: no new move
    assert len(bench.commands(c.MoveTo)) == 3 and len(bench.commands(c.BlowOut)) == 2
    bench.ctx.run.channel.finish()
    bench.run.wait(timeout=30)
    blows = [e.result for e in bench.run.engine.entries if isinstance(e.command, c.BlowOut)]
    # The second blow-out had an empty tip: it blew out air.
    assert blows == [{"volume_in_tip": 0.0, "volume_expelled": 10.0},
                     {"volume_in_tip": 0.0, "volume_expelled": 0.0}]
    volumes = bench.summary()["well_volumes_ul"]
    assert volumes == {"1/A1": -80, "1/A2": 70, "1/A3": 10}
    assert sum(volumes.values()) == 0  # liquid is conserved


def test_mix_repeats_aspirate_and_dispense_at_one_place(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.mix(3, 50, plate["B5"])
    kinds = [cmd.kind for cmd in bench.commands()
             if isinstance(cmd, (c.Aspirate, c.Dispense, c.MoveTo))]
    assert kinds == ["moveTo"] + ["aspirate", "dispense"] * 3
    assert {cmd.volume for cmd in bench.commands(c.Aspirate)} == {50}
    assert {cmd.well for cmd in bench.commands(c.Dispense)} == {"1/B5"}
    p.mix()  # one repetition of the tip's full volume, in place
    assert bench.commands(c.Aspirate)[-1].volume == 300
    assert p.current_volume == 0


MIX_SAYS = ("mix: no volume given: labrun draws all the tip takes, as Opentrons documents "
            "it ({}), but Opentrons' own software draws 0 µL into an empty tip from apiLevel "
            "2.14 ({}); give the volume")


@pytest.mark.parametrize(("api", "held", "times", "warned"), [
    ((2, 13), 100, 2, None),  # Opentrons' legacy software draws all the tip takes too
    ((2, 16), 100, 1, None),  # one draw into a tip holding liquid: the same in both
    ((2, 16), 100, 2, MIX_SAYS.format("200 µL, then 300 µL into the emptied tip",
                                      "200 µL, then 0 µL")),
    ((2, 16), 100, 3, MIX_SAYS.format("200 µL, then 300 µL each time into the emptied tip",
                                      "200 µL, then 0 µL each time")),
    ((2, 14), 0, 1, MIX_SAYS.format("300 µL", "0 µL: no liquid moves")),
    ((2, 20), 0, 2, MIX_SAYS.format("300 µL each time", "0 µL each time: no liquid moves")),
    ((2, 15), 0, 2, MIX_SAYS.replace("no volume given", "volume 0 (none, below apiLevel 2.16)")
     .format("300 µL each time", "0 µL each time: no liquid moves")),
])
def test_a_mix_with_no_volume_is_warned_of_with_the_draws_of_both(
        api: tuple[int, int], held: float, times: int, warned: str | None) -> None:
    # Opentrons 8.8.2 at 2.16, 100 µL in the tip, mix(2): aspirates 200 µL, dispenses 300,
    # then aspirates 0 µL and dispenses 0 (it draws 0 µL into an empty tip from 2.14).
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        if held:
            p.aspirate(held, plate["A1"])
        p.mix(times, 0 if warned and "volume 0" in warned else None, plate["A4"])
        draws = [cmd.volume for cmd in ctx_commands(ctx, c.Aspirate)][1 if held else 0:]
        assert draws == [300 - held] + [300] * (times - 1)
        assert [cmd.volume for cmd in ctx_commands(ctx, c.Dispense)] == [300] * times
        warnings = [cmd.message for cmd in ctx_commands(ctx, c.Comment)]
        assert [w.split(": ", 2)[2] for w in warnings] == ([] if warned is None else [warned])


def test_move_to_a_location_goes_there_exactly_and_a_well_itself_is_refused(
        bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    with pytest.raises(ProtocolError, match=r"^move_to: give a point of the well, such as "
                                            r"H12\.top\(\), \.bottom\(\) or \.center\(\), not "
                                            r"the well H12 of .* itself \(Opentrons refuses"):
        p.move_to(plate["H12"])  # as Opentrons: which point of it?
    assert bench.commands(c.MoveTo) == []
    p.move_to(plate["H12"].top())
    p.move_to(Location(Point(100, 100, 50), None), force_direct=True, speed=40)
    p.move_to(plate["A1"].top(5), minimum_z_height=90)
    moves = bench.commands(c.MoveTo)
    assert [(m.point, m.well) for m in moves] == [
        (tuple(plate["H12"].top().point), "1/H12"), ((100, 100, 50), None),
        (tuple(plate["A1"].top(5).point), "1/A1")]
    assert (moves[1].force_direct, moves[1].speed) == (True, 40)
    assert moves[2].minimum_z_height == 90
    # The robot really went there: the right mount's nozzle is above A1 at the end.
    position = bench.run.engine.model.position
    offset = bench.run.config.mount("right").offset
    a1 = plate["A1"].top(5).point
    assert position["X"] == pytest.approx(a1.x - offset[0])
    assert position["Y"] == pytest.approx(a1.y - offset[1])


def test_a_pipettes_home_homes_its_z_and_plunger_only(bench: Bench) -> None:
    bench.p300.move_to(bench.plate["A1"].top())
    before = dict(bench.run.engine.model.position)
    bench.p300.home()
    mount = bench.run.config.mount("right")
    assert bench.commands()[-1] == c.Home(axes=(mount.z_axis, mount.plunger_axis))
    position = bench.run.engine.model.position
    axes = bench.run.config.axes
    assert position[mount.z_axis] == axes[mount.z_axis].home
    assert position[mount.plunger_axis] == axes[mount.plunger_axis].home
    assert (position["X"], position["Y"]) == (before["X"], before["Y"])


def test_home_plunger_homes_the_plunger_only(bench: Bench) -> None:
    bench.p300.move_to(bench.plate["A1"].top())
    before = dict(bench.run.engine.model.position)
    bench.p300.home_plunger()
    plunger = bench.run.config.mount("right").plunger_axis
    assert bench.commands()[-1] == c.Home(axes=(plunger,))
    after = bench.run.engine.model.position
    assert after[plunger] == bench.run.config.axes[plunger].home
    assert {a: v for a, v in after.items() if a != plunger} == {
        a: v for a, v in before.items() if a != plunger}


def test_what_labrun_does_not_do_is_not_an_attribute(bench: Bench) -> None:
    # hasattr() and getattr() with a default work; a use says why there is none.
    assert not hasattr(bench.ctx, "robot") and not hasattr(bench.p300, "dynamic_mix")
    assert getattr(bench.plate, "load_lid_stack", None) is None
    with pytest.raises(ProtocolError, match=r"^InstrumentContext.dynamic_mix needs apiLevel "
                                            r"2.27 or later"):  # Opentrons' level for it
        bench.p300.dynamic_mix()


def test_the_contexts_home_homes_every_axis(bench: Bench) -> None:
    bench.p300.move_to(bench.plate["A1"].top())
    bench.ctx.home()
    assert bench.commands()[-1] == c.Home()
    home = {a: cfg.home for a, cfg in bench.run.config.axes.items()}
    assert bench.run.engine.model.position == pytest.approx(home)


def test_a_mount_the_robot_does_not_have_is_refused() -> None:
    config = default_config()
    config = replace(config, mounts={"left": config.mounts["left"]})
    with open_context(config=config) as ctx:
        with pytest.raises(InstrumentError, match="this robot has no right mount; its mounts: "
                                                  "'left'"):
            ctx.load_instrument("p20_single_gen2", "right")
        assert ctx.load_instrument("p20_single_gen2", "LEFT").mount == "left"


def test_checks_fail_before_any_command_is_sent(bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    before = len(bench.commands())
    with pytest.raises(TipError, match="has no tip; call pick_up_tip"):
        p.aspirate(10, plate["A1"])
    with pytest.raises(TipError, match="has no tip"):
        p.blow_out(plate["A1"])
    with pytest.raises(TipError, match="has no tip"):
        p.mix(2, 10, plate["A1"])
    with pytest.raises(TipError, match="has no tip"):
        p.drop_tip()
    with pytest.raises(TipError, match="has no tip"):
        p.return_tip()
    assert len(bench.commands()) == before
    p.pick_up_tip()
    before = len(bench.commands())
    with pytest.raises(TipError, match="already holds a tip"):
        p.pick_up_tip()
    with pytest.raises(VolumeError, match="-5 µL is negative"):
        p.aspirate(-5, plate["A1"])
    with pytest.raises(VolumeError, match="would put 301 µL in the tip"):
        p.aspirate(301, plate["A1"])
    with pytest.raises(VolumeError, match="must be a number"):
        p.aspirate("10", plate["A1"])  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="rate must be a positive number"):
        p.aspirate(10, plate["A1"], rate=0)
    assert len(bench.commands()) == before


def test_labware_helpers_stay_usable(bench: Bench) -> None:
    assert isinstance(bench.plate, Labware)

@pytest.mark.parametrize("api", [(2, 8), (2, 13), (2, 15)])
def test_a_pipette_prints_as_in_opentrons(api: tuple[int, int]) -> None:
    # opentrons_simulate 8.8.2's str and repr at 2.8, 2.13 and 2.15
    with open_context(api_version=api) as ctx:
        right = ctx.load_instrument("p300_single_gen2", "right")
        left = ctx.load_instrument("p10_multi", "left")
        assert str(right) == "P300 Single-Channel GEN2 on right mount"
        assert repr(right) == "<InstrumentContext: p300_single_v2.1 in RIGHT>"
        assert str(left) == "P10 8-Channel GEN1 on left mount"
        assert repr(left) == "<InstrumentContext: p10_multi_v1.6 in LEFT>"


@pytest.mark.parametrize(("api", "calls", "refused"), [
    ("2.15", "p.pick_up_tip()\np.aspirate(10)", "aspirate: the location is in a tip rack"),
    ("2.15", "p.pick_up_tip()\np.dispense()", "dispense: the location is in a tip rack"),
    ("2.11", "p.pick_up_tip()\np.aspirate(10, tips['B1'])", "give the well to aspirate from"),
    ("2.10", "p.pick_up_tip()\np.aspirate(10)", None),
    ("2.15", "p.pick_up_tip()\np.aspirate(10, plate['A1'])\np.dispense()", None),
    ("2.16", "p.pick_up_tip()\np.air_gap(2)", "air_gap: the last move was to a tip rack"),
    ("2.10", "p.pick_up_tip()\np.air_gap(2)", None),
    ("2.21", "p.pick_up_tip()\np.air_gap(2)", "air_gap: the last move was to a tip rack"),
    # from 2.22 an air gap is no aspirate in Opentrons: taken 5 mm above the rack
    ("2.22", "p.pick_up_tip()\np.air_gap(2, in_place=False)", None),
])
def test_no_liquid_to_or_from_a_tip_rack(tmp_path: Path, api: str, calls: str,
                                         refused: str | None) -> None:
    # As Opentrons from apiLevel 2.11: after pick_up_tip() the pipette is at the tip rack,
    # and an aspirate or dispense there (or at a tip rack's well) is refused before the
    # pipette moves.
    setup = ('tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
             'plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)\n'
             'p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])')
    path = protocol_file(tmp_path, setup + "\n" + calls, api)
    run = simulate_file(path)
    result = run.record.events[-1]
    if refused is None:
        assert result["status"] == "succeeded", result
        return
    assert result["status"] == "failed" and refused in result["error"], result
    assert result["location"] == f"{path}:{4 + 3 + calls.count(chr(10)) + 1}"
    queued = [e["type"] for e in run.record.events if e["event"] == "command"
              and e["status"] == "queued" and e.get("origin", "protocol") == "protocol"]
    assert queued[-1] == "pickUpTip"  # nothing moved after the tip was picked up


@pytest.mark.parametrize(("call", "refused"), [
    ("p.dispense(50, plate['B1'], push_out=5)",
     "push_out needs a dispense that empties the tip; 50 µL would stay in it"),
    ("p.dispense(100, plate['B1'], push_out=100)",
     "push_out of 100 µL is more than the p300_single_gen2 can push past empty (18.75 µL)"),
    ("p.dispense(100, plate['B1'], push_out=-1)", "push_out must be a number of µL >= 0"),
    ("p.dispense(100, plate['B1'], push_out=5)", None),
])
def test_a_push_out_is_refused_as_an_ot2_pipette_refuses_it(
        tmp_path: Path, call: str, refused: str | None) -> None:
    # An OT-2's pipette pushes out only on a dispense that empties the tip, and no
    # further than its blow-out position (Opentrons' hardware control refuses both).
    body = ("tips = ctx.load_labware('opentrons_96_tiprack_300ul', 1)\n"
            "plate = ctx.load_labware('corning_96_wellplate_360ul_flat', 2)\n"
            "p = ctx.load_instrument('p300_single_gen2', 'right', tip_racks=[tips])\n"
            "p.pick_up_tip()\np.aspirate(100, plate['A1'])\n" + call)
    path = protocol_file(tmp_path, body, "2.15")
    run = simulate_file(path)
    result = run.record.events[-1]
    dispenses = [e for e in run.record.events if e["event"] == "command"
                 and e["status"] == "queued" and e["type"] == "dispense"
                 and e.get("origin", "protocol") == "protocol"]
    if refused is None:
        assert result["status"] == "succeeded", result
        assert [d["params"]["push_out"] for d in dispenses] == [5.0]
        return
    assert result["status"] == "failed" and refused in result["error"], result
    assert result["location"] == f"{path}:10" and dispenses == []


def test_flow_rates_delays_and_a_final_push_out_from_api_2_24() -> None:
    # The figures opentrons_simulate 8.8.2 logs for the same calls at 2.24 (µL/s, s).
    with open_context(api_version=(2, 24)) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        p.aspirate(50, plate["A1"], flow_rate=50)
        p.air_gap(10, rate=0.5)
        p.dispense(60, plate["A2"], flow_rate=60)
        p.mix(2, 20, plate["A3"], aspirate_flow_rate=30, dispense_flow_rate=40,
              aspirate_delay=1, dispense_delay=2, final_push_out=5)
        p.aspirate(20, plate["A4"])
        moves = len(ctx_commands(ctx, c.MoveTo))
        p.air_gap(5, in_place=True, flow_rate=20)  # where the tip is: no move
        assert len(ctx_commands(ctx, c.MoveTo)) == moves
        steps = [(type(cmd).__name__, cmd.flow_rate) if isinstance(cmd, c.LiquidCommand)
                 else ("Delay", cmd.seconds)
                 for cmd in (e.command for e in ctx.run.engine.entries)
                 if isinstance(cmd, (c.LiquidCommand, c.Delay))]
        assert steps == [
            ("Aspirate", 50.0), ("Aspirate", 46.43), ("Dispense", 60.0),
            ("Aspirate", 30.0), ("Delay", 1.0), ("Dispense", 40.0), ("Delay", 2.0),
            ("Aspirate", 30.0), ("Delay", 1.0), ("Dispense", 40.0), ("Delay", 2.0),
            ("Aspirate", 92.86), ("Aspirate", 20.0)]
        assert [d.push_out for d in ctx_commands(ctx, c.Dispense)] == [0.0, 0.0, 5.0]


@pytest.mark.parametrize(("held", "push_out", "message"), [
    (20, 5, "mix: final_push_out needs a dispense that empties the tip; 20 µL would stay "
     "in it"),
    (0, 1000, r"mix: final_push_out of 1000 µL is more than the p300_single_gen2 can push "
     r"past empty \(18.75 µL\)"),
])
def test_a_mix_whose_last_push_out_cannot_be_made_is_refused_before_it_starts(
        held: float, push_out: float, message: str) -> None:
    # It mixed, and was refused at its last dispense, the tip holding the mix's volume.
    with open_context(api_version=(2, 24)) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        if held:
            p.aspirate(held, plate["A1"])
        sent = len(ctx.commands())
        with pytest.raises(ProtocolError, match=message):
            p.mix(3, 100, plate["A2"], final_push_out=push_out)
        assert ctx.commands()[sent:] == [] and p.current_volume == held


@pytest.mark.parametrize(("api", "call", "message"), [
    ((2, 23), 'p.aspirate(10, plate["A1"], flow_rate=50)',
     "aspirate: flow_rate needs apiLevel 2.24 or later"),
    ((2, 23), 'p.mix(1, 10, plate["A1"], aspirate_delay=1)',
     "mix: aspirate_delay needs apiLevel 2.24 or later"),
    ((2, 23), 'p.air_gap(10, in_place=True)', "air_gap: in_place needs apiLevel 2.24"),
    ((2, 24), 'p.aspirate(10, plate["A1"], rate=2, flow_rate=50)',
     "aspirate: rate must not be set if flow_rate is given"),
    ((2, 24), 'p.dispense(10, plate["A1"], flow_rate=0)',
     "dispense: flow_rate must be a positive number of µL/s, not 0"),
    ((2, 24), 'p.air_gap(10, rate=1, flow_rate=5)', "air_gap: give rate or flow_rate, not both"),
    ((2, 24), 'p.mix(1, 10, plate["A1"], aspirate_flow_rate=0)',  # Opentrons: an error
     "mix: aspirate_flow_rate must be a positive number of µL/s, not 0"),
    ((2, 27), 'p.aspirate(10, plate["A1"], end_location=plate["A2"].bottom())',
     r"aspirate: end_location \(apiLevel 2.27: pipetting while the tip moves\) is not"),
    ((2, 27), 'p.dispense(10, plate["A1"], movement_delay=1)', "dispense: movement_delay"),
])
def test_flow_rate_arguments_are_checked_as_in_opentrons(api: tuple[int, int], call: str,
                                                         message: str) -> None:
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        p.aspirate(20, plate["A1"])
        before = len(ctx.run.engine.entries)
        with pytest.raises(Exception, match=message):
            exec(call, {"p": p, "plate": plate})
        assert len(ctx.run.engine.entries) == before  # nothing sent
        p.drop_tip()


def test_an_air_gap_in_place_is_taken_at_a_point_in_no_well() -> None:
    """air_gap(in_place=True) after a move to a point in no well was refused ("a pipette
    must have been at a well first"): in place it goes nowhere, so it needs no well, and
    Opentrons 8.8.2 takes it there (apiLevel 2.24 on)."""
    with open_context(api_version=(2, 24)) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        p.move_to(Location(Point(200, 200, 100), None))
        p.air_gap(10, in_place=True)
        p.move_to(Location(plate["A1"].top().point, plate))  # the plate, not a well
        p.air_gap(5, in_place=True, flow_rate=20)
        assert [(cmd.volume, cmd.flow_rate, cmd.well, cmd.air_gap)
                for cmd in ctx_commands(ctx, c.Aspirate)] == [
            (10.0, 92.86, None, True), (5.0, 20.0, None, True)]
        assert [cmd.point for cmd in ctx_commands(ctx, c.MoveTo)][-1] == \
            plate["A1"].top().point  # no move up for either air gap
        assert p.current_volume == 15


@pytest.mark.parametrize("api", [(2, 15), (2, 16), (2, 18)])
def test_the_fixed_trash_is_a_trash_bin_from_api_2_16(api: tuple[int, int]) -> None:
    # As opentrons_simulate 8.8.2 moves at 2.16 and 2.18: dispense, blow_out and move_to
    # into ctx.fixed_trash go to the top of its centre; drop_tip(ctx.fixed_trash) goes to
    # either side in turn at 2.16 and 2.17, to the centre from 2.18; drop_tip() alternates.
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        if api < (2, 16):  # labware, which Opentrons takes nowhere here
            with pytest.raises(ProtocolError, match="dispense: expected a Location or a Well"):
                p.dispense(20, ctx.fixed_trash)
            return
        p.dispense(20, ctx.fixed_trash)
        p.blow_out(ctx.fixed_trash)
        p.move_to(ctx.fixed_trash)
        p.drop_tip(ctx.fixed_trash)
        for _ in range(2):
            p.pick_up_tip()
            p.drop_tip(ctx.fixed_trash if _ == 0 else None)
        centre = (347.84, 351.5, 82.0)
        moves = [cmd.point for cmd in ctx_commands(ctx, c.MoveTo)][1:]  # after the aspirate
        assert moves == [centre, centre, centre]
        assert {(cmd.well, cmd.volume) for cmd in ctx_commands(ctx, c.Dispense)} == {
            ("12/A1", 20.0)}
        drops = [cmd.point[0] for cmd in ctx_commands(ctx, c.DropTip)]
        if api < (2, 18):
            assert drops == pytest.approx([363.895, 331.785, 363.895])
        else:
            assert drops == pytest.approx([347.84, 347.84, 363.895])


@pytest.mark.parametrize("call", ["ctx.fixed_trash.set_offset(1, 2, 3)",
                                  'ctx.fixed_trash.load_liquid(["A1"], 5, water)',
                                  "ctx.fixed_trash.reset()"])
def test_the_trash_bin_takes_no_labware_call(tmp_path: Path, call: str) -> None:
    """Opentrons 8.8.2's trash bin (apiLevel 2.16 on) has only area_name, height,
    location, offset and top: ``set_offset``, ``load_liquid``, ``reset``... fail there with
    "'TrashBin' object has no attribute", and here at the protocol's line."""
    path = protocol_file(tmp_path, f'water = ctx.define_liquid("water")\n{call}', api="2.22")
    summary = simulate_file(path).record.last
    assert summary is not None and summary["status"] == "failed"
    name = call.split(".")[2].split("(")[0]
    assert (summary["location"], summary["error"]) == (
        f"{path}:6",
        f"AttributeError: 'TrashBin' object has no attribute {name!r}: from apiLevel 2.16 "
        "the fixed trash is a trash bin, as in Opentrons, not a labware: it has only top() "
        "(apiLevel 2.18), offset, location, area_name and height")
    with open_context(api_version=(2, 22)) as ctx:
        assert not hasattr(ctx.fixed_trash, name)


def test_configure_for_volume_changes_nothing_on_an_ot2_pipette_but_checks_as_opentrons(
        bench: Bench) -> None:
    p, plate = bench.p300, bench.plate
    p.pick_up_tip()
    p.aspirate(10, plate["A1"])
    with pytest.raises(ProtocolError, match=r"^configure_for_volume: the tip holds 10 µL"):
        p.configure_for_volume(20)
    p.dispense(10, plate["A2"])
    with pytest.raises(VolumeError, match=r"^configure_for_volume: volume -1 µL is negative"):
        p.configure_for_volume(-1)
    before = (p.min_volume, p.max_volume, p.flow_rate.aspirate)
    p.configure_for_volume(1)
    assert (p.min_volume, p.max_volume, p.flow_rate.aspirate) == before
    assert bench.commands()[-1] == c.MoveTo(
        "right", tuple(plate["A2"].top().point), "1/A2", False, None, None)  # out of the well


@pytest.mark.parametrize(("api", "rates"), [
    ((2, 25), (50.0, 60.0, 70.0)),  # as the protocol set them
    ((2, 26), (92.86, 92.86, 92.86)),  # the P300 GEN2's defaults again
])
def test_configure_for_volume_sets_the_default_flow_rates_again_from_api_2_26(
        api: tuple[int, int], rates: tuple[float, float, float]) -> None:
    """From apiLevel 2.26 Opentrons 8.8.2 forgets the flow rates a protocol set when it
    configures the pipette's volume mode: the steps after go at the defaults (its log:
    "Aspirating 50.0 uL ... at 92.86 uL/sec"). labrun kept the rates set."""
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        p.flow_rate.aspirate, p.flow_rate.dispense, p.flow_rate.blow_out = 50, 60, 70
        p.configure_for_volume(100)
        assert (p.flow_rate.aspirate, p.flow_rate.dispense, p.flow_rate.blow_out) == rates
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        p.dispense(50, plate["A2"])
        p.blow_out()
        assert [cmd.flow_rate for cmd in ctx_commands(ctx, c.LiquidCommand)] == [
            rates[0], rates[1]]
        assert ctx_commands(ctx, c.BlowOut)[0].flow_rate == rates[2]


def test_a_refused_pick_up_gives_no_tip_size_warning_and_the_pick_up_made_does() -> None:
    with open_context(api_version=(2, 20), on_stalled=continue_when_stalled) as ctx:
        rack = ctx.load_labware("opentrons_96_tiprack_300ul", OFF_DECK)
        p = ctx.load_instrument("p20_single_gen2", "right")  # takes 10 or 20 µL tips
        sent = len(ctx.commands())
        with pytest.raises(ProtocolError, match="off the deck"):
            p.pick_up_tip(rack["A1"])
        assert ctx.commands()[sent:] == []
        ctx.move_labware(rack, 1)
        sent = len(ctx.commands())
        p.pick_up_tip(rack["A1"])
        warning, picked = ctx.commands()[sent:]
        assert "appear to be mismatched" in warning and picked == "Picking up tip from 1/A1"


@pytest.mark.parametrize(("api", "volume", "warned"), [
    ((2, 13), None, False),  # Opentrons' legacy software draws all the tip takes too
    ((2, 16), None, True),
    ((2, 15), 0, True),  # 0 below 2.16: none given
    ((2, 16), 0, False),  # 0 from 2.16 is 0 µL, as asked
])
def test_an_air_gap_with_no_volume_is_warned_of_as_an_aspirate_is(
        api: tuple[int, int], volume: float | None, warned: bool) -> None:
    # Opentrons 8.8.2 at 2.16: air_gap() into an empty tip draws 0 µL; labrun draws all the
    # tip takes (as documented), and says so, as it does for aspirate().
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        p.pick_up_tip()
        p.move_to(plate["A1"].top())
        p.air_gap(volume)
        [gap] = ctx_commands(ctx, c.Aspirate)
        assert gap.air_gap and gap.volume == (0 if api >= (2, 16) and volume == 0 else 300)
        warnings = [cmd.message.split(": ", 2)[2] for cmd in ctx_commands(ctx, c.Comment)]
        none = "no volume given" if volume is None else "volume 0 (none, below apiLevel 2.16)"
        assert warnings == ([f"air_gap: {none}: labrun draws all the tip takes, 300 µL, as "
                             "Opentrons documents it, but Opentrons' own software draws 0 µL "
                             "into an empty tip from apiLevel 2.14; give the volume"]
                            if warned else [])


@pytest.mark.parametrize("level", [(2, 0), (2, 6)])
def test_a_pipette_is_replaced_below_api_2_7_where_has_tip_is_not_yet_public(
        level: tuple[int, int]) -> None:
    """Opentrons replaces a pipette (load_instrument(..., replace=True)) at every apiLevel;
    has_tip, which says whether the old one holds a tip, is public only from 2.7."""
    with open_context(api_version=level) as ctx:
        rack = ctx.load_labware(TIPS_300, 4)
        ctx.load_instrument("p10_single", "left", tip_racks=[rack])
        p300 = ctx.load_instrument("p300_single", "left", tip_racks=[rack], replace=True)
        assert p300.name == "p300_single"
        p300.pick_up_tip()
        with pytest.raises(InstrumentError, match="^the p300_single on the left mount holds "
                           r"a tip; drop it \(drop_tip\(\) or return_tip\(\)\) before"):
            ctx.load_instrument("p20_single_gen2", "left", replace=True)


@pytest.mark.parametrize(("pipette", "rack", "api", "refused"), [
    ("p300_single_gen2", TIPS_20, "2.13", "settings for 200 and 300 µL tips, not for the 20"),
    ("p1000_single_gen2", TIPS_300, "2.0", "settings for 1000 µL tips, not for the 300"),
    ("p50_multi", TIPS_20, "2.13", "settings for 50, 200 and 300 µL tips, not for the 20"),
    ("p20_single_gen2", TIPS_300, "2.13", None),  # a 300 µL tip holds its 20: its t20 settings
    ("p10_single", TIPS_20, "2.0", None),  # likewise, the p10's 10 µL
    ("p300_single_gen2", TIPS_20, "2.14", None),  # from 2.14 any tip is picked up
])
def test_below_2_14_a_tip_of_a_size_the_pipette_has_no_settings_for_is_not_picked_up(
        tmp_path: Path, pipette: str, rack: str, api: str, refused: str | None) -> None:
    """Below apiLevel 2.14, Opentrons 8.8.2 looks up the settings of a picked-up tip in the
    pipette's definition by the tip's volume (the pipette's, if the tip holds more), and
    fails the pick-up with a KeyError when the definition has none for that size: a p300
    lists 200 and 300 µL tips, a p1000 only 1000 µL ones. labrun refuses it there too,
    before the pipette moves, saying why; from 2.14 both pick it up."""
    path = protocol_file(tmp_path, f"""tips = ctx.load_labware("{rack}", 1)
plate = ctx.load_labware("{PLATE}", 2)
p = ctx.load_instrument("{pipette}", "right", tip_racks=[tips])
p.pick_up_tip()
p.aspirate(p.min_volume, plate["A1"])""", api)
    run = simulate_file(path)
    result = run.record.events[-1]
    queued = [e["type"] for e in run.record.events if e["event"] == "command"
              and e["status"] == "queued" and e.get("origin", "protocol") == "protocol"
              and e["type"] in ("pickUpTip", "moveTo", "aspirate")]
    if refused is None:
        assert result["status"] == "succeeded", result
        assert queued[0] == "pickUpTip"
        return
    assert result["status"] == "failed", result
    assert result["location"] == f"{path}:8"
    assert result["error"].startswith(f"pick_up_tip: the {pipette}'s definition has ")
    assert refused in result["error"]
    assert "below apiLevel 2.14 Opentrons fails this pick-up" in result["error"]
    assert queued == []


def printed_volumes(api: tuple[int, int]) -> list[str]:
    """current_volume as print() shows it: before a tip, after the pick-up, then after
    aspirate(50), dispense(20), air_gap(10), dispense(), aspirate(10), dispense(10.0),
    aspirate(12.5), blow_out() and drop_tip()."""
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        shown = [str(p.current_volume)]
        p.pick_up_tip()
        shown.append(str(p.current_volume))
        for step in (lambda: p.aspirate(50, plate["A1"]), lambda: p.dispense(20, plate["A2"]),
                     lambda: p.air_gap(10), p.dispense, lambda: p.aspirate(10, plate["A1"]),
                     lambda: p.dispense(10.0), lambda: p.aspirate(12.5, plate["A1"]),
                     p.blow_out, p.drop_tip):
            step()
            shown.append(str(p.current_volume))
    return shown


@pytest.mark.parametrize(("api", "shown"), [
    ((2, 13), ["0.0", "0", "50", "30", "40", "0", "10", "0", "12.5", "0", "0"]),
    ((2, 14), ["0", "0", "50.0", "30.0", "40.0", "0", "10.0", "0", "12.5", "0", "0"]),
])
def test_current_volume_prints_as_opentrons_prints_it(
        api: tuple[int, int], shown: list[str]) -> None:
    """Opentrons 8.8.2 below apiLevel 2.14 keeps the volumes a protocol gives, as it gives
    them: 50 after aspirate(50), 0 once emptied (a dispense of what the tip holds, a
    blow-out, a drop), 0.0 before the first tip; a dispense takes the lesser of what it
    asks and what the tip holds, the tip's when they are equal (10 - 10.0 leaves 0). From
    2.14 it is a float, or 0 when the tip is empty. print(pipette.current_volume) shows it."""
    assert printed_volumes(api) == shown


@pytest.mark.parametrize(("api", "shown"), [
    ((2, 13), ["400.0", "100", "55.5"]),
    ((2, 14), ["400", "100", "55.5"]),
])
def test_default_speed_prints_as_opentrons_prints_it(
        api: tuple[int, int], shown: list[str]) -> None:
    """Opentrons 8.8.2 gives default_speed as 400.0 below apiLevel 2.14 and 400 from it,
    and a speed the protocol sets as it was set (100 stays 100); the moves go at it."""
    with open_context(api_version=api) as ctx:
        plate, p = plate_and_p300(ctx)
        printed = [str(p.default_speed)]
        for speed in (100, 55.5):
            p.default_speed = speed
            printed.append(str(p.default_speed))
        p.move_to(plate["A1"].top())
    assert printed == shown
    assert ctx_commands(ctx, c.MoveTo)[-1].speed == 55.5


def test_hw_pipette_gives_the_volumes_speeds_and_defaults_opentrons_gives() -> None:
    """Opentrons 8.8.2's hw_pipette (apiLevel 2.13) has a working volume that is the
    pipette's, as a float, until a tip is picked up, then the lesser of the pipette's and
    the tip's, kept after the tip is dropped; an available volume (the working volume
    less what the tip holds); the default flow rates by apiLevel, as the definition gives
    them, and the plunger speeds (mm/s) of the flow rates; the return-tip height and the
    tip overlaps. Protocols read these keys."""
    keys = ("working_volume", "available_volume", "aspirate_speed",
            "default_aspirate_flow_rates", "default_dispense_speeds", "return_tip_height")
    with open_context(api_version=(2, 13)) as ctx:
        rack = ctx.load_labware("opentrons_96_filtertiprack_200ul", 1)
        plate = ctx.load_labware(PLATE, 2)
        p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[rack])
        before = [str(p.hw_pipette[k]) for k in keys]
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        p.flow_rate.aspirate = 50
        held = [str(p.hw_pipette[k]) for k in keys]
        overlap = p.hw_pipette["tip_overlap"]
        p.drop_tip()
        after = [str(p.hw_pipette[k]) for k in keys[:2]]
    rates, speeds = "{'2.0': 46.43, '2.6': 92.86}", "{'2.0': 4.987325, '2.6': 9.97465}"
    assert before == ["300.0", "300.0", "9.97465", rates, speeds, "0.5"]
    assert held == ["200", "150", "5.3708", rates, speeds, "0.5"]
    assert overlap["opentrons/opentrons_96_filtertiprack_200ul/1"] == 8.2
    assert after == ["200", "200"]


@pytest.mark.parametrize(("api", "trash", "call", "said"), [
    ("2.13", 'plate["A1"]', "p.drop_tip()", "drop_tip: the pipette's trash_container is A1 of "
     "Corning 96 Well Plate 360 µL Flat on 2, a Well, not a labware or a trash bin; set it "
     "to one, such as ctx.fixed_trash or the well's labware (well.parent)"),
    ("2.20", '"trash"', "p.drop_tip()", "drop_tip: the pipette's trash_container is 'trash', "
     "not a labware or a trash bin; set it to one, such as ctx.fixed_trash"),
    ("2.15", 'plate["A1"]', "p.transfer(5, plate['A1'], plate['A2'], blow_out=True, "
     "blowout_location='trash', new_tip='never')",
     "transfer: the pipette's trash_container is A1 of"),
])
def test_a_trash_container_that_is_no_labware_is_refused_where_it_is_used(
        tmp_path: Path, api: str, trash: str, call: str, said: str) -> None:
    """Opentrons 8.8.2 takes any trash_container, and fails where the pipette would use it
    (below apiLevel 2.14 saying tips cannot be dropped in a trash bin; from 2.14 "'Well'
    object has no attribute 'offset'"); labrun fails there too, saying what was set."""
    path = protocol_file(tmp_path, f"""tips = ctx.load_labware("{TIPS_20}", 1)
plate = ctx.load_labware("{PLATE}", 2)
p = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[tips])
p.trash_container = {trash}
p.pick_up_tip()
{call}""", api)
    result = simulate_file(path).record.events[-1]
    assert result["status"] == "failed", result
    assert result["location"] == f"{path}:10"
    assert result["error"].startswith(said), result["error"]
