"""Emulated GRBL 1.1 (as many axes as the robot has, like grblHAL): character counting.

- ``ok`` once a line is parsed and its motion planned (waits for a free planner block);
  ``G4`` answers once the planner is empty; ``$H`` once homing is done. A failed homing
  cycle (the ``home_fails`` fault) prints ``ALARM:8``, ``ok``, then the banner (a reset).
- RX buffer: bytes of unanswered lines are counted; more than 127 is an overflow.
- Realtime: ``?`` status ``<State|MPos:...|FS:...|Pn:D>`` (none while homing: GRBL's
  homing loop runs no realtime commands), ``!`` hold, ``~`` resume,
  0x18 soft reset (``ALARM:3`` if in motion; the welcome banner after it).
- Coordinates: work offsets ``G10 L2/L20``, ``G54``..``G59``, ``G92``; ``G53`` moves in
  machine coordinates. ``$10=1`` (default) reports ``MPos``, ``$10=0`` ``WPos``; either
  way ``WCO:`` comes only in every 10th report (30th while busy) and after a change.
- ``banner``: ``Grbl 1.1h ['$' for help]`` or grblHAL's ``GrblHAL 1.1f ...``.
- Power-up in ``Alarm`` (homing lock): ``$H`` or ``$X``; G-code meanwhile is ``error:9``.
- A hard limit (the ``limit_next`` fault) stops the axes at once: ``ALARM:1`` and
  ``[MSG:Reset to continue]``; no line is read (or answered) until a soft reset, after
  which it is locked in ``Alarm``.
- ``$$`` prints the robot's axes as settings (``$100+`` steps/mm, ``$110+`` max rate,
  ``$120+`` acceleration, ``$130+`` max travel, ``$22`` homing, ``$24``/``$25`` homing
  rates: the fastest axis' speed, as it homes) with any ``$n=v`` received; ``$I`` the
  version and buffers (``[OPT:VH,<blocks>,128]``). Only a ``$25`` received is acted on:
  homing then goes at that rate (each axis at most at its own speed), as GRBL's does.
- Door: opening it holds motion (``Door:2`` -> ``Door:1``); closed it waits in
  ``Door:0`` for ``~`` (or ``cycle_start``, its button at the board); ``Pn:D`` while
  open; ``[MSG:Check Door]`` on each change.
  ``$H`` in a hold or a door hold is ``error:8`` (``$`` commands need Idle or Alarm);
  so are ``$I``, ``$#``, ``$N`` and settings in any state but Idle and Alarm, and ``$$``
  while motion runs or in a hold, as GRBL's are.
- ``single_axis_homing`` (GRBL's ``HOMING_SINGLE_AXIS_COMMANDS``, on by default here, off
  in stock GRBL): ``$HX`` homes one axis, and ``$I`` says ``H`` among its options. Off,
  ``$HX`` is ``error:3`` and, as stock GRBL's does, leaves it in its ``Home`` state,
  where no move starts, until a soft reset (``ALARM:6``).
"""

from __future__ import annotations

import re

from ..faults import Faults, Stats
from ..planner import Machine
from .base import Firmware, Line, command_of, words

RX_BUFFER = 127
BANNER = "Grbl 1.1h ['$' for help]"
GRBLHAL_BANNER = "GrblHAL 1.1f ['$' or '$HELP' for help]"
WCO_EVERY = (10, 30)
"""GRBL's WCO refresh counts: idle, busy."""
_SETTINGS_OK = ("$#", "$G", "$N", "$C")
_STORE = re.compile(r"^\$(\d+)=([-+]?\d+(?:\.\d*)?)$")


class GrblFirmware(Firmware):
    """GRBL 1.1 as seen over its serial port."""

    name = "grbl"
    realtime_bytes = frozenset(b"?!~\x18")
    default_error = "error:20"

    def __init__(self, machine: Machine, faults: Faults, stats: Stats, *,
                 banner: str = BANNER, single_axis_homing: bool = True,
                 **options: float) -> None:
        super().__init__(machine, faults, stats, **options)
        self.banner = banner
        self.single_axis_homing = single_axis_homing
        self.stuck_homing = False
        """Stock GRBL refused a ``$HX``, in its ``Home`` state: nothing moves until a reset."""
        # $22: a homing cycle exists when some axis has a switch; then it locks at power-up.
        self.homing_enabled = any(c.homing == "switch" for c in machine.config.axes.values())
        self.locked = self.homing_enabled
        self.critical = False
        """A hard limit tripped: nothing but a soft reset is acted on."""
        self.door_open = False
        self.door_suspended = False
        self.report_mpos = True  # $10=1
        self.stored: dict[int, float] = {}  # $n=v lines received
        self._wco_countdown = 0

    def settings(self) -> dict[int, float]:
        """What ``$$`` prints: the robot's axes as GRBL settings, with what ``$n=v``
        changed (stored only: the emulator keeps moving as its robot file says)."""
        values: dict[int, float] = {0: 10, 1: 25, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0,
                                    10: 1 if self.report_mpos else 0, 11: 0.010, 12: 0.002,
                                    13: 0, 20: 0, 21: 0, 22: 1 if self.homing_enabled else 0,
                                    23: 0, 24: self.homing_rate, 25: self.homing_rate,
                                    26: 250, 27: 1, 30: 1000, 31: 0, 32: 0}
        for index, axis in enumerate(self.machine.config.axes.values()):
            values[100 + index] = axis.steps_per_mm
            values[110 + index] = axis.max_speed * 60
            values[120 + index] = axis.acceleration
            values[130 + index] = axis.max - axis.min
        return {**values, **self.stored}

    @property
    def homing_rate(self) -> float:
        """The rate at which the emulator homes, in mm/min (``$25``): the fastest axis'
        own speed unless a ``$25`` was received."""
        fastest = max(c.max_speed for c in self.machine.config.axes.values()) * 60.0
        return self.stored.get(25, fastest)

    # -- host protocol ----------------------------------------------------------------

    async def greet(self) -> None:
        await self.send(self.banner)
        if self.locked:
            await self.send("[MSG:'$H'|'$X' to unlock]")
        if self.door_open:
            await self.send("[MSG:Check Door]")

    async def on_line(self, line: Line) -> None:
        self.stats.rx_in_flight += line.size
        self.stats.max_rx_in_flight = max(self.stats.max_rx_in_flight, self.stats.rx_in_flight)
        if self.stats.rx_in_flight > RX_BUFFER:
            self.stats.rx_overflows += 1
        self.enqueue(line)

    def forget(self, line: Line) -> None:
        if not line.answered:
            self.stats.rx_in_flight -= line.size
        super().forget(line)

    async def answer(self, line: Line, text: str) -> None:
        if not line.answered:
            self.stats.rx_in_flight -= line.size
        await super().answer(line, text)

    async def on_realtime(self, byte: int) -> None:
        if byte == ord("?"):
            if not self.machine.homing:  # GRBL's homing loop runs no realtime commands:
                await self.send_status(self.status_report())  # silent until it is done
        elif byte == ord("!"):
            if self.faults.lost_feed_hold_next > 0:
                self.faults.lost_feed_hold_next -= 1
            elif not self.locked and not self.door_suspended:
                self.machine.hold()
        elif byte == ord("~"):
            if self.door_suspended and not self.door_open:
                self.door_suspended = False
                self.machine.resume()
            elif self.machine.holding and not self.door_suspended:
                self.machine.resume()
        elif byte == 0x18:
            if self.faults.lost_reset_next > 0:
                self.faults.lost_reset_next -= 1
            else:
                await self.soft_reset()

    async def cycle_start(self) -> None:
        """The board's cycle start button: as ``~`` (it leaves a hold, or ``Door:0``)."""
        await self.on_realtime(ord("~"))

    @property
    def reports_until_wco(self) -> int:
        """Status reports left before the next one carries ``WCO:`` (0: the next does)."""
        return max(0, self._wco_countdown)

    async def soft_reset(self) -> None:
        self.critical = False
        was_moving = self.machine.stop()
        self.interrupt(discard_queued=True)  # lines in the RX buffer are lost, unanswered
        self.stats.rx_in_flight = 0
        if was_moving or self.stuck_homing:
            self.machine.homed.clear()
            self.locked = self.homing_enabled
            await self.send("ALARM:6" if self.stuck_homing else "ALARM:3")
        self.stuck_homing = False
        self.door_suspended = self.door_open
        if self.door_open:
            self.machine.hold()
        self.feed_mm_per_min = None
        self.absolute = True
        self._wco_countdown = 0
        await self.greet()
        if self.faults.silent_after_reset:
            self.faults.silent = True

    async def trip_limit(self, axis: str, positive: bool) -> None:
        self.machine.stop()
        self.machine.homed.clear()
        self.locked = self.critical = True
        self.interrupt(discard_queued=True)  # lost with the RX buffer at the reset
        await self.send("ALARM:1")
        await self.send("[MSG:Reset to continue]")

    async def on_door(self, open_: bool) -> None:
        self.door_open = open_
        if open_:
            self.door_suspended = True
            self.machine.hold()
        await self.send("[MSG:Check Door]")

    def status_report(self) -> str:
        m = self.machine
        position = m.current_position()
        if self.stuck_homing:
            state = "Home"
        elif self.locked:
            state = "Alarm"
        elif self.door_suspended:
            state = "Door:2" if m.braking else ("Door:1" if self.door_open else "Door:0")
        elif m.holding:
            state = "Hold:1" if m.braking else "Hold:0"
        elif m.homing:
            state = "Home"
        elif m.moving or not m.idle:
            state = "Run"
        else:
            state = "Idle"
        shown = position if self.report_mpos else self.work_position(position)
        values = ",".join(f"{shown[a]:.3f}" for a in m.config.axes)
        free_rx = RX_BUFFER - self.stats.rx_in_flight
        fields = [state, f"{'MPos' if self.report_mpos else 'WPos'}:{values}",
                  f"Bf:{m.free_blocks},{free_rx}", f"FS:{self.feed_mm_per_min or 0:.0f},0"]
        if self.door_open:
            fields.append("Pn:D")
        # grblHAL sends WCO with work positions only when $10 has bit 5 (32).
        no_wco = (self.banner == GRBLHAL_BANNER and not self.report_mpos
                  and not int(self.stored.get(10, 1)) & 32)
        if not no_wco and (self._wco_countdown <= 0 or self.offsets.changed):
            offset = self.offsets.offset()
            fields.append("WCO:" + ",".join(f"{offset[a]:.3f}" for a in m.config.axes))
            self.offsets.changed = False
            self._wco_countdown = WCO_EVERY[0 if state == "Idle" else 1]
        self._wco_countdown -= 1
        return "<" + "|".join(fields) + ">"

    # -- lines ------------------------------------------------------------------------

    async def execute(self, line: Line) -> None:
        text = line.text.strip()
        if self.critical:  # waits for a reset, which discards the line
            self.forget(line)
            return
        if text.startswith("$"):
            await self.system_command(line, text.upper())
            return
        items = words(text)
        if not items:
            await self.answer(line, "ok")  # empty lines are answered too
            return
        injected = self.take_injected_error()
        if injected is not None:
            await self.answer(line, injected)
            return
        if self.locked:
            await self.answer(line, "error:9")
            return
        command = command_of(items)
        if command in ("G0", "G1"):
            target = self.motion_target(items)
            feed = self.feed_of(items)
            if feed is None and command == "G1":
                await self.answer(line, "error:22")
                return
            await self.machine.wait_until(lambda: self.machine.free_blocks > 0)
            self.arm_limit(target)
            self.machine.add_move(target, None if command == "G0" or feed is None else feed / 60)
        elif command == "G4":
            seconds = next((v for k, v in items if k == "P" and v is not None), None)
            if seconds is None:
                await self.answer(line, "error:28")
                return
            await self.machine.wait_until(lambda: self.machine.idle)
            await self.machine.clock.sleep(seconds)
        elif command in ("G90", "G91"):
            self.absolute = command == "G90"
        elif self.offsets.execute(command, items, self.machine.planned):
            pass
        elif command not in ("G21", "G17", "G94", "M3", "M5", "M8", "M9", ""):
            await self.answer(line, "error:20")
            return
        await self.answer(line, "ok")

    async def fail_homing(self, line: Line) -> None:
        """What stock GRBL prints when the cycle fails: the alarm, ``ok``, the banner."""
        self.faults.home_fails -= 1
        self.machine.homed.clear()
        self.locked = True
        await self.send(f"ALARM:{self.faults.home_alarm}")
        await self.answer(line, "ok")
        self._wco_countdown = 0
        await self.greet()

    def refuses_now(self, text: str) -> bool:
        """Whether GRBL refuses the ``$`` command ``text`` in its state (``error:8``):
        ``$$`` in a cycle or a hold; ``$I``, ``$#``, ``$N`` and settings unless Idle or in
        Alarm; ``$H`` in a cycle (in a hold: with the door, below); ``$X``, ``$G``, ``$C``
        and ``$J=`` never."""
        if self.locked or text in ("$X", "$G", "$C") or text.startswith("$J="):
            return False
        running = self.machine.moving or not self.machine.idle
        held = self.machine.holding or self.door_suspended
        if text == "$$":
            return (running or self.machine.holding) and not self.door_suspended
        if text.startswith("$H"):
            return running and not held
        return running or held

    async def system_command(self, line: Line, text: str) -> None:
        if self.refuses_now(text):
            await self.answer(line, "error:8")
            return
        if text == "$X":
            if self.locked:
                self.locked = False
                await self.send("[MSG:Caution: Unlocked]")
            await self.answer(line, "ok")
        elif text.startswith("$H"):
            if self.door_open:
                await self.answer(line, "error:13")
                return
            if not self.homing_enabled:
                await self.answer(line, "error:5")
                return
            if not self.locked and (self.door_suspended or self.machine.holding):
                await self.answer(line, "error:8")  # '$' commands need Idle or Alarm
                return
            letters = text[2:].strip()
            if letters and not self.single_axis_homing:  # sets its state first, then
                self.stuck_homing = True  # finds the command invalid
                self.machine.hold()
                await self.answer(line, "error:3")
                return
            axes = [a for a, c in self.machine.config.axes.items()
                    if (a in letters if letters else c.homing == "switch")]
            if letters and len(axes) != len(letters):
                await self.answer(line, "error:3")
                return
            await self.machine.wait_until(lambda: self.machine.idle)
            if self.faults.home_fails > 0:
                await self.fail_homing(line)
                return
            seek = self.stored.get(25)
            self.machine.add_home(axes, None if seek is None else seek / 60.0)
            await self.machine.wait_until(lambda: self.machine.idle)
            self.locked = False
            await self.answer(line, "ok")
        elif text.startswith("$10="):
            self.report_mpos = bool(int(float(text[4:]) or 0) & 1)
            self.stored[10] = float(text[4:] or 0)
            await self.answer(line, "ok")
        elif text == "$$":
            for number, value in self.settings().items():
                await self.send(f"${number}={value:.3f}" if number >= 100
                                else f"${number}={value:g}")
            await self.answer(line, "ok")
        elif text == "$I":
            await self.send("[VER:1.1h.20190825:labrun emulator]")
            options = "VH" if self.single_axis_homing else "V"
            await self.send(f"[OPT:{options},{self.machine.planner_blocks},{RX_BUFFER + 1}]")
            await self.answer(line, "ok")
        elif (stored := _STORE.match(text)) is not None:
            self.stored[int(stored[1])] = float(stored[2])
            await self.answer(line, "ok")
        elif text == "$#":
            for number in range(1, 7):
                offset = self.offsets.systems[number]
                await self.send(f"[G{53 + number}:" + ",".join(
                    f"{offset[a]:.3f}" for a in self.machine.config.axes) + "]")
            await self.send("[G92:" + ",".join(
                f"{self.offsets.shift[a]:.3f}" for a in self.machine.config.axes) + "]")
            await self.answer(line, "ok")
        elif text.startswith(_SETTINGS_OK) or "=" in text:
            await self.answer(line, "ok")
        else:
            await self.answer(line, "error:3")
