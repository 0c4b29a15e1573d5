"""``comment``: a message for the run log."""

from __future__ import annotations

from .base import Command


class Comment(Command):
    """A message for the run log."""

    __slots__ = ("message",)

    kind = "comment"
    message: str

    def __init__(self, message: str) -> None:
        object.__setattr__(self, "message", message)
