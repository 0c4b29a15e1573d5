"""Rehearsals: ``labrun simulate --at WHEN:ACTION`` scripts interventions on the virtual clock.

WHEN is seconds of virtual time (``125.5``) or ``step=N`` (when the N-th step of the run
log begins; for ``skip-delay``, once that step's delay has begun). ACTION is one of
``pause``, ``pause-immediate``, ``resume``, ``stop``, ``abort``, ``halt``, ``skip-delay``,
``door-open``, ``door-close``. Each intervention is
applied inside the engine loop at exactly that instant, so a user sees in advance what
an interruption at that moment would do: where the robot parks, what is rewound. A paused
run waits for the next intervention on the clock, except one it could not take (a pause;
a skip of a delay when no delay is on): with nothing else to come it continues by
itself, as every simulated pause does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from engine.actions import Abort, Action, Halt, Pause, Resume, SkipDelay, Stop
from engine.run import Run
from hardware.clock import VirtualClock
from hardware.frozen import Frozen
from hardware.simulated import SimulatedController
from protocol_api.watchdog import protocol_line

SOURCE = "rehearsal"
ACTIONS: dict[str, Callable[[str | None], Action] | None] = {  # given the protocol's line
    "pause": lambda line: Pause(source=SOURCE),
    "pause-immediate": lambda line: Pause(source=SOURCE, option="immediate"),
    "resume": lambda line: Resume(source=SOURCE),
    "stop": lambda line: Stop(source=SOURCE, reason=_at("rehearsed stop", line)),
    "abort": lambda line: Abort(source=SOURCE, reason=_at("rehearsed abort", line)),
    "halt": lambda line: Halt(source=SOURCE, reason=_at("rehearsed halt", line)),
    "skip-delay": lambda line: SkipDelay(source=SOURCE),
    "door-open": None,
    "door-close": None,
}


def _at(reason: str, line: str | None) -> str:
    """A rehearsed ending's reason with the protocol line the run was at, as Ctrl-C's."""
    return f"{reason} at {line}" if line else reason


class RehearsalError(ValueError):
    """A ``--at`` argument that cannot be understood."""


class Intervention(Frozen):
    """One scripted intervention."""

    __slots__ = ("action", "seconds", "step")

    seconds: float | None
    step: int | None
    action: str

    def __init__(self, seconds: float | None, step: int | None, action: str) -> None:
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "action", action)

    def describe(self) -> str:
        when = f"t={self.seconds:g}s" if self.seconds is not None else f"step {self.step}"
        return f"{self.action} at {when}"


def parse(text: str) -> Intervention:
    """``WHEN:ACTION`` -> an ``Intervention``; the error says what is wrong."""
    when, sep, action = text.rpartition(":")
    if not sep or not when:
        raise RehearsalError(f"--at {text!r}: expected WHEN:ACTION, e.g. 125.5:pause-immediate")
    parts = text.split(":")  # WHEN has no colon: an action before the last part is it
    named = next((i for i, part in enumerate(parts[1:-1], 1) if part in ACTIONS), None)
    if named is not None:
        raise RehearsalError(f"--at {text!r}: {':' + ':'.join(parts[named + 1:])!r} after the "
                             f"action {parts[named]!r} is not part of WHEN:ACTION (one "
                             f"intervention per --at, e.g. --at {':'.join(parts[:named + 1])})")
    if action not in ACTIONS:
        raise RehearsalError(f"--at {text!r}: unknown action {action!r}; "
                             f"choose from {', '.join(ACTIONS)}")
    if when.startswith("step="):
        number = when[5:]
        if not (number.isascii() and number.isdigit()) or int(number) < 1:  # not "²"
            raise RehearsalError(f"--at {text!r}: step must be a whole number from 1")
        return Intervention(None, int(number), action)
    try:
        seconds = float(when)
    except ValueError:
        raise RehearsalError(f"--at {text!r}: WHEN must be seconds (e.g. 125.5) or step=N") \
            from None
    if not math.isfinite(seconds):
        raise RehearsalError(f"--at {text!r}: time must be a finite number of seconds")
    if seconds < 0:
        raise RehearsalError(f"--at {text!r}: time cannot be negative")
    return Intervention(seconds, None, action)


class Schedule:
    """The interventions of a rehearsal as the run goes: ``pending``, those still to
    happen (each leaves the list as it happens, so what is left once the run has ended
    never happened: the run ended first); ``unchanged``, those that happened and changed
    nothing (a door closed that was not open), each with why."""

    __slots__ = ("pending", "protocol_file", "unchanged")

    def __init__(self, interventions: list[Intervention],
                 protocol_file: str | None = None) -> None:
        self.pending = list(interventions)
        self.unchanged: list[tuple[Intervention, str]] = []
        self.protocol_file = protocol_file  # whose line a stop, abort or halt names


def schedule(run: Run, interventions: list[Intervention],
             protocol_file: str | None = None) -> Schedule:
    """Arrange for each intervention to happen during ``run`` (before it is played); a
    stop, an abort or a halt names the line of ``protocol_file`` the run was at."""
    plan = Schedule(interventions, protocol_file)
    clock = run.clock
    controller = run.controller
    if not isinstance(clock, VirtualClock) or not isinstance(controller, SimulatedController):
        raise RehearsalError("rehearsals need the simulated robot on the virtual clock")
    by_step: dict[int, list[Intervention]] = {}
    for item in interventions:
        if item.seconds is not None:
            clock.call_at(item.seconds, _applier(run, item, plan),
                          holds_pause=_holds_pause(run, item.action))
        else:
            assert item.step is not None
            by_step.setdefault(item.step - 1, []).append(item)
    if by_step:
        run.record.subscribe(_StepTrigger(run, clock, by_step, plan).on_event)
    return plan


def _holds_pause(run: Run, action: str) -> bool | Callable[[], bool]:
    """Whether a paused run waits for ``action``'s instant: not for a pause, which it
    could not take, nor for a skip while no delay is on (a protocol's own pause)."""
    if action in ("pause", "pause-immediate"):
        return False
    if action == "skip-delay":
        def delay_on() -> bool:
            delay = run.engine.state.delay
            return delay is not None and not delay.skipped

        return delay_on
    return True


class _StepTrigger:
    """Applies the ``step=N`` interventions as their steps begin; a skip of a delay once
    the step's delay has begun (or, if the step has none, as the next step begins or the
    run finishes, where it is refused: no delay is active)."""

    def __init__(self, run: Run, clock: VirtualClock, by_step: dict[int, list[Intervention]],
                 plan: Schedule) -> None:
        self.run, self.clock, self.by_step, self.plan = run, clock, by_step, plan
        self.skips: list[Intervention] = []  # waiting for a delay of the current step
        self.delays: set[int] = set()  # the ids of the current step's delays

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "status" and event["status"] == "finishing":  # the last step had none
            skips, self.skips = self.skips, []
            self._apply(skips)
        elif kind == "step":
            self._apply(self.skips)
            self.skips, self.delays = [], set()
            items = self.by_step.pop(event["index"], [])
            self.skips = [item for item in items if item.action == "skip-delay"]
            self._apply([item for item in items if item.action != "skip-delay"])
        elif kind == "command" and self.skips:
            if event["status"] == "queued" and event.get("type") == "delay":
                self.delays.add(event["id"])
            elif event["status"] == "started" and event["id"] in self.delays:
                skips, self.skips = self.skips, []
                # At this instant of the clock, once the delay is on (the wait fires it).
                for item in skips:
                    self.clock.call_at(self.clock.now(), _applier(self.run, item, self.plan))

    def _apply(self, items: list[Intervention]) -> None:
        for item in items:
            _applier(self.run, item, self.plan)()


def _applier(run: Run, item: Intervention, plan: Schedule) -> Callable[[], None]:
    def apply() -> None:
        plan.pending.remove(item)
        make = ACTIONS[item.action]
        if make is not None:
            line = protocol_line(run, plan.protocol_file) if plan.protocol_file else None
            run.engine.apply(make(line))  # a refused action is in the record and the log
            return
        controller = run.controller
        assert isinstance(controller, SimulatedController)
        opening = item.action == "door-open"
        if opening == ("door" in controller.active_interlocks()):
            plan.unchanged.append((item, f"the door was {'open' if opening else 'closed'} "
                                         "already"))
        controller.set_interlock("door", opening)

    return apply
