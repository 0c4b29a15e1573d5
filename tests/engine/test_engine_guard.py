"""The guard and the reducer: docs/design.md §3's table, checked cell by cell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.actions import Abort, Action, Halt, Pause, Play, Resume, SkipDelay, Stop, check_action
from engine.engine import Engine
from engine.entries import ActionResult
from engine.record import RunRecord
from engine.reducer import (
    CheckpointReached,
    DelayEnded,
    DelayStarted,
    EngineEvent,
    InterlockChanged,
    ParkChanged,
    ProtocolFinished,
    RunEnded,
    RunFailing,
    reduce,
)
from engine.state import (
    DelayInfo,
    Ending,
    EndKind,
    Outcome,
    Park,
    PauseRequest,
    PauseSource,
    RunState,
    Status,
    status_of,
)
from engine.status import report
from hardware.clock import VirtualClock
from hardware.config import default_config
from hardware.frozen import replace
from hardware.simulated import SimulatedController

CLIENT = PauseRequest(PauseSource.CLIENT)
STATES = {
    "idle": RunState(),
    "running": RunState(started=True),
    "pausing": RunState(started=True, pause=CLIENT, park=Park.PARKING),
    "paused": RunState(started=True, pause=CLIENT, park=Park.PARKED),
    "stopping": RunState(started=True, ending=Ending(EndKind.STOP)),
    "aborting": RunState(started=True, ending=Ending(EndKind.ABORT)),
    "halting": RunState(started=True, ending=Ending(EndKind.HALT)),
    "failing": RunState(started=True, ending=Ending(EndKind.FAIL, "boom", "p.py:3")),
    "finishing": RunState(started=True, finishing=True),
    "succeeded": RunState(started=True, outcome=Outcome(Status.SUCCEEDED)),
    "failed": RunState(started=True, outcome=Outcome(Status.FAILED, error="x")),
}
ACTIONS: dict[str, Action] = {
    "play": Play(), "pause deferred": Pause(), "pause immediate": Pause(option="immediate"),
    "resume": Resume(), "stop": Stop(), "abort": Abort(reason="r"), "halt": Halt(),
}
# docs/design.md §3, written out as a user reads it (+ finishing, halting and failing as the
# README decides).
ALLOWED = {
    "play": {"idle"},
    "pause deferred": {"running", "pausing"},
    "pause immediate": {"running", "pausing"},
    "resume": {"paused"},
    "stop": {"idle", "running", "pausing", "paused"},
    "abort": {"idle", "running", "pausing", "paused", "stopping", "aborting", "failing",
              "finishing"},
    "halt": {"idle", "running", "pausing", "paused", "stopping", "aborting", "failing",
             "halting", "finishing"},
}


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_the_table(status: str, action: str) -> None:
    state = STATES[status]
    assert status_of(state).value == status
    reason = check_action(state, ACTIONS[action])
    assert (reason is None) == (status in ALLOWED[action]), reason
    if reason is not None:
        assert reason  # a refusal always says why


def test_skip_delay_needs_an_active_delay() -> None:
    delay = DelayInfo(deadline=60.0, seconds=60.0)
    assert check_action(RunState(started=True, delay=delay), SkipDelay()) is None
    paused = RunState(started=True, pause=CLIENT, park=Park.PARKED, delay=delay)
    assert check_action(paused, SkipDelay()) is None
    assert check_action(RunState(started=True), SkipDelay()) == "no delay is active"
    skipped = replace(delay, skipped=True)
    assert check_action(RunState(started=True, delay=skipped), SkipDelay())


def test_a_pause_of_no_known_option_is_refused() -> None:
    """``pause(option="Immediate")`` was taken as a deferred pause: a person asking the
    robot to stop now got a pause at the end of the step, minutes away in a transfer."""
    reason = check_action(RunState(started=True), Pause(option="Immediate"))  # type: ignore[arg-type]
    assert reason == "option must be 'deferred' or 'immediate', not 'Immediate'"
    assert check_action(RunState(started=True), Pause(option="immediate")) is None


def test_resume_and_play_are_refused_while_an_interlock_is_active() -> None:
    paused = RunState(started=True, pause=CLIENT, park=Park.PARKED,
                      interlocks=frozenset({"door"}))
    assert "door" in (check_action(paused, Resume()) or "")
    assert "door" in (check_action(RunState(interlocks=frozenset({"door"})), Play()) or "")


def test_deferred_pause_waits_for_a_checkpoint_and_immediate_upgrades_it() -> None:
    running = RunState(started=True)
    pending = reduce(running, Pause())
    assert pending.pending is not None and status_of(pending) is Status.RUNNING
    assert reduce(pending, CheckpointReached()).pause == pending.pending
    now = reduce(pending, Pause(option="immediate"))
    assert now.pause is not None and now.pause.immediate and now.pending is None


def test_a_deferred_pause_during_a_delay_takes_effect_at_once() -> None:
    delaying = RunState(started=True, delay=DelayInfo(deadline=10.0, seconds=10.0))
    assert reduce(delaying, Pause()).pause is not None


def test_pending_at_the_end_is_unresolved() -> None:
    pending = reduce(RunState(started=True), Pause())
    finished = reduce(pending, ProtocolFinished())
    assert finished.pause_unresolved and status_of(finished) is Status.FINISHING


def test_an_interlock_pauses_a_running_run_but_not_an_idle_or_ending_one() -> None:
    paused = reduce(RunState(started=True), InterlockChanged("door", True))
    assert paused.pause is not None and paused.pause.source is PauseSource.INTERLOCK
    assert reduce(RunState(), InterlockChanged("door", True)).pause is None
    stopping = STATES["stopping"]
    assert reduce(stopping, InterlockChanged("door", True)).pause is None


def test_an_interlock_pause_says_what_holds_it_as_interlocks_clear() -> None:
    state = reduce(RunState(started=True), InterlockChanged("door", True))
    state = reduce(state, InterlockChanged("curtain", True))
    assert state.pause is not None and state.pause.message == "interlock door is active"
    state = reduce(state, InterlockChanged("door", False))
    assert state.pause is not None and state.pause.message == "interlock curtain is active"
    state = reduce(state, InterlockChanged("curtain", False))
    assert state.pause is not None and state.pause.source is PauseSource.INTERLOCK
    assert state.pause.message == "interlock curtain has cleared; resume to continue"


def test_stop_abort_halt_from_idle_end_at_once() -> None:
    assert status_of(reduce(RunState(), Stop())) is Status.STOPPED
    aborted = reduce(RunState(), Abort(reason="why"))
    assert status_of(aborted) is Status.ABORTED and aborted.outcome is not None
    assert aborted.outcome.reason == "why"
    assert status_of(reduce(RunState(), Halt())) is Status.HALTED


def test_a_fault_before_play_fails_the_run_at_once_with_its_error() -> None:
    """The robot could not be made ready (it cannot be reached, its homing failed): a
    hardware fault, so ``failed`` with the error, not an abort nobody asked for."""
    failed = reduce(RunState(), RunFailing("the robot was not ready: no answer"))
    assert status_of(failed) is Status.FAILED and failed.outcome is not None
    assert failed.outcome.error == "the robot was not ready: no answer"
    assert reduce(reduce(RunState(), Stop()), RunFailing("late")) == reduce(RunState(), Stop())


def engine_holding(state: RunState) -> tuple[Engine, SimulatedController, list[RunState]]:
    """An engine whose run is in ``state``, its simulated robot, and the states it publishes."""
    clock = VirtualClock()
    config = default_config()
    robot = SimulatedController(config, clock)
    engine = Engine(robot, clock, config, RunRecord(clock=clock.now))
    engine.state = state
    published: list[RunState] = []
    engine.subscribe(published.append)
    return engine, robot, published


def assert_refused_without_a_trace(state: RunState, action: Action) -> None:
    """``Engine.apply`` refuses ``action`` with the guard's reason and changes nothing
    anyone can see: the state, the status report, the robot, what is published, and the
    record, which gains only the refused action itself."""
    reason = check_action(state, action)
    assert reason, "the guard must refuse with a reason"
    engine, robot, published = engine_holding(state)
    before = report(engine)
    position = robot.position
    result = engine.apply(action)
    assert result == ActionResult(False, status_of(state), reason)
    assert engine.state == state
    assert report(engine) == before
    assert robot.position == position and not robot.moving
    assert published == []
    [event] = engine.record.events
    assert event["event"] == "action" and event["action"] == action.name
    assert event["accepted"] is False and event["refusal"] == reason


WITH_DELAY = {status: replace(state, delay=DelayInfo(deadline=60.0, seconds=60.0))
              for status, state in STATES.items()}
SKIP_ALLOWED = {"running", "paused"}  # and only while a delay is active


@pytest.mark.parametrize(("status", "action"), [
    (status, action) for action in ACTIONS for status in STATES
    if status not in ALLOWED[action]])
def test_refused_actions_change_nothing(status: str, action: str) -> None:
    assert_refused_without_a_trace(STATES[status], ACTIONS[action])
    assert_refused_without_a_trace(WITH_DELAY[status], ACTIONS[action])


@pytest.mark.parametrize("status", STATES)
def test_a_refused_skip_delay_changes_nothing(status: str) -> None:
    assert_refused_without_a_trace(STATES[status], SkipDelay())  # no delay is active
    if status not in SKIP_ALLOWED:
        assert_refused_without_a_trace(WITH_DELAY[status], SkipDelay())


events = st.sampled_from([Play(), Pause(), Pause(option="immediate"), Resume(), Stop(),
                          Abort(), Halt(), SkipDelay(), CheckpointReached(),
                          InterlockChanged("door", True), InterlockChanged("door", False),
                          DelayStarted(DelayInfo(deadline=30.0, seconds=30.0)), DelayEnded(),
                          ParkChanged(Park.PARKED), ProtocolFinished(),
                          RunEnded(Outcome(Status.SUCCEEDED))])


@given(st.lists(events, max_size=30))
def test_refused_actions_change_nothing_and_terminal_is_forever(
        sequence: list[Action | EngineEvent]) -> None:
    """Any reachable state: a refused action leaves no trace; a terminal status stays."""
    state = RunState()
    terminal = None
    for event in sequence:
        if isinstance(event, Action) and check_action(state, event) is not None:
            assert_refused_without_a_trace(state, event)
            continue
        if isinstance(event, RunEnded) and status_of(state).is_terminal:
            continue
        state = reduce(state, event)
        status = status_of(state)
        if terminal is not None:
            assert status is terminal
        elif status.is_terminal:
            terminal = status
