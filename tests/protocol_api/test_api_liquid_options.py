"""Air gaps, touch tips, distribute, consolidate and the transfer options, as the
Opentrons API documents them, against the definitions' numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import commands as c
from protocol_api import open_context
from protocol_api.errors import ProtocolError, UnsupportedAPIError, VolumeError
from protocol_api.execute import EmbeddedContext

PLATE = "corning_96_wellplate_360ul_flat"
RESERVOIR = "nest_12_reservoir_15ml"


def label(cmd: c.Command) -> str:
    """The command's kind; ``airGap`` for an aspirate of air."""
    return "airGap" if isinstance(cmd, c.Aspirate) and cmd.air_gap else cmd.kind


class Bench:
    def __init__(self, ctx: EmbeddedContext) -> None:
        self.ctx = ctx
        self.tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        self.plate = ctx.load_labware(PLATE, 1)
        self.reservoir = ctx.load_labware(RESERVOIR, 2)
        self.p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[self.tips])

    def commands(self) -> list[Any]:
        return [e.command for e in self.ctx.run.engine.entries if e.origin == "protocol"]

    def steps(self) -> list[tuple[str, float, str | None]]:
        """(kind, volume, well) of every aspirate, air gap and dispense."""
        return [(label(cmd), round(cmd.volume, 3), cmd.well) for cmd in self.commands()
                if isinstance(cmd, c.LiquidCommand)]

    def kinds(self, *kinds: str) -> list[str]:
        return [label(cmd) for cmd in self.commands() if label(cmd) in kinds]

    def finish(self) -> dict[str, Any]:
        self.ctx.run.channel.finish()
        self.ctx.run.wait(timeout=30)
        last = self.ctx.run.record.events[-1]
        assert last["event"] == "summary"
        return last


@pytest.fixture
def bench() -> Iterator[Bench]:
    with open_context() as ctx:
        yield Bench(ctx)


def open_at(level: str) -> Any:
    return open_context(api_version=tuple(int(x) for x in level.split(".")))


# -- air_gap ---------------------------------------------------------------------------


def test_air_gap_draws_air_5_mm_above_the_last_well(bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    p.aspirate(50, bench.plate["A1"])
    p.air_gap(20)
    moves = [cmd for cmd in bench.commands() if isinstance(cmd, c.MoveTo)]
    assert moves[-1].point == tuple(bench.plate["A1"].top(5).point)
    gap = bench.commands()[-1]
    assert isinstance(gap, c.Aspirate) and gap.air_gap
    assert gap.volume == 20 and gap.well == "1/A1" and not gap.reversible
    assert p.current_volume == 70
    p.dispense(70, bench.plate["B1"])
    # Air is not liquid: A1 gave 50 µL and B1 got them; the air went out first.
    assert bench.finish()["well_volumes_ul"] == {"1/A1": -50, "1/B1": 50}
    # The record names it an aspirate, as the reference reports an air gap, marked as air.
    queued = [(e["type"], e["params"]["volume"], e["params"].get("air_gap"))
              for e in bench.ctx.run.record.events
              if e["event"] == "command" and e["status"] == "queued"
              and e["type"] in ("aspirate", "dispense")]
    assert queued == [("aspirate", 50, False), ("aspirate", 20, True), ("dispense", 70, None)]


def test_the_air_of_an_air_gap_is_pushed_out_first_and_counted_in_no_well(
        bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    p.aspirate(100, bench.plate["A1"])
    p.air_gap(20)
    p.dispense(60, bench.plate["B1"])  # the 20 µL of air, then 40 of liquid
    p.dispense(40, bench.plate["C1"])
    p.blow_out(bench.plate["D1"])  # the 20 µL left
    p.aspirate(30, bench.plate["A1"])
    p.air_gap(10)
    p.blow_out(bench.plate["E1"])  # 30 µL of liquid and the air
    p.aspirate(30, bench.plate["A1"])
    p.air_gap(10)
    p.drop_tip()  # the liquid left goes with the tip, into no well
    p.pick_up_tip()
    p.aspirate(30, bench.plate["A1"])
    p.dispense(30, bench.plate["F1"])  # a new tip holds no air
    assert bench.finish()["well_volumes_ul"] == {
        "1/A1": -190, "1/B1": 40, "1/C1": 40, "1/D1": 20, "1/E1": 30, "1/F1": 30}


def test_air_gap_without_volume_fills_the_tip_and_height_is_honoured(bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    p.aspirate(100, bench.plate["A1"])
    p.air_gap(height=2)
    assert p.current_volume == 300
    moves = [cmd for cmd in bench.commands() if isinstance(cmd, c.MoveTo)]
    assert moves[-1].point == tuple(bench.plate["A1"].top(2).point)
    with pytest.raises(VolumeError, match="air_gap: 10 µL would put 310 µL"):
        p.air_gap(10)


# -- touch_tip -------------------------------------------------------------------------


def test_touch_tip_touches_the_four_sides_1_mm_below_the_top(bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    p.aspirate(50, bench.plate["A1"])
    p.touch_tip()
    touch = bench.commands()[-1]
    well = bench.plate["A1"]
    assert isinstance(touch, c.TouchTip) and not touch.reversible
    assert touch.point == tuple(well.top(-1).point)
    assert touch.reach_x == touch.reach_y == pytest.approx(well.diameter / 2)
    assert touch.speed == 60 and touch.well == "1/A1"


def test_touch_tip_radius_offset_and_speed_limits(bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    # rectangular wells: length along x, width along y
    trough = bench.ctx.load_labware("nest_96_wellplate_2ml_deep", 3)["A1"]
    p.touch_tip(trough, radius=0.5, v_offset=-3, speed=200)
    touch = bench.commands()[-1]
    assert touch.point == tuple(trough.top(-3).point)
    assert touch.reach_x == pytest.approx(trough.length / 4)
    assert touch.reach_y == pytest.approx(trough.width / 4)
    assert touch.speed == 80  # the most Opentrons allows


def test_touch_tip_reach_is_written_to_the_nanometre(bench: Bench) -> None:
    p = bench.p300
    p.pick_up_tip()
    trough = bench.ctx.load_labware("nest_96_wellplate_2ml_deep", 3)["A1"]
    p.touch_tip(trough, radius=0.75)
    touch = bench.commands()[-1]
    # 0.75 * 8.2 / 2 is 3.0749999999999997 in floating point: the record says 3.075
    assert (trough.length, touch.reach_x, touch.reach_y) == (8.2, 3.075, 3.075)


def test_touch_tip_is_no_slower_than_20_mm_s_before_2_4_and_1_after() -> None:
    # As Opentrons' _determine_speed: clamped to 20-80 mm/s below apiLevel 2.4
    for level, slowest in (("2.3", 20.0), ("2.4", 5.0)):
        with open_at(level) as ctx:
            bench = Bench(ctx)
            bench.p300.pick_up_tip()
            bench.p300.touch_tip(bench.plate["A1"], speed=5)
            assert bench.commands()[-1].speed == slowest, level


def test_touch_tip_at_a_location_is_refused_as_opentrons_refuses_it(bench: Bench) -> None:
    # labrun took the location's well and touched at v_offset, dropping the height given
    bench.p300.pick_up_tip()
    with pytest.raises(ProtocolError, match=r"^touch_tip: give the well itself \(F12\), not a "
                       r"location; v_offset= sets the height from its top"):
        bench.p300.touch_tip(bench.plate["F12"].top())
    assert not any(isinstance(cmd, c.TouchTip) for cmd in bench.commands())


def test_touch_tip_mm_from_edge_touches_that_far_inside_the_walls_from_2_24() -> None:
    # As Opentrons' engine: each touch at the half-size less mm_from_edge (1 mm inside)
    with open_at("2.24") as ctx:
        bench = Bench(ctx)
        p = bench.p300
        p.pick_up_tip()
        trough = ctx.load_labware("nest_96_wellplate_2ml_deep", 3)["A1"]
        p.touch_tip(trough, mm_from_edge=1)
        touch = bench.commands()[-1]
        assert touch.reach_x == pytest.approx(trough.length / 2 - 1)
        assert touch.reach_y == pytest.approx(trough.width / 2 - 1)
        with pytest.raises(ProtocolError, match=r"^touch_tip: radius must be left at 1.0 "
                           r"when mm_from_edge is given$"):
            p.touch_tip(trough, radius=0.5, mm_from_edge=1)
    with open_at("2.23") as ctx, pytest.raises(ProtocolError, match=r"^touch_tip: "
                                               r"mm_from_edge needs apiLevel 2.24 or later"):
        Bench(ctx).p300.touch_tip(mm_from_edge=1)


def touched_walls(ctx: EmbeddedContext, mount: str, slot: int, well: str,
                  module_slot: int | None = None) -> list[str]:
    """The walls a touch-tip at ``well`` of a plate in ``slot`` touches with the pipette on
    ``mount`` (a temperature module in ``module_slot``, if given)."""
    if module_slot is not None:
        ctx.load_module("temperature module gen2", module_slot)
    plate = ctx.load_labware(PLATE, slot)
    pipette = ctx.load_instrument("p300_single_gen2", mount,
                                  tip_racks=[ctx.load_labware("opentrons_96_tiprack_300ul", 1)])
    pipette.pick_up_tip()
    pipette.touch_tip(plate[well])
    (touch,) = [e.command for e in ctx.run.engine.entries if isinstance(e.command, c.TouchTip)]
    walls = {"right": "+x", "left": "-x"}
    return [side for side in ("+x", "-x", "+y", "-y")
            if walls.get(getattr(touch, "skip_wall", None) or "") != side]


@pytest.mark.parametrize(("level", "mount", "slot", "well", "module_slot", "walls"), [
    ("2.15", "right", 3, "B1", None, ["-x", "+y", "-y"]),
    ("2.20", "right", 9, "H1", None, ["-x", "+y", "-y"]),
    ("2.15", "right", 3, "B2", None, ["+x", "-x", "+y", "-y"]),
    ("2.15", "right", 2, "B1", None, ["+x", "-x", "+y", "-y"]),
    ("2.15", "left", 3, "B1", None, ["+x", "-x", "+y", "-y"]),
    ("2.13", "right", 3, "B1", None, ["+x", "-x", "+y", "-y"]),
    ("2.15", "right", 8, "C1", 7, ["-x", "+y", "-y"]),
    ("2.15", "left", 8, "C12", 9, ["+x", "+y", "-y"]),
    ("2.15", "left", 8, "C12", 7, ["+x", "-x", "+y", "-y"]),
])
def test_touch_tip_leaves_the_wall_opentrons_leaves_beside_a_module_or_at_the_right(
        level: str, mount: str, slot: int, well: str, module_slot: int | None,
        walls: list[str]) -> None:
    """From apiLevel 2.14 Opentrons 8.8.2's engine touches three walls, not four, in two
    cases on an OT-2: the right pipette in a labware's first column skips the right (+x)
    wall when the labware is in slot 3, 6 or 9 or a module is in the slot to its left; the
    left pipette in the last column skips the left (-x) wall when a module is in the slot
    to its right. labrun touched all four, a wall Opentrons' robot never touches."""
    with open_at(level) as ctx:
        assert touched_walls(ctx, mount, slot, well, module_slot) == walls


def test_touch_tip_is_skipped_where_the_labware_disables_it(bench: Bench) -> None:
    # As on an OT-2 (the touchTipDisabled quirk of reservoirs and the trash): nothing
    # moves, the next step acts where the pipette was, and the log says why, once a line.
    p = bench.p300
    p.pick_up_tip()
    p.aspirate(50, bench.plate["A1"])
    for _ in range(2):
        p.touch_tip(bench.reservoir["A12"])
    p.air_gap(10)
    commands = bench.commands()
    assert not [cmd for cmd in commands if isinstance(cmd, c.TouchTip)]
    warnings = [cmd.message for cmd in commands if isinstance(cmd, c.Comment)]
    assert len(warnings) == 1 and "touch_tip skipped: the definition of NEST 12 Well " \
        "Reservoir 15 mL on slot 2 disables touching its walls" in warnings[0]
    assert bench.steps()[-1] == ("airGap", 10, "1/A1")
    p.drop_tip()
    bench.p300.transfer(20, bench.reservoir["A1"], bench.plate["B1"], touch_tip=True)
    assert bench.kinds("touchTip") == ["touchTip"]  # in the plate, not the reservoir


def test_touch_tip_needs_a_tip(bench: Bench) -> None:
    with pytest.raises(ProtocolError, match="touch_tip: the left pipette"):
        bench.p300.touch_tip(bench.plate["A1"])


@pytest.mark.parametrize("level", ["2.13", "2.14", "2.15"])
def test_touch_tip_in_a_tip_rack_is_refused_from_2_14(level: str) -> None:
    # As Opentrons (LabwareIsTipRackError): it ran here, the tip rubbing among the tips.
    with open_at(level) as ctx:
        bench = Bench(ctx)
        bench.p300.pick_up_tip()
        for where in (bench.tips["B1"], None):  # a rack's well, or where the tip came from
            if level == "2.13":
                bench.p300.touch_tip(where)
                continue
            with pytest.raises(ProtocolError, match=r"^touch_tip: Opentrons OT-2 96 Tip Rack "
                               r"300 µL is a tip rack; a tip touches the walls of a well "
                               r"with liquid, never a tip rack's"):
                bench.p300.touch_tip(where)
        assert bench.kinds("touchTip") == (["touchTip"] * 2 if level == "2.13" else [])


# -- transfer options ------------------------------------------------------------------


def test_transfer_air_gap_touch_tip_order_and_volumes(bench: Bench) -> None:
    bench.p300.transfer(100, bench.plate["A1"], bench.plate["B1"], air_gap=10,
                        touch_tip=True)
    assert bench.steps() == [("aspirate", 100, "1/A1"), ("airGap", 10, "1/A1"),
                             ("dispense", 110, "1/B1")]
    kinds = bench.kinds("aspirate", "airGap", "touchTip", "dispense")
    assert kinds == ["aspirate", "airGap", "touchTip", "dispense", "touchTip"]


def test_transfer_air_gap_leaves_room_in_the_parts(bench: Bench) -> None:
    # 300 µL tips less a 20 µL air gap: 280 µL parts, the rest in two halves.
    bench.p300.transfer(600, bench.plate["A1"], bench.plate["B1"], air_gap=20)
    assert [v for kind, v, _ in bench.steps() if kind == "aspirate"] == [280, 160, 160]


def test_transfer_disposal_volume_is_blown_out_in_the_trash(bench: Bench) -> None:
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], disposal_volume=10)
    blow = [cmd for cmd in bench.commands() if isinstance(cmd, c.BlowOut)]
    assert [b.well for b in blow] == ["12/A1"]


@pytest.mark.parametrize(("where", "well"), [("destination well", "1/B1"),
                                             ("source well", "1/A1"), ("trash", "12/A1"),
                                             (None, "12/A1")])
def test_transfer_blow_out_locations(bench: Bench, where: str | None, well: str) -> None:
    options: dict[str, Any] = {"blow_out": True}
    if where is not None:
        options["blowout_location"] = where
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], **options)
    assert [cmd.well for cmd in bench.commands() if isinstance(cmd, c.BlowOut)] == [well]


def test_transfer_in_distribute_mode_blows_out_at_the_last_destination(bench: Bench) -> None:
    """Opentrons 8.8.2 refuses blowout_location='destination well' in distribute() (and
    'source well' in consolidate()), but transfer(mode='distribute') takes it: the blow-out
    is in the last well of each aspirate's dispenses (and a consolidate's is where the
    tip is, its destination)."""
    plate = bench.plate
    bench.p300.transfer(20, plate["A1"], plate.wells()[1:4], mode="distribute",
                        blow_out=True, blowout_location="destination well")
    bench.p300.transfer(20, plate.wells()[4:6], plate["A5"], mode="consolidate",
                        blow_out=True, blowout_location="source well")
    assert [(kind, v, w) for kind, v, w in bench.steps()] == [
        ("aspirate", 60, "1/A1"), ("dispense", 20, "1/B1"), ("dispense", 20, "1/C1"),
        ("dispense", 20, "1/D1"),
        ("aspirate", 20, "1/E1"), ("aspirate", 20, "1/F1"), ("dispense", 40, "1/A5")]
    assert [cmd.well for cmd in bench.commands() if isinstance(cmd, c.BlowOut)] == [
        "1/D1", "1/A5"]
    with pytest.raises(ProtocolError, match="distribute: blowout_location cannot be "
                                            "'destination well'; a distribute has several"):
        bench.p300.distribute(20, plate["A1"], plate.wells()[1:4], blow_out=True,
                              blowout_location="destination well")


def test_transfer_air_gap_none_is_refused_as_opentrons_fails_on_it(bench: Bench) -> None:
    """Opentrons 8.8.2 fails on air_gap=None (it compares it with 0); labrun took it as no
    air gap, so a protocol it ran failed on the robot. Refused before a tip, naming it."""
    with pytest.raises(VolumeError, match="transfer: air_gap must be a number of µL, "
                                          "not None"):
        bench.p300.transfer(20, bench.plate["A1"], bench.plate["B1"], air_gap=None)
    assert bench.steps() == [] and bench.kinds("pickUpTip") == []


def test_transfer_carryover_and_gradient(bench: Bench) -> None:
    bench.p300.transfer((10, 30), bench.plate["A1"], bench.plate.wells()[1:4],
                        carryover=True)
    assert [v for kind, v, _ in bench.steps() if kind == "dispense"] == [10, 20, 30]
    # Opentrons 8.8.2 itself fails on a gradient (its run log calls float() on the tuple).
    warnings = [cmd.message for cmd in bench.commands() if isinstance(cmd, c.Comment)]
    assert len(warnings) == 1 and "transfer: a (first, last) volume gradient fails on " \
        "Opentrons 8.8.2's robot software" in warnings[0]


def test_transfer_one_to_many_repeats_each_source(bench: Bench) -> None:
    plate = bench.plate
    bench.p300.transfer(10, [plate["A1"], plate["A2"]],
                        [plate["B1"], plate["B2"], plate["B3"], plate["B4"]])
    assert [w for kind, _, w in bench.steps() if kind == "aspirate"] == [
        "1/A1", "1/A1", "1/A2", "1/A2"]


def test_an_unknown_option_is_ignored_with_a_warning_naming_it_and_the_line(
        bench: Bench) -> None:
    bench.p300.transfer(10, bench.plate["A1"], bench.plate["B1"], tip_touch=True)
    # Run as Opentrons runs it (no touch tip), and said in the log and the record.
    assert bench.steps() == [("aspirate", 10, "1/A1"), ("dispense", 10, "1/B1")]
    assert bench.kinds("touchTip") == []
    warnings = [cmd.message for cmd in bench.commands() if isinstance(cmd, c.Comment)]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: ")
    assert warnings[0].endswith("transfer: tip_touch=True is not an option of transfer; "
                                "ignored, as Opentrons does")
    assert f"{__file__}:" in warnings[0]
    assert any("tip_touch=True" in line for line in bench.ctx.commands())


# -- distribute and consolidate --------------------------------------------------------


def test_distribute_fills_the_tip_and_keeps_a_disposal_volume(bench: Bench) -> None:
    plate = bench.plate
    bench.p300.distribute(50, bench.reservoir["A1"], plate.rows()[0][:8])
    # 300 µL tips, 20 µL disposal (the P300 GEN2 minimum): five 50 µL dispenses per
    # aspirate of 270 µL, then three (170 µL); the disposal is blown out in the trash.
    aspirates = [v for kind, v, _ in bench.steps() if kind == "aspirate"]
    assert aspirates == [270, 170]
    dispensed = [w for kind, _, w in bench.steps() if kind == "dispense"]
    assert dispensed == [f"1/A{i}" for i in range(1, 9)]
    assert [cmd.well for cmd in bench.commands() if isinstance(cmd, c.BlowOut)] == [
        "12/A1", "12/A1"]
    assert bench.kinds("pickUpTip", "dropTip") == ["pickUpTip", "dropTip"]
    summary = bench.finish()
    assert summary["well_volumes_ul"]["2/A1"] == -440
    assert summary["well_volumes_ul"]["12/A1"] == 40


def test_distribute_with_air_gap_gaps_between_dispenses(bench: Bench) -> None:
    bench.p300.distribute(30, bench.reservoir["A1"], bench.plate.rows()[0][:2],
                          air_gap=10, disposal_volume=0)
    assert bench.steps() == [
        ("aspirate", 60, "2/A1"), ("airGap", 10, "2/A1"), ("dispense", 40, "1/A1"),
        ("airGap", 10, "1/A1"), ("dispense", 40, "1/A2")]


def test_consolidate_gathers_sources_into_one_dispense(bench: Bench) -> None:
    plate = bench.plate
    bench.p300.consolidate(100, plate.columns()[0][:4], bench.reservoir["A12"])
    assert bench.steps() == [
        ("aspirate", 100, "1/A1"), ("aspirate", 100, "1/B1"), ("aspirate", 100, "1/C1"),
        ("dispense", 300, "2/A12"),
        ("aspirate", 100, "1/D1"), ("dispense", 100, "2/A12")]


def test_consolidate_with_air_gaps_pushes_them_all_out(bench: Bench) -> None:
    plate = bench.plate
    bench.p300.consolidate(50, plate.columns()[0][:2], bench.reservoir["A12"], air_gap=10)
    assert bench.steps() == [
        ("aspirate", 50, "1/A1"), ("airGap", 10, "1/A1"), ("aspirate", 50, "1/B1"),
        ("airGap", 10, "1/B1"), ("dispense", 120, "2/A12")]


# -- pipette attributes ----------------------------------------------------------------


def test_pipette_attributes_from_the_definition(bench: Bench) -> None:
    p = bench.p300
    assert (p.type, p.channels, p.name, p.mount) == ("single", 1, "p300_single_gen2", "left")
    assert p.model.startswith("p300_single_v2")
    assert p.default_speed == 400
    hw = p.hw_pipette
    assert hw["max_volume"] == 300 and hw["min_volume"] == 20 and hw["channels"] == 1
    assert hw["has_tip"] is False and hw["working_volume"] == 300
    with pytest.raises(TypeError):
        hw["max_volume"] = 10  # type: ignore[index]
    p.pick_up_tip()
    assert p.hw_pipette["has_tip"] is True and p.hw_pipette["tip_length"] > 0


def test_default_speed_slows_the_moves(bench: Bench) -> None:
    p = bench.p300
    p.default_speed = 100
    p.pick_up_tip()
    p.move_to(bench.plate["A1"].top())
    assert bench.commands()[-1].speed == 100
    with pytest.raises(ProtocolError, match="default_speed must be a positive number"):
        p.default_speed = 0


def test_plunger_speed_is_the_flow_rate_in_mm_per_s_before_2_14() -> None:
    with open_at("2.13") as ctx:
        p = ctx.load_instrument("p300_single_gen2", "left")
        # An OT-2's plunger: 9.3096 µL/mm at 300 µL, as Opentrons' simulator reads the
        # definition (not labrun's own plunger's 300 µL over 16 mm).
        assert p.speed.aspirate == 9.97465  # 92.86 µL/s
        p.speed.dispense = 20
        p.speed.aspirate = 10
        assert (p.flow_rate.aspirate, p.flow_rate.dispense) == (93.096, 186.192)
        g1 = ctx.load_instrument("p10_single", "right")  # aspirating and dispensing differ
        assert (g1.speed.aspirate, g1.speed.dispense) == (6.485083, 12.586532)
        for bad in (0, -5, "fast"):  # named as the protocol wrote it, not as a flow rate
            with pytest.raises(ProtocolError, match=rf"^speed\.aspirate must be a positive "
                               rf"number of mm/s, not {bad!r}$"):
                p.speed.aspirate = bad
        assert p.flow_rate.aspirate == 93.096
    with open_at("2.14") as ctx:
        p = ctx.load_instrument("p300_single_gen2", "left")
        with pytest.raises(UnsupportedAPIError, match=r"speed was removed in apiLevel 2\.14"):
            p.speed  # noqa: B018


@pytest.mark.parametrize(("level", "clamped"), [("2.9", True), ("2.16", True),
                                               ("2.17", False)])
def test_dispensing_more_than_the_tip_holds(level: str, clamped: bool) -> None:
    with open_at(level) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware(PLATE, 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(40, plate["A1"])
        if clamped:  # before 2.17 the plunger simply stops at empty
            p.dispense(300, plate["B1"])
            assert p.current_volume == 0
            p.aspirate(10, plate["A2"])  # the plunger is back at the bottom: room for 300
            p.dispense(10, plate["B2"])
            # The record keeps the volume asked (as Opentrons logs it); the result and the
            # well books say what left the tip.
            ctx.run.channel.finish()
            ctx.run.wait(timeout=30)
            dispenses = [e for e in ctx.run.engine.entries if isinstance(e.command, c.Dispense)]
            assert [e.command.volume for e in dispenses] == [300, 10]
            assert [(e.result or {})["volume_dispensed"] for e in dispenses] == [40, 10]
            summary = ctx.run.record.events[-1]
            assert summary["well_volumes_ul"] == {"1/A1": -40, "1/B1": 40, "1/A2": -10,
                                                  "1/B2": 10}
        else:
            with pytest.raises(VolumeError, match="300 µL asked but the tip holds 40 µL"):
                p.dispense(300, plate["B1"])


def test_distribute_ignores_the_old_disposal_vol_spelling(bench: Bench) -> None:
    # As in the reference: disposal_vol=0 leaves the P300's 20 µL disposal volume.
    bench.p300.distribute(50, bench.reservoir["A1"], bench.plate.rows()[0][:6],
                          disposal_vol=0)
    assert [v for kind, v, _ in bench.steps() if kind == "aspirate"] == [270, 70]


def test_a_skipped_touch_tip_names_its_labware_once_before_2_14() -> None:
    with open_at("2.13") as ctx:
        bench = Bench(ctx)
        bench.p300.pick_up_tip()
        bench.p300.touch_tip(bench.reservoir["A1"])
        warnings = [cmd.message for cmd in bench.commands() if isinstance(cmd, c.Comment)]
        assert len(warnings) == 1
        assert ("the definition of NEST 12 Well Reservoir 15 mL on slot 2 disables"
                in warnings[0]), warnings


def test_touch_tip_checks_its_numbers_before_it_is_skipped(bench: Bench) -> None:
    # As Opentrons: a bad speed fails even where the touch itself would be skipped.
    bench.p300.pick_up_tip()
    with pytest.raises(ProtocolError, match="touch_tip: speed must be a number"):
        bench.p300.touch_tip(bench.reservoir["A1"], speed="fast")  # type: ignore[arg-type]
