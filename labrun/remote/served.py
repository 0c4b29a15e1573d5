"""The run being served: one run shown to the API, beside the queue that feeds it.

The queue (``manager.RunManager``) serves the run of the item it starts as an
``ActiveRun``: a ``supervisor.SupervisedRun`` when the run goes in the run worker process
(``labrun serve``), or a ``ServedRun`` for a run of this process (``server.serve_run``,
and robots made in the server's process, as the tests do). Either one owns
what concerns that run alone, and reports to the manager through its ``RunHooks``. A
``ServedRun`` has:

- the watch that carries its changes from its engine loop to the server's (``RunWatch``);
- the reading of its modules while it goes (``modules.follow_modules``), handed to the
  manager when they changed (``RunHooks.on_modules``);
- actions into its engine loop, answered without blocking either loop (``apply``);
- its status as the API shows it, naming the item's files as uploaded (``report``);
- its end: the summary is handed to the queue once (``on_summary``), and ``close``
  releases the run if the server made it.

Everything here runs in the server's event loop, except what ``in_engine`` sends to the
run's engine loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import anyio
from attrs import frozen

from engine.actions import Action
from engine.bridge import LoopCaller, LoopClosedError
from engine.entries import ActionResult
from engine.record import Event
from engine.run import Run
from engine.state import Status, status_of
from engine.status import report

from .items import QueueItem
from .modules import Reading, follow_modules
from .watch import RunWatch

T = TypeVar("T")

ENGINE_ANSWER_TIMEOUT = 10.0
"""Longest wait for a run's engine to answer an action (it answers in microseconds)."""
SHUTDOWN_GRACE = 0.5
"""Seconds a queue's protocol thread is given to finish when the server shuts down."""

StartSoon = Callable[[Callable[[], Coroutine[Any, Any, Any]]], None]


class ActiveRun(Protocol):
    """The run the server serves now: in this process (``ServedRun``) or in the run
    worker's (``supervisor.SupervisedRun``)."""

    item: QueueItem
    owned: bool
    started_at: float
    done: bool

    @property
    def status(self) -> Status:
        """The run's status now."""

    @property
    def changed_at(self) -> float:
        """When the run last changed what the status shows (seconds since the epoch)."""

    def want_records(self) -> None:
        """Hand over every record event from now on (the progress reads them)."""

    def report(self) -> dict[str, Any]:
        """The run's status document, its outcome naming the item's files as uploaded."""

    def record(self) -> list[Event]:
        """The run's record so far, naming the item's files as uploaded."""

    async def apply(self, action: Action) -> ActionResult:
        """Carry out ``action`` in the run's engine; its result."""

    async def close(self, *, grace: float | None = None) -> None:
        """Release the run (aborted if it still goes and the server made it)."""


@frozen
class RunHooks:
    """How a served run tells the server about itself: in the server's loop (``server``,
    ``start_soon``), its status changes, its record events and, once, its summary."""

    server: LoopCaller
    start_soon: StartSoon
    on_status: Callable[[], None]
    on_events: Callable[[ActiveRun, list[Event]], None]
    on_summary: Callable[[ActiveRun, Event], Awaitable[None]]
    progress_interval: float
    on_modules: Callable[[ActiveRun, list[Reading]], None] | None = None
    """The run's modules as read now (``modules.follow_modules``), when they changed."""


class ServedRun:
    """One run of this process served to the API: its watch, its actions, its status and
    its end."""

    def __init__(self, item: QueueItem, run: Run, *, hooks: RunHooks, owned: bool,
                 started_at: float | None = None) -> None:
        self.item = item
        self.run = run
        self.owned = owned
        """Whether the server made the run (a queue's), and so closes it when it ends."""
        self.started_at = started_at or time.time()
        self.done = False
        """The run has ended and its summary has been handled."""
        self._finishing = False
        self._start_soon = hooks.start_soon
        self._on_events = hooks.on_events
        self._on_summary = hooks.on_summary
        self._on_modules = hooks.on_modules
        self._following = False  # its modules are read while it goes
        self.watch = RunWatch(run, hooks.server, on_status=hooks.on_status,
                              on_events=self._events, start_soon=hooks.start_soon,
                              progress_interval=hooks.progress_interval)

    def attach(self) -> None:
        """Start listening to the run (a run already over hands over its summary)."""
        try:
            self.watch.attach()
        except LoopClosedError:  # already over (a single run served after it ended)
            self._events([self.run.record.events[-1]] if self.run.record.events else [])
            return
        on_modules = self._on_modules
        if on_modules is not None:
            self._following = True
            self._start_soon(lambda: follow_modules(
                self.run, lambda readings: on_modules(self, readings),
                going=lambda: self._following))

    @property
    def status(self) -> Status:
        """The run's status now."""
        return status_of(self.run.engine.state)

    @property
    def changed_at(self) -> float:
        """When the run last changed what the status shows (seconds since the epoch)."""
        return self.watch.changed_at

    def want_records(self) -> None:
        """Hand over every record event from now on (the progress reads them)."""
        self.watch.wants_records = True

    def report(self) -> dict[str, Any]:
        """The run's status document, its outcome naming the item's files as uploaded."""
        run = report(self.run.engine).to_dict()
        if run["outcome"] is not None:
            run["outcome"] = self.item.as_uploaded_event(run["outcome"])
        return run

    def record(self) -> list[Event]:
        """The run's record so far, naming the item's files as uploaded."""
        return [self.item.as_uploaded_event(e) for e in self.run.record.events]

    async def apply(self, action: Action) -> ActionResult:
        """Carry out ``action`` in the run's engine loop; its result."""
        engine = self.run.engine
        result = await self.in_engine(lambda: engine.apply(action))
        if result is None:
            return ActionResult(False, self.status, "the run has already ended")
        return result

    async def in_engine(self, function: Callable[[], T]) -> T | None:
        """Run ``function`` in the run's engine loop and await its value; None if the
        loop has ended before it could (or did not answer in time)."""
        try:
            return await self.run.acall(function, ENGINE_ANSWER_TIMEOUT)
        except (LoopClosedError, TimeoutError):
            return None

    async def close(self, *, grace: float | None = None) -> None:
        """Stop listening; a run the server made is closed (aborted if still going, its
        protocol thread given ``grace`` seconds: the server is stopping, so nobody listens
        to its last changes)."""
        self._following = False
        if grace is not None:
            self.watch.close()
        if self.owned:
            run = self.run
            if grace is None:
                await anyio.to_thread.run_sync(run.close)
            else:
                await anyio.to_thread.run_sync(lambda: run.close(protocol_grace_s=grace))
        self.watch.close()

    def _events(self, events: list[Event]) -> None:
        self._on_events(self, events)
        summary = next((e for e in events if e["event"] == "summary"), None)
        if summary is not None and not self._finishing:
            self._finishing = True

            async def finish() -> None:
                await self._on_summary(self, summary)

            self._start_soon(finish)
