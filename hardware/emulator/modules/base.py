"""What the emulated module firmwares share: a pseudo-terminal, lines handled in order,
the two answer formats, and motions that head for a goal at a physical rate.

A twin's ``execute(line)`` returns the answer's data (or raises ``Refused`` with the
firmware's error text); ``serve`` frames it as the firmware family does: data lines
then ``ok``/``ok`` (Arduino modules), or one line ending `` OK`` / ``ERRnnn:... OK``
(STM32 modules). Time is the emulator's clock (real time, optionally sped up).
"""

from __future__ import annotations

import contextlib
import logging
import re

import anyio

from ...clock import RealClock
from ..links import Link, LinkClosed

log = logging.getLogger(__name__)

_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")


class Refused(Exception):
    """The firmware refuses a line; the message is its own error text (``ERR126:...``)."""


def code_of(line: str) -> str:
    """The command code: ``M104``, ``G28.2``, ``M114.2`` (the first word)."""
    return line.split(maxsplit=1)[0].upper() if line.split() else ""


def argument(line: str, letter: str) -> float | None:
    """The number after ``letter`` in the line's arguments (after its code)."""
    rest = line.split(maxsplit=1)[1] if len(line.split(maxsplit=1)) > 1 else ""
    for key, value in _WORD.findall(rest.upper()):
        if key == letter:
            return float(value)
    return None


class Motion:
    """A magnet height or a shaker speed heading for a goal at a constant rate (units/s)
    on the emulator's clock (temperatures are ``physics.Track``s)."""

    def __init__(self, clock: RealClock, value: float, rate: float) -> None:
        self.clock = clock
        self.rate = rate
        self._start_value = value
        self._start_time = clock.now()
        self.goal = value

    def value(self) -> float:
        elapsed = self.clock.now() - self._start_time
        if self.goal >= self._start_value:
            return min(self.goal, self._start_value + self.rate * elapsed)
        return max(self.goal, self._start_value - self.rate * elapsed)

    def head_for(self, goal: float) -> float:
        """Set a new goal from where the quantity is now; seconds until it arrives."""
        self._start_value = self.value()
        self._start_time = self.clock.now()
        self.goal = goal
        return self.time_left()

    def time_left(self) -> float:
        now = self.value()
        return abs(self.goal - now) / self.rate


class ModuleFirmware:
    """Base of the emulated temperature, magnetic, thermocycler and heater-shaker firmware."""

    family = "stm32"
    model = "module"
    """The model its ``M115`` answer names, where it names one (``mag_deck_v20``)."""

    def __init__(self, clock: RealClock, model: str | None = None) -> None:
        self.clock = clock
        if model is not None:
            self.model = model
        self.received: list[str] = []
        """Every command line received, in order (the wire traffic tests assert on)."""
        self.link: Link | None = None
        self.ignore_lines = 0
        """Fault: the next so many lines get no answer (a board still booting)."""
        self._dropped = anyio.Event()

    async def execute(self, line: str) -> str:
        """Carry out one line; its answer's data. Raise ``Refused`` to refuse it."""
        raise NotImplementedError

    def info(self) -> str:
        """The answer to ``M115``."""
        raise NotImplementedError

    async def serve(self, link: Link, *, task_status: anyio.abc.TaskStatus[None]
                    = anyio.TASK_STATUS_IGNORED) -> None:
        """Answer the host on ``link`` until it closes or ``drop`` is called."""
        self.link = link
        self._dropped = anyio.Event()
        task_status.started()
        async with anyio.create_task_group() as tg:
            async def watch() -> None:
                await self._dropped.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            with contextlib.suppress(LinkClosed):
                await self._serve_lines(link)
            tg.cancel_scope.cancel()
        with contextlib.suppress(LinkClosed):
            await link.aclose()

    async def _serve_lines(self, link: Link) -> None:
        buffer = b""
        while True:
            buffer += await link.receive()
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("ascii", "replace").strip()
                if line:
                    self.received.append(line)
                    if self.ignore_lines > 0:
                        self.ignore_lines -= 1
                        continue
                    await link.send(await self._answer(line))
                elif self.family == "arduino":
                    pass  # the second half of the Arduino "\r\n\r\n" terminator

    async def _answer(self, line: str) -> bytes:
        try:
            data = self.info() if code_of(line) == "M115" else await self.execute(line)
        except Refused as exc:
            text = str(exc)
            return (f"{text}\r\nok\r\nok\r\n" if self.family == "arduino"
                    else f"{text} OK\n").encode("ascii")
        if self.family == "arduino":
            return (f"{data}\r\n" if data else "").encode("ascii") + b"ok\r\nok\r\n"
        return f"{code_of(line)}{' ' + data if data else ''} OK\n".encode("ascii")

    async def report_async_error(self, text: str) -> None:
        """An error the firmware meets on its own (``async ERRnnn:...``)."""
        if self.link is not None:
            await self.link.send(f"async {text} OK\n".encode("ascii"))

    def drop(self) -> None:
        """Fault: close the host's connection now (a cable pulled)."""
        self._dropped.set()

    async def travel(self, seconds: float) -> None:
        """Take ``seconds`` of the emulator's clock (a move before its answer)."""
        await self.clock.sleep(seconds)


def unknown(line: str) -> Refused:
    """The STM32 firmwares' answer to a code they do not know."""
    return Refused("ERR003:unhandled gcode")
