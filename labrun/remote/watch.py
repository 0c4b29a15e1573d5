"""Carries a run's changes from its engine thread to the server's event loop, cheaply.

The engine calls our listeners in its own loop for every state change and every record
event, thousands of times a second on a fast run. Each listener does almost nothing:

- a change of what the status says (status, pause pending, pause source, parking,
  interlocks, a delay starting or ending, the outcome) wakes the server loop at once;
- a change of progress only (the step) is noted; the server pushes it at most every
  ``progress_interval`` seconds;
- record events are queued only while someone subscribes to them (and the run's final
  ``summary`` always is), and handed over in batches.

At most one wake-up is in flight at a time, so a busy run costs the server one wake-up
per batch, not one per event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

from engine.bridge import LoopCaller, LoopClosedError
from engine.record import Event
from engine.run import Run
from engine.state import RunState

PROGRESS_INTERVAL = 0.1
"""Seconds between pushes of progress-only changes (the current step): ten a second is
enough to follow a run, and keeps 50 subscribers from slowing a fast one."""


def _signature(state: RunState) -> tuple[Any, ...]:
    return (state.started, state.pending, state.pause, state.park, state.ending,
            state.finishing, state.outcome, state.interlocks, state.delay is not None,
            state.delay is not None and state.delay.skipped, state.pause_unresolved)


class RunWatch:
    """One run's listeners (engine thread) and their hand-over (server loop)."""

    def __init__(self, run: Run, server: LoopCaller, *,
                 on_status: Callable[[], None],
                 on_events: Callable[[list[Event]], None],
                 start_soon: Callable[[Callable[[], Coroutine[Any, Any, Any]]], None],
                 progress_interval: float = PROGRESS_INTERVAL) -> None:
        self.run = run
        self.wants_records = False
        self.changed_at = time.time()
        self._server = server
        self._on_status = on_status
        self._on_events = on_events
        self._start_soon = start_soon
        self._interval = progress_interval
        self._sig: tuple[Any, ...] = ()
        self._events: deque[Event] = deque()
        self._scheduled = False
        self._urgent = False
        self._progress = False
        self._closed = False

    def attach(self) -> list[Event]:
        """Subscribe to the engine (done in its loop, which must be running); the record
        events written before (kept in memory), which are not handed over."""
        engine = self.run.engine

        def subscribe() -> list[Event]:
            self._sig = _signature(engine.state)
            engine.subscribe(self._on_state)
            self.run.record.subscribe(self._on_event)
            return list(self.run.record.events)

        return self.run.call(subscribe)

    def close(self) -> None:
        """Stop handing anything over (the run is finished with)."""
        self._closed = True

    # -- engine thread ------------------------------------------------------------------

    def _on_state(self, state: RunState) -> None:
        sig = _signature(state)
        if sig != self._sig:
            self._sig = sig
            self.changed_at = time.time()
            self._urgent = True
            self._kick()
        elif not self._progress:
            self._progress = True
            self._call(self._arm_progress)

    def _on_event(self, event: Event) -> None:
        if self.wants_records or event["event"] == "summary":
            self._events.append(event)
            self._kick()

    def _kick(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._call(self._drain)

    def _call(self, callback: Callable[[], None]) -> None:
        try:
            self._server.call_soon(callback)
        except LoopClosedError:  # the server has shut down; nobody is listening
            self._closed = True

    # -- server loop ---------------------------------------------------------------------

    def _drain(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        urgent, self._urgent = self._urgent, False
        events: list[Event] = []
        while self._events:
            events.append(self._events.popleft())
        if urgent:
            self._progress = False
            self._on_status()
        if events:
            self._on_events(events)

    def _arm_progress(self) -> None:
        if not self._closed:
            self._start_soon(self._push_progress)

    async def _push_progress(self) -> None:
        await anyio.sleep(self._interval)
        if self._progress and not self._closed:
            self._progress = False
            self._on_status()
