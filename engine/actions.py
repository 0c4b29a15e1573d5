"""Actions from outside the run, and the one guard that decides whether each is allowed.

``check_action`` is the table of docs/design.md §3 in code: it returns None when the action
is allowed in the current state, or the reason it is refused. A refused action changes
nothing.
"""

from __future__ import annotations

from typing import Literal

from hardware.frozen import Frozen

from .compat import assert_never
from .state import PauseSource, RunState, Status, status_of

PauseOption = Literal["deferred", "immediate"]
PAUSE_OPTIONS: tuple[PauseOption, ...] = ("deferred", "immediate")

BOARD = "board"
"""The source of an action a person asked for at the robot's own board (Marlin's LCD
menu, a button wired to the board), which the controller reports."""


class BaseAction(Frozen):
    """Base of the actions; ``source`` says who asked (client, terminal, http, ...)."""

    __slots__ = ("source",)

    source: str

    def __init__(self, source: str = "client") -> None:
        object.__setattr__(self, "source", source)

    @property
    def name(self) -> str:
        """The action's name as the control surfaces spell it."""
        return _NAMES[type(self)]


class Play(BaseAction):
    """Start the run."""

    __slots__ = ()


class Pause(BaseAction):
    """Pause at the next checkpoint (deferred) or now (immediate)."""

    __slots__ = ("message", "option")

    option: PauseOption
    message: str | None

    def __init__(self, source: str = "client", option: PauseOption = "deferred",
                 message: str | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "option", option)
        object.__setattr__(self, "message", message)


class Resume(BaseAction):
    """Continue a paused run."""

    __slots__ = ()


class Stop(BaseAction):
    """End the run cleanly; its result is ``stopped``, a success (with the reason, when
    one is given: a simulation's, for a run an interlock holds that nothing will clear)."""

    __slots__ = ("reason",)

    reason: str | None

    def __init__(self, source: str = "client", reason: str | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "reason", reason)


class Abort(BaseAction):
    """End the run with cleanup; its result is ``aborted`` with the reason."""

    __slots__ = ("reason",)

    reason: str | None

    def __init__(self, source: str = "client", reason: str | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "reason", reason)


class Halt(BaseAction):
    """Emergency stop; no cleanup motion; the robot must be homed afterwards. A
    ``reason`` (a rehearsal's, naming the protocol line) is said with the action in the
    record; the run's outcome keeps its own (an emergency stop not confirmed)."""

    __slots__ = ("reason",)

    reason: str | None

    def __init__(self, source: str = "client", reason: str | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "reason", reason)


class SkipDelay(BaseAction):
    """End the active delay now."""

    __slots__ = ()


Action = Play | Pause | Resume | Stop | Abort | Halt | SkipDelay
"""Every action: a closed union, handled with ``match`` and ``assert_never``."""

_NAMES: dict[type[BaseAction], str] = {
    Play: "play", Pause: "pause", Resume: "resume", Stop: "stop", Abort: "abort",
    Halt: "halt", SkipDelay: "skip_delay",
}

BY_NAME: dict[str, type[Action]] = {name: kind for kind, name in _NAMES.items()}  # type: ignore[misc]
"""Each action class by the name the control surfaces spell it."""

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
            if action.option not in PAUSE_OPTIONS:  # (an "Immediate" taken as deferred
                return (f"option must be 'deferred' or 'immediate', not "  # waits a step)
                        f"{action.option!r}")
            if status in (Status.RUNNING, Status.PAUSING):
                return None
            if state.pause is not None and state.pause.source is PauseSource.INTERLOCK:
                return None  # it holds the run once the interlock clears
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
