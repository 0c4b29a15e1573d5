"""``delay``: wait on the run's clock."""

from __future__ import annotations

from attrs import frozen

from .base import Command, Execution


@frozen
class Delay(Command):
    """Wait; the deadline is fixed when the delay starts and time runs on during pauses."""

    kind = "delay"
    execution = Execution.WAIT
    seconds: float
    message: str | None = None
