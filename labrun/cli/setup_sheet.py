"""The setup sheet: what a person must put on the deck before a run, from its simulation.

``build(events)`` reads a simulated run's record and returns plain data (the ``setup``
object of ``simulate --json``): the deck slot by slot, the pipettes and the tips each
rack must hold, the liquid each source well must hold at the start (the deepest its
simulated volume went below zero, beside the well's capacity), the wells the run fills
past their capacity (with the protocol's line that first did), and a timeline of the
delays and pauses with the estimated duration; and, for the deck picture, the deck after
each change the run makes to it (``deck_changes``). ``text(sheet)`` is the same for
people (the changes are on its timeline).

A well's volume follows the liquid that moved, as the run's own totals do: an aspirate
takes what it asks, a dispense gives what left the tip (its result's
``volume_dispensed``: less than asked when the tip held less), a blow-out gives what was
left in the tip. Air gaps draw air, not liquid: a well need not hold them, and a dispense
pushes a tip's air out before its liquid (it went in last), so only the liquid counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.commands import OFF_DECK
from engine.record import json_line
from engine.summary import TipAir

from .calls import (
    TRASH_BIN,
    Labels,
    duration,
    labware_display_name,
    module_display_name,
    module_sentence,
    place,
    plural,
    standard_definition,
    volume,
)
from .deck_changes import DeckChanges
from .report import clock, hanging

Sheet = dict[str, Any]
LIQUID = ("aspirate", "dispense")
_SHOWN = ("loadLabware", "loadModule", "loadInstrument", "delay", "waitForResume",
          "moveLabware", "removeLabware")
"""Commands whose fields the sheet shows (not only counts): taken as the record has them.
(A tip pick-up, one a transfer, gives only its mount, well and tip count: plain values.)"""
_MOVING = (*LIQUID, "blowOut", "dropTip")
"""The commands that move liquid (or, dropping a tip, its air): read when queued, counted
when completed."""
_READ = (*_MOVING, "pickUpTip", "configureNozzleLayout", "loadLiquid")
"""The other commands the sheet reads (the liquid a well must hold, the tips a rack, and
the nozzle a layout starts at, which the tips of a pick-up go from)."""
MODULE_WAIT_SHOWN_S = 60.0
"""A module's call whose step takes this long is on the timeline (a ramp, a profile)."""
TIMELINE_TEXT = len("    0:00:00  ")
"""The column where a timeline line's text starts (after its time)."""
REPEATS_ON_ONE_LINE = 3
"""From this many of the same pause or delay in a row on, the timeline says them in a line."""
SHORT_DELAY_S = 60.0
"""Delays shorter than this with no message (seconds for liquid to settle, beads to
gather: nothing a person plans around): from ``REPEATS_ON_ONE_LINE`` of them on, the text
timeline counts them in one line instead of listing each; the JSON keeps each."""

def build(events: Iterable[Mapping[str, Any]]) -> Sheet:
    """The setup sheet of a simulated run, from its record's events."""
    builder = SheetBuilder()
    for event in events:
        builder.add(event)
    return builder.sheet()


class SheetBuilder:
    """The setup sheet built one record event at a time: ``add`` each, then ``sheet()``.

    ``listen`` takes a live record's events (``RunRecord.subscribe``), so a simulation has
    its sheet when it ends without reading its record back.
    """

    def __init__(self) -> None:
        self.labels = Labels()
        self.changes = DeckChanges(self.labels)  # the deck after each change, to draw
        self.deck: dict[str, dict[str, Any]] = {}
        self.pipettes: dict[str, dict[str, Any]] = {}
        self.running: dict[str, float] = {}
        self.lowest: dict[str, float] = {}
        # liquid (or air) on its way: command, µL, wells, mount, line; until it ends
        self.in_flight: dict[int, tuple[str, float, list[str], str, str | None]] = {}
        self.highest: dict[str, float] = {}  # the most each well's volume rose by
        self.overfilled_at: dict[str, str | None] = {}  # the line that first filled it past
        # a well the run filled before it first drew it below empty: that line
        self.short_after_filled: dict[str, str | None] = {}
        self._capacities: dict[str, float | None] = {}
        self.air = TipAir()
        self.timeline: list[dict[str, Any]] = []
        # the last delay's command id and timeline item: a skip cuts it short
        self._delay: tuple[object, dict[str, Any]] | None = None
        self.steps = 0  # the steps that took a command, as the summary counts them
        self._step_begun = 0  # the number of the step begun last
        self.end = 0.0
        self.parameters: dict[str, Any] = {}  # the runtime parameters' values, by name
        # how a run that ended before the protocol's end ended: its status and line
        self.ended: dict[str, Any] | None = None
        self._module_step: tuple[float, str, int] | None = None  # start, words, step
        self.pickups = TipPickups()  # the rack positions each pick-up takes
        # each tip rack's positions picked from (by its slot at the start): True once a
        # tip is put back there, False while its tip is gone
        self.rack_tips: dict[str, dict[str, bool]] = {}
        self.held: dict[str, int] = {}  # mount -> the tips its last pick-up took
        # what the protocol says wells hold at the start (load_liquid): µL, the liquid's
        # name and its display colour (for the picture)
        self.declared: dict[str, Declared] = {}

    def _module_step_ended(self, t: float) -> None:
        """The step of a module's call ended at ``t``: on the timeline if it took long."""
        if self._module_step is not None:
            start, words, step = self._module_step
            self._module_step = None
            if t - start >= MODULE_WAIT_SHOWN_S:
                self.timeline.append({"t": start, "kind": "module", "call": words,
                                      "seconds": round(t - start, 3), "step": step})

    def _step_taken(self, event: Mapping[str, Any]) -> None:
        """A queued command: its step counts. A step the run ended as it began (a
        rehearsed stop at ``step=N``) took none and is no step, as in the summary."""
        if event.get("origin") != "cleanup":
            self.steps = max(self.steps, self._step_begun)

    def listen(self, event: Mapping[str, Any]) -> None:
        """``add`` for an event as the run adds it: the commands whose fields the sheet
        shows are taken as the record file has them (plain JSON values). Only steps, the
        queued commands the sheet uses, the completion of those that move liquid and the
        summary are read: of any other event, ``add`` takes only its time, and a live run
        always ends with the summary, whose duration is the end."""
        kind = event["event"]
        if kind == "command":
            status = event["status"]
            if status != "queued":
                if status != "started" and event["id"] in self.in_flight:
                    self._ended(event)
                return
            self._step_taken(event)
            command = str(event.get("type"))
            if command in _MOVING:  # the commonest: straight to its one use
                self._moving(event)
                return
            if command.startswith(_SHOWN) or "/" in command:  # "/": a module's call
                event = json.loads(json_line(dict(event)))
            elif command not in _READ:  # a move, a comment: the summary has the end
                return
        elif kind != "step" and kind != "summary" and not (
                kind == "delay" and event.get("status") == "skipped"):
            return
        self.add(event)

    def add(self, event: Mapping[str, Any]) -> None:
        """One event of the record, in order."""
        kind = event["event"]
        self.end = max(self.end, float(event.get("t", 0.0)))
        if kind == "step":
            self._module_step_ended(float(event.get("t", 0.0)))
            self._step_begun = int(event["index"]) + 1
            return
        if kind == "summary":
            self.end = float(event.get("duration_s", self.end))
            if event.get("status") not in (None, "succeeded"):
                self.ended = {"status": event["status"], "location": event.get("location")}
            self._module_step_ended(self.end)
            return
        if kind == "run":  # the record's first line
            self.parameters = dict(event.get("params") or {})
            return
        if kind == "delay":  # skipped: the timeline says how long it lasted
            if (event.get("status") == "skipped" and self._delay is not None
                    and self._delay[0] == event.get("id")):
                delay = self._delay[1]
                lasted = delay["seconds"] - float(event.get("remaining", 0.0))
                delay["skipped_after_s"] = round(max(lasted, 0.0), 3)
            return
        if kind != "command":
            return
        status = event["status"]
        if status != "queued":
            if status != "started":
                self._ended(event)
            return
        self._step_taken(event)
        command, params, t = event["type"], event.get("params", {}), float(event["t"])
        if command in _MOVING:
            self._moving(event)
            return
        if event.get("origin") == "cleanup":
            return
        deck, pipettes = self.deck, self.pipettes
        if command == "loadLabware":
            slot = self.labels.load(params)  # where it is at the start
            entry = deck.setdefault(slot, {"slot": slot, "labware": [], "modules": []})
            name = self.labels.on_top(str(params["slot"])) or str(params["load_name"])
            labware = {"load_name": params["load_name"], "name": name}
            if params.get(TRASH_BIN):  # apiLevel 2.16 on: named as the bin it is
                labware[TRASH_BIN] = True
            if slot.startswith(OFF_DECK) and params["slot"] != OFF_DECK:
                # loaded where a labware has left: a person puts it there then
                self.timeline.append({"t": t, "kind": "unpaused", "step": int(event.get(
                    "step", 0)) + 1, "message": f"Put {name} in slot {params['slot']} (the "
                    "protocol loads it where a labware has left)"})
            if params.get("wells") is not None:  # a custom labware: its wells, to draw it
                labware["wells"] = params["wells"]
                if params.get("definition_name"):  # and its name, to show it by
                    labware["definition_name"] = params["definition_name"]
            elif params.get("version") is not None:  # a standard one: which version
                labware["version"] = params["version"]
            entry["labware"].append(labware)
            self.changes.loaded(labware, slot, str(params["slot"]),
                                int(event.get("step", 0)) + 1)
        elif command.startswith("loadModule") and params.get("slot") is not None:
            slot = str(params["slot"])
            model = params.get("model")
            name = module_display_name(str(model)) if model else str(params.get("name")
                                                                     or "module")
            entry = deck.setdefault(slot, {"slot": slot, "labware": [], "modules": []})
            if name not in entry["modules"]:  # loaded again after a del: the same module
                entry["modules"].append(name)
            for covered in params.get("covers") or ():  # a thermocycler's other slots
                deck.setdefault(str(covered), {"slot": str(covered), "labware": [],
                                               "modules": []})["modules"].append(
                    f"{name} (of slot {slot})")
        elif command == "loadInstrument":
            pipettes[params["mount"]] = {"mount": params["mount"],
                                         "name": params["instrument_name"], "tips": {},
                                         "positions": {}}
        elif command == "pickUpTip" and params.get("well"):
            slot = self.labels.start_of(str(params["well"])).partition("/")[0]
            pipette = pipettes.setdefault(params["mount"], {"mount": params["mount"],
                                                            "name": "?", "tips": {},
                                                            "positions": {}})
            tips = int(params.get("tips", 1))
            pipette["tips"][slot] = pipette["tips"].get(slot, 0) + tips
            positions = self.pickups.taken(params)
            pipette["positions"].setdefault(slot, set()).update(positions)
            # a position picked from again: its tip was put back, or the rack refilled
            again = pipette.setdefault("again", {}).setdefault(slot, [0, 0])
            rack = self.rack_tips.setdefault(slot, {})
            for position in positions:
                returned = rack.get(position)
                if returned is not None:
                    again[0 if returned else 1] += 1
                rack[position] = False
            self.held[str(params["mount"])] = tips
        elif command == "loadLiquid":
            start = self.labels.start_place(params.get("labware"))
            if start is not None:
                for name, each in zip(params.get("wells") or (), params.get("volumes") or (),
                                      strict=False):
                    self.declared[f"{start}/{name}"] = (float(each), params.get("liquid"),
                                                        params.get("color"))
        elif command == "configureNozzleLayout":  # a front start takes the rows behind
            self.pickups.layout(params)
        elif "/" in command and self._module_step is None and event.get("origin") != "cleanup":
            # a module's call: on the timeline if its step lasts (a ramp, a hold, a profile)
            self._module_step = (t, module_sentence(command, params),
                                 int(event.get("step", 0)) + 1)
        elif (self._module_step is not None and command.partition("/")[2].startswith("waitFor")
              and self._module_step[2] == int(event.get("step", 0)) + 1
              and not self._module_step[1].endswith(" and wait for it")):
            # set and waited for in one call (set_and_wait_for_temperature): said so, apart
            # from a set that does not wait
            began, said, at_step = self._module_step
            self._module_step = (began, f"{said} and wait for it", at_step)
        elif command == "delay":
            delay = {"t": t, "kind": "delay", "seconds": float(params["seconds"]),
                     "message": params.get("message"), "step": int(event.get("step", 0)) + 1}
            self._delay = (event.get("id"), delay)
            self.timeline.append(delay)
        elif command == "waitForResume":
            self.timeline.append({"t": t, "kind": "pause", "message": params.get("message"),
                                  "step": int(event.get("step", 0)) + 1})
        elif command == "removeLabware":  # del ctx.deck[slot]: it is no longer there
            taken = self.labels.name_of(params.get("labware"))
            self.timeline.append({"t": t, "kind": "unpaused", "step": int(event.get("step", 0))
                                  + 1, "message": f"Take {taken} away from slot "
                                  f"{params.get('from_slot')} (the protocol deletes it from "
                                  "the deck)"})
            self.labels.move(params)
            self.changes.moved(params, int(event.get("step", 0)) + 1)
        elif command == "moveLabware":  # a person moves it, while the run waits
            self.labels.move(params)
            self.changes.moved(params, int(event.get("step", 0)) + 1)
            self.timeline.append({"t": t, "kind": "move", "message": params.get("message"),
                                  "step": int(event.get("step", 0)) + 1})

    def _moving(self, event: Mapping[str, Any]) -> None:
        """A queued command that moves liquid: kept until it ends (``_ended``)."""
        params = event.get("params", {})
        if event.get("origin") == "cleanup":
            return
        mount, command = str(params.get("mount")), event["type"]
        if command == "dropTip" and params.get("well"):
            self._put_back(mount, str(params["well"]))
        if params.get("air_gap"):  # an air gap draws air: in the tip, in no well
            command = "airGap"
        wells = [] if command in ("airGap", "dropTip") else [
            self.labels.start_of(well) for well in nozzle_wells(params)]
        if wells or command in ("airGap", "dropTip"):
            self.in_flight[event["id"]] = (command, float(params.get("volume", 0.0)),
                                           wells, mount, event.get("line"))
        if wells:
            self.changes.liquid_moved()

    def _put_back(self, mount: str, well: str) -> None:
        """A drop of ``mount``'s tips at ``well``: into a tip rack picked from (a
        ``return_tip``), its tips are back there, to be picked up again."""
        start = self.labels.start_of(well)
        rack = self.rack_tips.get(start.partition("/")[0])
        if rack is not None:
            for position in self.pickups.taken({"well": start, "mount": mount,
                                                "tips": self.held.get(mount, 1)}):
                rack[position] = True

    def _ended(self, event: Mapping[str, Any]) -> None:
        """A command ended: what it moved counts if it completed."""
        moved = self.in_flight.pop(event["id"], None)
        if moved is not None and event["status"] == "completed":
            command, asked, wells, mount, line = moved
            self._liquid(command, asked, wells, event.get("result") or {}, mount, line)

    def _liquid(self, command: str, asked: float, wells: list[str],
                result: Mapping[str, Any], mount: str, line: str | None = None) -> None:
        """A liquid command completed: each of its wells gains or loses what moved (and
        one that gains more than it holds is noted, with the protocol's line)."""
        if command == "airGap":
            self.air.drawn(mount, asked)
            return
        if command == "dropTip":
            self.air.dropped(mount)
            return
        if command == "aspirate":
            change = -asked
            self.air.liquid_drawn(mount, asked)  # over an air gap: it goes out first
        elif command == "dispense":  # what the tip drew last goes first
            change = self.air.liquid_dispensed(
                mount, float(result.get("volume_dispensed", asked)))
        else:  # a blow-out: what was left in the tip, air and all
            change = self.air.liquid_emptied(mount, float(result.get("volume_expelled", 0.0)))
        running, lowest, highest = self.running, self.lowest, self.highest
        for well in wells:
            now = running.get(well, 0.0) + change
            running[well] = now
            before = lowest.get(well, 0.0)
            lowest[well] = now if now < before else before
            if now < -1e-9 <= before and highest.get(well, 0.0) > 1e-9:
                self.short_after_filled[well] = line  # drawn past what the run gave it
            if change > 0 and now > highest.get(well, 0.0):
                highest[well] = now
                if well not in self.overfilled_at:
                    self._check_capacity(well, now, line)

    def _check_capacity(self, well: str, risen: float, line: str | None) -> None:
        """Note ``line`` if ``well``, its volume ``risen`` above its start, holds more than
        its capacity (the start as known so far: a later aspirate may raise it)."""
        if self._over(well, risen):
            self.overfilled_at[well] = line

    def _over(self, well: str, risen: float) -> bool:
        """Whether ``well``, ``risen`` above its start, holds more than its capacity."""
        if well not in self._capacities:
            _, name, top = _top_labware(self.deck, well)
            self._capacities[well] = _capacity(top, name) if top is not None else None
        capacity = self._capacities[well]
        return capacity is not None and risen + self._start(well) > capacity + 1e-6

    def _start(self, well: str) -> float:
        """What ``well`` holds at the start, as far as the run so far says."""
        return max(-self.lowest.get(well, 0.0), self.declared.get(well, NOT_DECLARED)[0])

    def _overfilled(self) -> list[dict[str, Any]]:
        """Each well that held more than its capacity at some point of the run, with the
        line that first filled it past (None: only its start, known at the end, does)."""
        found = []
        for well in sorted(self.highest, key=_well_key):
            if not self._over(well, self.highest[well]):
                continue
            slot, name, top = _top_labware(self.deck, well)
            found.append({"well": well, "slot": slot, "name": name,
                          "labware": top["name"] if top is not None else f"slot {slot}",
                          "most_ul": round(self._start(well) + self.highest[well], 3),
                          "capacity_ul": self._capacities[well],
                          "line": self.overfilled_at.get(well)})
        return found

    def sheet(self) -> Sheet:
        """The sheet of the events added so far."""
        labels, deck, running, lowest = self.labels, self.deck, self.running, self.lowest
        return {
            "deck": [deck[slot] for slot in sorted(deck, key=_slot_key)],
            "deck_changes": list(self.changes.entries),
            "pipettes": [{"mount": p["mount"], "name": p["name"],
                          "tip_racks": [{"slot": slot, "labware": labels.at_start(slot) or "?",
                                         "tips": count,
                                         "tips_at_start": len(p["positions"][slot]),
                                         "tips_returned": p.get("again", {}).get(slot,
                                                                                 [0, 0])[0],
                                         "tips_refilled": p.get("again", {}).get(slot,
                                                                                 [0, 0])[1],
                                         "positions": sorted(p["positions"][slot],
                                                             key=_position_key)}
                                        for slot, count in p["tips"].items()]}
                         for p in self.pipettes.values()],
            "liquids": _liquids(lowest, deck, self.declared, self.short_after_filled),
            "overfilled": self._overfilled(),
            "destinations": sorted((w for w, v in running.items()
                                    if v > 1e-9 and lowest[w] >= -1e-9), key=_well_key),
            "timeline": list(self.timeline),
            "parameters": dict(self.parameters),
            "steps": self.steps,
            "estimated_duration_s": round(self.end, 3),
            "ended": self.ended,
        }


def nozzle_wells(params: Mapping[str, Any]) -> list[str]:
    """The wells under every nozzle of a liquid command, from its params: ``well`` is the
    first nozzle's, ``wells`` those of the others."""
    return [w for w in (params.get("well"), *(params.get("wells") or ())) if w]


class TipPickups:
    """Which rack positions each tip pick-up takes, following each mount's nozzle layout
    (``configureNozzleLayout``): a partial layout that starts at the front nozzle (H1)
    takes the rows behind the one it is sent to."""

    def __init__(self) -> None:
        self._front_start: set[str] = set()  # mounts whose layout starts at the front

    def layout(self, params: Mapping[str, Any]) -> None:
        """A ``configureNozzleLayout``'s params."""
        if str(params.get("primary") or "A1").startswith("H"):
            self._front_start.add(str(params["mount"]))
        else:
            self._front_start.discard(str(params["mount"]))

    def taken(self, params: Mapping[str, Any]) -> list[str]:
        """The positions (``A1``...) a ``pickUpTip`` with these params takes from its rack."""
        return _tip_positions(str(params["well"]), int(params.get("tips", 1)),
                              backward=params["mount"] in self._front_start)


def _tip_positions(well: str, tips: int, *, backward: bool = False) -> list[str]:
    """The rack positions a pick-up of ``tips`` tips at ``well`` (the primary nozzle's, as
    ``"<slot>/<row><column>"``) takes: the rows from its own down, in its column; or up
    (``backward``: a partial layout that starts at the front nozzle, H1)."""
    name = well.rpartition("/")[2]
    row, column = name[:1], name[1:]
    start = _ROWS.find(row)
    if tips <= 1 or start < 0 or not column.isdigit():
        return [name]
    rows = _ROWS[max(0, start - tips + 1):start + 1] if backward else _ROWS[start:start + tips]
    return [f"{r}{column}" for r in rows]


_ROWS = "ABCDEFGHIJKLMNOP"


def _tip_rack(rack: Mapping[str, Any], order: Sequence[str] | None = None) -> str:
    """``96 tips from slot 6``; with more picked up over the run than the rack must hold
    at the start, both, and why: ``96 tips in slot 6 (288 picked up: 192 from places
    emptied earlier, to refill)`` (the run took their tips away before: a person puts
    new ones there at a pause, or the robot finds none), ``(... 16 put back and picked
    up again)``; with tips not taken from
    the rack's first position on (``order``: its positions as tips are taken), where
    they stand: ``19 tips from slot 4: C3 to E5``."""
    at_start = rack.get("tips_at_start", rack["tips"])
    where = place(rack["slot"])
    if where == "off the deck":
        where = "the rack off the deck at the start"
    positions = _position_runs(rack.get("positions", ()), order) if order else ""
    if at_start >= rack["tips"]:
        return f"{plural(rack['tips'], 'tip')} from {where}{positions}"
    why = [f"{rack['tips_refilled']} from places emptied earlier, to refill"] if rack.get(
        "tips_refilled") else []
    if rack.get("tips_returned"):
        why.append(f"{rack['tips_returned']} put back and picked up again")
    said = f": {'; '.join(why)}" if why else ""
    return (f"{plural(at_start, 'tip')} in {where}{positions} ({rack['tips']} picked "
            f"up{said})")


SHOWN_RUNS = 3
"""A rack's positions in at most this many runs are named on the sheet."""


def _position_runs(positions: Sequence[str], order: Sequence[str]) -> str:
    """``: C3 to E5``: where in its rack the tips the run picks up stand, when not its
    first positions in ``order`` (the rack's, as tips are taken); "" when they are."""
    index = {name: i for i, name in enumerate(order)}
    indexes = sorted(index[name] for name in positions if name in index)
    if len(indexes) < len(positions) or indexes == list(range(len(indexes))):
        return ""
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    if len(runs) > SHOWN_RUNS:
        return f", from {len(runs)} places in the rack (labrun simulate --deck draws them)"
    return ": " + ", ".join(order[first] if first == last else f"{order[first]} to "
                            f"{order[last]}" for first, last in runs)


def _rack_order(sheet: Sheet, slot: str, positions: Sequence[str]) -> list[str] | None:
    """The positions of the tip rack in ``slot`` (where it was at the start) in the order
    tips are taken, column by column, from its definition; None if it is not known."""
    entry = next((e for e in sheet["deck"] if e["slot"] == slot), None)
    for labware in reversed(entry["labware"] if entry else ()):
        wells = well_geometry(labware)
        if wells and set(positions) <= set(wells):
            return sorted(wells, key=_position_key)
    return None


Declared = tuple[float, str | None, str | None]
"""What the protocol says a well holds at the start: µL, the liquid's name, its colour."""
NOT_DECLARED: Declared = (0.0, None, None)


def _top_labware(deck: Mapping[str, Any], well: str
                 ) -> tuple[str, str, Mapping[str, Any] | None]:
    """``place/name``'s slot, name and the labware it is a well of in that slot of the
    ``deck`` at the start: the highest in the slot's stack that has a well of that name
    (a plate under its lid, which has none), else the one on top (None: none there)."""
    slot, _, name = well.partition("/")
    stack = deck.get(slot, {}).get("labware", [])
    for labware in reversed(stack):
        wells = well_geometry(labware)
        if wells is None or name in wells:
            return slot, name, labware
    return slot, name, stack[-1] if stack else None


def _liquids(lowest: Mapping[str, float], deck: Mapping[str, Any],
             declared: Mapping[str, Declared] | None = None,
             after_filled: Mapping[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Each well whose simulated volume went below zero: what it must hold at the start;
    and each well the protocol says holds liquid at the start (``load_liquid``): the more
    of the two, with the liquid's name, and ``short`` when the run needs more than that.
    ``after_filled``: the wells the run filled before it drew more from them than it gave
    (by the line that did), each with ``drawn_past_filled_at``, that line."""
    declared, after_filled = declared or {}, after_filled or {}
    liquids = []
    for well in sorted({*lowest, *declared}, key=_well_key):
        need = max(0.0, -lowest.get(well, 0.0))
        said, liquid, color = declared.get(well, NOT_DECLARED)
        if need <= 1e-9 and (said <= 1e-9 or liquid is None):
            continue
        slot, name, top = _top_labware(deck, well)
        capacity = _capacity(top, name) if top is not None else None
        held = max(need, said)
        liquids.append({"well": well, "slot": slot, "name": name,
                        "labware": top["name"] if top is not None else f"slot {slot}",
                        "volume_ul": round(held, 3), "capacity_ul": capacity,
                        "over_capacity": capacity is not None and held > capacity + 1e-6,
                        "liquid": liquid, "color": color if liquid else None,
                        "declared_ul": round(said, 3) if well in declared else None,
                        "short": well in declared and need > said + 1e-6,
                        "drawn_past_filled_at": after_filled[well] or ""
                        if well in after_filled and need > said + 1e-6 else None})
    return liquids


def _capacity(labware: Mapping[str, Any], well: str) -> float | None:
    wells = well_geometry(labware)
    try:
        return float(wells[well]["totalLiquidVolume"]) if wells else None
    except (KeyError, TypeError, ValueError):
        return None


def well_geometry(labware: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The wells of a labware of the sheet's deck, as its definition places them: a
    custom labware's from the record, a standard one's from its load name and version."""
    wells = labware.get("wells")
    if wells is not None:
        return wells  # type: ignore[no-any-return]
    definition = standard_definition(labware["load_name"], labware.get("version"))
    return definition["wells"] if definition else None


def text(sheet: Sheet) -> list[str]:
    """The setup sheet for people: the runtime parameters' values, deck, pipettes and tips,
    liquids, pauses and delays."""
    lines = ["Setup"]
    if sheet.get("parameters"):
        lines.append("  Parameters")
        lines += [f"    {name} = {_parameter(value)}"
                  for name, value in sheet["parameters"].items()]
    lines.append("  Deck")
    for slot in sheet["deck"]:
        detail = " on ".join(
            f"{lw['name']} ({labware_display_name(lw)})"
            if lw["name"] != labware_display_name(lw) and not lw.get(TRASH_BIN) else lw["name"]
            for lw in reversed(slot["labware"]))  # the top of a stack first
        modules = " on ".join(slot["modules"])
        on = " on " if detail and modules else ""
        where = "off deck" if slot["slot"].startswith(OFF_DECK) else f"slot {slot['slot']:<3}"
        lines.append(f"    {where} {detail}{on}{modules}")
    if sheet["pipettes"]:
        lines.append("  Pipettes and tips")
    for pipette in sheet["pipettes"]:
        racks = ", ".join(_tip_rack(r, _rack_order(sheet, r["slot"], r.get("positions", ())))
                          for r in pipette["tip_racks"]) or "no tips"
        lines.append(f"    {pipette['mount']:<6} {pipette['name']}: {racks}")
    if sheet["liquids"]:
        lines.append("  Liquids to load (the least each well must hold at the start)")
    lines += _liquid_lines(sheet["liquids"])
    lines += _overfilled_lines(sheet.get("overfilled", []))
    total = sheet["estimated_duration_s"]
    lines.append(f"  Timeline (about {duration(total)}, {plural(sheet['steps'], 'step')})")
    lines.append(f"    {clock(0):>7}  start")
    timeline = sheet["timeline"]
    short = [item for item in timeline if item["kind"] == "delay"
             and item["seconds"] < SHORT_DELAY_S and not item.get("message")
             and item.get("skipped_after_s") is None]
    if len(short) >= REPEATS_ON_ONE_LINE:
        folded = {id(item) for item in short}
        timeline = [item for item in timeline if id(item) not in folded]
    else:
        short = []
    said = [(item, _timeline_words(item)) for item in timeline]
    start = 0
    while start < len(said):  # the same pause or delay again and again (a loop's): a line
        end = start + 1
        while end < len(said) and said[end][1] == said[start][1]:
            end += 1
        first, what = said[start]
        if end - start >= REPEATS_ON_ONE_LINE:
            last = said[end - 1][0]
            lines.append(f"    {clock(first['t']):>7}  steps {first['step']}, "
                         f"{said[start + 1][0]['step']} … {last['step']} ({end - start} times, "
                         f"the last at {clock(last['t'])}): {what}")
        else:
            lines += [f"    {clock(item['t']):>7}  step {item['step']}: {what}"
                      for item, what in said[start:end]]
        start = end
    lines.append(f"    {clock(total):>7}  end{_ended_words(sheet.get('ended'))}")
    if short:
        least, most = min(s["seconds"] for s in short), max(s["seconds"] for s in short)
        each = duration(least) if least == most else f"{duration(least)} to {duration(most)}"
        lines.append(f"    {'':>7}  and {len(short)} short delays between steps "
                     f"{short[0]['step']} and {short[-1]['step']}, not listed: {each} each, "
                     f"{duration(sum(s['seconds'] for s in short))} in all")
    # labels and messages are the protocol's; a message's further lines go under "step"
    return [hanging(line, TIMELINE_TEXT) for line in lines]


def _ended_words(ended: Mapping[str, Any] | None) -> str:
    """What the timeline's end says of a run that ended before the protocol's end: the
    sheet holds only what the run did up to there."""
    if not ended:
        return ""
    status = ended["status"]
    how = "failed" if status == "failed" else f"was {status}"
    at = f" at {ended['location']}" if ended.get("location") else ""
    return (f": the run {how}{at}, before the protocol's end; this sheet covers only "
            "what it did up to there")


def _timeline_words(item: Mapping[str, Any]) -> str:
    """What happens at a point of the timeline, in words."""
    message = f": {item['message']}" if item.get("message") else ""
    if item["kind"] == "delay":
        skipped = item.get("skipped_after_s")
        cut = "" if skipped is None else f", skipped after {duration(skipped)}"
        return f"delay of {duration(item['seconds'])}{cut}{message}"
    if item["kind"] == "module":
        return f"{item['call']}, {duration(item['seconds'])}"
    if item["kind"] == "move":
        return f"MOVE BY HAND, the run waits for you{message}"
    if item["kind"] == "unpaused":  # the protocol's own bookkeeping: no pause
        return f"BY HAND, but the run does not pause for it{message}"
    return f"PAUSE, the run waits for you{message}"


def _parameter(value: Any) -> str:
    if value is None:  # a CSV file parameter given no file
        return "no file given"
    return repr(value) if isinstance(value, str) else str(value)


def _liquid_lines(liquids: list[dict[str, Any]]) -> list[str]:
    by_labware: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for liquid in liquids:
        by_labware.setdefault((liquid["slot"], liquid["labware"]), []).append(liquid)
    lines = []
    for (slot, name), wells in by_labware.items():
        capacities = {w["capacity_ul"] for w in wells}
        capacity = wells[0]["capacity_ul"] if len(capacities) == 1 else None
        cap = f" (capacity {volume(capacity)})" if capacity is not None else ""
        where = f"    {name} ({place(slot)}): "
        if len(capacities) > 1:  # a rack of tubes of two sizes: each well's own
            lines += _wrapped(where, [f"{w['name']}: {_held(w)}"
                                      + (f" (capacity {volume(w['capacity_ul'])})"
                                         if w["capacity_ul"] is not None else "")
                                      for w in wells], "")
        else:  # every well, those of one volume together, by the columns they run down
            groups: dict[str, list[str]] = {}
            for well in wells:
                groups.setdefault(_held(well), []).append(str(well["name"]))
            listed = [f"{well_ranges(names)}: {held}" + (" each" if len(names) > 1 else "")
                      for held, names in groups.items()]
            lines += _wrapped(where, listed, cap)
        overdrawn: dict[str, list[Mapping[str, Any]]] = {}  # by the line that overdraws
        for well in wells:
            if well.get("drawn_past_filled_at") is not None:
                overdrawn.setdefault(well["drawn_past_filled_at"], []).append(well)
        for at, those in overdrawn.items():  # one line each, however many wells
            most = max(w["volume_ul"] for w in those)
            each = (f"{volume(most)} more from it" if len(those) == 1 else
                    f"up to {volume(most)} more from each")
            names = well_ranges([str(w["name"]) for w in those])
            lines.append(f"      WARNING: the run fills {names}, then draws {each} than it put "
                         f"there{f' ({at})' if at else ''}: load that much at the start, or "
                         "check the protocol's volumes")
        for well in wells:
            if well.get("short") and well["liquid"] is None:  # load_empty
                lines.append(f"      WARNING: {well['name']} needs {volume(well['volume_ul'])}, "
                             "but the protocol says it starts empty")
            elif well.get("short"):
                lines.append(f"      WARNING: {well['name']} needs {volume(well['volume_ul'])}, "
                             f"more than the {volume(well['declared_ul'])} of "
                             f"{well['liquid']} the protocol loads there")
            if well["over_capacity"]:
                lines.append(f"      WARNING: {well['name']} needs {volume(well['volume_ul'])}, "
                             f"more than it holds ({volume(well['capacity_ul'])})")
    return lines


SHEET_WIDTH = 120
"""Characters of a setup sheet's line a long list of wells is wrapped at."""


def _wrapped(head: str, items: list[str], tail: str) -> list[str]:
    """``head`` and ``items`` (joined by commas) and ``tail``, on as many lines as it
    takes, the next ones indented under the first's text."""
    lines, line = [], head
    for n, item in enumerate(items):
        text = item + ("," if n < len(items) - 1 else tail)
        if line.strip() and len(line) + 1 + len(text) > SHEET_WIDTH and line != head:
            lines.append(line)
            line = "      " + text
        else:
            line += ("" if line == head else " ") + text
    lines.append(line)
    return lines


def well_ranges(names: Sequence[str]) -> str:
    """Wells such as ``A1 B1 C1 A3 B3 C3`` as a person finds them on a plate: runs down a
    column (``A1…C1``), columns with the same run together (``rows A to C of columns 1 to
    3``), joined by "and"; a name of no row and column as it is."""
    cells: dict[int, list[str]] = {}
    others: list[str] = []
    for name in names:
        match = _WELL_NAME.fullmatch(name)
        if match is None:
            others.append(name)
        else:
            cells.setdefault(int(match[2]), []).append(match[1])
    runs: list[tuple[int, int, str, str]] = []  # columns from, to; rows from, to
    for column in sorted(cells):
        rows = sorted(set(cells[column]), key=lambda r: (len(r), r))
        start = previous = rows[0]
        for row in [*rows[1:], ""]:
            if row and _row_number(row) == _row_number(previous) + 1:
                previous = row
                continue
            last = runs[-1] if runs else None
            if last is not None and last[1] == column - 1 and last[2:] == (start, previous):
                runs[-1] = (last[0], column, start, previous)  # the column before, alike
            else:
                runs.append((column, column, start, previous))
            start = previous = row
    said = []
    for first, last_column, top, bottom in runs:
        if first != last_column and top == bottom and last_column == first + 1:
            said += [f"{top}{first}", f"{top}{last_column}"]
        elif first != last_column:
            said.append(f"columns {first} to {last_column} (rows {top} to {bottom})"
                        if top != bottom else f"{top}{first}…{top}{last_column}")
        elif top == bottom:
            said.append(f"{top}{first}")
        elif _row_number(bottom) == _row_number(top) + 1:
            said += [f"{top}{first}", f"{bottom}{first}"]
        else:
            said.append(f"{top}{first}…{bottom}{first}")
    said += others
    return " and ".join(said) if len(said) < 3 else ", ".join(said[:-1]) + " and " + said[-1]


_WELL_NAME = re.compile(r"([A-Z]+)(\d+)")


def _row_number(row: str) -> int:
    number = 0
    for letter in row:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _overfilled_lines(wells: list[dict[str, Any]]) -> list[str]:
    """The wells the run fills past their capacity, by labware: liquid may spill."""
    if not wells:
        return []
    lines = ["  WARNING: wells filled past their capacity (liquid may spill)"]
    by_labware: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for well in wells:
        by_labware.setdefault((well["slot"], well["labware"]), []).append(well)
    for (slot, name), listed in by_labware.items():
        one_size = len({w["capacity_ul"] for w in listed}) == 1  # else a rack of two sizes
        first = next((w["line"] for w in listed if w["line"]), None)
        said = [f"capacity {volume(listed[0]['capacity_ul'])}"] if one_size else []
        said += [f"first at {first}"] if first else []
        lines += _wrapped(f"    {name} ({place(slot)}): ",
                          [f"{w['name']} up to {volume(w['most_ul'])}"
                           + ("" if one_size else f" (capacity {volume(w['capacity_ul'])})")
                           for w in listed], f" ({', '.join(said)})" if said else "")
    return lines


def _held(well: Mapping[str, Any]) -> str:
    """A well's volume to load, and its liquid's name when the protocol gives one."""
    liquid = f" of {well['liquid']}" if well.get("liquid") else ""
    return f"{volume(well['volume_ul'])}{liquid}"


def _slot_key(slot: str) -> tuple[int, str]:
    return (int(slot), "") if slot.isdigit() else (99, slot)


def _position_key(name: str) -> tuple[int, str, str]:
    """``A1``, ``B1``, ... ``H1``, ``A2``: a labware's wells column by column, as tips are
    taken (a name without a column number first; the name itself breaks ties)."""
    row, column = name[:1], name[1:]
    return int(column) if column.isdigit() else 0, row, name


def _well_key(well: str) -> tuple[tuple[int, str], tuple[int, str, str]]:
    slot, _, name = well.partition("/")
    return _slot_key(slot), _position_key(name)
