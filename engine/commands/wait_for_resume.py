"""``waitForResume``: ``ctx.pause(msg)``."""

from __future__ import annotations

from attrs import frozen

from .base import Command, Execution


@frozen
class WaitForResume(Command):
    """``ctx.pause(msg)``: a checkpoint where the run parks and waits for resume."""

    kind = "waitForResume"
    execution = Execution.CHECKPOINT
    message: str | None = None
