"""Emulated Marlin 2.x (extra axes named A, B, C; no extruders; emergency parser on
unless ``emergency_parser=False``).

- Lines ``N<n> ... *<checksum>`` are verified: a bad checksum, a missing one or a line
  out of sequence gets ``Error:...``, ``Resend: <last+1>`` and ``ok``; unnumbered lines
  are accepted as they are. ``M110 N<n>`` sets the line counter.
- ``ok`` once a line is processed (a move is planned once the 16-block planner has
  room); ``M400``, ``G4`` and ``G28`` wait for the motion, printing
  ``echo:busy: processing`` every ``busy_interval`` seconds meanwhile.
- Emergency parser: ``M410`` stops the steppers at once (no deceleration) and flushes
  the planner as soon as it arrives, and answers ``ok`` in order; ``M112`` kills:
  ``Error:Printer halted. kill() called!``. Real Marlin then needs a board reset; this
  emulator accepts ``M999`` and repeats the kill message to any other line.
- ``emergency_parser=False`` (Marlin's default configuration): ``M410`` and ``M112`` act
  only when the queue reaches them, after the command under way (``M400``, ``G4``,
  ``G28``) ends, as Marlin's main loop reads the port only then; ``M115`` says
  ``Cap:EMERGENCY_PARSER:0``.
- Position: ``M114`` (planned) and ``M114 R`` (real) print ``X:.. Y:.. Z:.. A:.. ...``
  in the logical frame that ``G92`` shifts (moves are in it too; ``G28`` clears the
  shift); with ``position_on_ok`` on the ``ok`` line (``ok X:.. Y:..``).
- ``wait_interval``: print ``wait`` after that many idle seconds (0: never), as
  OctoPrint's virtual printer does. ``resend_format``: ``"Resend: {n}"`` by default.
- A failed homing (``home_fails``): ``Error:Homing Failed`` and then kill();
  ``kill(reason)`` prints its reason first (``Error:Thermal Runaway, system stopped!``).
- Endstops always on: a limit (the ``limit_next`` fault) cuts the move short and prints
  ``echo:endstops hit:  X:12.34``; the lines go on being answered.
- ``stop()`` (Marlin's, after some errors): ``Error:Printer stopped due to errors. Fix
  the error and use M999 to restart.``; then each G0/G1 is answered that line, bare, and
  ``ok``, and ignored, until ``M999``.
- Currents ``M906`` (mA), motors ``M17``/``M18``/``M84``. ``tmc_drivers=False``: a build
  without TMC drivers, which answers ``M906`` as Marlin answers a command it was not
  built with, ``echo:Unknown command: "M906 X800"`` and ``ok``. ``unknown_commands``
  words that line as another Marlin-like firmware does (then ``ok`` all the same):
  ``"klipper"`` ``// Unknown command:"M906"`` (``klippy/gcode.py``), ``"prusa"``
  ``Unknown M code: M906 X800`` (Prusa-Firmware's ``Marlin_main.cpp``),
  ``"reprapfirmware"`` ``Warning: M906: Command is not supported`` (RepRapFirmware in
  Marlin mode, ``GCodes2.cpp``).
- ``M115``: name, ``AXIS_COUNT``, ``Cap:`` lines; ``M503``: the robot's axes as
  ``M92``/``M203``/``M201`` and ``M211 S0`` (``echo:`` lines); ``m503=False`` is a build
  with ``DISABLE_M503``, which does not know it.
- Interlocks (labrun convention): ``//action:interlock door active|clear`` on change
  and in ``M119``'s answer.
- The print job timer: ``M75`` starts it (or goes on), ``M76`` pauses a running one,
  ``M77`` stops it, each answered ``ok`` at once; ``kill()`` stops it (a real board
  starts again from a reset). With ``host_pause_m76`` (``HOST_PAUSE_M76``) ``M76`` also
  says ``//action:pause``.
- The LCD menu's Pause print, Resume print and Stop print (``lcd_pause``, ``lcd_resume``,
  ``lcd_stop``), as a build with ``HOST_ACTION_COMMANDS``, ``HOST_PROMPT_SUPPORT`` and
  status notifications (and no SD card) says them to the host: ``//action:pause``,
  ``//action:resume``, ``//action:cancel``, with the prompt and notification lines around
  them. As Marlin's main menu, it offers Pause and Stop print only while the timer runs,
  Resume print only while it is paused (``lcd_items``); an item not offered does
  nothing. Resume print starts the timer again and Stop print stops it, as Marlin's do;
  Pause print leaves it to the host. Only the host acts on them: the motion goes on
  until it sends something.
"""

from __future__ import annotations

from typing import Literal

import anyio

from ...config import AxisConfig
from ...gcode.dialects.base import INTERLOCK_PREFIX
from ..faults import Faults, Stats
from ..planner import Machine
from .base import Firmware, Line, command_of, words

KILLED = "Error:Printer halted. kill() called!"
STOPPED = "Printer stopped due to errors. Fix the error and use M999 to restart."
"""Marlin's ``STR_ERR_STOPPED``: said as an ``Error:`` by ``stop()``, and bare (an echo
without its prefix) for each G0/G1 read while stopped (``GCodeQueue``)."""
BUSY = "echo:busy: processing"
PAUSE_PRINT, RESUME_PRINT, STOP_PRINT = "Pause print", "Resume print", "Stop print"
"""The items of the LCD's main menu that act on a print (a run)."""
JobTimer = Literal["stopped", "running", "paused"]
UnknownCommands = Literal["marlin", "klipper", "prusa", "reprapfirmware"]


def checksum(text: str) -> int:
    value = 0
    for byte in text.encode("ascii", "replace"):
        value ^= byte
    return value


class MarlinFirmware(Firmware):
    """Marlin 2.x as seen over its serial port."""

    name = "marlin"
    default_error = "Error:Injected failure"

    def __init__(self, machine: Machine, faults: Faults, stats: Stats, *,
                 position_on_ok: bool = False, wait_interval: float = 0.0,
                 resend_format: str = "Resend: {n}", emergency_parser: bool = True,
                 host_pause_m76: bool = False, tmc_drivers: bool = True,
                 m503: bool = True, unknown_commands: UnknownCommands = "marlin",
                 **options: float) -> None:
        super().__init__(machine, faults, stats, **options)
        self.unknown_commands = unknown_commands
        """Whose words say a command it was not built with (``unknown_line``)."""
        self.emergency_parser = emergency_parser
        self.tmc_drivers = tmc_drivers
        """Built with TMC stepper drivers: it knows ``M906``."""
        self.m503 = m503
        """Built without ``DISABLE_M503``: it knows ``M503``."""
        self.host_pause_m76 = host_pause_m76
        self.job_timer: JobTimer = "stopped"
        """The print job timer (``M75``/``M76``/``M77``), which the LCD's menu follows."""
        self.position_on_ok = position_on_ok
        self.wait_interval = wait_interval
        self.resend_format = resend_format
        self.last_line = 0
        self.killed = False
        self.stopped = False
        """``stop()``ed (``MF_STOPPED``): moves are ignored, answered ``ok``, until M999."""
        self.door_open = False
        self.name = "Marlin 2.1.2 (labrun emulator)"
        """What it answers M115 with after ``FIRMWARE_NAME:`` (a build may add its board's
        ``MACHINE_TYPE``)."""

    async def idle_waits(self) -> None:
        """Print ``wait`` whenever nothing has arrived for ``wait_interval`` seconds."""
        while True:
            seen = len(self.stats.lines)
            await anyio.sleep(self.wait_interval)
            if len(self.stats.lines) == seen and self._current is None:
                self.stats.waits_sent += 1
                await self.send("wait")

    async def greet(self) -> None:
        if self.wait_interval > 0 and self._tasks is not None:
            self._tasks.start_soon(self.idle_waits)
        await self.send("start")
        await self.send("echo:Marlin 2.1.2 (labrun emulator)")
        if self.killed:
            await self.send(KILLED)

    async def on_line(self, line: Line) -> None:
        body = _strip_number(line.text)
        command = command_of(words(body))
        if command == "M410" and self.faults.lost_quickstop_next > 0:
            self.faults.lost_quickstop_next -= 1
            line.text = command = "M41"  # a byte lost on the line: the parser misses it
        if command in ("M112", "M410"):
            self.stats.note_realtime(command.encode())  # when it arrived
        # The emergency parser acts on these as they arrive, before the queue.
        if command == "M112" and self.emergency_parser:
            await self.kill()
            return
        if command == "M410" and self.emergency_parser:
            self.machine.stop()
        if self.stopped and command in ("G0", "G1"):  # said as it is read
            await self.send(STOPPED)
        if line.text.strip():
            self.enqueue(line)

    async def stop(self) -> None:
        """Marlin's ``stop()`` (``MarlinCore.cpp``): heaters off, the print job timer
        stopped, and ``MF_STOPPED``: every G0/G1 is then answered ``ok`` without moving
        (``MOTION_CONDITIONS``), after the bare ``STOPPED`` line, until ``M999``. A
        homing cycle still runs."""
        self.job_timer = "stopped"
        if not self.stopped:
            await self.send(f"Error:{STOPPED}")
            self.stopped = True

    async def kill(self, reason: str | None = None) -> None:
        """``kill()``: after ``reason`` (an ``Error:`` line), if given."""
        self.machine.stop()
        self.machine.homed.clear()
        self.killed = True
        self.job_timer = "stopped"
        self.interrupt(discard_queued=True)  # a killed Marlin answers nothing
        if reason is not None:
            await self.send(reason)
        await self.send(KILLED)

    async def trip_limit(self, axis: str, positive: bool) -> None:
        self.machine.stop()  # the block that hit is discarded
        position = self.work_position(self.machine.current_position())
        await self.send(f"echo:endstops hit:  {axis}:{position[axis]:.2f}")

    async def on_door(self, open_: bool) -> None:
        self.door_open = open_
        await self.send(self.interlock_line())

    @property
    def lcd_items(self) -> tuple[str, ...]:
        """What the LCD's main menu offers for a print now: Pause and Stop print while the
        print job timer runs, Resume print while it is paused, none while it is stopped."""
        if self.job_timer == "running":
            return (PAUSE_PRINT, STOP_PRINT)
        if self.job_timer == "paused":
            return (RESUME_PRINT,)
        return ()

    async def lcd_pause(self) -> bool:
        """The LCD's Pause print (or a pause button wired to the board): Marlin opens its
        prompt and asks the host to pause; the timer is the host's to pause. False (and
        nothing happens) when the menu does not offer it."""
        if PAUSE_PRINT not in self.lcd_items:
            return False
        await self._prompt("UI Pause", "Resume")
        await self.send("//action:notification Pause Print")
        await self.send("//action:pause")
        return True

    async def lcd_resume(self) -> bool:
        """The LCD's Resume print: Marlin asks the host to resume and starts its print job
        timer again. False (and nothing happens) when the menu does not offer it."""
        if RESUME_PRINT not in self.lcd_items:
            return False
        await self.send("//action:notification Resume Print")
        await self.send("//action:resume")
        self.job_timer = "running"
        return True

    async def lcd_stop(self) -> bool:
        """The LCD's Stop print (confirmed): Marlin asks the host to cancel, stops its print
        job timer, and says so. False (and nothing happens) when the menu does not offer
        it."""
        if STOP_PRINT not in self.lcd_items:
            return False
        await self.send("//action:cancel")
        self.job_timer = "stopped"
        await self._prompt("UI Aborted", "Dismiss")
        await self.send("//action:notification Print Aborted")
        return True

    async def _prompt(self, text: str, button: str) -> None:
        await self.send("//action:prompt_end")
        await self.send(f"//action:prompt_begin {text}")
        await self.send(f"//action:prompt_button {button}")
        await self.send("//action:prompt_show")

    def interlock_line(self) -> str:
        return f"{INTERLOCK_PREFIX}door {'active' if self.door_open else 'clear'}"

    async def resend(self, line: Line, reason: str) -> None:
        self.stats.resends_requested += 1
        await self.send(f"Error:{reason}, Last Line: {self.last_line}")
        await self.send(self.resend_format.format(n=self.last_line + 1))
        await self.answer(line, "ok")

    async def execute(self, line: Line) -> None:
        text = line.text.strip()
        if self.killed:  # only M999 brings a killed Marlin (emulator) back
            if command_of(words(_strip_number(text))) == "M999":
                self.killed = False
                await self.answer(line, "ok")
            else:
                await self.send(KILLED)
                self.forget(line)
            return
        if text.startswith("N"):
            body, sep, given = text.partition("*")
            number_text, _, command_text = body[1:].partition(" ")
            if not number_text.isdigit():
                await self.resend(line, "No Line Number with checksum")
                return
            if not sep or not given.strip().isdigit():
                await self.resend(line, "No Checksum with line number")
                return
            corrupt = self.faults.resend_next > 0
            if corrupt:
                self.faults.resend_next -= 1
            if corrupt or checksum(body) != int(given):
                self.stats.checksum_failures += 1
                await self.resend(line, "checksum mismatch")
                return
            number = int(number_text)
            items = words(command_text)
            if command_of(items) != "M110" and number != self.last_line + 1:
                await self.resend(line, "Line Number is not Last Line Number+1")
                return
            self.stats.checksums_verified += 1
            self.last_line = number
            text = command_text
        items = words(text)
        command = command_of(items)
        injected = self.take_injected_error()
        if injected is not None:
            await self.send(injected)
            await self.answer(line, "ok")
            return
        await self.run_command(line, command, items)

    async def run_command(self, line: Line, command: str,
                          items: list[tuple[str, float | None]]) -> None:
        m = self.machine
        axes = [a for a, _ in items if a in m.config.axes]
        if command in ("G0", "G1") and self.stopped:
            pass  # G0_G1: if (!MOTION_CONDITIONS) return;
        elif command in ("G0", "G1"):
            target = self.motion_target(items)
            feed = self.feed_of(items)
            await self.wait_busy(lambda: m.free_blocks > 0, BUSY)
            self.arm_limit(target)
            m.add_move(target, feed / 60 if feed else None)
        elif command == "G28":
            await self.wait_busy(lambda: m.idle, BUSY)
            if self.faults.home_fails > 0:
                self.faults.home_fails -= 1
                await self.send("Error:Homing Failed")
                with anyio.CancelScope(shield=True):  # kill() ends this very line
                    await self.kill()
                return
            homed = axes or [a for a, c in m.config.axes.items() if c.homing == "switch"]
            m.add_home(homed)
            await self.wait_busy(lambda: m.idle, BUSY)
            for axis in homed:
                self.offsets.shift[axis] = 0.0
        elif command == "M400":
            await self.wait_busy(lambda: m.idle, BUSY)
        elif command == "G4":
            values = dict(items)
            seconds = (values.get("S") or 0.0) + (values.get("P") or 0.0) / 1000.0
            await self.wait_busy(lambda: m.idle, BUSY)
            await m.clock.sleep(seconds)
        elif command == "M114":
            real = any(letter == "R" for letter, _ in items)
            position = m.current_position() if real else m.planned
            text = self.position_words(self.work_position(position), 2)
            if not real:
                text += " Count " + " ".join(
                    f"{a}:{round(position[a] * m.config.axes[a].steps_per_mm)}"
                    for a in m.config.axes)
            if self.position_on_ok:
                await self.answer(line, f"ok {text}")
                return
            await self.send(text)
        elif command == "M410":
            m.stop()
        elif command == "M112":  # without the emergency parser: when the queue reaches it
            with anyio.CancelScope(shield=True):  # kill() ends this very line
                await self.kill()
            return
        elif command == "M75":
            self.job_timer = "running"
        elif command == "M76":
            if self.job_timer == "running":
                self.job_timer = "paused"
            if self.host_pause_m76:
                await self.send("//action:pause")
        elif command == "M77":
            self.job_timer = "stopped"
        elif command == "M906" and self.tmc_drivers:
            for letter, value in items:
                if letter in m.config.axes and value is not None:
                    m.currents[letter] = value / 1000.0
        elif command in ("M17", "M18", "M84"):
            for axis in axes or list(m.config.axes):
                m.motors_enabled[axis] = command == "M17"
                if command != "M17":
                    m.homed.discard(axis)
        elif command == "M119":
            await self.send("Reporting endstop status")
            for axis in m.config.axes:
                await self.send(f"{axis.lower()}_min: open")
            await self.send(self.interlock_line())
        elif command == "M110":
            self.last_line = int(next((v for k, v in items[1:] if k == "N" and v is not None),
                                      self.last_line))
        elif command == "M999":
            self.stopped = False
            if not any(letter == "S" for letter, _ in items):
                await self.send(f"Resend: {self.last_line + 1}")
        elif command == "M115":
            await self.send(f"FIRMWARE_NAME:{self.name} AXIS_COUNT:{len(m.config.axes)}")
            await self.send("Cap:EEPROM:0")
            await self.send(f"Cap:EMERGENCY_PARSER:{int(self.emergency_parser)}")
        elif command == "M503" and self.m503:
            for report in _settings_report(dict(m.config.axes)):
                await self.send(report)
        elif command in ("G90", "G91"):
            self.absolute = command == "G90"
        elif command in ("G92", "G92.1"):
            self.offsets.execute(command, items, m.planned)
        elif command != "G21":
            await self.send(self.unknown_line(_strip_number(line.text).strip()))
        await self.answer(line, "ok")

    def unknown_line(self, text: str) -> str:
        """What it prints for a line whose command it does not know (``text``, the line
        from its command's letter on), before the ``ok``."""
        word = text.split()[0].upper() if text.split() else ""
        if self.unknown_commands == "klipper":  # the command word only
            return f'// Unknown command:"{word}"'
        if self.unknown_commands == "prusa":
            return f"Unknown {word[:1]} code: {text}"
        if self.unknown_commands == "reprapfirmware":
            return f"Warning: {word}: Command is not supported"
        # Marlin's parser shows the command from its letter on, the N word skipped
        return f'echo:Unknown command: "{text}"'


def _settings_report(axes: dict[str, AxisConfig]) -> list[str]:
    """What Marlin's ``M503`` prints of the axes: steps/mm, max feed rates, accelerations,
    soft endstops (off: the robot file's travel is checked by labrun)."""
    return ["echo:; Steps per unit:",
            "echo:  M92 " + _words({a: c.steps_per_mm for a, c in axes.items()}),
            "echo:; Maximum feedrates (units/s):",
            "echo:  M203 " + _words({a: c.max_speed for a, c in axes.items()}),
            "echo:; Maximum Acceleration (units/s2):",
            "echo:  M201 " + _words({a: c.acceleration for a, c in axes.items()}),
            "echo:; Soft endstops:",
            "echo:  M211 S0"]


def _words(values: dict[str, float]) -> str:
    return " ".join(f"{axis}{value:.2f}" for axis, value in values.items())


def _strip_number(text: str) -> str:
    text = text.strip()
    if text.startswith("N"):
        text = text.partition(" ")[2]
    return text.partition("*")[0]
