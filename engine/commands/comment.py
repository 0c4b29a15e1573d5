"""``comment``: a message for the run log."""

from __future__ import annotations

from attrs import frozen

from .base import Command


@frozen
class Comment(Command):
    """A message for the run log."""

    kind = "comment"
    message: str
