"""The summary of a run: what the run record's last event and ``labrun simulate`` report."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from . import commands as c
from .state import status_of

if TYPE_CHECKING:
    from .core import EngineCore


def summarize(engine: EngineCore) -> dict[str, Any]:
    """Counts, pauses, tips, liquid moved per well and the (estimated) duration."""
    state = engine.state
    protocol_entries = [e for e in engine.entries if e.origin == "protocol"]
    volumes: dict[str, float] = defaultdict(float)
    for entry in protocol_entries:
        cmd = entry.command
        if entry.status != "completed" or not isinstance(cmd, c.LIQUID_COMMANDS):
            continue
        if cmd.well is None:
            continue
        for well in (cmd.well, *cmd.wells):  # each well each nozzle touched
            if isinstance(cmd, c.BlowOut):  # what was left in the tip lands in the well
                expelled = (entry.result or {}).get("volume_expelled", 0.0)
                if expelled:  # an empty tip blows out air
                    volumes[well] += expelled
            else:  # aspirates and air gaps take from the well, dispenses give to it
                volumes[well] -= cmd.sign * cmd.volume
    pauses = [
        {"t": e["t"], "source": e.get("pause_source"), "message": e.get("pause_message")}
        for e in engine.record.events
        if e["event"] == "status" and e["status"] == "paused"
    ]
    outcome = state.outcome
    summary: dict[str, Any] = {
        "status": status_of(state).value,
        "commands": len(protocol_entries),
        "steps": len({e.step.index for e in protocol_entries}),
        "tips_used": sum(e.command.tips for e in protocol_entries
                         if isinstance(e.command, c.PickUpTip) and e.status == "completed"),
        "pauses": pauses,
        "pause_unresolved": state.pause_unresolved,
        "duration_s": round(engine.clock.now(), 3),
        "well_volumes_ul": {well: round(v, 6) for well, v in sorted(volumes.items())},
    }
    if outcome is not None:
        for name in ("reason", "error", "location"):
            value = getattr(outcome, name)
            if value:
                summary[name] = value
    return summary
