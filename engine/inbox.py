"""The protocol's requests waiting for the engine loop, and the one in progress."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from .channel import CommandChannel, CommandRequest, Request
from .errors import RunStopped


class Inbox:
    """Requests delivered from the protocol thread, taken by the loop one at a time."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self.waiting: deque[Request] = deque()  # the oldest first: the loop pops it
        self.current: CommandRequest | None = None  # the command being carried out

    def deliver(self, requests: Sequence[Request], closed: RunStopped | None) -> None:
        """Take requests (an API call's commands together: one wake-up); once the run is
        ending, a command is answered with ``closed``."""
        if closed is not None:
            for request in requests:
                if isinstance(request, CommandRequest):
                    request.reply.fail(closed)
            return
        self.waiting.extend(requests)
        self._wake()

    def finished_step(self, channel: CommandChannel) -> int:
        """The last step the protocol has returned from."""
        return channel.finished_step

    def close(self, channel: CommandChannel, error: RunStopped) -> None:
        """Close ``channel``: every call the protocol waits on or makes from now on raises
        its ending's ``error`` (the first one given)."""
        if channel.closed_error is None:
            channel.closed_error = error
        error = channel.closed_error
        if self.current is not None and not self.current.reply.done:
            self.current.reply.fail(error)
        while self.waiting:
            request = self.waiting.popleft()
            if isinstance(request, CommandRequest):
                request.reply.fail(error)
