"""GRBL 1.1 (and 6-axis forks such as grblHAL / grbl-Mega-5X).

Streaming: character counting within the 128-byte serial RX buffer; ``ok`` means a line
was parsed and planned, ``error:N`` replaces the ``ok``. Realtime bytes ``?`` (status),
``!`` (feed hold), ``~`` (resume) and 0x18 (soft reset) bypass the buffer. A soft reset
while ``Hold:0`` discards the held motion without an alarm; one during motion raises
``ALARM:3``. The safety door shows as state ``Door`` and pin ``D`` in ``Pn:``; the
firmware holds motion while it is open.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..events import Alarm, Error, Event, Info, Ok, Restarted, Status
from .base import Dialect, parse_status

ERRORS = {
    1: "G-code word without a letter", 2: "bad number format", 3: "unknown $ command",
    8: "$ command only valid when idle", 9: "G-code locked out during alarm or jog",
    11: "line too long", 13: "safety door is open", 15: "jog target exceeds travel",
    20: "unsupported or invalid G-code", 22: "feed rate not set",
    24: "two commands need axis words", 33: "invalid motion target",
}
ALARMS = {
    1: "hard limit triggered; re-home", 2: "motion target exceeds travel",
    3: "reset while in motion; position lost, re-home", 6: "homing failed: reset",
    7: "homing failed: door opened", 8: "homing failed: could not clear the switch",
    9: "homing failed: switch not found",
}


class Grbl(Dialect):
    """GRBL 1.1: character-counting streaming, realtime feed hold and reset."""

    name = "grbl"
    axis_letters = "XYZABC"
    rx_buffer_bytes = 128
    interlock_blocks_motion = True
    feed_hold = b"!"
    cycle_resume = b"~"
    status_query = b"?"
    flush_after_hold = b"\x18"
    emergency_stop = b"\x18"

    def home_lines(self, axes: Sequence[str] | None) -> list[str]:
        # Single-axis homing ($HX) is GRBL's HOMING_SINGLE_AXIS_COMMANDS option.
        return ["$H"] if axes is None else [f"$H{axis}" for axis in axes]

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
            status = parse_status(line)
            return [status] if status is not None else [Info(line)]
        if line.startswith("Grbl "):
            return [Restarted(line)]
        return [Info(line)]

    def interlocks_of(self, status: Status) -> dict[str, bool]:
        door = "D" in status.pins or (status.state == "Door" and status.substate in (1, 2))
        return {"door": door}


def _describe(line: str, table: dict[int, str]) -> str:
    code = line.partition(":")[2]
    text = table.get(int(code)) if code.isdigit() else None
    return f"{line} ({text})" if text else line
