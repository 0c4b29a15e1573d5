"""The event stream: server-sent events fanned out to every subscriber.

Events: ``status`` (the whole status document, sent on subscribing and on every
change), to every subscriber; ``record`` (the running run's record events) to
subscribers that asked for them (``records``); and to those that asked for progress
(``progress``, as the live page does): ``progress`` (on subscribing with every well done
and tip taken so far, marked ``snapshot``; then whenever the step, the wells done or the
tips taken change, with the wells newly done, the tips newly taken and those put back),
``command`` (each protocol call as it starts, in words) and ``comment`` (each
``ctx.comment``).

Each event is encoded once and the same bytes go to every subscriber; a subscriber's
pending chunks are written in one send when it next runs. A subscriber that falls too
far behind is sent an ``overflow`` event and disconnected, so one slow client cannot
hold the server's memory.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio

MAX_PENDING = 10_000
"""Chunks a subscriber may have waiting before it is dropped."""


def encode(event: str, data: Any) -> bytes:
    """One server-sent event."""
    payload = json.dumps(data, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()


class Subscriber:
    """One client's stream: chunks waiting to be written, and a wake-up."""

    def __init__(self, records: bool, progress: bool = False) -> None:
        self.records = records
        self.progress = progress
        self._chunks: deque[bytes] = deque()
        self._ready = anyio.Event()
        self._closed = False

    def push(self, chunk: bytes) -> None:
        """Queue ``chunk``; server loop only."""
        if self._closed:
            return
        if len(self._chunks) >= MAX_PENDING:
            self._chunks.clear()
            self._chunks.append(encode("overflow", {"msg": "the client fell too far behind"}))
            self._closed = True
        else:
            self._chunks.append(chunk)
        self._ready.set()

    def close(self) -> None:
        """End the stream after what is queued."""
        self._closed = True
        self._ready.set()

    async def chunks(self, heartbeat: float) -> AsyncIterator[bytes]:
        """What to write, as it comes; a comment line every ``heartbeat`` s of silence."""
        while True:
            with anyio.move_on_after(heartbeat):
                await self._ready.wait()
            if not self._chunks:
                if self._closed:
                    return
                yield b": keep-alive\n\n"
                continue
            self._ready = anyio.Event()
            data = b"".join(self._chunks)
            self._chunks.clear()
            yield data
            if self._closed and not self._chunks:
                return


class EventHub:
    """Every subscriber, and the last status sent (so an unchanged one is not resent)."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._last_status: bytes | None = None
        self.record_subscribers = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, records: bool, status: dict[str, Any], *, progress: bool = False,
                  first: Iterable[tuple[str, Any]] = ()) -> Subscriber:
        """A new subscriber, whose first event is ``status``, then (if it asked for
        progress) the ``first`` events."""
        subscriber = Subscriber(records, progress)
        subscriber.push(encode("status", status))
        for event, data in first if progress else ():
            subscriber.push(encode(event, data))
        if self.closed:
            subscriber.close()
            return subscriber
        self._subscribers.add(subscriber)
        self.record_subscribers += records
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber (its client went away)."""
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            self.record_subscribers -= subscriber.records
        subscriber.close()

    def publish_status(self, status: dict[str, Any]) -> None:
        """Send the status to everyone, unless it is what they were sent last."""
        chunk = encode("status", status)
        if chunk == self._last_status:
            return
        self._last_status = chunk
        for subscriber in self._subscribers:
            subscriber.push(chunk)

    def publish_progress(self, events: Iterable[tuple[str, Any]]) -> None:
        """Send ``progress``, ``command`` and ``comment`` events to those that asked."""
        subscribers = [s for s in self._subscribers if s.progress]
        chunk = b"".join(encode(event, data) for event, data in events) if subscribers else b""
        if chunk:
            for subscriber in subscribers:
                subscriber.push(chunk)

    def publish_records(self, item_uid: str, events: list[dict[str, Any]]) -> None:
        """Send record events to the subscribers that asked for them."""
        if not self.record_subscribers:
            return
        chunk = b"".join(encode("record", {"item_uid": item_uid, **event}) for event in events)
        for subscriber in self._subscribers:
            if subscriber.records:
                subscriber.push(chunk)

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        self.closed = True
        for subscriber in list(self._subscribers):
            self.unsubscribe(subscriber)
