"""The protocol's requests waiting for the engine loop, and the one in progress."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .channel import CommandChannel, CommandRequest, ProtocolDone, Request
from .errors import RunStopped


class Inbox:
    """Requests delivered from the protocol thread, taken by the loop one at a time."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._queue: deque[Request] = deque()
        self.current: CommandRequest | None = None  # the command being carried out
        self.received = 0  # requests delivered so far (answered or not)
        self._finished = -1  # the last step the protocol has returned from

    def deliver(self, request: Request, closed: RunStopped | None) -> None:
        """Take a request; once the run is ending, a command is answered with ``closed``."""
        self.received += 1
        if closed is not None:
            if isinstance(request, CommandRequest):
                request.reply.fail(closed)
            return
        self._queue.append(request)
        self._wake()

    def take(self) -> CommandRequest | ProtocolDone | None:
        """The oldest waiting request, or None."""
        return self._queue.popleft() if self._queue else None

    def finished_step(self, channel: CommandChannel) -> int:
        """The last step the protocol has returned from (its notices taken from
        ``channel``)."""
        notices = channel.finished_steps
        while notices:
            self._finished = notices.popleft().index
        return self._finished

    @property
    def holding(self) -> bool:
        """True while a protocol call waits on the engine: in progress, paused in it, or
        queued behind a pause."""
        if self.current is not None and not self.current.reply.done:
            return True
        return any(isinstance(r, CommandRequest) for r in self._queue)

    def close(self, channel: CommandChannel, error: RunStopped) -> None:
        """Close ``channel``: every call the protocol waits on or makes from now on raises
        its ending's ``error`` (the first one given)."""
        if channel.closed_error is None:
            channel.closed_error = error
        error = channel.closed_error
        if self.current is not None and not self.current.reply.done:
            self.current.reply.fail(error)
        while self._queue:
            request = self._queue.popleft()
            if isinstance(request, CommandRequest):
                request.reply.fail(error)
