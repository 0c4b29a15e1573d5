"""The reducer: the only place a new run state is made.

``reduce(state, event)`` is pure. Events are the allowed actions (already checked by
``check_action``) and the engine's own observations (a checkpoint reached, parked,
a step started, an interlock changed, the protocol finished, the run ended).
"""

from __future__ import annotations

from attrs import evolve, frozen
from typing_extensions import assert_never

from .actions import Abort, Action, BaseAction, Halt, Pause, Play, Resume, SkipDelay, Stop
from .state import (
    DelayInfo,
    Ending,
    EndKind,
    Outcome,
    Park,
    PauseRequest,
    PauseSource,
    RunState,
    Status,
    StepInfo,
)


@frozen
class EngineEvent:
    """Base of what the engine observes and reports to the reducer."""


@frozen
class CheckpointReached(EngineEvent):
    """A step boundary: a pending deferred pause takes effect here."""


@frozen
class ProtocolPaused(EngineEvent):
    """``ctx.pause(msg)`` reached."""

    message: str | None = None


@frozen
class ParkChanged(EngineEvent):
    """Parking progressed."""

    park: Park


@frozen
class StepStarted(EngineEvent):
    """A new step began."""

    step: StepInfo


@frozen
class DelayStarted(EngineEvent):
    """A delay began (or resumed after a pause, with the same deadline)."""

    delay: DelayInfo


@frozen
class DelayEnded(EngineEvent):
    """The active delay ended."""


@frozen
class InterlockChanged(EngineEvent):
    """An interlock became active or cleared."""

    name: str
    active: bool


@frozen
class RunFailing(EngineEvent):
    """A protocol error or a hardware fault: the run cleans up as for abort, then fails."""

    reason: str
    location: str | None = None


@frozen
class ProtocolFinished(EngineEvent):
    """The protocol returned; the run is finishing."""


@frozen
class RunEnded(EngineEvent):
    """The run reached its terminal status."""

    outcome: Outcome


_END_KIND = {Stop: EndKind.STOP, Abort: EndKind.ABORT, Halt: EndKind.HALT}
_IDLE_OUTCOME = {EndKind.STOP: Status.STOPPED, EndKind.ABORT: Status.ABORTED,
                 EndKind.HALT: Status.HALTED}


def reduce(state: RunState, event: Action | EngineEvent) -> RunState:
    """The state after ``event``."""
    if type(event) is StepStarted:  # the common case, once per step
        return evolve(state, step=event.step)
    if isinstance(event, BaseAction):
        return _reduce_action(state, event)
    return _reduce_engine_event(state, event)


def _reduce_action(state: RunState, action: Action) -> RunState:
    match action:
        case Play():
            return evolve(state, started=True)
        case Pause():
            return _pause(state, PauseRequest(PauseSource.CLIENT, action.message,
                                              immediate=action.option == "immediate"))
        case Resume():
            return evolve(state, pause=None)
        case Stop() | Abort() | Halt():
            kind = _END_KIND[type(action)]
            reason = action.reason if isinstance(action, Abort) else None
            if not state.started:
                return evolve(state, outcome=Outcome(_IDLE_OUTCOME[kind], reason=reason))
            if state.ending is not None and (
                    state.ending.kind is EndKind.HALT or kind is state.ending.kind
                    or (state.ending.kind is EndKind.FAIL and kind is not EndKind.HALT)):
                return state  # a halt wins; a failure keeps its error through an abort
            return evolve(state, ending=Ending(kind, reason), pending=None, pause=None)
        case SkipDelay():
            assert state.delay is not None
            return evolve(state, delay=evolve(state.delay, skipped=True))
        case unknown:
            assert_never(unknown)


def _pause(state: RunState, request: PauseRequest) -> RunState:
    """A client pause: pending until a checkpoint, or now."""
    if state.pause is not None:  # already pausing or paused: no change
        return state
    if request.immediate or state.delay is not None:
        # Nothing moves during a delay, so even a deferred pause takes effect at once.
        return evolve(state, pause=request, pending=None)
    if state.pending is not None:
        return state
    return evolve(state, pending=request)


def _reduce_engine_event(state: RunState, event: EngineEvent) -> RunState:
    if isinstance(event, CheckpointReached):
        if state.pending is None or state.pause is not None:
            return state
        return evolve(state, pause=state.pending, pending=None)
    if isinstance(event, ProtocolPaused):
        # A pending deferred pause is satisfied by this pause at the same checkpoint.
        return evolve(state, pause=PauseRequest(PauseSource.PROTOCOL, event.message),
                      pending=None)
    if isinstance(event, ParkChanged):
        return evolve(state, park=event.park)
    if isinstance(event, StepStarted):
        return evolve(state, step=event.step)
    if isinstance(event, DelayStarted):
        return evolve(state, delay=event.delay)
    if isinstance(event, DelayEnded):
        return evolve(state, delay=None)
    if isinstance(event, InterlockChanged):
        return _interlock(state, event)
    if isinstance(event, RunFailing):
        if state.ending is not None and state.ending.kind in (EndKind.HALT, EndKind.FAIL):
            return state  # a halt wins; the first failure is the one reported
        return evolve(state, ending=Ending(EndKind.FAIL, event.reason, event.location),
                      pending=None, pause=None)
    if isinstance(event, ProtocolFinished):
        return evolve(state, finishing=True, pending=None,
                      pause_unresolved=state.pause_unresolved or state.pending is not None)
    if isinstance(event, RunEnded):
        return evolve(state, outcome=event.outcome, delay=None)
    raise TypeError(f"not an engine event: {event!r}")


def _interlock(state: RunState, event: InterlockChanged) -> RunState:
    interlocks = (state.interlocks | {event.name} if event.active
                  else state.interlocks - {event.name})
    state = evolve(state, interlocks=interlocks)
    if (event.active and state.pause is None and state.ending is None
            and state.started and not state.finishing and state.outcome is None):
        request = PauseRequest(PauseSource.INTERLOCK, f"interlock {event.name} is active",
                               immediate=True)
        state = evolve(state, pause=request, pending=None)
    return state
