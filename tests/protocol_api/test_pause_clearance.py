"""Where the robot travels around a pause, and what moves behind an open door (§4, §5, §6).

Each protocol runs with interventions scripted on the virtual clock (as ``--at`` does),
every motion of the simulated robot kept beside the run record's events. The checks
speak of what a person would see: the tip end over the labware that stands there, the
axes standing still once the door is open, the record and the summary.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from motion_trace import TraceItem, TracingController, follow_record

from hardware.clock import RealClock, VirtualClock
from hardware.config import default_config
from labrun.cli.rehearsal import parse, schedule
from protocol_api.execute import continue_when_stalled, create_run

P1000_TIP = 76.5  # mm below the nozzle: opentrons_96_tiprack_1000ul on a p1000
TUBES_TOP = 124.35  # mm: opentrons_15_tuberack_falcon_15ml_conical
SLOT_8 = (132.5, 181.0)  # the OT-2's slot 8, front left corner
FOOTPRINT = (127.76, 85.48)  # mm: a labware's outline (SBS)

TUBES_IN_8 = '''
metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_1000ul", 1)
    plate = ctx.load_labware("nest_96_wellplate_2ml_deep", 2)
    tubes = ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", {tubes_at})
    p = ctx.load_instrument("p1000_single_gen2", "right", tip_racks=[tips])
    p.pick_up_tip()
    {before}
    p.aspirate(500, tubes["A1"])
    p.dispense(500, plate["A1"])
    p.drop_tip()
'''

TRANSFER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    res = ctx.load_labware("nest_12_reservoir_15ml", 3)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.pick_up_tip()
    p.aspirate(200, res["A1"])
    for well in ("A1", "A2", "A3", "A4"):
        p.dispense(50, plate[well])
    p.drop_tip()
'''


def rehearse(tmp_path: Path, source: str, *at: str) -> tuple[list[TraceItem], list[dict[str, Any]]]:
    """Simulate ``source`` with ``--at`` interventions: the motions and record events."""
    path = tmp_path / "protocol.py"
    path.write_text(source)
    config, clock, trace = default_config(), VirtualClock(), list[TraceItem]()
    run = create_run(path, config=config, clock=clock, on_stalled=continue_when_stalled,
                     controller=TracingController(config, clock, trace=trace))
    try:
        follow_record(run, trace)
        schedule(run, [parse(item) for item in at])
        run.control.play(source="test")
        run.wait(timeout=60)
    finally:
        run.close()
    return trace, run.record.events


Moves = list[tuple[dict[str, float], dict[str, float]]]


def moves_after(trace: list[TraceItem], found: Any, until: str | None = None) -> Moves:
    """The motions after the first record event for which ``found(event)`` holds (up to
    the next ``until`` event). A motion is kept as it ends: one in progress when that
    event came is among them."""
    moves: Moves = []
    seen = False
    for kind, first, second in trace:
        if kind == "event":
            if seen and first["event"] == until:
                break
            seen = seen or found(first)
        elif seen:
            moves.append((first, second))
    assert seen, "the event looked for never came"
    return moves


def lowest_tip_end_over(moves: list[tuple[dict[str, float], dict[str, float]]],
                        corner: tuple[float, float], tip: float) -> float:
    """The lowest the right mount's tip end (``tip`` mm below its nozzle) went over the
    labware outline at ``corner``, along every move that crossed it (inf: none did)."""
    lowest = math.inf
    x0, y0 = corner
    for start, end in moves:
        for k in range(401):
            f = k / 400
            x = start["X"] + (end["X"] - start["X"]) * f
            y = start["Y"] + (end["Y"] - start["Y"]) * f
            if x0 <= x <= x0 + FOOTPRINT[0] and y0 <= y <= y0 + FOOTPRINT[1]:
                lowest = min(lowest, start["A"] + (end["A"] - start["A"]) * f - tip)
    return lowest


def command_times(tmp_path: Path, source: str, kind: str, nth: int = 0) -> tuple[float, float]:
    """When the ``nth`` ``kind`` command started and completed, in a run without pauses."""
    _, events = rehearse(tmp_path, source)
    queued = [e["id"] for e in events
              if e["event"] == "command" and e.get("type") == kind][nth]
    times = {e["status"]: e["t"] for e in events
             if e["event"] == "command" and e["id"] == queued}
    return times["started"], times["completed"]


def test_unparking_after_a_move_by_hand_clears_the_labware_just_put_there(tmp_path: Path) -> None:
    # It travelled at the height of the deck before the move: the tip end 10.85 mm below
    # the tops of the tubes someone had just put in slot 8.
    source = TUBES_IN_8.format(tubes_at="OFF_DECK", before="ctx.move_labware(tubes, 8)")
    source = "from opentrons.protocol_api import OFF_DECK\n" + source
    trace, events = rehearse(tmp_path, source)
    assert events[-1]["status"] == "succeeded"
    asked = []

    def resumed(event: dict[str, Any]) -> bool:  # the resume that ends the move's pause
        if event["event"] == "command" and event.get("type") == "moveLabware":
            asked.append(event)
        return bool(asked) and event["event"] == "status" and event["status"] == "running"

    unparking = moves_after(trace, resumed, until="unpark")
    assert lowest_tip_end_over(unparking, SLOT_8, P1000_TIP) >= TUBES_TOP


@pytest.mark.parametrize(("ending", "cleaning", "status"), [
    ("stop", "stopping", "stopped"), ("abort", "aborting", "aborted")])
def test_a_run_ended_during_a_move_by_hand_cleans_up_clear_of_the_labware_just_put_there(
        tmp_path: Path, ending: str, cleaning: str, status: str) -> None:
    # Found by a red-team: a person opened the door as the robot parked for the move (the
    # tip stopped low over the tip rack), put the tubes in slot 8, closed the door and
    # stopped the run. The cleanup lifted to the height of the deck before the move and
    # took the tip to the trash across slot 8, its end 10.85 mm below the tops of the tubes.
    source = TUBES_IN_8.format(tubes_at="OFF_DECK", before="ctx.move_labware(tubes, 8)")
    source = "from opentrons.protocol_api import OFF_DECK\n" + source
    asked, _ = command_times(tmp_path, source, "moveLabware")
    trace, events = rehearse(tmp_path, source, f"{asked + 0.05}:door-open",
                             f"{asked + 30}:door-close", f"{asked + 31}:{ending}")
    summary = events[-1]
    assert summary["status"] == status
    assert next(e for e in events if e["event"] == "park")["stopped_by"] == ["door"]
    assert summary["tips_at_end"]["right"]["dropped"] is True  # taken to the trash
    cleanup = moves_after(trace, lambda e: e["event"] == "status" and e["status"] == cleaning)
    assert lowest_tip_end_over(cleanup, SLOT_8, P1000_TIP) >= TUBES_TOP


def test_a_pause_during_a_pick_up_parks_and_unparks_clear_with_the_tip(tmp_path: Path) -> None:
    # The model counts the tip once the pick-up completes: the park and unpark of a pause
    # that caught the nozzle pressing into it travelled at a bare nozzle's height, the
    # tip end 10.85 mm below the tops of the tubes in slot 8.
    source = TUBES_IN_8.format(tubes_at=8, before="pass")
    _started, completed = command_times(tmp_path, source, "pickUpTip")
    trace, events = rehearse(tmp_path, source, f"{completed - 0.5}:pause-immediate",
                             f"{completed + 10}:resume")
    assert events[-1]["status"] == "succeeded"
    effects = [e for e in events if e["event"] == "pause_effect"]
    assert [e["effect"] for e in effects] == ["interrupted", "completed after pause"]
    park = next(e for e in events if e["event"] == "park")
    assert park["kept_xy"] is False  # it went to the park position, over slot 8
    parking_and_back = moves_after(trace, lambda e: e["event"] == "pause_effect",
                                   until="pause_effect")
    assert any(b["X"] == 340.0 for _, b in parking_and_back)  # it went to park
    assert lowest_tip_end_over(parking_and_back, SLOT_8, P1000_TIP) >= TUBES_TOP


def moves_after_the_door(trace: list[TraceItem]) -> Moves:
    """The motions once the door opened: the one in progress then (cut off) among them."""
    return [(a, b) for a, b in moves_after(
        trace, lambda e: e["event"] == "interlock" and e["active"])
        if max(abs(a[axis] - b[axis]) for axis in a) > 1e-6]


def test_a_door_opened_while_the_robot_parks_stops_it_where_it_is(tmp_path: Path) -> None:
    _trace, events = rehearse(tmp_path, TRANSFER, "0.3:pause-immediate", "0.5:door-open",
                             "5:door-close", "6:resume")
    assert events[-1]["status"] == "succeeded"
    park = next(e for e in events if e["event"] == "park")
    assert park["stopped_by"] == ["door"]
    assert park["parked"]["X"] < 340.0  # short of the park position: it went on to it


def test_a_door_opened_during_a_stops_cleanup_leaves_the_robot_where_it_stopped(
        tmp_path: Path) -> None:
    started, _ = command_times(tmp_path, TRANSFER, "dropTip")
    trace, events = rehearse(tmp_path, TRANSFER, f"{started - 1}:stop",
                             f"{started - 0.5}:door-open")
    summary = events[-1]
    assert summary["status"] == "stopped"
    assert summary["cleanup_skipped"] == "the door held motion"
    assert summary["tips_at_end"]["right"]["dropped"] is False
    assert len(moves_after_the_door(trace)) <= 1  # the lift in progress, cut off


def test_a_door_opened_as_the_run_finishes_stops_the_closing_lift(tmp_path: Path) -> None:
    _, dropped = command_times(tmp_path, TRANSFER, "dropTip")
    trace, events = rehearse(tmp_path, TRANSFER, f"{dropped + 0.05}:door-open")
    assert events[-1]["status"] == "succeeded"
    assert len(moves_after_the_door(trace)) <= 1  # the lift in progress, cut off
    assert [e["reason"] for e in events if e["event"] == "cleanup"] == [
        "an interlock tripped during the cleanup"]


def test_an_abort_while_the_run_finishes_ends_it_aborted(tmp_path: Path) -> None:
    # It was accepted, then ignored: the run ended succeeded and a queue went on.
    _, dropped = command_times(tmp_path, TRANSFER, "dropTip")
    _, events = rehearse(tmp_path, TRANSFER, f"{dropped + 0.05}:abort")
    assert [e["status"] for e in events if e["event"] == "status"][-3:] == [
        "finishing", "aborting", "aborted"]
    assert events[-1]["status"] == "aborted"


SHAKER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    plate = hs.load_adapter("opentrons_96_flat_bottom_adapter").load_labware(
        "nest_96_wellplate_200ul_flat")
    res = ctx.load_labware("nest_12_reservoir_15ml", 3)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    hs.close_labware_latch()
    p.pick_up_tip()
    p.aspirate(50, res["A1"])
    p.dispense(50, plate["A1"])
    p.blow_out(plate["A1"].top())
    hs.set_and_wait_for_shake_speed(1000)
    ctx.delay(seconds=5)
    hs.deactivate_shaker()
    p.drop_tip()
'''


def test_a_pause_after_the_lift_for_a_shaker_resumes_with_the_pipettes_up(tmp_path: Path) -> None:
    # The step was rewound to before its lift: the pipette went back down over the plate,
    # the shaker spun up again, and only then did the lift run again.
    started, completed = command_times(tmp_path, SHAKER, "heaterShaker/setAndWaitForShakeSpeed")
    _, events = rehearse(tmp_path, SHAKER, f"{(started + completed) / 2}:pause-immediate",
                         f"{completed + 5}:resume")
    assert events[-1]["status"] == "succeeded"
    assert "rewound" not in {e["effect"] for e in events if e["event"] == "pause_effect"}
    unpark = next(e for e in events if e["event"] == "unpark")
    # back where the pause caught it, the pipettes homed up, as the shaker spins again
    assert unpark["position"]["A"] == pytest.approx(default_config().axes["A"].max)


def test_a_tip_caught_between_wells_after_a_move_by_hand_waits_where_it_stopped(
        tmp_path: Path) -> None:
    # It flew back "over its last well", in slot 2, where another plate stood by then.
    source = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    src = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    other = ctx.load_labware("corning_96_wellplate_360ul_flat", 6)
    dest = ctx.load_labware("corning_96_wellplate_360ul_flat", 9)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.pick_up_tip()
    p.aspirate(100, src["A1"])
    ctx.move_labware(src, 5)
    ctx.move_labware(other, 2)
    p.dispense(100, dest["A1"])
    p.drop_tip()
'''
    # each move by hand resumed by someone, then a pause on the way to ``dest``
    _, events = rehearse(tmp_path, source, "9:resume", "10:resume", "10.4:pause-immediate",
                         "14:resume")
    assert events[-1]["status"] == "succeeded"
    moves = [e["id"] for e in events if e["event"] == "command" and e.get("type") == "moveTo"]
    assert next((e["effect"], e["id"]) for e in events if e["event"] == "pause_effect") == (
        "interrupted", moves[1])
    park = [e for e in events if e["event"] == "park"][-1]
    assert park["kept_xy"] is True and "over_last_well" not in park
    assert (park["parked"]["X"], park["parked"]["Y"]) == (
        park["recorded"]["X"], park["recorded"]["Y"])


def test_an_immediate_pause_as_a_step_begins_says_what_it_caught(tmp_path: Path) -> None:
    _, events = rehearse(tmp_path, TRANSFER, "step=7:pause-immediate")
    effects = [e for e in events if e["event"] == "pause_effect"]
    paused = next(i for i, e in enumerate(events)
                  if e["event"] == "action" and e["action"] == "pause")
    step = [e for e in events[:paused] if e["event"] == "step"][-1]
    first = next(e for e in events if e["event"] == "command"
                 and e["status"] == "queued" and e["step"] == step["index"])
    assert [(e["effect"], e["id"]) for e in effects][:1] == [("interrupted", first["id"])]
    assert effects[0]["before_start"] is True


def test_the_position_others_see_follows_the_cleanup(tmp_path: Path) -> None:
    # It froze where the stop found the robot while the cleanup took the tip to the trash
    # and homed: a client's status showed a robot standing still.
    started, _ = command_times(tmp_path, TRANSFER, "dropTip")
    path = tmp_path / "protocol.py"
    run = create_run(path, on_stalled=continue_when_stalled)
    seen: list[dict[str, float]] = []

    def listen(state: Any) -> None:
        if state.ending is not None:
            seen.append(dict(run.engine.position_seen))

    try:
        run.call(lambda: run.engine.subscribe(listen))
        schedule(run, [parse(f"{started - 1}:stop")])
        run.control.play(source="test")
        run.wait(timeout=60)
    finally:
        run.close()
    assert run.record.events[-1]["tips_at_end"]["right"]["dropped"] is True
    trash_x = run.engine.model.trash_drop_point()[0]
    assert any(abs(p["X"] - trash_x) < 0.01 for p in seen), seen


def test_closing_a_run_that_is_already_ending_adds_no_abort(tmp_path: Path) -> None:
    # ``close`` aborted every run not yet ended: a run the server had aborted got a second
    # abort in its record, from a "client" that never sent one.
    path = tmp_path / "protocol.py"
    path.write_text(TRANSFER.replace('p.aspirate(200, res["A1"])',
                                     'p.aspirate(200, res["A1"])\n    ctx.delay(seconds=600)'))
    run = create_run(path, clock=RealClock(5.0), on_stalled=None)  # a cleanup of a second or two
    try:
        run.control.play()
        run.control.wait_for(lambda s: s.delay is not None, 30)
        assert run.control.stop().accepted
    finally:
        run.close()
    actions = [(e["action"], e["source"]) for e in run.record.events if e["event"] == "action"]
    assert actions == [("play", "client"), ("stop", "client")]
    assert run.record.events[-1]["status"] == "stopped"
