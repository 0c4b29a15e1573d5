"""The run log says what the robot did, as a scientist reads it: a multi-channel's
transfer says how many wells its tips reached (its own source too, when it is
one of them) and its aspirate, dispense, mix, blow-out
and touch-tip the wells under all its tips (not only those under its first nozzle),
a drop says how many tips went, a mix the run cut short says how far it got, a labware
on an adapter on a Heater-Shaker says on what it stands, ``-v`` says a module call
once, and a live log reads in time order."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from labrun.cli.main import main

PLATE = "Corning 96 Well Plate 360 µL Flat (slot 2)"
PLATE_384 = "Corning 384 Well Plate 112 µL Flat (slot 3)"
RESERVOIR = "NEST 12 Well Reservoir 15 mL (slot 5)"
RACK = "Opentrons OT-2 96 Tip Rack 300 µL (slot 4)"

MULTI = '''
from opentrons.protocol_api import ALL, PARTIAL_COLUMN

metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 5)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    plate384 = ctx.load_labware("corning_384_wellplate_112ul_flat", 3)
    p300m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300m.transfer(100, reservoir["A1"], plate.rows()[0][1:12])
    p300m.transfer(20, reservoir["A2"], [plate384["A1"], plate384["B2"], plate384["A3"],
                                         plate384["B4"], plate384["A5"]])
    p300m.transfer(100, reservoir["A1"], reservoir["A3"])
    p300m.transfer(50, plate["A1"], plate["A12"])
    p300m.configure_nozzle_layout(PARTIAL_COLUMN, start="H1", end="E1", tip_racks=[tips])
    p300m.transfer(30, reservoir["A4"], [plate["H1"], plate["H2"]])
    p300m.configure_nozzle_layout(ALL, tip_racks=[tips])
    p300.transfer(50, reservoir["A1"], plate.rows()[0][:5])
    p300m.pick_up_tip()
    p300m.drop_tip()
    p300.pick_up_tip()
    p300.drop_tip()
'''


def simulate(capsys: pytest.CaptureFixture[str], tmp_path: Path, protocol: str,
             *args: str) -> list[str]:
    """The run log's lines, without their ``[m:ss]`` stamps."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(protocol).lstrip("\n"))
    main(["simulate", str(path), *args])
    out = capsys.readouterr().out
    log = out.split("\nRun log\n", 1)[1].split("\n\n")[0]
    return [line.split("] ", 1)[1] if line.startswith("[") else line.strip()
            for line in log.splitlines()]


def test_a_multi_channel_transfer_says_the_wells_all_its_tips_reached(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, MULTI)
    transfers = [line for line in log if line.startswith("Transferring")]
    assert transfers == [
        # eight tips in each of 11 columns of a 96-well plate
        f"Transferring 100.0 µL from A1 of {RESERVOIR} to 11 columns A2…A12 of {PLATE} "
        "(8 tips: 88 wells)",
        # in a 384-well plate the tips go to every other row
        f"Transferring 20.0 µL from A2 of {RESERVOIR} to 5 columns A1…A5 of {PLATE_384} "
        "(8 tips, every other row: 40 wells)",
        # all eight tips in one reservoir well, each time
        f"Transferring 100.0 µL from A1 of {RESERVOIR} to A3 of {RESERVOIR} with 8 tips",
        # a column to a column: the tips said once
        f"Transferring 50.0 µL from A1 of {PLATE} (8 tips: 8 wells) to A12 of {PLATE} "
        "(8 wells)",
        # a partial layout: only the four nozzles in use count
        f"Transferring 30.0 µL from A4 of {RESERVOIR} to columns H1, H2 of {PLATE} "
        "(4 tips: 8 wells)",
        # a single-channel's line as it always was
        f"Transferring 50.0 µL from A1 of {RESERVOIR} to 5 wells A1…A5 of {PLATE}",
    ]


def test_a_drop_says_how_many_tips_went(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, MULTI)
    assert log[-4:] == [f"Picking up 8 tips from A6 of {RACK}",
                        "Dropping 8 tips into Trash Bin (slot 12)",
                        f"Picking up tip from F5 of {RACK}",
                        "Dropping tip into Trash Bin (slot 12)"]
    log = simulate(capsys, tmp_path, MULTI, "-v")
    drops = [line for line in log if line.startswith("Dropping")]
    assert drops[:2] == ["Dropping 8 tips into Trash Bin (slot 12)"] * 2  # a transfer's


INTO_ITS_SOURCE = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], plate.wells())
    p300.transfer(50, plate["A1"], plate.wells()[1:3], mix_before=(1, 50), mix_after=(1, 50))
'''


def test_a_transfer_into_its_own_source_counts_it_among_its_targets(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A1 into A1 is one of the 96 transfers asked for: taken for half of a mix (the same
    # volume drawn and given back in one well), it was left out ("to 95 wells B1…H12").
    # A mix gives back where it drew; a transfer moves to its target first. A mix of the
    # transfer's own volume is still no target.
    log = simulate(capsys, tmp_path, INTO_ITS_SOURCE)
    assert [line for line in log if line.startswith("Transferring")] == [
        f"Transferring 50.0 µL from A1 of {PLATE} to 96 wells A1…H12 of {PLATE}",
        f"Transferring 50.0 µL from A1 of {PLATE} to B1, C1 of {PLATE}"]


PLAIN_CALLS = '''
from opentrons.protocol_api import PARTIAL_COLUMN

metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 5)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    plate384 = ctx.load_labware("corning_384_wellplate_112ul_flat", 3)
    p300m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300m.pick_up_tip()
    p300m.aspirate(100, reservoir["A1"])
    p300m.dispense(50, plate["A1"])
    p300m.mix(2, 40, plate["A1"])
    p300m.dispense(50, reservoir["A2"])
    p300m.aspirate(20, plate384["B1"])
    p300m.dispense(20, plate384["A2"])
    p300m.blow_out(plate["A3"])
    p300m.touch_tip(plate["A3"])
    p300m.drop_tip()
    p300m.configure_nozzle_layout(PARTIAL_COLUMN, start="H1", end="G1", tip_racks=[tips])
    p300m.pick_up_tip()
    p300m.aspirate(30, plate["H4"])
    p300m.drop_tip()
    p300.pick_up_tip()
    p300.aspirate(30, plate["A5"])
    p300.touch_tip()
    p300.drop_tip()
'''


def test_a_multi_channel_call_says_the_wells_under_all_its_tips(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, PLAIN_CALLS)
    liquid = [line for line in log if line.startswith(
        ("Aspirating", "Dispensing", "Mixing", "Blowing", "Touching"))]
    assert liquid == [
        # eight tips in one reservoir well: each takes the volume
        f"Aspirating 100.0 µL into each of 8 tips from A1 of {RESERVOIR}",
        # a column: every well of it gets the volume, not only the first nozzle's
        f"Dispensing 50.0 µL into each of A1…H1 of {PLATE}",
        f"Mixing 2 times with a volume of 40.0 µL in each of A1…H1 of {PLATE}",
        f"Dispensing 50.0 µL from each of 8 tips into A2 of {RESERVOIR}",
        # in a 384-well plate the nozzles reach every other row
        f"Aspirating 20.0 µL from each of B1…P1 of {PLATE_384} (every other row)",
        f"Dispensing 20.0 µL into each of A2…O2 of {PLATE_384} (every other row)",
        f"Blowing out at A3…H3 of {PLATE}",
        f"Touching tips at A3…H3 of {PLATE}",
        # a partial layout of two nozzles: the two wells
        f"Aspirating 30.0 µL from each of G4, H4 of {PLATE}",
        # a single channel's lines as they always were
        f"Aspirating 30.0 µL from A5 of {PLATE}",
        f"Touching tip at A5 of {PLATE}",
    ]
    verbose = simulate(capsys, tmp_path, PLAIN_CALLS, "-v")
    assert f"Aspirating 40.0 µL from each of A1…H1 of {PLATE}" in verbose


MIX = '''
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("nest_96_wellplate_200ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(150, plate["A2"])
    p300.dispense(150, plate["A1"])
    ctx.delay(seconds=10)
    p300.mix(5, 150, plate["A1"])
    p300.drop_tip()
'''
MIXED = "with a volume of 150.0 µL in A1 of NEST 96 Well Plate 200 µL Flat (slot 2)"


def test_a_mix_the_run_cut_short_says_how_far_it_got(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, MIX)
    assert f"Mixing 5 times {MIXED}" in log  # a completed mix: as it always was
    # The mix runs from 0:20 to about 0:37, a mix every 3.3 s: the third one under way
    # when the immediate pause comes, and the run stopped while paused.
    log = simulate(capsys, tmp_path, MIX, "--at", "10:resume", "--at", "27.3:pause-immediate",
                   "--at", "60:stop")
    assert f"Mixing {MIXED} (stopped after 2 mixes and part of the 3rd)" in log
    log = simulate(capsys, tmp_path, MIX, "--at", "21:stop")
    assert f"Mixing {MIXED} (stopped during the 1st mix)" in log
    log = simulate(capsys, tmp_path, MIX, "--at", "25:abort")
    assert f"Mixing {MIXED} (aborted after 1 mix and part of the 2nd)" in log


MODULES = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    adapter = hs.load_adapter("opentrons_96_flat_bottom_adapter")
    adapter.load_labware("nest_96_wellplate_200ul_flat")
    other = ctx.load_module("heaterShakerModuleV1", 3)
    other.load_labware("nest_96_wellplate_200ul_flat", adapter="opentrons_96_flat_bottom_adapter")
    mag = ctx.load_module("magnetic module gen2", 9)
    mag.load_labware("nest_96_wellplate_200ul_flat")
    hs.close_labware_latch()
    hs.set_and_wait_for_shake_speed(500)
    mag.engage(height_from_base=10)
'''
ADAPTER = "Opentrons 96 Flat Bottom Heater-Shaker Adapter"


def test_a_labware_on_a_heater_shaker_adapter_says_on_what_it_stands(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, MODULES)
    assert [line for line in log if line.startswith("Loading")] == [
        "Loading Opentrons Fixed Trash (slot 12)",
        "Loading Heater-Shaker Module GEN1 in slot 1",
        f"Loading {ADAPTER} on Heater-Shaker Module GEN1 (slot 1)",
        f"Loading NEST 96 Well Plate 200 µL Flat on {ADAPTER} on Heater-Shaker Module GEN1 "
        "(slot 1)",
        "Loading Heater-Shaker Module GEN1 in slot 3",
        # load_labware(adapter=...): one call, the labware and what it stands on
        f"Loading NEST 96 Well Plate 200 µL Flat on {ADAPTER} on Heater-Shaker Module GEN1 "
        "(slot 3)",
        "Loading Magnetic Module GEN2 in slot 9",
        "Loading NEST 96 Well Plate 200 µL Flat on Magnetic Module GEN2 (slot 9)"]


def test_verbose_says_each_module_call_once(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = simulate(capsys, tmp_path, MODULES, "-v")
    start = log.index("Loading Magnetic Module GEN2 in slot 9")
    assert log[start:] == [
        "Loading Magnetic Module GEN2 in slot 9",
        "Loading NEST 96 Well Plate 200 µL Flat on Magnetic Module GEN2 (slot 9)",
        "Heater-Shaker: close labware latch",
        "Heater-Shaker: set and wait for shake speed (500 rpm)",
        "Lifting the pipettes clear of the Heater-Shaker Module GEN1 in slot 1",
        "Magnetic module: engage (magnets 12.5 mm above their home, 10 mm above the "
        "labware's base)",
        "status finishing",
        "status succeeded"]


def test_a_message_of_several_lines_stays_under_its_own_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A comment, a delay's or a pause's message with line breaks: its further lines are
    indented under its text, in the run log and the timeline, not at the margin, where
    they read as lines of their own (a second log line without a time)."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            ctx.comment("line one\\nline two")
            ctx.delay(seconds=2, msg="wait\\nfor it")
            ctx.pause("load the\\nplate")
            ctx.comment("""
                Step 2:
                  add the buffer
            """)
    '''))
    assert main(["simulate", str(protocol)]) == 0
    out = capsys.readouterr().out
    assert "[ 0:00] line one\n        line two\n" in out
    assert "[ 0:00] Delaying for 2 s: wait\n        for it\n" in out
    assert "[ 0:02] Pausing: load the\n        plate\n" in out
    assert "step 3: delay of 2 s: wait\n             for it\n" in out
    assert "step 4: PAUSE, the run waits for you: load the\n             plate\n" in out
    # a triple-quoted one: from its first words, without the code's indentation
    assert "] Step 2:\n          add the buffer\n" in out


def test_a_module_wait_is_said_as_it_begins_in_a_live_log(tmp_path: Path) -> None:
    """``labrun run`` prints the log as the record comes: a thermocycler profile (an hour
    of PCR) was printed only once it had ended, and the log said nothing meanwhile."""
    from engine.record import read_record
    from labrun.cli.report import TextLog

    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            tc = ctx.load_module("thermocyclerModuleV2")
            tc.close_lid()
            tc.execute_profile(steps=[{"temperature": 95, "hold_time_seconds": 30},
                                      {"temperature": 60, "hold_time_seconds": 30}],
                               repetitions=30, block_max_volume=20)
            tc.set_block_temperature(4, hold_time_minutes=5)
            ctx.comment("done")
    '''))
    record = tmp_path / "record.jsonl"
    assert main(["simulate", str(protocol), "--record", str(record)]) == 0
    log = TextLog(said_live=True)
    said: list[tuple[str, str]] = []  # (what was said, the event after which it was)
    for event in read_record(record):
        for text in log.feed(event):
            said.append((text, f"{event['event']} {event.get('type', '')} "
                               f"{event.get('status', '')}".strip()))
    profile = next(after for text, after in said if "run profile" in text)
    hold = next(after for text, after in said if "set block temperature" in text
                or "to 4 °C" in text)
    assert profile == "command thermocycler/runProfile queued", said
    assert hold.endswith("queued") and "wait" in hold.lower(), said


PAUSED_IN_A_TRANSFER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], [plate[f"B{n}"] for n in range(1, 7)])
    with ctx.step("incubate"):
        ctx.delay(seconds=30)
    ctx.comment("done")
'''


def simulated_and_live(tmp_path: Path, capsys: pytest.CaptureFixture[str], verbosity: int,
                       rehearsed: list[str]) -> tuple[str, list[str]]:
    """``labrun simulate``'s output of ``PAUSED_IN_A_TRANSFER`` rehearsed so, and the lines
    ``labrun run`` prints of the same record's events as they come; the stamped ones in
    time order."""
    import io
    import queue

    from engine.record import Event, read_record
    from labrun.cli.report import TextLog
    from labrun.cli.run import show_events
    from labrun.cli.terminal import StatusLine

    protocol = tmp_path / "protocol.py"
    protocol.write_text(PAUSED_IN_A_TRANSFER)
    record = tmp_path / "record.jsonl"
    assert main(["simulate", str(protocol), "--record", str(record), *rehearsed,
                 *["-v"] * verbosity]) == 0
    simulated = capsys.readouterr().out
    # What labrun run prints of these events, as they come, on a robot's real clock.
    out = io.StringIO()
    display = StatusLine(out, live=False, keys=False)
    log = TextLog(verbosity, quiet_sources=("terminal",), said_live=True)
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    for event in read_record(record):
        events.put(event)
        show_events(display, events, log)
    for line in log.finish():
        display.log(line)
    printed = out.getvalue().splitlines()
    times = [seconds(line) for line in printed if line.startswith("[")]
    assert times == sorted(times), "\n".join(printed)
    return simulated, printed


def seconds(line: str) -> int:
    """The time a log line is stamped with, in seconds."""
    stamp = re.match(r"\[\s*(\d+):(\d\d)\] ", line)
    assert stamp is not None, line
    return int(stamp[1]) * 60 + int(stamp[2])


def first(lines: list[str], start: str) -> int:
    """The index of the first log line whose words begin with ``start``."""
    return next(i for i, line in enumerate(lines) if line[8:].lstrip().startswith(start))


def test_what_a_pause_did_mid_call_is_said_live_unindented_before_the_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With -v, what an immediate pause did to the call's command is said as it happens,
    ahead of the call's own line: indented, it read as part of the call above it."""
    _, printed = simulated_and_live(tmp_path, capsys, 1, ["--at", "10:pause-immediate"])
    interrupted = first(printed, "interrupted: Aspirating 50.0 µL from A1")
    completed = first(printed, "completed after pause: Aspirating 50.0 µL from A1")
    assert interrupted < first(printed, "parked") < completed
    assert completed < first(printed, "Transferring 50.0 µL")
    for line in (printed[interrupted], printed[completed]):
        assert re.match(r"\[ 0:1\d\] [a-z]", line), line  # not nested under a call


@pytest.mark.parametrize("verbosity", [0, 1])
def test_a_live_log_reads_in_time_order_when_a_pause_comes_mid_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verbosity: int) -> None:
    """``labrun run`` prints status changes, parks and interlocks as they come, and a
    call's line once the call has ended: stamped with the call's start, that line came
    after the later ones a pause in the call printed, and the times ran backwards. Live, a
    call's line is stamped when it is said; the simulation's log keeps its start."""
    rehearsed = ["--at", "20:pause", "--at", "25:door-open", "--at", "40:door-close",
                 "--at", "45:resume"]
    simulated, printed = simulated_and_live(tmp_path, capsys, verbosity, rehearsed)
    transfer = first(printed, "Transferring 50.0 µL")
    # said once it has ended, after the resume, at its end (the next step's start)
    assert first(printed, "unparked back to") < transfer
    assert printed[transfer][:8] == printed[first(printed, "incubate")][:8]
    assert printed[first(printed, "pause (deferred) from rehearsal")].startswith("[ 0:20]")
    assert first(printed, "pause (deferred)") < first(printed, "interlock door active")
    # labrun simulate's log is read afterwards: the call stands where it began
    logged = simulated.splitlines()
    assert logged[first(logged, "Transferring 50.0 µL")].startswith("[ 0:00]")
    assert first(logged, "Transferring 50.0 µL") < first(logged, "pause (deferred)")


def test_lines_past_the_first_hour_stay_nested_under_their_stamped_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From the first hour on a stamp is two characters wider (``[1:01:00]``): a call's
    commands (``-v``) and a message's next lines are indented that much more, not by the
    width of ``[ 0:00]``, where a command read as a call of its own."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            ctx.delay(minutes=60)
            ctx.comment("line one\\nline two")
            p300.pick_up_tip()
            p300.drop_tip(home_after=False)
    '''))
    assert main(["simulate", str(protocol), "-v"]) == 0
    out = capsys.readouterr().out
    assert "\n[1:00:00] line one\n          line two\n" in out
    assert re.search(r"\n\[1:00:\d\d\] Picking up tip from A1 of Opentrons OT-2 96 Tip Rack "
                     r"300 µL \(slot 4\)\n {12}Picking up tip from A1", out), out


def test_what_a_person_asks_for_at_the_robots_board_is_said_where_it_was_asked() -> None:
    """A pause, resume or stop a person asks for at the robot's own board (a Marlin's LCD)
    comes from source ``board``: the log, the live lines, the status line and the server's
    terminal say "at the robot's board", not "by board"; a resume the door refuses says why."""
    from labrun_testing import P300, ScriptedRun

    from labrun.cli.report import TextLog
    from labrun.cli.run import event_line
    from labrun.cli.terminal import format_status
    from labrun.remote.progress import RunProgress

    scripted = ScriptedRun()
    try:
        scripted.play()
        scripted.call(P300, name="load")
        scripted.control.set_interlock("door", True)
        scripted.settle()
        scripted.run.call(lambda: scripted.controller.ask_at_board("resume"))  # refused
        scripted.control.set_interlock("door", False)
        scripted.run.call(lambda: scripted.controller.ask_at_board("resume"))
        scripted.settle()
        scripted.run.call(lambda: scripted.controller.ask_at_board("pause"))
        status = scripted.settle()
        events = scripted.events()
    finally:
        scripted.close()
    assert format_status(status, {}).startswith("paused (at the robot's board)")
    log = TextLog()
    said = [text.split("] ", 1)[-1] for event in events for text in log.feed(event)]
    assert [text for text in said if "board" in text] == [
        "resume at the robot's board refused: interlock door is active; resume is refused "
        "until it clears",
        "resume at the robot's board",
        "pause (immediate) at the robot's board",
        "Paused at the robot's board"]
    live = [event_line(e) for e in events if e["event"] == "status"]
    assert live[-1] == "status paused at the robot's board"
    served: list[str] = []
    RunProgress("uid", "board.py", None, now=lambda: 0.0, log=served.append).feed(events)
    assert served[-1] == "run board.py: paused at the robot's board at step 2"
