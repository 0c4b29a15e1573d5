"""Pauses never change what touches liquid (docs/design.md §4, §5), on the example protocols.

Each example runs once without pauses (the twin) and then with pauses of every kind
at random instants of the virtual clock, including during parking and unparking. The
paused run must make the same sequence of (tip, well, volume) contacts, and no nozzle or
tip end may go lower at any (x, y) than in the twin.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from motion_trace import PhysicalTrace, TraceItem, TracingController, follow_record

from hardware.clock import VirtualClock
from hardware.config import default_config
from labrun.cli.rehearsal import Intervention, schedule
from protocol_api.execute import continue_when_stalled, create_run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["incubation.py", "plate_replication.py", "serial_dilution.py"]


def traced(name: str, interventions: list[Intervention]) -> tuple[PhysicalTrace, dict[str, object]]:
    """Simulate an example with scripted interventions; its trace and summary."""
    config = default_config()
    clock = VirtualClock()
    trace: list[TraceItem] = []
    controller = TracingController(config, clock, trace=trace)
    run = create_run(EXAMPLES / name, config=config, controller=controller, clock=clock,
                     on_stalled=continue_when_stalled)
    try:
        follow_record(run, trace)
        schedule(run, interventions)
        run.control.play(source="test")
        run.wait(timeout=60)
    finally:
        run.close()
    summary = run.record.events[-1]
    assert summary["event"] == "summary"
    return PhysicalTrace(config, trace), summary


@functools.cache
def twin(name: str) -> tuple[PhysicalTrace, dict[str, object]]:
    return traced(name, [])


def assert_same_contacts_and_floor(name: str, interventions: list[Intervention]) -> None:
    baseline, base_summary = twin(name)
    paused, summary = traced(name, interventions)
    assert summary["status"] == "succeeded", summary
    assert paused.rounded_contacts() == baseline.rounded_contacts()
    assert paused.floor_violations(baseline) == []
    # The summary counts each command once, by what it did.
    for key in ("commands", "tips_used", "well_volumes_ul"):
        assert summary[key] == base_summary[key], key


def test_the_twin_has_contacts() -> None:
    trace, summary = twin("plate_replication.py")
    assert len(trace.contacts) > 100 and summary["tips_used"] > 0


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
    duration = float(twin(name)[1]["duration_s"])  # type: ignore[arg-type]

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(interventions(duration))
    def check(items: list[Intervention]) -> None:
        assert_same_contacts_and_floor(name, items)

    check()


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
    protocol = tmp_path / "moved_in.py"
    protocol.write_text(MOVED_IN_UNDER_THE_OTHER_TIP)
    config = default_config()
    clock = VirtualClock()
    trace: list[TraceItem] = []
    run = create_run(protocol, config=config, controller=TracingController(
        config, clock, trace=trace), clock=clock, on_stalled=continue_when_stalled)
    try:
        follow_record(run, trace)
        run.control.play(source="test")  # the move's pause resumed as a person would
        assert run.wait(timeout=30).status.value == "succeeded"
    finally:
        run.close()
    moved = next(i for i, (kind, event, _) in enumerate(trace) if kind == "event"
                 and event["event"] == "command" and event.get("type") == "moveLabware")
    after = [(start, end) for kind, start, end in trace[moved:] if kind == "move"]
    until_the_gantry_moves = []
    for start, end in after:
        if abs(end["X"] - start["X"]) > 1e-6 or abs(end["Y"] - start["Y"]) > 1e-6:
            break
        until_the_gantry_moves.append(end)
    assert until_the_gantry_moves, "the dispense made no move"
    assert min(end["Z"] for end in until_the_gantry_moves) >= config.safe_height - 1e-6
    assert min(end["A"] for end in until_the_gantry_moves) < 60  # the right went down
