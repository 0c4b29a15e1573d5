"""What the engine keeps about each command of a run."""

from __future__ import annotations

from typing import Any

from attrs import define, frozen

from .channel import StepRef
from .commands import Command
from .segments import Segment
from .state import Status


@define(eq=False)
class CommandEntry:
    """One command of the run: its status, its motion plan and how far it got."""

    id: int
    command: Command
    step: StepRef
    line: str | None = None
    status: str = "queued"
    plan: list[Segment] | None = None
    done: int = 0
    deadline: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    interruptions: int = 0
    origin: str = "protocol"  # or "cleanup"


@frozen
class ActionResult:
    """The answer to an action: accepted or refused with a reason, and the status after."""

    accepted: bool
    status: Status
    reason: str | None = None

    @property
    def success(self) -> bool:
        """Alias of ``accepted``, in the queue server's words."""
        return self.accepted
