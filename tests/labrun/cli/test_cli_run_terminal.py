"""``labrun run --emulate`` at a terminal: a pseudo-terminal presses the keys.

The process runs as it would for a person: stdin is a terminal (cbreak mode, keys
without Enter), the status line is redrawn in place, Ctrl-C is a signal. Each wait on
its output is bounded; the terminal's settings must be back when it exits.
"""

from __future__ import annotations

import re
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labrun_protocols import LONG_MOVE, SLOW_STEPS, hops
from pty_terminal import WAIT_S, Terminal, restored

from engine.record import read_record
from engine.run import Run
from engine.state import Status, StepInfo
from engine.status import DelayStatus, RunStatusReport
from hardware.clock import RealClock
from labrun.cli.terminal import (
    KEYS_HINT,
    PAUSED_HINT,
    Controls,
    Progress,
    StatusLine,
    format_status,
)
from protocol_api.execute import continue_when_stalled, create_run

# Many short hops: long enough to press keys during it; stopped early by the tests.
HOPS = hops(100)

SLOW = LONG_MOVE

INCUBATE = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 9)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    p300.move_to(plate["A1"].top(5))
    ctx.delay(minutes=10, msg="incubate")
    p300.move_to(plate["A2"].top(5))
'''


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Any]:
    opened: list[Terminal] = []

    def start(protocol: str, *args: str) -> Terminal:
        path = tmp_path / "protocol.py"
        path.write_text(textwrap.dedent(protocol))
        term = Terminal("run", str(path), "--emulate", *args)
        opened.append(term)
        # The setup sheet, then nothing moves until Enter.
        term.expect(r"Setup\r?\n  Deck")
        term.expect(r"press Enter to start")
        assert "connecting to" not in term.text()
        term.type(b"\n")
        return term

    yield start
    for term in opened:
        term.close()


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
def test_keys_pause_resume_and_stop(terminal: Any, dialect: str) -> None:
    term = terminal(HOPS, "--dialect", dialect, "--speed", "10")
    # The live status line, with the keys, redrawn in place.
    term.expect(r"keys: p pause  i pause now  r resume  s stop  a abort  h halt  d skip delay")
    term.expect(r"\r\x1b\[K\x1b\[32mrunning\x1b\[0m \| \[[#.]{10}\] step \d+ of 403, \d+ %, "
                r"\d+:\d\d left \| Moving to [A-H]\d+ of .*\| X [\d.]+ Y [\d.]+ .*"
                r"\| keys p i r s a h d \?")
    assert "stdin is not a terminal" not in term.text()
    term.type(b"p")
    term.expect(r"pause: accepted")
    term.expect(r"status paused by terminal")
    term.expect(r"\r\x1b\[K\x1b\[1;33mpaused\x1b\[0m \(by terminal\) \| \[[#.]{10}\] step \d+ "
                r"of 403.*\| press r to resume, s to stop")
    term.type(b"p")  # already paused: refused, with the reason
    term.expect(r"pause refused: \S+")
    term.type(b"r")
    term.expect(r"resume: accepted")
    term.expect(r"unparked back to X")
    term.type(b"s")  # asks first; any other key goes on
    term.expect(r"stop the run\? press s again \(or y\) to stop")
    term.type(b"x")
    term.expect(r"stop cancelled")
    term.type(b"s")
    term.expect(r"press s again")
    term.type(b"y")
    term.expect(r"stop: accepted")
    term.expect(r"status:\s+stopped")
    assert term.wait() == 0
    assert restored(term)


def test_ctrl_c_twice_pauses_at_once_and_h_halts(terminal: Any) -> None:
    term = terminal(SLOW, "--speed", "10")
    term.expect(r"running\x1b\[0m \| \[[#.]+\] step 4 of 5")  # the slow move, about 1.3 s
    term.type(b"\x03")  # Ctrl-C: a signal (the terminal still has ISIG in cbreak mode)
    term.expect(r"Ctrl-C: deferred pause requested")
    term.type(b"\x03")  # within 3 s, still during the same move
    term.expect(r"Ctrl-C: immediate pause: accepted")
    term.expect(r"status paused by terminal")
    assert "status:" not in term.text()  # paused mid-move, not at the end of the step
    term.type(b"\x03")  # Ctrl-C while paused: offers stop
    term.expect(r"Ctrl-C: the run is paused; press r to resume, s to stop")
    term.type(b"h")
    term.expect(r"press h again")
    term.type(b"h")
    term.expect(r"halt: accepted")
    term.expect(r"status:\s+halted")
    assert term.wait() == 1
    assert restored(term)


def test_a_halt_on_marlin_says_the_position_is_unknown_rather_than_where_the_move_began(
        terminal: Any, tmp_path: Path) -> None:
    # M112 kills Marlin mid-move: it answers nothing more, so no one knows where the axes
    # stopped. The last status line and the summary say so, never a stale position.
    record = tmp_path / "record.jsonl"
    term = terminal(SLOW, "--dialect", "marlin", "--speed", "10", "--record", str(record))
    term.expect(r"running\x1b\[0m \| \[[#.]+\] step 4 of 5")  # the slow move, about 1.3 s
    term.type(b"h")
    term.expect(r"press h again")
    term.type(b"h")
    term.expect(r"status:\s+halted")
    assert term.wait() == 1
    unknown = "position unknown after the emergency stop: home before moving"
    last = term.text().split("\x1b[K")[-1].splitlines()[0]  # the last drawing of the line
    assert re.fullmatch(rf"\x1b\[1;31mhalted\x1b\[0m \| \[[#.]+\] step 4 of 5, \d+ % \| "
                        rf"{unknown}\r?", last), last
    term.expect(rf"robot:\s+{unknown}")
    summary = read_record(record)[-1]
    assert summary["event"] == "summary" and summary["position_unknown"] == unknown
    assert restored(term)


PAUSING = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("prepare the buffer")
    ctx.pause("add the buffer to A1")
    ctx.delay(minutes=10, msg="incubate")
    ctx.comment("done")
'''


def test_a_protocol_pause_says_its_message_once_then_how_to_go_on(terminal: Any) -> None:
    term = terminal(PAUSING, "--speed", "1200")  # 10 minutes of delay in half a second
    term.expect(r"prepare the buffer")
    term.expect(r"Pausing: add the buffer to A1\r?\n")
    term.expect(r"the protocol paused the run: press r to resume, s to stop\a")
    assert logged(term, "add the buffer to A1") == 2  # in the setup sheet, in the log
    started = time.monotonic()
    term.type(b"r")
    term.expect(r"Delaying for 10 min: incubate")
    term.expect(r"\] done\r?\n")
    term.expect(r"status:\s+succeeded")
    assert time.monotonic() - started < WAIT_S  # --speed sped the delay up
    assert term.wait() == 0
    assert logged(term, "add the buffer to A1") == 2


def logged(term: Terminal, text: str) -> int:
    """Lines of output that say ``text``, not the status line: it is redrawn in place, ends
    with the key help while the run goes on, and may show the call in progress in words
    (the pause's message) until it is redrawn once the run has paused."""
    return sum(text in line for line in printed_lines(term.text()))


def printed_lines(output: str) -> list[str]:
    """What the terminal shows line by line, the live status line left out."""
    lines = [line.split("\x1b[K")[-1] for line in re.split(r"\r?\n", output)]
    return [line for line in lines if not line.endswith((KEYS_HINT, PAUSED_HINT))]


def test_the_status_line_is_not_a_printed_line() -> None:
    """Whatever the status line shows as the run pauses, it is not counted as printed."""
    status = ("\x1b[33mpausing (by protocol)\x1b[0m | [##....] step 3 of 4, 40 %, 0:10 left | "
              f"Pausing: add the buffer to A1 | X 1.0 | {KEYS_HINT}")
    output = ("       0:00  step 3: PAUSE, the run waits for you: add the buffer to A1\r\n"
              f"{status}\r\x1b[K[ 0:19] Pausing: add the buffer to A1\r\n{status}\r\x1b[K"
              f"        the protocol paused the run: {PAUSED_HINT}\a\r\n{status}")
    assert [line for line in printed_lines(output) if "buffer" in line] == [
        "       0:00  step 3: PAUSE, the run waits for you: add the buffer to A1",
        "[ 0:19] Pausing: add the buffer to A1"]


def test_d_skips_the_delay(terminal: Any) -> None:
    term = terminal(INCUBATE, "--speed", "20")
    term.expect(r"delay \d+\.\d s left \(incubate\)")
    started = time.monotonic()
    term.type(b"d")
    term.expect(r"skip delay: accepted")
    term.expect(r"status:\s+succeeded")
    assert term.wait() == 0
    assert time.monotonic() - started < WAIT_S  # not the 10 minutes
    assert restored(term)


def record_liquid_steps(events: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """Tip and liquid commands of a run record, in the order they completed."""
    queued = {e["id"]: e for e in events if e["event"] == "command" and e["status"] == "queued"}
    steps = []
    for event in events:
        if event["event"] == "command" and event["status"] == "completed":
            command = queued[event["id"]]
            if command["type"] in ("pickUpTip", "aspirate", "dispense", "dropTip"):
                params = command["params"]
                steps.append((command["type"], params["well"], params.get("volume", 0.0)))
    return steps


@pytest.mark.parametrize("step", ["pick up", "aspirate", "carry"])
def test_i_mid_pick_up_aspirate_or_move_with_a_tip_changes_no_liquid_step(
        terminal: Any, tmp_path: Path, step: str) -> None:
    record = tmp_path / "run.jsonl"
    term = terminal(SLOW_STEPS, "--speed", "2", "--record", str(record))
    # A group's name, or the call in words ("Aspirating ..." for the step named aspirate).
    term.expect(rf"running\x1b\[0m \| \[[#.]+\] step \d+ of \d+.* \| (?i:{step[:5]})")
    term.type(b"i")
    term.expect(r"status paused by terminal")
    term.type(b"r")
    term.expect(r"status:\s+succeeded")
    assert term.wait() == 0
    events = read_record(record)
    effects = [e["effect"] for e in events if e["event"] == "pause_effect"]
    park = next(e for e in events if e["event"] == "park")
    unpark = next(e for e in events if e["event"] == "unpark")
    if unpark.get("rewind"):  # the step's irreversible commands had not started
        assert step == "carry" and effects == ["interrupted", "rewound"], effects
    else:  # back to where it stopped, at the same height; nothing repeated
        assert unpark["position"] == pytest.approx(park["recorded"], abs=0.01)
        assert effects in ([], ["continued"], ["interrupted", "completed after pause"])
    pause_free = create_run(tmp_path / "protocol.py", on_stalled=continue_when_stalled)
    try:
        pause_free.control.play(source="test")
        pause_free.wait(timeout=30)
    finally:
        pause_free.close()
    assert record_liquid_steps(events) == record_liquid_steps(pause_free.record.events)


# -- the pieces, without a terminal -----------------------------------------------------------


def report(**changes: Any) -> RunStatusReport:
    values: dict[str, Any] = dict(
        status=Status.RUNNING, pause_pending=False, pause_source=None, pause_message=None,
        parked=False, unparking=False, interlocks=(), step=StepInfo(2, "transfer"),
        delay=None, position={"X": 1.0, "Y": 2.5}, pause_unresolved=False, outcome=None,
        time=3.0)
    values.update(changes)
    return RunStatusReport(**values)


def test_the_status_line_says_what_matters() -> None:
    assert format_status(report()) == "running | step 3: transfer | X 1.0 Y 2.5"
    text = format_status(report(
        status=Status.PAUSED, pause_source="interlock", interlocks=("door",),
        pause_pending=True, delay=DelayStatus("incubate", 60.0, 12.34, False)),
        position={"X": 3.0})
    assert text == ("paused (by interlock) | pause pending | interlock door | "
                    "step 3: transfer | delay 12.3 s left (incubate) | X 3.0")
    # A long delay as a clock: "delay 299.0…" read as a number with no unit.
    assert format_status(report(delay=DelayStatus("incubate", 600.0, 299.4, False))) == (
        "running | step 3: transfer | delay 4:59 left (incubate) | X 1.0 Y 2.5")
    skipped = report(status=Status.PAUSED, pause_source="client",
                     delay=DelayStatus("incubate", 60.0, 12.34, True))
    assert format_status(skipped) == ("paused (by client) | step 3: transfer | "
                                      "delay skipped (incubate) | X 1.0 Y 2.5")


def test_the_bar_and_time_left_hold_still_while_paused() -> None:
    import io

    now = [100.0]  # the wall clock the status line reads, moved by hand
    out = io.StringIO()
    # Step 3 of 4 runs from 20 s to 120 s of a 200 s run.
    progress = Progress(4, [0.0, 10.0, 20.0, 120.0], 200.0, {})
    display = StatusLine(out, live=True, keys=False, progress=progress, now=lambda: now[0])

    def shown(status: Status, after_s: float) -> str:
        now[0] += after_s
        display.update(report(status=status, position={}), force=True)
        return out.getvalue().rsplit("\r\x1b[K", 1)[-1]

    assert "10 %, 3:00 left" in shown(Status.RUNNING, 0.0)
    assert "20 %, 2:40 left" in shown(Status.RUNNING, 20.0)
    assert "20 %, 2:40 left" in shown(Status.PAUSED, 0.0)
    assert "20 %, 2:40 left" in shown(Status.PAUSED, 300.0)  # five minutes paused
    assert "20 %, 2:40 left" in shown(Status.RUNNING, 0.0)  # resumed where it was
    assert "25 %, 2:30 left" in shown(Status.RUNNING, 10.0)
    # A robot faster than the estimate ends in step 4 with time left on the clock: the
    # run's last line says it is done, not "83 %, 0:34 left".
    final = format_status(report(status=Status.SUCCEEDED, step=StepInfo(3, "mix"),
                                 position={}), None, progress, in_step_s=40.0)
    assert final == "succeeded | [##########] step 4 of 4, 100 %"
    # One that ended before its end has no time left to say.
    aborted = format_status(report(status=Status.ABORTED, step=StepInfo(2, "transfer"),
                                   position={}), None, progress, in_step_s=40.0)
    assert aborted == "aborted | [###.......] step 3 of 4, 30 %"
    # A delay's time left is wall time, as the run's is: at 5x, 100 s of robot time is 20.
    fast = Progress(4, [0.0, 10.0, 20.0, 120.0], 200.0, {}, speed=5.0)
    delay = DelayStatus("incubate", 150.0, 100.0, False)
    text = format_status(report(delay=delay, position={}), None, fast, in_step_s=50.0)
    assert text.endswith("delay 20.0 s left (incubate)"), text


@pytest.fixture
def idle_run(tmp_path: Path) -> Iterator[Run]:
    """A run of the incubation protocol on the simulated robot, never played."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(INCUBATE))
    run = create_run(path, on_stalled=continue_when_stalled)
    try:
        yield run
    finally:
        run.close()


def test_controls_ask_before_ending_the_run(capsys: pytest.CaptureFixture[str],
                                            idle_run: Run) -> None:
    display = StatusLine(sys.stdout, live=False, keys=False)
    controls = Controls(idle_run.control, display)
    controls.key("S")
    controls.key("x")  # not s or y: cancelled, nothing done
    controls.key("a")
    controls.key("s")  # another key that ends the run: the abort is cancelled
    controls.key("y")
    controls.close()
    assert capsys.readouterr().out.splitlines() == [
        "stop the run? press s again (or y) to stop, any other key to go on",
        "stop cancelled",
        "abort the run? press a again (or y) to abort, any other key to go on",
        "abort cancelled",
        "stop the run? press s again (or y) to stop, any other key to go on",
        "stop: accepted (stopped)",
    ]
    assert idle_run.control.status().status is Status.STOPPED


def test_ctrl_c_before_the_run_started_is_left_to_the_loop_that_plays_it(
        capsys: pytest.CaptureFixture[str], idle_run: Run) -> None:
    """Waiting to start behind an open door, Ctrl-C asked for a pause, which an idle run
    refuses, again and again: without keys (stdin not a terminal) nothing but SIGTERM
    ended labrun. It asks the loop that would play the run to end it instead (one thread
    decides: a run the door's closing just started is paused as by any Ctrl-C)."""
    controls = Controls(idle_run.control, StatusLine(sys.stdout, live=False, keys=False))
    controls.interrupt()
    controls.close()
    assert capsys.readouterr().out == ""  # said by the loop as it ends the run
    assert controls.ending_before_start and idle_run.control.status().status is Status.IDLE


def test_ctrl_c_as_the_run_waits_for_the_door_ends_it_before_it_starts(
        capsys: pytest.CaptureFixture[str], idle_run: Run,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop of ``labrun run`` that waits for the door to play the run: a Ctrl-C
    then ends the run (aborted, nothing moved) and labrun with it (exit 130)."""
    from labrun.cli import run as run_cli

    made: list[Controls] = []
    ready = threading.Event()

    class Pressed(Controls):  # the controls the loop makes, pressed from here
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)
            ready.set()

    monkeypatch.setattr(run_cli, "Controls", Pressed)
    idle_run.control.set_interlock("door", True)
    threading.Thread(target=lambda: ready.wait(WAIT_S) and made[0].interrupt(),
                     daemon=True).start()
    # (if the Ctrl-C did nothing, the door closes later and the run plays: no hang)
    closing = threading.Timer(WAIT_S, idle_run.control.set_interlock, ("door", False))
    closing.start()
    try:
        final, _, interrupted = run_cli._play(idle_run, idle_run.controller, None, 0,
                                            sys.stdout)
    finally:
        closing.cancel()
    assert interrupted and final.status is Status.ABORTED
    out = capsys.readouterr().out
    assert "waiting for door to clear before starting" in out
    assert f"Ctrl-C: {run_cli.BEFORE_START}" in out
    assert not any(e["event"] == "command" and e["status"] == "started"
                   for e in idle_run.record.events)  # nothing ran


def test_the_ctrl_c_whose_pause_landed_at_once_is_not_half_of_a_stop(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # In a delay a pause lands at once: the next Ctrl-C, within 3 s of the first, finds
    # the run paused. It must not count the press that asked for the pause as the first
    # of the two that stop a paused run.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(INCUBATE))
    run = create_run(path, clock=RealClock(10.0), on_stalled=None)  # the delay: 60 s
    try:
        run.control.play()
        assert run.control.wait_for(lambda s: s.delay is not None, WAIT_S).delay is not None
        display = StatusLine(sys.stdout, live=False, keys=False)
        controls = Controls(run.control, display)
        controls.interrupt()
        assert run.control.wait_until_paused(WAIT_S).status is Status.PAUSED
        controls.interrupt()  # within 3 s of the first
        controls.close()
        assert run.control.status().status is Status.PAUSED
        out = capsys.readouterr().out.splitlines()
        assert out[0] == ("Ctrl-C: deferred pause requested; Ctrl-C again within 3 s to "
                          "pause at once")
        assert out[1].startswith("Ctrl-C: the run is paused; stdin is not a terminal")
        controls = Controls(run.control, display)
        controls.interrupt()
        controls.interrupt()  # two presses while paused: the stop
        controls.close()
        assert run.control.status().status in (Status.STOPPING, Status.STOPPED)
    finally:
        run.close()


def test_ctrl_c_while_the_robot_parks_for_a_pause_counts_toward_the_stop(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Not another pause request "accepted" that changes nothing: as while paused.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(INCUBATE))
    run = create_run(path, clock=RealClock(0.2), on_stalled=None)  # parking takes seconds
    try:
        run.control.play()
        run.control.wait_for(lambda s: s.step is not None and s.step.index >= 3, WAIT_S)
        assert run.control.pause("immediate").accepted
        assert run.control.status().status is Status.PAUSING
        display = StatusLine(sys.stdout, live=False, keys=False)
        controls = Controls(run.control, display)
        controls.interrupt()
        controls.interrupt()
        controls.close()
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("Ctrl-C: the run is pausing; stdin is not a terminal")
        assert out[1] == "stop: accepted (stopping)"
    finally:
        run.close()


def test_the_status_line_counts_steps_as_the_simulation_did_past_module_readings() -> None:
    progress = Progress(4, [0.0, 10.0, 20.0, 120.0], 200.0, {2: "Transferring", 3: "Mixing"})

    def step(index: int, name: str, *commands: str) -> None:  # as the live record has it
        progress.robot_only.feed({"event": "step", "index": index, "name": name})
        for kind in commands:
            progress.robot_only.feed({"event": "command", "status": "queued", "type": kind})

    step(0, "load_labware", "loadLabware")
    step(1, "load_module", "loadModule")
    step(2, "read_module", "module/read")  # on a robot: a reading asked the module
    step(3, "transfer", "moveTo", "aspirate")
    line = format_status(report(step=StepInfo(3, "transfer"), position={}), None, progress)
    assert "step 3 of 4" in line and "Transferring" in line
    step(4, "check the block", "module/read")  # a ctx.step group that only reads
    step(5, "mix", "moveTo", "aspirate")
    line = format_status(report(step=StepInfo(5, "mix"), position={}), None, progress)
    assert "step 4 of 4" in line and "Mixing" in line


def test_a_drivers_warning_is_printed_above_the_live_status_line_not_onto_it() -> None:
    import io
    import logging

    from labrun.cli.terminal import warnings_above

    out = io.StringIO()
    display = StatusLine(out, live=True, keys=False)
    display.update(report(), force=True)
    before = out.getvalue()
    with warnings_above(display):
        logging.getLogger("hardware.gcode.link").warning(
            "controller: ignored a damaged status report (1 so far): <Idoe|MPos:...>")
    logging.getLogger("hardware.gcode.link").warning("after the run: not the display's")
    said = out.getvalue()[len(before):]
    # the line erased, the warning on its own line, the status line drawn again
    assert said == ("\r\x1b[Kcontroller: ignored a damaged status report (1 so far): "
                    "<Idoe|MPos:...>\n" + before.rsplit("\r\x1b[K", 1)[-1])


def test_the_drivers_warning_mid_run_is_said_in_labruns_style_above_the_status_line() -> None:
    import io
    import logging

    from labrun.cli.driver_warnings import driver_warnings

    out = io.StringIO()
    display = StatusLine(out, live=True, keys=False)
    display.update(report(), force=True)
    before = out.getvalue()
    with driver_warnings() as said, said.said_above(display.log):
        logging.getLogger("hardware.gcode.link").warning(
            "controller: ignored a damaged status report (%d so far): %r", 1, "<Idoe|MPos:")
    said_now = out.getvalue()[len(before):]
    assert said_now == ("\r\x1b[Kwarning: controller: ignored a damaged status report "
                        "(1 so far): '<Idoe|MPos:'\n" + before.rsplit("\r\x1b[K", 1)[-1])


@pytest.mark.parametrize(("keys", "said", "status"), [
    (b"q\n", "not started; nothing was connected or moved", 0),
    # Ctrl-C at the prompt said "interrupted" and left no record, where q leaves one.
    (b"\x03", "interrupted: not started; nothing was connected or moved", 130),
])
def test_a_run_declined_at_the_start_prompt_leaves_a_record_that_says_so(
        tmp_path: Path, keys: bytes, said: str, status: int) -> None:
    # An older record at the path must not be taken for this run's: the new one says the
    # run was stopped from idle, by the terminal, before anything was connected.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(INCUBATE))
    record = tmp_path / "run.jsonl"
    record.write_text('{"seq":0,"t":0.0,"event":"run"}\n{"seq":1,"event":"summary",'
                      '"status":"succeeded"}\n')
    term = Terminal("run", str(path), "--emulate", "--record", str(record))
    try:
        term.expect(r"press Enter to start")
        term.type(keys)
        term.expect(said)
        assert term.wait() == status
    finally:
        term.close()
    events = read_record(record)
    assert [e["event"] for e in events] == ["run", "action", "status", "summary"]
    assert events[0]["protocol"] == str(path.resolve())
    assert (events[1]["action"], events[1]["source"], events[1]["accepted"]) == (
        "stop", "terminal", True)
    assert events[-1]["status"] == "stopped" and events[-1]["commands"] == 0
