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
import os
import queue
import select
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from engine.actions import PauseOption
from engine.entries import ActionResult
from engine.run import RunControl
from engine.state import Status
from engine.status import RunStatusReport

KEYS_HELP = "p pause  i pause now  r resume  s stop  a abort  h halt  d skip delay"
KEYS_HINT = "keys p i r s a h d ?"
"""What the status line shows of the keys (``?`` prints ``KEYS_HELP``)."""
REDRAW_S = 0.1
"""Least time between two redraws of the status line (~10 Hz)."""
DOUBLE_CTRL_C_S = 3.0
"""A second Ctrl-C within this time asks for an immediate pause."""

CTRL_C = "ctrl-c"
TERMINATE = "terminate"


def format_status(status: RunStatusReport, position: Mapping[str, float] | None = None) -> str:
    """The status line's text (without the key help)."""
    parts = [status.status.value]
    if status.pause_source is not None and status.status in (Status.PAUSING, Status.PAUSED):
        source = f"by {status.pause_source}"
        if status.pause_message:
            source += f": {status.pause_message}"
        parts[0] += f" ({source})"
    if status.interlocks:
        parts.append("interlock " + ", ".join(status.interlocks))
    if status.step is not None:
        parts.append(f"step {status.step.index + 1}: {status.step.name}")
    if status.pause_pending:
        parts.append("pause pending")
    if status.delay is not None:
        what = f" ({status.delay.message})" if status.delay.message else ""
        parts.append(f"delay {status.delay.remaining_s:.1f} s left{what}")
    where = position if position is not None else status.position
    if where:
        parts.append(" ".join(f"{axis} {value:.1f}" for axis, value in where.items()))
    return " | ".join(parts)


class StatusLine:
    """The live status line (``live``) or, without a terminal, status changes as lines."""

    def __init__(self, out: TextIO, *, live: bool, keys: bool) -> None:
        self.out = out
        self.live = live
        self.keys = keys
        self._lock = threading.Lock()
        self._shown = ""
        self._last_draw = 0.0

    def log(self, text: str) -> None:
        """Print ``text`` as a line of its own (above the status line)."""
        with self._lock:
            if self.live and self._shown:
                self.out.write("\r\x1b[K")
            self.out.write(text + "\n")
            if self.live and self._shown:
                self.out.write(self._shown)
            self.out.flush()

    def update(self, status: RunStatusReport, position: Mapping[str, float] | None = None,
               *, force: bool = False) -> None:
        """Redraw the live line with ``status`` (at most every ``REDRAW_S``).

        Without a live terminal nothing is drawn: the caller logs status changes.
        """
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        text = format_status(status, position)
        if self.keys and not status.status.is_terminal:
            text += " | " + KEYS_HINT
        width = shutil.get_terminal_size((100, 24)).columns
        if len(text) > width - 1:
            text = text[:max(0, width - 2)] + "…"
        with self._lock:
            if text != self._shown:
                self.out.write("\r\x1b[K" + text)
                self.out.flush()
                self._shown = text

    def close(self) -> None:
        """Leave the status line as it is and move below it."""
        with self._lock:
            if self.live and self._shown:
                self.out.write("\n")
                self.out.flush()
            self._shown = ""


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
        if key == CTRL_C:
            second = self._last_ctrl_c is not None and at - self._last_ctrl_c <= DOUBLE_CTRL_C_S
            self._last_ctrl_c = at
            option: PauseOption = "immediate" if second else "deferred"
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
