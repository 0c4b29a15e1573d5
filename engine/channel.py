"""The protocol's side of the bridge: commands in, results out, one at a time.

``CommandChannel.execute`` is what every protocol call ends in: it hands a command to
the engine loop and blocks its thread until the engine has finished it (or until the
run is resumed, when the command paused it). Once the run is ending, every call raises
at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from hardware.frozen import Frozen

from .bridge import LoopCaller, LoopClosedError, Reply
from .commands import Command
from .errors import RunStopped
from .state import StepInfo


class CommandRequest:
    """A command from the protocol thread, with the reply it waits on."""

    __slots__ = ("command", "line", "reply", "sender", "step")

    def __init__(self, command: Command, step: StepInfo, reply: Reply[dict[str, Any]],
                 line: str | None, sender: int) -> None:
        self.command = command
        self.step = step
        self.reply = reply
        self.line = line  # protocol file:line that made the call
        self.sender = sender  # the thread (its ident) that waits for the reply


class ProtocolDone(Frozen):
    """The protocol function returned (error None) or raised."""

    __slots__ = ("error", "location")

    error: str | None
    location: str | None

    def __init__(self, error: str | None = None, location: str | None = None) -> None:
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "location", location)


Request = CommandRequest | ProtocolDone


class CommandChannel:
    """Hands protocol commands to the engine loop and waits for their results."""

    def __init__(self, caller: LoopCaller,
                 deliver: Callable[[Sequence[Request]], None],
                 interlocks: Callable[[], frozenset[str]] = frozenset) -> None:
        self._caller = caller
        self._deliver = deliver
        self._interlocks = interlocks
        self.closed_error: RunStopped | None = None
        self.finished_step = -1  # the last step the protocol has returned from
        self.requests_sent = 0
        self.end_raised = False  # a call of the protocol has raised the run's end to it

    def step_finished(self, index: int) -> None:
        """The protocol has returned from step ``index``: the robot is at a checkpoint.

        A notice the engine reads when it needs it (a pause landing before the next call
        is then a checkpoint, not a pause inside the step): one atomic assignment, with
        no wake-up of the engine's loop and nothing kept per step.
        """
        self.finished_step = index

    @property
    def interlocks(self) -> frozenset[str]:
        """The interlocks (``door``, ...) active now, as the engine last heard: read from
        its current state, which is never changed, only replaced; no wait for the loop."""
        return self._interlocks()

    def execute(self, command: Command, step: StepInfo, line: str | None = None) -> dict[str, Any]:
        """Run ``command`` and return its result; raises ``RunStopped`` once the run ends."""
        return next(self.execute_all([(command, step, line)]))

    def execute_all(self, batch: Sequence[tuple[Command, StepInfo, str | None]],
                    ) -> Iterator[dict[str, Any]]:
        """The results of the commands of ``batch``, in order: the commands are handed to
        the engine together when the first result is asked for, and each result is waited
        for as it is asked for; the first command that failed raises there (``RunStopped``
        once the run ends), and the engine takes none after it.

        The engine carries them out one by one, exactly as if they came one at a time;
        handed over together they cost one wake-up of its loop instead of one each.
        """
        if self.closed_error is not None:
            self.end_raised = True
            raise self.closed_error
        if self._caller.in_loop_thread():  # it would wait for itself forever
            raise RuntimeError("a protocol call was made from the engine loop's own thread")
        sender = threading.get_ident()
        # a loop and a partial: no call of their own, as a comprehension (before Python
        # 3.12) and a lambda would be, on every API call's hand-off
        requests: list[CommandRequest] = []
        for command, step, line in batch:
            requests.append(CommandRequest(command, step, Reply(), line, sender))
        self.requests_sent += len(requests)

        try:
            self._caller.submit(partial(self._deliver, requests))
        except LoopClosedError:
            self.end_raised = True
            raise self.closed_error or RunStopped("the run has ended") from None
        for request in requests:
            try:
                yield request.reply.wait()
            except RunStopped:
                self.end_raised = True
                raise

    def finish(self, error: str | None = None, location: str | None = None) -> None:
        """Tell the engine the protocol has returned (or raised ``error`` at ``location``)."""
        done = ProtocolDone(error, location)
        self.requests_sent += 1
        with contextlib.suppress(LoopClosedError):
            self._caller.submit(lambda: self._deliver((done,)))
