"""The run state: a small frozen value, and the status derived from it by a pure function.

Only the reducer (``engine.reducer.reduce``) makes new states; the engine loop holds
the current one. Nothing about the run's status is stored beside it.
"""

from __future__ import annotations

import enum

from hardware.frozen import Frozen


class Status(str, enum.Enum):
    """The run statuses of docs/design.md §3."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    STOPPING = "stopping"
    ABORTING = "aborting"
    FAILING = "failing"
    HALTING = "halting"
    FINISHING = "finishing"
    SUCCEEDED = "succeeded"
    STOPPED = "stopped"
    ABORTED = "aborted"
    HALTED = "halted"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """True for the statuses a run never leaves."""
        return self in TERMINAL


TERMINAL = frozenset({Status.SUCCEEDED, Status.STOPPED, Status.ABORTED, Status.HALTED,
                      Status.FAILED})


class PauseSource(str, enum.Enum):
    """Who paused the run."""

    PROTOCOL = "protocol"
    CLIENT = "client"
    INTERLOCK = "interlock"


class Park(str, enum.Enum):
    """Where parking stands: not parked, parking, parked, unparking."""

    NONE = "none"
    PARKING = "parking"
    PARKED = "parked"
    UNPARKING = "unparking"


class EndKind(str, enum.Enum):
    """How a run is being ended: on request, or by a protocol error or a fault."""

    STOP = "stop"
    ABORT = "abort"
    HALT = "halt"
    FAIL = "fail"


class PauseRequest(Frozen):
    """A pause asked for (pending) or in effect; ``requester``, for a client's pause, is
    where it was asked from (the action's source: ``terminal``, ``remote``, ``rehearsal``);
    ``also_for``, for the protocol's pause, who else it answers (a client's pause that
    was to be taken at the same checkpoint: one pause holds the run for both)."""

    __slots__ = ("also_for", "immediate", "message", "requester", "source")

    source: PauseSource
    message: str | None
    immediate: bool
    requester: str | None
    also_for: str | None

    def __init__(self, source: PauseSource, message: str | None = None,
                 immediate: bool = False, requester: str | None = None,
                 also_for: str | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "immediate", immediate)
        object.__setattr__(self, "requester", requester)
        object.__setattr__(self, "also_for", also_for)


class Ending(Frozen):
    """A stop, abort, halt or failure in progress (a failure's reason is its error)."""

    __slots__ = ("kind", "location", "reason")

    kind: EndKind
    reason: str | None
    location: str | None  # protocol file:line of a failure

    def __init__(self, kind: EndKind, reason: str | None = None,
                 location: str | None = None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "location", location)


class Outcome(Frozen):
    """How the run ended: its terminal status, with the reason or error."""

    __slots__ = ("error", "location", "reason", "status")

    status: Status
    reason: str | None
    error: str | None
    location: str | None  # protocol file:line, for failures

    def __init__(self, status: Status, reason: str | None = None, error: str | None = None,
                 location: str | None = None) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "location", location)


class StepInfo(Frozen):
    """A step: a top-level protocol call or a ``ctx.step`` group, by its number and name.
    Each command carries the one it belongs to; the run state holds the one in progress."""

    __slots__ = ("index", "name")

    index: int
    name: str

    def __init__(self, index: int, name: str) -> None:
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "name", name)


class DelayInfo(Frozen):
    """An active delay: its deadline on the run's clock."""

    __slots__ = ("deadline", "message", "seconds", "skipped")

    deadline: float
    seconds: float
    message: str | None
    skipped: bool

    def __init__(self, deadline: float, seconds: float, message: str | None = None,
                 skipped: bool = False) -> None:
        object.__setattr__(self, "deadline", deadline)
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "skipped", skipped)


class RunState(Frozen):
    """Everything the run status is computed from."""

    __slots__ = ("delay", "ending", "finishing", "held_in_place", "held_over_well", "interlocks",
                 "module_wait", "outcome", "park", "pause", "pause_unresolved", "pending",
                 "started", "step")

    started: bool
    pending: PauseRequest | None
    pause: PauseRequest | None
    park: Park
    ending: Ending | None
    finishing: bool
    outcome: Outcome | None
    interlocks: frozenset[str]
    step: StepInfo | None
    delay: DelayInfo | None
    pause_unresolved: bool
    module_wait: bool  # the run waits for a module (a temperature, a profile): no motion
    held_over_well: bool  # parked with a tip that holds liquid over the deck, not clear
    held_in_place: bool  # parked where the axes stopped: an interlock let nothing move

    def __init__(self, started: bool = False, pending: PauseRequest | None = None,
                 pause: PauseRequest | None = None, park: Park = Park.NONE,
                 ending: Ending | None = None, finishing: bool = False,
                 outcome: Outcome | None = None, interlocks: frozenset[str] = frozenset(),
                 step: StepInfo | None = None, delay: DelayInfo | None = None,
                 pause_unresolved: bool = False, module_wait: bool = False,
                 held_over_well: bool = False, held_in_place: bool = False) -> None:
        object.__setattr__(self, "started", started)
        object.__setattr__(self, "pending", pending)
        object.__setattr__(self, "pause", pause)
        object.__setattr__(self, "park", park)
        object.__setattr__(self, "ending", ending)
        object.__setattr__(self, "finishing", finishing)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "interlocks", interlocks)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "delay", delay)
        object.__setattr__(self, "pause_unresolved", pause_unresolved)
        object.__setattr__(self, "module_wait", module_wait)
        object.__setattr__(self, "held_over_well", held_over_well)
        object.__setattr__(self, "held_in_place", held_in_place)


_ENDING_STATUS = {EndKind.STOP: Status.STOPPING, EndKind.ABORT: Status.ABORTING,
                  EndKind.HALT: Status.HALTING, EndKind.FAIL: Status.FAILING}


def status_of(state: RunState) -> Status:
    """The run status: a pure function of the state."""
    if state.outcome is not None:
        return state.outcome.status
    if state.ending is not None:
        return _ENDING_STATUS[state.ending.kind]
    if state.finishing:
        return Status.FINISHING
    if state.pause is not None:
        return Status.PAUSED if state.park is Park.PARKED else Status.PAUSING
    if state.started:
        return Status.RUNNING
    return Status.IDLE
