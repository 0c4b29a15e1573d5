"""What the engine keeps about each command of a run."""

from __future__ import annotations

from typing import Any

from hardware.frozen import Frozen

from .commands import Command
from .segments import Segment
from .state import Status, StepInfo


class CommandEntry:
    """One command of the run: its status, its motion plan and how far it got."""

    __slots__ = ("command", "completed_at", "deadline", "done", "error", "id", "line",
                 "origin", "plan", "result", "started_at", "status", "step")

    def __init__(self, id: int, command: Command, step: StepInfo, line: str | None = None,
                 status: str = "queued", origin: str = "protocol") -> None:
        self.id = id
        self.command = command
        self.step = step
        self.line = line
        self.status = status
        self.plan: list[Segment] | None = None
        self.done = 0
        self.deadline: float | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.completed_at: float | None = None
        self.origin = origin  # or "cleanup"

    def __repr__(self) -> str:
        return f"CommandEntry(id={self.id}, command={self.command!r}, status={self.status!r})"


class StepJournal:
    """The commands of the step in progress, as far as resuming it needs them.

    While every command of the step is reversible, all of them, in order: an immediate
    pause rewinds the step by running their moves again. Once an irreversible command
    (one that touches liquid or tips) has started, the step is never rewound, so only the
    newest is kept: a step of a million commands (a transfer of litres) holds one.
    """

    __slots__ = ("entries", "last", "rewindable")

    def __init__(self) -> None:
        self.entries: list[CommandEntry] = []  # every command so far, while rewindable
        self.last: CommandEntry | None = None  # the newest command of the step
        self.rewindable = True  # no irreversible command of the step has started

    def add(self, entry: CommandEntry, *, tip_down: bool = False) -> None:
        """The step's next command, about to start; ``tip_down``: it is a move, and a tip
        may be in a well as it starts (``RobotModel.tip_down``).

        A move that leaves a well ends the rewinding as an irreversible command does: a
        rewind would return the tip to that well after it had been in the next one (the
        previous call's source, entered again after the destination). So does a command
        that made way for a module (``Command.rewind_barrier``).
        """
        self.last = entry
        if self.rewindable:
            command = entry.command
            if command.reversible and not tip_down and not command.rewind_barrier:
                self.entries.append(entry)
            else:
                self.rewindable = False
                self.entries.clear()


class ActionResult(Frozen):
    """The answer to an action: accepted or refused with a reason, and the status after."""

    __slots__ = ("accepted", "reason", "status")

    accepted: bool
    status: Status
    reason: str | None

    def __init__(self, accepted: bool, status: Status, reason: str | None = None) -> None:
        object.__setattr__(self, "accepted", accepted)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reason", reason)

    @property
    def success(self) -> bool:
        """Alias of ``accepted``, in the queue server's words."""
        return self.accepted
