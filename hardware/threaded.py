"""A controller whose I/O lives in its own event loop, used from another loop.

A run's engine has its own event loop, in its own thread, which ends with the run. A
real controller's connection (its reader, its poller, its socket) must outlive that:
it is opened before the run (connect, home) and closed after it, and anyio objects
belong to one loop. ``ThreadedController`` wraps a controller that runs in a
``BlockingPortal``'s loop (the "hardware thread") and offers the same
``MotionController`` interface to any other loop:

- every call runs as a task in the hardware loop; the caller awaits its outcome
  without blocking its own loop;
- cancelling the caller cancels that task, and the caller waits (shielded) until the
  controller has finished stopping, so the position read afterwards is where the
  axes really stopped, exactly as with the controller itself;
- interlock changes reach the listener in the loop that registered it, in order with
  the calls' outcomes (one first-in first-out queue into that loop): a move refused
  because the door has just opened is answered after the door's notice, so the engine
  has already turned it into a pause instead of failing the run on it.

Both hops, there and back, are fire-and-forget wake-ups of the other loop (tens of
µs), so a feed hold still goes out within a fraction of a millisecond of the pause.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.from_thread import BlockingPortal

from .controller import (
    BoardListener,
    FaultListener,
    HardwareFault,
    InterlockListener,
    JobPhase,
    MotionController,
    Position,
)
from .devices import Device
from .wakeup import loop_waker

T = TypeVar("T")
P = ParamSpec("P")


class _Job:
    """One call running in the hardware loop."""

    __slots__ = ("cancelled", "scope")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Hardware loop only."""
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


class ThreadedController:
    """``inner``, running in ``portal``'s loop, as a ``MotionController`` for other loops.

    Create it outside that loop; ``close()`` (or the portal ending) ends its service.
    """

    def __init__(self, inner: MotionController, portal: BlockingPortal) -> None:
        self.inner = inner
        self.portal = portal
        self._listener: InterlockListener | None = None
        self._service, (self._spawn, self._hw_schedule) = portal.start_task(
            self._host, name="labrun-controller")

    async def _host(self, *, task_status: anyio.abc.TaskStatus[
            tuple[Callable[[Callable[[], Coroutine[Any, Any, None]]], object],
                  Callable[[Callable[[], object]], object]]]) -> None:
        async with anyio.create_task_group() as tg:
            task_status.started((tg.start_soon, loop_waker()))
            await anyio.sleep_forever()

    def close(self) -> None:
        """Stop the service task (calls in progress are cancelled); any thread but the
        hardware loop's."""
        self._service.cancel()

    # -- properties (plain reads of the inner controller's state) ---------------------

    @property
    def supports_currents(self) -> bool:
        return self.inner.supports_currents

    @property
    def requires_homing(self) -> bool:
        return self.inner.requires_homing

    @property
    def coordinates(self) -> str:
        return self.inner.coordinates

    @property
    def moves_during_interlock(self) -> bool:
        moves: bool = self.inner.moves_during_interlock
        return moves

    def active_interlocks(self) -> frozenset[str]:
        return self.inner.active_interlocks()

    def set_interlock_listener(self, listener: InterlockListener | None) -> None:
        """Called in the listener's loop; changes are handed to that loop."""
        self._listener = listener
        if listener is None:
            self.inner.set_interlock_listener(None)
            return
        self.inner.set_interlock_listener(_in_this_loop(listener))

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """Called in the listener's loop; faults are handed to that loop."""
        if listener is None:
            self.inner.set_fault_listener(None)
            return
        self.inner.set_fault_listener(_in_this_loop(listener))

    def set_board_listener(self, listener: BoardListener | None) -> None:
        """Called in the listener's loop; what the board asks for is handed to that loop."""
        if listener is None:
            self.inner.set_board_listener(None)
            return
        self.inner.set_board_listener(_in_this_loop(listener))

    # -- calls ------------------------------------------------------------------------

    async def connect(self) -> None:
        await self._call(self.inner.connect)

    async def disconnect(self) -> None:
        await self._call(self.inner.disconnect)

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        return await self._call(self.inner.home, axes)

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        await self._call(self.inner.move, target, speed)

    async def stop_motion(self) -> Position:
        return await self._call(self.inner.stop_motion)

    async def emergency_stop(self) -> None:
        await self._call(self.inner.emergency_stop)

    async def read_position(self) -> Position:
        return await self._call(self.inner.read_position)

    async def set_currents(self, currents: Mapping[str, float]) -> None:
        await self._call(self.inner.set_currents, currents)

    async def wait_until_idle(self) -> None:
        await self._call(self.inner.wait_until_idle)

    async def mark_job(self, phase: JobPhase) -> None:
        await self._call(self.inner.mark_job, phase)

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` in the hardware loop (a module's call: its connection lives
        there too); cancellation reaches it there."""
        return await self._call(fn, *args)

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` in the hardware loop; cancellation reaches it there."""
        schedule = loop_waker()
        done = anyio.Event()
        outcome: list[tuple[bool, Any]] = []
        handle = _Job()

        async def job() -> None:
            try:
                with anyio.CancelScope() as handle.scope:
                    if handle.cancelled:
                        handle.scope.cancel()
                    try:
                        outcome.append((True, await fn(*args)))
                    except Exception as exc:
                        outcome.append((False, exc))
            finally:
                with contextlib.suppress(RuntimeError):  # the caller's loop has ended
                    schedule(done.set)

        try:
            self._hw_schedule(lambda: self._spawn(job))
        except RuntimeError as exc:
            raise HardwareFault(f"the controller's thread has stopped: {exc}") from None
        try:
            await done.wait()
        except anyio.get_cancelled_exc_class():
            with contextlib.suppress(RuntimeError):  # unless the hardware loop has ended:
                self._hw_schedule(handle.cancel)
                with anyio.CancelScope(shield=True):
                    await done.wait()  # the controller has stopped the axes
            raise
        if not outcome:
            raise HardwareFault(f"{getattr(fn, '__name__', 'the call')} was cancelled in the "
                                "controller's thread")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"ThreadedController({self.inner!r})"


class ThreadedDevice:
    """A module (``Device``) whose connection lives in the hardware loop, for other loops:
    every call hops there through ``hop`` (the robot's ``ThreadedController``)."""

    def __init__(self, inner: Device, hop: ThreadedController) -> None:
        self.inner = inner
        self._hop = hop

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def kind(self) -> str:
        return self.inner.kind

    async def connect(self) -> None:
        await self._hop.run(self.inner.connect)

    async def disconnect(self) -> None:
        await self._hop.run(self.inner.disconnect)

    async def call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._hop.run(self.inner.call, method, params)

    async def park(self) -> Mapping[str, Any]:
        return await self._hop.run(self.inner.park)

    async def unpark(self) -> None:
        await self._hop.run(self.inner.unpark)

    async def deactivate(self) -> None:
        await self._hop.run(self.inner.deactivate)

    async def stop_moving(self) -> Mapping[str, Any]:
        return await self._hop.run(self.inner.stop_moving)

    def status(self) -> Mapping[str, Any]:
        return self.inner.status()

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        # the module's own forwarding brings the fault to the loop this is called from
        self.inner.set_fault_listener(listener)

    def abandon(self) -> bool:
        return self.inner.abandon()  # safe from any thread

    def __repr__(self) -> str:
        return f"ThreadedDevice({self.inner!r})"



def _in_this_loop(listener: Callable[P, None]) -> Callable[P, None]:
    """``listener``, called from any thread, run in the event loop of the thread that
    asks for this (the listener's): each call is handed to that loop; once it has ended,
    nobody listens and the call is dropped."""
    schedule = loop_waker()

    def forward(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(RuntimeError):  # that loop has ended: nobody listens
            schedule(lambda: listener(*args, **kwargs))

    return forward
