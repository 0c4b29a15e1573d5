"""The async seam: the concurrency primitives the engine and the simulated hardware use,
on whichever runtime drives the current thread.

A robot with real I/O runs on anyio (asyncio). A simulation on the virtual clock runs on
``Runtime``: a small single-threaded runner of coroutines. Nothing in a simulation waits
for a file, a socket or real time, so it needs no event loop, and ``labrun simulate``
imports neither asyncio nor anyio (60 ms of every start-up). Both runtimes give the
same semantics, anyio's: cancel scopes (level-triggered, with shields), task groups,
events and checkpoints. Each function here asks which runtime drives the thread and
uses that one; anyio is imported only when it is the one.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import TracebackType, coroutine
from typing import Any, Protocol

_local = threading.local()


class Scope(Protocol):
    """A cancel scope (anyio's ``CancelScope`` or the runtime's own)."""

    shield: bool

    @property
    def cancel_called(self) -> bool: ...

    @property
    def cancelled_caught(self) -> bool: ...

    def cancel(self) -> None: ...

    def __enter__(self) -> Scope: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None: ...


class EventLike(Protocol):
    """A one-shot event (anyio's ``Event`` or the runtime's own)."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self) -> Awaitable[None]: ...


class TaskGroupLike(Protocol):
    """A task group: ``start_soon`` children; leaving it waits for them."""

    @property
    def cancel_scope(self) -> Scope: ...

    def start_soon(self, function: Callable[..., Awaitable[Any]], *args: Any) -> None: ...


class Cancelled(BaseException):
    """The runtime's cancellation: raised at an await inside a cancelled scope."""


def current_runtime() -> Runtime | None:
    """The ``Runtime`` driving this thread now, if any (else anyio's loop, if any)."""
    return getattr(_local, "runtime", None)


def cancelled_class() -> type[BaseException]:
    """The exception a cancellation raises on the runtime of this thread."""
    if current_runtime() is not None:
        return Cancelled
    import anyio

    return anyio.get_cancelled_exc_class()


def scope_class() -> Callable[..., Scope]:
    """The cancel scope class of this thread's runtime (made once, used per command)."""
    if current_runtime() is not None:
        return _Scope
    from anyio import CancelScope

    return type(CancelScope())  # the backend's class: anyio's constructor looks it up


def CancelScope(*, shield: bool = False) -> Scope:
    """A cancel scope on this thread's runtime."""
    if current_runtime() is not None:
        return _Scope(shield)
    import anyio

    return anyio.CancelScope(shield=shield)


def move_on_after(seconds: float) -> Scope:
    """A cancel scope that gives up what it holds after ``seconds`` of real time. On this
    project's own runtime (a simulation on the virtual clock, where nothing waits in real
    time) it never does."""
    if current_runtime() is not None:
        return _Scope()
    import anyio

    return anyio.move_on_after(seconds)


def event_class() -> Callable[[], EventLike]:
    """The event class of this thread's runtime (made once, used at every wait)."""
    if current_runtime() is not None:
        return _Event
    import anyio

    return anyio.Event


def Event() -> EventLike:
    """An event on this thread's runtime."""
    if current_runtime() is not None:
        return _Event()
    import anyio

    return anyio.Event()


async def checkpoint() -> None:
    """Let other work run; raise the cancellation if a scope around is cancelled."""
    runtime = current_runtime()
    if runtime is None:
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint()
        return
    task = runtime.task
    assert task is not None
    if task.cancelled():
        raise Cancelled
    runtime.call_soon(task.wake)
    await _SUSPEND


async def checkpoint_if_cancelled() -> None:
    """Raise the cancellation if a scope around is cancelled; else return at once."""
    runtime = current_runtime()
    if runtime is None:
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint_if_cancelled()
        return
    task = runtime.task
    assert task is not None
    if task.cancelled():
        raise Cancelled


def create_task_group() -> Any:
    """A task group on this thread's runtime (``async with``)."""
    if current_runtime() is not None:
        return _TaskGroup()
    import anyio

    return anyio.create_task_group()


# -- the runtime ------------------------------------------------------------------------


class _Suspend:
    """Awaited to suspend the current task until something wakes it."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield None


_SUSPEND = _Suspend()


class Task:
    """One coroutine on a ``Runtime``, with its stack of cancel scopes."""

    __slots__ = ("_error", "_result", "coro", "done", "on_done", "runtime", "scopes",
                 "suspended")

    def __init__(self, runtime: Runtime, coro: Coroutine[Any, Any, Any],
                 scopes: list[_Scope]) -> None:
        self.runtime = runtime
        self.coro = coro
        self.scopes = scopes
        self.suspended = False
        self.done = False
        self.on_done: Callable[[Task], None] | None = None
        self._result: Any = None
        self._error: BaseException | None = None

    def cancelled(self) -> bool:
        """Whether a scope around the task's current point is cancelled (and not
        behind a shield)."""
        for scope in reversed(self.scopes):
            if scope.cancel_called:
                return True
            if scope.shield:
                return False
        return False

    def wake(self) -> None:
        """Resume the suspended task (once)."""
        if self.suspended:
            self.suspended = False
            self.runtime.call_soon(self.step)

    def interrupt(self) -> None:
        """Resume the suspended task with the cancellation."""
        if self.suspended:
            self.suspended = False
            self.runtime.call_soon(lambda: self.step(Cancelled()))

    def step(self, error: BaseException | None = None) -> None:
        """Run the coroutine to its next suspension (or its end)."""
        runtime = self.runtime
        outer, runtime.task = runtime.task, self
        try:
            trap = self.coro.send(None) if error is None else self.coro.throw(error)
        except StopIteration as stop:
            self._finish(stop.value, None)
        except BaseException as exc:
            self._finish(None, exc)
        else:
            if trap is None:
                self.suspended = True
            else:  # an asyncio future or the like: it would never be woken here
                runtime.call_soon(lambda: self.step(RuntimeError(
                    f"{trap!r} belongs to an event loop; the simulation's runtime cannot "
                    "wait for it")))
        finally:
            runtime.task = outer

    def result(self) -> Any:
        """The coroutine's value, or its exception raised."""
        if self._error is not None:
            raise self._error
        return self._result

    def _finish(self, value: Any, error: BaseException | None) -> None:
        self.done = True
        self._result, self._error = value, error
        self.runtime.tasks.pop(self, None)
        if self.on_done is not None:
            self.on_done(self)


class Runtime:
    """Runs tasks and callbacks in whichever thread calls ``run_ready`` (one at a time).

    ``call_soon_threadsafe`` may be called from any thread; ``wake`` is then called so
    that whoever drives the runtime runs the callback.
    """

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self._ready: deque[Callable[[], object]] = deque()
        self._wake = wake
        self.task: Task | None = None  # the task running now
        self.tasks: dict[Task, None] = {}  # in the order they started

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` after what is ready now (the driving thread only)."""
        self._ready.append(callback)

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        """``call_soon`` from any thread."""
        self._ready.append(callback)  # deque.append is atomic
        if self._wake is not None:
            self._wake()

    def spawn(self, coro: Coroutine[Any, Any, Any], scopes: list[_Scope] | None = None) -> Task:
        """A new task, first run at the next ``run_ready``."""
        task = Task(self, coro, scopes if scopes is not None else [])
        self.tasks[task] = None
        self._ready.append(task.step)
        return task

    def run_ready(self, first: Callable[[], object] | None = None) -> None:
        """Run ``first`` (after what is already waiting), then everything it sets going,
        until nothing is ready; a failing callback is reported on stderr, as an event loop
        reports it."""
        outer = getattr(_local, "runtime", None)
        _local.runtime = self
        ready = self._ready
        try:
            if first is not None:
                ready.append(first)
            while ready:
                callback = ready.popleft()
                try:
                    callback()
                except Exception:
                    print(f"Exception in callback {callback!r}", file=sys.stderr)
                    import traceback

                    traceback.print_exc()
        finally:
            _local.runtime = outer


class _Scope:
    """anyio's cancel scope semantics on the ``Runtime``."""

    __slots__ = ("_task", "cancel_called", "cancelled_caught", "shield")

    def __init__(self, shield: bool = False) -> None:
        self.shield = shield
        self.cancel_called = False
        self.cancelled_caught = False
        self._task: Task | None = None

    def __enter__(self) -> _Scope:
        runtime: Runtime | None = getattr(_local, "runtime", None)  # current_runtime()
        task = runtime.task if runtime is not None else None
        if task is None:
            raise RuntimeError("a cancel scope needs a task of the runtime")
        task.scopes.append(self)
        self._task = task
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        task = self._task
        assert task is not None and task.scopes and task.scopes[-1] is self
        task.scopes.pop()
        if isinstance(exc, Cancelled) and self.cancel_called and not task.cancelled():
            self.cancelled_caught = True  # ours, and no scope outside is cancelled too
            return True
        return False

    def cancel(self) -> None:
        """Cancel: every await inside raises ``Cancelled`` (a suspended task at once)."""
        if self.cancel_called:
            return
        self.cancel_called = True
        task = self._task
        if task is None:
            return
        for other in list(task.runtime.tasks):
            if other.suspended and self in other.scopes and other.cancelled():
                other.interrupt()


class _Event:
    """anyio's ``Event`` on the ``Runtime``."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[Task] = []

    def set(self) -> None:
        self._set = True
        if self._waiters:
            for task in self._waiters:
                task.wake()
            self._waiters.clear()

    def is_set(self) -> bool:
        return self._set

    @coroutine
    def wait(self) -> Generator[Any, None, None]:
        # A generator-based coroutine: it suspends at a bare ``yield``, with no call of
        # ``_SUSPEND``'s ``__await__`` (the engine's loop waits here once a command).
        if self._set:
            yield from checkpoint().__await__()
            return
        runtime: Runtime | None = getattr(_local, "runtime", None)  # current_runtime()
        task = runtime.task if runtime is not None else None
        assert task is not None, "an event of the runtime is awaited outside it"
        if task.cancelled():
            raise Cancelled
        self._waiters.append(task)
        try:
            yield
        finally:
            if not self._set and task in self._waiters:
                self._waiters.remove(task)


class _TaskGroup:
    """anyio's task group on the ``Runtime``: leaving it waits for every child; an error
    in the body or a child cancels the rest; a child's error is raised by the group."""

    def __init__(self) -> None:
        self.cancel_scope = _Scope()
        self._children: set[Task] = set()
        self._host: Task | None = None
        self._scopes: list[_Scope] = []
        self._errors: list[BaseException] = []

    async def __aenter__(self) -> _TaskGroup:
        self.cancel_scope.__enter__()
        self._host = self.cancel_scope._task
        assert self._host is not None
        self._scopes = list(self._host.scopes)  # a child's scopes: up to the group's own
        return self

    def start_soon(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        assert self._host is not None
        child = self._host.runtime.spawn(function(*args), list(self._scopes))
        child.on_done = self._child_done
        self._children.add(child)

    def _child_done(self, child: Task) -> None:
        self._children.discard(child)
        error = child._error
        if error is not None and not isinstance(error, Cancelled):
            self._errors.append(error)
            self.cancel_scope.cancel()
        if not self._children and self._host is not None:
            self._host.wake()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool:
        if exc is not None:
            self.cancel_scope.cancel()
        host = self._host
        assert host is not None
        cancelled = False  # once the host is cancelled, it waits for its children shielded
        while self._children:
            if not cancelled and host.cancelled():
                cancelled = True
            else:
                try:
                    await _SUSPEND
                    continue
                except Cancelled:
                    cancelled = True
            self.cancel_scope.cancel()
            if exc is None:
                exc = Cancelled()
        try:
            if self._errors:
                raise self._errors[0]
            if exc is not None:
                raise exc
        except BaseException as error:
            if self.cancel_scope.__exit__(type(error), error, error.__traceback__):
                return True
            raise
        return self.cancel_scope.__exit__(None, None, None)
