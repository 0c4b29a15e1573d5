"""The live connection: a transport, a reader, a status poller and what they learned.

The reader turns every received line into events (through the dialect) and acts on
them: answers go to the ``Streamer``; status reports, position reports, alarms,
restarts and interlock changes update this object's state and wake whoever waits on
it. Interlock changes are reported to a listener in the event loop. A lost connection
fails every waiter at once with ``ConnectionLost`` and is reported to a fault listener,
so a robot that drops off while nothing is sent (a paused run) is noticed at once.

Received bytes become lines only when they are text: NUL and other bytes that are not
text around a line are dropped (``\x00ok`` is an ``ok``); a line that is still not text,
or a run of bytes with no line end (a wrong baud rate), is counted and named in the
timeouts that follow, never taken for an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from ..controller import HardwareFault
from .dialects import Dialect
from .errors import ConnectionLost, ControllerAlarm, ControllerError, ControllerTimeout
from .events import (
    Alarm,
    Axes,
    Busy,
    EndstopHit,
    Error,
    Event,
    Garbled,
    Halted,
    Info,
    InterlockChange,
    MoveRefused,
    Ok,
    PositionReport,
    Resend,
    Restarted,
    Status,
    Unhalted,
    UnknownCommand,
)
from .service import Service
from .streaming import Streamer
from .transport import Transport

log = logging.getLogger(__name__)

WORKING_STATES = frozenset({"Run", "Home", "Jog"})
"""Status states of motion: they keep a missing answer alive, as busy lines do, up to the
streamer's ``BUSY_FACTOR`` times the line's allowance (a firmware stuck in ``Run`` fails)."""
HOLD_STATES = frozenset({"Hold", "Door"})
"""Status states of a hold waiting for a person: they keep a missing answer alive without
limit (a warning says why once it outlasts the line's allowance). An idle or alarmed
controller that does not answer a line is timed out."""

StatusHook = Callable[[Event], None]


HEARD_LINES = 8
"""How many of the lines a dialect does not know a link keeps (``Link.heard``)."""
MAX_LINE_BYTES = 4096
"""Bytes without a line end beyond this are not a line (a wrong baud rate): dropped."""
_EDGE_NOISE = bytes(b for b in range(256) if not 0x21 <= b <= 0x7E)
"""Stripped from both ends of a received line: whitespace, NUL, other control bytes and
bytes that are not ASCII (one damaged byte next to an ``ok``)."""


def line_text(raw: bytes) -> str | None:
    """The text of one received line without its ends' noise; None if it is not text
    (nothing but noise counts as not text; a blank line is empty text)."""
    stripped = raw.strip(_EDGE_NOISE)
    if not stripped:
        return None if raw.strip() else ""
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in text):
        return None
    return text


class Link:
    """One open connection to a firmware, with its background reader and poller."""

    def __init__(self, dialect: Dialect, transport: Transport, *, timeout_s: float,
                 poll_interval: float, on_event: StatusHook,
                 on_interlock: Callable[[str, bool], None],
                 on_fault: Callable[[HardwareFault], None] | None = None) -> None:
        self.dialect = dialect
        self.transport = transport
        self.timeout_s = timeout_s
        self.poll_interval = poll_interval
        self.streamer = Streamer(dialect, self.write, timeout_s, on_fault=self._fail,
                                 explain=lambda entry: self._context(entry.sent_at),
                                 in_alarm=self.in_alarm,
                                 where=f"the {dialect.name.capitalize()} at "
                                       f"{transport.description}")
        self.status: Status | None = None
        self.status_seq = 0
        self.garbled_reports = 0
        """Status reports that arrived damaged and were ignored (a noisy line)."""
        self.last_garbled = ""
        self.heard: list[str] = []
        """The first lines the dialect did not take for its own (a banner of another
        firmware, when the robot file names the wrong one)."""
        self.work_offset: Axes | None = None
        """The latest ``WCO:`` (GRBL sends it only every so many reports)."""
        self.position: Axes | None = None
        self.position_seq = 0
        self.alarm: str | None = None
        self.alarm_halts = False
        """The latest alarm halted the firmware (Marlin's ``kill()``): ``alarm`` says so."""
        self.alarm_seq = 0
        self.restart_seq = 0
        self.reset_required = False
        """GRBL said ``[MSG:Reset to continue]`` (a hard limit): it reads no line until a
        soft reset."""
        self.endstop_hit: EndstopHit | None = None
        self.endstop_seq = 0
        self.refused: MoveRefused | None = None
        """The latest move the firmware refused after its ``ok`` (``refused_seq`` counts)."""
        self.refused_seq = 0
        self.unreadable = 0
        """Lines (or runs of bytes without a line end) that were not text."""
        self.last_unreadable = b""
        self.last_unreadable_was = ""
        self.unreadable_at = 0.0
        self._cause: str | None = None
        """The latest error or alarm not yet followed by an answer: what a ``kill()``
        that comes next was about."""
        self.interlocks: dict[str, bool] = {}
        self.fault: HardwareFault | None = None
        self.last_line_at = time.monotonic()
        self.keep_alive = False
        """Whether a firmware with no status query may be asked for its position when
        idle (``_heartbeat``): set by the driver once it has set the firmware up (a line
        of the link's own before that would upset a numbered handshake)."""
        self._on_event = on_event
        self._on_interlock = on_interlock
        self._on_fault = on_fault
        self._closing = False
        self._changed = anyio.Event()
        self._poll_now = anyio.Event()
        self._service = Service(f"labrun-gcode-{transport.description}")

    # -- lifetime ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._service.start(self._run)

    async def close(self) -> None:
        self._closing = True  # a fault from here on is ours, not news
        await self._service.stop()
        await self.transport.aclose()
        if self.fault is None:
            self._fail(ConnectionLost(f"disconnected from {self.transport.description}"))

    async def _run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                if self.dialect.status_query is not None:
                    tg.start_soon(self._poll)
                else:
                    tg.start_soon(self._heartbeat)
                await self._read()
                tg.cancel_scope.cancel()
        except Exception as exc:  # a bug here must fail the waiters, not strand them
            log.exception("G-code reader failed")
            self._fail(HardwareFault(f"the G-code reader failed: {exc!r}"))

    # -- writing ----------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Put bytes on the wire now (realtime bytes and framed lines alike)."""
        if self.fault is not None:
            raise self.fault
        try:
            await self.transport.send(data)
        except HardwareFault as exc:
            self._fail(exc)
            raise

    async def fresh_status(self, timeout: float | None = None) -> Status:
        """Ask for a status report and return the first one that arrives after asking."""
        query = self.dialect.status_query
        if query is None:
            raise ControllerError(f"{self.dialect.name} has no realtime status query")
        seq, garbled = self.status_seq, self.garbled_reports
        limit = self.timeout_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        while self.status_seq == seq:
            self._raise_fault()
            await self.write(query)  # GRBL may drop a '?' while busy: ask again
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                damaged = self.garbled_reports - garbled
                why = (f" that reads: {damaged} came damaged, the last {self.last_garbled!r}"
                       if damaged else "")
                raise self._timeout(f"no status report{why} within {limit:g} s"
                                    + self._context(deadline - limit))
            with anyio.move_on_after(min(remaining, 0.05)):  # asked again every 50 ms,
                while self.status_seq == seq:  # not at every line (a damaged report)
                    await self.wait_changed()
                    self._raise_fault()
        assert self.status is not None
        return self.status

    def machine_position(self, status: Status) -> Axes | None:
        """The machine position a status report gives: ``MPos``, or ``WPos`` plus the
        latest ``WCO`` (None while no ``WCO`` has been seen since the last reset)."""
        if status.position is not None:
            return status.position
        if status.work_position is None or self.work_offset is None:
            return None
        offset = self.work_offset
        return {a: v + offset.get(a, 0.0) for a, v in status.work_position.items()}

    async def machine_status(self) -> tuple[Status, Axes]:
        """A fresh status report and the machine position it gives (waiting for a ``WCO``
        when the firmware reports work positions)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            status = await self.fresh_status()
            position = self.machine_position(status)
            if position is not None:
                return status, position
            if status.work_position is None:
                raise ControllerError(f"the status report carried no position: {status}")
            if time.monotonic() > deadline:
                raise ControllerError(
                    f"the controller reports work positions (WPos) and no WCO: work offset "
                    f"came for {self.timeout_s:g} s, so its machine position is unknown; "
                    "make it report MPos ($10 bit 0) or, on grblHAL, WCO ($10 bit 5)")
            await anyio.sleep(self.poll_interval)

    async def settle(self, quiet: float) -> None:
        """Wait until nothing has arrived for ``quiet`` seconds (a start-up banner)."""
        deadline = time.monotonic() + self.timeout_s
        while (remaining := self.last_line_at + quiet - time.monotonic()) > 0:
            self._raise_fault()
            if time.monotonic() > deadline:
                return
            await anyio.sleep(remaining)

    async def wait_for(self, predicate: Callable[[], bool], what: str,
                       timeout: float | None = None) -> None:
        """Wait until ``predicate()`` holds; raise ``ControllerTimeout`` naming ``what``."""
        limit = self.timeout_s if timeout is None else timeout
        started = time.monotonic()
        with anyio.move_on_after(limit):
            while not predicate():
                self._raise_fault()
                await self.wait_changed()
            return
        raise self._timeout(f"timed out after {limit:g} s waiting for {what}"
                            + self._context(started))

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait at most ``timeout`` for ``predicate()``, even on a failed link (its reader
        may still hear the firmware); whether it holds. Raises nothing."""
        with anyio.move_on_after(timeout):
            while not predicate():
                await self.wait_changed()
        return predicate()

    async def wait_changed(self) -> None:
        """Return after the next received line has been handled."""
        await self._changed.wait()

    # -- reading ----------------------------------------------------------------------

    async def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = await self.transport.receive()
            except HardwareFault as exc:
                self._fail(exc)
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE_BYTES:
                self._note_unreadable(buffer, f"{len(buffer)} bytes without a line end")
                buffer = b""
            for raw in lines:
                text = line_text(raw)
                if text is None:
                    self._note_unreadable(raw, "a line that is not text")
                elif text:
                    self.last_line_at = time.monotonic()
                    for event in self.dialect.parse(text):
                        self._note_progress(event)
                        await self._handle(event)
            self._notify()

    def _note_unreadable(self, raw: bytes, what: str) -> None:
        self.unreadable += 1
        self.last_unreadable, self.last_unreadable_was = raw[:40], what
        self.unreadable_at = time.monotonic()
        if str(self.unreadable).strip("0") == "1":  # the 1st, 10th, 100th...
            log.warning("controller: %s (%d so far): %r", what, self.unreadable, raw[:40])

    def _context(self, since: float) -> str:
        """What else came since ``since`` that explains silence: data that was not text,
        an alarm state."""
        said = ""
        if self.unreadable_at > since:
            said += (f"; the controller sent data that is not text (wrong baud rate?): "
                     f"{self.last_unreadable_was}, {self.last_unreadable!r}")
        if self.status is not None and self.status.state == "Alarm":
            said += "; its status reports say Alarm"
        return said

    def _note_progress(self, event: Event) -> None:
        """Tell the streamer what this line says about the firmware working on lines."""
        if isinstance(event, Busy):
            self.streamer.busy()
        elif isinstance(event, Status):
            if event.state in WORKING_STATES:
                self.streamer.busy(event.state)
            elif event.state in HOLD_STATES:
                self.streamer.held(event.state)
        elif not isinstance(event, (Info, Garbled)):  # chatter, Marlin's idle "wait"
            self.streamer.touch()

    async def _handle(self, event: Event) -> None:
        if isinstance(event, Ok):
            self._cause = None
            self.streamer.on_ok(event)
        elif isinstance(event, (Error, Halted)):
            if isinstance(event, Halted) and self.alarm is None:
                # Halted, and nothing heard of it: before labrun connected (its kill
                # button, a halt a former host left), or said in words not known. The
                # halt it is: the line fails with it, and home() sends M999 first.
                await self._handle(Alarm(event.message))
            if isinstance(event, Error):
                self._cause = event.message.removeprefix("Error:").strip()
            self.streamer.on_error(event)
        elif isinstance(event, Unhalted):
            self.streamer.unhalted()
        elif isinstance(event, Resend):
            self._cause = None
            await self.streamer.on_resend(event)
        elif isinstance(event, Status):
            if event.work_offset is not None:
                self.work_offset = event.work_offset
            self.status = event
            self.status_seq += 1
            if event.state != "Alarm":
                self.alarm = None
            else:  # lines sent before the alarm came will not be answered
                self.streamer.fail_alarmed(self.alarm)
            implied = self.dialect.interlocks_of(event)
            for name, active in (implied or {}).items():
                self._set_interlock(name, active)
        elif isinstance(event, PositionReport):
            self.position = event.position
            self.position_seq += 1
        elif isinstance(event, InterlockChange):
            self._set_interlock(event.name, event.active)
        elif isinstance(event, Alarm):
            self.alarm_seq += 1
            self.alarm_halts = event.flushes
            if event.flushes:
                self.alarm = self._halted(event.message)
                self.streamer.drop_all(ControllerAlarm(self.alarm))
            else:
                self.alarm = event.message
                self._cause = event.message.removeprefix("Error:").strip()
                self.streamer.alarm_raised(event.message)
        elif isinstance(event, EndstopHit):
            self.endstop_hit = event
            self.endstop_seq += 1
        elif isinstance(event, MoveRefused):
            self.refused = event
            self.refused_seq += 1
        elif isinstance(event, Restarted):
            self._cause = None
            self.reset_required = False
            self.restart_seq += 1
            self.work_offset = None  # a reset clears G92; the next report says anew
            cause = f" after {self.alarm}" if self.alarm else ""
            self.streamer.drop_all(ControllerError(
                f"controller restarted ({event.banner}){cause}; the line was discarded"))
            self.streamer.reset_numbering()
            if event.extra_ok:
                self.streamer.expect_extra_ok()
        elif isinstance(event, Garbled):
            self.garbled_reports += 1
            self.last_garbled = event.text
            if str(self.garbled_reports).strip("0") == "1":  # the 1st, 10th, 100th...
                log.warning("controller: ignored a damaged status report (%d so far): %s",
                            self.garbled_reports, event.text)
        elif isinstance(event, Info):
            if len(self.heard) < HEARD_LINES:
                self.heard.append(event.text)
            if "Door" in event.text:
                self._poll_now.set()
            if "Reset to continue" in event.text:
                self.reset_required = True
            log.debug("controller: %s", event.text)
        elif isinstance(event, UnknownCommand):
            self.streamer.on_unknown(event)
        elif isinstance(event, Busy):
            pass
        self._on_event(event)

    async def _poll(self) -> None:
        query = self.dialect.status_query
        assert query is not None
        asked_at = time.monotonic()  # the first query nothing has been heard since
        while True:
            try:
                await self.write(query)
            except HardwareFault:
                return
            now = time.monotonic()
            if asked_at < self.last_line_at:
                asked_at = now
            elif (now - asked_at > self.timeout_s and not self.streamer.in_flight
                  and not self._closing):
                # Asked and answered by nothing for the whole timeout, with no line in
                # flight (a line's own timeout allows for what it does: GRBL is silent
                # while it homes): a robot lost while the run waits (paused, in a delay)
                # is known now, not at the next move.
                self._timeout(f"the controller stopped answering: nothing came for "
                              f"{self.timeout_s:g} s, not even to its status query"
                              + self._context(asked_at))
                return
            with anyio.move_on_after(self.poll_interval):
                await self._poll_now.wait()
            self._poll_now = anyio.Event()

    async def _heartbeat(self) -> None:
        """A firmware with no status query is asked for its position whenever nothing
        has been in flight or heard for a quarter of the timeout: one that stops answering
        while the run waits fails the run within one and a half timeouts (the streamer's
        timeout fails the link), not at the next move."""
        line = self.dialect.position_line()
        if line is None:
            return
        while True:
            await anyio.sleep(self.timeout_s / 4)
            if self.fault is not None or self._closing:
                return
            quiet = time.monotonic() - self.last_line_at
            if quiet < self.timeout_s / 4 or self.streamer.in_flight or not self.keep_alive:
                continue
            try:
                await self.streamer.request(line)
            except HardwareFault:
                if self.fault is not None:
                    return  # the link failed (a timeout): the listener knows
                # else an error reply, or a restart that dropped it: ask again later

    # -- state ------------------------------------------------------------------------

    def _set_interlock(self, name: str, active: bool) -> None:
        if self.interlocks.get(name, False) == active:
            self.interlocks.setdefault(name, active)
            return
        self.interlocks[name] = active
        try:
            self._on_interlock(name, active)
        except Exception:  # a listener's bug must not kill the reader
            log.exception("interlock listener failed for %s=%s", name, active)

    def _halted(self, message: str) -> str:
        """A halt (Marlin's ``kill()``) in words, with the error that came before it."""
        what = "kill() called" if "kill()" in message else message.removeprefix("Error:")
        said = f"controller halted ({what.strip()})"
        return f"{said} after: {self._cause}" if self._cause else said

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _fail(self, fault: HardwareFault) -> None:
        if self.fault is None:
            self.fault = fault
            self.streamer.fail_all(fault, poison=True)
            if self._on_fault is not None and not self._closing:
                try:
                    self._on_fault(fault)
                except Exception:  # a listener's bug must not kill the reader
                    log.exception("fault listener failed for %s", fault)
        self._notify()

    def alarm_fault(self) -> ControllerAlarm:
        """The latest alarm as a fault."""
        alarm = self.alarm or "the controller is in alarm"
        return ControllerAlarm(alarm if self.alarm_halts else f"controller alarm: {alarm}")

    def in_alarm(self) -> bool:
        """Whether the controller is in alarm, as far as the link has heard."""
        return self.alarm is not None or (self.status is not None
                                          and self.status.state == "Alarm")

    def _raise_fault(self) -> None:
        if self.fault is not None:
            raise self.fault

    def _timeout(self, message: str) -> ControllerTimeout:
        fault = ControllerTimeout(f"{self.transport.description}: {message}")
        self._fail(fault)  # a controller that stops answering is not trusted again
        return fault
