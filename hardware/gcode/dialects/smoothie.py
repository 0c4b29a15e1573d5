"""Smoothieware (v1 with ``grbl_mode``-style realtime commands).

Streaming: one line at a time, answered by ``ok`` (``M114`` answers
``ok C: X:.. Y:.. Z:..`` on the same line). Its USB port greets a host with ``Smoothie``
and an ``ok`` of its own; a reboot prints ``Smoothie Running @100MHz`` (on its UART) and
no ``ok``. In the halt state (kill button, ``M112``, ctrl-X, limit) every line is
answered ``!!`` (``error:Alarm lock`` in ``grbl_mode``) until ``M999`` or ``$X``; entering it
prints ``ALARM: ...`` (``HALTED, M999 or $X to exit HALT state`` outside ``grbl_mode``).
An error halts it too: a line's ``error:...`` is followed by ``Entering Alarm/Halt
state``, and a move past a soft endstop, answered ``ok`` before it is planned, by
``Error: Soft Endstop X was exceeded - reset or $X or M999 required`` (``error:`` in
``grbl_mode``), which answers no line; with ``soft_endstop.halt false`` it is ``...
- entire move ignored`` instead, and no halt (``MoveRefused``). A hard limit says
``ALARM: Hard limit +X``; before
2020-12, outside ``grbl_mode``, ``Limit switch +X was hit`` (until 2020-05 with ``-
reset or M999 required``). ``?`` returns a
GRBL-like status report and ``!``/``~`` feed hold/resume when enabled in the firmware's
configuration; this dialect assumes both and can be told otherwise. Its feed hold does
not stop a move: it only keeps the firmware from planning new ones, the moves planned
run to their end, and the reports say ``Hold`` at once (with the planned position). So
the driver never holds a move (a cancelled one is waited out: the halt ctrl-X would stop
the axes dead, unbraked) and sends ``~`` only to leave a hold set by someone else.
Currents via ``M907`` (A); homing is ``G28.2``. Interlocks: labrun's
``//action:interlock door active|clear`` convention.
Coordinates: moves are ``G53 G1`` and positions ``MPos`` (or ``M114.2``, the machine
position, without realtime status), whatever work offset is active.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..events import (
    Alarm,
    Error,
    Event,
    Halted,
    Info,
    MoveRefused,
    Ok,
    PositionReport,
    Restarted,
    Status,
    Unhalted,
)
from .base import Dialect, parse_axis_words, parse_interlock, parse_status

_MOVE_IGNORED = re.compile(r"^(?:Error: |error:)Soft Endstop [A-Z] was exceeded - entire "
                           r"move ignored$")
_LIMIT_HIT = re.compile(r"^Limit switch [-+]?[A-Z] was hit\b")


class Smoothie(Dialect):
    """Smoothieware: ``ok`` per line, ``!!`` in halt, realtime ``?``/``~`` when enabled."""

    name = "smoothie"
    axis_letters = "XYZABC"
    supports_currents = True
    supports_motor_enable = True
    emergency_stop = b"\x18"
    answers_after_halt = True

    def __init__(self, *, feed_hold: bool = True, realtime_status: bool = True) -> None:
        # feed_hold: whether its realtime '!' and '~' are on; only '~' is of use
        self.cycle_resume = b"~" if feed_hold else None
        self.status_query = b"?" if realtime_status else None

    def home_lines(self, axes: Sequence[str] | None) -> list[str]:
        return ["G28.2"] if axes is None else ["G28.2 " + " ".join(f"{a}0" for a in axes)]

    def move_line(self, target: Mapping[str, float], feed_mm_per_min: float) -> str:
        return "G53 " + super().move_line(target, feed_mm_per_min)

    def position_line(self) -> str | None:
        return None if self.status_query else "M114.2"

    def currents_line(self, currents: Mapping[str, float]) -> str:
        return "M907 " + " ".join(f"{a}{amps:.3f}" for a, amps in currents.items())

    def motors_line(self, enabled: bool, axes: Sequence[str] | None) -> str:
        code = "M17" if enabled else "M18"
        return code if not axes else code + " " + " ".join(axes)

    def unlock_lines(self) -> list[str]:
        return ["M999"]

    def interlock_query_line(self) -> str:
        return "M119"

    def parse(self, line: str) -> list[Event]:
        if line == "ok":
            return [Ok()]
        if line.startswith("ok Emergency Stop Requested"):
            # M112's answer: done, and halted ('... - reset or M999 required to exit HALT
            # state', GcodeDispatch.cpp)
            return [Ok(line[3:]), Alarm(line)]
        if line.startswith("ok "):
            payload = line[3:]
            position = parse_axis_words(payload, self.axis_letters)
            return [PositionReport(position), Ok(payload)] if position else [Ok(payload)]
        if line == "!!" or line.startswith("!! "):
            return [Halted("controller is halted: " + (line[3:] or "send M999"))]
        if line == "error:Alarm lock":  # '!!' in grbl_mode (GcodeDispatch.cpp)
            return [Halted(f"controller is halted: {line}")]
        if line.startswith("WARNING: After HALT you should HOME") or (
                line == "[Caution: Unlocked]"):
            # printed only by an M999 (or $X) that left the halt, just before its ok
            # (GcodeDispatch.cpp, SimpleShell.cpp)
            return [Unhalted(line)]
        if _MOVE_IGNORED.match(line):
            # soft_endstop.halt false: after the move's ok, no line answered, no halt
            return [MoveRefused(line)]
        if line.startswith(("ALARM", "HALTED", "Entering Alarm/Halt", "ERROR:",
                            "WARNING: ESTOP is still latched")) or (
                "M999 required" in line) or _LIMIT_HIT.match(line):
            # grbl_mode or not (a hard limit is "ALARM: Hard limit +X" since 2020-12;
            # before, outside grbl_mode, "Limit switch +X was hit", with " - reset or M999
            # required" until 2020-05: Endstops.cpp); a halt said as an error answers no
            # line (a soft endstop after the move's ok), and an error that answers one is
            # followed by a halt; 'ERROR:' (capitals) comes with one too, answering no
            # line ('ERROR: Homing cycle failed - check the max_travel settings', then
            # the G28.2's ok; 'ERROR: MINTEMP or MAXTEMP triggered on T...'); a latched
            # kill button halts it again at once after M999 (KillButton.cpp)
            return [Alarm(line)]
        if line.lower().startswith("error:"):
            return [Error(line, final=True)]
        if line.startswith("<"):
            return [parse_status(line)]
        if line.startswith("Smoothie"):
            # Only its USB port's greeting to a host is followed by an ok; its boot line
            # ("Smoothie Running @100MHz", seen on its UART) and its network shell's
            # greeting are not.
            return [Restarted(line, extra_ok=line == "Smoothie")]
        interlock = parse_interlock(line)
        if interlock is not None:
            return [interlock]
        return [Info(line)]

    def interlocks_of(self, status: Status) -> dict[str, bool] | None:
        return None
