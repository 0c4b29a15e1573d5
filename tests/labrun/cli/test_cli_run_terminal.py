"""``labrun run --emulate`` at a terminal: a pseudo-terminal presses the keys.

The process runs as it would for a person: stdin is a terminal (cbreak mode, keys
without Enter), the status line is redrawn in place, Ctrl-C is a signal. Each wait on
its output is bounded; the terminal's settings must be back when it exits.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import termios
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labrun_protocols import LONG_MOVE, SLOW_STEPS, hops

from engine.actions import Pause, Resume, Stop
from engine.entries import ActionResult
from engine.record import read_record
from engine.state import Status, StepInfo
from engine.status import DelayStatus, RunStatusReport
from labrun.cli.terminal import Controls, StatusLine, format_status
from protocol_api.execute import continue_when_stalled, create_run

WAIT_S = 20.0

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


class Terminal:
    """``labrun`` in a pseudo-terminal: type keys, wait for output."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: labrun with the pty as its terminal
            os.environ["COLUMNS"] = "200"
            os.execv(sys.executable, [sys.executable, "-m", "labrun.cli.main", *args])
        self.output = b""
        self.mark = 0
        self.status: int | None = None

    def type(self, keys: bytes) -> None:
        """Press ``keys``; later ``expect`` calls look at what follows."""
        self.mark = len(self.output)
        os.write(self.fd, keys)

    def expect(self, pattern: str, timeout: float = WAIT_S) -> re.Match[str]:
        """Wait (bounded) until the output since the last key matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text(self.mark)
            match = re.search(pattern, text)
            if match:
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"no {pattern!r} in the output:\n{self.text()}")

    def wait(self, timeout: float = WAIT_S) -> int:
        """The exit status, reading the rest of the output meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                while self._read(0.05):
                    pass
                return self.status
            self._read(0.05)
        raise AssertionError(f"labrun did not exit:\n{self.text()}")

    def text(self, start: int = 0) -> str:
        return self.output[start:].decode("utf-8", "replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], min(timeout, 0.1))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the child has gone and closed its side
            return False
        self.output += data
        return bool(data)

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:  # pragma: no cover
                pass
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Any]:
    opened: list[Terminal] = []

    def start(protocol: str, *args: str) -> Terminal:
        path = tmp_path / "protocol.py"
        path.write_text(textwrap.dedent(protocol))
        term = Terminal("run", str(path), "--emulate", *args)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


def restored(term: Terminal) -> bool:
    """The terminal is back in line mode with echo, as before labrun started."""
    flags = termios.tcgetattr(term.fd)[3]
    return bool(flags & termios.ICANON) and bool(flags & termios.ECHO)


@pytest.mark.parametrize("dialect", ["grbl", "marlin", "smoothie"])
def test_keys_pause_resume_and_stop(terminal: Any, dialect: str) -> None:
    term = terminal(HOPS, "--dialect", dialect, "--speed", "10")
    # The live status line, with the keys, redrawn in place.
    term.expect(r"keys: p pause  i pause now  r resume  s stop  a abort  h halt  d skip delay")
    term.expect(r"\r\x1b\[Krunning \| step \d+: move_to \| X [\d.]+ Y [\d.]+ .*"
                r"\| keys p i r s a h d \?")
    assert "stdin is not a terminal" not in term.text()
    term.type(b"p")
    term.expect(r"pause: accepted")
    term.expect(r"status paused by client")
    term.expect(r"\r\x1b\[Kpaused \(by client\) \| step \d+: move_to")
    term.type(b"p")  # already paused: refused, with the reason
    term.expect(r"pause refused: \S+")
    term.type(b"r")
    term.expect(r"resume: accepted")
    term.expect(r"unparked back to X")
    term.type(b"s")
    term.expect(r"stop: accepted")
    term.expect(r"status:\s+stopped")
    assert term.wait() == 0
    assert restored(term)


def test_ctrl_c_twice_pauses_at_once_and_h_halts(terminal: Any) -> None:
    term = terminal(SLOW, "--speed", "10")
    term.expect(r"running \| step \d+: move_to")  # the slow move, about 1.3 s here
    term.type(b"\x03")  # Ctrl-C: a signal (the terminal still has ISIG in cbreak mode)
    term.expect(r"Ctrl-C: deferred pause requested")
    term.type(b"\x03")  # within 3 s, still during the same move
    term.expect(r"Ctrl-C: immediate pause: accepted")
    term.expect(r"status paused by client")
    assert "status:" not in term.text()  # paused mid-move, not at the end of the step
    term.type(b"h")
    term.expect(r"halt: accepted")
    term.expect(r"status:\s+halted")
    assert term.wait() == 1
    assert restored(term)


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
    term.expect(rf"running \| step \d+: {step}")
    term.type(b"i")
    term.expect(r"status paused by client")
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
    assert text == ("paused (by interlock) | interlock door | step 3: transfer | "
                    "pause pending | delay 12.3 s left (incubate) | X 3.0")


class FakeControl:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def pause(self, option: str = "deferred", **kwargs: Any) -> ActionResult:
        self.calls.append(Pause(option=option))  # type: ignore[arg-type]
        return ActionResult(len(self.calls) < 3, Status.RUNNING,
                            None if len(self.calls) < 3 else "the run is pausing")

    def resume(self, **kwargs: Any) -> ActionResult:
        self.calls.append(Resume())
        return ActionResult(False, Status.RUNNING, "the run is not paused")

    def stop(self, **kwargs: Any) -> ActionResult:
        self.calls.append(Stop())
        return ActionResult(True, Status.STOPPING)


def test_controls_turn_keys_and_ctrl_c_into_actions(capsys: pytest.CaptureFixture[str]) -> None:
    control = FakeControl()
    display = StatusLine(sys.stdout, live=False, keys=False)
    controls = Controls(control, display)  # type: ignore[arg-type]
    controls.interrupt()
    controls.interrupt()  # within 3 s: immediate
    controls.key("P")
    controls.key("r")
    controls.key("x")  # not a key: ignored
    controls.key("s")
    controls.close()
    assert [type(a).__name__ for a in control.calls] == ["Pause", "Pause", "Pause", "Resume",
                                                          "Stop"]
    assert [a.option for a in control.calls[:3]] == ["deferred", "immediate", "deferred"]
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Ctrl-C: deferred pause requested; Ctrl-C again within 3 s to pause at once",
        "Ctrl-C: immediate pause: accepted (running)",
        "pause refused: the run is pausing",
        "resume refused: the run is not paused",
        "stop: accepted (stopping)",
    ]
