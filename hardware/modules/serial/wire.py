"""The wire to one Opentrons module: a line out, its (possibly multi-line) answer back.

Two firmware families answer differently (see this folder's README):

- ``arduino`` (temperature module GEN1/GEN2, magnetic module GEN1/GEN2): a command ends
  with ``\\r\\n\\r\\n``; the answer is any data lines, then ``ok`` twice. The firmware has
  no error replies; a line naming an error or an alarm is treated as one.
- ``stm32`` (thermocycler GEN2, heater-shaker): a command ends with ``\\n``; the answer is
  one line that echoes the command's code and ends with `` OK``, or
  ``ERRnnn:<cause> OK``. A line starting ``async`` reports an error the firmware met on
  its own; it fails the next request.

The transport and the reader are the motion controller's own (``Transport``, ``Link``);
the module dialect hands every line to this wire as ``Info``, which assembles answers.
One request at a time; a request runs to its answer even when its caller is cancelled,
so a late answer is never taken for the next command's. No answer within the timeout,
or a lost connection, is a fault that poisons the wire.

What the wire meets while nothing is asked of it goes to ``on_fault`` at once, as the
motion controller's reader reports its own: a lost connection, and an ``async`` error.
Once ``keep_alive`` is set, a wire quiet for a quarter of its timeout asks the module
something, so that one that stops answering while the run waits fails within one and a
half timeouts, not at its next command: its ``keep_alive_query`` (the module reads its
state: a plate heating while nothing is asked of it is seen as it heats), or ``M115``
(every firmware answers it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

from ...controller import FaultListener, HardwareFault
from ...gcode.dialects.base import Dialect
from ...gcode.errors import ControllerError
from ...gcode.events import Event, Info
from ...gcode.link import Link
from ...gcode.service import Service
from ...gcode.transport import open_transport

Family = Literal["arduino", "stm32"]

log = logging.getLogger(__name__)

TERMINATORS: dict[Family, str] = {"arduino": "\r\n\r\n", "stm32": "\n"}
KEEP_ALIVE_LINE = "M115"
"""What a quiet wire asks the module: every module firmware answers it, and it changes
nothing."""


class FirmwareError(ControllerError):
    """The module's firmware refused a command or reported an error of its own."""


class ModuleDialect(Dialect):
    """Framing only: module answers span lines, so ``ModuleWire`` reads them whole."""

    name = "opentrons-module"
    max_lines_in_flight = 1

    def __init__(self, family: Family) -> None:
        self.family = family
        self.terminator = TERMINATORS[family]

    def frame(self, text: str, number: int | None = None) -> bytes:
        return (text + self.terminator).encode("ascii")

    def parse(self, line: str) -> list[Event]:
        return [Info(line)]


class ModuleWire:
    """Requests and answers over one module's serial port (or a pyserial URL)."""

    def __init__(self, family: Family, port: str, *, baudrate: int = 115200,
                 timeout_s: float = 10.0, on_fault: FaultListener | None = None) -> None:
        self.family = family
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.dialect = ModuleDialect(family)
        self.async_error: str | None = None
        self.sent: list[str] = []
        """Every command written, in order (what went out on the wire)."""
        self.on_fault = on_fault
        """Told (in the wire's loop) of a lost connection, a timeout and an ``async``
        error, whether or not a request is waiting."""
        self.keep_alive = False
        """Ask a quiet module something (set once it has answered as the module it is)."""
        self.keep_alive_query: Callable[[], Awaitable[None]] | None = None
        """What a quiet wire asks instead of ``M115``: its module's reading of its state."""
        self._link: Link | None = None
        self._keeper: Service | None = None
        self._lock = anyio.Lock()
        self._lines: list[str] = []
        self._oks = 0
        self._waiting = False
        self._last_traffic = time.monotonic()

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.fault is None

    async def open(self) -> None:
        transport = await open_transport(self.port, baudrate=self.baudrate,
                                         timeout=self.timeout_s)
        self._link = Link(self.dialect, transport, timeout_s=self.timeout_s,
                          poll_interval=1.0, on_event=self._on_line,
                          on_interlock=lambda name, active: None, on_fault=self._report)
        await self._link.start()
        self._keeper = Service(f"labrun-module-keep-alive-{self.port}")
        await self._keeper.start(self._keep_alive)

    async def close(self) -> None:
        if self._link is not None:  # first: a keep-alive request then fails at once
            link, self._link = self._link, None
            await link.close()
        if self._keeper is not None:
            keeper, self._keeper = self._keeper, None
            await keeper.stop()

    async def request(self, command: str, *, timeout: float | None = None) -> str:
        """Send ``command``; its answer without the acknowledgement (data lines joined by
        newlines). Raises ``FirmwareError`` for an error answer, ``ControllerTimeout``
        or ``ConnectionLost`` when the module does not answer."""
        link = self._link
        if link is None:
            raise ControllerError(f"{self.port}: the module is not connected")
        async with self._lock:
            if self.async_error is not None:
                error, self.async_error = self.async_error, None
                raise FirmwareError(f"{self.port}: the module reported {error!r}")
            with anyio.CancelScope(shield=True):
                self._lines, self._oks, self._waiting = [], 0, True
                try:
                    self.sent.append(command)
                    self._last_traffic = time.monotonic()
                    await link.write(self.dialect.frame(command))
                    await link.wait_for(self._answered, f"the answer to {command!r}",
                                        timeout)
                finally:
                    self._waiting = False
            return self._answer(command)

    def _answered(self) -> bool:
        if self.family == "arduino":
            return self._oks >= 2
        return bool(self._lines) and (self._lines[-1].endswith("OK")
                                      or self._lines[-1].startswith("ERR"))

    def _answer(self, command: str) -> str:
        lines = [line.removesuffix("OK").strip() for line in self._lines]
        for line in lines:
            lowered = line.lower()
            if line.startswith("ERR") or "error" in lowered or "alarm" in lowered:
                raise FirmwareError(f"{self.port}: the module refused {command!r}: {line}")
        return "\n".join(line for line in lines if line)

    async def _keep_alive(self) -> None:
        """Ask a quiet module its state (or ``M115``) while ``keep_alive`` (see the module
        docstring)."""
        quiet = self.timeout_s / 4
        while True:
            await anyio.sleep(quiet)
            link = self._link
            if link is None or link.fault is not None:
                return  # failed: the listener knows
            if (not self.keep_alive or self._lock.locked() or self.async_error is not None
                    or time.monotonic() - self._last_traffic < quiet):
                continue
            query = self.keep_alive_query
            try:
                if query is None:
                    await self.request(KEEP_ALIVE_LINE)
                else:
                    await query()
            except HardwareFault:
                if link.fault is not None:
                    return
            except Exception:  # an answer it could not read: the next command says so
                log.warning("reading the module on %s while quiet failed", self.port,
                            exc_info=True)

    def _report(self, fault: HardwareFault) -> None:
        if self.on_fault is not None:
            try:
                self.on_fault(fault)
            except Exception:  # a listener's bug must not kill the reader
                log.exception("module fault listener failed for %s", fault)

    def _on_line(self, event: Event) -> None:
        if not isinstance(event, Info):
            return
        self._last_traffic = time.monotonic()
        text = event.text
        if text.lower().startswith("async"):
            self.async_error = text.removesuffix("OK").strip()
            self._report(FirmwareError(f"{self.port}: the module reported "
                                       f"{self.async_error!r}"))
            return
        if not self._waiting:
            return  # chatter between requests (a start-up banner, a warning)
        if self.family == "arduino" and text == "ok":
            self._oks += 1
        else:
            self._lines.append(text)


def fields(answer: str) -> dict[str, str]:
    """``M105 T:37.00 C:25.10 H:none`` -> {"T": "37.00", "C": "25.10", "H": "none"}."""
    result: dict[str, str] = {}
    for word in answer.split():
        key, sep, value = word.partition(":")
        if sep:
            result[key] = value
    return result


def number(answer: str, key: str) -> float | None:
    """The number under ``key`` in an answer, None when it says ``none``; raises
    ``FirmwareError`` when the key is missing or not a number."""
    value = fields(answer).get(key)
    if value is None:
        raise FirmwareError(f"the module's answer {answer!r} has no {key}:")
    if value.lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise FirmwareError(f"the module's answer {answer!r} has no number for {key}:") \
            from None
