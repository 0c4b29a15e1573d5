"""Random interleavings of protocol calls, pauses, resumes, endings and interlocks.

A hypothesis state machine drives a simulated run: protocol calls go through the
protocol thread, actions come from the test thread (another thread, as a person or a
client would), and timers on the virtual clock land pauses and door openings at exact
instants mid-move. After every step the invariants of docs/design.md §3-§6 and §9 are
checked against the status, the simulated motors and the run record. The run has four
simulated hardware modules; random module calls set temperatures, magnets, the lid, a
profile and the shaker, and §5's module rules are checked after every step too; most
halts that come between two calls come while the plate shakes (at speed, or spinning up),
which the rest of the rules seldom bring about, so that the ending is seen to stop it.
A module may stop answering (``module_fails``), now or at an instant: the run fails at
its next call of it, or its park, unpark, cleanup or halt, and ends all the same, every
other module made safe.
A single-channel pipette stands on each mount, and the protocol calls of the two come
in any order, a step of transfers switching between them; a call may move one mount
straight up or down over where it is, leaving the other's tip where it was. A command
of one mount never lowers the other's tip nor moves its plunger, and one that acts in
place moves only its own (``check_mounts_keep_to_their_own``): after a checkpoint's
unpark each tip stays up until a command of its own mount acts where it is.
Liquid rules also come as two steps (``move_to``, then the command in place), with a
pause between them; ``interrupt_in_a_move`` lands a pause or a door inside a chosen
motion to come (a plunger stroke lasts milliseconds); each contact is compared with the
pause-free twin's by the tip end's height too, and parks and unparks alternate.
A delay or a profile may have a pause, a door or a skip land inside it (and end after
a while): a delay must end at its deadline, or as the run resumes if the pause outlasted
it, or when skipped, and the next step start then; a profile is started once, runs on
through the pause and is waited for to its planned end; each module is told what the
twin's was. A wait for a temperature (which a pause or a door may land inside too) ends
when its module's ramp, at the README's rates, and a block's hold say, or as the run
resumes, never before (``check_temperature_waits``). The run summary's status, pauses,
counts, liquid per well, module timelines, what the end cut off and its duration are
checked against the record, the calls that returned and the twin, and the run's clock
outside its pauses against the twin's, command by command
(``check_duration_against_twin``).

The actions, timers and status invariants come from ``stateful_runs``, which the
multi-channel machine (``test_engine_stateful_multi``) shares.
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from labrun_testing import P300, P300_RIGHT, TIP_TOP, ScriptedRun
from motion_trace import PhysicalTrace, TraceItem, plunger_strokes
from stateful_runs import PLATE, TRASH, InterruptedRunMachine, well_at, well_point

from engine import commands as c
from engine.actions import Halt, Pause, Resume, SkipDelay
from engine.record import read_record
from engine.state import Status
from hardware.config import InterlockConfig, default_config
from hardware.controller import HardwareFault
from hardware.frozen import replace
from hardware.kinematics import limiting_axis, profile_time

ENDINGS = {"finishing", "stopping", "aborting", "failing", "halting", "succeeded", "stopped",
           "aborted", "halted", "failed"}  # the run's ending has begun
WELLS = [f"2/{row}{col}" for row in "AB" for col in (1, 2)]
IRREVERSIBLE = {"pickUpTip", "dropTip", "aspirate", "dispense", "blowOut", "touchTip"}
IN_PLACE = {"aspirate", "dispense", "blowOut", "prepareToAspirate"}  # act where the tip is
MOUNTS = ("left", "right")  # a single-channel P300 on each
OTHER = {"left": "right", "right": "left"}
PIPETTES = {"left": P300, "right": P300_RIGHT}
TEMP, MAG, TC, HS = ("temperatureModuleV2@3", "magneticModuleV2@6", "thermocyclerModuleV1@7",
                     "heaterShakerModuleV1@10")
MODULES = (c.LoadModule(TEMP, "temperature", "temperatureModuleV2", "3", 84.0),
           c.LoadModule(MAG, "magnetic", "magneticModuleV2", "6", 110.2),
           c.LoadModule(TC, "thermocycler", "thermocyclerModuleV1", "7", 135.5,
                        ("8", "10", "11")),
           c.LoadModule(HS, "heater_shaker", "heaterShakerModuleV1", "10", 82.0))


def tip(index: int) -> tuple[tuple[float, float, float], str]:
    """The top and name of the ``index``-th tip of the 96-tip rack in slot 1."""
    column, row = divmod(index % 96, 8)
    x, y, z = TIP_TOP
    return (x + 9.0 * column, y - 9.0 * row, z), f"1/{'ABCDEFGH'[row]}{column + 1}"


SPARE_TOP = 10.0  # lower than the plate: a move of it changes no travel height
SPARE = c.LoadLabware("nest_96_wellplate_100ul_pcr_full_skirt", c.OFF_DECK, "spare", SPARE_TOP)
SPARE_INDEX = 1  # its loadLabware's count in the run, from 0


# how a liquid rule makes its calls (``_steps``)
SPLITS = ["", "move", "move, paused", "move, other down, paused"]


class DepthTrace(PhysicalTrace):
    """A ``PhysicalTrace`` that also keeps, for each contact, the height of the tip end
    at its first stroke and the lowest and highest of all its strokes: an aspirate
    drawing air above the well it should draw from makes the same (x, y) contact, at
    another height."""

    def __init__(self, config: Any, trace: list[TraceItem], **kwargs: Any) -> None:
        self.depths: list[tuple[float, float, float]] = []
        super().__init__(config, trace, **kwargs)

    def _add_move(self, start: Any, end: Any, tips: Any) -> None:
        before = len(self.contacts)
        super()._add_move(start, end, tips)
        for mount, spec in self.config.mounts.items():
            if abs(end[spec.plunger_axis] - start[spec.plunger_axis]) <= 1e-6:
                continue
            length = tips[mount][1] if tips[mount] is not None else 0.0
            z = start[spec.z_axis] + spec.offset[2] - length
            if len(self.contacts) > before:  # a new contact
                self.depths.append((z, z, z))
            else:  # a stroke added to the last contact
                first, low, high = self.depths[-1]
                self.depths[-1] = (first, min(low, z), max(high, z))
        assert len(self.depths) == len(self.contacts)


def log_device_calls(engine: Any, log: list[dict[str, Any]]) -> None:
    """Append to ``log`` every call the run's loaded module devices see from now on: the
    module, method and params, the command it serves (by id), the clock when it began
    and (None if a pause cut it off) when it returned, whether the run was ending (its
    cleanup), and for
    ``execute_profile`` the plan the thermocycler walks (``profile.ProfilePlan``)."""
    for module in engine.modules.loaded.values():
        device, inner = module.device, module.device.call

        async def call(method: str, params: Any, *, _inner: Any = inner, _device: Any = device,
                       _id: str = module.id) -> Any:
            last = engine.book.last  # the command being carried out
            item: dict[str, Any] = {"module": _id, "method": method, "params": dict(params),
                                    "t0": engine.clock.now(), "t1": None,
                                    "ending": engine.state.ending is not None,
                                    "command": None if last is None else last.id}
            log.append(item)
            result = await _inner(method, params)
            item["t1"] = engine.clock.now()
            if method == "execute_profile":
                item["plan"] = getattr(_device, "profile", None)
            return result

        device.call = call


def targets(log: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """The module calls of a protocol that set something, in order: not its waits, nor
    the cleanup's, and each command's call once (a module wait is called again after a
    pause, ``set_shake_speed`` of ``set_and_wait_for_shake_speed`` too: the same target
    again), but every ``execute_profile``, which must never be sent twice."""
    told: list[tuple[str, str, Any]] = []
    seen: set[tuple[Any, str]] = set()
    for item in log:
        key = (item["command"], item["method"])
        if item["ending"] or item["method"].startswith("wait_for") or (
                key in seen and item["method"] != "execute_profile"):
            continue
        seen.add(key)
        told.append((item["module"], item["method"], repr(item["params"])))
    return told


event_ = hypothesis.event  # the cases a run reached, in its statistics


def check_modules_made_safe(events: list[dict[str, Any]], status: str) -> None:
    """docs/design.md §6 and the README: a stop, an abort or a failure makes every module
    safe, and a module that does not answer is said to be not (in the record's
    ``failure``), whatever the others do."""
    if status not in ("stopped", "aborted", "failed"):
        return
    safe = {e["module"] for e in events if e["event"] == "module_deactivate"}
    not_safe = {e["location"] for e in events if e["event"] == "failure"
                and "be made safe" in e["error"]}
    for module in (TEMP, MAG, TC, HS):
        assert module in safe | not_safe, f"{module} was not made safe at the run's end"


def check_delays(events: list[dict[str, Any]]) -> None:
    """docs/design.md §3, §4 and the README on delays: a delay's deadline is fixed when
    its wait begins, and its time runs on through a pause, so it ends at its deadline or,
    if a pause outlasted that, as the run resumes (the unpark's end); a skip ends it at
    once (skipped while paused: as the run resumes) and the record says the time it had
    left then. The step after it starts when it ends, unless the run paused between."""
    queued = [(index, event["id"], event["params"]["seconds"])
              for index, event in enumerate(events)
              if event["event"] == "command" and event["status"] == "queued"
              and event["type"] == "delay"]
    for start, delay_id, seconds in queued:
        begun: float | None = None
        waiting_from_unpark = False  # a pause caught it before its wait began
        skipped_at: float | None = None
        unparked: float | None = None  # the last unpark during it that completed
        said: dict[str, Any] | None = None  # its ``delay`` event
        end: tuple[int, float] | None = None
        for index in range(start + 1, len(events)):
            event = events[index]
            kind = event["event"]
            if kind == "command" and event["id"] == delay_id:
                if event["status"] == "started" and begun is None and not waiting_from_unpark:
                    begun = event["t"]
                elif event["status"] == "completed":
                    end = index, event["t"]
                    break
                elif event["status"] in ("interrupted", "failed"):
                    break
            elif (kind == "pause_effect" and event.get("id") == delay_id
                  and event.get("before_start") and begun is None):
                waiting_from_unpark = True
            elif kind == "unpark" and not event.get("interrupted"):
                unparked = event["t"]
                if waiting_from_unpark and begun is None:
                    begun = event["t"]
            elif (kind == "action" and event["action"] == "skip_delay" and event["accepted"]
                  and skipped_at is None):
                skipped_at = event["t"]
            elif kind == "delay" and event["id"] == delay_id:
                said = event
        if end is None:
            continue  # still on, or the run ended in it
        assert begun is not None and said is not None, (delay_id, begun, said)
        deadline = begun + seconds
        ended = end[1]
        resumed = -math.inf if unparked is None else unparked
        if said["status"] == "skipped":
            assert skipped_at is not None, f"delay {delay_id} skipped without a skip_delay"
            expected = max(skipped_at, resumed)
            left = max(0.0, deadline - skipped_at)
        else:
            assert skipped_at is None, f"delay {delay_id} ran on after a skip at {skipped_at}"
            expected = max(deadline, resumed)
            left = 0.0
        assert abs(ended - expected) <= 1e-5, (
            f"delay {delay_id} of {seconds} s begun at {begun} (deadline {deadline}), "
            f"skipped at {skipped_at}, last resumed at {unparked}: ended at {ended}, "
            f"expected {expected}")
        assert abs(said["remaining"] - left) <= 1e-5, (
            f"delay {delay_id} {said['status']}: the record says {said['remaining']} s "
            f"left, expected {left}")
        if unparked is not None or skipped_at is not None:
            event_(f"delay {said['status']}" + (", paused" if unparked is not None else "")
                   + (", past its deadline" if resumed > deadline else ""))
        for event in events[end[0] + 1:]:
            if event["event"] == "park":
                break  # paused before the next step: it starts later
            if event["event"] == "step":
                assert abs(event["t"] - ended) <= 1e-9, (
                    f"the step after delay {delay_id} started at {event['t']}, the delay "
                    f"ended at {ended}")
                break


def check_pauses_pending_into_delays(events: list[dict[str, Any]]) -> None:
    """docs/design.md §3: a deferred pause is immediate in a delay, so one pending as a
    delay begins (asked for earlier in its step: close a lid, then incubate) is taken as
    the delay begins, not held to its end."""
    status, pending, delays = None, False, set()
    for index, event in enumerate(events):
        kind = event["event"]
        if kind == "status":
            status, pending = event["status"], False  # taken, or the run ended
        elif (kind == "action" and event["action"] == "pause" and event["accepted"]
              and event.get("option") == "deferred" and status == "running"):
            pending = True
        elif kind == "command" and event["status"] == "queued" and event["type"] == "delay":
            delays.add(event["id"])
        elif (kind == "command" and event["status"] == "started" and event["id"] in delays
              and pending):
            after = next((e for e in events[index + 1:] if e["event"] in ("status", "delay")),
                         None)
            if after is None:
                continue  # (the run is still in it)
            assert after["event"] == "status" and after["status"] == "pausing" and (
                after["t"] == event["t"]), (
                f"delay {event['id']} began at {event['t']} with a pause pending; next: {after}")
            event_("a pause pending as a delay began")


# The heaters' ramps as the README's "Hardware modules" gives them (°C/s: heating,
# cooling; switched off it drifts to room temperature at the third, the rate
# hardware/modules/physics.py models, as it does the heater-shaker's cooling), written
# out again; the heater-shaker only heats, so it gets no colder than the room.
AMBIENT_C = 23.0
RAMPS = {"temperature": (0.12, 0.035, 0.035, False), "block": (4.0, 2.0, 0.1, False),
         "lid": (0.3, 0.1, 0.1, False), "shaker": (0.12, 0.03, 0.03, True)}
SETS = {"temperatureModule/setTargetTemperature": ("temperature",),
        "thermocycler/setTargetBlockTemperature": ("block",),
        "thermocycler/setTargetLidTemperature": ("lid",),
        "heaterShaker/setTargetTemperature": ("shaker",)}
SWITCH_OFFS = {"temperatureModule/deactivate": ("temperature",),
               "thermocycler/deactivateBlock": ("block",),
               "thermocycler/deactivateLid": ("lid",),
               "thermocycler/deactivate": ("block", "lid"),
               "heaterShaker/deactivateHeater": ("shaker",)}
WAITS = {"temperatureModule/waitForTemperature": "temperature",
         "thermocycler/waitForBlockTemperature": "block",
         "thermocycler/waitForLidTemperature": "lid",
         "heaterShaker/waitForTemperature": "shaker"}
READING = {"temperature": "temperature", "block": "block_temperature",
           "lid": "lid_temperature", "shaker": "temperature"}  # in a module's status
SHAKER_RPM_S = 1000.0  # the shaker's rate to and from speed, as the README gives it
SHAKE_RPM = st.floats(200, 3000)
HALT_IN_SPIN_UP = st.one_of(st.none(), st.floats(0.0, 1.0))  # where in it, None: after it
SHAKE_THEN_HALT = st.tuples(SHAKE_RPM, HALT_IN_SPIN_UP)


class Heater:
    """One heater on the run's clock: from ``start`` at ``since``, linear at its rate
    toward its goal (the target; room temperature when switched off, or when a heater
    with no cooling is set below it), then there; ``hold``: the seconds a thermocycler
    block holds its target before its wait ends."""

    def __init__(self, heater: str, since: float = 0.0, start: float = AMBIENT_C,
                 target: float | None = None, hold: float = 0.0) -> None:
        self.heater, self.since, self.start = heater, since, start
        self.target, self.hold = target, hold

    def goal(self) -> float:
        heats_only = RAMPS[self.heater][3]
        if self.target is None or (heats_only and self.target < AMBIENT_C):
            return AMBIENT_C
        return self.target

    def rate(self) -> float:
        heat, cool, passive, _ = RAMPS[self.heater]
        if self.target is None:
            return passive
        return heat if self.goal() >= self.start else cool

    def reached_at(self) -> float:
        return self.since + abs(self.goal() - self.start) / self.rate()

    def temperature(self, t: float) -> float:
        if t >= self.reached_at():
            return self.goal()
        step = self.rate() * (t - self.since)
        return self.start + step if self.goal() > self.start else self.start - step

    def set(self, t: float, target: float | None, hold: float = 0.0) -> None:
        self.start, self.since = self.temperature(t), t
        self.target, self.hold = target, hold


def follow_heaters(events: list[dict[str, Any]]
                   ) -> tuple[dict[int, bool], dict[int, tuple[float, float, Heater]]]:
    """Each module's heaters along the record, as the README's rates model them (a
    command's effect at its ``completed``): for each command that set one, whether it
    had reached its goal by then (``settled``: where it starts from then is the goal of
    the call before, whenever the call comes); for each module wait that completed, its
    deadline (reached, plus a block's hold), the goal it waits for, and the heater. A
    set's result says the module's temperature then: it must be the modelled one. A
    heater is not followed through a thermocycler profile until it completes (it then
    holds the profile's last step), nor after the run's ending began."""
    heaters: dict[tuple[str, str], Heater | None] = {}
    queued: dict[int, dict[str, Any]] = {}
    settled: dict[int, bool] = {}
    deadlines: dict[int, tuple[float, float, Heater]] = {}
    for event in events:
        if event["event"] == "status" and event["status"] in ENDINGS:
            break
        if event["event"] != "command" or event.get("origin") == "cleanup":
            continue
        if event["status"] == "queued":
            queued[event["id"]] = event
            continue
        command = queued[event["id"]]  # (the cleanup's come after the ending began)
        kind, params, t = command["type"], command["params"], event["t"]
        module = params.get("module")
        if kind == "thermocycler/runProfile" and event["status"] == "started":
            heaters[module, "block"] = None  # stepped through by the profile's plan
        if event["status"] != "completed":
            continue
        if kind == "thermocycler/runProfile":
            last = params["steps"][-1][0]
            heaters[module, "block"] = Heater("block", t, last, last)
        for heater in SETS.get(kind, ()):
            model = heaters.setdefault((module, heater), Heater(heater))
            if model is None:
                continue
            reading = event["result"]["module"][READING[heater]]
            assert abs(reading - model.temperature(t)) <= 1e-3, (
                f"{kind} {event['id']} at {t}: the module reads {reading} °C, its ramp "
                f"({RAMPS[heater]} °C/s from {model.start} °C at {model.since} toward "
                f"{model.goal()} °C) says {model.temperature(t)} °C")
            settled[event["id"]] = model.reached_at() <= t + 1e-9
            model.set(t, params["celsius"], params.get("hold_time_s") or 0.0)
        for heater in SWITCH_OFFS.get(kind, ()):
            model = heaters.setdefault((module, heater), Heater(heater))
            if model is not None:
                model.set(t, None)
        if kind in WAITS and params.get("celsius") is None:  # not a wait for a passing
            model = heaters.setdefault((module, WAITS[kind]), Heater(WAITS[kind]))
            if model is not None:
                deadlines[event["id"]] = (model.reached_at() + model.hold, model.goal(),
                                          Heater(model.heater, model.since, model.start,
                                                 model.target, model.hold))
    return settled, deadlines


def check_temperature_waits(events: list[dict[str, Any]]) -> None:
    """docs/design.md §4, §5 and the README's "Decisions" on a pause in a module's wait:
    a wait for a temperature (a temperature module's, a thermocycler's block, with its
    hold time, or lid, a heater-shaker's) has the deadline its module's ramp gives it
    when the target was set: the module heats or cools on through a pause, and a block's
    hold runs on through it too (it is neither restarted nor shortened), so the wait ends
    at that deadline or, if a pause outlasted it, as the run resumes (the unpark's end),
    never before the target is reached (and held), and the module's reading then says
    it is there."""
    _, deadlines = follow_heaters(events)
    queued_at: dict[int, int] = {}
    for index, event in enumerate(events):
        if event["event"] != "command":
            continue
        if event["status"] == "queued":
            queued_at[event["id"]] = index
        elif event["status"] == "completed" and event["id"] in deadlines:
            deadline, goal, model = deadlines[event["id"]]
            start = queued_at[event["id"]]
            begun = next(e["t"] for e in events[start:index]
                         if e["event"] == "command" and e["id"] == event["id"]
                         and e["status"] == "started")
            unparks = [e["t"] for e in events[start:index]
                       if e["event"] == "unpark" and not e.get("interrupted")]
            resumed = unparks[-1] if unparks else -math.inf
            expected = max(deadline, begun, resumed)
            kind = events[start]["type"]
            assert abs(event["t"] - expected) <= 1e-5, (
                f"{kind} {event['id']} (began at {begun}): its ramp from {model.start} °C "
                f"at {model.since} to {goal} °C and hold {model.hold} s end at {deadline}, "
                f"last resumed at {resumed}: the wait ended at {event['t']}, expected "
                f"{expected}")
            status = event["result"]["module"]
            reading = status[READING[WAITS[kind]]]
            assert abs(reading - goal) <= 1e-3, (
                f"{kind} {event['id']} ended at {event['t']} with the module at {reading} "
                f"°C, short of {goal} °C")
            assert status.get("hold_time_left_s", 0.0) <= 1e-3, (kind, event["id"], status)
            if unparks:
                event_(f"{WAITS[kind]} wait paused" + (", hold" if model.hold else "")
                       + (", past its end" if resumed > deadline else ""))


RUN_ONLY = (c.WaitForResume, c.Delay, c.MoveLabware)  # what the pause-free twin leaves out


def not_running(events: list[dict[str, Any]]) -> tuple[list[tuple[float, float]], float]:
    """The spans the run spent pausing, paused or unparking (from the status that left
    ``running`` to the end of the unpark that came back to it), and when its ending
    began (its first ``finishing``, ``stopping``, ... status)."""
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for event in events:
        if event["event"] == "status":
            if event["status"] in ENDINGS:
                if since is not None:
                    spans.append((since, event["t"]))
                return spans, event["t"]
            if event["status"] in ("pausing", "paused") and since is None:
                since = event["t"]
        elif event["event"] == "unpark" and not event.get("interrupted") and since is not None:
            spans.append((since, event["t"]))
            since = None
    end = events[-1]["t"]
    return spans + ([] if since is None else [(since, end)]), end


def within(spans: list[tuple[float, float]], t0: float, t1: float) -> float:
    """How much of ``t0``..``t1`` the ``spans`` cover."""
    return sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in spans)


def command_times(events: list[dict[str, Any]]
                  ) -> list[tuple[int, str, float | None, float | None]]:
    """The protocol's commands in order: id, type, when each started and ended (None:
    not yet)."""
    times: dict[int, list[Any]] = {}
    for event in events:
        if event["event"] != "command" or event.get("origin") == "cleanup":
            continue
        if event["status"] == "queued":
            times[event["id"]] = [event["id"], event["type"], None, None]
        elif event["id"] not in times:  # a command of the cleanup (only its queued
            continue  # event says so)
        elif event["status"] == "started" and times[event["id"]][2] is None:
            times[event["id"]][2] = event["t"]
        elif event["status"] in ("completed", "failed", "interrupted"):
            times[event["id"]][3] = event["t"]
    return [(entry[0], entry[1], entry[2], entry[3]) for entry in times.values()]


def start_positions(trace: list[TraceItem], home: dict[str, float]
                    ) -> dict[int, dict[str, float]]:
    """Where the axes were as each command started (by id), by a traced run's moves."""
    here, starts = dict(home), {}
    for kind, item, end in trace:
        if kind == "move":
            here = dict(end)
        elif (item["event"] == "command" and item["status"] == "started"
              and item["id"] not in starts):
            starts[item["id"]] = here
    return starts


def moves_in_commands(trace: list[TraceItem]
                      ) -> list[tuple[dict[str, Any], dict[str, float], dict[str, float]]]:
    """Each move a protocol command made (its ``queued`` event, the move's start and end),
    up to the run's ending: from the command's start to its end, less its pauses (from
    the ``interrupted`` effect to the ``unpark``, which moves before it is recorded), and
    the moves of a rewound step's commands as each is replayed. Parking, unparking and
    the cleanup belong to no command."""
    queued: dict[int, dict[str, Any]] = {}
    moves: list[tuple[dict[str, Any], dict[str, float], dict[str, float]]] = []
    current: int | None = None
    for kind, item, end in trace:
        if kind == "move":
            if current is not None:
                moves.append((queued[current], item, end))
            continue
        event = item["event"]
        if event == "failure" or (event == "status" and item["status"] in ENDINGS):
            break
        if event == "command" and item.get("origin") != "cleanup":
            if item["status"] == "queued":
                queued[item["id"]] = item
            elif item["id"] not in queued:  # a cleanup command (only its queued says so)
                continue
            elif item["status"] == "started":
                current = item["id"]
            elif item["id"] == current:  # completed, failed, interrupted
                current = None
        elif event == "pause_effect":  # cut off, to park; or going on, rewound or not
            current = None if item["effect"] == "interrupted" else item["id"]
    return moves


def check_mounts_keep_to_their_own(config: Any, trace: list[TraceItem]) -> None:
    """docs/design.md §4: a command of one mount never lowers the other's Z axis (it
    lifts it out of the way at most) nor moves its plunger, and one that acts in place
    (an aspirate, dispense, blow-out or ``prepare_to_aspirate``) moves only its own Z
    axis and plunger: after a checkpoint's unpark each tip stays at the safe height
    until a command of its own mount acts in place, which lowers that pipette first,
    never the other's."""
    for command, start, end in moves_in_commands(trace):
        mount = command["params"].get("mount")
        if mount is None:
            continue  # a home, a module's lift, a delay, a pause: no mount's
        own = config.mounts[mount]
        moved = {axis for axis in end if abs(end[axis] - start[axis]) > 1e-6}
        said = (f"{command['type']} {command['id']} of the {mount} mount moved {moved}, "
                f"from {start} to {end}")
        for name, other in config.mounts.items():
            if name != mount:
                assert end[other.z_axis] >= start[other.z_axis] - 1e-6, (
                    f"{said}: it lowered the {name} mount's tip")
                assert other.plunger_axis not in moved, (
                    f"{said}: it moved the {name} mount's plunger")
        if command["type"] in IN_PLACE:
            assert moved <= {own.z_axis, own.plunger_axis}, (
                f"{said}, though it acts in place")
            if own.z_axis in moved and end[own.z_axis] < start[own.z_axis]:
                event_(f"{command['type']} lowered its own tip, the {mount} one")


def check_duration_against_twin(events: list[dict[str, Any]],
                                twin_events: list[dict[str, Any]],
                                calls: list[tuple[c.Command, ...]], config: Any,
                                trace: list[TraceItem], twin_trace: list[TraceItem]) -> None:
    """docs/design.md §4, §5 against the clock: a pause costs the run the time it is
    paused and no more, and skips nothing, as the pause-free twin's clock shows.

    Up to its ending (``finishing`` for a run that succeeded), the run's clock minus the
    time it spent pausing, paused or unparking (``P``, from the status that left
    ``running`` to the end of the unpark that came back to it) is time spent inside
    commands: none passes between them (checked; likewise in the twin). So

        run's time - P - its delays, protocol pauses and moves by hand (the twin has
        none) = the twin's time for the same commands + sum over them of (a - w)

    with ``a`` a command's time in the run outside pauses and ``w`` the twin's time for
    it. The twin's time is not the run's minus ``P`` in general, for these reasons, and
    each command's ``a - w`` is checked to be, with ``n`` the pauses in it:

    - exactly 0 for a command no pause came in that started where the twin's started (a
      module call moves nothing and may start anywhere): the same moves, the same module
      ramps, the same time. A wait for a temperature needs its target set in the same
      call with the heater at its previous goal in both runs (``follow_heaters``): a
      target set earlier ramps on through pauses before the wait, which then has less
      left (``check_temperature_waits`` holds it to its deadline instead);
    - between 0 and ``n * (w + the twin's time of the moves before it in its call)``
      for a motion command a pause cut off: a cut move goes on from a standstill, never
      faster than the twin's unbroken trapezoid, and at most starts over; a rewound
      step repeats the moves before it (§4);
    - between ``-(the pauses' time)`` and 0 for a module call or wait a pause came in:
      the module goes on while the run is paused (a ramp, a hold, a profile), finishes
      a lid, latch or magnet move before the pause takes effect, and has the shaker back
      at speed before the unpark ends, so the pause absorbs part of the call's time
      (``a <= w <= a + its pauses``; ``check_temperature_waits`` and the profile's check
      say exactly when such a wait ends);
    - exactly the time to lower its own tip first (the other's stays up), for a command
      that acts in place after a checkpoint's unpark held it up (§4; at least 0 if it
      was paused too), else the twin's;
    - at most the time a Z axis takes over the height it was held up, either way, for a
      motion command that goes elsewhere from up there: it skips the twin's lift and
      comes down farther. These are the only commands that start elsewhere than the
      twin's, and only higher, on Z axes.

    With no pause at all, the run's time minus its delays is the twin's, exactly."""
    spans, end = not_running(events)
    twin_spans, twin_end = not_running(twin_events)
    assert not twin_spans, twin_spans
    mine, theirs = command_times(events), command_times(twin_events)
    flat = [(index, cmd) for index, call in enumerate(calls) for cmd in call]
    twin_flat = [(index, cmd) for index, cmd in flat if not isinstance(cmd, RUN_ONLY)]
    assert [kind for _, kind, _, _ in mine] == [cmd.kind for _, cmd in flat[:len(mine)]]
    assert [kind for _, kind, _, _ in theirs] == [cmd.kind for _, cmd in twin_flat]
    start = events[0]["t"]
    # No time passes outside commands but the pauses (and the twin has none).
    outside = (end - start) - within(spans, start, end) - sum(
        min(ended if ended is not None else end, end) - began
        - within(spans, began, min(ended if ended is not None else end, end))
        for _, _, began, ended in mine if began is not None and began <= end)
    assert abs(outside) <= 1e-5 * (1 + len(mine)), (
        f"the run spent {outside} s running outside its commands and pauses")
    twin_outside = (twin_end - twin_events[0]["t"]) - sum(
        ended - began for _, _, began, ended in theirs
        if began is not None and ended is not None)
    assert abs(twin_outside) <= 1e-5 * (1 + len(theirs)), twin_outside
    settled, twin_settled = follow_heaters(events)[0], follow_heaters(twin_events)[0]
    completed = {e["id"] for e in events if e["event"] == "command"
                 and e["status"] == "completed"}
    cut = {e["id"] for e in events if e["event"] == "pause_effect"  # (a pause may last
           and e["effect"] == "interrupted"}  # no time: a door open for none)
    twin_ids = iter(theirs)
    twin_of: dict[int, tuple[int, float, float]] = {}  # run's id -> the twin's id and times
    run_only = 0.0  # the run's time in commands the twin leaves out
    for (command_id, _, began, ended), (_, cmd) in zip(mine, flat, strict=False):
        if isinstance(cmd, RUN_ONLY):
            if began is not None and began <= end:
                stop = min(ended if ended is not None else end, end)
                run_only += stop - began - within(spans, began, stop)
            continue
        twin_id, _, twin_began, twin_ended = next(twin_ids)
        assert twin_began is not None and twin_ended is not None
        twin_of[command_id] = (twin_id, twin_began, twin_ended)
    home = {axis: axis_config.home for axis, axis_config in config.axes.items()}
    here, there = start_positions(trace, home), start_positions(twin_trace, home)
    ids = [command_id for command_id, _, _, _ in mine]
    caps: dict[str, float] = {}  # the max_speeds in force
    earlier = (-1, 0.0)  # the call, and its motion commands' time so far in the twin
    for position, ((command_id, kind, began, ended), (call, cmd)) in enumerate(
            zip(mine, flat, strict=False)):
        if isinstance(cmd, c.SetMaxSpeeds):
            caps = dict(cmd.speeds)
        if earlier[0] != call:
            earlier = (call, 0.0)
        if (command_id not in twin_of or command_id not in completed or began is None
                or ended is None or ended > end):
            continue
        twin_id, twin_began, twin_ended = twin_of[command_id]
        span, w = ended - began, twin_ended - twin_began
        a = span - within(spans, began, ended)
        pauses = sum(1 for a_, b_ in spans if a_ <= ended and b_ >= began)
        paused = span - a > 1e-9 or command_id in cut
        moves = cmd.execution is c.Execution.MOTION
        said = (f"{kind} {command_id} (call {call}): {a} s outside pauses ({span} s in "
                f"all), the twin's took {w} s")
        mine_at, twin_at = here[command_id], there[twin_id]
        moved = {axis for axis in mine_at if abs(mine_at[axis] - twin_at[axis]) > 1e-6}
        if moves and moved:
            assert moved <= set(config.z_axes) and all(
                mine_at[axis] > twin_at[axis] for axis in moved), (
                f"{said}; it started at {mine_at}, the twin's at {twin_at}")
            if cmd.in_place:  # its own tip lowered first, then what the twin did
                own = config.mounts[getattr(cmd, "mount", "")].z_axis
                down = {z: twin_at[z] for z in moved if z == own}
                # The lowering keeps to max_speeds, as every move after it does.
                path = math.hypot(*(mine_at[z] - twin_at[z] for z in down))
                limits = [caps[z] * path / (mine_at[z] - twin_at[z]) for z in down
                          if z in caps]
                capped = limiting_axis(mine_at, down, config.axes,
                                       min(limits) if limits else None)[0]
                if paused:
                    assert a >= w - 1e-5, said + ", though it had the tips to lower first"
                else:
                    assert abs(a - (w + capped)) <= 1e-5, (
                        f"{said}, and {capped} s (at the max_speeds) to lower its tip the "
                        f"checkpoint's unpark held up (of {moved}: {sorted(down)})")
            elif not paused:  # from up there: no lift, a longer way down
                most = max(profile_time(mine_at[z] - twin_at[z],
                                        min(config.axes[z].max_speed, caps.get(z, math.inf)),
                                        config.axes[z].acceleration) for z in moved)
                assert abs(a - w) <= most + 1e-5, (
                    f"{said}, starting {moved} higher (at {mine_at}, the twin's at "
                    f"{twin_at}), which saves or costs at most {most} s")
            event_("duration: a command began with the tips held up"
                   + (" and lowered its own" if cmd.in_place and down else "")
                   + (", the other's left up" if cmd.in_place and set(moved) - set(down)
                      else ""))
        elif isinstance(cmd, c.ModuleWait) and not isinstance(cmd, c.RunProfile) and not (
                position >= 1 and flat[position - 1][0] == call
                and flat[position - 1][1].kind in SETS
                and settled.get(ids[position - 1], False)
                and twin_settled.get(twin_of[ids[position - 1]][0], False)):
            event_("duration: a module wait whose ramp ran on before it")
        elif not paused:
            assert abs(a - w) <= 1e-5, said + ", and no pause came in it"
        elif moves:
            most = w + pauses * (w + earlier[1])
            assert w - 1e-5 <= a <= most + 1e-5, (
                f"{said}: a motion command a pause cut off takes at least the twin's "
                f"time, and at most {most} s (once more per pause, with the moves before "
                "it in its step)")
            event_("duration: a motion command paused")
        else:
            assert a <= w + 1e-5 <= span + 2e-5, (
                said + ": a pause in a module call may only absorb some of its time")
            event_("duration: a module call paused" + (", shorter" if a < w - 1e-5 else ""))
        if moves:
            earlier = (call, earlier[1] + w)
    if not spans and events[-1]["status"] == "succeeded":
        assert abs((end - start - run_only) - (twin_end - twin_events[0]["t"])) <= 1e-5 * (
            1 + len(mine)), (end - start, run_only, twin_end)


class RunMachine(InterruptedRunMachine):
    """One run, driven at random."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.has_tip = dict.fromkeys(MOUNTS, False)
        self.volume = dict.fromkeys(MOUNTS, 0.0)
        self.asked: dict[str, float] = defaultdict(float)  # µL aspirated per well, returned calls
        self.cut_short: dict[str, float] = defaultdict(float)  # µL asked by calls the run cut
        self.finished = False
        self.trace: list[TraceItem] = []
        self.calls: list[tuple[c.Command, ...]] = []  # every protocol call, for the twin
        self.tips_taken = 0
        self.shaking = False  # the protocol's last shaker call left it shaking
        self.shaker_target: float | None = None  # the heater-shaker's, once one is set
        self.paused_modules: tuple[int, dict[str, Any]] | None = None
        self.spare_at = c.OFF_DECK  # where the spare plate is, as the protocol knows it
        # the well the returned calls left each mount's tip in, and where they left the
        # gantry (None: not known, not after a pick-up, a drop or a home)
        self.at: dict[str, str | None] = dict.fromkeys(MOUNTS)
        self.gantry: tuple[float, float] | None = None
        self.device_calls: list[dict[str, Any]] = []  # every call a module device saw
        # Steps, commands and tips of the calls that returned, and the call the run's end
        # cut short (if any), for the summary's counts.
        self.returned = {"steps": 0, "commands": 0, "tips": 0}
        self.cut_call: tuple[c.Command, ...] | None = None
        self.broken: set[str] = set()  # the modules that no longer answer

    @initialize(auto_resume=st.booleans(), tip=st.booleans(), right_tip=st.booleans())
    def start(self, auto_resume: bool, tip: bool, right_tip: bool) -> None:
        self.config = replace(default_config(),
                                   interlocks={"door": InterlockConfig(auto_resume)})
        self.run = ScriptedRun(self.config, record_path=str(Path(self.tmp.name) / "run.jsonl"),
                               trace=self.trace)
        self._hook_moves()
        self.run.play()
        self._call(P300)
        self._call(P300_RIGHT)
        self._call(PLATE)
        self._call(*MODULES)
        log_device_calls(self.r.engine, self.device_calls)
        self._break_modules_when_told()
        self._call(SPARE)
        # a tip on from the start: the liquid rules need one, swarms may lack it
        for mount, on in (("left", tip), ("right", right_tip)):
            if on:
                self._call(self._new_tip(mount))

    # -- helpers ----------------------------------------------------------------------

    def _break_modules_when_told(self) -> None:
        """Each loaded module's device raises ``HardwareFault`` at whatever the engine asks
        of it (a call, to park, unpark, be made safe or stop moving) once it is in
        ``broken`` (``module_fails``), as a module that stopped answering does."""
        for module in self.r.engine.modules.loaded.values():
            for name in ("call", "park", "unpark", "deactivate", "stop_moving"):
                inner = getattr(module.device, name)

                async def asked(*args: Any, _inner: Any = inner, _id: str = module.id) -> Any:
                    if _id in self.broken:
                        raise HardwareFault(f"{_id} stopped answering")
                    return await _inner(*args)

                setattr(module.device, name, asked)

    def free(self) -> bool:
        return self.pending is None and self.terminal is None and not self.finished

    # Which mount a rule's call is made with: the one drawn, or the other if the drawn
    # one does not fit it (its precondition, ``free_for``, says one does).

    def free_for(self, fits: Callable[[str], bool]) -> bool:
        return self.free() and any(fits(mount) for mount in MOUNTS)

    def pick_mount(self, drawn: str, fits: Callable[[str], bool]) -> str:
        return drawn if fits(drawn) else OTHER[drawn]

    def bare(self, mount: str) -> bool:
        return not self.has_tip[mount]

    def tipped(self, mount: str) -> bool:
        return self.has_tip[mount]

    def can_draw(self, mount: str) -> bool:
        return self.has_tip[mount] and self.volume[mount] < 290

    def holds(self, mount: str) -> bool:
        return self.has_tip[mount] and self.volume[mount] > 0

    def can_draw_air(self, mount: str) -> bool:
        return self.has_tip[mount] and self.volume[mount] < 280

    def empty(self, mount: str) -> bool:
        return self.has_tip[mount] and self.volume[mount] <= 0

    def in_a_well(self, mount: str) -> bool:
        return self.has_tip[mount] and self.at[mount] is not None

    def can_draw_here(self, mount: str) -> bool:
        return self.can_draw(mount) and self.at[mount] is not None

    def holds_here(self, mount: str) -> bool:
        return self.holds(mount) and self.at[mount] is not None

    def _call(self, *commands: c.Command) -> None:
        self.calls.append(commands)
        self.pending = (self.r.call(*commands, name=commands[0].kind), commands)
        self._collect()

    def _steps(self, calls: list[tuple[c.Command, ...]], split: str) -> None:
        """``calls`` as one step, or (``split``) as a step each, as ``move_to`` then an
        ``aspirate`` in place make, each made once the one before returned; with "paused"
        in ``split``, a deferred pause is asked for before each later one and the run
        resumed: between the steps it parks, and the unpark holds the tips up (§4). With
        "other down", the other mount's tip goes straight down beside the first call's
        (``_beside``) before the rest: the checkpoint after it holds both tips up, and
        the call in place lowers its own only; gone into a well, the other blows out
        there in the same step, lowered in turn."""
        if "other down" in split:
            first = calls[0][0]
            assert isinstance(first, c.MoveTo)
            beside = self._beside(first)
            calls = [calls[0], (beside,), *calls[1:]]
            if beside.well is not None:
                calls[-1] = (*calls[-1], c.BlowOut(beside.mount, 50.0, beside.well))
        self._call_split(calls, split)

    def _beside(self, move: c.MoveTo) -> c.MoveTo:
        """The other mount's tip straight down where ``move`` leaves the gantry: a right
        one with a tip on into the well four columns right of the left one's (its nozzle
        is 34 mm right of the left one's, 2 mm short of that well's centre), else to 80
        mm, over the plate or the tip rack. Both tips may then act in a well each."""
        other = OTHER[move.mount]
        dx, dy, _ = self.config.mounts[move.mount].offset
        ox, oy, _ = self.config.mounts[other].offset
        x, y = move.point[0] - dx + ox, move.point[1] - dy + oy
        if other == "right" and self.has_tip[other] and move.well is not None:
            well = f"{move.well[:3]}{int(move.well[3:]) + 4}"
            assert well_at(x, y, 3.0) == well, (x, y, well)
            return c.MoveTo(other, (x, y, 3.0), well=well)
        return c.MoveTo(other, (x, y, 80.0))

    def _collect(self) -> None:
        """Account for the pending call if it has returned."""
        if self.pending is None:
            return
        outcome, commands = self.pending
        if not outcome.done.is_set():
            return
        self.pending = None
        if outcome.error is not None:
            # The run ended inside this call: any prefix of its commands may have run.
            self.cut_call = commands
            for cmd in commands:
                if isinstance(cmd, c.Aspirate) and cmd.well is not None:
                    self.cut_short[cmd.well] += cmd.volume
            return
        self.returned["steps"] += 1
        self.returned["commands"] += len(commands)
        self.returned["tips"] += sum(isinstance(cmd, c.PickUpTip) for cmd in commands)
        for cmd in commands:
            if isinstance(cmd, c.PickUpTip):
                self.has_tip[cmd.mount], self.volume[cmd.mount] = True, 0.0
            elif isinstance(cmd, c.DropTip):
                self.has_tip[cmd.mount], self.volume[cmd.mount] = False, 0.0
            elif isinstance(cmd, c.Aspirate):
                self.volume[cmd.mount] += cmd.volume
                assert cmd.well is not None
                self.asked[cmd.well] += cmd.volume
            elif isinstance(cmd, c.Dispense):
                self.volume[cmd.mount] -= cmd.volume
            elif isinstance(cmd, c.BlowOut):
                self.volume[cmd.mount] = 0.0
            elif isinstance(cmd, (c.SetAndWaitForShakeSpeed, c.DeactivateShaker)):
                self.shaking = isinstance(cmd, c.SetAndWaitForShakeSpeed)
            elif isinstance(cmd, c.MoveLabware):
                self.spare_at = cmd.to_slot
            self._follow_tips(cmd)

    def _follow_tips(self, cmd: c.Command) -> None:
        """Where ``cmd``, returned, left each mount's tip (``at``) and the gantry."""
        if isinstance(cmd, c.MoveTo):
            x, y, _ = cmd.point
            dx, dy, _ = self.config.mounts[cmd.mount].offset
            gantry = (x - dx, y - dy)
            if self.gantry is None or max(abs(gantry[0] - self.gantry[0]),
                                          abs(gantry[1] - self.gantry[1])) > 1e-6:
                self.at = dict.fromkeys(MOUNTS)  # the gantry went elsewhere
            self.at[cmd.mount], self.gantry = cmd.well, gantry  # (straight up or down)
        elif isinstance(cmd, c.TouchTip):
            self.at, self.gantry = dict.fromkeys(MOUNTS), None
            self.at[cmd.mount] = cmd.well
        elif isinstance(cmd, c.Home) and cmd.axes is not None and not {"X", "Y"} & set(
                cmd.axes):
            for mount in MOUNTS:  # the tips of the Z axes homed went up
                if self.config.mounts[mount].z_axis in cmd.axes:
                    self.at[mount] = None
        elif cmd.execution is c.Execution.MOTION and not cmd.in_place:
            # a pick-up, a drop, a lift or a home went elsewhere
            self.at, self.gantry = dict.fromkeys(MOUNTS), None


    # Each call of a pipette is made with the mount drawn, or the other if only that one
    # fits it (``pick_mount``): both mounts' calls come in any order.

    @precondition(lambda self: self.free())
    @rule(mount=st.sampled_from(MOUNTS), x=st.floats(20, 380), y=st.floats(20, 330),
          z=st.floats(20, 150))
    def move(self, mount: str, x: float, y: float, z: float) -> None:
        self._call(c.MoveTo(mount, (x, y, z)))

    @precondition(lambda self: self.free() and self.gantry is not None)
    @rule(mount=st.sampled_from(MOUNTS), z=st.floats(20, 150))
    def move_straight(self, mount: str, z: float) -> None:
        # one mount's tip straight up or down where it is (move_to a point above): the
        # gantry stays, and so does the other's tip, in its well or held up (§4)
        assert self.gantry is not None
        dx, dy, _ = self.config.mounts[mount].offset
        self._call(c.MoveTo(mount, (self.gantry[0] + dx, self.gantry[1] + dy, z)))

    @precondition(lambda self: self.free_for(self.bare))
    @rule(mount=st.sampled_from(MOUNTS))
    def pick_up_tip(self, mount: str) -> None:
        self._call(self._new_tip(self.pick_mount(mount, self.bare)))

    def _new_tip(self, mount: str) -> c.PickUpTip:
        top, name = tip(self.tips_taken)
        self.tips_taken += 1
        return c.PickUpTip(mount, top, name, 51.0)

    @precondition(lambda self: self.free_for(self.bare))
    @rule(pairs=st.lists(st.tuples(st.sampled_from(MOUNTS), st.sampled_from(WELLS),
                                   st.sampled_from(WELLS), st.floats(5, 300)),
                         min_size=1, max_size=3))
    def transfers(self, pairs: list[tuple[str, str, str, float]]) -> None:
        # One step of transfers, each with a fresh tip, as transfer() or ctx.step make,
        # each with either pipette that has no tip on.
        commands: list[c.Command] = []
        for drawn, source, destination, volume in pairs:
            mount, volume = self.pick_mount(drawn, self.bare), round(volume, 3)
            commands += [self._new_tip(mount),
                         c.MoveTo(mount, well_point(source), well=source),
                         c.Aspirate(mount, volume, 50.0, source),
                         c.MoveTo(mount, well_point(destination), well=destination),
                         c.Dispense(mount, volume, 50.0, destination),
                         c.DropTip(mount, *TRASH)]
        self._call(*commands)

    @precondition(lambda self: self.free_for(self.can_draw))
    @rule(mount=st.sampled_from(MOUNTS), well=st.sampled_from(WELLS),
          fraction=st.floats(0.05, 1.0),
          split=st.sampled_from([*SPLITS, "prepare", "prepare, paused"]))
    def aspirate(self, mount: str, well: str, fraction: float, split: str) -> None:
        # "prepare": ``prepare_to_aspirate`` a step between them (see ``_steps``)
        mount = self.pick_mount(mount, self.can_draw)
        volume = round((300 - self.volume[mount]) * fraction, 3)
        calls: list[tuple[c.Command, ...]] = [
            (c.MoveTo(mount, well_point(well), well=well),),
            (c.Aspirate(mount, volume, 50.0, well),)]
        if split.startswith("prepare") and self.volume[mount] <= 0:
            calls.insert(1, (c.PrepareToAspirate(mount),))
        self._steps(calls, split)

    @precondition(lambda self: self.free_for(self.holds))
    @rule(mount=st.sampled_from(MOUNTS), well=st.sampled_from(WELLS),
          fraction=st.floats(0.1, 1.0), split=st.sampled_from(SPLITS))
    def dispense(self, mount: str, well: str, fraction: float, split: str) -> None:
        mount = self.pick_mount(mount, self.holds)
        held = self.volume[mount]
        volume = round(held * fraction, 3) if fraction < 1 else held
        self._steps([(c.MoveTo(mount, well_point(well), well=well),),
                     (c.Dispense(mount, volume, 50.0, well),)], split)

    @precondition(lambda self: self.free_for(self.can_draw_air))
    @rule(mount=st.sampled_from(MOUNTS), well=st.sampled_from(WELLS))
    def air_gap(self, mount: str, well: str) -> None:
        mount = self.pick_mount(mount, self.can_draw_air)
        x, y, _ = well_point(well)
        self._call(c.MoveTo(mount, (x, y, 19.0), well=well),
                   c.Aspirate(mount, 10.0, 50.0, well, air_gap=True))

    @precondition(lambda self: self.free_for(self.tipped))
    @rule(mount=st.sampled_from(MOUNTS), well=st.sampled_from(WELLS),
          split=st.sampled_from(SPLITS))
    def blow_out(self, mount: str, well: str, split: str) -> None:
        # at the well's top: the plunger ends past the bottom, to be made ready again
        mount = self.pick_mount(mount, self.tipped)
        x, y, _ = well_point(well)
        self._steps([(c.MoveTo(mount, (x, y, 15.0), well=well),),
                     (c.BlowOut(mount, 50.0, well),)], split)

    @precondition(lambda self: self.free_for(self.tipped))
    @rule(mount=st.sampled_from(MOUNTS), well=st.sampled_from(WELLS))
    def touch_tip(self, mount: str, well: str) -> None:
        x, y, _ = well_point(well)
        self._call(c.TouchTip(self.pick_mount(mount, self.tipped), (x, y, 13.0), 3.0, 3.0,
                              60.0, well))

    # In place (no location): where the last call left that mount's tip, lowered first
    # after a checkpoint's unpark held it up, and only it (docs/design.md §4).

    @precondition(lambda self: self.free_for(self.empty))
    @rule(mount=st.sampled_from(MOUNTS))
    def prepare_to_aspirate(self, mount: str) -> None:
        self._call(c.PrepareToAspirate(self.pick_mount(mount, self.empty)))

    @precondition(lambda self: self.free_for(self.can_draw_here))
    @rule(mount=st.sampled_from(MOUNTS), fraction=st.floats(0.05, 1.0))
    def aspirate_here(self, mount: str, fraction: float) -> None:
        mount = self.pick_mount(mount, self.can_draw_here)
        volume = round((300 - self.volume[mount]) * fraction, 3)
        self._call(c.Aspirate(mount, volume, 50.0, self.at[mount]))

    @precondition(lambda self: self.free_for(self.holds_here))
    @rule(mount=st.sampled_from(MOUNTS), fraction=st.floats(0.1, 1.0))
    def dispense_here(self, mount: str, fraction: float) -> None:
        mount = self.pick_mount(mount, self.holds_here)
        held = self.volume[mount]
        volume = round(held * fraction, 3) if fraction < 1 else held
        self._call(c.Dispense(mount, volume, 50.0, self.at[mount]))

    @precondition(lambda self: self.free_for(self.in_a_well))
    @rule(mount=st.sampled_from(MOUNTS))
    def blow_out_here(self, mount: str) -> None:
        mount = self.pick_mount(mount, self.in_a_well)
        self._call(c.BlowOut(mount, 50.0, self.at[mount]))

    @precondition(lambda self: self.free())
    @rule(mount=st.sampled_from(MOUNTS), what=st.sampled_from(["Z, plunger", "plunger", "Z"]))
    def home_other_mount(self, mount: str, what: str) -> None:
        # the other mount's Z and plunger, or one of them: this mount's tip stays where it
        # is, and a step in place after it acts there (lowered first after a checkpoint);
        # a plunger is homed only with no tip on (it would draw in what the tip is in)
        other = self.config.mounts[OTHER[mount]]
        axes = (other.z_axis,) * ("Z" in what) + (other.plunger_axis,) * (
            "plunger" in what and not self.has_tip[OTHER[mount]])
        self._call(c.Home(axes=axes or (other.z_axis,)))

    @precondition(lambda self: self.free())
    @rule(on=st.booleans())
    def rail_lights(self, on: bool) -> None:
        self._call(c.SetRailLights(on))

    @precondition(lambda self: self.free())
    @rule(cap=st.one_of(st.none(), st.floats(20, 400)))
    def max_speeds(self, cap: float | None) -> None:
        self._call(c.SetMaxSpeeds(() if cap is None else (("X", cap), ("Z", cap / 4),
                                                          ("A", cap / 4))))

    @precondition(lambda self: self.free_for(self.tipped))
    @rule(mount=st.sampled_from(MOUNTS))
    def drop_tip(self, mount: str) -> None:
        self._call(c.DropTip(self.pick_mount(mount, self.tipped), *TRASH))

    # What happens inside a delay or a profile, at an instant after it begins: a pause
    # (deferred or immediate: either takes effect at once), a door, or a skip; a pause
    # or a door then lasts ``linger`` seconds (the person resumes, the door closes), if
    # given, with the delay skipped while paused for "skip paused".
    INSIDE = st.one_of(st.none(), st.tuples(
        st.floats(0.0, 1.0), st.sampled_from(["deferred", "immediate", "door", "skip",
                                              "skip paused"]),
        st.one_of(st.none(), st.floats(0.0, 200.0))))

    def _inside(self, after: float, what: str, linger: float | None) -> None:
        engine, controller, clock = self.r.engine, self.r.controller, self.r.clock
        at = clock.now() + after
        if what == "skip":
            clock.call_at(at, lambda: engine.apply(SkipDelay()))
            return
        if what == "door":
            clock.call_at(at, lambda: controller.set_interlock("door", True))
        else:
            clock.call_at(at, lambda: engine.apply(Pause(option="deferred")))
        if linger is None:
            return  # the test's own rules resume it, or not
        if what == "skip paused":
            clock.call_at(at + linger / 2, lambda: engine.apply(SkipDelay()))
        if what == "door":  # auto_resume or a person (the test) resumes
            clock.call_at(at + linger, lambda: controller.set_interlock("door", False))
        else:
            clock.call_at(at + linger, lambda: engine.apply(Resume()))
            self.resumes.append(at + linger)

    @precondition(lambda self: self.free())
    @rule(seconds=st.floats(0.5, 120), inside=INSIDE,
          lead_in=st.sampled_from([None, "move", "move, paused"]),
          mount=st.sampled_from(MOUNTS))
    def delay(self, seconds: float, inside: tuple[float, str, float | None] | None,
              lead_in: str | None, mount: str) -> None:
        """A delay, as a step of its own or after a move in its step (close a lid, then
        incubate); "paused": a deferred pause is asked for as that move begins."""
        if inside is not None:
            self._inside(inside[0] * seconds, *inside[1:])
        if lead_in is None:
            self._call(c.Delay(seconds, "wait"))
            return
        if lead_in == "move, paused":
            engine = self.r.engine
            self.r.clock.call_at(self.r.clock.now(),
                                 lambda: engine.apply(Pause(option="deferred")))
        self._call(c.MoveTo(mount, (200.0, 200.0, 150.0)), c.Delay(seconds, "wait"))

    # -- module calls -------------------------------------------------------------------

    # Inside a module's wait for a temperature: a pause or a door (a skip is a delay's),
    # at a fraction of the time its ramp (and hold) takes from where the module is now.
    WAIT_INSIDE = st.one_of(st.none(), st.tuples(
        st.floats(0.0, 1.0), st.sampled_from(["deferred", "immediate", "door"]),
        st.one_of(st.none(), st.floats(0.0, 200.0))))

    def _ramp_s(self, module: str, heater: str, celsius: float) -> float:
        """About how long ``module``'s ``heater`` takes from where it reads now to
        ``celsius``."""
        now = self.module_status()[module][READING[heater]]
        heat, cool, _, heats_only = RAMPS[heater]
        goal = max(celsius, AMBIENT_C) if heats_only else celsius
        return float(abs(goal - now) / (heat if goal >= now else cool))

    def _inside_wait(self, seconds: float, inside: tuple[float, str, float | None] | None
                     ) -> None:
        if inside is not None:
            self._inside(inside[0] * seconds, *inside[1:])

    @precondition(lambda self: self.free())
    @rule(celsius=st.floats(4, 95), inside=WAIT_INSIDE)
    def set_temperature(self, celsius: float,
                        inside: tuple[float, str, float | None] | None) -> None:
        celsius = round(celsius, 1)
        self._inside_wait(self._ramp_s(TEMP, "temperature", celsius), inside)
        self._call(c.SetTargetTemperature(TEMP, celsius), c.WaitForTemperature(TEMP))

    @precondition(lambda self: self.free())
    @rule(height=st.one_of(st.none(), st.floats(0, 25)))
    def magnet(self, height: float | None) -> None:
        self._call(c.Disengage(MAG) if height is None else c.Engage(MAG, round(height, 2)))

    @precondition(lambda self: self.free())
    @rule(closed=st.booleans(), lid_celsius=st.one_of(st.none(), st.floats(37, 110)))
    def thermocycler_lid(self, closed: bool, lid_celsius: float | None) -> None:
        # the pipettes lifted and the gantry homed out of the lid's way, as the API does
        commands: list[c.Command] = [c.LiftPipettes(TC, gantry=True),
                                     c.CloseLid(TC) if closed else c.OpenLid(TC)]
        if lid_celsius is not None:
            commands += [c.SetTargetLidTemperature(TC, round(lid_celsius, 1)),
                         c.WaitForLidTemperature(TC)]
        self._call(*commands)

    @precondition(lambda self: self.free())
    @rule(celsius=st.floats(4, 99), hold=st.one_of(st.none(), st.floats(0, 60)),
          inside=WAIT_INSIDE)
    def block_temperature(self, celsius: float, hold: float | None,
                          inside: tuple[float, str, float | None] | None) -> None:
        celsius = round(celsius, 1)
        self._inside_wait(self._ramp_s(TC, "block", celsius) + (hold or 0.0), inside)
        self._call(c.SetTargetBlockTemperature(TC, celsius, hold),
                   c.WaitForBlockTemperature(TC))

    @precondition(lambda self: self.free())
    @rule(celsius=st.floats(0, 95), wait=st.booleans(), inside=WAIT_INSIDE)
    def shaker_temperature(self, celsius: float, wait: bool,
                           inside: tuple[float, str, float | None] | None) -> None:
        # set_and_wait_for_temperature, or set_target_temperature (waited for later, by
        # ``shaker_wait``: the plate heats or cools meanwhile, pauses or not); below room
        # temperature the plate stays at room temperature (it only heats)
        celsius = round(celsius, 1)
        self.shaker_target = celsius
        if not wait:
            self._call(c.SetTargetShakerTemperature(HS, celsius))
            return
        self._inside_wait(self._ramp_s(HS, "shaker", celsius), inside)
        self._call(c.SetTargetShakerTemperature(HS, celsius), c.WaitForShakerTemperature(HS))

    @precondition(lambda self: self.free() and self.shaker_target is not None)
    @rule(inside=WAIT_INSIDE)
    def shaker_wait(self, inside: tuple[float, str, float | None] | None) -> None:
        assert self.shaker_target is not None
        self._inside_wait(self._ramp_s(HS, "shaker", self.shaker_target), inside)
        self._call(c.WaitForShakerTemperature(HS))

    @precondition(lambda self: self.free())
    @rule(steps=st.lists(st.tuples(st.floats(4, 99), st.floats(0, 30)), min_size=1,
                         max_size=3),
          repetitions=st.integers(1, 3), inside=INSIDE)
    def profile(self, steps: list[tuple[float, float]], repetitions: int,
                inside: tuple[float, str, float | None] | None) -> None:
        planned = tuple((round(t, 1), round(h, 1)) for t, h in steps)
        if inside is not None:  # at a fraction of 10 minutes: a profile takes minutes
            self._inside(inside[0] * 600.0, *inside[1:])
        self._call(c.RunProfile(TC, planned, repetitions, 20.0))

    @precondition(lambda self: self.free())
    @rule(rpm=st.one_of(st.none(), st.floats(200, 3000)))
    def shake(self, rpm: float | None) -> None:
        if rpm is None:  # the latch closed first, as the protocol API requires
            self._call(c.CloseLabwareLatch(HS), c.DeactivateShaker(HS))
        else:
            self._call(c.CloseLabwareLatch(HS), c.LiftPipettes(HS),
                       c.SetAndWaitForShakeSpeed(HS, round(rpm)))

    @precondition(lambda self: self.free() and not self.shaking)
    @rule()
    def open_latch(self) -> None:
        self._call(c.LiftPipettes(HS), c.OpenLabwareLatch(HS))

    @precondition(lambda self: self.free())
    @rule()
    def protocol_pause(self) -> None:
        self._call(c.WaitForResume("protocol pause"))

    @precondition(lambda self: self.free())
    @rule(to=st.sampled_from(["5", "6", c.OFF_DECK]))
    def move_labware_by_hand(self, to: str) -> None:
        # A person moves the spare plate while the run waits (ctx.move_labware).
        self._call(c.MoveLabware(SPARE_INDEX, SPARE.load_name, "spare", self.spare_at, to,
                                 to, SPARE_TOP, f"move the spare plate to {to}"))

    @precondition(lambda self: self.free())
    @rule()
    def finish_protocol(self) -> None:
        # The protocol returns; the run ends once nothing holds it (a pause may).
        self.r.finish()
        self.finished = True

    # -- actions from another thread --------------------------------------------------

    @rule(shaking=st.one_of(st.none(), SHAKE_THEN_HALT, SHAKE_THEN_HALT))
    def halt(self, shaking: tuple[float, float | None] | None) -> None:
        # Two in three halts that come between two calls come while the plate shakes,
        # which the other rules seldom bring about (the shaker rarely runs when a halt
        # comes at random, and a pause stops it first); ``shake_then_halt`` is such a
        # halt too. The ending's invariant then checks that the halt stopped the plate.
        if shaking is None or not self.free():
            self._act("halt")
            return
        self.shake_then_halt(*shaking)

    @precondition(lambda self: self.free())
    @rule(rpm=SHAKE_RPM, at=HALT_IN_SPIN_UP)
    def shake_then_halt(self, rpm: float, at: float | None) -> None:
        """The protocol shakes at ``rpm``, and the run is halted at the fraction ``at``
        of the spin-up, or once the plate is at speed (None)."""
        speed = round(rpm)
        self._call(c.CloseLabwareLatch(HS), c.LiftPipettes(HS))
        if not self.free():
            return
        if at is not None:
            engine, clock = self.r.engine, self.r.clock
            spin_up = abs(speed - self.module_status()[HS]["rpm"]) / SHAKER_RPM_S
            clock.call_at(clock.now() + at * spin_up, lambda: engine.apply(Halt()))
        self._call(c.SetAndWaitForShakeSpeed(HS, speed))
        if at is None:
            self._act("halt")

    @rule()
    def skip_delay(self) -> None:
        self._act("skip_delay")

    @rule(after=st.floats(0.0, 30.0), chance=st.integers(0, 3))
    def robot_lost_later(self, after: float, chance: int) -> None:
        # One pick in four: a lost robot ends the run, and the other rules need runs.
        if chance == 0:
            controller, clock = self.r.controller, self.r.clock
            clock.call_at(clock.now() + after, controller.lose_connection)

    @rule(after=st.one_of(st.none(), st.floats(0.0, 60.0)),
          module=st.sampled_from([TEMP, MAG, TC, HS]), chance=st.integers(0, 3))
    def module_fails(self, after: float | None, module: str, chance: int) -> None:
        # One pick in four: a module stops answering, now (None) or after a while, and
        # fails the run at its next call (a pause's, an unpark's, the cleanup's too),
        # which must still end.
        if chance:
            return
        if after is None:
            self.broken.add(module)
        else:
            self.r.clock.call_at(self.r.clock.now() + after, lambda: self.broken.add(module))

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def a_lost_robot_ends_the_run(self) -> None:
        if self.run is None or not self.r.controller.connection_lost:
            return
        report = self.r.status()
        assert report.status.is_terminal, f"still {report.status.value} with the robot lost"
        if report.status is Status.FAILED:
            assert report.outcome is not None and report.outcome.error

    @invariant()
    def a_labware_moved_by_hand_is_moved_once_the_person_resumed(self) -> None:
        # The deck the robot plans over changes when the move's call returns, not before
        # (while the run waits for the person), and never if the run ended in it.
        if self.run is None:
            return
        self._collect()
        where = sorted(slot for slot, name in self.r.engine.model.labware.items()
                       if name == "spare")
        assert where == ([] if self.spare_at == c.OFF_DECK else [self.spare_at]), (
            where, self.spare_at, self.status())

    def module_status(self) -> dict[str, dict[str, Any]]:
        return {module.id: dict(module.device.status())
                for module in self.r.engine.modules.loaded.values()}

    @invariant()
    def modules_hold_and_the_shaker_stops_while_paused(self) -> None:
        # docs/design.md §5: a shaker stops when the run parks; temperatures, magnets, the
        # lid and the latch hold, and nothing of theirs moves while the run stays paused.
        if self.run is None or self.status() != "paused" or HS not in self.module_status():
            self.paused_modules = None
            return
        status = self.module_status()
        assert status[HS]["rpm"] == 0, "the shaker shakes while the run is paused"
        held = {name: {key: value for key, value in readings.items()
                       if key in ("height_mm", "lid", "latch", "target", "lid_target",
                                  "target_rpm")}
                for name, readings in status.items()}
        parks = sum(1 for e in self.r.run.record.events if e["event"] == "park")
        if self.paused_modules is not None and self.paused_modules[0] == parks:
            assert held == self.paused_modules[1], "a module moved while paused"
        self.paused_modules = (parks, held)

    @invariant()
    def the_shaker_is_at_speed_whenever_the_run_goes_on(self) -> None:
        if (self.run is None or self.pending is not None or self.status() != "running"
                or HS not in self.module_status()):
            return
        hs = self.module_status()[HS]
        assert hs["rpm"] == hs["target_rpm"], f"the run goes on with the shaker at {hs}"
        assert (hs["rpm"] > 0) == self.shaking

    @invariant()
    def the_ending_leaves_the_modules_as_it_should(self) -> None:
        # stop, abort and a failure stop the shaker; so does a halt, once its emergency
        # stop has gone out, deactivating no module (its heaters stay as they are).
        if self.run is None or HS not in self.module_status():
            return
        status = self.r.status().status.value
        events = self.r.run.record.events
        deactivated = any(e["event"] == "module_deactivate" for e in events)
        if status in ("stopped", "aborted", "failed", "halted") and HS not in self.broken:
            assert self.module_status()[HS]["rpm"] == 0, "the shaker shakes after the end"
        check_modules_made_safe(events, status)
        if status == "halted":
            stops = [i for i, e in enumerate(events) if e["event"] == "emergency_stop"]
            shaker_halts = [i for i, e in enumerate(events)
                            if e["event"] == "module_halt" and "stopped_rpm" in e]
            assert all(stops and i > stops[0] for i in shaker_halts), \
                "the shaker was stopped before the emergency stop went out"
            assert not deactivated, "a halt deactivated the modules"
            if shaker_halts:
                event_("halted: the plate was shaking, and stopped")

    @invariant()
    def a_delay_ends_when_its_deadline_says(self) -> None:
        if self.run is not None:
            check_delays(self.r.run.record.events)
            check_pauses_pending_into_delays(self.r.run.record.events)

    @invariant()
    def a_temperature_wait_ends_when_its_ramp_says(self) -> None:
        if self.run is not None:
            check_temperature_waits(self.r.run.record.events)

    @invariant()
    def a_profile_runs_on_through_a_pause_exactly_once(self) -> None:
        # docs/design.md §4, §5: a thermocycler profile started once carries on during a
        # pause; the resumed run waits only for what is left of it: it is never started
        # again (no step repeated) nor cut short (none skipped), its steps and cycles
        # go only forward across parks, and its wait ends as the profile does, or as the
        # run resumes if the pause outlasted it.
        if self.run is None:
            return
        events = self.r.run.record.events
        calls: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for item in self.device_calls:
            if item["module"] == TC and not item["ending"] and item["command"] is not None:
                calls[item["command"]].append(item)
        profile: int | None = None  # the profile command under way, by id
        begun: float | None = None
        unparked: float | None = None
        walk: list[tuple[int, int] | None] = []  # (cycle, step) at its parks and unparks
        for event in events:
            kind = event["event"]
            if kind == "command" and event["status"] == "queued":
                profile = event["id"] if event["type"] == "thermocycler/runProfile" else None
                begun = unparked = None
                walk = []
            elif profile is None:
                continue
            elif kind == "command" and event["id"] == profile and event["status"] == "started":
                begun = event["t"] if begun is None else begun
            elif kind == "unpark" and not event.get("interrupted"):
                unparked = event["t"]
            elif kind in ("module_park", "module_unpark") and event["module"] == TC:
                status = event["status"]
                walk.append(None if status["profile_step"] is None
                            else (status["profile_cycle"], status["profile_step"]))
                going = [w for w in walk if w is not None]
                assert going == sorted(going), (
                    f"profile {profile} went back or restarted across a pause: {walk}")
            elif kind == "command" and event["id"] == profile and event["status"] in (
                    "completed", "failed", "interrupted"):
                mine = calls[profile]
                started = [i for i in mine if i["method"] == "execute_profile"]
                assert len(started) <= 1, f"profile {profile} started {len(started)} times"
                assert all(i["method"] in ("execute_profile", "wait_for_profile")
                           for i in mine), (profile, [i["method"] for i in mine])
                if event["status"] == "completed":
                    assert len(started) == 1 and started[0]["t1"] is not None, started
                    plan = started[0]["plan"]
                    assert mine[0] is started[0], "waited for a profile before starting it"
                    ends = plan.end if plan else started[0]["t1"]
                    resumed = -math.inf if unparked is None else unparked
                    expected = max(ends, resumed)
                    assert abs(event["t"] - expected) <= 1e-5, (
                        f"profile {profile} began at {begun}, planned to end at {ends}, "
                        f"last resumed at {unparked}: its wait ended at {event['t']}, "
                        f"expected {expected}")
                    if unparked is not None:
                        event_("profile paused" + (", past its end" if resumed > ends else ""))
                    module = event["result"]["module"]
                    last_celsius = started[0]["params"]["steps"][-1]["celsius"]
                    assert module["profile_step"] is None and module["block_target"] == \
                        last_celsius, (profile, module)
                profile = None

    @invariant()
    def record_agrees_with_what_happened(self) -> None:
        if self.run is None:
            return
        events = self.r.run.record.events
        completed: dict[int, int] = defaultdict(int)
        lifecycle: dict[int, list[str]] = defaultdict(list)
        types: dict[int, str] = {}
        aspirated: dict[str, float] = defaultdict(float)
        parks: list[dict[str, float]] = []
        parked = False  # by the record: parks and unparks alternate, a park first
        plungers = {mount.plunger_axis for mount in self.config.mounts.values()}
        terminal_events = 0
        for event in events:
            kind = event["event"]
            if kind == "command":
                lifecycle[event["id"]].append(event["status"])
                if event["status"] == "queued":
                    types[event["id"]] = event["type"]
                if event["status"] == "completed":
                    completed[event["id"]] += 1
                    if types[event["id"]] == "aspirate":
                        params = next(e["params"] for e in events
                                      if e["event"] == "command" and e["id"] == event["id"]
                                      and e["status"] == "queued")
                        aspirated[params["well"]] += params["volume"]
            elif kind == "park":
                assert not parked, "parked twice without an unpark between"
                parked = True
                parks.append(event["recorded"])
            elif kind == "unpark":
                assert parked, "an unpark without its park"
                parked = False
            if kind == "unpark" and not event.get("interrupted"):
                # The run continues from the position it paused at, or from the
                # checkpoint of a rewound step.
                assert parks, "unpark without park"
                back_to = event["recorded"] if event.get("rewind") else parks[-1]
                for axis, value in back_to.items():
                    if axis in plungers and event.get("rewind"):
                        # Unparking moves the gantry and Z (§5), not the plungers: a
                        # rewound step's plunger moves go to absolute targets again.
                        continue
                    if event.get("z_held") and axis in self.config.z_axes:
                        # At a checkpoint the tips stay up until a command acts there.
                        assert event["position"][axis] >= value - 0.01
                        continue
                    assert event["position"][axis] == pytest.approx(value, abs=0.01)
            elif kind == "pause_effect" and event["effect"] == "rewound":
                assert types[event["id"]] not in IRREVERSIBLE, "an irreversible command ran again"
            elif kind == "status" and Status(event["status"]).is_terminal:
                terminal_events += 1
        assert terminal_events <= 1
        if self.status() == "paused":
            assert parked, "paused, and the record's last park was unparked"
        elif self.status() == "running":
            assert not parked, "running, and the record says parked"
        for command_id, statuses in lifecycle.items():
            assert statuses[0] == "queued"
            assert completed[command_id] <= 1, "a command completed twice"
        # The liquid moved per well is what the returned calls asked for, plus at most
        # what a call cut short by the run's end (or still waiting) asked for.
        pending = defaultdict(float, self.cut_short)
        if self.pending is not None:
            for cmd in self.pending[1]:
                if isinstance(cmd, c.Aspirate) and cmd.well is not None:
                    pending[cmd.well] += cmd.volume
        for well in set(aspirated) | set(self.asked):
            assert self.asked[well] - 1e-6 <= aspirated[well], well
            assert aspirated[well] <= self.asked[well] + pending[well] + 1e-6, well

    def pause_free_twin(self) -> DepthTrace:
        """The same protocol calls, run without any pause, delay or intervention."""
        trace: list[TraceItem] = []
        twin = ScriptedRun(self.config, trace=trace)
        self.twin_calls: list[dict[str, Any]] = []  # the calls its module devices saw
        try:
            twin.play()
            for commands in self.calls:
                moving = [cmd for cmd in commands if not isinstance(
                    cmd, (c.WaitForResume, c.Delay, c.MoveLabware))]
                if moving:
                    twin.call(*moving, name=moving[0].kind)
                if any(isinstance(cmd, c.LoadModule) for cmd in moving):
                    log_device_calls(twin.engine, self.twin_calls)
            twin.finish()
            assert twin.status().status is Status.SUCCEEDED
            self.twin_summary: dict[str, Any] = dict(twin.run.record.last or {})
            assert self.twin_summary["event"] == "summary"
            self.twin_events = list(twin.run.record.events)
            self.twin_trace = trace
        finally:
            twin.close()
        return DepthTrace(self.config, trace, well_at=well_at)

    def check_against_twin(self, final: str) -> None:
        """docs/design.md §4: the same contacts as without pauses, and never lower."""
        paused, twin = DepthTrace(self.config, self.trace, well_at=well_at), \
            self.pause_free_twin()
        mine, theirs = paused.rounded_contacts(), twin.rounded_contacts()
        # The wells each tip went into, in the same order: never back into an earlier
        # one (what the tip carried from the later one would go with it).
        for mount, visits in paused.visits.items():
            expected = twin.visits.get(mount, [])
            if final == "succeeded":
                assert visits == expected, (mount, visits, expected)
            else:
                assert visits == expected[:len(visits)], (mount, visits, expected)
        if final == "succeeded":
            assert mine == theirs
        else:  # ended early: a prefix, the last stroke perhaps cut short
            assert len(mine) <= len(theirs)
            if mine:
                assert mine[:-1] == theirs[:len(mine) - 1]
                last, same = mine[-1], theirs[len(mine) - 1]
                assert last[:4] == same[:4]
                assert abs(last[4]) <= abs(same[4]) + 1e-3
                # the same way, unless the twin's stroke rounds to nothing (a dispense of
                # the last hundredths of a µL), or this one does (cut off as it began: a
                # pause 0.8 % into a drop's stroke had moved the plunger under half a µm)
                assert last[4] * same[4] > 0 or abs(same[4]) < 1e-3 or abs(last[4]) < 1e-3, (
                    last, same)
        # Each contact made at the height the twin made it at (a tip never draws or
        # pushes above or below where it would have without pauses).
        assert len(paused.depths) <= len(twin.depths)
        depths = zip(paused.depths, twin.depths[:len(paused.depths)], strict=True)
        for index, (mine_z, their_z) in enumerate(depths):
            if mine[index][1] is None:
                continue  # a bare pipette's plunger, homed: it moves no liquid
            if final != "succeeded" and index == len(paused.depths) - 1:
                mine_z, their_z = mine_z[:1], their_z[:1]  # perhaps cut short
            assert max(abs(a - b) for a, b in zip(mine_z, their_z, strict=True)) <= 0.05, (
                index, mine[index], mine_z, their_z)
        assert paused.floor_violations(twin) == []
        self.check_strokes()
        # docs/design.md §4, §5: each module was told the same things in the same order as
        # without pauses (a profile started once, never again after a pause), all of them
        # if the run succeeded.
        told, twin_told = targets(self.device_calls), targets(self.twin_calls)
        if final == "succeeded":
            assert told == twin_told, (told, twin_told)
        else:
            assert told == twin_told[:len(told)], (told, twin_told)

    def check_strokes(self) -> None:
        """An aspirate that completed drew exactly its volume with the tip down, pauses
        or not: the plunger is made ready out of the liquid, and one cut off by a pause
        completes its stroke, not more."""
        low = self.r.engine.model.safe_height() - 1.0
        for event, moved in plunger_strokes(self.config, self.trace, low).values():
            if event["type"] == "aspirate":
                drawn = sum(stroke for stroke in moved if stroke > 0)
                ul_per_mm = PIPETTES[event["params"]["mount"]].ul_per_mm
                assert abs(drawn * ul_per_mm - event["params"]["volume"]) < 1e-3, event
                # (a stroke a pause cut off as it began may round to nothing: 0.0 mm)
                assert all(stroke > 0 for stroke in moved if stroke), (event, moved)

    def teardown(self) -> None:
        if self.run is not None:
            self.run.close()
            self._collect()  # the call the closing abort ended, if one was waiting
            if self.pending is not None:
                self.cut_call = self.pending[1]
            events = read_record(Path(self.tmp.name) / "run.jsonl")
            assert events[0]["event"] == "run"
            assert events[-1]["event"] == "summary"
            assert Status(events[-1]["status"]).is_terminal
            assert [e["seq"] for e in events] == list(range(len(events)))
            # No command is silently dropped: each one completed, or says why not.
            seen: dict[int, list[str]] = defaultdict(list)
            for event in events:
                if event["event"] == "command" and event.get("origin") != "cleanup":
                    seen[event["id"]].append(event["status"])
            final = events[-1]["status"]
            check_modules_made_safe(events, final)
            if self.broken:
                failed = [e["error"] for e in events if e["event"] == "status"
                          and e["status"] == "failed" and "stopped answering" in e["error"]]
                event_(f"a module stopped answering, the run {final}"
                       + (" with its fault" if failed else ""))
            for command_id, statuses in seen.items():
                if "completed" not in statuses:
                    assert final != "succeeded", (command_id, statuses)
                    assert statuses[-1] in ("interrupted", "failed"), (command_id, statuses)
            check_mounts_keep_to_their_own(self.config, self.trace)
            self.check_against_twin(final)
            check_mounts_keep_to_their_own(self.config, self.twin_trace)
            self.check_summary(events, final)
            check_duration_against_twin(events, self.twin_events, self.calls, self.config,
                                        self.trace, self.twin_trace)
        self.tmp.cleanup()

    def check_summary(self, events: list[dict[str, Any]], final: str) -> None:
        """The run summary (docs/design.md §9, ``engine/summary.py``) says what the run
        did: its status, one pause per time the run parked (when, whose, why), the steps,
        commands and tips of the calls that were carried out (the twin's, and every call,
        when it succeeded), the liquid per well and the module targets of the twin when it
        succeeded, what the end cut off and left on the pipette, and a duration that
        holds every delay and profile that ran in full."""
        summary = events[-1]
        event_(f"summary: {final}, {'no' if not summary['pauses'] else 'some'} pauses")
        statuses = [e for e in events if e["event"] == "status"]
        assert summary["status"] == statuses[-1]["status"] == final
        if self.terminal is not None:
            assert final == self.terminal, (final, self.terminal)
        # Pauses: each time the status became paused, which happens once a park is done,
        # and each time another pause took over holding the run (a person's, as the door
        # that paused it closed), which parks nothing more.
        took: list[tuple[float, Any, Any]] = []
        fresh: list[float] = []  # those that parked
        before, held_by = None, None
        for event in statuses:
            if event["status"] == "paused" and (before != "paused"
                                                or event.get("pause_source") != held_by):
                took.append((event["t"], event.get("pause_source"), event.get("pause_message")))
                if before != "paused":
                    fresh.append(event["t"])
                else:
                    event_("summary: a pause took over from another")
            if event["status"] == "paused":
                held_by = event.get("pause_source")
            before = event["status"]
        said = [(p["t"], p["source"], p["message"]) for p in summary["pauses"]]
        assert said == took, ("summary pauses", said, "status events", took)
        parks = [e["t"] for e in events if e["event"] == "park"]
        assert fresh == parks, (fresh, parks)
        assert len(self.pauses_seen) <= len(said), (self.pauses_seen, said)
        # Steps, commands and tips.
        queued = [e for e in events if e["event"] == "command" and e["status"] == "queued"
                  and e.get("origin") != "cleanup"]
        picked = {e["id"] for e in queued if e["type"] == "pickUpTip"}
        tips = sum(1 for e in events if e["event"] == "command" and e["id"] in picked
                   and e["status"] == "completed")
        counts = {"steps": len({e["step"] for e in queued}), "commands": len(queued),
                  "tips": tips}
        told = {"steps": summary["steps"], "commands": summary["commands"],
                "tips": summary["tips_used"]}
        assert told == counts, ("summary", told, "record", counts)
        cut = self.cut_call or ()
        most = {"steps": self.returned["steps"] + bool(cut),
                "commands": self.returned["commands"] + len(cut),
                "tips": self.returned["tips"] + sum(isinstance(c_, c.PickUpTip) for c_ in cut)}
        for name, count in told.items():
            assert self.returned[name] <= count <= most[name], (
                name, count, self.returned, most)
        twin = self.twin_summary
        if final == "succeeded":
            assert not cut and told == self.returned, (told, self.returned)
            dropped = [[cmd for cmd in call if isinstance(
                cmd, (c.WaitForResume, c.Delay, c.MoveLabware))] for call in self.calls]
            assert summary["tips_used"] == twin["tips_used"]
            assert summary["commands"] == twin["commands"] + sum(map(len, dropped))
            assert summary["steps"] == twin["steps"] + sum(
                len(d) == len(call) for d, call in zip(dropped, self.calls, strict=True))
            assert summary["well_volumes_ul"].keys() == twin["well_volumes_ul"].keys(), (
                summary["well_volumes_ul"], twin["well_volumes_ul"])
            for well, volume in summary["well_volumes_ul"].items():
                assert volume == pytest.approx(twin["well_volumes_ul"][well], abs=1e-5), well
            timelines = {m["id"]: [{k: v for k, v in step.items() if k != "t"}
                                   for step in m["timeline"]] for m in summary["modules"]}
            theirs = {m["id"]: [{k: v for k, v in step.items() if k != "t"}
                                for step in m["timeline"]] for m in twin["modules"]}
            assert timelines == theirs, (timelines, theirs)
            assert "ended_during" not in summary and "tips_at_end" not in summary
        # What the end cut off, and the tips it left: with no call under way when the
        # run ended, none cut off, and the tip the protocol last had on, with its liquid.
        protocol = [e for e in events if e["event"] == "command" and e["id"] in
                    {q["id"] for q in queued}]
        last_status = protocol[-1]["status"] if protocol else None
        if final != "succeeded":
            assert ("ended_during" in summary) == (last_status in ("interrupted", "failed")), (
                summary.get("ended_during"), last_status)
            if "ended_during" in summary:
                assert summary["ended_during"]["id"] == queued[-1]["id"]
            if not cut:
                assert "ended_during" not in summary, summary["ended_during"]
                at_end = summary["tips_at_end"]
                on = {mount for mount in MOUNTS if self.has_tip[mount]}
                assert set(at_end) == on, (at_end, self.has_tip)
                for mount in on:
                    assert at_end[mount]["volume_ul"] == pytest.approx(self.volume[mount],
                                                                       abs=1e-5), mount
        # pause_unresolved: a deferred pause still asked for when the protocol returned.
        if summary["pause_unresolved"]:
            assert any(e["status"] == "finishing" for e in statuses), summary
        if final == "succeeded":
            unresolved = False
            for event in events:
                if (event["event"] == "action" and event["action"] == "pause"
                        and event["accepted"]):
                    unresolved = True
                elif event["event"] == "status" and event["status"] == "paused":
                    unresolved = False
            assert summary["pause_unresolved"] == unresolved, summary
        # Duration: the clock at the end, which holds every delay and profile that ran to
        # its end (each from its start, time running on through pauses; never overlapping).
        assert summary["duration_s"] == pytest.approx(summary["t"], abs=6e-4)
        full = sum(e["params"]["seconds"] for e in queued if e["type"] == "delay" and any(
            d["event"] == "delay" and d["id"] == e["id"] and d["status"] == "elapsed"
            for d in events))
        for item in self.device_calls:
            if item["method"] == "execute_profile" and item.get("plan") and any(
                    e["event"] == "command" and e["id"] == item["command"]
                    and e["status"] == "completed" for e in events):
                full += item["plan"].end - item["t0"]
        assert summary["duration_s"] >= full - 1e-3, (summary["duration_s"], full)


RunMachine.TestCase.settings = settings(
    settings(), stateful_step_count=30, deadline=None)
TestRunMachine = RunMachine.TestCase
