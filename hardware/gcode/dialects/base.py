"""What every firmware dialect provides: how to say things and how to read the answers.

A dialect is configuration plus pure functions: no I/O, no state about the connection.
The driver (``GcodeController``) and the streamer use its capability attributes to pick
a strategy (character counting or one line at a time, feed hold or quickstop, status
polling or position queries).

Axis letters here are the firmware's own letters; the driver maps labrun's axes to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ...controller import JobPhase
from ..events import Axes, Event, Garbled, InterlockChange, Status

INTERLOCK_PREFIX = "//action:interlock "
"""Marlin/Smoothieware interlock convention (labrun's own, spoken by the emulator):
``//action:interlock <name> active`` and ``//action:interlock <name> clear``, pushed on
every change and re-announced in answer to ``M119``."""


class Dialect:
    """Base class: the G-code every dialect shares and the capabilities it declares."""

    name = "generic"
    axis_letters = "XYZABC"
    """The firmware's axis letters, in the order positional reports list them."""
    rx_buffer_bytes: int | None = None
    """When set, stream by character counting within this many bytes (GRBL)."""
    max_lines_in_flight = 1
    """Otherwise, at most this many unacknowledged lines."""
    numbered_lines = False
    """Send ``N<n> ... *<checksum>`` and honour ``Resend:`` (Marlin)."""
    supports_currents = False
    supports_motor_enable = False
    interlock_blocks_motion = False
    """The firmware itself refuses to move while an interlock is active (GRBL's door)."""
    feed_hold: bytes | None = None
    cycle_resume: bytes | None = None
    status_query: bytes | None = None
    flush_after_hold: bytes | None = None
    """Realtime byte that discards the held motion once the axes are still."""
    quickstop_line: str | None = None
    """A line acted on at once (emergency parser) that stops and flushes motion (Marlin M410)."""
    emergency_stop: bytes = b"\x18"
    answers_after_halt = False
    """Halted, the firmware still answers every line it had read (the one in progress
    ``ok``, later ones ``!!``): a line an alarm failed keeps its place for that answer
    (Smoothieware); else a status report in alarm means no answer comes (GRBL)."""
    alarm_resets = False
    """An alarm during a command resets the firmware: its banner follows (GRBL)."""
    cycle_homes_configured_axes = False
    """``home_lines(None)`` homes the axes the firmware's own settings name (GRBL ``$H``),
    not every axis it has."""
    coordinates = "machine"
    """The frame moves and positions use on the wire (said in the driver's errors)."""

    # -- formatting -------------------------------------------------------------------

    def init_lines(self) -> list[str]:
        """Lines that put a freshly (re)started firmware into labrun's modes: mm, absolute."""
        return ["G21", "G90"]

    def move_line(self, target: Mapping[str, float], feed_mm_per_min: float) -> str:
        """A coordinated straight move to absolute ``target`` at ``feed_mm_per_min``."""
        words = " ".join(f"{axis}{_num(value)}" for axis, value in target.items())
        return f"G1 {words} F{_feed(feed_mm_per_min)}"

    def home_lines(self, axes: Sequence[str] | None) -> list[str]:
        """Lines that home ``axes`` (every axis when None), in the order given."""
        raise NotImplementedError

    def wait_line(self) -> str:
        """A line acknowledged only once every queued motion has finished."""
        return "M400"

    def position_line(self) -> str | None:
        """A line whose answer reports the position; None when status reports are used."""
        return None

    def currents_line(self, currents: Mapping[str, float]) -> str | None:
        """A line setting motor currents in amperes; None when unsupported."""
        return None

    def motors_line(self, enabled: bool, axes: Sequence[str] | None) -> str | None:
        """A line switching motors on or off; None when unsupported."""
        return None

    def job_line(self, phase: JobPhase) -> str | None:
        """A line that tells the board's own menu where the run stands (``mark_job``);
        None when the firmware has no such notion."""
        return None

    def unlock_lines(self) -> list[str]:
        """Lines that clear an alarm or halt state (homing is still required afterwards)."""
        raise NotImplementedError

    def interlock_query_line(self) -> str | None:
        """A line that makes the firmware report its interlocks; None when status carries them."""
        return None

    def missing_option(self, command: str) -> str | None:
        """The build option a firmware that does not know ``command`` (``M906``) was
        likely built without, to name in the error; None when there is no such guess."""
        return None

    def frame(self, text: str, number: int | None = None) -> bytes:
        """The bytes put on the wire for one line."""
        return (text + "\n").encode("ascii")

    # -- parsing ----------------------------------------------------------------------

    def parse(self, line: str) -> list[Event]:
        """The events one received line (without its line ending) carries."""
        raise NotImplementedError

    def interlocks_of(self, status: Status) -> dict[str, bool] | None:
        """Interlock states a status report implies, or None when it says nothing."""
        return None


def _num(value: float) -> str:
    return f"{value:.3f}"


def _feed(value: float) -> str:
    """A feed with one decimal; below 100 mm/min with four figures (three below 1), no
    exponent (firmware reads ``E`` as an axis): a slow move goes at the speed asked, not
    rounded off by up to a half."""
    return f"{value:.1f}" if value >= 100.0 else f"{value:.{4 - len(str(int(value)))}f}"


def parse_status(line: str) -> Status | Garbled:
    """Parse a GRBL-1.1-style ``<State:sub|MPos:x,y,z|WCO:...|Pn:XYZD>`` report.

    A report that does not read whole is ``Garbled``: an unknown state, a field name
    that is not a word, or a coordinate that is not a decimal number (``-1590928`` for
    ``-159.928``, ``-7.,00``). GRBL and Smoothieware always print coordinates with
    decimals; believing a damaged one would put the robot model metres away.
    """
    if not (line.startswith("<") and line.endswith(">")):
        return Garbled(line)
    fields = line[1:-1].split("|")
    state, colon, sub = fields[0].partition(":")
    if state not in STATES or (colon and not sub.isdigit()):
        return Garbled(line)
    values: dict[str, Axes] = {}
    pins: frozenset[str] = frozenset()
    for item in fields[1:]:
        key, _, data = item.partition(":")
        if not _FIELD_NAME.fullmatch(key):
            return Garbled(line)
        if key in ("MPos", "WPos", "WCO"):  # X Y Z A B C, as many as the firmware has
            numbers = data.split(",")
            if not all(_COORDINATE.fullmatch(n) for n in numbers):
                return Garbled(line)
            values[key] = dict(zip("XYZABC", map(float, numbers), strict=False))
        elif key == "Pn":
            pins = frozenset(data)
    return Status(state=state, substate=int(sub) if sub else None,
                  position=values.get("MPos"), work_offset=values.get("WCO"),
                  work_position=values.get("WPos"), pins=pins)


STATES = frozenset({"Idle", "Run", "Hold", "Jog", "Alarm", "Door", "Check", "Home", "Sleep",
                    "Tool"})
"""The states a status report names: GRBL 1.1's, and grblHAL's ``Tool`` (tool change)."""
_COORDINATE = re.compile(r"-?\d+\.\d+")
_FIELD_NAME = re.compile(r"\$?[A-Za-z]+")  # grblHAL has ``$C`` (check mode)


_AXIS_WORD = re.compile(r"([A-Z]):\s*(-?\d+(?:\.\d*)?)")


def parse_axis_words(text: str, letters: str) -> Axes:
    """``X:1.00 Y:2.00 ...`` -> {"X": 1.0, "Y": 2.0}, keeping only ``letters``."""
    return {m[1]: float(m[2]) for m in _AXIS_WORD.finditer(text) if m[1] in letters}


def parse_interlock(line: str) -> InterlockChange | None:
    """labrun's ``//action:interlock <name> active|clear`` line, if that is what it is."""
    if not line.startswith(INTERLOCK_PREFIX):
        return None
    parts = line[len(INTERLOCK_PREFIX):].split()
    if len(parts) != 2 or parts[1] not in ("active", "clear"):
        return None
    return InterlockChange(parts[0], parts[1] == "active")
