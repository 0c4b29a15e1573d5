"""The one bridge between plain threads and the engine's event loop.

A protocol call blocks its thread on a ``Reply`` while the engine loop works; the loop
is woken with a fire-and-forget callback, so a command costs one wake-up each way
(about 20 µs here), a third of what a blocking portal costs. Control actions from other
threads use the same two pieces. Nothing is ever raised into another thread: the
engine hands back a value or an exception, and the waiting thread raises it itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio.lowlevel

T = TypeVar("T")


class LoopClosedError(RuntimeError):
    """The engine loop is no longer running."""


class LoopCaller:
    """Schedules callbacks in the event loop it was created in, from any thread."""

    def __init__(self) -> None:
        native: Any = anyio.lowlevel.current_token().native_token
        if hasattr(native, "call_soon_threadsafe"):  # asyncio event loop
            self._schedule: Callable[[Callable[[], object]], object] = (
                native.call_soon_threadsafe)
        elif hasattr(native, "run_sync_soon"):  # trio token
            self._schedule = native.run_sync_soon
        else:  # pragma: no cover - anyio supports only these two
            raise RuntimeError(f"unsupported event loop {native!r}")
        self.thread_id = threading.get_ident()
        self.closed = False

    def in_loop_thread(self) -> bool:
        """True when called from the event loop's own thread."""
        return threading.get_ident() == self.thread_id

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the loop as soon as it can; do not wait for it."""
        if self.closed:
            raise LoopClosedError("the engine loop has stopped")
        try:
            self._schedule(callback)
        except RuntimeError as exc:  # loop closed under our feet
            raise LoopClosedError("the engine loop has stopped") from exc


def call_in_loop(caller: LoopCaller, function: Callable[[], T],
                 timeout: float | None = None) -> T:
    """Run ``function`` in the loop and return its value (or raise its error) here."""
    if caller.in_loop_thread():
        return function()
    reply: Reply[T] = Reply()

    def call() -> None:
        try:
            value = function()
        except BaseException as exc:
            reply.fail(exc)
        else:
            reply.set(value)

    caller.call_soon(call)
    return reply.wait(timeout)


class Reply(Generic[T]):
    """A one-shot answer handed from the engine loop to a waiting thread."""

    __slots__ = ("_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._value: T | None = None
        self._error: BaseException | None = None

    def set(self, value: T) -> None:
        """Answer with a value and wake the waiting thread."""
        self._value = value
        self._lock.release()

    def fail(self, error: BaseException) -> None:
        """Answer with an exception, which the waiting thread raises."""
        self._error = error
        self._lock.release()

    @property
    def done(self) -> bool:
        """True once answered."""
        return not self._lock.locked()

    def wait(self, timeout: float | None = None) -> T:
        """Block until answered; return the value or raise the error."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError("no answer from the engine in time")
        self._lock.release()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
