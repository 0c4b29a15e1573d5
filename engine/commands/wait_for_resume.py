"""``waitForResume``: ``ctx.pause(msg)``."""

from __future__ import annotations

from .base import Command, Execution


class WaitForResume(Command):
    """``ctx.pause(msg)``: a checkpoint where the run parks and waits for resume."""

    __slots__ = ("message",)

    kind = "waitForResume"
    execution = Execution.CHECKPOINT
    message: str | None

    def __init__(self, message: str | None = None) -> None:
        object.__setattr__(self, "message", message)

    def pause_message(self) -> str | None:
        return self.message
