"""Pauses never change what touches liquid (docs/design.md §4, §5), on the example protocols.

Each example runs once without pauses (the twin) and then with pauses of every kind
at random instants of the virtual clock, including during parking and unparking. The
paused run must make the same sequence of (tip, well, volume) contacts, and no nozzle or
tip end may go lower at any (x, y) than in the twin.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from motion_trace import PhysicalTrace, TraceItem, TracingController, follow_record

from hardware.clock import VirtualClock
from hardware.config import default_config
from labrun.cli.rehearsal import Intervention, schedule
from protocol_api.execute import continue_when_stalled, create_run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["incubation.py", "pcr_setup.py", "plate_replication.py", "serial_dilution.py"]


def trace_run(protocol: Path, interventions: Sequence[Intervention] = ()
              ) -> tuple[list[TraceItem], dict[str, Any]]:
    """Simulate ``protocol`` on a traced robot with scripted interventions (its own pauses
    resumed as a person would): the motions interleaved with the record's events, and
    its summary."""
    config = default_config()
    clock = VirtualClock()
    trace: list[TraceItem] = []
    controller = TracingController(config, clock, trace=trace)
    run = create_run(protocol, config=config, controller=controller, clock=clock,
                     on_stalled=continue_when_stalled)
    try:
        follow_record(run, trace)
        schedule(run, list(interventions))
        run.control.play(source="test")
        run.wait(timeout=60)
    finally:
        run.close()
    summary = run.record.events[-1]
    assert summary["event"] == "summary"
    return trace, summary


Traced = tuple[PhysicalTrace, dict[str, Any], list[tuple[str, float]]]


def traced(name: str, interventions: list[Intervention]) -> Traced:
    """Simulate an example with scripted interventions; its trace, summary and plunger
    strokes (``merged_strokes``)."""
    trace, summary = trace_run(EXAMPLES / name, interventions)
    return PhysicalTrace(default_config(), trace), summary, merged_strokes(trace)


@functools.cache
def twin(name: str) -> Traced:
    return traced(name, [])


def assert_same_contacts_and_floor(name: str, interventions: list[Intervention]) -> None:
    baseline, base_summary, base_strokes = twin(name)
    paused, summary, strokes = traced(name, interventions)
    assert summary["status"] == "succeeded", summary
    assert paused.rounded_contacts() == baseline.rounded_contacts()
    assert paused.floor_violations(baseline) == []
    # Nor higher: every plunger stroke at the twin's height (the contacts are in x and
    # y; a step in place made up in the air would draw air where the record says liquid).
    assert strokes == base_strokes
    # The summary counts each command once, by what it did.
    for key in ("commands", "tips_used", "well_volumes_ul"):
        assert summary[key] == base_summary[key], key


def test_the_twin_has_contacts() -> None:
    trace, summary, strokes = twin("plate_replication.py")
    assert len(trace.contacts) > 100 and summary["tips_used"] > 0 and len(strokes) > 100


def test_incubation_pause_mid_step_never_revisits_finished_wells_with_a_fresh_tip() -> None:
    # The reproduction: the pause lands in a step that has touched liquid.
    assert_same_contacts_and_floor("incubation.py", [
        Intervention(125.5, None, "pause-immediate"), Intervention(300.0, None, "resume")])


def test_plate_replication_pause_cutting_a_pick_up_never_lowers_a_bare_nozzle() -> None:
    assert_same_contacts_and_floor("plate_replication.py", [
        Intervention(800.0, None, "pause-immediate"), Intervention(900.0, None, "resume")])


KINDS = ["pause-immediate", "pause", "door"]


@st.composite
def interventions(draw: st.DrawFn, duration: float) -> list[Intervention]:
    items: list[Intervention] = []
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.floats(0.0, duration))
        hold = draw(st.floats(0.0, 20.0))
        kind = draw(st.sampled_from(KINDS))
        if kind == "door":
            items += [Intervention(at, None, "door-open"),
                      Intervention(at + hold, None, "door-close")]
        else:
            items.append(Intervention(at, None, kind))
        items.append(Intervention(at + hold + draw(st.floats(0.0, 3.0)), None, "resume"))
    return items


@pytest.mark.parametrize("name", NAMES)
def test_random_pauses_never_change_contacts_or_go_lower(name: str) -> None:
    duration = float(twin(name)[1]["duration_s"])

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(interventions(duration))
    def check(items: list[Intervention]) -> None:
        assert_same_contacts_and_floor(name, items)

    check()


def traced_file(tmp_path: Path, name: str, source: str,
                interventions: Sequence[Intervention] = ()) -> list[TraceItem]:
    """``trace_run`` of ``source``, written to ``tmp_path / name``; it must succeed."""
    protocol = tmp_path / name
    protocol.write_text(source)
    trace, summary = trace_run(protocol, interventions)
    assert summary["status"] == "succeeded", summary
    return trace


def events(trace: list[TraceItem]) -> list[dict[str, Any]]:
    """The record's events in a trace."""
    return [event for kind, event, _ in trace if kind == "event"]


def after_the_move_by_hand(trace: list[TraceItem]) -> list[tuple[Any, Any]]:
    """The motions once the labware moved by hand is in place (its ``moveLabware``
    completed), up to the first that moves the gantry: (start, end) of each."""
    move_id = next(event["id"] for event in events(trace) if event["event"] == "command"
                   and event.get("type") == "moveLabware")
    done = next(i for i, (kind, event, _) in enumerate(trace) if kind == "event"
                and event["event"] == "command" and event["id"] == move_id
                and event["status"] == "completed")
    moves = []
    for kind, start, end in trace[done:]:
        if kind != "move":
            continue
        if abs(end["X"] - start["X"]) > 1e-6 or abs(end["Y"] - start["Y"]) > 1e-6:
            break
        moves.append((start, end))
    return moves


def left_tip_ends(trace: list[TraceItem], moves: list[tuple[Any, Any]]) -> list[float]:
    """Where the end of the left pipette's tip was at the end of each of ``moves``."""
    left = default_config().mounts["left"]
    tip_length = next(event["params"]["tip_length"] for event in events(trace)
                      if event["event"] == "command" and event.get("type") == "pickUpTip"
                      and event["params"]["mount"] == "left")
    return [end[left.z_axis] + left.offset[2] - tip_length for _, end in moves]


MOVED_IN_UNDER_THE_OTHER_TIP = '''
from opentrons.protocol_api import OFF_DECK
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    tips20 = ctx.load_labware("opentrons_96_tiprack_20ul", 7)
    res = ctx.load_labware("nest_12_reservoir_15ml", 5)
    rack = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", OFF_DECK)
    right = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    left = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips20])
    left.pick_up_tip()
    left.aspirate(5, res["A2"])
    right.pick_up_tip()
    right.aspirate(100, res["A1"])  # the left nozzle hangs over slot 4, at travel height
    ctx.move_labware(rack, 4)  # by hand: a 124 mm tube rack now stands in slot 4
    right.dispense(50)  # in place: the right tip goes back down; the left stays up
    right.drop_tip()
    left.drop_tip()
'''


def test_the_lowering_after_a_move_by_hand_lowers_only_the_pipette_that_acts(
        tmp_path: Path) -> None:
    # Found by a red-team run: the in-place dispense lowered both mounts to their heights
    # from before the move, and the left's used tip went 32 mm into a tube of the rack
    # just placed under it. Only the right, which acts, goes back down.
    moves = after_the_move_by_hand(traced_file(tmp_path, "moved_in.py",
                                               MOVED_IN_UNDER_THE_OTHER_TIP))
    assert moves, "the dispense made no move"
    assert min(end["Z"] for _, end in moves) >= default_config().safe_height - 1e-6
    assert min(end["A"] for _, end in moves) < 60  # the right went down


def merged_strokes(trace: list[TraceItem]) -> list[tuple[str, float]]:
    """``stroke_heights``, with strokes in a row at one height as one (a stroke a pause
    cut off, finished on resume where it was cut)."""
    merged: list[tuple[str, float]] = []
    for stroke in stroke_heights(trace):
        if not merged or merged[-1] != stroke:
            merged.append(stroke)
    return merged


def stroke_heights(trace: list[TraceItem]) -> list[tuple[str, float]]:
    """Each plunger stroke's mount and the height of that mount's Z axis during it."""
    config = default_config()
    strokes = []
    for kind, start, end in trace:
        if kind != "move":
            continue
        for name, mount in config.mounts.items():
            if abs(end[mount.plunger_axis] - start[mount.plunger_axis]) > 1e-6:
                strokes.append((name, round(end[mount.z_axis], 3)))
    return strokes


BOTH_TIPS_DOWN = '''
from opentrons.types import Point
metadata = {"apiLevel": "%s"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    tips20 = ctx.load_labware("opentrons_96_tiprack_20ul", 4)
    res = ctx.load_labware("nest_12_reservoir_15ml", 5)
    right = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    left = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips20])
    right.pick_up_tip()
    left.pick_up_tip()
    under_right = res["A5"].bottom(2).move(Point(x=-2))  # the gantry X/Y of left in A1
    right.aspirate(50, under_right)
    right.dispense(50)
    left.aspirate(10, res["A1"].bottom(2))  # both tips down at one gantry X/Y
%s
    right.drop_tip()
    left.drop_tip()
'''
SECOND_PAUSE = '''    if PAUSES: ctx.pause("one")  # both held up
    right.prepare_to_aspirate()  # the right goes back down; the left still held
    if PAUSES: ctx.pause("two")  # the right held up again: the left's must stay pending
    left.dispense(5)'''
STRAIGHT_MOVE = '''    if PAUSES: ctx.pause("one")  # both held up
    right.move_to(under_right.move(Point(z=3)), force_direct=True)  # Z only: X/Y stay
    left.air_gap(2, in_place=True)'''


@pytest.mark.parametrize(("level", "steps"), [("2.16", SECOND_PAUSE), ("2.24", STRAIGHT_MOVE)],
                         ids=["a second pause", "the other's straight move"])
def test_a_held_tip_keeps_its_lowering_until_its_own_step_in_place(
        tmp_path: Path, level: str, steps: str) -> None:
    # Found by a third red-team: a second checkpoint pause replaced the left's pending
    # lowering with the right's, and a force_direct move of the right at the same X/Y
    # (X and Y named in its move, unchanged) dropped it: the left then acted 152 mm up.
    source = BOTH_TIPS_DOWN % (level, steps)
    paused = stroke_heights(traced_file(tmp_path, "paused.py", "PAUSES = True\n" + source))
    twin = stroke_heights(traced_file(tmp_path, "twin.py", "PAUSES = False\n" + source))
    assert paused == twin


def test_a_held_tip_clear_of_labware_stays_clear_of_one_moved_in_by_hand(
        tmp_path: Path) -> None:
    # The left's used tip rode at travel height over slot 4 when a 124 mm rack was moved
    # in there by hand; its own prepare_to_aspirate in place lowered it to that height,
    # 32 mm into a tube. A tip that was clear of every labware stays as far above the
    # tallest as it was.
    source = MOVED_IN_UNDER_THE_OTHER_TIP.replace('"2.15"', '"2.16"').replace(
        "    right.drop_tip()\n", "    left.prepare_to_aspirate()\n    right.drop_tip()\n").replace(
        '    left.aspirate(5, res["A2"])\n',
        '    left.aspirate(5, res["A2"])\n    left.dispense(5)  # a used, empty tip\n')
    trace = traced_file(tmp_path, "moved_in.py", source)
    ends = left_tip_ends(trace, after_the_move_by_hand(trace))
    assert ends and min(ends) > 124.35  # the tube rack's top


CUT_IN_THE_LOWERING = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    res = ctx.load_labware("nest_12_reservoir_15ml", 5)
    right = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    right.pick_up_tip()
    right.aspirate(100, res["A1"].bottom(2))
    ctx.pause("look")  # the unpark holds the tip up
    right.dispense(50)  # in place: its first move is the lowering
    right.drop_tip()
'''


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_an_immediate_pause_cutting_the_lowering_lowers_the_tip_again(
        tmp_path: Path, fraction: float) -> None:
    # Found by a fourth red-team, after the lowering was made per mount: the tip was no
    # longer held once its lowering began, so a pause cutting it off left the dispense
    # to be made where the cut left the tip, up to 130 mm above the well.
    uncut = traced_file(tmp_path, "cut.py", CUT_IN_THE_LOWERING)
    record = events(uncut)
    queued = {e["id"]: e for e in record if e["event"] == "command" and e["status"] == "queued"}
    times = {e["status"]: float(e["t"]) for e in record if e["event"] == "command"
             and queued[e["id"]]["type"] == "dispense"}
    at = times["started"] + fraction * (times["completed"] - times["started"])
    looked = next(float(e["t"]) for e in record
                  if e["event"] == "status" and e["status"] == "paused")
    cut = traced_file(tmp_path, "cut.py", CUT_IN_THE_LOWERING, [
        Intervention(looked, None, "resume"),  # the protocol's pause
        Intervention(at, None, "pause-immediate"), Intervention(at + 5.0, None, "resume")])
    assert any(e["event"] == "pause_effect" for e in events(cut))  # it was cut off
    assert stroke_heights(cut) == stroke_heights(uncut)


LOW_OVER_AN_EMPTY_SLOT = '''
from opentrons.protocol_api import OFF_DECK
from opentrons.types import Point
metadata = {"apiLevel": "2.16"}

def run(ctx):
    tips20 = ctx.load_labware("opentrons_96_tiprack_20ul", 7)
    res = ctx.load_labware("nest_12_reservoir_15ml", 5)
    rack = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", OFF_DECK)
    left = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips20])
    left.pick_up_tip()
    left.aspirate(5, res["A2"])
    left.dispense(5)
    left.move_to(ctx.deck.position_for(4).move(Point(113.88, 43.24, 30)))  # low, over slot 4
    %s
    left.prepare_to_aspirate()  # in place
    left.aspirate(10)
    left.drop_tip()
'''
"""A tip held low over an empty slot 4, then ``%s`` (what happens in the pause: a move of
a 124 mm tube rack in there by hand, the park lifting the tip), then steps in place."""


def test_a_held_tip_is_not_lowered_into_a_labware_moved_in_under_it(tmp_path: Path) -> None:
    # Found by a fourth red-team: a tip held 30 mm over an empty slot (below the tallest
    # labware elsewhere) was lowered back there, 94 mm into the rack a person had put in
    # that slot meanwhile. It goes no lower than 1 mm above that rack's top.
    trace = traced_file(tmp_path, "low.py", LOW_OVER_AN_EMPTY_SLOT % "ctx.move_labware(rack, 4)")
    ends = left_tip_ends(trace, after_the_move_by_hand(trace))
    assert ends and min(ends) >= 124.35 + 1.0 - 1e-6  # the tube rack's top, and 1 mm


MULTI_ACROSS_TWO_SLOTS = '''
from opentrons.protocol_api import OFF_DECK
from opentrons.types import Point
metadata = {"apiLevel": "2.16"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    res = ctx.load_labware("nest_12_reservoir_15ml", 5)
    rack = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", OFF_DECK)
    left = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    left.pick_up_tip()
    left.aspirate(50, res["A2"])
    left.dispense(50)
    # Low over the front of the empty slot 7: the first nozzle 40 mm into it, the mount's
    # centre 8.5 mm behind its front edge, the last three nozzles over slot 4.
    left.move_to(ctx.deck.position_for(7).move(Point(60, 40, 30)))
    ctx.move_labware(rack, 4)  # by hand: the park lifts the tips, a 124 mm rack goes in
    left.prepare_to_aspirate()  # in place
    left.drop_tip()
'''


def test_a_multi_channel_is_not_lowered_into_a_labware_moved_in_under_its_last_nozzles(
        tmp_path: Path) -> None:
    # Left alone at the last stop, then found to be reachable: only the mount's centre was
    # checked against the slot a person filled, and an 8-channel reaches 31.5 mm either
    # side of it. Held over slot 7 with its last three tips over slot 4, the in-place
    # prepare_to_aspirate lowered it back to 30 mm: 94 mm into the tube rack put there.
    trace = traced_file(tmp_path, "multi.py", MULTI_ACROSS_TWO_SLOTS)
    ends = left_tip_ends(trace, after_the_move_by_hand(trace))
    assert ends and min(ends) >= 124.35 + 1.0 - 1e-6  # the tube rack's top, and 1 mm


HELD_THROUGH_TWO_MOVES_BY_HAND = '''
from opentrons.protocol_api import OFF_DECK
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    tips1k = ctx.load_labware("opentrons_96_tiprack_1000ul", 3)
    plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 2)
    plate2 = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", OFF_DECK)
    rack = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", OFF_DECK)
    m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    s = ctx.load_instrument("p1000_single_gen2", "right", tip_racks=[tips1k])
    s.pick_up_tip()
    m.pick_up_tip()
    m.aspirate(50, plate["A1"].bottom(1))
    ctx.move_labware(plate2, 6)  # by hand: the tips are held up over column 1
    ctx.move_labware(rack, 9)  # by hand, away from the tips: the long tip's safe height rises
    m.dispense(50)  # in place: back down into column 1
    m.drop_tip()
    s.drop_tip()
'''


def test_a_tip_held_through_two_pauses_goes_back_to_its_own_height(tmp_path: Path) -> None:
    # Found by a red-team of multi-channels: the second pause took the height the tips
    # were held at (the safe height before a 124 mm rack raised it) for the height to go
    # back down to, so the dispense in place was made 158 mm above the wells it names.
    trace = traced_file(tmp_path, "held.py", HELD_THROUGH_TWO_MOVES_BY_HAND)
    left = [z for mount, z in stroke_heights(trace) if mount == "left"]
    aspirate, dispense = left[-4], left[-3]  # then the drop's two strokes, in the trash
    assert dispense == aspirate < 60


DEFERRED_PAUSE_AFTER_A_TALL_LOAD = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    tips1k = ctx.load_labware("opentrons_96_tiprack_1000ul", 3)
    plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 2)
    m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    s = ctx.load_instrument("p1000_single_gen2", "right", tip_racks=[tips1k])
    s.pick_up_tip()
    m.pick_up_tip()
    m.aspirate(50, plate["A1"].bottom(1))
    ctx.pause("check the plate")  # the tips are held up over column 1
    ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", 9)  # 124 mm
    ctx.comment("next: dispense")
    m.dispense(50)  # in place: back down into column 1
    m.drop_tip()
    s.drop_tip()
'''


def test_a_deferred_pause_keeps_the_height_a_protocol_pause_held_the_tips_over(
        tmp_path: Path) -> None:
    # The same, found by the same red-team with a person's pause taken as the dispense's
    # step began: the dispense was made at Z 190 (tip ends 139 mm up) instead of 53.
    twin = traced_file(tmp_path, "deferred.py", DEFERRED_PAUSE_AFTER_A_TALL_LOAD)
    paused = traced_file(tmp_path, "deferred.py", DEFERRED_PAUSE_AFTER_A_TALL_LOAD,
                         [Intervention(None, 12, "pause")])
    assert any(e["event"] == "status" and e.get("pause_source") == "client"
               for e in events(paused))  # the person's pause was taken
    assert stroke_heights(paused) == stroke_heights(twin)


PLATE_ONTO_A_THERMOCYCLER = '''
from opentrons.protocol_api import OFF_DECK
from opentrons.types import Point
metadata = {"apiLevel": "2.16"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", 3)  # 124 mm
    tc = ctx.load_module("thermocycler", 7)
    tc.open_lid()
    plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", OFF_DECK)
    m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    m.pick_up_tip()
    # the 8 tip ends 95 mm up over the empty block, between where the plate's columns 1
    # and 2 will stand: its first nozzle at y 340, its last at 277, past slot 7's back edge
    m.move_to(ctx.deck.position_for(7).move(Point(18.88, 159, 95)))
    ctx.move_labware(plate, tc)  # by hand: the plate's top is at 102.8 mm
    m.prepare_to_aspirate()  # in place
    m.drop_tip()
'''


def test_a_multi_channel_is_not_lowered_onto_a_plate_put_on_a_module_by_hand(
        tmp_path: Path) -> None:
    # Found by the red-team of multi-channels: the nozzles were checked against slot 7's
    # square, but a plate on the thermocycler stands 68 mm further back, mostly over slot
    # 10's; the 8 tips went 7.8 mm below the top of the plate put under them.
    trace = traced_file(tmp_path, "tc.py", PLATE_ONTO_A_THERMOCYCLER)
    ends = left_tip_ends(trace, after_the_move_by_hand(trace))
    assert ends and min(ends) >= 102.8 + 1.0 - 1e-6  # the plate's top, and 1 mm


@pytest.mark.parametrize("away", ["6", "OFF_DECK"])
def test_a_tip_goes_back_down_once_the_labware_moved_in_under_it_is_moved_away(
        tmp_path: Path, away: str) -> None:
    # Found by a review: the floor a rack moved in under the held tip set stayed after a
    # second move by hand took the rack away, and the aspirate in place was made 95 mm
    # above where the tip was, over an empty slot again. It is made where a plain pause
    # leaves it, as if the rack had never come.
    moved = traced_file(tmp_path, "away.py", LOW_OVER_AN_EMPTY_SLOT % (
        f"ctx.move_labware(rack, 4)\n    ctx.move_labware(rack, {away})"))
    paused = traced_file(tmp_path, "paused.py", LOW_OVER_AN_EMPTY_SLOT % 'ctx.pause("look")')
    assert stroke_heights(moved) == stroke_heights(paused)
