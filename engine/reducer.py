"""The reducer: the only place a new run state is made.

``reduce(state, event)`` is pure. Events are the allowed actions (already checked by
``check_action``) and the engine's own observations (a checkpoint reached, parked,
a step started, an interlock changed, the protocol finished, the run ended).
"""

from __future__ import annotations

from hardware.frozen import Frozen, replace

from .actions import Abort, Action, BaseAction, Halt, Pause, Play, Resume, SkipDelay, Stop
from .compat import assert_never
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


class EngineEvent(Frozen):
    """Base of what the engine observes and reports to the reducer."""

    __slots__ = ()


class CheckpointReached(EngineEvent):
    """A step boundary: a pending deferred pause takes effect here."""

    __slots__ = ()


class ProtocolPaused(EngineEvent):
    """``ctx.pause(msg)`` reached."""

    __slots__ = ("message",)

    message: str | None

    def __init__(self, message: str | None = None) -> None:
        object.__setattr__(self, "message", message)


class ParkChanged(EngineEvent):
    """Parking progressed."""

    __slots__ = ("in_place", "over_well", "park")

    park: Park
    over_well: bool  # parked: a tip holding liquid waits over the deck, not clear of it
    in_place: bool  # parked: an interlock held the axes where they stopped, not lifted

    def __init__(self, park: Park, over_well: bool = False, in_place: bool = False) -> None:
        object.__setattr__(self, "park", park)
        object.__setattr__(self, "over_well", over_well)
        object.__setattr__(self, "in_place", in_place)


class StepStarted(EngineEvent):
    """A new step began."""

    __slots__ = ("step",)

    step: StepInfo

    def __init__(self, step: StepInfo) -> None:
        object.__setattr__(self, "step", step)


class DelayStarted(EngineEvent):
    """A delay began (or resumed after a pause, with the same deadline)."""

    __slots__ = ("delay",)

    delay: DelayInfo

    def __init__(self, delay: DelayInfo) -> None:
        object.__setattr__(self, "delay", delay)


class DelayEnded(EngineEvent):
    """The active delay ended."""

    __slots__ = ()


class ModuleWaitChanged(EngineEvent):
    """The run began (``waiting``) or ended waiting for a module."""

    __slots__ = ("waiting",)

    waiting: bool

    def __init__(self, waiting: bool) -> None:
        object.__setattr__(self, "waiting", waiting)


class InterlockChanged(EngineEvent):
    """An interlock became active or cleared."""

    __slots__ = ("active", "name")

    name: str
    active: bool

    def __init__(self, name: str, active: bool) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "active", active)


class RunFailing(EngineEvent):
    """A protocol error or a hardware fault: the run cleans up as for abort, then fails."""

    __slots__ = ("location", "reason")

    reason: str
    location: str | None

    def __init__(self, reason: str, location: str | None = None) -> None:
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "location", location)


class ProtocolFinished(EngineEvent):
    """The protocol returned; the run is finishing."""

    __slots__ = ()


class RunEnded(EngineEvent):
    """The run reached its terminal status."""

    __slots__ = ("outcome",)

    outcome: Outcome

    def __init__(self, outcome: Outcome) -> None:
        object.__setattr__(self, "outcome", outcome)


_END_KIND = {Stop: EndKind.STOP, Abort: EndKind.ABORT, Halt: EndKind.HALT}
_IDLE_OUTCOME = {EndKind.STOP: Status.STOPPED, EndKind.ABORT: Status.ABORTED,
                 EndKind.HALT: Status.HALTED}


def reduce(state: RunState, event: Action | EngineEvent) -> RunState:
    """The state after ``event``."""
    if type(event) is StepStarted:  # the common case, once per step
        return replace(state, step=event.step)
    if isinstance(event, BaseAction):
        return _reduce_action(state, event)
    return _reduce_engine_event(state, event)


def _reduce_action(state: RunState, action: Action) -> RunState:
    match action:
        case Play():
            return replace(state, started=True)
        case Pause():
            return _pause(state, PauseRequest(PauseSource.CLIENT, action.message,
                                              immediate=action.option == "immediate",
                                              requester=action.source))
        case Resume():
            return replace(state, pause=None)
        case Stop() | Abort() | Halt():
            kind = _END_KIND[type(action)]
            reason = action.reason if isinstance(action, (Abort, Stop)) else None
            if not state.started:
                return replace(state, outcome=Outcome(_IDLE_OUTCOME[kind], reason=reason))
            if state.ending is not None and (
                    state.ending.kind is EndKind.HALT or kind is state.ending.kind
                    or (state.ending.kind is EndKind.FAIL and kind is not EndKind.HALT)):
                return state  # a halt wins; a failure keeps its error through an abort
            return replace(state, ending=Ending(kind, reason), pending=None, pause=None)
        case SkipDelay():
            assert state.delay is not None
            return replace(state, delay=replace(state.delay, skipped=True))
        case unknown:
            assert_never(unknown)


def _pause(state: RunState, request: PauseRequest) -> RunState:
    """A client pause: pending until a checkpoint, or now."""
    if state.pause is not None:  # already pausing or paused
        if state.pause.source is PauseSource.INTERLOCK and (
                state.pending is None or not state.pending.immediate):
            # Asked while the run stands still already: it holds the run now, deferred
            # or not (in place of a deferred one pending from before the door opened).
            held = replace(request, immediate=True)
            if not state.interlocks:
                # Cleared already, and maybe about to resume by itself: the person's
                # pause holds the run from now on (no resume, no motion in between).
                return replace(state, pause=held, pending=None)
            # Held for when the interlock clears: it is a person's pause then, which
            # an interlock that resumes by itself does not end.
            return replace(state, pending=held)
        return state
    if request.immediate or state.delay is not None or state.module_wait:
        # Nothing moves during a delay or a module's wait (a temperature, a profile), so
        # even a deferred pause takes effect at once.
        return replace(state, pause=request, pending=None)
    if state.pending is not None:
        return state
    return replace(state, pending=request)


def _reduce_engine_event(state: RunState, event: EngineEvent) -> RunState:
    if isinstance(event, CheckpointReached):
        if state.pending is None or state.pause is not None:
            return state
        return replace(state, pause=state.pending, pending=None)
    if isinstance(event, ProtocolPaused):
        # A pending deferred pause is satisfied by this pause at the same checkpoint (as
        # is a client's just taken there): the record says whom it answers too.
        answered = state.pending or (state.pause if state.pause is not None and
                                     state.pause.source is PauseSource.CLIENT else None)
        also_for = (answered.requester or answered.source.value) if answered else None
        return replace(state, pause=PauseRequest(PauseSource.PROTOCOL, event.message,
                                                 also_for=also_for), pending=None)
    if isinstance(event, ParkChanged):
        if event.park is Park.PARKED:
            return replace(state, park=event.park, held_over_well=event.over_well,
                           held_in_place=event.in_place)
        unparking = event.park is Park.UNPARKING  # (where it was parked, until it is off)
        return replace(state, park=event.park, held_over_well=state.held_over_well and unparking,
                       held_in_place=state.held_in_place and unparking)
    if isinstance(event, StepStarted):
        return replace(state, step=event.step)
    if isinstance(event, DelayStarted):
        if state.pending is not None and state.pause is None:
            # Nothing moves in a delay: a pause asked for earlier in the step (a group
            # that closes a lid, then waits) is taken now, as one asked for during it is.
            return replace(state, delay=event.delay, pause=state.pending, pending=None)
        return replace(state, delay=event.delay)
    if isinstance(event, DelayEnded):
        return replace(state, delay=None)
    if isinstance(event, ModuleWaitChanged):
        if event.waiting and state.pending is not None and state.pause is None:
            # Nothing moves while it waits: a pause asked for earlier in the step (while
            # the target was set) is taken now, as one asked for during the wait is.
            return replace(state, module_wait=True, pause=state.pending, pending=None)
        return replace(state, module_wait=event.waiting)
    if isinstance(event, InterlockChanged):
        return _interlock(state, event)
    if isinstance(event, RunFailing):
        if state.outcome is not None:  # ended already: its outcome stands
            return state
        if not state.started:  # the robot could not be made ready: no cleanup to do
            return replace(state, outcome=Outcome(Status.FAILED, error=event.reason,
                                                  location=event.location))
        if state.ending is not None and state.ending.kind in (EndKind.HALT, EndKind.FAIL):
            return state  # a halt wins; the first failure is the one reported
        return replace(state, ending=Ending(EndKind.FAIL, event.reason, event.location),
                      pending=None, pause=None)
    if isinstance(event, ProtocolFinished):
        return replace(state, finishing=True, pending=None,
                      pause_unresolved=state.pause_unresolved or state.pending is not None)
    if isinstance(event, RunEnded):
        return replace(state, outcome=event.outcome, delay=None)
    raise TypeError(f"not an engine event: {event!r}")


def _interlock(state: RunState, event: InterlockChanged) -> RunState:
    interlocks = (state.interlocks | {event.name} if event.active
                  else state.interlocks - {event.name})
    state = replace(state, interlocks=interlocks)
    if (event.active and state.pause is None and state.ending is None
            and state.started and not state.finishing and state.outcome is None):
        # A deferred pause someone asked for stays pending, to be taken at the next
        # checkpoint as ever: the door's pause, which may come mid-step, is not that
        # checkpoint, and the person's pause must not hold the run where the door did
        # (they would swap the plate mid-step); nor does the door's resume drop it.
        request = PauseRequest(PauseSource.INTERLOCK, f"interlock {event.name} is active",
                               immediate=True)
        state = replace(state, pause=request)
    elif (not event.active and state.pause is not None
          and state.pause.source is PauseSource.INTERLOCK):
        if not interlocks and state.pending is not None and state.pending.immediate:
            # asked while the door held the run: a person's pause now
            return replace(state, pause=state.pending, pending=None)
        # Say what holds the run now: the interlocks still active, or nothing but a resume.
        message = (f"interlock {', '.join(sorted(interlocks))} is active" if interlocks
                   else f"interlock {event.name} has cleared; resume to continue")
        state = replace(state, pause=replace(state.pause, message=message))
    return state
