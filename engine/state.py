"""The run state: a small frozen value, and the status derived from it by a pure function.

Only the reducer (``engine.reducer.reduce``) makes new states; the engine loop holds
the current one. Nothing about the run's status is stored beside it.
"""

from __future__ import annotations

import enum

from attrs import frozen


class Status(str, enum.Enum):
    """The run statuses of DESIGN.md §3."""

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


@frozen
class PauseRequest:
    """A pause asked for (pending) or in effect."""

    source: PauseSource
    message: str | None = None
    immediate: bool = False


@frozen
class Ending:
    """A stop, abort, halt or failure in progress (a failure's reason is its error)."""

    kind: EndKind
    reason: str | None = None
    location: str | None = None  # protocol file:line of a failure


@frozen
class Outcome:
    """How the run ended: its terminal status, with the reason or error."""

    status: Status
    reason: str | None = None
    error: str | None = None
    location: str | None = None  # protocol file:line, for failures


@frozen
class StepInfo:
    """The step in progress."""

    index: int
    name: str


@frozen
class DelayInfo:
    """An active delay: its deadline on the run's clock."""

    deadline: float
    seconds: float
    message: str | None = None
    skipped: bool = False


@frozen
class RunState:
    """Everything the run status is computed from."""

    started: bool = False
    pending: PauseRequest | None = None
    pause: PauseRequest | None = None
    park: Park = Park.NONE
    ending: Ending | None = None
    finishing: bool = False
    outcome: Outcome | None = None
    interlocks: frozenset[str] = frozenset()
    step: StepInfo | None = None
    delay: DelayInfo | None = None
    pause_unresolved: bool = False


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
