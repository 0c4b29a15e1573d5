"""Actions from outside the run, and the one guard that decides whether each is allowed.

``check_action`` is the table of DESIGN.md §3 in code: it returns None when the action
is allowed in the current state, or the reason it is refused. A refused action changes
nothing.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen
from typing_extensions import assert_never

from .state import RunState, Status, status_of

PauseOption = Literal["deferred", "immediate"]


@frozen
class BaseAction:
    """Base of the actions; ``source`` says who asked (client, terminal, http, ...)."""

    source: str = "client"

    @property
    def name(self) -> str:
        """The action's name as the control surfaces spell it."""
        return _NAMES[type(self)]


@frozen
class Play(BaseAction):
    """Start the run."""


@frozen
class Pause(BaseAction):
    """Pause at the next checkpoint (deferred) or now (immediate)."""

    option: PauseOption = "deferred"
    message: str | None = None


@frozen
class Resume(BaseAction):
    """Continue a paused run."""


@frozen
class Stop(BaseAction):
    """End the run cleanly; its result is ``stopped``, a success."""


@frozen
class Abort(BaseAction):
    """End the run with cleanup; its result is ``aborted`` with the reason."""

    reason: str | None = None


@frozen
class Halt(BaseAction):
    """Emergency stop; no cleanup motion; the robot must be homed afterwards."""


@frozen
class SkipDelay(BaseAction):
    """End the active delay now."""


Action = Play | Pause | Resume | Stop | Abort | Halt | SkipDelay
"""Every action: a closed union, handled with ``match`` and ``assert_never``."""

_NAMES: dict[type[BaseAction], str] = {
    Play: "play", Pause: "pause", Resume: "resume", Stop: "stop", Abort: "abort",
    Halt: "halt", SkipDelay: "skip_delay",
}

_ACTIVE = {Status.RUNNING, Status.PAUSING, Status.PAUSED}
_ENDING = {Status.STOPPING, Status.ABORTING, Status.FAILING, Status.FINISHING}


def check_action(state: RunState, action: Action) -> str | None:
    """None if ``action`` is allowed now, else the reason it is refused."""
    status = status_of(state)
    if status.is_terminal:
        return f"the run has already ended ({status.value})"
    match action:
        case Play():
            if status is not Status.IDLE:
                return f"the run has already started ({status.value})"
            if state.interlocks:
                return (f"interlock {_names(state.interlocks)} is active; "
                        "clear it before starting")
            return None
        case Pause():
            if status in (Status.RUNNING, Status.PAUSING):
                return None
            return f"cannot pause while {status.value}"
        case Resume():
            if status is not Status.PAUSED:
                return f"cannot resume while {status.value}; only a paused run resumes"
            if state.interlocks:
                return (f"interlock {_names(state.interlocks)} is active; "
                        "resume is refused until it clears")
            return None
        case Stop():
            if status is Status.IDLE or status in _ACTIVE:
                return None
            return f"cannot stop while {status.value}"
        case Abort():
            if status is Status.IDLE or status in _ACTIVE or status in _ENDING:
                return None
            return f"cannot abort while {status.value}"
        case Halt():
            return None
        case SkipDelay():
            if state.delay is None or state.delay.skipped:
                return "no delay is active"
            if status in (Status.RUNNING, Status.PAUSED):
                return None
            return f"cannot skip the delay while {status.value}"
        case unknown:
            assert_never(unknown)


def _names(interlocks: frozenset[str]) -> str:
    return ", ".join(sorted(interlocks))
