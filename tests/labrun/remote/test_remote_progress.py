"""The progress of a served run, from its record's events on a clock the test sets: step k
of n, percent, time elapsed and left (corrected by the run's own pace, pauses left out),
the current call in words, comments, wells done, and the server's log lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labrun.remote.progress import Plan, RunProgress
from protocol_api.execute import continue_when_stalled, create_run

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "plate_replication.py"


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    run = create_run(EXAMPLE, on_stalled=continue_when_stalled)
    run.control.play(source="simulate")
    run.wait()
    run.close()
    return list(run.record.events)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(events: list[dict[str, Any]], clock: Clock, slowness: float,
           pause_wall_s: float = 0.0) -> Iterator[dict[str, Any]]:
    """The events as a live run would send them, ``slowness`` times slower than planned,
    with the protocol pause lasting ``pause_wall_s`` of wall time."""
    paused = 0.0
    for event in events:
        if event["event"] == "status" and event["status"] == "running" and clock.now:
            paused += pause_wall_s  # the resume comes after the person's wait
        clock.now = event["t"] * slowness + paused
        yield event


def test_plan_reads_the_simulation(events: list[dict[str, Any]]) -> None:
    plan = Plan.from_events(events)
    assert plan.steps == 33 and len(plan.starts) == 33
    assert plan.duration_s == events[-1]["duration_s"]
    assert plan.words[7] == ("Transferring 50.0 µL from 8 wells A1…H1 of source (slot 1) to "
                             "8 wells A1…H1 of replica (slot 2)")
    assert [s["slot"] for s in plan.sheet["deck"]] == ["1", "2", "4", "5", "12"]


def test_progress_on_plan_then_corrected_by_a_slower_run(events: list[dict[str, Any]]) -> None:
    plan = Plan.from_events(events)
    clock = Clock()
    lines: list[str] = []
    progress = RunProgress("uid", "plates.py", plan, speed=1.0, now=clock, log=lines.append)
    published: list[tuple[str, dict[str, Any]]] = []
    seen: dict[int, dict[str, Any]] = {}
    for event in replay(events, clock, slowness=2.0, pause_wall_s=30.0):
        published += progress.feed([event])
        if event["event"] == "step":
            seen[event["index"]] = progress.fields()
    first, second, mid = seen[7], seen[8], seen[21]
    assert first["step"] == 8 and first["steps"] == 33
    assert first["call"] == plan.words[7]
    assert first["left_s"] == pytest.approx(plan.duration_s, abs=0.1)  # the estimate
    assert first["percent"] == 0.0
    # Step 9 starts 75.6 planned seconds in: the run's pace (2x slower) has corrected it.
    assert second["left_s"] == pytest.approx(2 * (plan.duration_s - plan.starts[8]), abs=0.2)
    assert second["percent"] == pytest.approx(100 * plan.starts[8] / plan.duration_s, abs=0.1)
    assert second["call"] == plan.words[8]
    # After the pause (30 s of wall time, not counted as slowness) the estimate holds.
    assert mid["step"] == 22
    assert mid["left_s"] == pytest.approx(2 * (plan.duration_s - plan.starts[21]), abs=0.2)
    assert mid["elapsed_s"] == pytest.approx(2 * plan.starts[21] + 30.0, abs=0.2)
    assert mid["comments"] == ["replica 1 of 2", "replica 2 of 2"]
    end = progress.fields()
    assert (end["percent"], end["left_s"], end["call"]) == (100.0, 0.0, None)
    assert end["elapsed_s"] == pytest.approx(2 * plan.duration_s + 30.0, abs=0.2)
    assert end["wells_done"] == 96 * 2  # the source and the replica slot
    kinds = [name for name, _ in published]
    assert kinds.count("command") == 33 and kinds.count("comment") == 2
    wells = [w for name, data in published if name == "progress" for w in data["wells"]]
    assert len(wells) == len(set(wells)) == 192 and "2/H12" in wells
    assert lines[0] == "run plates.py: started, 33 steps, about 29:39"
    assert lines[1] == ("run plates.py: paused by protocol at step 20: Replace the replica "
                        "plate in slot 2 with an empty plate, then resume.")
    assert lines[2] == "run plates.py: succeeded after 59:48"
    assert len(lines) == 3


def test_without_a_plan_says_what_it_knows(events: list[dict[str, Any]]) -> None:
    clock = Clock()
    progress = RunProgress("uid", "run", None, now=clock)
    for event in replay(events[:40], clock, slowness=1.0):
        progress.feed([event])
    fields = progress.fields()
    assert fields["step"] == 8 and fields["steps"] is None and fields["percent"] is None
    assert fields["call"] == "transfer"  # the step's name: no simulation to word it
    late = RunProgress("uid", "run", None, now=clock)  # watched from after the run started
    clock.now = 100.0
    late.feed([e for e in events[40:60] if e["event"] != "status"])
    clock.now = 130.0
    assert late.fields()["elapsed_s"] == 30.0


def test_time_left_runs_down_within_a_step_and_stands_while_paused(
        events: list[dict[str, Any]]) -> None:
    plan = Plan.from_events(events)
    clock = Clock()
    progress = RunProgress("uid", "p.py", plan, now=clock)
    at_pause = next(i for i, e in enumerate(events)
                    if e["event"] == "status" and e["status"] == "paused")
    step_8 = next(i for i, e in enumerate(events) if e["event"] == "step" and e["index"] == 8)
    for event in replay(events[:step_8 + 1], clock, slowness=1.0):
        progress.feed([event])
    before = progress.fields()
    clock.now += 10.0
    after = progress.fields()
    assert after["left_s"] == pytest.approx(before["left_s"] - 10.0, abs=0.1)
    assert after["elapsed_s"] == pytest.approx(before["elapsed_s"] + 10.0, abs=0.1)
    for event in replay(events[step_8 + 1:at_pause + 1], clock, slowness=1.0):
        progress.feed([event])
    before = progress.fields()
    clock.now += 100.0
    after = progress.fields()
    assert after["left_s"] == before["left_s"] and after["percent"] == before["percent"]
    assert after["elapsed_s"] == pytest.approx(before["elapsed_s"] + 100.0, abs=0.1)


def test_a_multi_channel_marks_the_first_nozzle_s_well_done_too(tmp_path: Path) -> None:
    """The live page shows the wells a run has worked in: an 8-channel aspirating from a
    reservoir well and dispensing into a column marks all eight wells of the column (the
    first nozzle's well once counted as not worked in)."""
    protocol = tmp_path / "columns.py"
    protocol.write_text(
        'metadata = {"apiLevel": "2.15"}\n\n'
        "def run(ctx):\n"
        '    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)\n'
        '    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 1)\n'
        '    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)\n'
        '    p300 = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])\n'
        "    p300.pick_up_tip()\n"
        '    p300.aspirate(100, reservoir["A1"])\n'
        '    p300.dispense(100, plate["A2"])\n'
        "    p300.drop_tip()\n")
    assert wells_done(protocol) == sorted(["1/A1", *(f"2/{row}2" for row in "ABCDEFGH")])


def wells_done(protocol: Path) -> list[str]:
    """The wells the live page marks done once ``protocol`` has run (simulated)."""
    run = create_run(protocol, on_stalled=continue_when_stalled)
    run.control.play(source="simulate")
    run.wait()
    run.close()
    progress = RunProgress("uid", protocol.name, None, now=lambda: 0.0)
    progress.feed(run.record.events)
    return list(progress.snapshot()["wells"])


def simulated_progress(protocol: Path, source: str) -> tuple[RunProgress, list[dict[str, Any]]]:
    """``source`` simulated, fed to a ``RunProgress`` an event at a time: it, and what it
    published."""
    protocol.write_text(source)
    run = create_run(protocol, on_stalled=continue_when_stalled)
    run.control.play(source="simulate")
    run.wait()
    run.close()
    progress = RunProgress("uid", protocol.name, None, now=lambda: 0.0)
    published = [data for event in run.record.events
                 for name, data in progress.feed([event]) if name == "progress"]
    return progress, published


def test_the_tips_taken_are_those_the_deck_picture_draws_and_a_returned_tip_goes_back(
        tmp_path: Path) -> None:
    """The live page empties each tip position as the run takes it, in the rack where the
    setup's picture draws it, and fills it again when ``return_tip`` puts it back: an
    8-channel's pick-up is the column, a partial layout from the front nozzle the rows
    behind the one it goes to, a rack moved by hand still where it stood at the start."""
    progress, published = simulated_progress(tmp_path / "tips.py", '''
from opentrons.protocol_api import PARTIAL_COLUMN
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    more = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    p = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    p.pick_up_tip()  # A1-H1
    p.return_tip()  # back
    p.pick_up_tip(tips["A2"])
    p.drop_tip()
    ctx.move_labware(more, 6)
    p.configure_nozzle_layout(PARTIAL_COLUMN, start="H1", end="F1", tip_racks=[more])
    p.pick_up_tip()  # three tips: A1-C1 of the rack that was in slot 4
    p.drop_tip()
''')
    column = [f"{row}2" for row in "ABCDEFGH"]
    # A page that connects gets every tip taken, marked as all of them (it forgets one
    # put back while it was away); the changes as they come are not so marked.
    assert progress.snapshot()["snapshot"] is True
    assert not any("snapshot" in p for p in published)
    assert sorted(progress.snapshot()["tips"]) == sorted(
        [*(f"1/{name}" for name in column), "4/A1", "4/B1", "4/C1"])
    changes = [(sorted(p["tips"]), sorted(p["tips_back"])) for p in published
               if p["tips"] or p["tips_back"]]
    first = sorted(f"1/{row}1" for row in "ABCDEFGH")
    assert changes == [(first, []), ([], first), (sorted(f"1/{name}" for name in column), []),
                       (["4/A1", "4/B1", "4/C1"], [])]


def test_wells_of_a_labware_moved_by_hand_are_marked_where_the_deck_picture_has_them(
        tmp_path: Path) -> None:
    """The page's deck picture is the deck at the start: a plate moved from slot 2 to
    slot 5 has its wells marked done in slot 2, where the picture draws it."""
    protocol = tmp_path / "moved.py"
    protocol.write_text(
        'metadata = {"apiLevel": "2.20"}\n\n'
        "def run(ctx):\n"
        '    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
        '    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)\n'
        '    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])\n'
        '    p300.transfer(50, plate["A1"], plate["B1"])\n'
        "    ctx.move_labware(plate, 5)\n"
        '    p300.transfer(50, plate["A1"], plate["C1"])\n')
    assert wells_done(protocol) == ["2/A1", "2/B1", "2/C1"]


DELAYED = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(1, 9)])
    ctx.delay(minutes=10, msg="incubate")
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(9, 17)])
'''


def later_at_end(plan: Plan, delay: dict[str, Any]) -> float:
    """The percent the run reaches at the end of ``delay`` (a timeline item)."""
    return 100.0 * (delay["t"] + delay["seconds"]) / plan.duration_s


def simulated(tmp_path: Path, source: str) -> tuple[list[dict[str, Any]], Plan]:
    """The record of protocol ``source`` simulated, and its plan."""
    path = tmp_path / "protocol.py"
    path.write_text(source)
    run = create_run(path, on_stalled=continue_when_stalled)
    run.control.play(source="simulate")
    run.wait()
    run.close()
    events = list(run.record.events)
    return events, Plan.from_events(events)


def fed_to_step(events: list[dict[str, Any]], plan: Plan, name: str, pace: float = 1.0
                ) -> tuple[RunProgress, Clock, list[dict[str, Any]]]:
    """A run's progress fed its ``events`` up to the start of the step called ``name``,
    the moves taking ``pace`` times their planned time: the progress, its clock and the
    events after the step's start."""
    at = next(i for i, e in enumerate(events) if e["event"] == "step" and e["name"] == name)
    clock = Clock()
    progress = RunProgress("uid", "protocol.py", plan, speed=1.0, now=clock)
    for event in events[:at + 1]:
        clock.now = pace * event["t"]
        progress.feed([event])
    return progress, clock, events[at + 1:]


def simulated_delay(tmp_path: Path) -> tuple[list[dict[str, Any]], Plan, dict[str, Any]]:
    """The record of ``DELAYED`` simulated, its plan, and its delay's timeline item."""
    events, plan = simulated(tmp_path, DELAYED)
    (delay,) = [i for i in plan.sheet["timeline"] if i["kind"] == "delay"]
    return events, plan, delay


def test_a_delay_counts_its_own_length_in_time_left_whatever_the_pace_of_the_moves(
        tmp_path: Path) -> None:
    events, plan, delay = simulated_delay(tmp_path)
    moves_s = plan.duration_s - delay["seconds"]
    clock = Clock()
    progress = RunProgress("uid", "delayed.py", plan, speed=1.0, now=clock)
    slowness = 3.0  # the moves go three times slower than planned; the delay is 600 s
    in_delay: dict[str, Any] | None = None
    for event in events:
        t = event["t"]
        clock.now = (t - plan.waited(0.0, t)) * slowness + plan.waited(0.0, t)
        progress.feed([event])
        if event["event"] == "step" and event["name"] == "delay":
            in_delay = progress.fields()
            clock.now += 100.0  # 100 s into the delay
            later = progress.fields()
    assert in_delay is not None
    rest_moves = plan.duration_s - delay["t"] - delay["seconds"]
    # The whole delay, and the moves after it at the run's pace.
    assert in_delay["left_s"] == pytest.approx(600 + 3 * rest_moves, abs=0.5)
    assert later["left_s"] == pytest.approx(500 + 3 * rest_moves, abs=0.5)
    assert later["step_left_s"] == pytest.approx(500, abs=0.5)
    # What the rest of the delay adds to the percent (a page counts it on between events):
    # the delay's share of the planned time, less what has passed, up to the step's end.
    assert later["step_percent_left"] == pytest.approx(
        later_at_end(plan, delay) - later["percent"], abs=0.15)
    assert in_delay["percent"] + in_delay["step_percent_left"] == pytest.approx(
        later_at_end(plan, delay), abs=0.15)
    assert moves_s > 30
    # The whole run's estimate likewise: the delay at its own length (it was scaled too).
    assert later["estimated_s"] == pytest.approx(600 + 3 * moves_s, abs=1.0)


def test_a_pause_in_a_delay_takes_nothing_off_time_left_the_delay_runs_on(
        tmp_path: Path) -> None:
    """Time keeps running in a pause, so a delay paused for 20 s has 20 s less left on
    resume (time left was 20 s too high, and the page's two counts disagreed); a pause
    that outlasts the delay counts only what the delay had left."""
    events, plan, delay = simulated_delay(tmp_path)
    rest_moves = plan.duration_s - delay["t"] - delay["seconds"]
    for pause_s, left_after in ((20.0, 480.0), (900.0, 0.0)):
        progress, clock, _ = fed_to_step(events, plan, "delay")
        clock.now += 100.0  # 100 s into the delay, a pause of pause_s
        progress.feed([{"event": "status", "status": "pausing"},
                       {"event": "status", "status": "paused"}])
        clock.now += pause_s
        progress.feed([{"event": "status", "status": "running"}])
        fields = progress.fields()
        assert fields["step_left_s"] == pytest.approx(left_after, abs=0.5)
        assert fields["left_s"] == pytest.approx(left_after + rest_moves, abs=0.5)


def into_delay(tmp_path: Path, pace: float
               ) -> tuple[RunProgress, Clock, list[dict[str, Any]], Plan, dict[str, Any]]:
    """``DELAYED``'s progress fed up to the start of its delay, the moves taking ``pace``
    times their planned time: the progress, its clock, the events after the delay's
    start, the plan and the delay's timeline item."""
    events, plan, delay = simulated_delay(tmp_path)
    progress, clock, rest = fed_to_step(events, plan, "delay", pace)
    return progress, clock, rest, plan, delay


def skip_delay(progress: RunProgress, *, accepted: bool = True) -> list[Any]:
    """Feed the record's event of a person's ``skip_delay``; what is published."""
    return progress.feed([{"event": "action", "action": "skip_delay", "source": "page",
                           "accepted": accepted,
                           "refusal": None if accepted else "the delay is skipped already"}])


def next_step(progress: RunProgress, rest: list[dict[str, Any]]) -> dict[str, Any]:
    """Feed the first step event of ``rest``, at once; that event."""
    after = next(e for e in rest if e["event"] == "step")
    progress.feed([after])
    return after


def test_a_delay_skipped_in_a_pause_is_done_and_the_rest_of_the_pause_is_paused(
        tmp_path: Path) -> None:
    """Skipped 10 s into a pause, 100 s into a 600 s delay: the progress goes to the
    delay's end at once and stays there while the pause goes on (it went on counting
    the pause as the delay running, until the next step); the pace of the moves after it
    is not thrown off by the 490 s that were never waited."""
    progress, clock, rest, plan, delay = into_delay(tmp_path, pace=1.0)
    rest_moves = plan.duration_s - delay["t"] - delay["seconds"]
    clock.now += 100.0
    progress.feed([{"event": "status", "status": "pausing"},
                   {"event": "status", "status": "paused"}])
    clock.now += 10.0
    published = skip_delay(progress)
    skipped = progress.fields()
    assert [name for name, _ in published] == ["progress"]
    assert skipped["percent"] == pytest.approx(later_at_end(plan, delay), abs=0.15)
    assert skipped["left_s"] == pytest.approx(rest_moves, abs=0.5)
    assert skipped["step_left_s"] == pytest.approx(0.0, abs=0.5)
    clock.now += 300.0  # the pause goes on
    assert progress.fields()["percent"] == skipped["percent"]
    assert progress.fields()["left_s"] == skipped["left_s"]
    progress.feed([{"event": "status", "status": "running"}])
    next_step(progress, rest)
    assert progress.fields()["left_s"] == pytest.approx(rest_moves, abs=1.0)


def test_a_delay_skipped_while_running_leaves_the_pace_of_the_moves_as_it_was(
        tmp_path: Path) -> None:
    """The moves go at half the planned pace; the 600 s delay is skipped 550 s in. The
    50 s never waited are not taken for moves done faster than planned."""
    progress, clock, rest, plan, delay = into_delay(tmp_path, pace=2.0)
    rest_moves = plan.duration_s - delay["t"] - delay["seconds"]
    clock.now += 550.0
    skip_delay(progress)
    assert progress.fields()["left_s"] == pytest.approx(2 * rest_moves, abs=1.0)
    after = next_step(progress, rest)
    assert progress.fields()["left_s"] == pytest.approx(
        2 * (plan.duration_s - after["t"]), abs=1.0)


def test_a_delay_skipped_late_in_a_pause_leaves_the_pace_of_the_moves_as_it_was(
        tmp_path: Path) -> None:
    """The moves go at half the planned pace; a pause 540 s into the 600 s delay, the
    delay skipped 10 s into it: the 50 s it never waited are not taken for moves done
    faster than planned, nor is the rest of the pause."""
    progress, clock, rest, plan, _ = into_delay(tmp_path, pace=2.0)
    clock.now += 540.0
    progress.feed([{"event": "status", "status": "paused"}])
    clock.now += 10.0
    skip_delay(progress)
    clock.now += 300.0
    progress.feed([{"event": "status", "status": "running"}])
    after = next_step(progress, rest)
    assert progress.fields()["left_s"] == pytest.approx(
        2 * (plan.duration_s - after["t"]), abs=1.0)


def test_a_refused_skip_changes_nothing(tmp_path: Path) -> None:
    """A skip the engine refused (in the record with ``accepted`` false) leaves the
    delay running in the progress: 100 s into it, 500 s are still to wait."""
    progress, clock, _, _, _ = into_delay(tmp_path, pace=1.0)
    clock.now += 100.0
    before = progress.fields()
    assert skip_delay(progress, accepted=False) == []
    assert progress.fields() == before
    assert before["step_left_s"] == pytest.approx(500.0, abs=0.5)


def test_the_terminal_says_why_a_run_that_succeeded_stops_the_queue() -> None:
    clock = Clock()
    lines: list[str] = []
    progress = RunProgress("uid", "p.py", None, now=clock, log=lines.append)
    progress.feed([{"event": "status", "status": "running", "t": 0.0}])
    clock.now = 25.0
    progress.feed([{"event": "summary", "status": "succeeded", "t": 25.0,
                    "pause_unresolved": True}])
    assert lines == ["run p.py: started",
                     "run p.py: succeeded after 0:25: a pause asked for in its last step was "
                     "not taken; the queue stops"]


def test_the_terminal_says_where_a_failed_run_failed() -> None:
    clock = Clock()
    lines: list[str] = []
    progress = RunProgress("uid", "p.py", None, now=clock, log=lines.append)
    progress.feed([{"event": "status", "status": "running", "t": 0.0}])
    clock.now = 2.0
    progress.feed([{"event": "summary", "status": "failed", "t": 2.0,
                    "error": "ValueError: reagent lot expired", "location": "/srv/q/p.py:11"}])
    assert lines[-1] == "run p.py: failed after 0:02: p.py:11: ValueError: reagent lot expired"


@pytest.mark.parametrize("name", ["read_module", "check the block"])
def test_a_module_reading_on_a_robot_is_not_counted_against_the_plans_steps(
        events: list[dict[str, Any]], name: str) -> None:
    # On a robot, reading a temperature asks the module: a step the simulation lacks, of
    # its own (read_module) or a ctx.step group that does nothing else (its name).
    plan = Plan.from_events(events)
    clock = Clock()
    progress = RunProgress("uid", "p.py", plan, now=clock)
    live: list[dict[str, Any]] = []
    shift = 0
    for event in events:
        if event["event"] == "step" and event["index"] == 8:
            live.append({"event": "step", "index": 8, "name": name, "t": event["t"]})
            live.append({"event": "command", "status": "queued", "id": 10_000, "step": 8,
                         "type": "module/read", "params": {"module": "m1"}, "t": event["t"]})
            shift = 1
        if shift and "index" in event and event["event"] == "step":
            event = {**event, "index": event["index"] + shift}
        live.append(event)
    seen: dict[int, dict[str, Any]] = {}
    for event in replay(live, clock, slowness=1.0):
        progress.feed([event])
        if event["event"] == "step":
            seen[event["index"]] = progress.fields()
    if name == "read_module":  # the read: no change
        assert seen[8]["step"] == 8 and seen[8]["call"] == plan.words[7]
    else:  # a group: known to only read once it ends; meanwhile the next planned step's
        assert seen[8]["step"] == 9
    assert seen[9]["step"] == 9 and seen[9]["call"] == plan.words[8]
    assert seen[33]["step"] == 33 and seen[33]["steps"] == 33


TWO_DELAYS = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(1, 9)])
    with ctx.step("incubate"):
        ctx.delay(minutes=5, msg="warm")
        ctx.delay(minutes=10, msg="cool")
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(9, 17)])
'''


@pytest.mark.parametrize("paused", [False, True])
def test_a_skipped_delay_of_a_step_of_two_leaves_the_second_to_wait(
        tmp_path: Path, paused: bool) -> None:
    """A step of a 300 s and a 600 s delay; the first is skipped 100 s in (while running,
    or 10 s into a pause): the step has the second delay's 600 s left, not nothing (the
    skip took the whole step for done)."""
    events, plan = simulated(tmp_path, TWO_DELAYS)
    progress, clock, _ = fed_to_step(events, plan, "incubate")
    rest_moves = plan.duration_s - clock.now - 900.0
    clock.now += 100.0
    if paused:
        progress.feed([{"event": "status", "status": "paused"}])
        clock.now += 10.0
    skip_delay(progress)
    fields = progress.fields()
    assert fields["step_left_s"] == pytest.approx(600.0, abs=0.5)
    assert fields["left_s"] == pytest.approx(600.0 + rest_moves, abs=0.5)
    if paused:
        clock.now += 300.0  # the pause goes on: nothing runs
        assert progress.fields()["step_left_s"] == pytest.approx(600.0, abs=0.5)
        progress.feed([{"event": "status", "status": "running"}])
    clock.now += 200.0  # into the second delay
    assert progress.fields()["step_left_s"] == pytest.approx(400.0, abs=0.5)


DELAYS_AROUND_MOVES = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    with ctx.step("incubate"):
        ctx.delay(minutes=5, msg="warm")
        p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(1, 9)])
        ctx.delay(minutes=10, msg="cool")
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(9, 17)])
'''


def test_a_pause_between_two_delays_of_a_step_holds_time_left_still(tmp_path: Path) -> None:
    """Paused during the moves between the step's two delays, no delay runs on through
    the pause: time left stands still (it ran down as if the next delay had begun)."""
    events, plan = simulated(tmp_path, DELAYS_AROUND_MOVES)
    progress, clock, _ = fed_to_step(events, plan, "incubate")
    clock.now += 310.0  # 10 s into the moves after the first delay
    before = progress.fields()
    progress.feed([{"event": "status", "status": "paused"}])
    clock.now += 300.0
    after = progress.fields()
    assert (after["step_left_s"], after["left_s"]) == pytest.approx(
        (before["step_left_s"], before["left_s"]), abs=0.5)


def test_the_servers_line_for_a_pause_that_answers_a_client_too_says_so() -> None:
    """The protocol's pause taken for a client's deferred pause as well: the terminal of
    ``labrun serve`` says so, as ``labrun run``'s log does."""
    lines: list[str] = []
    progress = RunProgress("uid", "both.py", None, now=lambda: 0.0, log=lines.append)
    progress.feed([{"event": "step", "index": 6, "name": "pause", "t": 0.0},
                   {"event": "status", "status": "paused", "t": 0.0,
                    "pause_source": "protocol", "pause_message": "swap plate",
                    "pause_also_for": "remote"}])
    assert lines[-1] == ("run both.py: paused by protocol, which also answers the pause "
                         "a client asked for, at step 7: swap plate")


def test_a_run_that_ended_is_on_no_line_unless_it_failed_at_one(
        events: list[dict[str, Any]]) -> None:
    """The page's "Now" showed the last step's bare line once a run had succeeded, as if a
    call were going on there; a failed run keeps the line it failed at."""
    progress = RunProgress("uid", "replication.py", Plan.from_events(events), now=Clock())
    *running, summary = events
    progress.feed(running)
    assert str(progress.fields()["line"]).startswith("plate_replication.py:")
    progress.feed([summary])
    assert (progress.fields()["call"], progress.fields()["line"]) == (None, None)
    failed = RunProgress("uid", "p.py", None, now=Clock())
    failed.feed([{"event": "status", "status": "running", "t": 0.0},
                 {"event": "summary", "status": "failed", "t": 2.0, "error": "ValueError: x",
                  "location": "/srv/q/p.py:11"}])
    assert failed.fields()["line"] == "p.py:11"
    # An abort or halt says the line of the call it cut off (the page: "aborted at"); a
    # stop, a success, is on no line.
    for status, line in (("aborted", "p.py:10"), ("halted", "p.py:10"), ("stopped", None)):
        ended = RunProgress("uid", "p.py", None, now=Clock())
        ended.feed([{"event": "status", "status": "running", "t": 0.0},
                    {"event": "summary", "status": status, "t": 2.0, "reason": "why",
                     "ended_during": {"id": 7, "type": "delay", "line": "/srv/q/p.py:10",
                                      "status": "interrupted"}}])
        assert ended.fields()["line"] == line, status


def test_a_run_planned_under_a_second_of_wall_time_says_so(
        events: list[dict[str, Any]]) -> None:
    """At a high speed the plan's wall time rounds to 0:00: the log says "under a second"
    rather than "about 0:00"."""
    plan = Plan.from_events(events)
    lines: list[str] = []
    progress = RunProgress("uid", "plates.py", plan, speed=1e6, now=lambda: 0.0,
                           log=lines.append)
    progress.feed(events[:next(i for i, e in enumerate(events)
                               if e["event"] == "status" and e["status"] == "running") + 1])
    assert lines == ["run plates.py: started, 33 steps, under a second"]
