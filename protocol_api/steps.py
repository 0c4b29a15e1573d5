"""Steps: one top-level protocol call, or a ``with ctx.step(name):`` group (DESIGN.md §4).

``StepTracker`` numbers the steps, knows the protocol line that opened the current
one, and hands commands to the engine through the channel. The ``api_step`` decorator
makes a public API method a step when it is called at top level; calls it makes
internally (``transfer`` calling ``aspirate``) stay in the same step.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

from engine.channel import CommandChannel, StepRef
from engine.commands import Command

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__ or "")) + os.sep
    for m in (sys.modules["engine"], sys.modules[__name__.rsplit(".", 1)[0]])
)


class StepTracker:
    """Numbers steps and sends their commands."""

    def __init__(self, channel: CommandChannel, protocol_file: str | None = None) -> None:
        self.channel = channel
        self.protocol_file = os.path.abspath(protocol_file) if protocol_file else None
        self.depth = 0
        self.index = -1
        self.step = StepRef(-1, "")
        self.line: str | None = None

    def open(self, name: str) -> None:
        """Enter a step (a new one at top level)."""
        if self.depth == 0:
            self.index += 1
            self.step = StepRef(self.index, name)
            self.line = self._caller_line()
        self.depth += 1

    def close(self) -> None:
        """Leave a step; at top level the robot is then at a checkpoint."""
        self.depth -= 1
        if self.depth == 0:
            self.channel.step_finished(self.index)

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """Everything inside is one step."""
        self.open(name)
        try:
            yield
        finally:
            self.close()

    def execute(self, command: Command) -> dict[str, Any]:
        """Send one command of the current step and wait for its result."""
        return self.channel.execute(command, self.step, self.line)

    def _caller_line(self) -> str | None:
        frame = sys._getframe(2)
        fallback = None
        while frame is not None:
            filename = frame.f_code.co_filename
            if self.protocol_file is not None and filename == self.protocol_file:
                return f"{filename}:{frame.f_lineno}"
            if fallback is None and not filename.startswith(_PACKAGE_DIRS):
                fallback = f"{filename}:{frame.f_lineno}"
                if self.protocol_file is None:
                    return fallback
            frame = frame.f_back  # type: ignore[assignment]
        return fallback


class _HasSteps(Protocol):
    @property
    def _steps(self) -> StepTracker: ...


def api_step(name: str) -> Callable[[F], F]:
    """Make a public API method one step when called at top level."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: _HasSteps, *args: Any, **kwargs: Any) -> Any:
            steps = self._steps
            steps.open(name)
            try:
                return method(self, *args, **kwargs)
            finally:
                steps.close()

        return cast(F, wrapper)

    return decorate
