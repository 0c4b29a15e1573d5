"""Turning a finished run into the text log and the JSON document the CLI prints."""

from __future__ import annotations

from typing import Any

from engine.run import Run

JSON_SCHEMA_VERSION = 2


def describe(kind: str, params: dict[str, Any]) -> str:
    """A command in a few words, for the run log."""
    well = params.get("well")
    at = f" {well}" if well else ""
    if kind in ("aspirate", "dispense"):
        word = "from" if kind == "aspirate" else "into"
        where = f" {word} {well}" if well else " in place"
        return f"{kind} {params['volume']:g} µL{where} ({params['mount']})"
    if kind == "blowOut":
        return f"blow out{at} ({params['mount']})"
    if kind == "pickUpTip":
        return f"pick up tip {well} ({params['mount']})"
    if kind == "dropTip":
        return f"drop tip in {well} ({params['mount']})"
    if kind == "moveTo":
        x, y, z = params["point"]
        return f"move {params['mount']} to{at or ''} ({x:.1f}, {y:.1f}, {z:.1f})"
    if kind == "loadLabware":
        return f"load {params['display_name']} in slot {params['slot']}"
    if kind == "loadInstrument":
        return f"load {params['instrument_name']} on {params['mount']} mount"
    if kind == "comment":
        return f"comment: {params['message']}"
    if kind == "delay":
        msg = f": {params['message']}" if params.get("message") else ""
        return f"delay {params['seconds']:g} s{msg}"
    if kind == "waitForResume":
        return f"pause: {params.get('message') or ''}".rstrip(": ")
    if kind == "home":
        return "home"
    return kind


def text_log(run: Run) -> list[str]:
    """A line per step with its commands indented, and the pauses, delays and parks."""
    lines: list[str] = []
    commands: dict[int, dict[str, Any]] = {}
    for event in run.record.events:
        kind = event["event"]
        t = f"[{event['t']:9.2f}s]"
        if kind == "step":
            lines.append(f"{t} step {event['index'] + 1}: {event['name']}")
        elif kind == "command":
            if event["status"] == "queued":
                commands[event["id"]] = event
                prefix = "    cleanup: " if event.get("origin") == "cleanup" else "    "
                lines.append(f"{' ' * 12}{prefix}{describe(event['type'], event['params'])}")
            elif event["status"] == "interrupted":  # cut off by stop, abort or halt
                queued = commands.get(event["id"], {})
                what = describe(queued.get("type", "?"), queued.get("params", {}))
                lines.append(f"{t}     interrupted: {what}")
        elif kind == "pause_effect":
            queued = commands.get(event["id"], {})
            what = describe(queued.get("type", "?"), queued.get("params", {}))
            effect = event["effect"]
            if effect == "continued":
                lines.append(f"{t}     step continues after: {what}")
            else:
                lines.append(f"{t}     {effect}: {what}")
        elif kind == "status":
            extra = ""
            if event.get("pause_source"):
                extra = f" by {event['pause_source']}"
                if event.get("pause_message"):
                    extra += f": {event['pause_message']}"
            for key in ("reason", "error"):
                if event.get(key):
                    extra += f" ({event[key]})"
            lines.append(f"{t} status {event['status']}{extra}")
        elif kind == "action":
            verdict = "" if event["accepted"] else f" refused: {event['refusal']}"
            option = f" {event['option']}" if event.get("option") else ""
            lines.append(f"{t} action {event['action']}{option} from {event['source']}{verdict}")
        elif kind == "park":
            lines.append(f"{t} parked; recorded position {_pos(event['recorded'])}")
        elif kind == "unpark":
            if event.get("interrupted"):
                lines.append(f"{t} unpark interrupted at {_pos(event['position'])}")
            elif event.get("rewind"):
                lines.append(f"{t} unparked back to the step's start {_pos(event['position'])}")
            else:
                lines.append(f"{t} unparked back to {_pos(event['position'])}")
        elif kind == "delay":
            lines.append(f"{t} delay {event['status']}")
        elif kind == "interlock":
            state = "active" if event["active"] else "cleared"
            lines.append(f"{t} interlock {event['name']} {state}")
    return lines


def summary_lines(summary: dict[str, Any], *, duration_label: str = "estimated duration",
                  record: str | None = None) -> list[str]:
    """The closing summary of the text output (simulate and run)."""
    rows = [
        ("status", summary["status"]),
        ("commands", summary["commands"]),
        ("steps", summary["steps"]),
        ("tips used", summary["tips_used"]),
        ("pauses", len(summary["pauses"])),
        (duration_label, _duration(summary["duration_s"])),
    ]
    if summary.get("pause_unresolved"):
        rows.append(("pause unresolved", "yes (requested during the last step)"))
    rows += [(key, summary[key]) for key in ("reason", "error", "location") if summary.get(key)]
    if record:
        rows.append(("record", record))
    return [""] + [f"{label + ':':<21}{value}" for label, value in rows]


def json_document(run: Run) -> dict[str, Any]:
    """The documented ``--json`` output (see README, "simulate --json")."""
    summary = run.record.events[-1] if run.record.events else {}
    queued: dict[int, dict[str, Any]] = {}
    for event in run.record.events:
        if event["event"] == "command" and event["status"] == "queued":
            queued[event["id"]] = event
    commands = []
    for entry in run.engine.entries:
        data = queued.get(entry.id, {})
        commands.append({
            "id": entry.id, "type": entry.command.kind, "params": data.get("params", {}),
            "status": entry.status, "step": entry.step.index, "origin": entry.origin,
            "line": entry.line, "started_at": entry.started_at,
            "completed_at": entry.completed_at,
        })
    status_changes = [{"t": e["t"], "status": e["status"]}
                      for e in run.record.events if e["event"] == "status"]
    parks = [e for e in run.record.events if e["event"] in ("park", "unpark")]
    actions = [{k: e.get(k) for k in ("t", "action", "option", "source", "accepted", "refusal")}
               for e in run.record.events if e["event"] == "action"]
    pause_effects = [{"t": e["t"], "id": e["id"], "effect": e["effect"]}
                     for e in run.record.events if e["event"] == "pause_effect"]
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "status": summary.get("status"),
        "final_status": summary.get("status"),
        "estimated_duration_s": summary.get("duration_s"),
        "commands": commands,
        "steps": summary.get("steps"),
        "pauses": summary.get("pauses", []),
        "pause_unresolved": summary.get("pause_unresolved", False),
        "tips_used": summary.get("tips_used"),
        "well_volumes_ul": summary.get("well_volumes_ul", {}),
        "status_changes": status_changes,
        "parks": parks,
        "actions": actions,
        "pause_effects": pause_effects,
        "error": summary.get("error"),
        "location": summary.get("location"),
        "reason": summary.get("reason"),
    }


def _pos(position: dict[str, float]) -> str:
    return " ".join(f"{axis}={value:.2f}" for axis, value in position.items())


def _duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes} min {secs:.0f} s ({seconds:.1f} s)"
    if minutes:
        return f"{minutes} min {secs:.1f} s ({seconds:.1f} s)"
    return f"{seconds:.2f} s"
