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
import sysconfig
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
# The standard library (contextlib, threading) is never the caller a user means; code
# installed in its site-packages may be.
_STDLIB_DIR = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
_SITE_DIRS = ("site-packages", "dist-packages")


def is_library(filename: str) -> bool:
    """True for labrun's own files and the standard library's (never the user's code)."""
    if filename.startswith(_PACKAGE_DIRS):
        return True
    return filename.startswith(_STDLIB_DIR) and not any(d in filename for d in _SITE_DIRS)


class StepTracker:
    """Numbers steps and sends their commands."""

    def __init__(self, channel: CommandChannel, protocol_file: str | None = None) -> None:
        self.channel = channel
        self.protocol_file = os.path.abspath(protocol_file) if protocol_file else None
        self.depth = 0
        self.calls = 0  # API calls open: a call's own commands keep the line that made it
        self.index = -1
        self.step = StepRef(-1, "")
        self.line: str | None = None
        self.log: list[str] = []  # a line per command sent, for ctx.commands()

    def open(self, name: str, *, implicit: bool = False, call: bool = True) -> None:
        """Enter a step (a new one at top level).

        ``implicit``: no protocol line made it. ``call``: an API call (not a group);
        the commands of an outermost call carry the protocol line of that call, also
        inside a ``with ctx.step()`` group.
        """
        if self.depth == 0:
            self.index += 1
            self.step = StepRef(self.index, name)
        if self.calls == 0 and (call or self.depth == 0):
            self.line = None if implicit else self._caller_line()
        self.depth += 1
        self.calls += int(call)

    def close(self, *, call: bool = True) -> None:
        """Leave a step; at top level the robot is then at a checkpoint."""
        self.depth -= 1
        self.calls -= int(call)
        if self.depth == 0:
            self.channel.step_finished(self.index)

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """Everything inside is one step."""
        self.open(name, call=False)
        try:
            yield
        finally:
            self.close(call=False)

    def execute(self, command: Command) -> dict[str, Any]:
        """Send one command of the current step and wait for its result."""
        result = self.channel.execute(command, self.step, self.line)
        self.log.append(describe(command))
        return result

    def _caller_line(self) -> str | None:
        frame = sys._getframe(2)
        fallback = None
        while frame is not None:
            filename = frame.f_code.co_filename
            if self.protocol_file is not None and filename == self.protocol_file:
                return f"{filename}:{frame.f_lineno}"
            if fallback is None and not is_library(filename):
                fallback = f"{filename}:{frame.f_lineno}"
                if self.protocol_file is None:
                    return fallback
            frame = frame.f_back  # type: ignore[assignment]
        return fallback


_TEXT = {
    "aspirate": "Aspirating {volume:g} uL from {well} at {flow_rate:g} uL/sec",
    "dispense": "Dispensing {volume:g} uL into {well} at {flow_rate:g} uL/sec",
    "airGap": "Air gap of {volume:g} uL above {well}",
    "blowOut": "Blowing out at {well}",
    "touchTip": "Touching tip at {well}",
    "pickUpTip": "Picking up tip from {well}",
    "dropTip": "Dropping tip into {well}",
    "moveTo": "Moving to {well}",
    "comment": "{message}",
    "delay": "Delaying for {seconds:g} seconds",
    "waitForResume": "Pausing robot operation: {message}",
    "home": "Homing",
    "loadLabware": "Loading {load_name} in slot {slot}",
    "loadInstrument": "Loading {instrument_name} on the {mount} mount",
}


def describe(command: Command) -> str:
    """A line of text for the run log (``ctx.commands()``)."""
    params = command.params()
    text = _TEXT.get(command.kind)
    if text is not None:
        try:
            return text.format(**{k: "" if v is None else v for k, v in params.items()})
        except (KeyError, ValueError, TypeError):
            pass
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{command.kind}({shown})"


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
