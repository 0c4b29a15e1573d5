"""The summary of a run: what the run record's last event and ``labrun simulate`` report.

It is kept as running totals while the run goes (``Tally``), so that a run of a million
calls needs no list of its commands to be summarized.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from . import commands as c
from .state import status_of

if TYPE_CHECKING:
    from .core import EngineCore
    from .entries import CommandEntry


class Tally:
    """Running totals of a run's protocol commands, pauses and liquid per well.

    Air gaps move no liquid: a dispense pushes out the air in the tip before its liquid
    (the air gap is what went in last), so only liquid is counted into the well.
    """

    def __init__(self) -> None:
        self.commands = 0
        self.steps = 0
        self.tips_used = 0
        self.pauses: list[dict[str, Any]] = []
        self.volumes: dict[str, float] = defaultdict(float)
        self._air: dict[str, float] = {}  # mount -> µL of air gaps in its tip, not yet out
        self._last_step: int | None = None

    def queued(self, entry: CommandEntry) -> None:
        """A protocol command was taken (steps are numbered in order)."""
        self.commands += 1
        if entry.step.index != self._last_step:
            self._last_step = entry.step.index
            self.steps += 1

    def completed(self, entry: CommandEntry) -> None:
        """A protocol command completed: count its tips and the liquid it moved."""
        cmd = entry.command
        if isinstance(cmd, c.PickUpTip):
            self.tips_used += cmd.tips
        elif isinstance(cmd, c.DropTip):
            self._air.pop(cmd.mount, None)
        elif isinstance(cmd, c.LIQUID_COMMANDS) and cmd.well is not None:
            air = self._air.get(cmd.mount, 0.0)
            if isinstance(cmd, c.BlowOut):  # what was left in the tip lands in the well
                change = (entry.result or {}).get("volume_expelled", 0.0) - air
                self._air.pop(cmd.mount, None)
                if change <= 1e-9:  # an empty tip blows out air
                    return
            elif isinstance(cmd, c.Aspirate) and cmd.air_gap:  # air: no well loses liquid
                self._air[cmd.mount] = air + cmd.moved(entry.result)
                return
            else:  # aspirates take from the well; dispenses give to it, the air gaps
                moved = cmd.moved(entry.result)  # (the last drawn) going out first
                if cmd.sign < 0 and air > 0:
                    out = min(air, moved)
                    self._air[cmd.mount], moved = air - out, moved - out
                change = -cmd.sign * moved
            volumes = self.volumes
            volumes[cmd.well] += change
            for well in cmd.wells:  # the wells under the other nozzles, the same each
                volumes[well] += change

    def paused(self, t: float, source: str | None, message: str | None) -> None:
        """The run paused."""
        self.pauses.append({"t": t, "source": source, "message": message})


def summarize(engine: EngineCore) -> dict[str, Any]:
    """Counts, pauses, tips, liquid moved per well and the (estimated) duration."""
    state, tally = engine.state, engine.book.tally
    outcome = state.outcome
    summary: dict[str, Any] = {
        "status": status_of(state).value,
        "commands": tally.commands,
        "steps": tally.steps,
        "tips_used": tally.tips_used,
        "pauses": list(tally.pauses),
        "pause_unresolved": state.pause_unresolved,
        "duration_s": round(engine.clock.now(), 3),
        "well_volumes_ul": {well: round(v, 6) for well, v in sorted(tally.volumes.items())},
    }
    if engine.modules.loaded:
        summary["modules"] = engine.modules.report()
    if outcome is not None:
        for name in ("reason", "error", "location"):
            value = getattr(outcome, name)
            if value:
                summary[name] = value
    return summary
