"""The live status line of ``labrun run`` after a pause in a delay: the delay's deadline
stands through a pause (time keeps running), so a pause that outlasts it, or a skip while
paused, leaves the step past the delay, not where it stood when the pause began (the line
said so until the next step). The wall clock is the test's: nothing waits."""

from __future__ import annotations

import io
from typing import Any

from engine.state import Status, StepInfo
from engine.status import DelayStatus, RunStatusReport
from labrun.cli.terminal import Progress, StatusLine


def report(**changes: Any) -> RunStatusReport:
    values: dict[str, Any] = dict(
        status=Status.RUNNING, pause_pending=False, pause_source=None, pause_message=None,
        parked=False, unparking=False, interlocks=(), step=StepInfo(2, "delay"),
        delay=None, position={}, pause_unresolved=False, outcome=None, time=0.0)
    values.update(changes)
    return RunStatusReport(**values)


class Line:
    """A live status line on a wall clock the test moves: step 3 of 4 is a 600 s delay
    from 20 s to 620 s of a 700 s run."""

    def __init__(self) -> None:
        self.now = 100.0
        self.out = io.StringIO()
        self.display = StatusLine(self.out, live=True, keys=False,
                                  progress=Progress(4, [0.0, 10.0, 20.0, 620.0], 700.0, {}),
                                  now=lambda: self.now)
        self.delay_from = self.now  # the delay's deadline: 600 s from the step's start
        self.shown(Status.RUNNING, 0.0)  # the step begins

    def shown(self, status: Status, after_s: float, *, skipped: bool = False,
              delay: bool = True) -> str:
        self.now += after_s
        left = max(0.0, self.delay_from + 600.0 - self.now)
        self.display.update(report(status=status, delay=DelayStatus(
            "incubate", 600.0, left, skipped) if delay else None), force=True)
        return self.out.getvalue().rsplit("\r\x1b[K", 1)[-1]


def test_a_pause_that_outlasts_a_delay_leaves_the_step_past_it_on_the_resume() -> None:
    line = Line()
    assert "step 3 of 4, 3 %, 11:20 left" in line.shown(Status.RUNNING, 0.0)
    assert "17 %, 9:40 left" in line.shown(Status.RUNNING, 100.0)  # 100 s into the delay
    assert "9:40 left" in line.shown(Status.PAUSED, 0.0)
    # The delay runs on through the pause: 500 s later it is over.
    assert "89 %, 1:20 left" in line.shown(Status.PAUSED, 500.0)
    assert "89 %, 1:20 left" in line.shown(Status.PAUSED, 400.0)  # fifteen minutes paused
    # Resumed: the delay is over (the engine goes straight on); the line says so at once,
    # not "9:40 left" until the next step.
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 0.0, delay=False)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 5.0, delay=False)


def test_a_delay_skipped_in_a_pause_is_over_at_once_and_stays_over() -> None:
    line = Line()
    line.display.step_recorded(2)  # the record's step event of the delay
    line.shown(Status.RUNNING, 100.0)
    assert "17 %, 9:40 left" in line.shown(Status.PAUSED, 0.0)
    assert "19 %, 9:30 left" in line.shown(Status.PAUSED, 10.0)  # ran on 10 s
    skipped = line.shown(Status.PAUSED, 0.0, skipped=True)  # 490 s were never waited
    assert "89 %, 1:20 left" in skipped and "delay skipped (incubate)" in skipped
    assert "89 %, 1:20 left" in line.shown(Status.PAUSED, 300.0, skipped=True)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 0.0, skipped=True)
    # The record says the skip once the wait ends after the resume: counted once.
    line.display.delay_skipped(490.0)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 0.0, skipped=True)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 1.0, delay=False)


def test_a_delay_skipped_while_running_is_over_once_the_record_says_so() -> None:
    """The skip ends the delay at once: the status may never show it skipped, the record
    does; and it counts only for the step it was in."""
    line = Line()
    line.display.step_recorded(2)
    line.shown(Status.RUNNING, 100.0)
    line.display.delay_skipped(500.0)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 0.0, delay=False)
    line.display.step_recorded(3)  # a late event of step 3 once step 4 is recorded
    line.display.delay_skipped(300.0)
    assert "89 %, 1:20 left" in line.shown(Status.RUNNING, 0.0, delay=False)




def test_a_delay_message_of_several_lines_keeps_the_status_line_one_line() -> None:
    """The status line is redrawn in place: a line break in the delay's message left the
    line's first part behind on the terminal at every redraw."""
    out = io.StringIO()
    display = StatusLine(out, live=True, keys=False, progress=None, now=lambda: 0.0)
    display.update(report(delay=DelayStatus("wait\nfor it", 600.0, 500.0, False)), force=True)
    shown = out.getvalue().rsplit("\r\x1b[K", 1)[-1]
    assert "delay 8:20 left (wait ⏎ for it)" in shown and "\n" not in shown.rstrip("\n")


def test_a_narrow_terminal_still_shows_the_time_a_delay_has_left(monkeypatch: Any) -> None:
    """What does not fit goes first: the position, the call in words (it is in the log),
    the delay's message, the bar. The line was cut at its end, so on an 80-column
    terminal the delay's time left (after the call in words) was never shown."""
    words = {2: "Delaying for 10 min: incubate at room temperature"}
    position = {"X": 331.8, "Y": 320.0, "Z": 190.0, "A": 190.0, "B": 18.0, "C": 18.0}

    def shown(columns: int) -> str:
        monkeypatch.setenv("COLUMNS", str(columns))  # as shutil.get_terminal_size reads it
        out = io.StringIO()
        display = StatusLine(out, live=True, keys=True, now=lambda: 0.0,
                             progress=Progress(4, [0.0, 10.0, 20.0, 620.0], 700.0, words))
        display.update(report(delay=DelayStatus("incubate at room temperature", 600.0,
                                                571.0, False), position=position), force=True)
        return out.getvalue().rsplit("\r\x1b[K", 1)[-1]

    assert shown(80) == (
        "running | step 3 of 4, 3 %, 11:20 left | delay 9:31 left | keys p i r s a h d ?")
    assert shown(100) == ("running | [..........] step 3 of 4, 3 %, 11:20 left | "
                          "delay 9:31 left | keys p i r s a h d ?")
    assert shown(180) == ("running | [..........] step 3 of 4, 3 %, 11:20 left | Delaying for "
                          "10 min: incubate at room temperature | delay 9:31 left (incubate at "
                          "room temperature) | keys p i r s a h d ?")
    assert shown(250).endswith("| X 331.8 Y 320.0 Z 190.0 A 190.0 B 18.0 C 18.0 | "
                               "keys p i r s a h d ?")
