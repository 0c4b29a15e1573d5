"""The run's commands: numbered in order, every status change recorded, totals kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .commands import Command
from .entries import CommandEntry
from .record import RunRecord
from .state import StepInfo
from .summary import Tally


class CommandBook:
    """Every command of the run (unless a long run asks for flat memory, ``keep`` False:
    then only the newest ones, and the running totals of ``tally``)."""

    def __init__(self, now: Callable[[], float], record: RunRecord, *, keep: bool) -> None:
        self.entries: list[CommandEntry] = []
        self.keep = keep
        self.last: CommandEntry | None = None  # the newest command
        self.last_protocol: CommandEntry | None = None  # the newest the protocol sent
        self.tally = Tally()
        self._now = now
        self._record = record

    def add(self, command: Command, step: StepInfo, line: str | None = None,
            origin: str = "protocol") -> CommandEntry:
        """A new command of the run, numbered in order."""
        last = self.last
        entry = CommandEntry(0 if last is None else last.id + 1, command, step, line,
                             origin=origin)
        self.last = entry
        if self.keep:
            self.entries.append(entry)
        if origin == "protocol":
            self.last_protocol = entry
            self.tally.queued(entry)
        return entry

    def set_status(self, entry: CommandEntry, status: str, **extra: Any) -> None:
        """Record a command's new status (and, once ``completed``, its ``result``)."""
        entry.status = status
        now = self._now()
        if status == "started" and entry.started_at is None:
            entry.started_at = now
        elif status == "completed":
            entry.result, entry.completed_at = extra.pop("result", {}), now
            if entry.result:
                extra["result"] = entry.result
            if entry.origin == "protocol":
                self.tally.completed(entry)
        if extra:
            self._record.add("command", id=entry.id, status=status, **extra)
        else:
            self._record.command_status(entry.id, status, now)
