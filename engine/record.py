"""The run record: every event of a run, appended as JSON Lines as it happens (DESIGN.md §9).

Events are kept in memory and, when a path is given, written to the file in whole
lines. The engine calls ``flush()`` before it waits for anything (the protocol, a
resume, motion on a real clock), so a run killed at any instant leaves a file of
complete lines that says where the run was. ``read_record`` ignores a torn last line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .state import RunState

Event = dict[str, Any]
Listener = Callable[[Event], None]


class RunRecord:
    """An append-only list of events, mirrored to a JSON Lines file when given a path."""

    def __init__(self, path: str | Path | None = None, *, clock: Callable[[], float]) -> None:
        self.events: list[Event] = []
        self.path = Path(path) if path is not None else None
        self._clock = clock
        self._fd: int | None = None
        self._unwritten = 0
        self._listeners: list[Listener] = []
        if self.path is not None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                               0o644)

    def add(self, event: str, **fields: Any) -> Event:
        """Append one event stamped with the run clock's time and a sequence number."""
        entry: Event = {"seq": len(self.events), "t": round(self._clock(), 6), "event": event,
                        **fields}
        self.events.append(entry)
        if self._listeners:
            for listener in self._listeners:
                listener(entry)
        return entry

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new event (in the engine loop); returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def flush(self) -> None:
        """Write the events not yet in the file, as whole lines, in one write."""
        if self._fd is None:
            return
        pending = self.events[self._unwritten:]
        if not pending:
            return
        data = "".join(json.dumps(e, separators=(",", ":"), default=_jsonable) + "\n"
                       for e in pending).encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._unwritten = len(self.events)

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def rounded(position: Mapping[str, float]) -> dict[str, float]:
    """A position rounded to 0.1 µm, for the record."""
    return {axis: round(value, 4) for axis, value in position.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


def read_record(path: str | Path) -> list[Event]:
    """Parse a run record; a torn final line (the process was killed mid-write) is ignored."""
    events: list[Event] = []
    lines = Path(path).read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a JSON record line") from None
    return events


def action_fields(action: object) -> dict[str, Any]:
    """An action's optional fields (option, message, reason) that are set, for the record."""
    fields = {}
    for name in ("option", "message", "reason"):
        value = getattr(action, name, None)
        if value is not None:
            fields[name] = value
    return fields


def status_fields(state: RunState) -> dict[str, Any]:
    """What a status event says besides the status: the pause's source and message, the
    outcome's reason, error and location."""
    extra: dict[str, Any] = {}
    if state.pause is not None:
        extra["pause_source"] = state.pause.source.value
        if state.pause.message:
            extra["pause_message"] = state.pause.message
    if state.outcome is not None:
        for name in ("reason", "error", "location"):
            value = getattr(state.outcome, name)
            if value:
                extra[name] = value
    return extra
