"""A snapshot of the run's status, as every control surface reports it (docs/design.md §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hardware.frozen import Frozen, asdict

from .state import Outcome, Park, PauseSource, RunState, Status, StepInfo, status_of

if TYPE_CHECKING:
    from .core import EngineCore


class DelayStatus(Frozen):
    """The active delay."""

    __slots__ = ("message", "remaining_s", "seconds", "skipped")

    message: str | None
    seconds: float
    remaining_s: float
    skipped: bool

    def __init__(self, message: str | None, seconds: float, remaining_s: float,
                 skipped: bool) -> None:
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "remaining_s", remaining_s)
        object.__setattr__(self, "skipped", skipped)


class RunStatusReport(Frozen):
    """The status with everything reported alongside it."""

    __slots__ = ("delay", "held_in_place", "held_over_well", "interlocks", "outcome", "parked",
                 "pause_also_for", "pause_from", "pause_message", "pause_pending", "pause_source",
                 "pause_unresolved", "position", "position_unknown", "resumes_when_clear", "status",
                 "step", "time", "unparking")

    status: Status
    pause_pending: bool
    pause_source: str | None
    pause_message: str | None
    pause_from: str | None  # a client's pause: where it was asked from (the action's source)
    parked: bool
    unparking: bool
    interlocks: tuple[str, ...]
    step: StepInfo | None
    delay: DelayStatus | None
    position: dict[str, float]
    pause_unresolved: bool
    outcome: Outcome | None
    time: float
    held_over_well: bool  # parked, but a tip holding liquid waits over the deck (mind it)
    pause_also_for: str | None  # the protocol's pause answers a client's too (where from)
    held_in_place: bool  # parked where it stopped, not lifted: an interlock let nothing move
    resumes_when_clear: bool  # held by interlocks that each resume the run once cleared
    position_unknown: str | None  # why ``position`` is empty: the controller cannot say

    def __init__(self, status: Status, pause_pending: bool, pause_source: str | None,
                 pause_message: str | None, parked: bool, unparking: bool,
                 interlocks: tuple[str, ...], step: StepInfo | None, delay: DelayStatus | None,
                 position: dict[str, float], pause_unresolved: bool, outcome: Outcome | None,
                 time: float, pause_from: str | None = None,
                 held_over_well: bool = False, pause_also_for: str | None = None,
                 held_in_place: bool = False, resumes_when_clear: bool = False,
                 position_unknown: str | None = None) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "pause_pending", pause_pending)
        object.__setattr__(self, "pause_source", pause_source)
        object.__setattr__(self, "pause_message", pause_message)
        object.__setattr__(self, "parked", parked)
        object.__setattr__(self, "unparking", unparking)
        object.__setattr__(self, "interlocks", interlocks)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "delay", delay)
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "pause_unresolved", pause_unresolved)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "pause_from", pause_from)
        object.__setattr__(self, "held_over_well", held_over_well)
        object.__setattr__(self, "pause_also_for", pause_also_for)
        object.__setattr__(self, "held_in_place", held_in_place)
        object.__setattr__(self, "resumes_when_clear", resumes_when_clear)
        object.__setattr__(self, "position_unknown", position_unknown)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        data = asdict(self)
        data["status"] = self.status.value
        if self.outcome is not None:
            data["outcome"]["status"] = self.outcome.status.value
        data["interlocks"] = list(self.interlocks)
        return data


def report(engine: EngineCore) -> RunStatusReport:
    """The engine's status now; safe to call from any thread: it reads only what the loop
    publishes by replacing it (the state, the position seen), never what it changes."""
    state = engine.state
    now = engine.clock.now()
    pause = state.pause
    # Read before the position: once it is set, the position seen is stale for good.
    unknown = engine.position_unknown
    delay = None
    if state.delay is not None:
        d = state.delay
        delay = DelayStatus(d.message, d.seconds, round(max(0.0, d.deadline - now), 6), d.skipped)
    return RunStatusReport(
        status=status_of(state),
        pause_pending=state.pending is not None,
        pause_source=pause.source.value if pause is not None else None,
        pause_message=pause.message if pause is not None else None,
        parked=state.park in (Park.PARKED, Park.UNPARKING),
        unparking=state.park is Park.UNPARKING,
        interlocks=tuple(sorted(state.interlocks)),
        step=state.step,
        delay=delay,
        position={} if unknown else {axis: round(v, 4)
                                     for axis, v in engine.position_seen.items()},
        pause_unresolved=state.pause_unresolved,
        outcome=state.outcome,
        time=round(now, 6),
        pause_from=pause.requester if pause is not None else None,
        held_over_well=state.held_over_well,
        pause_also_for=pause.also_for if pause is not None else None,
        held_in_place=state.held_in_place,
        resumes_when_clear=_resumes_when_clear(engine, state),
        position_unknown=unknown,
    )


def _resumes_when_clear(engine: EngineCore, state: RunState) -> bool:
    """Whether the run, paused by interlocks, goes on by itself once they clear (each is
    configured to resume it, and no one has asked for a pause of their own since: a
    deferred one pending from before waits for the next checkpoint)."""
    if (state.pause is None or state.pause.source is not PauseSource.INTERLOCK
            or (state.pending is not None and state.pending.immediate)):
        return False  # a pause asked for meanwhile holds the run then
    settings = engine.config.interlocks
    return bool(state.interlocks) and all(
        name in settings and settings[name].auto_resume for name in state.interlocks)
