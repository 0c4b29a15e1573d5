"""The summary of a run: what the run record's last event and ``labrun simulate`` report.

It is kept as running totals while the run goes (``Tally``), so that a run of a million
calls needs no list of its commands to be summarized.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from . import commands as c
from .stacks import LabwareStacks
from .state import status_of

if TYPE_CHECKING:
    from .core import EngineCore
    from .entries import CommandEntry


class TipAir:
    """The air of air gaps in each mount's tip, and where it is among the liquid, so that
    only liquid counts into a well.

    A tip lets out first what it drew last: a dispense pushes out an air gap drawn after
    the liquid before that liquid, and liquid drawn after an air gap (a leading air gap)
    before the air. A blow-out or a dropped tip empties it. Only a tip that holds air is
    followed, layer by layer; what it held before its first air gap is liquid.
    """

    __slots__ = ("by_mount",)

    def __init__(self) -> None:
        self.by_mount: dict[str, list[list[float]]] = {}
        """Each mount's tip that holds air (none, the common case, when no tip does): its
        layers from the first drawn to the last, each ``[µL, 1.0 for air or 0.0]``."""

    def drawn(self, mount: str, volume: float) -> None:
        """An air gap of ``volume`` µL went into the tip on ``mount``."""
        self._add(self.by_mount.setdefault(mount, []), volume, 1.0)

    def liquid_drawn(self, mount: str, volume: float) -> None:
        """``volume`` µL of liquid went into the tip on ``mount`` (noted only over air)."""
        layers = self.by_mount.get(mount)
        if layers is not None:
            self._add(layers, volume, 0.0)

    @staticmethod
    def _add(layers: list[list[float]], volume: float, air: float) -> None:
        if layers and layers[-1][1] == air:
            layers[-1][0] += volume
        else:
            layers.append([volume, air])

    def liquid_dispensed(self, mount: str, volume: float) -> float:
        """Of ``volume`` µL pushed out of the tip, the liquid (the last drawn goes first)."""
        layers = self.by_mount.get(mount)
        if not layers:
            return volume
        left, liquid = volume, 0.0
        while layers and left > 1e-9:
            layer = layers[-1]
            out = min(layer[0], left)
            if not layer[1]:
                liquid += out
            left -= out
            if layer[0] - out > 1e-9:
                layer[0] -= out
            else:
                layers.pop()
        if not any(air for _, air in layers):  # no air left: liquid only, not followed
            del self.by_mount[mount]
        return liquid + max(left, 0.0)  # past the layers: what it held before its air

    def liquid_emptied(self, mount: str, volume: float) -> float:
        """Of ``volume`` µL a blow-out expelled, the liquid; the tip holds no air after."""
        air = sum(layer[0] for layer in self.by_mount.pop(mount, ()) if layer[1])
        return max(volume - air, 0.0)

    def dropped(self, mount: str) -> None:
        """The tip on ``mount`` went, and its air with it."""
        self.by_mount.pop(mount, None)


class Tally:
    """Running totals of a run's protocol commands, pauses and liquid per well.

    Air gaps move no liquid (``TipAir``): only liquid is counted into a well.
    """

    def __init__(self) -> None:
        self.commands = 0
        self.steps = 0
        self.tips_used = 0
        self.pauses: list[dict[str, Any]] = []
        self.volumes: dict[str, float] = defaultdict(float)
        self._air = TipAir()
        self._last_step: int | None = None
        self.ended_during: dict[str, Any] | None = None
        """The protocol command a stop, abort, halt or failure cut off (or that failed)."""
        self.tips_at_end: dict[str, dict[str, Any]] | None = None
        """Once the run ends early: each tip the protocol left on a pipette, the liquid the
        robot model counts in it, and whether the cleanup dropped it."""
        self.cleanup_skipped: str | None = None
        """Why the cleanup left the robot where it stopped (an interlock held motion)."""
        self._tips_on: dict[str, int] = {}  # mount: the tips its last pick-up took
        self._stacks = LabwareStacks()  # which labware is on top where: whose wells a slot names

    def ended_early(self, entry: CommandEntry | None, tips: dict[str, float],
                    uncertain: str | None = None) -> None:
        """The run is ending before the protocol's end: ``entry`` is the protocol command
        it cut off (or that failed), ``tips`` the µL in each mount's tip (an empty dict
        when no tip is on); ``uncertain``, a mount whose cut-off pick-up may or may not
        have taken its tip."""
        if entry is not None:
            cmd = entry.command
            self.ended_during = {"id": entry.id, "type": cmd.kind, "params": cmd.params(),
                                 "line": entry.line, "status": entry.status,
                                 "touches_liquid_or_tips": not cmd.reversible,
                                 # its motion had begun: a failure then (a lost robot)
                                 # may have left part of it done, as a cut-off does
                                 "moving": entry.plan is not None}
        self.tips_at_end = {mount: {"volume_ul": round(volume, 6), "dropped": False}
                            for mount, volume in tips.items()}
        if entry is not None and isinstance(entry.command, c.PickUpTip):
            self._tips_on.setdefault(entry.command.mount, entry.command.tips)  # cut off
        for mount, tip in self.tips_at_end.items():
            if self._tips_on.get(mount, 1) > 1:  # a multi-channel's: as much in each
                tip["tips"] = self._tips_on[mount]
        if uncertain in self.tips_at_end:
            self.tips_at_end[uncertain]["uncertain"] = True

    def tip_dropped_by_cleanup(self, mount: str) -> None:
        """The cleanup dropped the tip on ``mount`` into the trash."""
        if self.tips_at_end is not None and mount in self.tips_at_end:
            self.tips_at_end[mount]["dropped"] = True

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
            self._tips_on[cmd.mount] = cmd.tips
        elif isinstance(cmd, c.DropTip):
            self._air.dropped(cmd.mount)
            self._tips_on.pop(cmd.mount, None)
        elif isinstance(cmd, c.LoadLabware):
            covered = self._stacks.load(cmd.slot, cmd.display_name)
            if covered is not None:  # its wells' totals wait aside until it is on top again
                self._rename(f"{cmd.slot}/", f"{cmd.slot}-{covered}/")
        elif isinstance(cmd, c.MoveLabware):
            self._moved(cmd)
        elif isinstance(cmd, c.LIQUID_COMMANDS) and cmd.well is not None:
            if isinstance(cmd, c.BlowOut):  # what was left in the tip lands in the well
                change = self._air.liquid_emptied(
                    cmd.mount, (entry.result or {}).get("volume_expelled", 0.0))
                if change <= 1e-9:  # an empty tip blows out air
                    return
            elif isinstance(cmd, c.Aspirate) and cmd.air_gap:  # air: no well loses liquid
                self._air.drawn(cmd.mount, cmd.moved(entry.result))
                return
            elif cmd.sign < 0:  # a dispense gives the well its liquid
                change = cmd.moved(entry.result)
                if self._air.by_mount:  # else nothing to take off
                    change = self._air.liquid_dispensed(cmd.mount, change)
            else:  # an aspirate takes from the well
                change = -cmd.moved(entry.result)
                if self._air.by_mount:  # over an air gap: it goes out first
                    self._air.liquid_drawn(cmd.mount, -change)
            volumes = self.volumes
            volumes[cmd.well] += change
            for well in cmd.wells:  # the wells under the other nozzles, the same each
                volumes[well] += change

    def _moved(self, cmd: c.MoveLabware) -> None:
        """A labware was moved by hand: its wells' totals go with it, named where it now
        is: ``5/A1``; ``offDeck-N/A1`` off the deck and ``5-N/A1`` under another labware,
        N its loadLabware's count from 0 (a labware is named so once a move or a stack
        has made its slot name another's)."""
        index = cmd.labware

        def place(slot: str) -> str:
            return f"{c.OFF_DECK}-{index}/" if slot == c.OFF_DECK else f"{slot}/"

        was, uncovered, covered = self._stacks.move(index, cmd.to_slot)
        moving = self._take(place(was))
        if uncovered is not None:  # on top again: named by its slot
            self._rename(f"{was}-{uncovered}/", f"{was}/")
        if covered is not None:
            self._rename(f"{cmd.to_slot}/", f"{cmd.to_slot}-{covered}/")
        new = place(cmd.to_slot)
        for well, volume in moving.items():
            self.volumes[new + well] += volume

    def _take(self, prefix: str) -> dict[str, float]:
        """Remove the totals of the wells named ``prefix<well>``: well -> volume."""
        return {well[len(prefix):]: self.volumes.pop(well)
                for well in [w for w in self.volumes if w.startswith(prefix)]}

    def _rename(self, old: str, new: str) -> None:
        for well, volume in self._take(old).items():
            self.volumes[new + well] += volume

    def paused(self, t: float, source: str | None, message: str | None,
               also_for: str | None = None, asked_from: str | None = None) -> None:
        """The run paused (``also_for``: a client's pause the protocol's also answers;
        ``asked_from``: where a client's pause was asked from, its action's source)."""
        pause = {"t": t, "source": source, "message": message}
        if asked_from:
            pause["from"] = asked_from
        if also_for:
            pause["also_for"] = also_for
        self.pauses.append(pause)


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
    if tally.ended_during is not None:
        summary["ended_during"] = tally.ended_during
    if tally.tips_at_end is not None:
        summary["tips_at_end"] = tally.tips_at_end
    if tally.cleanup_skipped is not None:
        summary["cleanup_skipped"] = tally.cleanup_skipped
    if engine.position_unknown is not None:
        summary["position_unknown"] = engine.position_unknown
    if outcome is not None:
        for name in ("reason", "error", "location"):
            value = getattr(outcome, name)
            if value:
                summary[name] = value
    return summary
