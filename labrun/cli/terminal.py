"""The terminal side of ``labrun run``: a live status line, single keys and Ctrl-C.

- ``StatusLine`` draws one line, redrawn in place (at most ~10 times a second), with
  the status, the step, a pending pause, the delay remaining and the position; log
  lines are printed above it. Without a live terminal it prints each status change as
  a line instead.
- ``KeyReader`` puts stdin in cbreak mode (keys arrive without Enter, Ctrl-C still
  interrupts) and reads it in a thread; the terminal's settings are restored when it
  stops, whatever ended the run.
- ``Controls`` turns keys and Ctrl-C into ``RunControl`` actions, in a thread of its
  own: a signal handler only queues (``SimpleQueue.put`` is safe there), so it never
  blocks on the engine while the main thread holds a lock the engine needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from engine.actions import PauseOption
from engine.entries import ActionResult
from engine.run import RunControl
from engine.state import Status
from engine.status import RunStatusReport

from .calls import asked
from .report import RobotOnlySteps, clock, is_terminal, one_line

COLOURS = {Status.RUNNING: "32", Status.PAUSING: "33", Status.PAUSED: "1;33",
           Status.SUCCEEDED: "1;32", Status.STOPPED: "1;32", Status.FAILED: "1;31",
           Status.ABORTED: "1;31", Status.HALTED: "1;31"}
"""ANSI colours of the status word on a terminal (none when piped or NO_COLOR is set)."""


def use_colour(stream: Any) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set (https://no-color.org)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")

KEYS_HELP = "p pause  i pause now  r resume  s stop  a abort  h halt  d skip delay  ? this list"
KEYS_HINT = "keys p i r s a h d ?"
PAUSED_HINT = "press r to resume, s to stop"


def paused_hint(keys: bool) -> str:
    """How a person goes on from a pause: keys on a terminal, else how to end the run."""
    if keys:
        return PAUSED_HINT
    return (f"stdin is not a terminal, so it cannot be resumed here: Ctrl-C twice within "
            f"{DOUBLE_CTRL_C_S:g} s stops it, SIGTERM aborts it")


BAR_WIDTH = 10
CONFIRM = ("s", "a", "h")
"""Keys that end the run: each asks for a second press (or y) before it acts."""
"""What the status line shows of the keys (``?`` prints ``KEYS_HELP``)."""
REDRAW_S = 0.1
"""Least time between two redraws of the status line (~10 Hz)."""
DOUBLE_CTRL_C_S = 3.0
"""A second Ctrl-C within this time asks for an immediate pause."""

CTRL_C = "ctrl-c"
TERMINATE = "terminate"


class Progress:
    """Where a run is against its simulation: steps, the call in words, time left."""

    def __init__(self, steps: int, starts: list[float], duration_s: float,
                 words: Mapping[int, str], speed: float = 1.0) -> None:
        self.steps = steps
        self.starts = starts  # each step's start in the simulation (protocol seconds)
        self.duration_s = duration_s
        self.words = words
        self.speed = speed
        self.robot_only = RobotOnlySteps()
        """Module readings the live run made as steps (on a robot, reading a temperature
        asks the module): the simulation has none, so its step numbers are the live ones
        less these (``plan_index``). Fed every event of the live run's record."""

    def plan_index(self, index: int) -> int:
        """The simulation's step index of the live run's step ``index``."""
        return max(index - self.robot_only.count, 0)

    def left_s(self, index: int, in_step_s: float) -> float:
        """Wall seconds left when step ``index`` (0-based) has run ``in_step_s``."""
        start = self.starts[index] if index < len(self.starts) else self.duration_s
        end = self.starts[index + 1] if index + 1 < len(self.starts) else self.duration_s
        done = min(start + max(0.0, in_step_s), end)
        return max(0.0, self.duration_s - done) / self.speed

    def describe(self, index: int, in_step_s: float, width: int = BAR_WIDTH, *,
                 finished: bool = False, ended: bool = False) -> str:
        """``[#####.....] step 10 of 33, 30 %, 12:03 left``; a ``finished`` run (one that
        reached its end, however much faster than the estimate) is ``100 %``; one that
        ``ended`` before its end (stopped, failed...) has no time left to say."""
        total = max(self.steps, index + 1)
        left = 0.0 if finished else self.left_s(index, in_step_s)
        share = 1.0 - left * self.speed / self.duration_s if self.duration_s > 0 else 0.0
        share = 1.0 if finished else min(max(share, 0.0), 1.0)
        filled = round(share * width)
        bar = "[" + "#" * filled + "." * (width - filled) + "] " if width else ""
        said = f"{bar}step {index + 1} of {total}, {share * 100:.0f} %"
        return said if finished or ended else f"{said}, {clock(left)} left"


def format_status(status: RunStatusReport, position: Mapping[str, float] | None = None,
                  progress: Progress | None = None, in_step_s: float = 0.0,
                  width: int | None = None) -> str:
    """The status line's text (without the key help), at most ``width`` characters if
    given: what does not fit goes first, the position, then the call in words (it is in
    the log), then the bar, so that a narrow terminal still shows the step, the time left
    and a delay's time left."""
    head = [status.status.value]
    if status.pause_source is not None and status.status in (Status.PAUSING, Status.PAUSED):
        by = status.pause_from or status.pause_source  # a client's: where it came from
        also = f", also for {status.pause_also_for}" if status.pause_also_for else ""
        head[0] += f" ({asked(by)}{also})"  # its message is in the log, once
    if status.pause_pending:  # early: a narrow terminal cuts the line's end
        head.append("pause pending")
    if status.interlocks:
        head.append("interlock " + ", ".join(status.interlocks))
    step, bare_step, words = "", "", ""
    if status.step is not None and progress is not None:
        index = progress.plan_index(status.step.index)
        ended = {"finished": status.status is Status.SUCCEEDED,
                 "ended": status.status.is_terminal}
        step = progress.describe(index, in_step_s, **ended)
        bare_step = progress.describe(index, in_step_s, 0, **ended)
        if not status.status.is_terminal:
            words = one_line(progress.words.get(index) or "")
    elif status.step is not None:
        step = bare_step = f"step {status.step.index + 1}: {status.step.name}"
    delay = short_delay = ""
    if status.delay is not None:
        what = f" ({status.delay.message})" if status.delay.message else ""
        speed = progress.speed if progress is not None else 1.0  # wall time, as time left
        left = status.delay.remaining_s / speed
        said = f"{left:.1f} s" if left < 60 else clock(left)  # a long one as 4:59
        short_delay = "delay skipped" if status.delay.skipped else f"delay {said} left"
        delay = short_delay + what
    where = position if position is not None else status.position
    place = ""
    if status.position_unknown:  # after an emergency stop: no stale position in its place
        place = status.position_unknown
    elif where:
        place = " ".join(f"{axis} {value:.1f}" for axis, value in where.items())

    def line(step: str, words: str, delay: str, place: str) -> str:
        return one_line(" | ".join(part for part in (*head, step, words, delay, place)
                                   if part))

    text = line(step, words, delay, place)
    if width is None or len(text) <= width:
        return text
    if status.position_unknown is None:  # an emergency stop's warning is kept
        place = ""
    room = width - len(line(step, "", delay, place)) - len(" | ")
    shortened = words[:room - 1] + "…" if len(words) > room >= 12 else words
    fits = [line(step, shortened, delay, place), line(step, "", delay, place),
            line(step, "", short_delay, place)]
    return next((text for text in fits if len(text) <= width),
                line(bare_step, "", short_delay, place))


class StatusLine:
    """The live status line (``live``) or, without a terminal, status changes as lines."""

    def __init__(self, out: TextIO, *, live: bool, keys: bool, colour: bool = False,
                 progress: Progress | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self._now = now  # the wall clock the step's time is read from
        self.live = live
        self.keys = keys
        self.colour = colour
        self.progress = progress
        self._step: tuple[int, float] | None = None  # the step shown, since when (monotonic)
        self._paused_at: float | None = None  # when the pause shown began: time stands still
        self._delay_runs = 0.0  # wall s of the pause a delay runs on through (its deadline)
        self._ahead = 0.0  # protocol s skipped delays had left: the step is that much on
        self._skipping: float | None = None  # what a skip the status shows had left
        self._skip_recorded = False  # the record said the skip the status still shows
        self._recorded_step: int | None = None  # the step the record's events are in
        self._lock = threading.Lock()
        self._shown = ""
        self._last_draw = 0.0
        self.lost: OSError | None = None
        """Why the output could no longer be written (its reader ended: a broken pipe),
        if it could not: nothing more is written, and the run goes on."""

    def _write(self, text: str) -> None:
        """Write and flush ``text``; a failed write stops the output, never the run (the
        record keeps everything). Under the lock."""
        if self.lost is not None:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except OSError as exc:  # BrokenPipeError, a full disk, a closed file...
            self.lost = exc

    def log(self, text: str) -> None:
        """Print ``text`` as a line of its own (above the status line)."""
        with self._lock:
            clear = "\r\x1b[K" if self.live and self._shown else ""
            self._write(clear + text + "\n" + (self._shown if self.live else ""))

    def bell(self, text: str) -> None:
        """Log ``text`` and ring the terminal's bell."""
        self.log(text + ("\a" if self.live else ""))

    def update(self, status: RunStatusReport, position: Mapping[str, float] | None = None,
               *, force: bool = False) -> None:
        """Redraw the live line with ``status`` (at most every ``REDRAW_S``).

        Without a live terminal nothing is drawn: the caller logs status changes.
        """
        if not self.live:
            return
        now = self._now()
        if not force and now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        in_step = 0.0
        if status.step is not None:
            in_step = self._in_step(status, now)
        hint = ""
        if self.keys and not status.status.is_terminal:
            hint = " | " + (PAUSED_HINT if status.status is Status.PAUSED else KEYS_HINT)
        width = shutil.get_terminal_size((100, 24)).columns
        text = format_status(status, position, self.progress, in_step,
                             width=width - 1 - len(hint))
        if len(text) + len(hint) > width - 1:  # what is left to cut: never the keys
            text = text[:max(0, width - 2 - len(hint))] + "…"
        text += hint
        word = status.status.value
        shown = text
        if self.colour and word in text and status.status in COLOURS:
            shown = text.replace(word, f"\x1b[{COLOURS[status.status]}m{word}\x1b[0m", 1)
        with self._lock:
            if shown != self._shown:
                self._write("\r\x1b[K" + shown)
                self._shown = shown

    def step_recorded(self, index: int) -> None:
        """The record's ``step`` event: a step began (engine index)."""
        self._recorded_step = index

    def delay_skipped(self, remaining_s: float) -> None:
        """The record's ``delay`` event of a skipped delay (the protocol seconds it had
        left): the step it was in is that much further on."""
        if self._step is None or self._step[0] != self._recorded_step:
            return  # a step that is over
        self._ahead += remaining_s
        self._skipping = None
        self._skip_recorded = True

    def _in_step(self, status: RunStatusReport, now: float) -> float:
        """Protocol seconds the current step has run at wall time ``now``.

        A pause holds the bar and time left still, except while a delay runs on through
        it (its deadline stands): a pause that outlasts the delay leaves the step past
        the delay on the resume. A skipped delay puts the step forward by what it had
        left, paused or not (as soon as the status shows it; the record's time left
        once it says it), and runs no more through the pause."""
        assert status.step is not None
        speed = self.progress.speed if self.progress is not None else 1.0
        delay = status.delay
        if self._step is None or self._step[0] != status.step.index:
            self._step, self._paused_at = (status.step.index, now), None
            self._delay_runs = self._ahead = 0.0
            self._skipping, self._skip_recorded = None, False
        if delay is None or not delay.skipped:
            self._skip_recorded = False
        elif self._skipping is None and not self._skip_recorded:
            self._skipping = delay.remaining_s  # what it had left (within a redraw)
            if self._paused_at is not None:  # it ran through the pause until now only
                self._delay_runs = min(self._delay_runs, now - self._paused_at)
        if status.status is Status.PAUSED:  # the bar and time left hold still
            if self._paused_at is None:
                self._paused_at = now
                running = delay is not None and not delay.skipped
                self._delay_runs = delay.remaining_s / speed if running and delay else 0.0
        elif self._paused_at is not None:  # resumed: the pause is not the step's time
            held = max(0.0, now - self._paused_at - self._delay_runs)
            self._step = (self._step[0], self._step[1] + held)
            self._paused_at = None
            self._delay_runs = 0.0
        until = now
        if self._paused_at is not None:
            until = self._paused_at + min(now - self._paused_at, self._delay_runs)
        return (until - self._step[1]) * speed + self._ahead + (self._skipping or 0.0)

    def close(self) -> None:
        """Leave the status line as it is and move below it."""
        with self._lock:
            if self.live and self._shown:
                self._write("\n")
            self._shown = ""


@contextlib.contextmanager
def warnings_above(display: StatusLine) -> Iterator[None]:
    """While a live status line is drawn, what labrun's layers log (a driver's warning)
    is printed as a line above it, not onto it."""
    if not display.live:
        yield
        return
    handler = _StatusLineHandler(display)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


class _StatusLineHandler(logging.Handler):
    def __init__(self, display: StatusLine) -> None:
        super().__init__(logging.WARNING)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.display.log(self.format(record))
        except Exception:
            self.handleError(record)


class KeyReader:
    """Read single keys from a terminal in cbreak mode, in a thread; restore on exit."""

    def __init__(self, fd: int, on_key: Callable[[str], None]) -> None:
        self.fd = fd
        self.on_key = on_key
        self._saved: list[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> KeyReader:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)  # keys without Enter, no echo; Ctrl-C still signals
        self._thread = threading.Thread(target=self._read, name="labrun-keys", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and give the terminal its settings back."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
        if self._saved is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.fd, 64)
            except (OSError, ValueError):
                return
            if not data:
                return  # end of input
            for char in data.decode("utf-8", "ignore"):
                self.on_key(char)


class Controls:
    """Carry out keys and Ctrl-C as run actions, in a thread; report refusals."""

    ACTIONS: dict[str, tuple[str, Callable[[RunControl], ActionResult]]] = {
        "p": ("pause", lambda c: c.pause("deferred", source="terminal")),
        "i": ("immediate pause", lambda c: c.pause("immediate", source="terminal")),
        "r": ("resume", lambda c: c.resume(source="terminal")),
        "s": ("stop", lambda c: c.stop(source="terminal")),
        "a": ("abort", lambda c: c.abort("aborted from the terminal", source="terminal")),
        "h": ("halt", lambda c: c.halt(source="terminal")),
        "d": ("skip delay", lambda c: c.skip_delay(source="terminal")),
    }

    def __init__(self, control: RunControl, display: StatusLine) -> None:
        self.control = control
        self.display = display
        self._queue: queue.SimpleQueue[tuple[str, float] | None] = queue.SimpleQueue()
        self._last_ctrl_c: float | None = None
        self._ctrl_c_paused = False  # the last Ctrl-C was pressed while the run was paused
        self._confirming: str | None = None  # s, a or h pressed once, waiting for the second
        # Ctrl-C while the run waited to start (a door open): the loop that plays it ends
        # it (``labrun run``'s ``_play``), so that it is never both played and ended
        self.ending_before_start = False
        self._thread = threading.Thread(target=self._work, name="labrun-controls", daemon=True)
        self._thread.start()

    def key(self, char: str) -> None:
        """A key was pressed (any thread)."""
        self._queue.put((char.lower(), time.monotonic()))

    def interrupt(self) -> None:
        """Ctrl-C: safe to call from a signal handler."""
        self._queue.put((CTRL_C, time.monotonic()))

    def terminate(self) -> None:
        """SIGTERM or SIGHUP: abort the run (with its cleanup); safe in a signal handler."""
        self._queue.put((TERMINATE, time.monotonic()))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(2.0)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, at = item
            try:
                self._handle(key, at)
            except Exception as exc:  # the run may have ended under us
                self.display.log(f"{key}: {exc}")

    def _handle(self, key: str, at: float) -> None:
        confirming, self._confirming = self._confirming, None
        if confirming is not None and key in (confirming, "y"):
            key = confirming
        elif confirming is not None:
            self.display.log(f"{self.ACTIONS[confirming][0]} cancelled")
            if key not in (CTRL_C, TERMINATE, *CONFIRM):
                return
        if key in CONFIRM and confirming != key:
            self._confirming = key
            name = self.ACTIONS[key][0]
            self.display.log(f"{name} the run? press {key} again (or y) to {name}, any other "
                             "key to go on")
            return
        if key == CTRL_C:
            second = self._last_ctrl_c is not None and at - self._last_ctrl_c <= DOUBLE_CTRL_C_S
            pressed_paused, self._ctrl_c_paused = self._ctrl_c_paused, False
            self._last_ctrl_c = at
            status = self.control.status().status
            if status is Status.IDLE:  # it waits to start (a door open): nothing to pause
                self.ending_before_start = True
                return
            if status in (Status.PAUSED, Status.PAUSING):  # nothing to pause: offer stop
                # Two presses while paused (or parking for a pause) stop the run: not the
                # press that asked for the pause (it may have landed at once, in a delay)
                # and the next.
                self._ctrl_c_paused = True
                if not (second and pressed_paused):
                    hint = (f"{PAUSED_HINT} (Ctrl-C again within {DOUBLE_CTRL_C_S:g} s "
                            "stops it)" if self.display.keys else paused_hint(False))
                    self.display.log(f"Ctrl-C: the run is {status.value}; {hint}")
                    return
                self._last_ctrl_c = None
                key = "s"
        if key == CTRL_C:
            option: PauseOption = "immediate" if second else "deferred"
            if second:
                self._last_ctrl_c = None  # a third Ctrl-C starts a new pair
            result = self.control.pause(option, source="terminal")
            name = f"Ctrl-C: {option} pause"
            if result.accepted and not second:
                self.display.log(f"{name} requested; Ctrl-C again within "
                                 f"{DOUBLE_CTRL_C_S:g} s to pause at once")
                return
        elif key == TERMINATE:
            name = "abort (terminated by a signal)"
            result = self.control.abort("terminated by a signal", source="terminal")
        elif key in self.ACTIONS:
            name, act = self.ACTIONS[key]
            result = act(self.control)
        elif key in ("?", "\n"):
            self.display.log("keys: " + KEYS_HELP)
            return
        else:
            return
        if result.accepted:
            self.display.log(f"{name}: accepted ({result.status.value})")
        else:
            self.display.log(f"{name} refused: {result.reason}")
