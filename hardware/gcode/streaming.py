"""Acknowledgement tracking: which sent line each ``ok``/``error`` answers.

Lines are written in submission order and remembered in a FIFO until answered. Flow
control follows the dialect:

- character counting (GRBL): a line goes out only if the bytes of every unanswered line
  plus its own fit in the firmware's RX buffer (128 bytes);
- line window (Marlin, Smoothieware): at most ``max_lines_in_flight`` unanswered lines.

Marlin lines carry ``N<n>`` and a checksum; on ``Resend: n`` every line from ``n`` on is
written again and moved behind anything sent meanwhile, and the ``ok`` that follows the
request is not counted. Out-of-band lines (``M410``) skip the window and the queue but
are still answered in order.

Waiting for an answer times out when no sign of progress has arrived for ``timeout_s``
(plus whatever motion time the line legitimately waits for). Progress is an answer, a
resend request, a position or a status report showing a hold. Busy lines
(``echo:busy: processing``) and status reports of motion (``Run``, ``Home``, ``Jog``) keep
a long command alive, but only up to ``BUSY_FACTOR`` times the line's own allowance: a
firmware stuck reporting ``Run`` (a jammed axis, a lost step signal) fails the line,
naming the state. A hold (``Hold``, ``Door``) waits for a person at the board to resume
it, without limit; once it outlasts the line's allowance a warning says so. Marlin's idle
``wait`` lines, idle status reports and chatter (``echo:``, temperatures) keep nothing
alive, so a lost ``ok`` always times out.
An ``Error:`` before a ``Resend:`` explains the resend, not the line sent again.

An alarm that does not flush (GRBL ``ALARM:1``, Smoothieware's ``ALARM: Hard limit``)
marks the lines in flight: whatever answers them, they fail with it. A status report in
the alarm state fails at once every line sent while the controller was not in alarm (the
alarm's own line may have come just before it was sent; a banner that comes first says
the restart instead); lines sent in the alarm (``$X``, ``$H``, queries) wait for their
answers. After an emergency stop no line is written (``lock_out``) until the robot is
recovered.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
from attrs import define, field

from ..controller import HardwareFault
from .dialects import Dialect
from .errors import CommandUnknown, ControllerAlarm, ControllerError, ControllerTimeout
from .events import Error, Halted, Ok, Resend, UnknownCommand

log = logging.getLogger(__name__)

MAX_RESENDS = 5
HISTORY = 64
BUSY_FACTOR = 3.0
"""Busy lines and status reports of motion keep a line alive at most this many times
``timeout_s`` + its extra time."""


@define(eq=False)
class Pending:
    """One line sent (or about to be) and its answer."""

    text: str
    payload: bytes
    cost: int
    number: int | None
    extra_timeout: float
    in_window: bool = True
    sent_at: float = 0.0
    done: anyio.Event = field(factory=anyio.Event)
    reply: Ok | None = None
    error: HardwareFault | None = None
    error_text: str | None = None
    unknown: str | None = None
    """The firmware said it does not know the line's command (its ``ok`` follows)."""
    alarm: str | None = None
    """An alarm that came while the line was in flight (it fails with it)."""
    sent_in_alarm: bool = False
    """Submitted while the controller was in alarm (answered there: ``$X``, queries)."""
    resends: int = 0
    hold_said: bool = False
    """A warning said that a hold at the board keeps it waiting."""
    stale: bool = False
    """Failed by an alarm before its answer came, and kept in line for that answer, which
    a firmware that answers lines after a halt still sends (Smoothieware): that ``ok``
    is this line's, never a later one's."""

    def finish(self, reply: Ok | None, error: HardwareFault | None) -> None:
        if not self.done.is_set():
            self.reply, self.error = reply, error
            self.done.set()


class Streamer:
    """Sends lines within the dialect's flow control and matches the answers."""

    def __init__(self, dialect: Dialect, write: Callable[[bytes], Awaitable[None]],
                 timeout_s: float,
                 on_fault: Callable[[HardwareFault], None] | None = None,
                 explain: Callable[[Pending], str] | None = None,
                 in_alarm: Callable[[], bool] | None = None,
                 where: str = "the controller") -> None:
        """``explain(entry)``: what else the link saw while ``entry`` waited, appended to
        its timeout (data that was not text, an alarm state); ``in_alarm()``: whether the
        controller is in alarm now; ``where``: the controller, as errors name it."""
        self.dialect = dialect
        self.where = where
        self._on_fault = on_fault
        self._explain = explain
        self._in_alarm = in_alarm or (lambda: False)
        self.timeout_s = timeout_s
        self._write = write
        self._fifo: deque[Pending] = deque()
        self._order = anyio.Lock()
        self._space = anyio.Event()
        self._swallow_ok = 0
        self._next_number = 1
        self._history: dict[int, Pending] = {}
        self._fault: HardwareFault | None = None
        self._locked_out: HardwareFault | None = None
        self.last_rx = time.monotonic()
        self.last_busy = 0.0
        self.working_state = ""
        """The motion state (``Run``, ``Home``) the latest busy sign reported ("": a busy
        line)."""
        self.last_hold = 0.0
        self.hold_state = ""
        self.stray_replies = 0
        self.resent_lines = 0
        self.lines_sent = 0

    # -- state ------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Unanswered lines (not those an alarm failed, still owed an answer)."""
        return sum(1 for p in self._fifo if not p.stale)

    @property
    def in_flight_bytes(self) -> int:
        """Bytes of unanswered lines (what GRBL's RX buffer holds at most)."""
        return sum(p.cost for p in self._fifo) if self.dialect.rx_buffer_bytes else 0

    def touch(self) -> None:
        """The firmware showed progress (an answer, motion): waiting lines are alive."""
        self.last_rx = time.monotonic()

    def busy(self, state: str = "") -> None:
        """The firmware says it is still working on a line (bounded by ``BUSY_FACTOR``):
        a busy line, or a status report of motion in ``state`` (``Run``, ``Home``)."""
        self.last_busy = time.monotonic()
        self.working_state = state

    def held(self, state: str) -> None:
        """A status report says the firmware holds (``Hold``, ``Door``): waiting lines
        wait for it to be resumed, without limit."""
        self.last_rx = self.last_hold = time.monotonic()
        self.hold_state = state

    def reset_numbering(self) -> None:
        """The firmware's line counter was reset (``M110 N0``): the next line is N1."""
        self._next_number = 1
        self._history.clear()

    def motion_stopped(self) -> None:
        """The motion lines in flight waited for was stopped: expect prompt answers."""
        for entry in self._fifo:
            entry.extra_timeout = 0.0

    def expect_extra_ok(self) -> None:
        """Ignore the next ``ok`` (Smoothieware's banner is followed by one)."""
        self._swallow_ok += 1

    # -- sending ----------------------------------------------------------------------

    async def submit(self, text: str, *, extra_timeout: float = 0.0,
                     out_of_band: bool = False, numbered: bool = True) -> Pending:
        """Write ``text`` once flow control allows; return its ``Pending`` answer.

        ``out_of_band`` lines skip the queue and the window; ``numbered=False`` sends a
        Marlin line without ``N``/checksum (``M110``, ``M999``). Cancellation before the
        write leaves nothing behind; after it, the line stays tracked until answered, so
        later answers still match their lines.
        """
        self._raise_fault()
        in_alarm = self._in_alarm()  # now: an alarm while it waits for its turn is news
        if out_of_band:
            entry = self._make(text, numbered=False, extra_timeout=extra_timeout)
            entry.in_window, entry.sent_in_alarm = False, in_alarm
            await self._send(entry)
            return entry
        async with self._order:
            entry = self._make(text, numbered=numbered and self.dialect.numbered_lines,
                               extra_timeout=extra_timeout)
            entry.sent_in_alarm = in_alarm
            capacity = self.dialect.rx_buffer_bytes
            if capacity is not None and entry.cost > capacity:
                raise ControllerError(f"line too long for the {capacity}-byte buffer: {text!r}")
            while not self._fits(entry):
                self._raise_fault()
                space = self._space = anyio.Event()
                await space.wait()
            self._raise_fault()
            if entry.number is not None:
                self._next_number += 1
            await self._send(entry)
            return entry

    async def request(self, text: str, *, extra_timeout: float = 0.0,
                      numbered: bool = True) -> Ok:
        """Submit ``text`` and wait for its answer; raise on an error or a timeout."""
        entry = await self.submit(text, extra_timeout=extra_timeout, numbered=numbered)
        return await self.wait(entry)

    async def wait(self, entry: Pending) -> Ok:
        """Wait for ``entry``'s answer while the firmware stays alive."""
        while not entry.done.is_set():
            allowance = self.timeout_s + entry.extra_timeout
            progress = max(entry.sent_at, self.last_rx)
            deadline = progress + allowance
            busy_limit = progress + BUSY_FACTOR * allowance
            busy = self.last_busy > progress
            if busy:
                deadline = max(deadline, min(self.last_busy + self.timeout_s, busy_limit))
            remaining = deadline - time.monotonic()
            if (not entry.hold_said and self.last_hold > entry.sent_at + allowance
                    and self.last_hold == self.last_rx):
                entry.hold_said = True
                log.warning("the controller reports %s while %r waits: a hold set at the "
                            "board (its feed hold button, a door) keeps the run waiting "
                            "until it is resumed there (cycle start)",
                            self.hold_state, entry.text)
            if remaining <= 0:
                kept_busy = busy and self.last_busy + self.timeout_s > busy_limit
                fault = ControllerTimeout(self._timed_out(entry, kept_busy))
                self.fail_all(fault, poison=True)
                raise fault
            with anyio.move_on_after(remaining):
                await entry.done.wait()
        if entry.error is not None:
            raise entry.error
        assert entry.reply is not None
        return entry.reply

    def _timed_out(self, entry: Pending, kept_busy: bool) -> str:
        """Why ``entry`` timed out: busy for too long, or nothing at all."""
        if kept_busy:
            extra = entry.extra_timeout
            limit = (f"{BUSY_FACTOR:g} times timeout_s" if extra <= 0 else
                     f"{BUSY_FACTOR:g} times {self.timeout_s:g} s timeout_s plus the "
                     f"{extra:.3g} s of motion it waits for")
            waited = f"{time.monotonic() - entry.sent_at:.3g} s"
            if self.working_state:
                said = (f"the controller kept reporting {self.working_state} while "
                        f"{entry.text!r} waited, for {waited} without answering, longer than "
                        f"it may ({limit}): is an axis stuck (jammed, a lost step signal), "
                        "or the firmware's maximum feed rate or acceleration below the robot "
                        "file's?")
            else:
                said = (f"the controller stayed busy with {entry.text!r} for {waited} "
                        f"without answering, longer than it may ({limit}): the motion is much "
                        "slower than planned (is the firmware's maximum feed rate or "
                        "acceleration below the robot file's?)")
        else:
            said = (f"no answer from the controller to {entry.text!r} and no sign of "
                    f"progress for {self.timeout_s:g} s")
        if entry.alarm is not None:
            said += f", after it reported {entry.alarm}"
        return said + (self._explain(entry) if self._explain is not None else "")

    async def drain(self) -> None:
        """Wait until every line sent so far has been answered (errors and alarms ignored)."""
        for entry in list(self._fifo):
            with contextlib.suppress(ControllerError, ControllerAlarm):
                await self.wait(entry)

    def _make(self, text: str, *, numbered: bool, extra_timeout: float) -> Pending:
        number = self._next_number if numbered else None
        payload = self.dialect.frame(text, number)
        cost = len(payload) if self.dialect.rx_buffer_bytes else 1
        return Pending(text=text, payload=payload, cost=cost, number=number,
                       extra_timeout=extra_timeout)

    def _fits(self, entry: Pending) -> bool:
        capacity = self.dialect.rx_buffer_bytes
        if capacity is not None:
            return self.in_flight_bytes + entry.cost <= capacity
        in_window = sum(1 for p in self._fifo if p.in_window and not p.stale)
        return in_window < self.dialect.max_lines_in_flight

    async def _send(self, entry: Pending) -> None:
        # Checked with no await before the write: a line that passes is on the wire
        # before an emergency stop that locks the streamer out after it.
        if self._locked_out is not None:
            raise self._locked_out
        self.lines_sent += 1
        entry.sent_at = time.monotonic()
        self._fifo.append(entry)
        if entry.number is not None:
            self._history[entry.number] = entry
            self._history.pop(entry.number - HISTORY, None)
        try:
            await self._write(entry.payload)
        except HardwareFault as exc:
            self.fail_all(exc, poison=True)
            raise

    # -- answers ----------------------------------------------------------------------

    def on_ok(self, event: Ok) -> None:
        if self._swallow_ok:
            self._swallow_ok -= 1
            return
        entry = self._pop()
        if entry is None:
            return
        if entry.alarm is not None:
            entry.finish(None, _alarm_fault(entry, entry.alarm))
        elif entry.unknown is not None:
            command = entry.text.split()[0] if entry.text.split() else entry.text
            option = self.dialect.missing_option(command)
            entry.finish(None, CommandUnknown(
                f"{self.where} does not know {command}{f' ({option})' if option else ''}: "
                f"it answered {entry.text!r} with {entry.unknown!r}", command))
        elif entry.error_text is not None:
            entry.finish(None, ControllerError(
                f"controller rejected {entry.text!r}: {entry.error_text}"))
        else:
            entry.finish(event, None)

    def on_unknown(self, event: UnknownCommand) -> None:
        """The firmware does not know the oldest line's command; its ``ok`` follows."""
        if self._fifo:
            self._fifo[0].unknown = event.text

    def on_error(self, event: Error | Halted) -> None:
        if isinstance(event, Error) and not event.final:
            if self._fifo:  # Marlin: the ok that follows completes the line
                self._fifo[0].error_text = event.message
            return
        entry = self._pop()
        if entry is not None and entry.alarm is not None:
            entry.finish(None, _alarm_fault(entry, entry.alarm))
        elif entry is not None:
            entry.finish(None, ControllerError(
                f"controller rejected {entry.text!r}: {event.message}"))

    async def on_resend(self, event: Resend) -> None:
        """Write again every line from ``event.line`` on, behind anything sent meanwhile;
        a request for a line already sent again and accepted since is a late twin: ignored.
        A request for any other line already acknowledged fails the link: the firmware
        lost count of what it ran, and nothing sent again could be trusted to run once.

        A resend request answering an unnumbered line (``M999``, which old Marlin and
        OctoPrint's virtual printer follow with ``Resend: 1``) asks for nothing we sent:
        the ``ok`` after it is that line's own, and numbering restarts with ``M110``."""
        if self._fifo and self._fifo[0].number is None and self._fifo[0].in_window:
            return
        if self._locked_out is not None:  # after an emergency stop nothing is sent again
            self.drop_all(self._locked_out)
            return
        self._swallow_ok += 1
        again = [p for p in self._fifo if p.number is not None and p.number >= event.line]
        if not any(p.number == event.line for p in again):  # not a line in flight
            known = self._history.get(event.line)
            if known is None or known.done.is_set():
                if event.line >= self._next_number:
                    return  # nothing sent yet from there on (after M999/M110)
                if known is not None and known.resends:
                    # Sent again and since accepted: the request is a late twin of the
                    # one that had it sent again, answering a line that was in flight
                    # then (Marlin asks for the line it expects after each bad one).
                    return
                # Marlin says the last line it ran is before one it acknowledged: it
                # lost count (a restart whose banner never came) or the link lost an
                # answer. Sending the in-flight lines again is refused for ever, and
                # sending the acknowledged ones again could run a move twice.
                said = f" ({known.text!r})" if known is not None else ""
                self.fail_all(ControllerError(
                    f"controller asked to resend line {event.line}{said}, which it had "
                    "already acknowledged: the firmware lost count of the lines it ran (a "
                    "restart whose banner did not arrive, an answer lost on the line), so "
                    "which of them it ran is unknown, and so is the robot's position; "
                    "reconnect and home it"), poison=True)
                return
            again = [known]
        for entry in again:
            entry.error_text = None  # an Error: before the Resend: explained the resend
            entry.resends += 1
            if entry.resends > MAX_RESENDS:
                self.fail_all(ControllerError(
                    f"line {entry.number} ({entry.text!r}) was refused {MAX_RESENDS} times; "
                    "the link is corrupting data"), poison=True)
                return
            if entry in self._fifo:
                self._fifo.remove(entry)
        for entry in again:
            self.resent_lines += 1
            await self._send(entry)

    def _pop(self) -> Pending | None:
        if not self._fifo:
            self.stray_replies += 1
            return None
        entry = self._fifo.popleft()
        self._space.set()
        return entry

    # -- faults -----------------------------------------------------------------------

    def alarm_raised(self, message: str) -> None:
        """An alarm came (that does not flush by itself): mark every line in flight."""
        for entry in self._fifo:
            entry.alarm = entry.alarm or message

    def fail_alarmed(self, alarm: str | None) -> None:
        """A status report shows the alarm state: the lines sent while there was none will
        not be answered; fail them, naming the alarm (``alarm``, the latest one)."""
        alarmed = [entry for entry in self._fifo
                   if not entry.sent_in_alarm and not entry.stale]
        for entry in alarmed:
            if self.dialect.answers_after_halt:
                entry.stale = True  # its late answer (Smoothieware) is still to come
            else:
                self._fifo.remove(entry)
            entry.finish(None, _alarm_fault(
                entry, entry.alarm or alarm or "its status reports say Alarm"))
        if alarmed:
            self._space.set()

    def unhalted(self) -> None:
        """The firmware says it left its halt (Smoothieware's ``M999``, ``$X``): the next
        answer is that unlock line's. Every line sent before it and not answered yet will
        never be (a ctrl-X flushed the lines it had not read): they are forgotten, so no
        answer is taken for theirs."""
        unlocks = {line.split()[0].upper() for line in self.dialect.unlock_lines()}
        unlocks.add("$X")
        unlock = next((p for p in self._fifo if p.text.split()[:1]
                       and p.text.split()[0].upper() in unlocks), None)
        if unlock is None:
            return
        while self._fifo and self._fifo[0] is not unlock:
            entry = self._fifo.popleft()
            entry.finish(None, _alarm_fault(entry, entry.alarm or "the controller halted"))
        self._space.set()

    def lock_out(self, fault: HardwareFault) -> None:
        """Write no line from now on (after an emergency stop); each raises ``fault``."""
        self._locked_out = fault
        self._space.set()

    def unlock(self) -> None:
        """Lines may be written again (the robot is being recovered)."""
        self._locked_out = None

    def drop_all(self, reason: HardwareFault) -> None:
        """The firmware will never answer what is in flight (reset, kill): forget it."""
        while self._fifo:
            self._fifo.popleft().finish(None, reason)
        self._swallow_ok = 0
        self._space.set()

    def fail_all(self, fault: HardwareFault, *, poison: bool = False) -> None:
        """Fail every unanswered line; with ``poison``, every later one too."""
        if poison and self._fault is None:
            self._fault = fault
            if self._on_fault is not None:
                self._on_fault(fault)
        self.drop_all(fault)

    def clear_fault(self) -> None:
        self._fault = None

    def _raise_fault(self) -> None:
        if self._fault is not None:
            raise self._fault
        if self._locked_out is not None:
            raise self._locked_out


def _alarm_fault(entry: Pending, alarm: str) -> ControllerAlarm:
    return ControllerAlarm(f"controller alarm while {entry.text!r} waited: {alarm}")
