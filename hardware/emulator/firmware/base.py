"""What every emulated firmware shares: one connection at a time, a line queue handled
in order, realtime bytes acted on as they arrive, output, and the injected faults.

A subclass says what a line and a realtime byte mean (``execute``, ``on_realtime``) and
what the firmware prints when a host connects (``greet``). Lines are executed one after
another, like a firmware's main loop; ``interrupt`` ends the one in progress (a reset
or a halt) and may discard the queue.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from attrs import define

from ..faults import Faults, Stats
from ..links import Link, LinkClosed
from ..planner import Machine

_COMMENT = re.compile(r"\([^)]*\)|;.*$|//.*$")
_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")


@define(eq=False)
class Line:
    """A received line and the bytes it took on the wire (for GRBL's RX accounting)."""

    text: str
    size: int
    answered: bool = False


def words(text: str) -> list[tuple[str, float | None]]:
    """``G1 X10 Y-2.5 F600`` -> [("G", 1.0), ("X", 10.0), ...]; comments removed."""
    code = _COMMENT.sub("", text).upper()
    return [(m[1], float(m[2]) if m[2] is not None else None) for m in _WORD.finditer(code)]


def command_of(items: list[tuple[str, float | None]]) -> str:
    """The command word: ``G1``, ``G28.2``, ``M114``; empty when there is none.

    ``G53`` (machine coordinates for this line) is a modifier, not the command."""
    for letter, value in items:
        if letter in "GM" and value is not None and (letter, value) != ("G", 53.0):
            number = f"{value:g}"
            return letter + number
    return ""


def in_machine_coordinates(items: list[tuple[str, float | None]]) -> bool:
    """Whether the line carries ``G53``."""
    return ("G", 53.0) in items


class WorkOffsets:
    """Work coordinate systems G54..G59 (``G10 L2/L20``) and a ``G92`` shift.

    machine = work + ``offset()``; what GRBL reports as ``WCO``. Marlin's ``G92`` is the
    same shift (its logical frame)."""

    def __init__(self, axes: list[str]) -> None:
        self.axes = axes
        self.systems = {n: dict.fromkeys(axes, 0.0) for n in range(1, 7)}
        self.active = 1
        self.shift = dict.fromkeys(axes, 0.0)
        self.changed = True

    def offset(self) -> dict[str, float]:
        return {a: self.systems[self.active][a] + self.shift[a] for a in self.axes}

    def execute(self, command: str, items: list[tuple[str, float | None]],
                machine: dict[str, float]) -> bool:
        """Carry out a work-offset command; False if ``command`` is not one."""
        values = {k: v for k, v in items if v is not None}
        axes = {a: v for a, v in values.items() if a in self.axes}
        if command in ("G54", "G55", "G56", "G57", "G58", "G59"):
            self.active = int(command[1:]) - 53
        elif command == "G10" and values.get("L") in (2.0, 20.0):
            number = int(values.get("P", 0)) or self.active
            system = self.systems[number]
            for axis, value in axes.items():
                system[axis] = (value if values["L"] == 2.0
                                else machine[axis] - value - self.shift[axis])
        elif command == "G92":
            for axis, value in axes.items():
                self.shift[axis] = machine[axis] - self.systems[self.active][axis] - value
        elif command == "G92.1":
            self.shift = dict.fromkeys(self.axes, 0.0)
        else:
            return False
        self.changed = True
        return True


class Firmware:
    """Base of the emulated GRBL, Marlin and Smoothieware."""

    name = "firmware"
    realtime_bytes: frozenset[int] = frozenset()
    default_error = "error"

    def __init__(self, machine: Machine, faults: Faults, stats: Stats, *,
                 busy_interval: float = 2.0) -> None:
        self.machine = machine
        self.faults = faults
        self.stats = stats
        self.busy_interval = busy_interval
        self.link: Link | None = None
        self.feed_mm_per_min: float | None = None
        self.absolute = True
        self.offsets = WorkOffsets(list(machine.config.axes))
        self._send_queue: MemoryObjectSendStream[Line] | None = None
        self._receive_queue: MemoryObjectReceiveStream[Line] | None = None
        self._epoch: anyio.CancelScope | None = None
        self._current: Line | None = None
        self._tasks: anyio.abc.TaskGroup | None = None
        """The connection's task group, for a firmware's own background chatter."""

    # -- to override ------------------------------------------------------------------

    async def greet(self) -> None:
        """What the firmware prints when a host connects."""

    async def on_realtime(self, byte: int) -> None:
        """A realtime byte arrived (never queued)."""

    async def on_line(self, line: Line) -> None:
        """A complete line arrived; by default it is queued for ``execute``."""
        self.enqueue(line)

    async def execute(self, line: Line) -> None:
        """Carry out one line and answer it."""
        raise NotImplementedError

    async def on_door(self, open_: bool) -> None:
        """The door input changed."""

    async def trip_limit(self, axis: str, positive: bool) -> None:
        """A limit switch of ``axis`` tripped while it moved (``positive``: towards +)."""

    # -- connection -------------------------------------------------------------------

    async def serve(self, link: Link, *,
                    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                    ) -> None:
        """Talk to one host until it goes away (a new host replaces the previous one).

        ``task_status.started()`` comes once the greeting is out.
        """
        if self.link is not None:
            await self.link.aclose()
        self.link = link
        self.stats.connections += 1
        self._new_queue()
        try:
            async with anyio.create_task_group() as tg:
                self._tasks = tg
                tg.start_soon(self._process_forever)
                await self.greet()
                task_status.started()
                await self._receive(link)
                tg.cancel_scope.cancel()
        finally:
            if self.link is link:
                self.link = None
            await link.aclose()

    async def drop(self) -> None:
        """Fault: close the connection now."""
        if self.link is not None:
            await self.link.aclose()

    async def _receive(self, link: Link) -> None:
        pending = bytearray()
        while True:
            try:
                data = await link.receive()
            except LinkClosed:
                return
            for byte in data:
                if byte in self.realtime_bytes:
                    self.stats.note_realtime(bytes([byte]))
                    await self.on_realtime(byte)
                elif byte in (0x0A, 0x0D):
                    text = pending.decode("ascii", "replace")
                    line = Line(text, len(pending) + 1)
                    pending.clear()
                    self.stats.note_line(text)
                    await self.on_line(line)
                else:
                    pending.append(byte)

    # -- the line queue ---------------------------------------------------------------

    def enqueue(self, line: Line) -> None:
        assert self._send_queue is not None
        self._send_queue.send_nowait(line)

    def _new_queue(self) -> None:
        send, receive = anyio.create_memory_object_stream[Line](math.inf)
        self._send_queue, self._receive_queue = send, receive

    async def _process_forever(self) -> None:
        while True:
            with anyio.CancelScope() as scope:
                self._epoch = scope
                assert self._receive_queue is not None
                async for line in self._receive_queue:
                    self._current = line
                    if self.faults.ack_delay > 0:
                        await anyio.sleep(self.faults.ack_delay)
                    await self.execute(line)
                    self._current = None
            self._current = None

    def interrupt(self, *, discard_queued: bool) -> Line | None:
        """End the line in progress now (reset, halt, kill); maybe drop the queue.

        Returns the interrupted line if it was still unanswered, claimed: the normal
        answer the line's handler may still be about to give is suppressed, and the
        caller sends whatever the firmware says instead (``!!``) with ``send``.
        Synchronous, so nothing slips out between the event and the interruption.
        """
        current, self._current = self._current, None
        if self._epoch is not None:
            self._epoch.cancel()
        if discard_queued and self._receive_queue is not None:
            with contextlib.suppress(anyio.WouldBlock):
                while True:
                    self.forget(self._receive_queue.receive_nowait())
        if current is None or current.answered:
            return None
        self.forget(current)
        return current

    def forget(self, line: Line) -> None:
        """A line that will never be answered (discarded by a reset)."""
        line.answered = True

    # -- output -----------------------------------------------------------------------

    async def send(self, text: str) -> None:
        """Print one line to the host (nothing while the ``silent`` fault is on)."""
        if self.faults.silent or self.link is None:
            return
        with contextlib.suppress(LinkClosed):
            await self.link.send((text + "\n").encode("ascii"))

    async def send_status(self, report: str) -> None:
        """Print a status report, damaged while the ``garble_status_next`` fault is on."""
        if self.faults.garble_status_next > 0:
            self.faults.garble_status_next -= 1
            report = garble(report, self.stats.status_garbled)
            self.stats.status_garbled += 1
        await self.send(report)

    async def answer(self, line: Line, text: str) -> None:
        """The final answer to ``line`` (``ok``, ``error:N``, ``!!``)."""
        if line.answered:
            return
        line.answered = True
        if text == "ok" and self.faults.drop_ok_next > 0:
            self.faults.drop_ok_next -= 1  # the fault: carried out, never acknowledged
            return
        with anyio.CancelScope(shield=True):  # once decided, an answer goes out
            if text == "ok" and self.faults.noisy_ok_next > 0:
                self.faults.noisy_ok_next -= 1
                self.stats.noisy_oks += 1
                await self.send_bytes(b"\x00ok\n" if self.stats.noisy_oks % 2 else b"ok\xff\n")
                return
            await self.send(text)

    async def send_bytes(self, data: bytes) -> None:
        """Put raw bytes on the wire (nothing while the ``silent`` fault is on)."""
        if self.faults.silent or self.link is None:
            return
        with contextlib.suppress(LinkClosed):
            await self.link.send(data)

    def take_injected_error(self) -> str | None:
        """The injected error for this line, if the ``error_next`` fault is armed."""
        if self.faults.error_next <= 0:
            return None
        self.faults.error_next -= 1
        self.stats.errors_injected += 1
        return self.faults.error_message or self.default_error

    async def wait_busy(self, predicate: Callable[[], bool], busy: str | None = None) -> None:
        """Wait for ``predicate``; print ``busy`` every ``busy_interval`` meanwhile."""
        while True:
            with anyio.move_on_after(self.busy_interval if busy else math.inf):
                await self.machine.wait_until(predicate)
                return
            assert busy is not None
            await self.send(busy)

    # -- limit switches ---------------------------------------------------------------

    def arm_limit(self, target: dict[str, float]) -> None:
        """The ``limit_next`` fault: the move to ``target`` (about to be queued) trips a
        limit switch of its first moving axis half-way."""
        if self.faults.limit_next <= 0 or self._tasks is None:
            return
        planned = self.machine.planned
        axis = next((a for a, v in target.items() if v != planned[a]), None)
        if axis is None:
            return
        self.faults.limit_next -= 1
        self._tasks.start_soon(self._trip_halfway, axis, target[axis] > planned[axis])

    async def _trip_halfway(self, axis: str, positive: bool) -> None:
        machine = self.machine
        await machine.wait_until(lambda: machine.moving)
        end = machine.next_deadline()
        if end is not None:
            await machine.clock.sleep((end - machine.clock.now()) / 2)
        self.stats.limits_tripped += 1
        await self.trip_limit(axis, positive)

    # -- motion words -----------------------------------------------------------------

    def motion_target(self, items: list[tuple[str, float | None]]) -> dict[str, float]:
        """Machine targets of a G0/G1 from its axis words (G90/G91, G53 and offsets aware)."""
        target: dict[str, float] = {}
        offset = (dict.fromkeys(self.offsets.axes, 0.0) if in_machine_coordinates(items)
                  else self.offsets.offset())
        for letter, value in items:
            if letter in self.machine.config.axes and value is not None:
                base = offset[letter] if self.absolute else self.machine.planned[letter]
                target[letter] = base + value
        return target

    def work_position(self, position: dict[str, float]) -> dict[str, float]:
        """``position`` (machine) in the active work coordinates."""
        offset = self.offsets.offset()
        return {a: v - offset[a] for a, v in position.items()}

    def feed_of(self, items: list[tuple[str, float | None]]) -> float | None:
        for letter, value in items:
            if letter == "F" and value is not None and value > 0:
                self.feed_mm_per_min = value
        return self.feed_mm_per_min

    def position_words(self, position: dict[str, float], decimals: int) -> str:
        return " ".join(f"{a}:{position[a]:.{decimals}f}" for a in self.machine.config.axes)


def garble(report: str, kind: int) -> str:
    """``report`` damaged in one of three ways, by ``kind``, as grbl-sim's output was seen
    damaged: ``<Run6MPos:...``, ``MPos:-85.620,-1590928,...``, ``<Run|M8os:...``."""
    match kind % 3:
        case 0:
            return report.replace("|", "6", 1)
        case 1:
            start = report.index("Pos:")
            second = report.find(",", start) + 1 or start  # one axis: its only number
            point = report.index(".", second)
            return report[:point] + report[point + 1:]
        case _:
            return report.replace("Pos:", "8os:", 1)
