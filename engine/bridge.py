"""The one bridge between threads and the engine's event loop.

A protocol call blocks its thread on a ``Reply`` while the engine loop works; the loop
is woken with a fire-and-forget callback, so a command costs one wake-up each way
(about 20 µs here), a third of what a blocking portal costs. Control actions from other
threads use the same two pieces: ``call_in_loop`` waits in a plain thread,
``call_from_loop`` awaits in another event loop (the server's) without blocking it.
Nothing is ever raised into another thread: the engine hands back a value or an
exception, and the waiting side raises it itself. Once the engine loop has closed, both
raise ``LoopClosedError`` instead of waiting for an answer that will never come.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from hardware.aio import Runtime
from hardware.wakeup import loop_waker

T = TypeVar("T")


class LoopClosedError(RuntimeError):
    """The engine loop is no longer running."""


class LoopCaller:
    """Schedules callbacks in the event loop it was created in, from any thread.

    With a ``driver``, the loop runs in whichever thread holds the driver's baton, and
    ``submit`` runs the loop in the calling thread instead of waking another one.
    """

    def __init__(self, driver: LoopDriver | None = None) -> None:
        self._schedule = loop_waker()
        self._driver = driver
        self.thread_id = threading.get_ident()
        self.closed = False
        self._lock = threading.Lock()
        self._on_close: set[Callable[[], None]] = set()

    def close(self) -> None:
        """The loop takes no more calls; whoever awaits an answer from it is told now."""
        with self._lock:
            self.closed = True
            waiting, self._on_close = self._on_close, set()
        for notify in waiting:
            notify()

    def when_closed(self, notify: Callable[[], None]) -> Callable[[], None]:
        """Call ``notify`` (in the closing thread) when the loop closes, at once if it has;
        returns a function that withdraws it."""
        with self._lock:
            if not self.closed:
                self._on_close.add(notify)
                return lambda: self._withdraw(notify)
        notify()
        return lambda: None

    def _withdraw(self, notify: Callable[[], None]) -> None:
        with self._lock:
            self._on_close.discard(notify)

    def in_loop_thread(self) -> bool:
        """True when called from the thread that runs the event loop now."""
        if self._driver is not None:
            return self._driver.driving == threading.get_ident()
        return threading.get_ident() == self.thread_id

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the loop as soon as it can; do not wait for it."""
        if self.closed:
            raise LoopClosedError("the engine loop has stopped")
        try:
            self._schedule(callback)
        except RuntimeError as exc:  # loop closed under our feet
            raise LoopClosedError("the engine loop has stopped") from exc

    def submit(self, callback: Callable[[], object]) -> None:
        """``call_soon``, for a thread about to wait for the loop's answer: with a driver,
        this thread runs the loop itself until it has nothing left to do."""
        if self._driver is None:
            self.call_soon(callback)
        elif not self._driver.submit(callback):
            raise LoopClosedError("the engine loop has stopped")


class LoopDriver:
    """A ``Runtime`` that runs in whichever thread needs it, one thread at a time.

    For a simulation on the virtual clock, where nothing happens in the loop but what a
    thread asks of it: the protocol thread runs the loop itself while its call is carried
    out (``submit``), so a command costs no thread hop at all; so does any thread that
    waits for an answer (``call_in_loop``). The loop's own thread (``run``) runs it only
    for what other threads schedule without waiting. No event loop is involved: nothing
    here waits for a file, a socket or real time.
    """

    def __init__(self) -> None:
        self._work = threading.Event()
        # Whatever another thread schedules (call_soon_threadsafe) wakes the loop's own
        # thread, which runs it.
        self.runtime = Runtime(wake=self._work.set)
        self._baton = threading.Lock()
        self._closed = False
        self.driving: int | None = None  # the thread running the loop now

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to its end (in the loop's own thread)."""
        task = self.runtime.spawn(main)
        task.on_done = lambda _: self._work.set()  # it may end in a thread that submitted
        try:
            while True:
                self._work.clear()
                with self._baton:
                    self._drive()
                    if task.done:
                        self._closed = True
                        break
                self._work.wait()
            return task.result()  # type: ignore[no-any-return]
        finally:
            with self._baton:
                self._closed = True

    def submit(self, callback: Callable[[], object]) -> bool:
        """Run ``callback`` and everything it sets going in this thread; False if closed.

        A thread whose stack is nearly as deep as Python allows (a protocol that recurses)
        hands the work to the loop's own thread instead, which has room for it: run
        here, the engine itself would run out of stack part-way through a command.
        """
        if _deep():
            with self._baton:
                if self._closed:
                    return False
                self.runtime.call_soon_threadsafe(callback)
            return True
        with self._baton:
            if self._closed:
                return False
            self._drive(first=callback)
        return True

    def _drive(self, first: Callable[[], object] | None = None) -> None:
        thread = self.driving = threading.get_ident()
        # the main thread (an embedding script): Ctrl-C waits for the loop to pause
        held = thread == _MAIN and _HELD_INTERRUPTS.hold()
        try:
            self.runtime.run_ready(first)
        finally:
            self.driving = None
            if held:
                _HELD_INTERRUPTS.release()


class _HeldInterrupts:
    """Ctrl-C in the main thread while it runs the engine's loop (a script that embeds
    a simulated run drives the loop itself): ``KeyboardInterrupt`` raised in the middle of
    the engine's work would leave the run half-done and never ended. Held there, it is
    raised as the loop pauses, in the script's own code, which ends the run as any error
    in it does. Only while the loop runs, and where Python's own Ctrl-C handler is in
    place then (a program's own handler is left alone): it is put back as the loop
    pauses."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def hold(self) -> bool:
        """Hold Ctrl-C from now until ``release``; False where it cannot be held."""
        if self.depth:
            self.depth += 1
            return True
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return False
        signal.signal(signal.SIGINT, self._interrupted)
        self.depth = 1
        return True

    def release(self) -> None:
        """The loop has paused: Python's handler is back, and a Ctrl-C held meanwhile is
        raised now."""
        self.depth -= 1
        if self.depth:
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def _interrupted(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt


_MAIN = threading.main_thread().ident
_HELD_INTERRUPTS = _HeldInterrupts()


LOOP_STACK_FRAMES = 300
"""The stack the engine's work on one command may take, in frames (a command, the record
and its listeners: well under half of it), kept free below Python's recursion limit."""


def _deep() -> bool:
    """Whether this thread's stack leaves less than ``LOOP_STACK_FRAMES`` before the limit."""
    try:
        sys._getframe(sys.getrecursionlimit() - LOOP_STACK_FRAMES)
    except ValueError:  # not that deep: the usual case, about 0.3 µs
        return False
    return True


def call_in_loop(caller: LoopCaller, function: Callable[[], T],
                 timeout: float | None = None) -> T:
    """Run ``function`` in the loop and return its value (or raise its error) here.

    With a driver, this thread runs the loop until all that ``function`` set going is
    done (an action's effect, up to the engine's next wait): no thread hop either.
    """
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

    caller.submit(call)
    return reply.wait(timeout)


async def call_from_loop(target: LoopCaller, function: Callable[[], T], *,
                         timeout: float | None = None) -> T:
    """Run ``function`` in ``target``'s loop and await its value (or its error) in the
    current loop, which keeps running meanwhile; ``LoopClosedError`` if ``target`` closed
    before answering, ``TimeoutError`` after ``timeout`` seconds."""
    import anyio  # the awaiting loop is anyio's (the server's)

    here = LoopCaller()
    answered = anyio.Event()
    outcome: list[tuple[bool, Any]] = []

    def wake() -> None:
        with contextlib.suppress(LoopClosedError):
            here.call_soon(answered.set)

    def in_target() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # handed back and raised in the waiting loop
            outcome.append((False, exc))
        wake()

    withdraw = target.when_closed(wake)
    try:
        target.call_soon(in_target)
        with anyio.fail_after(timeout):
            await answered.wait()
    finally:
        withdraw()
    if not outcome:
        raise LoopClosedError("the engine loop has stopped")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class Reply(Generic[T]):
    """A one-shot answer handed from the engine loop to a waiting thread.

    The lock a thread blocks on is made only by a thread that must wait: a command the
    protocol thread carried out itself (the simulation's loop driver) is answered
    before its thread asks. Answering writes ``done`` before reading ``_lock``, and
    waiting writes ``_lock`` before reading ``done``; each is one step under the
    interpreter's lock, so one of them sees the other's write: no answer is missed.
    """

    __slots__ = ("_error", "_lock", "_value", "done")

    def __init__(self) -> None:
        self.done = False  # True once answered (only the answer sets it)
        self._lock: threading.Lock | None = None
        self._value: T | None = None
        self._error: BaseException | None = None

    def set(self, value: T) -> None:
        """Answer with a value and wake the waiting thread."""
        self._value = value
        self._answer()

    def fail(self, error: BaseException) -> None:
        """Answer with an exception, which the waiting thread raises."""
        self._error = error
        self._answer()

    def _answer(self) -> None:
        if self.done:
            raise RuntimeError("a reply can be answered only once")
        self.done = True
        lock = self._lock
        if lock is not None:
            lock.release()

    def wait(self, timeout: float | None = None) -> T:
        """Block until answered; return the value or raise the error."""
        if not self.done:
            lock = threading.Lock()
            lock.acquire()
            self._lock = lock
            if not self.done and not lock.acquire(timeout=-1 if timeout is None else timeout):
                raise TimeoutError("no answer from the engine in time")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
