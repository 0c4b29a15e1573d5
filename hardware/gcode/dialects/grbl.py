"""GRBL 1.1 (and 6-axis forks such as grblHAL / grbl-Mega-5X).

Streaming: character counting within the 127 bytes of the serial RX buffer that GRBL
can use (its ring buffer holds 128 and keeps one free); ``ok`` means a line was parsed
and planned, ``error:N`` replaces the ``ok``. Realtime bytes ``?`` (status),
``!`` (feed hold), ``~`` (resume) and 0x18 (soft reset) bypass the buffer. A soft reset
while ``Hold:0`` discards the held motion without an alarm; one during motion raises
``ALARM:3``. A failed homing cycle prints ``ALARM:n``, then ``ok`` for ``$H``, then
the banner (it resets). Banners: ``Grbl 1.1h ['$' for help]`` and grblHAL's
``GrblHAL 1.1f ['$' or '$HELP' for help]``.

Coordinates: moves are sent as ``G53 G1`` (machine coordinates, whatever work offset is
active) and positions read as ``MPos``, or as ``WPos`` plus the latest ``WCO`` (which
GRBL sends only in some reports) when ``$10`` asks for work positions.

The safety door shows as state ``Door`` and pin ``D`` in ``Pn:``; the firmware holds
motion while it is open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..events import Alarm, Error, Event, Info, Ok, Restarted, Status
from .base import Dialect, parse_status

ERRORS = {
    1: "G-code word without a letter", 2: "bad number format", 3: "invalid $ statement",
    4: "negative value", 5: "homing is not enabled ($22)", 6: "step pulse under 3 us",
    7: "settings read failed (EEPROM)", 8: "$ command only valid when idle",
    9: "G-code locked out during alarm or jog", 10: "soft limits need homing enabled",
    11: "line too long", 12: "step rate over 30 kHz", 13: "safety door is open",
    14: "line too long for the startup/build info", 15: "jog target exceeds travel",
    16: "invalid jog command", 17: "laser mode requires PWM",
    20: "unsupported or invalid G-code", 21: "two commands of one modal group",
    22: "feed rate not set", 23: "command needs an integer value",
    24: "two commands need axis words", 25: "repeated word", 26: "no axis words",
    27: "invalid line number", 28: "value word missing", 29: "work coordinate system "
    "not supported", 30: "G53 only with G0 or G1", 31: "axis words not used",
    32: "arc without in-plane axis words", 33: "invalid motion target",
    34: "arc radius error", 35: "arc without in-plane offset", 36: "unused value words",
    37: "tool length offset axis", 38: "tool number too large",
}
ALARMS = {
    1: "hard limit triggered; position lost, re-home",
    2: "motion target exceeds the travel (soft limit)",
    3: "reset while in motion; position lost, re-home",
    4: "probe not in the expected initial state", 5: "probe did not make contact",
    6: "homing failed: reset during the cycle", 7: "homing failed: door opened",
    8: "homing failed: could not clear the limit switch (pull-off)",
    9: "homing failed: limit switch not found within the travel",
    10: "emergency stop input active (grblHAL)", 11: "homing required (grblHAL)",
    12: "limit switch engaged at start-up (grblHAL)",
}
_BANNER = re.compile(r"^Grbl(?:HAL)? \S+ \[", re.IGNORECASE)


class Grbl(Dialect):
    """GRBL 1.1: character-counting streaming, realtime feed hold and reset."""

    name = "grbl"
    axis_letters = "XYZABC"
    rx_buffer_bytes = 127
    alarm_resets = True
    cycle_homes_configured_axes = True
    interlock_blocks_motion = True
    feed_hold = b"!"
    cycle_resume = b"~"
    status_query = b"?"
    flush_after_hold = b"\x18"
    emergency_stop = b"\x18"

    def home_lines(self, axes: Sequence[str] | None) -> list[str]:
        # Single-axis homing ($HX) is GRBL's HOMING_SINGLE_AXIS_COMMANDS option.
        return ["$H"] if axes is None else [f"$H{axis}" for axis in axes]

    def move_line(self, target: Mapping[str, float], feed_mm_per_min: float) -> str:
        return "G53 " + super().move_line(target, feed_mm_per_min)

    def wait_line(self) -> str:
        return "G4 P0"

    def unlock_lines(self) -> list[str]:
        return ["$X"]

    def parse(self, line: str) -> list[Event]:
        if line == "ok":
            return [Ok()]
        if line.startswith("error:"):
            return [Error(_describe(line, ERRORS), final=True)]
        if line.startswith("ALARM:"):
            return [Alarm(_describe(line, ALARMS))]
        if line.startswith("<"):
            return [parse_status(line)]
        if _BANNER.match(line):
            return [Restarted(line)]
        return [Info(line)]

    def interlocks_of(self, status: Status) -> dict[str, bool]:
        door = "D" in status.pins or (status.state == "Door" and status.substate in (1, 2))
        return {"door": door}


def _describe(line: str, table: dict[int, str]) -> str:
    code = line.partition(":")[2]
    text = table.get(int(code)) if code.isdigit() else None
    return f"{line} ({text})" if text else line
