"""The progress line of a long ``labrun simulate`` on a terminal, and the limit on the
protocol time of a simulation (``--max-hours``), shared with ``labrun run``'s.

A simulation of a few thousand calls ends before anyone looks; one of a million calls
takes minutes. While the run goes on, after ``FIRST_S`` of wall time, a line on stderr
says how far it is (the step and its call, the commands sent, the protocol time
reached), redrawn in place at most every ``EVERY_S``, and erased when the run ends, so
that the setup sheet and the run log that follow are printed as without it. What the
protocol prints meanwhile erases the line first and is printed as it would be without
it; the next redraw puts the line back below.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from engine.run import Run
from protocol_api.watchdog import DEFAULT_TIME_LIMIT_H, TimeLimit

from .main import columns
from .report import clock, is_terminal


def add_max_hours_option(parser: argparse.ArgumentParser) -> None:
    """``--max-hours HOURS``: the limit on the simulation's protocol time."""
    parser.add_argument("--max-hours", type=float, default=DEFAULT_TIME_LIMIT_H,
                        metavar="HOURS",
                        help="fail a simulation whose protocol time reaches this many hours: "
                             "a loop that never ends (default "
                             f"{DEFAULT_TIME_LIMIT_H:g}, a week; 0 turns it off)")


def max_hours_problem(hours: float) -> str | None:
    """Why ``hours`` cannot be ``--max-hours``, or None."""
    if hours >= 0 and math.isfinite(hours):
        return None
    return f"--max-hours must be 0 (off) or a number of hours above 0, not {hours:g}"


def limit_protocol_time(run: Run, protocol_file: str, hours: float, whose: str) -> None:
    """Fail the simulated ``run`` once its protocol time reaches ``hours`` (0: never);
    ``whose``: the limit's owner, as the failure says it ("simulate")."""
    if hours > 0:
        TimeLimit(run, protocol_file, hours * 3600,
                  hint=f"the time limit of {whose}; --max-hours HOURS sets it, 0 turns it off")


FIRST_S = 1.0
"""Wall seconds before the line first appears (a short simulation never shows it)."""
EVERY_S = 0.2
"""Wall seconds between two redraws."""
ERASE = "\r\x1b[K"


def progress_line(step: int | None, name: str | None, commands: int, time_s: float,
                  width: int = 80) -> str:
    """``simulating: step 1,234 (aspirate), 2,468 commands, 1:02:05 of protocol time``,
    cut to fit ``width`` columns."""
    where = f"step {step + 1:,} ({name}), " if step is not None else ""
    text = f"simulating: {where}{commands:,} commands, {clock(time_s)} of protocol time"
    return text if len(text) < width else text[:max(0, width - 2)] + "…"


class ProgressLine:
    """One line redrawn in place on ``out``; ``erase`` clears it (thread-safe)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = False
        self._lock = threading.Lock()

    def draw(self, text: str) -> None:
        """Show ``text`` in place of the line."""
        with self._lock:
            self.out.write(ERASE + text)
            self.out.flush()
            self.shown = True

    def erase(self) -> None:
        """Clear the line, if it is shown."""
        self.write_over(None, "")

    def write_over(self, target: TextIO | None, text: str) -> int:
        """Clear the line, then write ``text`` to ``target`` (where the line was)."""
        with self._lock:
            if self.shown:
                self.out.write(ERASE)
                self.out.flush()
                self.shown = False
            return target.write(text) if target is not None else 0

    def erasing(self, target: TextIO) -> ErasingStream:
        """``target`` for the protocol's prints: each write erases the line first."""
        return ErasingStream(self, target)


class ErasingStream(io.TextIOBase):
    """A text stream that clears a ``ProgressLine`` before each write to ``target``."""

    def __init__(self, line: ProgressLine, target: TextIO) -> None:
        self._line = line
        self._target = target

    def write(self, text: str) -> int:
        return self._line.write_over(self._target, text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()


SIGNAL_SLICE_S = 0.25
"""The longest the main thread waits at once: Python runs a signal's handler only once
the main thread runs again, and the kernel may have given the signal to another thread."""


def wait_for_simulation(run: Run, out: TextIO) -> None:
    """Wait for a simulation to end (raising what ``Run.wait`` raises), with its progress
    line on ``out`` when ``out`` is a terminal."""
    if is_terminal(out):
        wait_showing_progress(run, out, width=lambda: columns(out))
        return
    while True:  # in slices: a signal another thread took is handled within one
        try:
            run.wait(timeout=SIGNAL_SLICE_S)
            return
        except TimeoutError:
            continue


def wait_showing_progress(run: Run, out: TextIO, *, now: Callable[[], float] = time.monotonic,
                          width: Callable[[], int] = lambda: 80, first_s: float = FIRST_S,
                          every_s: float = EVERY_S) -> None:
    """Wait for ``run`` to end (raising what ``Run.wait`` raises), keeping its progress
    line on ``out`` (a terminal) from ``first_s`` on; the line is erased at the end,
    however the wait ends (Ctrl-C included)."""
    line = ProgressLine(out)
    start = now()
    try:
        with contextlib.redirect_stdout(line.erasing(sys.stdout)):
            while True:
                try:
                    run.control.wait_until_ended(every_s)
                    break
                except TimeoutError:
                    pass
                if now() - start < first_s:
                    continue
                status = run.control.status()
                step = status.step
                line.draw(progress_line(step.index if step else None,
                                        step.name if step else None,
                                        run.channel.requests_sent, status.time, width()))
    finally:
        line.erase()
    run.wait()
