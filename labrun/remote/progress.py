"""Where a served run is: step k of n, percent, time elapsed and left, the current call,
the comments, the wells done and the tips taken so far; and the line the server's
terminal prints.

``Plan.from_events`` reads the simulation every queued protocol goes through (its step
starts, its estimated duration, each protocol call in words, the setup sheet with the
deck). ``RunProgress`` is fed the live run's record events as they come and says what a
person watching wants to know; it is plain data in, plain data out, with the clock given,
so it is tested without a server.

Time left starts from the estimate and is corrected as the run goes: once the run has
reached a planned time of ``CORRECT_AFTER_S``, the wall time the run has spent working
(pauses left out) per planned second is what the rest is expected to take. Steps are
numbered from 1, as the terminal does (the status's ``step.index`` is the engine's
0-based index).
"""

from __future__ import annotations

import bisect
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from attrs import Factory, field, frozen

from labrun.cli import setup_sheet
from labrun.cli.calls import Labels, asked, asker
from labrun.cli.report import READ_STEP, RobotOnlySteps, TextLog, clock, shortened

COMMENTS_KEPT = 5
"""Comments the status and the page show (the latest)."""
CORRECT_AFTER_S = 2.0
"""Planned seconds the run must have reached before its own pace corrects the estimate."""

PLAN_FILE = ".labrun-plan.json"
"""The plan of a queued protocol, written beside it by the process that simulated it."""
MAX_PLAN_BYTES = 64 << 20
"""A larger plan file is not read (the page then shows no estimate)."""

Published = tuple[str, dict[str, Any]]
"""A stream event to send: its name and data."""


@frozen
class Plan:
    """What the simulation of a protocol says about its run."""

    steps: int
    starts: tuple[float, ...]
    """Each step's start in the simulation (protocol seconds), by 0-based index."""
    duration_s: float
    words: Mapping[int, str]
    """Each step's protocol call in words, by 0-based index."""
    sheet: dict[str, Any]
    """The setup sheet (``labrun.cli.setup_sheet.build``): deck, liquids, timeline."""
    _waits: _Waits = field(init=False, eq=False, repr=False,
                           default=Factory(lambda plan: _Waits(plan), takes_self=True))

    @classmethod
    def from_events(cls, events: Iterable[Mapping[str, Any]]) -> Plan:
        """The plan of a finished simulation, from its record's events."""
        kept = list(events)
        log = TextLog()
        starts: list[float] = []
        duration = 0.0
        for event in kept:
            log.feed(dict(event))
            if event["event"] == "step":
                starts.append(float(event["t"]))
            elif event["event"] == "summary":
                duration = float(event.get("duration_s", 0.0))
        log.finish()
        return cls(len(starts), tuple(starts), duration, dict(log.step_words),
                   setup_sheet.build(kept))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (``from_dict`` reads it back)."""
        return {"steps": self.steps, "starts": list(self.starts),
                "duration_s": self.duration_s, "words": {str(k): v for k, v in self.words.items()},
                "sheet": self.sheet}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """The plan ``to_dict`` wrote."""
        return cls(int(data["steps"]), tuple(float(t) for t in data["starts"]),
                   float(data["duration_s"]), {int(k): str(v) for k, v in data["words"].items()},
                   dict(data["sheet"]))

    def waited(self, start: float, end: float) -> float:
        """Planned protocol seconds between ``start`` and ``end`` spent in delays and long
        module waits: they last their own length on the robot's clock, whatever pace the
        moves go at."""
        return max(0.0, self._waits.until(end) - self._waits.until(start))

    def wait_end(self, t: float) -> float | None:
        """The end of the delay (or long module wait) going on at planned ``t``; None if
        none is."""
        return self._waits.end_at(t)

    def planned_at(self, index: int, in_step_s: float) -> float:
        """Planned protocol seconds done when step ``index`` (0-based) has run
        ``in_step_s`` planned seconds (never past the step's end)."""
        if index >= len(self.starts):
            return self.duration_s
        end = self.starts[index + 1] if index + 1 < len(self.starts) else self.duration_s
        return min(self.starts[index] + max(0.0, in_step_s), end)


class _Waits:
    """A plan's delays and long module waits, for ``Plan.waited`` in O(log n): their
    intervals in order, and the waiting done by the start of each."""

    def __init__(self, plan: Plan) -> None:
        spans = sorted((float(item["t"]), float(item["t"]) + float(item["seconds"]))
                       for item in plan.sheet.get("timeline", ())
                       if item.get("kind") in ("delay", "module"))
        self.starts = [start for start, _ in spans]
        self.spans = spans
        self.before: list[float] = []  # waiting done by each span's start
        total = 0.0
        for start, end in spans:
            self.before.append(total)
            total += end - start

    def end_at(self, t: float) -> float | None:
        """``Plan.wait_end``."""
        i = bisect.bisect_right(self.starts, t) - 1
        return self.spans[i][1] if i >= 0 and self.spans[i][1] > t else None

    def until(self, t: float) -> float:
        """Planned seconds of waiting from the run's start up to ``t``."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        start, end = self.spans[i]
        return self.before[i] + min(t, end) - start


def write_plan(directory: Path, events: Iterable[Mapping[str, Any]]) -> None:
    """Write the plan of a protocol's finished simulation into its item's ``directory``
    (the worker that simulated it does, so the server need not run it)."""
    path = directory / PLAN_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(Plan.from_events(events).to_dict(), separators=(",", ":")),
                         encoding="utf-8")
    os.replace(temporary, path)


def read_plan(directory: Path) -> Plan | None:
    """The plan ``write_plan`` left in ``directory``; None if there is none (or it is not
    one: the server shows the run without an estimate)."""
    path = directory / PLAN_FILE
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            return None
        return Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class _TipCall(NamedTuple):
    """A tip pick-up (the rack ``positions`` it takes) or drop, by a mount at a well."""

    pick_up: bool
    mount: str
    well: str
    positions: tuple[str, ...]


class RunProgress:
    """One served run's progress, fed its record events in order (server loop only)."""

    def __init__(self, item_uid: str, name: str, plan: Plan | None, *, speed: float = 1.0,
                 now: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] | None = None) -> None:
        self.item_uid = item_uid
        self.name = name
        self.plan = plan
        self._now = now
        self._log = log
        self._clock_rate = 1.0 / speed  # wall seconds per planned second of a delay
        self._rate = self._clock_rate  # the same for the rest, until the run says
        self.started: float | None = None
        self.ended: float | None = None
        self.status = "idle"
        self.error: str | None = None  # why the run failed or was aborted, once it ended
        self.index: int | None = None  # the current step, 0-based
        self.step_name = ""
        self.line: str | None = None
        self.comments: deque[dict[str, Any]] = deque(maxlen=COMMENTS_KEPT)
        self.wells_done: set[str] = set()
        self._new_wells: list[str] = []
        self._liquid: dict[int, list[str]] = {}  # queued liquid commands' wells, by id
        self.tips_taken: set[str] = set()  # rack positions picked from and not returned
        self._tips_changed: dict[str, bool] = {}  # since last published: taken or back
        self._pickups = setup_sheet.TipPickups()
        self._tip_calls: dict[int, _TipCall] = {}  # queued pick-ups and drops, by id
        self._held: dict[str, _TipCall] = {}  # each mount's last pick-up: where from
        self._labels = Labels()  # where each labware is now, and was at the start
        self._step_at = 0.0  # working wall seconds when the current step began
        self._paused_since: float | None = None
        self._paused_s = 0.0
        self._delay_runs = 0.0  # wall seconds of a pause a delay went on running through
        self._skipped_s = 0.0  # wall seconds the delays skipped so far did not take
        self._ahead = 0.0  # planned seconds of the current step its skipped delays had left
        self._dirty = False
        self._robot_only = RobotOnlySteps()  # module readings made as steps: not planned

    # -- feeding --------------------------------------------------------------------------

    def note(self, message: str) -> list[Published]:
        """A comment not of the record's (the robot driver's warning) at the current step;
        the ``comment`` event to publish."""
        comment = {"item_uid": self.item_uid,
                   "step": self.index + 1 if self.index is not None else 0,
                   "message": message, "t": None}
        self.comments.append(comment)
        return [("comment", comment)]

    def feed(self, events: Iterable[Mapping[str, Any]]) -> list[Published]:
        """Take record events; the ``command`` and ``comment`` events to publish, then a
        ``progress`` event if the step, the wells done or the tips taken changed (``tips``
        newly taken, ``tips_back`` put back by ``return_tip``)."""
        out: list[Published] = []
        for event in events:
            kind = event["event"]
            self._robot_only.feed(event)
            if self._log is not None:
                line = self._log_line(event)
                if line is not None:
                    self._log(line)
            if self.started is None and kind in ("step", "command"):
                self.started = self._now()  # watched from after its start (labrun run)
            if kind == "status":
                self._status(str(event["status"]))
            elif kind == "step":
                self._step(event, out)
            elif kind == "command":
                self._command(event, out)
            elif kind == "action":
                if event.get("action") == "skip_delay" and event.get("accepted"):
                    self._delay_skipped()
            elif kind == "summary":
                self._status(str(event["status"]))
                self.error = event.get("error") or event.get("reason")
                # where a failed run failed, or the call an abort or halt cut off; a run
                # that ended otherwise is on no line (its last call is over: a bare line
                # would read as one going on)
                location = event.get("location")
                during = event.get("ended_during")
                if not location and isinstance(during, Mapping) \
                        and event["status"] in ("aborted", "halted"):
                    location = during.get("line")
                self.line = str(location).rpartition("/")[2] if location else None
        if self._dirty:
            self._dirty = False
            changed = self._tips_changed
            out.append(("progress", {**self.fields(), "wells": self._new_wells,
                                     "tips": [t for t, taken in changed.items() if taken],
                                     "tips_back": [t for t, taken in changed.items()
                                                   if not taken]}))
            self._new_wells, self._tips_changed = [], {}
        return out

    def _status(self, status: str) -> None:
        now = self._now()
        if self.started is None and status == "running":
            self.started = now
        if status == "paused" and self._paused_since is None:
            self._delay_runs = self._delay_left()  # a delay goes on in a pause: not paused
            self._paused_since = now
        elif status != "paused" and self._paused_since is not None:
            self._paused_s += self._paused_now(now)
            self._paused_since = None
        if status in ("succeeded", "stopped", "failed", "aborted", "halted") \
                and self.ended is None:
            self.ended = now
            self._dirty = True
        self.status = status

    def _step(self, event: Mapping[str, Any], out: list[Published]) -> None:
        if event["name"] == READ_STEP:  # a module reading on a robot: not in the plan
            return
        # (a group that only reads is known once it has ended: meanwhile it stands for the
        # planned step that follows it, which takes its place when it begins)
        index = int(event["index"]) - self._robot_only.count
        working = self._working()
        plan = self.plan
        if plan is not None and index < len(plan.starts):
            # The pace of the moves: the run's working time less its delays' (which
            # take their own length), per planned second of moves.
            delays = plan.waited(0.0, plan.starts[index])
            moving = plan.starts[index] - delays
            spent = working - delays * self._clock_rate + self._skipped_s
            if moving >= CORRECT_AFTER_S and spent > 0:
                self._rate = spent / moving
        self.index = index
        self.step_name = str(event["name"])
        self.line = None
        self._step_at = working
        self._ahead = 0.0
        self._dirty = True
        out.append(("command", {"item_uid": self.item_uid, "step": index + 1,
                                "steps": self.steps, "call": self.call, "name": self.step_name}))

    def _command(self, event: Mapping[str, Any], out: list[Published]) -> None:
        status = event["status"]
        self._labels.follow(event)  # what was loaded, and moved by hand, where
        if status == "queued":
            kind = event.get("type")
            params = event.get("params") or {}
            if kind == "comment" and event.get("origin") != "cleanup":
                comment = {"item_uid": self.item_uid, "step": int(event.get("step", 0)) + 1,
                           "message": str(params.get("message", "")), "t": event.get("t")}
                self.comments.append(comment)
                out.append(("comment", comment))
            elif kind in setup_sheet.LIQUID:  # its wells where the deck's picture has them
                wells = setup_sheet.nozzle_wells(params)
                self._liquid[int(event["id"])] = [self._labels.start_of(str(w)) for w in wells]
            elif kind in ("pickUpTip", "dropTip") and params.get("well"):
                self._queued_tips(int(event["id"]), kind, params)
            elif kind == "configureNozzleLayout":
                self._pickups.layout(params)
            if self.line is None and event.get("line"):
                self.line = str(event["line"]).rpartition("/")[2]
        elif status in ("completed", "failed", "interrupted", "skipped"):
            tips = self._tip_calls.pop(int(event["id"]), None)
            if tips is not None and status == "completed":
                self._tips_moved(tips)
            wells = self._liquid.pop(int(event["id"]), [])
            if wells and status == "completed":
                fresh = [w for w in wells if w not in self.wells_done]
                self.wells_done.update(fresh)
                self._new_wells += fresh
                self._dirty = self._dirty or bool(fresh)

    def _queued_tips(self, command_id: int, kind: str, params: Mapping[str, Any]) -> None:
        """A tip pick-up or drop queued: the rack positions a pick-up takes, as the deck's
        picture names them (where the rack was at the start)."""
        well = str(params["well"])
        positions: tuple[str, ...] = ()
        if kind == "pickUpTip":
            rack = self._labels.start_of(well).partition("/")[0]
            positions = tuple(f"{rack}/{name}" for name in self._pickups.taken(params))
        self._tip_calls[command_id] = _TipCall(kind == "pickUpTip", str(params["mount"]),
                                               well, positions)

    def _tips_moved(self, call: _TipCall) -> None:
        """A pick-up took its positions; a drop where the mount's tips came from
        (``return_tip``) puts them back."""
        if call.pick_up:
            self._held[call.mount] = call
            positions, back = call.positions, False
        else:
            held = self._held.pop(call.mount, None)
            if held is None or held.well != call.well:
                return
            positions, back = held.positions, True
        for tip in positions:
            if back:
                self.tips_taken.discard(tip)
            else:
                self.tips_taken.add(tip)
            self._tips_changed[tip] = not back
        self._dirty = True

    def _log_line(self, event: Mapping[str, Any]) -> str | None:
        """The server terminal's line for the run's start, a pause or its end, or None."""
        kind, status = event["event"], event.get("status")
        if kind == "status" and status == "running" and self.started is None:
            plan = self.plan
            about = ""
            if plan is not None:
                wall = self._wall_s(plan, 0.0, plan.duration_s)  # a fast robot's: < 1 s
                about = (f", {plan.steps} steps, "
                         + (f"about {clock(wall)}" if wall >= 0.5 else "under a second"))
            return f"run {self.name}: started{about}"
        if kind == "status" and status == "paused":
            where = f" at step {self.index + 1}" if self.index is not None else ""
            message = f": {shortened(str(event['pause_message']))}" \
                if event.get("pause_message") else ""
            by = asked(str(event.get("pause_from") or event.get("pause_source")))
            if event.get("pause_also_for"):  # one pause answers the protocol and a client
                by = f"{by}, which also answers the pause {asker(event['pause_also_for'])} " \
                     "asked for,"
            return f"run {self.name}: paused {by}{where}{message}"
        if kind == "summary":
            took = clock(self._now() - self.started if self.started is not None else 0.0)
            why = event.get("error") or event.get("reason")
            if event.get("error") and event.get("location"):  # where it failed
                why = f"{str(event['location']).rpartition('/')[2]}: {why}"
            if event.get("pause_unresolved"):
                why = "a pause asked for in its last step was not taken; the queue stops"
            return f"run {self.name}: {status} after {took}" + (f": {why}" if why else "")
        return None

    # -- reading ----------------------------------------------------------------------------

    @property
    def steps(self) -> int | None:
        """The number of steps the simulation made (None without a plan)."""
        return self.plan.steps if self.plan is not None else None

    @property
    def call(self) -> str | None:
        """The current protocol call in words (the simulation's), else the step's name."""
        if self.index is None:
            return None
        words = self.plan.words.get(self.index) if self.plan is not None else None
        return words or self.step_name

    def _working(self) -> float:
        """Wall seconds the run has spent running (not paused) so far."""
        if self.started is None:
            return 0.0
        now = self.ended if self.ended is not None else self._now()
        return max(0.0, now - self.started - self._paused_s - self._paused_now(now))

    def _paused_now(self, now: float) -> float:
        """Wall seconds of the pause going on that the run is not working: less what a
        delay it paused in went on running meanwhile (it keeps its deadline)."""
        if self._paused_since is None:
            return 0.0
        return max(0.0, now - self._paused_since - self._delay_runs)

    def _delay_skipped(self) -> None:
        """The current delay was skipped: the time it had left is not taken (the step goes
        on to what follows the delay: another delay of the step still runs), and in a
        pause the rest of the pause is paused time (the delay no longer runs through it)."""
        plan = self.plan
        left = self._delay_left()
        if self._paused_since is not None:
            ran = self._now() - self._paused_since
            self._skipped_s += max(0.0, self._delay_runs - ran)
            self._delay_runs = min(self._delay_runs, ran)
        else:
            self._skipped_s += left
        if plan is not None and self._clock_rate > 0:
            self._ahead += left / self._clock_rate
        self._dirty = True

    def _in_delay(self, plan: Plan, index: int) -> bool:
        """Whether step ``index`` is a delay (or a long module wait), mostly."""
        start, end = plan.planned_at(index, 0.0), plan.planned_at(index, float("inf"))
        return 2 * plan.waited(start, end) > end - start

    def _delay_left(self) -> float:
        """Wall seconds the delay going on in the current step has left, if the step is a
        delay and one is going on (not the step's moves between two delays), else 0."""
        plan, index = self.plan, self.index
        if plan is None or index is None or not self._in_delay(plan, index):
            return 0.0
        done = self._planned_done(plan)
        end = plan.wait_end(done)
        return 0.0 if end is None else max(0.0, (end - done) * self._clock_rate)

    def _planned_done(self, plan: Plan) -> float:
        """Planned protocol seconds done: the current step's start, and the wall time
        spent in it at the pace of what it is (a delay's, or the moves')."""
        index = self.index
        if index is None:
            return 0.0
        rate = self._clock_rate if self._in_delay(plan, index) else self._rate
        in_step = (self._working() - self._step_at) / rate if rate else 0.0
        return plan.planned_at(index, in_step + self._ahead)  # less what was skipped

    def _wall_s(self, plan: Plan, start: float, end: float) -> float:
        """Wall seconds the plan's ``start`` to ``end`` is expected to take: its delays at
        the robot clock's speed, the rest at the run's pace."""
        if end <= start:
            return 0.0
        delays = plan.waited(start, end)
        return (end - start - delays) * self._rate + delays * self._clock_rate

    def fields(self) -> dict[str, Any]:
        """The status's ``progress``: the run and its status, its step (1-based) of steps,
        percent, seconds elapsed and left (of the whole run and of the step, and the
        percent the step still adds, which a page may count on between events), the
        current call, its file line and the latest comments."""
        plan = self.plan
        index = self.index
        elapsed = 0.0
        if self.started is not None:
            end = self.ended if self.ended is not None else self._now()
            elapsed = end - self.started
        percent: float | None = None
        left: float | None = None
        step_left: float | None = None
        step_percent: float | None = None
        if self.ended is not None and self.status == "succeeded":
            percent, left = 100.0, 0.0
        elif plan is not None and plan.duration_s > 0:
            done = self._planned_done(plan)
            percent = round(min(100.0, 100.0 * done / plan.duration_s), 1)
            left = 0.0 if self.ended is not None else \
                round(self._wall_s(plan, done, plan.duration_s), 1)
            if index is not None and self.ended is None:
                step_end = plan.planned_at(index, float("inf"))
                step_left = round(self._wall_s(plan, done, step_end), 1)
                step_percent = round(max(0.0, min(100.0, 100.0 * step_end / plan.duration_s)
                                         - percent), 1)
        steps = plan.steps if plan is not None else None
        return {
            "item_uid": self.item_uid,
            "name": self.name,
            "status": self.status,
            "step": index + 1 if index is not None else None,
            "steps": max(steps, index + 1) if steps is not None and index is not None
            else steps,
            "percent": percent,
            "elapsed_s": round(elapsed, 1),
            "left_s": left,
            "step_left_s": step_left,
            "step_percent_left": step_percent,
            "estimated_s": round(self._wall_s(plan, 0.0, plan.duration_s), 1) if plan else None,
            "call": self.call if self.ended is None else None,
            "line": self.line,
            "error": self.error,
            "comments": [c["message"] for c in self.comments],
            "wells_done": len(self.wells_done),
            "has_deck": plan is not None and bool(plan.sheet["deck"]),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything a page that just connected needs: the fields, every well done so far,
        every tip taken (``tips``: all of them, ``snapshot``, where a page had others) and
        the comments with their steps."""
        return {**self.fields(), "snapshot": True, "wells": sorted(self.wells_done),
                "tips": sorted(self.tips_taken), "tips_back": [],
                "comment_log": list(self.comments)}
