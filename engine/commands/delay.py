"""``delay``: wait on the run's clock."""

from __future__ import annotations

from .base import Command, Execution


class Delay(Command):
    """Wait; the deadline is fixed when the delay starts and time runs on during pauses."""

    __slots__ = ("message", "seconds")

    kind = "delay"
    execution = Execution.WAIT
    seconds: float
    message: str | None

    def __init__(self, seconds: float, message: str | None = None) -> None:
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "message", message)
