"""A snapshot of the run's status, as every control surface reports it (DESIGN.md §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import asdict, frozen

from .state import Outcome, Park, Status, StepInfo, status_of

if TYPE_CHECKING:
    from .core import EngineCore


@frozen
class DelayStatus:
    """The active delay."""

    message: str | None
    seconds: float
    remaining_s: float
    skipped: bool


@frozen
class RunStatusReport:
    """The status with everything reported alongside it."""

    status: Status
    pause_pending: bool
    pause_source: str | None
    pause_message: str | None
    parked: bool
    unparking: bool
    interlocks: tuple[str, ...]
    step: StepInfo | None
    delay: DelayStatus | None
    position: dict[str, float]
    pause_unresolved: bool
    outcome: Outcome | None
    time: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        data = asdict(self, recurse=True)
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
        position={axis: round(v, 4) for axis, v in engine.position_seen.items()},
        pause_unresolved=state.pause_unresolved,
        outcome=state.outcome,
        time=round(now, 6),
    )
