"""The emulated machine: axis positions, a planner queue of moves, holds and stops.

Blocks run back to back on the ``RealClock``, each a trapezoidal profile from rest to
rest (no junction blending), so a move takes exactly what ``hardware.kinematics`` says.
State is advanced lazily by ``update()``; ``ticker()`` wakes at each segment's end so
waiters (planner space, idle) are told promptly. Dialect-independent: the firmware
modules decide what a command means.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping

import anyio
from attrs import define

from ..clock import RealClock
from ..config import RobotConfig
from ..kinematics import plan_move
from .motion import Brake, Profile, Segment


@define
class Block:
    """A queued move (or homing phase) to absolute targets."""

    target: dict[str, float]
    speed: float | None
    homing: bool
    not_before: float


class Machine:
    """Axes, planner and motion timing of one emulated robot."""

    def __init__(self, config: RobotConfig, clock: RealClock, *, planner_blocks: int = 16,
                 start_position: Mapping[str, float] | None = None,
                 home_position: Mapping[str, float] | None = None) -> None:
        self.config = config
        self.home_position = {a: float(c.home) for a, c in config.axes.items()}
        """Where homing leaves each axis (machine coordinates): the configured ``home``
        unless the emulated firmware is told otherwise (GRBL: zero at the switches)."""
        self.home_position.update(home_position or {})
        self.clock = clock
        self.planner_blocks = planner_blocks
        middle = {a: (c.min + c.max) / 2.0 for a, c in config.axes.items()}
        given = {a: float(v) for a, v in (start_position or {}).items()}
        self.position: dict[str, float] = {**middle, **given}
        self.planned: dict[str, float] = dict(self.position)
        self.homed: set[str] = set()
        self.holding = False
        self.stalled = False
        """A jammed axis or a lost step signal: the motion under way goes no further and
        never ends, and the firmware goes on reporting it (``Run``, ``Home``)."""
        self.currents = {a: c.run_current for a, c in config.axes.items()}
        self.motors_enabled = {a: True for a in config.axes}
        self.blocks: deque[Block] = deque()
        self._segment: Segment | None = None
        self._segment_start = 0.0
        self._last_end = 0.0
        self._changed = anyio.Event()

    # -- state ------------------------------------------------------------------------

    def update(self) -> None:
        """Advance the axes to the clock's ``now``."""
        now = self.clock.now()
        finished = False
        while True:
            if self._segment is None:
                if self.holding or not self.blocks:
                    break
                block = self.blocks[0]
                start = {a: self.position[a] for a in block.target}
                self._segment = Profile(plan_move(start, block.target, self.config.axes,
                                                  block.speed))
                self._segment_start = max(self._last_end, block.not_before)
            segment = self._segment
            if self.stalled:
                break
            end = self._segment_start + segment.duration
            if now < end:
                self.position.update(segment.position_at(now - self._segment_start))
                break
            self.position.update(segment.target)
            self._segment = None
            self._last_end = end
            finished = True
            if isinstance(segment, Profile):
                block = self.blocks.popleft()
                if block.homing:
                    self.homed |= set(block.target)
        if finished:
            self.notify()

    @property
    def moving(self) -> bool:
        """True while an axis moves (including a brake in progress)."""
        self.update()
        return self._segment is not None and self.clock.now() >= self._segment_start

    @property
    def braking(self) -> bool:
        self.update()
        return isinstance(self._segment, Brake)

    @property
    def homing(self) -> bool:
        self.update()
        return bool(self.blocks) and self.blocks[0].homing and self._segment is not None

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing moving."""
        self.update()
        return self._segment is None and not self.blocks

    @property
    def free_blocks(self) -> int:
        self.update()
        return self.planner_blocks - len(self.blocks)

    def current_position(self) -> dict[str, float]:
        self.update()
        return dict(self.position)

    @property
    def finished_at(self) -> float:
        """Emulated time at which the last completed segment ended."""
        self.update()
        return self._last_end

    def next_deadline(self) -> float | None:
        """Emulated time at which the running segment ends."""
        if self._segment is None:
            return None
        return self._segment_start + self._segment.duration

    # -- commands ---------------------------------------------------------------------

    def add_move(self, target: Mapping[str, float], speed: float | None) -> None:
        """Queue a move to absolute ``target`` (only the axes named) at ``speed`` mm/s."""
        self.update()
        if not target:
            return
        self.blocks.append(Block(dict(target), speed, False, self.clock.now()))
        self.planned.update(target)
        self.notify()

    def add_home(self, axes: Iterable[str], rate: float | None = None) -> None:
        """Queue homing of ``axes``: the Z axes first, then the others; each axis at
        ``rate`` mm/s (GRBL's ``$25``) if given, at most at its own speed."""
        self.update()
        names = [a for a in self.config.axes if a in set(axes)]
        z_first = [a for a in names if a in self.config.z_axes]
        for group in (z_first, [a for a in names if a not in z_first]):
            if group:
                target = {a: self.home_position[a] for a in group}
                # GRBL scales the rate by the square root of the axes homed together,
                # so that each of them moves at the rate
                speed = None if rate is None else rate * math.sqrt(len(group))
                self.blocks.append(Block(target, speed, True, self.clock.now()))
                self.planned.update(target)
        self.notify()

    def hold(self) -> None:
        """Feed hold: brake the running move; keep the queue for ``resume``."""
        self.update()
        self.holding = True
        segment = self._segment
        if isinstance(segment, Profile):
            elapsed = self.clock.now() - self._segment_start
            if elapsed > 0:
                self._segment = segment.brake(elapsed)
                self._segment_start = self.clock.now()
            else:
                self._segment = None  # had not started yet
        self.notify()

    def resume(self) -> None:
        """Leave a hold: the interrupted block is re-planned from where the axes are."""
        self.update()
        if not self.holding:
            return
        self.holding = False
        now = self.clock.now()
        if self._segment is None:
            self._last_end = max(self._last_end, now)
        for block in self.blocks:
            block.not_before = max(block.not_before, now)
        self.notify()

    def stop(self) -> bool:
        """Stop at once and discard the queue; True if the axes were moving."""
        self.update()
        was_moving = self._segment is not None and self.clock.now() >= self._segment_start
        self._segment = None
        self.blocks.clear()
        self.holding = False
        self._last_end = self.clock.now()
        self.planned = dict(self.position)
        self.notify()
        return was_moving

    # -- waiting ----------------------------------------------------------------------

    def notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (checked after every change)."""
        while True:
            self.update()
            if predicate():
                return
            await self._changed.wait()

    async def ticker(self) -> None:
        """Run forever: wake at every segment's end so waiters see the change."""
        while True:
            self.update()
            event = self._changed
            deadline = self.next_deadline()
            if deadline is None:
                await event.wait()
            else:
                with anyio.move_on_after(self.clock.wall(deadline - self.clock.now()) + 1e-4):
                    await event.wait()
