"""Marlin 2.x with extra linear axes named A, B, C (``AXIS4_NAME 'A'`` ...).

Streaming: one line at a time, each ``N<n> <text>*<checksum>`` (XOR of the bytes before
``*``); a corrupted or lost line gets ``Error:...``, ``Resend: <n>`` and ``ok``, and every
line from ``n`` on is sent again. ``ok`` means the line was processed (a move planned);
``Error:`` lines precede their ``ok`` (or the ``Resend:`` they explain, ``Resend: 5`` or
``Resend:N5``). ``echo:busy: processing`` keeps a long command alive; ``wait`` is what
an idle Marlin prints while it waits for a line, so it explains no missing answer.
``echo:endstops hit:  A:100.00`` (endstops always on) says an endstop cut a move short.
``kill()`` prints ``Error:Printer halted. kill() called!`` after the error that caused it
(``Error:Homing Failed``, ``Error:Thermal Runaway, system stopped! ...``).
``M114`` answers with the position on its own line or on the ``ok`` line
(``ok X:1.00 Y:2.00 ...``, as OctoPrint's virtual printer and some builds do).
Coordinates: Marlin moves and reports in the same logical frame (``G92``/``M206`` shift
both alike), so plain ``G1`` and ``M114`` agree whatever offset is set.
With the emergency parser, ``M410`` (quickstop) and ``M112`` (kill) act as soon as they
arrive; ``M410`` still answers ``ok`` in order. The parser is off in Marlin's default
configuration (``EMERGENCY_PARSER`` in ``Configuration_adv.h``); ``M115`` says whether it
is on (``Cap:EMERGENCY_PARSER:1``, with ``EXTENDED_CAPABILITIES_REPORT``). Without it
Marlin reads ``M410`` and ``M112`` only when its main loop reads the serial port again,
once a blocking command under way (``M400``, ``G4``, ``G28``) has ended. After ``kill()``
real Marlin needs a board reset; labrun's emulator accepts ``M999`` instead. Currents via
``M906`` (mA, TMC drivers).
A command Marlin was not built with is answered ``echo:Unknown command: "M906 X800"`` and
then ``ok`` (``GcodeSuite::unknown_command_warning``): ``M906`` without TMC drivers,
``M503`` with ``DISABLE_M503``; Klipper, Prusa-Firmware and RepRapFirmware (in Marlin
mode) word it their own ways (``_UNKNOWN_COMMAND``), before their ``ok`` too.
(``G21`` is a silent no-op without ``INCH_MODE_SUPPORT``.)
Interlocks: labrun's ``//action:interlock door active|clear`` convention, queried by ``M119``.
Host action commands (``HOST_ACTION_COMMANDS``): what a person chooses on the LCD (or a
button wired to the board) is said to the host: ``//action:pause`` (``paused`` once
Marlin has parked itself, with ``PARK_HEAD_ON_PAUSE``), ``//action:resume`` (``resumed``)
and ``//action:cancel`` (Stop print). The rest (``notification ...``, ``prompt_...``,
``start``, ``poweroff``) is information only. The LCD offers Pause and Stop print only
while the print job timer runs, and Resume print only while it is paused: the host runs
it with ``M75`` (start, or go on), ``M76`` (pause) and ``M77`` (stop), each answered
``ok`` at once. A build with ``HOST_PAUSE_M76`` says ``//action:pause`` for ``M76`` too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import reduce

from ...controller import BoardAction, JobPhase
from ..events import (
    Alarm,
    BoardRequest,
    Busy,
    EndstopHit,
    Error,
    Event,
    Info,
    Ok,
    PositionReport,
    Resend,
    Restarted,
    UnknownCommand,
)
from .base import Dialect, parse_axis_words, parse_interlock

_RESEND_PRECURSORS = ("checksum mismatch", "Line Number", "No Checksum", "Missing checksum",
                      "Wrong checksum", "expected line")
_RESEND = re.compile(r"^(?:Resend:|rs)\s*N?(\d+)\s*$", re.IGNORECASE)
_POSITION_ON_OK = re.compile(r"(?:^|\s)X:\s*-?\d")
_ENDSTOPS_HIT = "echo:endstops hit:"
_UNKNOWN_COMMAND = re.compile(
    r'^(?:echo:\s*Unknown command:\s*"'  # Marlin 2 (and Klipper before 2017)
    r'|//\s*Unknown command:\s*"'  # Klipper: '// Unknown command:"M906"'
    r"|Unknown [GMTD] code: "  # Prusa-Firmware: 'Unknown M code: M906 X800'
    # RepRapFirmware in Marlin mode: 'Warning: M906: Command is not supported'
    r"|(?:Warning|Error): [A-Z]\d+(?:\.\d+)?: Command is not supported$)")
"""How a Marlin-like firmware says it was not built with a line's command (then ``ok``):
Marlin's ``GcodeSuite::unknown_command_warning``; Klipper's ``cmd_default``
(``klippy/gcode.py``); Prusa-Firmware's ``MSG_UNKNOWN_CODE`` (``Marlin_main.cpp``);
RepRapFirmware's ``warningNotSupported`` (``GCodes2.cpp``, an unknown M-code without a
macro file of that name)."""
_STOPPED = ("Printer stopped due to errors.", "echo:Printer stopped due to errors.")
"""Marlin's ``STR_ERR_STOPPED`` said bare for a G0/G1 read while it is stopped, and
Prusa-Firmware's recoverable stop (its ``Error:`` form is an ``Error:`` line's alarm)."""
_HOME_FIRST = re.compile(r"^echo:\s*Home [A-Z]+ First$")
"""Marlin's ``MSG_HOME_FIRST`` (``homing_needed_error``, ``NO_MOTION_BEFORE_HOMING``)."""
_LOCKED = "echo:Printer locked!"
"""Marlin's ``STR_PRINTER_LOCKED`` (``PASSWORD_FEATURE``): every line but ``M511`` is
answered so, and ``ok``, and not run (``GcodeSuite::process_parsed_command``)."""
_KLIPPER_SHUTDOWN = "// Klipper state: Shutdown"
_BUILD_OPTIONS = {"M906": "built without TMC drivers?",
                  "M503": "built with DISABLE_M503?"}


_HOST_ACTION = re.compile(r"^//\s*action:(\w+)\s*$")
HOST_ACTIONS: dict[str, BoardAction] = {"pause": "pause", "paused": "pause",
                                        "resume": "resume", "resumed": "resume",
                                        "cancel": "stop"}
"""Marlin's host action commands that ask something of the run, by the action asked."""


def parse_host_action(line: str) -> BoardRequest | None:
    """A host action command that asks for a pause, resume or stop (``//action:pause``,
    or ``// action:pause`` as older hosts spell it), if that is what ``line`` is."""
    found = _HOST_ACTION.match(line)
    if found is None or found[1] not in HOST_ACTIONS:
        return None
    return BoardRequest(HOST_ACTIONS[found[1]], line)


JOB_TIMER_LINES: dict[JobPhase, str] = {"started": "M75", "paused": "M76",
                                        "resumed": "M75", "ended": "M77"}
"""The print job timer's lines by the run's phase: start (or go on), pause, stop. Marlin's
LCD offers Pause and Stop print only while the timer runs, Resume print only while it is
paused; each line is answered ``ok`` at once, whatever moves."""


_EMERGENCY_PARSER_CAP = re.compile(r"^Cap:EMERGENCY_PARSER:([01])\s*$")


def emergency_parser_of(m115: Sequence[str]) -> bool | None:
    """Whether the lines Marlin printed for ``M115`` say its emergency parser is on
    (``Cap:EMERGENCY_PARSER:1``) or off (``:0``); None when they do not say."""
    for line in m115:
        found = _EMERGENCY_PARSER_CAP.match(line.strip())
        if found is not None:
            return found[1] == "1"
    return None


def checksum(text: str) -> int:
    """Marlin/RepRap checksum: XOR of every byte of ``text``."""
    return reduce(lambda acc, byte: acc ^ byte, text.encode("ascii"), 0)


class Marlin(Dialect):
    """Marlin 2.x: numbered, checksummed lines; quickstop with M410."""

    name = "marlin"
    axis_letters = "XYZABCUVWE"
    numbered_lines = True
    coordinates = "logical"
    supports_currents = True
    supports_motor_enable = True
    quickstop_line = "M410"
    emergency_stop = b"M112\n"

    def home_lines(self, axes: Sequence[str] | None) -> list[str]:
        return ["G28"] if axes is None else ["G28 " + " ".join(axes)]

    def position_line(self) -> str:
        return "M114 R"

    def currents_line(self, currents: Mapping[str, float]) -> str:
        return "M906 " + " ".join(f"{a}{round(amps * 1000)}" for a, amps in currents.items())

    def motors_line(self, enabled: bool, axes: Sequence[str] | None) -> str:
        code = "M17" if enabled else "M18"
        return code if not axes else code + " " + " ".join(axes)

    def job_line(self, phase: JobPhase) -> str:
        return JOB_TIMER_LINES[phase]

    def unlock_lines(self) -> list[str]:
        # S1: resume without flushing the buffer (no Resend request follows).
        return ["M999 S1"]

    def interlock_query_line(self) -> str:
        return "M119"

    def missing_option(self, command: str) -> str | None:
        return _BUILD_OPTIONS.get(command)

    def frame(self, text: str, number: int | None = None) -> bytes:
        if number is None:
            return (text + "\n").encode("ascii")
        body = f"N{number} {text}"
        return f"{body}*{checksum(body)}\n".encode("ascii")

    def parse(self, line: str) -> list[Event]:
        if line == "ok" or line.startswith("ok "):
            payload = line[3:]
            if _POSITION_ON_OK.search(payload):
                return [self._position(payload), Ok(payload)]
            return [Ok(payload)]
        resend = _RESEND.match(line)
        if resend is not None:
            return [Resend(int(resend[1]))]
        if line.startswith(("Resend:", "rs ")):
            return [Info(line)]
        if line.startswith(("echo:busy:", "busy:")):
            return [Busy(line)]
        if line.startswith(_ENDSTOPS_HIT):
            return [EndstopHit(line, parse_axis_words(line[len(_ENDSTOPS_HIT):],
                                                      self.axis_letters))]
        if line == "wait":
            return [Info(line)]
        if _UNKNOWN_COMMAND.match(line):
            return [UnknownCommand(line)]
        if line.startswith(_LOCKED):
            # PASSWORD_FEATURE, locked: the line is not run, its ok follows all the same
            return [Error(line, final=False)]
        if line.startswith("!!"):
            # Klipper's error ('!! Move out of range: ...'), then its ok
            # (klippy/gcode.py: _respond_error, then gcmd.ack())
            return [Error(line, final=False)]
        if line.startswith(_STOPPED) or _HOME_FIRST.match(line):
            # A move read while Marlin is stopped (MF_STOPPED, until M999), or with
            # NO_MOTION_BEFORE_HOMING before it is homed: ignored, then answered ok;
            # Prusa-Firmware's stop, recoverable, drops the lines (Marlin_main.cpp's
            # 'echo:Printer stopped due to errors. Supervision required.')
            return [Alarm(line)]
        if line == _KLIPPER_SHUTDOWN:
            # Klipper shut down (M112, an MCU fault): steppers off until FIRMWARE_RESTART;
            # every line is still answered ('!! Shutdown due to M112 command', ok)
            return [Alarm(line)]
        if line.startswith(("Error:", "Error ")):
            message = line[len("Error:"):]
            if any(p in message for p in _RESEND_PRECURSORS):
                return [Info(line)]  # a Resend: follows
            if "halted" in message or "kill()" in message:
                return [Alarm(line, flushes=True)]
            if "stopped" in message.lower():
                return [Alarm(line)]
            return [Error(line, final=False)]
        if line == "start":
            return [Restarted(line)]
        interlock = parse_interlock(line)
        if interlock is not None:
            return [interlock]
        board = parse_host_action(line)
        if board is not None:
            return [board]
        if line[:2] in ("X:", "Y:", "Z:"):
            return [self._position(line)]
        return [Info(line)]

    def _position(self, text: str) -> PositionReport:
        return PositionReport(parse_axis_words(text.partition("Count")[0], self.axis_letters))
