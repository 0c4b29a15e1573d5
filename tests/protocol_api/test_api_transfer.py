"""``InstrumentContext.transfer`` through simulated runs: pairings, volumes, tips, options.

The run's summary is what a user reads after a simulation; its ``well_volumes_ul`` (net
change per well) and ``tips_used`` must agree with what the protocol asked for.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import commands as c
from protocol_api import Labware, Well, open_context
from protocol_api.errors import ProtocolError, TipError, VolumeError
from protocol_api.execute import EmbeddedContext
from protocol_api.instrument import InstrumentContext
from protocol_api.transfer import split

TIPS_300 = "opentrons_96_tiprack_300ul"
PLATE = "corning_96_wellplate_360ul_flat"


class Bench:
    def __init__(self, ctx: EmbeddedContext, tips: str = TIPS_300) -> None:
        self.ctx = ctx
        self.racks = [ctx.load_labware(tips, 4), ctx.load_labware(tips, 5)]
        self.plate = ctx.load_labware(PLATE, 1)
        self.p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=self.racks)

    def commands(self) -> list[Any]:
        return [e.command for e in self.ctx.run.engine.entries if e.origin == "protocol"]

    def liquid(self) -> list[tuple[str, float, str | None]]:
        """(kind, volume, well) of every aspirate and dispense, volumes rounded to nL."""
        return [(cmd.kind, round(cmd.volume, 3), cmd.well) for cmd in self.commands()
                if isinstance(cmd, (c.Aspirate, c.Dispense))]

    def tip_events(self) -> list[tuple[str, str]]:
        return [(cmd.kind, cmd.well) for cmd in self.commands()
                if isinstance(cmd, (c.PickUpTip, c.DropTip))]

    def finish(self) -> dict[str, Any]:
        """End the run now and return its summary."""
        self.ctx.run.channel.finish()
        self.ctx.run.wait(timeout=30)
        last = self.ctx.run.record.events[-1]
        assert last["event"] == "summary"
        return last


@pytest.fixture
def bench() -> Iterator[Bench]:
    with open_context() as ctx:
        yield Bench(ctx)


def wells(bench: Bench, *names: str) -> list[Well]:
    return [bench.plate[name] for name in names]


def test_one_to_one(bench: Bench) -> None:
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"])
    assert bench.tip_events() == [("pickUpTip", "4/A1"), ("dropTip", "12/A1")]
    assert bench.liquid() == [("aspirate", 50, "1/A1"), ("dispense", 50, "1/B1")]
    assert not bench.p300.has_tip
    summary = bench.finish()
    assert summary["well_volumes_ul"] == {"1/A1": -50, "1/B1": 50}
    assert summary["tips_used"] == 1


def test_list_to_list_pairs_in_order(bench: Bench) -> None:
    bench.p300.transfer(30, wells(bench, "A1", "A2", "A3"), wells(bench, "B1", "B2", "B3"))
    assert bench.liquid() == [
        ("aspirate", 30, "1/A1"), ("dispense", 30, "1/B1"),
        ("aspirate", 30, "1/A2"), ("dispense", 30, "1/B2"),
        ("aspirate", 30, "1/A3"), ("dispense", 30, "1/B3")]
    assert bench.tip_events() == [("pickUpTip", "4/A1"), ("dropTip", "12/A1")]


def test_one_to_many_and_many_to_one(bench: Bench) -> None:
    bench.p300.transfer(20, bench.plate["A1"], bench.plate.columns()[1][:3])
    bench.p300.transfer(10, bench.plate.rows()[7][:2], bench.plate["H12"])
    assert bench.liquid() == [
        ("aspirate", 20, "1/A1"), ("dispense", 20, "1/A2"),
        ("aspirate", 20, "1/A1"), ("dispense", 20, "1/B2"),
        ("aspirate", 20, "1/A1"), ("dispense", 20, "1/C2"),
        ("aspirate", 10, "1/H1"), ("dispense", 10, "1/H12"),
        ("aspirate", 10, "1/H2"), ("dispense", 10, "1/H12")]
    summary = bench.finish()
    assert summary["well_volumes_ul"] == {
        "1/A1": -60, "1/A2": 20, "1/B2": 20, "1/C2": 20,
        "1/H1": -10, "1/H2": -10, "1/H12": 20}
    assert summary["tips_used"] == 2


def test_nested_lists_are_flattened_like_columns(bench: Bench) -> None:
    plate = bench.plate
    bench.p300.transfer(5, plate.columns()[:2], plate.columns()[2:4])
    dispensed = [well for kind, _, well in bench.liquid() if kind == "dispense"]
    assert dispensed == [f"1/{r}{col}" for col in (3, 4) for r in "ABCDEFGH"]


def test_volume_lists_go_with_their_pairs_and_zero_is_skipped(bench: Bench) -> None:
    bench.p300.transfer([10, 0, 25.5], wells(bench, "A1", "A2", "A3"),
                        wells(bench, "B1", "B2", "B3"))
    assert bench.liquid() == [
        ("aspirate", 10, "1/A1"), ("dispense", 10, "1/B1"),
        ("aspirate", 25.5, "1/A3"), ("dispense", 25.5, "1/B3")]
    assert bench.finish()["well_volumes_ul"] == {
        "1/A1": -10, "1/B1": 10, "1/A3": -25.5, "1/B3": 25.5}


def test_volumes_above_the_pipette_max_take_whole_parts_then_two_halves(
        bench: Bench) -> None:
    # 700 µL with a P300: one 300 µL part, then the 400 µL left in two equal halves.
    bench.p300.transfer(700, bench.plate["A1"], bench.plate["B1"])
    assert bench.liquid() == [("aspirate", v, "1/A1") if i % 2 == 0 else
                              ("dispense", v, "1/B1")
                              for v in (300, 200, 200) for i in range(2)]
    assert bench.finish()["well_volumes_ul"] == pytest.approx({"1/A1": -700, "1/B1": 700})


def test_parts_above_the_tip_max_fill_the_tip_first() -> None:
    # The P300 part (1320 µL: 300 x 3, then 210 x 2) is taken in 200 µL tips as
    # 200 + 100 and 200 + 10, as the reference does.
    with open_context() as ctx:
        bench = Bench(ctx, tips="opentrons_96_filtertiprack_200ul")
        bench.p300.transfer(1320, bench.plate["A1"], bench.plate["B1"])
        assert [v for kind, v, _ in bench.liquid() if kind == "aspirate"] == [
            200, 100, 200, 100, 200, 100, 200, 10, 200, 10]


def test_a_small_tip_is_filled_first_then_the_rest() -> None:
    with open_context() as ctx:
        bench = Bench(ctx, tips="opentrons_96_tiprack_20ul")
        bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"])
        assert [v for kind, v, _ in bench.liquid() if kind == "aspirate"] == [20, 20, 10]
        assert bench.p300.current_volume == 0


def test_split_gives_the_references_parts() -> None:
    assert [v for v, _ in split([50], ["w"], 20)] == [20, 15, 15]
    assert [v for v, _ in split([4500], ["w"], 1000)] == [1000, 1000, 1000, 750, 750]
    assert [v for v, _ in split([23, 5], ["a", "b"], 10)] == [10, 6.5, 6.5, 5]


def test_parts_fit_the_fresh_tips_not_the_last_tip() -> None:
    with open_context() as ctx:
        bench = Bench(ctx, tips="opentrons_96_tiprack_20ul")
        big = ctx.load_labware(TIPS_300, 6)
        bench.p300.pick_up_tip(big["A1"])  # a 300 µL tip
        bench.p300.drop_tip()
        bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], new_tip="always")
        assert [v for kind, v, _ in bench.liquid() if kind == "aspirate"] == [20, 20, 10]
        assert bench.tip_events()[:3] == [("pickUpTip", "6/A1"), ("dropTip", "12/A1"),
                                          ("pickUpTip", "4/A1")]


@pytest.mark.parametrize("mode", ["transfer", "distribute", "consolidate"])
@pytest.mark.parametrize("new_tip", ["once", "always"])
def test_a_call_that_picks_up_tips_refuses_a_tip_already_on(bench: Bench, mode: str,
                                                            new_tip: str) -> None:
    """As Opentrons at every apiLevel: the call asked for a new tip, and the one on may
    have touched anything; refused before the pipette moves, the tip still on."""
    bench.p300.pick_up_tip()
    before = bench.commands()
    with pytest.raises(TipError, match=(
            rf"^{mode}: new_tip='{new_tip}' picks up a new tip, but the left pipette already "
            r"holds one; drop or return it first, or use new_tip='never' to go on with it$")):
        getattr(bench.p300, mode)(50, bench.plate["A1"], bench.plate["B1"], new_tip=new_tip)
    assert bench.commands() == before
    assert bench.p300.has_tip


def test_a_reused_tip_holding_liquid_is_not_given_less(bench: Bench) -> None:
    # As in the reference, parts are sized for the tip's working volume, not what is
    # left in it: a part that does not fit fails on its aspirate.
    bench.p300.pick_up_tip()
    bench.p300.aspirate(100, bench.plate["H12"])
    with pytest.raises(VolumeError, match="aspirate: 250 µL would put 350 µL in the tip"):
        bench.p300.transfer(250, bench.plate["A1"], bench.plate["B1"], new_tip="never")


def test_a_transfer_needing_new_tips_without_tip_racks_is_refused() -> None:
    with open_context() as ctx:
        plate = ctx.load_labware(PLATE, 1)
        p20 = ctx.load_instrument("p20_single_gen2", "left")
        with pytest.raises(TipError, match="new_tip='once' needs tip_racks"):
            p20.transfer(10, plate["A1"], plate["A2"])
        assert not [e for e in ctx.run.engine.entries if e.command.kind == "moveTo"]


def test_exactly_the_max_is_one_move(bench: Bench) -> None:
    bench.p300.transfer(300, bench.plate["A1"], bench.plate["B1"])
    assert bench.liquid() == [("aspirate", 300, "1/A1"), ("dispense", 300, "1/B1")]


def test_new_tip_always_takes_a_fresh_tip_per_move_including_chunks(bench: Bench) -> None:
    bench.p300.transfer([50, 400], wells(bench, "A1", "A2"), wells(bench, "B1", "B2"),
                        new_tip="always")
    assert bench.tip_events() == [
        ("pickUpTip", "4/A1"), ("dropTip", "12/A1"),
        ("pickUpTip", "4/B1"), ("dropTip", "12/A1"),
        ("pickUpTip", "4/C1"), ("dropTip", "12/A1")]
    assert bench.finish()["tips_used"] == 3


def test_new_tip_never_uses_the_tip_already_on_and_keeps_it(bench: Bench) -> None:
    bench.p300.pick_up_tip()
    bench.p300.transfer(40, wells(bench, "A1", "A2"), wells(bench, "B1", "B2"), new_tip="never")
    assert bench.tip_events() == [("pickUpTip", "4/A1")]
    assert bench.p300.has_tip
    assert bench.finish()["tips_used"] == 1


def test_new_tip_never_without_a_tip_is_refused_before_any_motion(bench: Bench) -> None:
    with pytest.raises(TipError, match="transfer with new_tip='never': the left pipette"):
        bench.p300.transfer(40, bench.plate["A1"], bench.plate["B1"], new_tip="never")
    assert [cmd.kind for cmd in bench.commands()] == [
        "loadLabware", "loadLabware", "loadLabware", "loadLabware", "loadInstrument"]


def test_trash_false_returns_tips_and_takes_fresh_ones(bench: Bench) -> None:
    bench.p300.transfer(20, wells(bench, "A1", "A2"), wells(bench, "B1", "B2"),
                        new_tip="always", trash=False)
    # Every tip goes back where it came from; each move still gets an unused tip.
    assert bench.tip_events() == [
        ("pickUpTip", "4/A1"), ("dropTip", "4/A1"),
        ("pickUpTip", "4/B1"), ("dropTip", "4/B1")]
    assert not bench.racks[0]["A1"].has_tip and not bench.racks[0]["B1"].has_tip
    assert bench.finish()["tips_used"] == 2


def test_mix_before_and_after(bench: Bench) -> None:
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], mix_before=(2, 30),
                        mix_after=(3, 40))
    assert bench.liquid() == (
        [("aspirate", 30, "1/A1"), ("dispense", 30, "1/A1")] * 2
        + [("aspirate", 50, "1/A1"), ("dispense", 50, "1/B1")]
        + [("aspirate", 40, "1/B1"), ("dispense", 40, "1/B1")] * 3)
    # Mixing moves nothing between wells.
    assert bench.finish()["well_volumes_ul"] == {"1/A1": -50, "1/B1": 50}


@pytest.mark.parametrize(("location", "well"), [
    (None, "12/A1"), ("trash", "12/A1"), ("source well", "1/A1"),
    ("destination well", "1/B1")])
def test_blow_out_goes_to_the_blowout_location(bench: Bench, location: str | None,
                                               well: str) -> None:
    options: dict[str, Any] = {"blow_out": True}
    if location is not None:
        options["blowout_location"] = location
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], **options)
    kinds = [cmd.kind for cmd in bench.commands()[5:]]
    assert kinds == ["pickUpTip", "moveTo", "aspirate", "moveTo", "dispense", "moveTo",
                     "blowOut", "dropTip"]
    blow = next(cmd for cmd in bench.commands() if isinstance(cmd, c.BlowOut))
    assert blow.well == well
    slot, name = well.split("/")
    labware = bench.ctx.deck.occupant(slot)  # the deck reads no trash bin from 2.16
    assert isinstance(labware, Labware)  # from 2.16 the trash's well is not named
    target = (labware.first_well() if slot == "12" else labware[name]).top().point
    moves = [cmd for cmd in bench.commands() if isinstance(cmd, c.MoveTo)]
    assert moves[-1].point == tuple(target)


def test_transfer_positions_use_the_well_bottom_clearances(bench: Bench) -> None:
    bench.p300.well_bottom_clearance.aspirate = 2.0
    bench.p300.transfer(10, bench.plate["C3"], bench.plate["D4"].top(-1))
    moves = [cmd.point for cmd in bench.commands() if isinstance(cmd, c.MoveTo)]
    assert moves == [tuple(bench.plate["C3"].bottom(2.0).point),
                     tuple(bench.plate["D4"].top(-1).point)]


def test_a_transfer_is_one_step(bench: Bench) -> None:
    bench.p300.transfer(50, wells(bench, "A1", "A2"), wells(bench, "B1", "B2"),
                        new_tip="always", mix_after=(1, 20))
    entries = [e for e in bench.ctx.run.engine.entries if e.step.name == "transfer"]
    # Per move: pick up, move, aspirate, move, dispense, move, mix (aspirate, dispense), drop.
    assert len(entries) == 2 * 9
    assert len({e.step.index for e in entries}) == 1


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"air_gap": 300}, VolumeError, "air_gap must be from 0 µL to below the pipette's "
     "working volume, 300 µL; not 300"),
    ({"disposal_volume": -5}, VolumeError, "disposal_volume -5 µL is negative"),
    ({"new_tip": "sometimes"}, ProtocolError, "new_tip must be 'once', 'always' or 'never'"),
    ({"blow_out": True, "blowout_location": "sink"}, ProtocolError,
     "blowout_location must be one of"),
    ({"mix_before": (2,)}, ProtocolError, "mix_before must be \\(repetitions, volume\\)"),
    ({"mix_after": (-1, 10)}, ProtocolError, "mix_after must be \\(repetitions, volume\\)"),
    ({"mix_after": (2, 400)}, VolumeError,
     "mix_after volume 400 µL is more than the tip can take \\(300 µL\\)"),
])
def test_bad_options_are_refused_before_any_motion(bench: Bench, kwargs: dict[str, Any],
                                                   error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], **kwargs)
    assert bench.tip_events() == []


def test_falsy_options_change_nothing(bench: Bench) -> None:
    bench.p300.transfer(50, bench.plate["A1"], bench.plate["B1"], air_gap=0, touch_tip=False)
    assert len(bench.liquid()) == 2


@pytest.mark.parametrize(("volume", "source", "dest", "error", "message"), [
    (-1, "A1", "B1", VolumeError, "volume -1 µL is negative"),
    (math.nan, "A1", "B1", ProtocolError, "transfer: volume is nan; every number a protocol "
     "gives must be finite"),
    (math.inf, "A1", "B1", ProtocolError, "transfer: volume is inf; every number"),
    ("10", "A1", "B1", VolumeError, "must be a number of µL \\(or a list of them\\)"),
    ([10, "x"], ["A1", "A2"], ["B1", "B2"], VolumeError, "must be a number of µL"),
    ([10], ["A1", "A2"], ["B1", "B2"], VolumeError, "1 volumes given for 2 transfers"),
    (10, ["A1", "A2"], ["B1", "B2", "B3"], ProtocolError,
     "2 sources and 3 destinations cannot be paired"),
    (10, [], ["B1"], ProtocolError, "transfer: source is an empty list"),
])
def test_bad_volumes_and_pairings_are_refused_before_any_motion(
        bench: Bench, volume: Any, source: str | list[str], dest: str | list[str],
        error: type[Exception], message: str) -> None:
    def resolve(names: str | list[str]) -> Well | list[Well]:
        return bench.plate[names] if isinstance(names, str) else wells(bench, *names)

    with pytest.raises(error, match=message):
        bench.p300.transfer(volume, resolve(source), resolve(dest))
    assert bench.tip_events() == []


def test_a_non_well_target_is_refused_naming_the_call(bench: Bench) -> None:
    with pytest.raises(ProtocolError, match="transfer: dest must be a well, a location or a "
                       "list"):
        bench.p300.transfer(10, bench.plate["A1"], "B1")
    with pytest.raises(ProtocolError, match="distribute: dest must be wells or locations, "
                       "not the labware"):
        bench.p300.distribute(10, bench.plate["A1"], bench.plate)


# -- properties -----------------------------------------------------------------------------

WELL_NAMES = [f"{r}{col}" for r in "ABCD" for col in (1, 2, 3)]
volumes_ul = st.one_of(st.just(0.0),
                       st.floats(min_value=0.5, max_value=900, allow_nan=False).map(
                           lambda v: round(v, 2)))


@st.composite
def transfers(draw: st.DrawFn) -> tuple[list[str], list[str], list[float]]:
    """Sources, destinations and volumes in one of the four pairings transfer accepts."""
    shape = draw(st.sampled_from(["one-to-one", "list", "one-to-many", "many-to-one"]))
    n = 1 if shape == "one-to-one" else draw(st.integers(2, 5))
    names = st.sampled_from(WELL_NAMES)
    sources = [draw(names)] * (1 if shape == "one-to-many" else n)
    dests = [draw(names)] * (1 if shape == "many-to-one" else n)
    if shape == "list":
        sources = draw(st.lists(names, min_size=n, max_size=n))
        dests = draw(st.lists(names, min_size=n, max_size=n))
    volumes = draw(st.lists(volumes_ul, min_size=n, max_size=n))
    return sources, dests, volumes


def expected_net(sources: Sequence[str], dests: Sequence[str],
                 volumes: Sequence[float]) -> dict[str, float]:
    n = len(volumes)
    net: dict[str, float] = defaultdict(float)
    for i in range(n):
        src = sources[i] if len(sources) == n else sources[0]
        dst = dests[i] if len(dests) == n else dests[0]
        net[f"1/{src}"] -= volumes[i]
        net[f"1/{dst}"] += volumes[i]
    return net


def run_transfer(pipette: InstrumentContext, bench: Bench, sources: list[str],
                 dests: list[str], volumes: list[float], new_tip: str) -> None:
    src: Well | list[Well] = (bench.plate[sources[0]] if len(sources) == 1
                              else wells(bench, *sources))
    dst: Well | list[Well] = (bench.plate[dests[0]] if len(dests) == 1
                              else wells(bench, *dests))
    volume: float | list[float] = volumes[0] if len(volumes) == 1 else volumes
    pipette.transfer(volume, src, dst, new_tip=new_tip)


@settings(max_examples=40, deadline=None)
@given(plan=transfers(), new_tip=st.sampled_from(["once", "always", "never"]))
def test_well_volumes_and_tips_always_match_what_was_asked(
        plan: tuple[list[str], list[str], list[float]], new_tip: str) -> None:
    sources, dests, volumes = plan
    with open_context() as ctx:
        bench = Bench(ctx)
        if new_tip == "never":
            bench.p300.pick_up_tip()
        run_transfer(bench.p300, bench, sources, dests, volumes, new_tip)
        summary = bench.finish()
    # As in the reference, every part (a zero volume is one part too) gets its own tip
    # with new_tip="always", and "once" takes a tip even when nothing is moved.
    parts = len(list(split(volumes, volumes, 300)))
    expected_tips = {"once": 1, "always": parts, "never": 1}[new_tip]
    assert summary["status"] == "succeeded"
    assert summary["tips_used"] == expected_tips
    net = expected_net(sources, dests, volumes)
    reported = summary["well_volumes_ul"]
    for well in set(net) | set(reported):
        assert reported.get(well, 0.0) == pytest.approx(net.get(well, 0.0), abs=1e-5), well
    # Every aspirate and dispense stays within what the pipette holds.
    amounts = [v for kind, v, _ in bench.liquid()]
    assert all(0 < v <= 300 for v in amounts)


def test_a_blow_out_at_the_source_well_is_at_each_parts_own_source(bench: Bench) -> None:
    """As Opentrons: a transfer blows out at the source of the pair it just moved, a
    distribute at its one source, a consolidate (several sources) where the tip is."""
    plate, p300 = bench.plate, bench.p300
    p300.transfer(50, [plate["A1"], plate["B1"]], [plate["A2"], plate["B2"]], blow_out=True,
                  blowout_location="source well")
    p300.distribute(50, plate["C1"], [plate["A3"], plate["B3"]], blow_out=True,
                    blowout_location="source well")
    p300.pick_up_tip()
    p300.aspirate(10, plate["H1"])  # liquid in the tip: blow_out=True means the source well
    p300.consolidate(20, [plate["A4"], plate["B4"]], plate["A5"], blow_out=True,
                     new_tip="never")
    blow_outs = [cmd.well for cmd in bench.commands() if isinstance(cmd, c.BlowOut)]
    assert blow_outs == ["1/A1", "1/B1", "1/C1", "1/A5"]


@pytest.mark.parametrize(("level", "expected"), [
    ((2, 8), [("aspirate", 30.0, "1/A1"), ("dispense", 10.0, "1/B2")]),
    # before 2.8 a part of 0 µL is dispensed like any other, and a dispense of 0 is
    # "everything in the tip" (as Opentrons 8.8.2 logs it at 2.7, the same steps)
    ((2, 7), [("aspirate", 30.0, "1/A1"), ("dispense", 30.0, "1/A2"),
              ("dispense", 10.0, "1/B2")]),
])
def test_distribute_moves_no_part_of_nothing_from_2_8(level: tuple[int, int],
                                                       expected: list[Any]) -> None:
    with open_context(api_version=level) as ctx:
        bench = Bench(ctx)
        plate = bench.plate
        bench.p300.distribute([0, 10], plate["A1"], [plate["A2"], plate["B2"]])
        assert bench.liquid() == expected


def test_consolidate_moves_no_part_of_nothing_from_2_8() -> None:
    with open_context(api_version=(2, 8)) as ctx:
        bench = Bench(ctx)
        plate = bench.plate
        bench.p300.consolidate([0, 10], [plate["A1"], plate["B1"]], plate["A2"])
        bench.p300.consolidate(0, [plate["A1"], plate["B1"]], plate["A2"])
        assert bench.liquid() == [("aspirate", 10.0, "1/B1"), ("dispense", 10.0, "1/A2")]
        assert [kind for kind, _ in bench.tip_events()] == ["pickUpTip", "dropTip"] * 2


def test_a_distribute_part_that_fits_the_pipette_but_not_its_tip_goes_in_pieces() -> None:
    # 190 µL fits a p300 but not, with its 20 µL disposal volume, a 200 µL filter tip: it
    # goes as 95 + 95, not 180 and a 10 µL sliver below what a p300 measures (labrun refused
    # it half-way through; Opentrons 8.8.2 picks up a tip and moves nothing).
    with open_context(api_version=(2, 20)) as ctx:
        bench = Bench(ctx, tips="opentrons_96_filtertiprack_200ul")
        plate, p = bench.plate, bench.p300
        p.distribute([50, 190], plate["A1"], [plate["B1"], plate["B2"]])
        aspirated = [v for kind, v, _ in bench.liquid() if kind == "aspirate"]
        assert aspirated == [50 + 95 + 20, 95 + 20]  # each with the disposal volume
        dispensed = [v for kind, v, _ in bench.liquid() if kind == "dispense"]
        assert min(dispensed) >= p.min_volume
        volumes = bench.finish()["well_volumes_ul"]
        assert (volumes["1/B1"], volumes["1/B2"]) == (50, 190)


def test_a_consolidate_part_bigger_than_its_tip_goes_in_pieces() -> None:
    # 250 µL from each of two wells into one with 200 µL tips: 125 + 125 from each, no
    # sliver (labrun refused it; Opentrons 8.8.2 picks up a tip and moves nothing).
    with open_context(api_version=(2, 20)) as ctx:
        bench = Bench(ctx, tips="opentrons_96_filtertiprack_200ul")
        plate, p = bench.plate, bench.p300
        p.consolidate(250, [plate["A1"], plate["A2"]], plate["B1"])
        assert [(kind, v, well) for kind, v, well in bench.liquid() if kind == "aspirate"] == [
            ("aspirate", 125, "1/A1"), ("aspirate", 125, "1/A1"),
            ("aspirate", 125, "1/A2"), ("aspirate", 125, "1/A2")]
        assert bench.finish()["well_volumes_ul"]["1/B1"] == 500


@pytest.mark.parametrize(("api", "mixed_again"), [((2, 13), False), ((2, 14), True)])
def test_a_tip_emptied_but_for_the_last_digits_of_a_float_is_empty_from_2_14(
        api: tuple[int, int], mixed_again: bool) -> None:
    # Three dispenses of 84.2 µL out of 252.6 µL leave 3e-14 µL. Opentrons' engine (2.14
    # on) counts the tip empty, so the distribute mixes again before its next aspirate
    # (into an empty tip only); its legacy software (2.13) does not, nor labrun there.
    with open_context(api_version=api) as ctx:
        bench = Bench(ctx)
        bench.p300.distribute(84.2, bench.plate["A1"], wells(bench, "B1", "C1", "D1", "E1"),
                              disposal_volume=0, mix_before=(1, 100))
        mix = [("aspirate", 100, "1/A1"), ("dispense", 100, "1/A1")]
        assert bench.liquid() == [
            *mix, ("aspirate", 252.6, "1/A1"), ("dispense", 84.2, "1/B1"),
            ("dispense", 84.2, "1/C1"), ("dispense", 84.2, "1/D1"),
            *(mix if mixed_again else []), ("aspirate", 84.2, "1/A1"),
            ("dispense", 84.2, "1/E1")]


AIR_GAP_SPLIT = ("{}: {} µL with an air gap of {} µL does not fit the {} µL tip, so labrun "
                 "takes it in pieces that do; Opentrons' own software leaves the air gap out "
                 "of that count and fails on the OT-2 when it takes the air gap")
NOTHING_MOVED = ("{}: {} does not fit the {} µL tip, so labrun takes it in pieces that do; "
                 "Opentrons' own software moves nothing from that part on")


@pytest.mark.parametrize(("call", "warned"), [
    ("p.consolidate(290, [plate['A1']], plate['B1'], air_gap=20)",
     AIR_GAP_SPLIT.format("consolidate", 290, 20, 300)),
    ("small.consolidate(190, [plate['A1']], plate['B1'], air_gap=20)",  # fits without it
     AIR_GAP_SPLIT.format("consolidate", 190, 20, 200)),
    ("small.consolidate(250, [plate['A1']], plate['B1'])",
     NOTHING_MOVED.format("consolidate", "250 µL", 200)),
    ("small.consolidate([100, 250], [plate['A1'], plate['A2']], plate['B1'])",
     NOTHING_MOVED.format("consolidate", "250 µL", 200)),
    ("small.distribute(190, plate['A1'], [plate['B1'], plate['B2']])",
     NOTHING_MOVED.format("distribute", "190 µL with a disposal volume of 20 µL", 200)),
    ("for _ in range(3):\n    small.distribute(190, plate['A1'], [plate['B1']])",  # a line
     NOTHING_MOVED.format("distribute", "190 µL with a disposal volume of 20 µL", 200)),
    ("p.consolidate(280, [plate['A1']], plate['B1'], air_gap=20)", None),  # it fits
    ("p.distribute(290, plate['A1'], [plate['B1']], air_gap=20)", None),  # as Opentrons
    # 199.4 + 0.3 + 0.3 fill the 200 µL tip but for a float's last digits: one aspirate
    ("small.distribute(199.4, plate['A1'], [plate['B1']], disposal_volume=0.3, "
     "air_gap=0.3)", None),
])
def test_a_part_split_to_fit_the_tip_is_warned_of_where_opentrons_does_otherwise(
        call: str, warned: str | None) -> None:
    with open_context(api_version=(2, 15)) as ctx:
        plate = ctx.load_labware(PLATE, 1)
        p = ctx.load_instrument("p300_single_gen2", "left",
                                tip_racks=[ctx.load_labware(TIPS_300, 4)])
        small = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[
            ctx.load_labware("opentrons_96_filtertiprack_200ul", 5)])
        exec(call, {"p": p, "small": small, "plate": plate})  # the call, as written above
        warnings = [e.command.message.split(": ", 2)[2] for e in ctx.run.engine.entries
                    if isinstance(e.command, c.Comment)]
        assert warnings == ([] if warned is None else [warned])
        if "199.4" in call:
            dispensed = [e.command.volume for e in ctx.run.engine.entries
                         if isinstance(e.command, c.Dispense)]
            assert dispensed == pytest.approx([199.7])  # the piece and its air gap, once


def test_a_gradient_function_shapes_a_first_last_gradient_as_opentrons_plans_it(
        bench: Bench) -> None:
    """Opentrons' planner puts each well at ``first + (last - first) * f(i / (n - 1))``;
    labrun warned that ``gradient_function`` was no option and moved an even gradient."""
    bench.p300.transfer((10, 100), bench.plate["A1"], wells(bench, "B1", "B2", "B3", "B4"),
                        gradient_function=lambda x: x ** 2)
    assert [volume for kind, volume, _ in bench.liquid() if kind == "dispense"] == [
        10, 20, 50, 100]
    messages = [e.command.message for e in bench.ctx.run.engine.entries
                if isinstance(e.command, c.Comment)]
    assert not any("gradient_function" in message for message in messages), messages


@pytest.mark.parametrize(("function", "error"), [
    ("not a function", "transfer: gradient_function must be a function of one number "
                       "(from 0 to 1), not 'not a function'"),
    (lambda x: -1.0, "transfer: volume (from gradient_function) -80 µL is negative"),
])
def test_a_gradient_function_that_gives_no_volume_is_refused(
        bench: Bench, function: Any, error: str) -> None:
    with pytest.raises((ProtocolError, VolumeError)) as raised:
        bench.p300.transfer((10, 100), bench.plate["A1"], wells(bench, "B1", "B2"),
                            gradient_function=function)
    assert str(raised.value) == error
    assert bench.liquid() == []


@pytest.mark.parametrize(("source", "said"), [
    ("tuple(plate.columns()[0][:2])", "source is a tuple"),
    ("[plate['A1'], [plate['A2'], plate['A3']]]",
     "source is a list of wells and lists (or tuples) together"),
    ("[[plate['A1']], (plate['A2'],)]", "source is a list of wells and lists (or tuples) "
                                        "together"),
    ("[[plate['A1']], [plate['A2'], plate['A3']]]", None),  # Opentrons flattens it too
    ("plate.columns()[0][:2]", None),
])
def test_sources_nested_in_a_way_opentrons_fails_on_are_warned_of(
        source: str, said: str | None) -> None:
    """Opentrons flattens a list of lists only; a tuple of wells, or wells and lists in
    one list, fail there partway through the run (a tip on); labrun moves them and warns."""
    with open_context(api_version=(2, 15)) as ctx:
        plate = ctx.load_labware(PLATE, 1)
        p = ctx.load_instrument("p300_single_gen2", "left",
                                tip_racks=[ctx.load_labware(TIPS_300, 4)])
        p.consolidate(20, eval(source, {"plate": plate}), plate["H12"])
        warnings = [e.command.message.split(": ", 2)[2] for e in ctx.run.engine.entries
                    if isinstance(e.command, c.Comment)]
        assert warnings == ([] if said is None else [
            f"consolidate: {said}; labrun takes it as one list of wells, but Opentrons fails "
            "on it during the run; give a list of wells (or a list of lists) to run there"])
        assert any(isinstance(e.command, c.Dispense) for e in ctx.run.engine.entries)
