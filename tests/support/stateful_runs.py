"""What the hypothesis state machines of a run share: the actions a person, a door and
timers on the virtual clock take on a ``ScriptedRun`` at random (pauses, resumes,
endings, interlocks, at exact instants mid-move), each checked against the action table
of docs/design.md §3, and the invariants of the run's status that hold whatever the
protocol calls; and the plate in slot 2 the machines' liquid calls go to.

A machine derives from ``InterruptedRunMachine``, sets ``run`` (and ``config``), calls
``_hook_moves`` before it plays, and accounts for its protocol call in ``_collect``.
"""

from __future__ import annotations

import math
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from labrun_testing import ScriptedRun

from engine import commands as c
from engine.actions import Pause, Resume, SkipDelay
from engine.state import PauseSource, Status
from hardware.config import default_config
from hardware.kinematics import limiting_axis

# The table of docs/design.md §3, written out again independently of engine/actions.py.
ALLOWED = {
    "play": {"idle"},
    "pause": {"running", "pausing"},
    "resume": {"paused"},
    "stop": {"idle", "running", "pausing", "paused"},
    "abort": {"idle", "running", "pausing", "paused", "stopping", "aborting", "failing",
              "finishing"},
    "halt": {"idle", "running", "pausing", "paused", "stopping", "aborting", "failing",
             "halting", "finishing"},
    "skip_delay": {"running", "paused"},
}
SETTLED = {"idle", "running", "paused", "succeeded", "stopped", "aborted", "halted", "failed"}
TRASH = ((347.84, 325.06, 82.0), "12/A1")
PLATE_TOP = 14.22
PLATE = c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", PLATE_TOP)


ENDINGS = {"finishing", "stopping", "aborting", "failing", "halting"}  # (then terminal)
RESUMED = {"rewound", "completed after pause", "continued"}  # a resume's pause effects


def check_pause_effects(events: list[dict[str, Any]]) -> None:
    """docs/design.md §4, §5, §9 in the record, whatever the protocol: each command goes
    ``queued``, ``started``, then one of ``completed``, ``failed``, ``interrupted``; between
    a park and the unpark that ends it nothing of the protocol starts or completes; the
    effects a resume says (``rewound``, ``completed after pause``, ``continued``) come
    right after an unpark that finished, ``rewound`` after one to the step's checkpoint
    and the others after one to where the robot stopped; a step is rewound only while
    no command of it that touches tips or liquid (or made way for a module) has started,
    and a rewind replays the moves of the step's commands in their order; a motion
    command a pause cut off completes only after the record said what the resume did
    to it (rewound, or completed after the pause). A deferred pause never cuts a motion
    off (only an immediate one or an interlock does), and one asked for while running
    is taken before the next step begins, unless that step's first command is itself
    a pause of the protocol (one pause serves both)."""
    cleanup: set[int] = set()
    lifecycle: dict[int, list[str]] = {}
    kinds: dict[int, type[c.Command]] = {}
    step_of: dict[int, int] = {}
    step: int | None = None
    started_in_step: list[int] = []  # the commands of the current step that started
    parked = False
    unparked: dict[str, Any] | None = None  # the unpark just before, if nothing came since
    rewinding: list[int] = []  # the ids rewound since that unpark
    cut: set[int] = set()  # motion commands cut off whose resume the record has not said
    run_status = "idle"
    immediate = False  # an immediate pause or an interlock came since the last park
    pending = False  # a deferred pause asked for while running, not yet taken
    pending_step: int | None = None  # a step begun with it pending
    for event in events:
        kind = event["event"]
        if kind == "command":
            command_id, status = event["id"], event["status"]
            if status == "queued":
                if event.get("origin") == "cleanup":
                    cleanup.add(command_id)
                    continue
                kinds[command_id] = c.REGISTRY[event["type"]]
                step_of[command_id] = event["step"]
                lifecycle[command_id] = []
            if command_id in cleanup:
                continue
            if status == "queued" and pending_step is not None:
                assert kinds[command_id].execution is c.Execution.CHECKPOINT, (
                    f"step {pending_step} began with a deferred pause pending")
                pending_step = None
            said = lifecycle[command_id]
            expected = ["queued", "started", status][len(said)] if len(said) < 3 else None
            assert status == expected and (len(said) < 2 or status in (
                "completed", "failed", "interrupted")), (command_id, said, status)
            said.append(status)
            if status == "started":
                assert not parked, f"command {command_id} started while parked"
                started_in_step.append(command_id)
            elif status == "completed":
                assert not parked, f"command {command_id} completed while parked"
                assert command_id not in cut, (
                    f"command {command_id}, cut off by a pause, completed with the record "
                    "saying nothing of how it was resumed")
            unparked = None
        elif kind == "step":
            step, started_in_step = event["index"], []
            unparked = None
            if pending:
                pending_step = step
        elif kind == "status":
            run_status, pending = event["status"], False  # taken, or the run ends
            if run_status in ENDINGS:
                parked, unparked = False, None  # the ending lifts and homes from anywhere
        elif kind == "action" and event["action"] == "pause" and event["accepted"]:
            if event.get("option") == "immediate":
                immediate = True
            elif run_status == "running":
                pending = True
        elif kind == "interlock" and event["active"]:
            immediate = True
        elif kind == "park":
            parked, unparked, immediate = True, None, False
        elif kind == "unpark":
            assert parked, "an unpark without its park"
            parked = False
            unparked = None if event.get("interrupted") else event
            rewinding = []
        elif kind == "pause_effect":
            command_id, effect = event["id"], event["effect"]
            if effect == "interrupted":
                unparked = None
                if not event.get("before_start") and (
                        kinds[command_id].execution is c.Execution.MOTION):
                    assert immediate, (
                        f"{kinds[command_id].kind} {command_id} cut off with no immediate "
                        "pause nor interlock asked for")
                    cut.add(command_id)
                continue
            assert effect in RESUMED, event
            assert unparked is not None, (
                f"{effect} {command_id} said with no finished unpark just before it")
            assert bool(unparked.get("rewind")) == (effect == "rewound"), (event, unparked)
            cut.discard(command_id)
            if effect != "rewound":
                continue
            assert step_of[command_id] == step, (event, step)
            assert command_id in started_in_step, (event, started_in_step)
            before = started_in_step[:started_in_step.index(command_id) + 1]
            for other in before:
                assert kinds[other].reversible and not kinds[other].rewind_barrier, (
                    f"step {step} rewound ({command_id}) after {kinds[other].kind} "
                    f"{other} had started")
            assert not rewinding or started_in_step.index(rewinding[-1]) < \
                started_in_step.index(command_id), ("rewound out of order", rewinding, event)
            rewinding.append(command_id)


def well_point(well: str) -> tuple[float, float, float]:
    """The bottom of a well (``2/B3``) of the plate in slot 2."""
    row, col = well[2], int(well[3:])
    return (146.88 + 9.0 * (col - 1), 74.24 - 9.0 * "ABCDEFGH".index(row), 3.0)


def well_at(x: float, y: float, z: float) -> str | None:
    """The well of the plate in slot 2 a tip end at (x, y, z) is in (below its top,
    within 3 mm of its centre), or None."""
    if z >= PLATE_TOP - 1e-6:
        return None
    col, row = round((x - 146.88) / 9.0), round((74.24 - y) / 9.0)
    if not (0 <= col < 12 and 0 <= row < 8):
        return None
    cx, cy = 146.88 + 9.0 * col, 74.24 - 9.0 * row
    return f"2/{'ABCDEFGH'[row]}{col + 1}" if math.hypot(x - cx, y - cy) <= 3.0 else None


class InterruptedRunMachine(RuleBasedStateMachine):
    """A run driven at random: its protocol calls are the subclass's rules; the actions
    and timers here come from another thread, as a person's, a client's or a door's."""

    def __init__(self) -> None:
        super().__init__()
        self.config = default_config()
        self.run: ScriptedRun | None = None
        self.pending: Any = None  # the protocol call not yet returned
        self.terminal: str | None = None
        self.paused_at: tuple[int, dict[str, float]] | None = None
        self.pauses_seen: set[int] = set()  # the parks (by count) the test saw paused
        self.resumes: list[float] = []  # when the timers set so far resume the run
        # (moves still to start before it, fraction of that move, what then happens)
        self.armed: list[tuple[int, float, Any]] = []

    def _collect(self) -> None:
        """Account for the pending protocol call if it has returned (the machine's own)."""

    def _hook_moves(self) -> None:
        """Let ``interrupt_in_a_move`` land its pause or door at a fraction of a given
        motion to come (a plunger stroke lasts some ms: timers on the clock seldom hit)."""
        controller, clock, axes = self.r.controller, self.r.clock, self.config.axes
        inner = controller.move

        async def move(target: Any, speed: float | None = None) -> None:
            duration = limiting_axis(controller.position, target, axes, speed)[0]
            if duration > 0 and self.armed:
                armed, self.armed = self.armed, []
                for count, fraction, act in armed:
                    if count > 1:
                        self.armed.append((count - 1, fraction, act))
                    else:
                        clock.call_at(clock.now() + fraction * duration, act)
            await inner(target, speed)

        controller.move = move  # type: ignore[method-assign]

    @property
    def r(self) -> ScriptedRun:
        assert self.run is not None
        return self.run

    def status(self) -> str:
        return self.r.status().status.value

    def _act(self, name: str, *args: Any, **kwargs: Any) -> None:
        before_state = self.r.engine.state
        before = self.status()
        delay = before_state.delay
        result = getattr(self.r.control, name)(*args, **kwargs)
        expected = before in ALLOWED[name]
        if (name == "pause" and before_state.pause is not None
                and before_state.pause.source is PauseSource.INTERLOCK):
            expected = True  # held for when the interlock clears
        if name == "resume" and before_state.interlocks:
            expected = False
        if name == "skip_delay" and (delay is None or delay.skipped):
            expected = False
        if name == "play" and before_state.interlocks:
            expected = False
        assert result.accepted == expected, (name, before, result)
        if not result.accepted:
            assert result.reason
            assert self.r.engine.state is before_state  # a refused action changes nothing
        self.r.settle()
        self._collect()


    def free(self) -> bool:
        """Whether a protocol call may be made now (each machine says)."""
        raise NotImplementedError

    def _call(self, *commands: Any) -> None:
        """Make one protocol call of ``commands`` (each machine says how)."""
        raise NotImplementedError

    def _call_split(self, calls: list[tuple[Any, ...]], split: str) -> None:
        """``calls`` as one step, or (``split``) a step each, each made once the one before
        returned; with "paused", a deferred pause asked for before each later one and the
        run resumed: it parks between them, and the unpark holds the tips up (§4)."""
        if not split:
            self._call(*(cmd for call in calls for cmd in call))
            return
        for index, call in enumerate(calls):
            if not self.free():
                return
            if index and "paused" in split:
                self._act("pause", "deferred")
            self._call(*call)
            if index and "paused" in split and self.status() == "paused":
                self._act("resume")

    # -- actions from another thread --------------------------------------------------

    @rule(option=st.sampled_from(["deferred", "immediate"]))
    def pause(self, option: str) -> None:
        self._act("pause", option)

    @rule()
    def resume(self) -> None:
        self._act("resume")

    @rule()
    def stop(self) -> None:
        self._act("stop")

    @rule()
    def abort(self) -> None:
        self._act("abort", "changed my mind")

    @rule()
    def halt(self) -> None:
        self._act("halt")

    @rule()
    def play_again(self) -> None:
        self._act("play")

    @rule(active=st.booleans())
    def door(self, active: bool) -> None:
        state = self.r.engine.state
        # A person's pause asked for during the door's pause holds the run once the door
        # closes, even a door that resumes by itself (one asked for before the door opened,
        # deferred, waits for the next checkpoint: the reducer marks those asked during it
        # ``immediate``).
        held = (not active and state.pause is not None and state.pending is not None
                and state.pending.immediate
                and state.pause.source is PauseSource.INTERLOCK and state.interlocks == {"door"}
                and state.ending is None)
        # ... unless a person resumes it: a paused run's clock runs on to its next timer,
        # which may be a resume (``act_later``) due now or later
        resumed = any(t >= self.r.clock.now() - 1e-9 for t in self.resumes)
        self.r.control.set_interlock("door", active)
        self.r.settle()
        self._collect()
        lost = self.r.controller.connection_lost  # a robot lost meanwhile fails the run
        if held and not resumed and not lost:
            report = self.r.status()
            assert report.status is Status.PAUSED and report.pause_source == "client", report

    # -- interventions at exact virtual instants, usually mid-move --------------------

    @rule(after=st.one_of(st.floats(0.0, 3.0), st.floats(0.0, 40.0)),
          option=st.sampled_from(["deferred", "immediate"]))
    def pause_later(self, after: float, option: str) -> None:
        engine = self.r.engine
        self.r.clock.call_at(self.r.clock.now() + after,
                             lambda: engine.apply(Pause(option=option)))  # type: ignore[arg-type]

    @rule(after=st.floats(0.0, 60.0), what=st.sampled_from(["resume", "skip_delay"]))
    def act_later(self, after: float, what: str) -> None:
        # A person resumes, or skips the delay, at an instant: a pause inside a delay or
        # a profile then lasts a chosen while (a paused run's clock jumps to the timer),
        # and a delay is skipped while it runs, not only while paused.
        engine = self.r.engine
        action = Resume() if what == "resume" else SkipDelay()
        if what == "resume":
            self.resumes.append(self.r.clock.now() + after)
        self.r.clock.call_at(self.r.clock.now() + after, lambda: engine.apply(action))

    @rule(after=st.one_of(st.floats(0.0, 3.0), st.floats(0.0, 40.0)),
          open_for=st.floats(0.0, 5.0))
    def door_later(self, after: float, open_for: float) -> None:
        controller, clock = self.r.controller, self.r.clock
        clock.call_at(clock.now() + after, lambda: controller.set_interlock("door", True))
        clock.call_at(clock.now() + after + open_for,
                      lambda: controller.set_interlock("door", False))

    @rule(nth=st.integers(1, 12), fraction=st.floats(0.0, 1.0),
          what=st.sampled_from(["immediate", "deferred", "door"]), open_for=st.floats(0.0, 5.0))
    def interrupt_in_a_move(self, nth: int, fraction: float, what: str,
                            open_for: float) -> None:
        engine, controller, clock = self.r.engine, self.r.controller, self.r.clock

        def act() -> None:
            if what == "door":
                controller.set_interlock("door", True)
                clock.call_at(clock.now() + open_for,
                              lambda: controller.set_interlock("door", False))
            else:
                engine.apply(Pause(option=what))  # type: ignore[arg-type]

        self.armed.append((nth, fraction, act))

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def status_is_settled_and_consistent(self) -> None:
        if self.run is None:
            return
        if self.r.run.error is not None:
            raise self.r.run.error  # the engine loop itself crashed
        report = self.r.status()
        status = report.status.value
        assert status in SETTLED, (
            f"stuck in {status}: "
            f"alive={self.r.run._thread.is_alive() if self.r.run._thread else None} "
            f"tail={self.r.run.record.events[-6:]}")
        if status == "paused":
            assert report.parked and report.pause_source in ("protocol", "client", "interlock")
        if status == "running":
            assert not report.parked and report.pause_source is None
        if self.pending is not None and not report.status.is_terminal:
            # A protocol call still waiting while the engine is idle: only while paused.
            assert status == "paused", f"protocol call blocked while {status}"
        if report.interlocks and status in ("running",):
            raise AssertionError("running with an active interlock")

    @invariant()
    def nothing_moves_while_paused(self) -> None:
        if self.run is None:
            return
        if self.status() == "paused":
            assert not self.r.controller.moving
            here = self.r.controller.position
            parks = sum(1 for e in self.r.run.record.events if e["event"] == "park")
            self.pauses_seen.add(parks)
            if self.paused_at is not None and self.paused_at[0] == parks:
                assert here == self.paused_at[1], "moved while paused"
            self.paused_at = (parks, here)
        else:
            self.paused_at = None

    @invariant()
    def a_park_said_clear_of_the_deck_is(self) -> None:
        # What the status says of a paused robot is what a person reaching in relies on:
        # neither held where it stopped (a door) nor with a tip of liquid over the deck,
        # it is at the park position, every Z at the safe height or above.
        if self.run is None:
            return
        status = self.r.status()
        if (status.status is not Status.PAUSED or not status.parked or status.held_in_place
                or status.held_over_well):
            return
        here, config = self.r.controller.position, self.r.config
        assert (here["X"], here["Y"]) == pytest.approx(config.park_position, abs=1e-6), here
        assert all(here[z] >= config.safe_height - 1e-6 for z in config.z_axes), here
        hypothesis.event("paused, parked clear of the deck")

    @invariant()
    def the_record_says_what_each_pause_did(self) -> None:
        if self.run is not None:
            check_pause_effects(self.r.run.record.events)

    @invariant()
    def exactly_one_terminal_state(self) -> None:
        if self.run is None:
            return
        status = self.r.status().status
        if self.terminal is not None:
            assert status.value == self.terminal, "left a terminal state"
        elif status.is_terminal:
            self.terminal = status.value
