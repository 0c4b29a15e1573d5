"""The closing summary of the text output (``labrun simulate`` and ``labrun run``): the
counts and duration, and for a run that ended before the protocol's end what it left for
the person who picks up the plate: the command it cut off, the tips, the wells it changed
and what each module was left doing."""

from __future__ import annotations

import re
from typing import Any

from .calls import Labels, command_sentence, module_display_name, module_state, uncounted_hours
from .report import RobotOnlySteps, shortened


class RunTimes:
    """A live run's time on its clock and its time paused, kept apart.

    The record gives every time on the run's clock, which ``--speed`` speeds up as a
    whole: a person's 10-second pause at ``--speed 10`` is 100 s on it. Fed the record's
    events, this keeps the clock's seconds spent ``paused`` (from the status ``paused``
    to the next status), which are people's time: ``paused_wall_s`` is what they took
    on the wall clock, and the run's own (robot) time is the rest of the clock's. It
    counts the ``module_reads`` too: steps only a robot makes (reading a temperature asks
    the module), which its simulation's step count does not have."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.paused_clock_s = 0.0
        self._robot_only = RobotOnlySteps()
        self._since: float | None = None  # the clock's time the pause going on began

    @property
    def module_reads(self) -> int:
        """The steps only a robot makes that have ended (all of them, after the summary)."""
        return self._robot_only.count

    def feed(self, event: dict[str, Any]) -> None:
        """Take one record event (every event may be given)."""
        self._robot_only.feed(event)
        if event["event"] != "status":
            return
        t = float(event["t"])
        if event["status"] == "paused":
            if self._since is None:
                self._since = t
        elif self._since is not None:  # resumed (unparking), or ended from the pause
            self.paused_clock_s += max(0.0, t - self._since)
            self._since = None

    @property
    def paused_wall_s(self) -> float:
        """Wall seconds the run spent paused."""
        return self.paused_clock_s / self.speed


def summary_lines(summary: dict[str, Any], *, duration_label: str = "estimated duration",
                  record: str | None = None, labels: Labels | None = None,
                  all_wells: str = "--json lists them",
                  times: RunTimes | None = None) -> list[str]:
    """The closing summary of the text output (simulate and run); for a run that ended
    early, also what it left: the call it cut off, the tips and the wells it changed, in
    plate order (``labels`` names the labware, as the log does; ``all_wells`` says where
    the wells past the first few are listed). With ``times`` (a live run's), the duration
    is the robot's time, pauses left out, and the pauses say how long people took, in
    wall time, never scaled by ``--speed``."""
    pauses: object = len(summary["pauses"])
    duration = _duration(summary["duration_s"])
    steps: object = summary["steps"]
    if times is not None and times.module_reads:  # counted as its simulation counts them
        reads = times.module_reads
        steps = (f"{int(summary['steps']) - reads} (and {reads} module reading"
                 f"{'' if reads == 1 else 's'}, a step only a robot makes)")
    if times is not None:
        robot_s = max(0.0, float(summary["duration_s"]) - times.paused_clock_s)
        duration = f"{_duration(robot_s)} of robot time, pauses left out"
        if times.speed != 1.0:  # what it took here, sped up
            duration += f" ({_duration(robot_s / times.speed)} at --speed {times.speed:g})"
        if times.paused_clock_s > 0:
            pauses = f"{pauses}, {_duration(times.paused_wall_s)} paused in all (wall time)"
    rows = [
        ("status", summary["status"]),
        ("commands", _commands(summary)),
        ("steps", steps),
        ("tips used", summary["tips_used"]),
        ("pauses", pauses),
        (duration_label, duration),
    ]
    if summary.get("pause_unresolved"):
        rows.append(("pause unresolved", "yes (requested during the last step)"))
    if summary.get("reason"):  # the error of a failed run is printed once, on stderr
        rows.append(("reason", summary["reason"]))
    if summary.get("position_unknown"):  # the controller could not say where it stopped
        rows.append(("robot", summary["position_unknown"]))
    rows += ended_early_rows(summary, labels or Labels(), all_wells)
    if record:
        rows.append(("record", record))
    return [""] + [f"{label + ':':<21}{value}" for label, value in rows]


def ended_early_rows(summary: dict[str, Any], labels: Labels,
                     all_wells: str = "--json lists them") -> list[tuple[str, str]]:
    """What a run that ended before the protocol's end left, for the person who picks up
    the plate: the command it cut off, what was in each tip and where it went, and the
    liquid each well gained or lost."""
    if "tips_at_end" not in summary and "ended_during" not in summary:
        # a run that succeeded: its closing lift, if so, and what it left switched on
        return _skipped_cleanup(summary) + _modules_left_on(summary)
    rows: list[tuple[str, str]] = []
    during = summary.get("ended_during")
    if during is not None:
        words = command_sentence(during["type"], during.get("params", {}), labels)
        if during["type"] == "waitForResume":  # the protocol's pause, as the log says it
            message = str(during.get("params", {}).get("message") or "")
            words = f"Pausing: {shortened(message)}" if message.strip() else "Pausing"
        where = f" ({during['line']})" if during.get("line") else ""
        if during["status"] == "failed":
            partly = during["touches_liquid_or_tips"] and during.get("moving", False)
            fate = "it failed part-way: part of it may have been done" if partly else "it failed"
        elif during["type"] in ("moveLabware", "removeLabware"):
            fate = "cut off: the labware may or may not have been moved; the run took it as not"
        elif during["touches_liquid_or_tips"] and during.get("moving", True):
            fate = "cut off: part of it may have been done"
        elif during["touches_liquid_or_tips"]:  # cut off before its motion began
            fate = "cut off before it began: nothing of it was done"
        else:
            fate = "cut off"
        rows.append(("ended during", f"{words}{where}, {fate}"))
    for mount, tip in sorted(summary.get("tips_at_end", {}).items()):
        low = high = tip["volume_ul"]
        cut = ""  # the liquid command cut off on this mount: it moved an unknown part
        params = during.get("params", {}) if during is not None else {}
        if during is not None and params.get("mount") == mount and during.get(
                "moving", during["status"] != "failed"):  # its motion had begun
            moved = float(params.get("volume") or 0.0)
            if during["type"] == "aspirate" and not params.get("air_gap"):
                high, cut = high + moved, "aspirate"
            elif during["type"] == "dispense":
                low, cut = max(low - moved, 0.0), "dispense"
            elif during["type"] == "blowOut":
                low, cut = 0.0, "blow-out"
        count = int(tip.get("tips", 1))  # a multi-channel's tips hold as much each
        each = " each" if count > 1 else ""
        if high - low > 1e-9:
            held = f"between {low:.1f} and {high:.1f} µL{each} (the {cut} was cut off)"
        else:
            held = f"{low:.1f} µL{each}" if low > 1e-9 else "no liquid"
        fate = "dropped into the trash" if tip["dropped"] else "still on the pipette"
        if tip.get("uncertain"):  # a pick-up cut off (or failed) as it pressed into the tip
            how = "failed" if during is not None and during["status"] == "failed" else "was cut off"
            held = f"perhaps (its pick-up {how})"
            fate += f" if {'they were' if count > 1 else 'it was'} on"
        label = f"{count} tips on the {mount}" if count > 1 else f"tip on the {mount}"
        rows.append((label, f"{held}, {fate}"))
    rows += _skipped_cleanup(summary)
    volumes = summary.get("well_volumes_ul", {})
    changed = {well: v for well, v in volumes.items() if abs(v) > 1e-9}
    if changed:
        shown = sorted(changed.items(), key=_plate_order)[:MAX_WELLS_SHOWN]
        by_slot: dict[str, list[str]] = {}
        for well, change in shown:
            slot, _, name = well.partition("/")
            by_slot.setdefault(slot, []).append(f"{name} {change:+.1f} µL")
        text = "; ".join(f"{', '.join(items)} in {labels.labware(slot)}"
                         for slot, items in by_slot.items())
        more = len(changed) - len(shown)
        rows.append(("wells changed", f"{len(changed)}; {text}"
                     + (f"; {more} more ({all_wells})" if more else "")))
    else:
        rows.append(("wells changed", "none"))
    for module in summary.get("modules", ()):  # heaters and magnets a stop leaves as they are
        rows.append((f"module in slot {module['slot']}",
                     f"{module_display_name(str(module['model']))}: "
                     f"{module_state(module.get('status') or {}, str(module['model']))}"))
    return rows


def _modules_left_on(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """A row for each module a run that succeeded left heating, cooling, shaking or with
    its magnets up (the protocol did not switch it off, and the run's end switches nothing
    off), for the person who comes to take the plate."""
    rows = []
    for module in summary.get("modules", ()):
        status = module.get("status") or {}
        if not any(status.get(key) for key in ("target", "block_target", "lid_target",
                                               "target_rpm", "engaged")):
            continue
        rows.append((f"module in slot {module['slot']}",
                     f"{module_display_name(str(module['model']))}: "
                     f"{module_state(status, str(module['model']))}; still on: the protocol "
                     "did not switch it off"))
    return rows


def _skipped_cleanup(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The row that says the run's cleanup (or, for a run that succeeded, its closing
    lift) was skipped, and where that left the robot; none if it was not."""
    why = summary.get("cleanup_skipped")
    if not why:
        return []
    if summary.get("status") == "succeeded":
        return [("cleanup", f"skipped: {why}; the pipettes were not lifted at the end: "
                            "they stand where they stopped")]
    return [("cleanup", f"skipped: {why}; the robot was left where it stopped, nothing "
                        "was dropped or homed")]


MAX_WELLS_SHOWN = 12
"""Wells an early end's summary names (the --json document lists every one)."""


def _plate_order(item: tuple[str, float]) -> tuple[tuple[int, str], int, tuple[int, str]]:
    """``slot/A10`` after ``slot/A2``, ``AA1`` after ``P1``: by slot, then column, then
    row, as on the deck."""
    slot, _, name = item[0].partition("/")
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    slot_key = (int(slot), "") if slot.isdigit() else (1 << 30, slot)
    if match is None:
        return slot_key, 0, (0, name)
    return slot_key, int(match[2]), (len(match[1]), match[1])


def _duration(seconds: float) -> str:
    """``12.34 s``, ``2 min 0.0 s (120.0 s)``, ``1 h 1 min 0 s (3660.0 s)``: rounded
    before it is split, so that no part reads 60."""
    if seconds < 59.995:
        return f"{seconds:.2f} s"
    if (uncounted := uncounted_hours(seconds)) is not None:
        return f"{uncounted} ({seconds:.3g} s)"
    tenths = round(seconds * 10)
    if tenths < 36000:
        minutes, rest = divmod(tenths, 600)
        return f"{minutes} min {rest / 10:.1f} s ({seconds:.1f} s)"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes} min {secs} s ({seconds:.1f} s)"


def _commands(summary: dict[str, Any]) -> str:
    """The protocol's commands, and the cleanup's (its tip drops) beside them: the --json
    document lists both."""
    cleanup = sum(1 for tip in summary.get("tips_at_end", {}).values() if tip["dropped"])
    return f"{summary['commands']}" + (f" (and {cleanup} of the cleanup)" if cleanup else "")
