"""Emulated Smoothieware (v1, GRBL-style realtime commands enabled, ``grbl_mode`` off:
what ``M115`` says, ``X-GRBL_MODE:0``; ``grbl_mode=True`` speaks as with it on: errors
``error:...``, ``error:Alarm lock`` for ``!!``, ``ALARM: Abort during cycle`` for ctrl-X).

What it prints is Smoothieware's (github.com/Smoothieware/Smoothieware, ``src/``):

- Every line gets one answer: ``ok`` (``M114``: ``ok C: X:.. Y:..``), an error, or ``!!``
  while halted. A move is answered once planned; ``M400``, ``G4`` and ``G28.2`` once the
  motion is done.
- An error (the ``error_next`` fault) answers its line ``Error: Injected failure`` and
  halts: ``Entering Alarm/Halt state`` (``GcodeDispatch.cpp``: "we cannot continue
  safely after an error").
- Halted, every line is answered ``!!`` until ``M999`` (``WARNING: After HALT you
  should HOME as position is currently unknown``, ``ok``) or ``$X`` (``[Caution:
  Unlocked]``, ``ok``; not halted, ``$X`` gets no answer at all), but the M-codes it
  allows then (``M114``, ``M115``, ``M119``,
  ``M503``...), which it answers as ever (``GcodeDispatch.cpp``'s ``allowed_mcodes``).
- Realtime (when enabled): ``?`` status ``<Idle|MPos:...|WPos:...|F:...>``, ``!`` feed
  hold, ``~`` resume; ctrl-X halts at once: ``HALTED, M999 or $X to exit HALT state``
  (``USBSerial.cpp``), the lines not yet read are dropped, and the line in progress
  (``M400``) is answered ``ok``, as its wait ends. ``M112`` halts too, answered ``ok
  Emergency Stop Requested - reset or M999 required to exit HALT state``. A halt during
  motion loses the homing; one while still keeps it.
- Its feed hold is Smoothieware's: it plans no new move while it lasts, and the moves
  already planned run to their end (no braking). The state says ``Hold`` at once,
  moving or not, and reports then give the planned position, not the axes'.
- Coordinates: ``G53`` moves in machine coordinates; work offsets ``G10 L2/L20``,
  ``G54``..``G59`` and ``G92``; ``M114`` reports work coordinates, ``M114.2`` machine.
- A move past its soft endstops (the ``soft_endstop_next`` fault) is answered ``ok`` and
  then refused: ``Error: Soft Endstop X was exceeded - reset or $X or M999 required``, and
  it halts, as Smoothieware does after any error. With ``soft_endstop_halt=False``
  (``soft_endstop.halt false``) it says ``Error: Soft Endstop X was exceeded - entire
  move ignored`` instead, and goes on (``Robot.cpp``).
- A hard limit (the ``limit_next`` fault) halts it: ``ALARM: Hard limit +X`` and ``//
  NOTICE limits are disabled until all have been cleared`` (``Endstops.cpp``, every mode
  since 2020-12; before, ``Limit switch +X was hit`` outside ``grbl_mode``); the line in
  progress (``M400``) is then answered ``ok``, later ones ``!!``. The ``late_ok_held_next``
  fault makes that late ``ok`` (a hard limit's or ctrl-X's) come after a status report
  saying ``Alarm`` and only once the next line arrives (``M999``), whose own answer then
  waits for the line after it (at most ``LATE_ANSWER_S``): a host that sends on before
  the late ``ok`` reaches it.
- A failed homing cycle (the ``home_fails`` fault) halts it: ``ERROR: Homing cycle failed
  - check the max_travel settings``, and then the ``G28.2``'s ``ok``.
- Greeting: ``Smoothie`` and ``ok`` when a host connects (its USB port's greeting);
  ``reboot()`` restarts the board as seen on its UART: ``Smoothie Running @100MHz`` and
  the build line, and no ``ok``.
- Currents ``M907`` (A); motors ``M17``/``M18``/``M84``.
- Interlocks (labrun convention): ``//action:interlock door active|clear``.
"""

from __future__ import annotations

import anyio

from ...gcode.dialects.base import INTERLOCK_PREFIX
from ..faults import Faults, Stats
from ..planner import Machine
from .base import Firmware, Line, command_of, words

ALLOWED_WHEN_HALTED = frozenset(f"M{n}" for n in (2, 5, 9, 30, 105, 114, 115, 119, 80, 81,
                                                  911, 503, 106, 107))
"""The M-codes Smoothieware carries out while halted (``GcodeDispatch.cpp``'s
``allowed_mcodes``: ``M114.2`` is an ``M114``); any other line gets ``!!``."""


LATE_ANSWER_S = 5.0
"""Emulated seconds the line that came with a held ``ok`` waits for another line."""


class SmoothieFirmware(Firmware):
    """Smoothieware as seen over its USB serial port."""

    name = "smoothie"
    default_error = "Error: Injected failure"

    def __init__(self, machine: Machine, faults: Faults, stats: Stats, *,
                 feed_hold: bool = True, realtime_status: bool = True,
                 soft_endstop_halt: bool = True, grbl_mode: bool = False,
                 **options: float) -> None:
        super().__init__(machine, faults, stats, **options)
        self.grbl_mode = grbl_mode
        self.default_error = "error:Injected failure" if grbl_mode else "Error: Injected failure"
        self.error_prefix = "error:" if grbl_mode else "Error: "
        self.soft_endstop_halt = soft_endstop_halt
        """Its ``soft_endstop.halt`` setting: a move past the soft endstops halts it (the
        default), or is ignored, said, and nothing else."""
        self.realtime_bytes = frozenset((b"?" if realtime_status else b"")
                                        + (b"!~" if feed_hold else b"") + b"\x18")
        self.halted = False
        self.feed_hold = False
        self.door_open = False
        self._late_ok_held = False
        """The ``late_ok_held_next`` fault holds a halted line's ``ok`` until a line comes."""
        self._late_line: Line | None = None
        """The line that came with the held ``ok``: its own answers reach the host late."""
        self._lines_received = 0

    async def greet(self) -> None:
        await self.send("Smoothie")
        await self.send("ok")

    async def on_line(self, line: Line) -> None:
        self._lines_received += 1
        self.machine.notify()
        if self._late_ok_held:  # the halted line's wait ends only now (a slow host)
            self._late_ok_held = False
            self._late_line = line
            await self.send("ok")
        if line.text.strip():
            self.enqueue(line)

    async def on_realtime(self, byte: int) -> None:
        if byte == ord("?"):
            await self.send_status(self.status_report())
        elif byte == ord("!"):
            self.set_feed_hold(True)
        elif byte == ord("~"):
            self.set_feed_hold(False)
        elif byte == 0x18:
            await self.halt()

    def set_feed_hold(self, on: bool) -> None:
        self.feed_hold = on
        self.machine.notify()  # a move waiting for the hold to end is told

    async def halt(self) -> None:
        """Ctrl-X: halted at once, the lines not read yet dropped (its receive buffer
        flushed); the line in progress ends (a wait, a dwell) and is answered ``ok``."""
        self._enter_halt()
        interrupted = self.interrupt(discard_queued=True)
        await self.send("ALARM: Abort during cycle" if self.grbl_mode
                        else "HALTED, M999 or $X to exit HALT state")
        if interrupted is not None:
            await self._late_ok()

    def _enter_halt(self) -> None:
        """Stop the axes dead and refuse lines from now on. A halt during motion loses
        the homing."""
        if self.machine.stop():
            self.machine.homed.clear()
        self.halted = True

    async def reboot(self) -> None:
        """The board restarts (a watchdog, its reset button): motion and lines in progress
        are lost, so is the homing; its boot lines come, without an ``ok``."""
        self.machine.stop()
        self.machine.homed.clear()
        self.interrupt(discard_queued=True)
        self.halted = self.feed_hold = self._late_ok_held = False
        self.feed_mm_per_min = None
        self.absolute = True
        await self.send("Smoothie Running @100MHz")
        await self.send("Build version: edge-labrun-emulator, Build date: -, MCU: LPC1769, "
                        "System Clock: 100MHz")

    async def trip_limit(self, axis: str, positive: bool) -> None:
        self._enter_halt()
        self.machine.homed.clear()
        interrupted = self.interrupt(discard_queued=False)
        await self.send(f"ALARM: Hard limit {'+' if positive else '-'}{axis}")
        await self.send("// NOTICE limits are disabled until all have been cleared")
        if interrupted is not None:  # its wait for the motion ends
            await self._late_ok()

    async def _late_ok(self) -> None:
        """The ``ok`` of the line a halt ended; with the ``late_ok_held_next`` fault a
        status report comes first and the ``ok`` only with the next line received."""
        if self.faults.late_ok_held_next <= 0:
            await self.send("ok")
            return
        self.faults.late_ok_held_next -= 1
        await self.send_status(self.status_report())
        self._late_ok_held = True

    async def on_door(self, open_: bool) -> None:
        self.door_open = open_
        await self.send(self.interlock_line())

    async def _answer_late(self) -> None:
        """The ``late_ok_held_next`` fault: the line that came with the held ``ok`` is
        answered once the host sent another line or after ``LATE_ANSWER_S``: the host
        reads the held ``ok`` first and has its next line on the way (or is waiting)."""
        seen = self._lines_received
        async with anyio.create_task_group() as tg:
            async def in_time() -> None:
                await self.machine.clock.sleep(LATE_ANSWER_S)
                tg.cancel_scope.cancel()

            tg.start_soon(in_time)
            await self.machine.wait_until(lambda: self._lines_received > seen)
            tg.cancel_scope.cancel()

    def interlock_line(self) -> str:
        return f"{INTERLOCK_PREFIX}door {'active' if self.door_open else 'clear'}"

    def status_report(self) -> str:
        m = self.machine
        position = m.current_position()
        if self.halted:
            state = "Alarm"
        elif m.homing:
            state = "Home"
        elif self.feed_hold:  # whether the axes move or not
            state = "Hold"
        elif m.moving or not m.idle:
            state = "Run"
        else:
            state = "Idle"
        if state in ("Alarm", "Hold", "Idle"):  # not running: the last planned position
            position = dict(m.planned)
        work = self.work_position(position)
        mpos = ",".join(f"{position[a]:.4f}" for a in m.config.axes)
        wpos = ",".join(f"{work[a]:.4f}" for a in m.config.axes)
        return f"<{state}|MPos:{mpos}|WPos:{wpos}|F:{self.feed_mm_per_min or 0:.1f},100.0>"

    async def execute(self, line: Line) -> None:
        if line is self._late_line:
            self._late_line = None
            await self._answer_late()
        text = line.text.strip()
        items = words(text)
        command = command_of(items)
        if self.halted:
            if command == "M999" or text.upper() == "$X":
                self.halted = self.feed_hold = False  # clearing the halt ends a hold too
                self.machine.notify()
                await self.send("WARNING: After HALT you should HOME as position is "
                                "currently unknown" if command == "M999"
                                else "[Caution: Unlocked]")
                await self.answer(line, "ok")
                return
            if command.partition(".")[0] not in ALLOWED_WHEN_HALTED:
                await self.answer(line, "error:Alarm lock" if self.grbl_mode else "!!")
                return
        elif text.upper() == "$X":  # SimpleShell.cpp: not halted, it says nothing at all
            self.forget(line)
            return
        injected = self.take_injected_error()
        if injected is not None:
            # "we cannot continue safely after an error so we enter HALT state"
            await self.answer(line, injected)
            await self.send("Entering Alarm/Halt state")
            self._enter_halt()
            return
        m = self.machine
        axes = [a for a, _ in items if a in m.config.axes]
        if command in ("G0", "G1") and axes and self.faults.soft_endstop_next > 0:
            # Smoothieware answers a G1 before planning it; the planner refuses it and halts
            self.faults.soft_endstop_next -= 1
            await self.answer(line, "ok")
            if not self.soft_endstop_halt:
                await self.send(f"{self.error_prefix}Soft Endstop {axes[0]} was exceeded - "
                                "entire move ignored")
                return
            self.halted = True
            await self.send(f"{self.error_prefix}Soft Endstop {axes[0]} was exceeded - reset "
                            "or $X or M999 required")
            return
        if command in ("G0", "G1"):
            target = self.motion_target(items)
            feed = self.feed_of(items)
            await m.wait_until(lambda: m.free_blocks > 0 and not self.feed_hold)
            self.arm_limit(target)
            m.add_move(target, feed / 60 if feed else None)
        elif command == "G28.2":
            await m.wait_until(lambda: m.idle)
            if self.faults.home_fails > 0:
                # no switch found within max_travel: it halts, says so, and the G28.2's
                # own wait ends with its ok (Endstops.cpp)
                self.faults.home_fails -= 1
                m.homed.clear()
                self._enter_halt()
                await self.send("ERROR: Homing cycle failed - check the max_travel settings")
                await self.answer(line, "ok")
                return
            m.add_home(axes or [a for a, c in m.config.axes.items() if c.homing == "switch"])
            await m.wait_until(lambda: m.idle)
        elif command == "M400":
            await m.wait_until(lambda: m.idle)
        elif command == "G4":
            values = dict(items)
            seconds = (values.get("S") or 0.0) + (values.get("P") or 0.0) / 1000.0
            await m.wait_until(lambda: m.idle)
            await m.clock.sleep(seconds)
        elif command == "M114":
            await self.answer(line, "ok C: " + self.position_words(
                self.work_position(m.planned), 4))
            return
        elif command == "M114.2":
            await self.answer(line, "ok MCS: " + self.position_words(m.current_position(), 4))
            return
        elif command == "M907":
            for letter, value in items:
                if letter in m.config.axes and value is not None:
                    m.currents[letter] = value
        elif command in ("M17", "M18", "M84"):
            for axis in axes or list(m.config.axes):
                m.motors_enabled[axis] = command == "M17"
        elif command == "M115":  # GcodeDispatch's answer, comma-separated fields
            await self.send("FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org"
                            ", X-SOURCE_CODE_URL:https://github.com/Smoothieware/Smoothieware"
                            ", FIRMWARE_VERSION:edge-labrun-emulator, PROTOCOL_VERSION:1.0"
                            f", X-AXES:{len(m.config.axes)}, X-GRBL_MODE:{int(self.grbl_mode)}")
        elif command == "M119":
            await self.send(" ".join(f"{a}_min:0" for a in m.config.axes))
            await self.send(self.interlock_line())
        elif command == "M112":
            self._enter_halt()
            await self.answer(line, "ok Emergency Stop Requested - reset or M999 required to "
                                    "exit HALT state")
            return
        elif command in ("G90", "G91"):
            self.absolute = command == "G90"
        else:
            self.offsets.execute(command, items, m.planned)
        await self.answer(line, "ok")
