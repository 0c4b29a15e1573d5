"""Random interleavings of an 8-channel pipette's calls with pauses, resumes and endings.

A hypothesis state machine drives a simulated run with a P300 8-channel on the left
mount, as ``test_engine_stateful`` does a single-channel one on each, with the same
actions and timers (``stateful_runs``: a person's pauses, deferred and immediate, and
resumes, stops, aborts and halts, a door, at exact instants mid-move). The pipette takes
a column of tips, or some of its nozzles do (``configureNozzleLayout``: the front nozzle
alone, or a column of fewer from it), and draws from, dispenses into, blows out in,
touches and mixes in columns of the plate in slot 2, each contact naming the wells under
its other nozzles (``wells``).

docs/design.md §4 for a multi-channel: a paused and resumed run never touches a well it
would not have touched. From the motion of the simulated motors, each plunger stroke is
a contact of every nozzle that holds a tip with the well it is in (``NozzleTrace``).
After every step the contacts so far are, in order, those the calls asked for, each in
the wells its command's record names, and the tips were taken from the places asked
for; at the end they are the pause-free twin's, each at the twin's height, with the
wells each tip went into, the tips and nozzles never lower than the twin's anywhere,
and a run that succeeded moved the liquid of each well the twin did, and the calls asked.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from labrun_testing import TIP_TOP, ScriptedRun
from motion_trace import PhysicalTrace, TraceItem, protocol_items
from stateful_runs import PLATE, TRASH, InterruptedRunMachine, well_at, well_point

from engine import commands as c
from engine.record import read_record
from engine.state import Status
from hardware.config import InterlockConfig, default_config
from hardware.frozen import replace

ROWS = "ABCDEFGH"
PITCH = 9.0  # mm between nozzles, between wells and between tips
P300_MULTI = c.LoadInstrument("p300_multi_gen2", "left", 300.0, 300.0 / 16, 18.0, 19.0, 20.0,
                              nozzle_xy=(0.0, 31.5), channels=8)
MOUNT = "left"
TIP_LENGTH = 51.1
PRESS_MM = 10.0  # a pick-up presses the nozzles this far into the tips (``PickUpTip``)
# (style, primary, end, nozzles that take tips) as ``configure_nozzle_layout`` sends them
LAYOUTS = [("ALL", None, None, 8), ("SINGLE", "H1", None, 1),
           *(("PARTIAL_COLUMN", "H1", f"{ROWS[8 - n]}1", n) for n in range(2, 8))]
SPLITS = ["", "move", "move, paused"]
# A pause or a door inside one of the moves of a liquid call to come (``_cut``): the
# nth move, at a fraction of it, and how long the door stays open or the person waits
# before resuming (None: until the test's rules resume it).
CUT = st.one_of(st.none(), st.tuples(
    st.integers(1, 8), st.floats(0.0, 1.0), st.sampled_from(["immediate", "deferred", "door"]),
    st.one_of(st.none(), st.floats(0.0, 30.0))))

Contact = tuple[str, int, tuple[str | None, ...]]
"""A tip (its pick-up's well and count), the stroke's sign (+1 draws) and the well each
nozzle with a tip is in, from the primary nozzle (None: in none)."""


def nozzles(layout: tuple[str, str | None, str | None, int]) -> tuple[int, ...]:
    """The nozzles (0 is A1, the back one) that take tips, from the primary one."""
    count = layout[3]
    return tuple(range(8)) if layout[1] is None else tuple(range(7, 7 - count, -1))


def rack_at(x: float, y: float) -> str | None:
    """The tip of the rack in slot 1 a nozzle at (x, y) is over (within 0.5 mm), or None."""
    col, row = round((x - TIP_TOP[0]) / PITCH), round((TIP_TOP[1] - y) / PITCH)
    if not (0 <= col < 12 and 0 <= row < 8) or max(
            abs(x - TIP_TOP[0] - PITCH * col), abs(TIP_TOP[1] - PITCH * row - y)) > 0.5:
        return None
    return f"1/{ROWS[row]}{col + 1}"


class NozzleTrace:
    """What each nozzle of the left mount's 8-channel did, by the motion of the motors,
    up to where the run's ending began: ``contacts``, every plunger stroke with a tip end
    in a well (strokes of the same tip, sign and wells one after another merged: one cut
    off by a pause and completed is one contact), each with its µL (+ draws) and the
    command it was made in, and (``depths``) the height of the tip ends at its first
    stroke; ``visits``, the wells the tip ends went into, in order, a set
    entered again at once counted once; ``picks``, each pick-up's command and the tips
    under its nozzles that take one where they pressed in (every place they pressed)."""

    def __init__(self, trace: Sequence[TraceItem]) -> None:
        config = default_config()
        mount = config.mounts[MOUNT]
        self.z, self.plunger = mount.z_axis, mount.plunger_axis
        self.ox, self.oy, self.oz = mount.offset
        self.contacts: list[tuple[Contact, float, int | None]] = []
        self.depths: list[float] = []  # each contact's tip ends' height at its first stroke
        self.visits: list[tuple[str, tuple[str | None, ...]]] = []
        self.picks: list[tuple[int, set[tuple[str | None, ...]]]] = []
        layout = LAYOUTS[0]
        tip: tuple[str, float, tuple[int, ...]] | None = None  # id, length, nozzles
        queued: dict[int, dict[str, Any]] = {}
        running: int | None = None
        taken = 0
        for kind, first, second in protocol_items(trace):
            if kind == "event":
                event = first
                status, command_id = event["status"], event["id"]
                if status == "queued":
                    queued[command_id] = event
                    continue
                if command_id not in queued:
                    continue  # a command of the cleanup (only its queued event says so)
                command = queued[command_id]
                params = command["params"]
                if status == "started":
                    running = command_id
                    if command["type"] == "pickUpTip" and not (
                            self.picks and self.picks[-1][0] == command_id):
                        self.picks.append((command_id, set()))
                    continue
                running = None if status in ("completed", "failed") else running
                if status != "completed":
                    continue
                if command["type"] == "configureNozzleLayout":
                    layout = (params["style"], params["primary"], params["end"],
                              params["nozzles"])
                elif command["type"] == "pickUpTip":
                    taken += 1
                    assert params["tips"] == len(nozzles(layout)), (params, layout)
                    tip = (f"{params['well']}#{taken}", params["tip_length"], nozzles(layout))
                elif command["type"] == "dropTip":
                    tip = None
                continue
            self._move(first, second, tip, running, queued, layout)

    def _ends(self, position: dict[str, float], length: float,
              which: Sequence[int]) -> list[tuple[float, float, float]]:
        """Where the ends of nozzles ``which`` (a tip ``length`` long on each) are."""
        dx, dy = P300_MULTI.nozzle_xy
        x, y = position["X"] + self.ox + dx, position["Y"] + self.oy + dy
        z = position[self.z] + self.oz - length
        return [(x, y - PITCH * k, z) for k in which]

    def _move(self, start: dict[str, float], end: dict[str, float],
              tip: tuple[str, float, tuple[int, ...]] | None, running: int | None,
              queued: dict[int, dict[str, Any]], layout: Any) -> None:
        command = queued[running] if running is not None else None
        if command is not None and command["type"] == "pickUpTip" and tip is None:
            top = command["params"]["point"][2]
            if end[self.z] + self.oz <= top - PRESS_MM + 0.01:  # pressed in
                under = tuple(rack_at(x, y) for x, y, _ in self._ends(end, 0.0,
                                                                      nozzles(layout)))
                self.picks[-1][1].add(under)
        if tip is None:
            return
        name, length, which = tip
        stroke = (start[self.plunger] - end[self.plunger]) * P300_MULTI.ul_per_mm
        if abs(stroke) > 1e-6:
            wells = tuple(well_at(*point) for point in self._ends(start, length, which))
            if any(wells):
                key: Contact = (name, 1 if stroke > 0 else -1, wells)
                if self.contacts and self.contacts[-1][0] == key:
                    self.contacts[-1] = (key, self.contacts[-1][1] + stroke,
                                         self.contacts[-1][2])
                else:
                    self.contacts.append((key, stroke, running))
                    self.depths.append(start[self.z] + self.oz - length)
        wells = tuple(well_at(*point) for point in self._ends(end, length, which))
        if any(wells) and (not self.visits or self.visits[-1] != (name, wells)):
            self.visits.append((name, wells))


class MultiChannelMachine(InterruptedRunMachine):
    """One run of an 8-channel pipette, driven at random."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.trace: list[TraceItem] = []
        self.calls: list[tuple[c.Command, ...]] = []  # every protocol call, for the twin
        self.finished = False
        # What the calls made so far leave the pipette with, once each has run (a call
        # is made only once the one before returned): its layout, tip, liquid and plunger.
        self.layout = LAYOUTS[0]
        self.tip: str | None = None
        self.volume = 0.0
        self.blown = False  # the plunger at the blow-out position: a blow-out moves nothing
        self.taken = 0  # pick-ups asked for; each takes tips from a fresh column
        # What the calls asked for, in order: the contacts (merged as ``NozzleTrace``
        # merges them, with their µL), and each pick-up's tips under its nozzles.
        self.expected: list[tuple[Contact, float]] = []
        self.expected_picks: list[tuple[str | None, ...]] = []
        self.volumes: dict[str, float] = defaultdict(float)  # µL each well gained

    @initialize(auto_resume=st.booleans(), layout=st.sampled_from(LAYOUTS), tip=st.booleans())
    def start(self, auto_resume: bool, layout: tuple[str, str | None, str | None, int],
              tip: bool) -> None:
        self.config = replace(default_config(),
                              interlocks={"door": InterlockConfig(auto_resume)})
        self.run = ScriptedRun(self.config, record_path=str(Path(self.tmp.name) / "run.jsonl"),
                               trace=self.trace)
        self._hook_moves()
        self.run.play()
        self._call(P300_MULTI)
        self._call(PLATE)
        if layout != LAYOUTS[0]:
            self._call(c.ConfigureNozzleLayout(MOUNT, *layout))
        if tip:
            self._call(self._new_tip())

    # -- helpers ----------------------------------------------------------------------

    def free(self) -> bool:
        return self.pending is None and self.terminal is None and not self.finished

    def bare(self) -> bool:
        return self.free() and self.tip is None

    def tipped(self) -> bool:
        return self.free() and self.tip is not None

    def holds(self) -> bool:
        return self.tipped() and self.volume > 0

    def _primary(self) -> int:
        return nozzles(self.layout)[0]

    def _column(self, col: int, row: int) -> tuple[str, tuple[str, ...]]:
        """The well the primary nozzle goes to, with ``row`` drawn from those where every
        nozzle with a tip is over the plate (an 8-channel's only row A), and the wells of
        the others, from the primary."""
        which = nozzles(self.layout)
        low = max(which) - min(which)  # the primary (H1) this many rows in, at least
        row = 0 if self._primary() == 0 else low + row % (8 - low)
        wells = tuple(f"2/{ROWS[row + (k - which[0])]}{col + 1}" for k in which)
        return wells[0], wells[1:]

    def _point(self, well: str, z: float) -> tuple[float, float, float]:
        """Where the first nozzle (A1) goes for the primary's tip end in ``well`` at
        ``z``: a command's point."""
        x, y, _ = well_point(well)
        return x, y + PITCH * self._primary(), z

    def _new_tip(self) -> c.PickUpTip:
        """Tips of a fresh column: an 8-channel's all of it, the front nozzle (H1) and
        those behind it from the column's top, the nozzles with no tip behind the rack."""
        col = self.taken % 12
        row = len(nozzles(self.layout)) - 1 if self._primary() else 0  # the primary's tip
        x, y, z = TIP_TOP
        well = f"1/{ROWS[row]}{col + 1}"
        point = (x + PITCH * col, y - PITCH * row + PITCH * self._primary(), z)
        return c.PickUpTip(MOUNT, point, well, TIP_LENGTH, tips=len(nozzles(self.layout)))

    def _call(self, *commands: c.Command) -> None:
        for cmd in commands:
            self._expect(cmd)
        self.calls.append(commands)
        self.pending = (self.r.call(*commands, name=commands[0].kind), commands)
        self._collect()

    def _expect(self, cmd: c.Command) -> None:
        """Follow ``cmd`` as asked: the contact it makes, the tips it takes."""
        upm = P300_MULTI.ul_per_mm
        if isinstance(cmd, c.ConfigureNozzleLayout):
            self.layout = next(layout for layout in LAYOUTS if layout[0] == cmd.style
                               and layout[3] == cmd.nozzles)
        elif isinstance(cmd, c.PickUpTip):
            self.taken += 1
            self.tip, self.volume, self.blown = f"{cmd.well}#{self.taken}", 0.0, False
            col = int(cmd.well[3:])
            row = ROWS.index(cmd.well[2])
            self.expected_picks.append(tuple(
                f"1/{ROWS[row + k - self._primary()]}{col}" for k in nozzles(self.layout)))
        elif isinstance(cmd, c.DropTip):
            self.tip = None
        elif isinstance(cmd, (c.Aspirate, c.Dispense, c.BlowOut)):
            assert self.tip is not None and cmd.well is not None
            if isinstance(cmd, c.Aspirate):
                ul, gain, self.blown = cmd.volume, -cmd.volume, False
            elif isinstance(cmd, c.Dispense):
                ul = -min(cmd.volume, self.volume)
                gain = -ul
            else:  # what is left in the tips lands in the wells, the plunger past empty
                gain, ul = self.volume, 0.0 if self.blown else -(self.volume + upm * (
                    P300_MULTI.plunger_blow_out - P300_MULTI.plunger_bottom))
                self.blown = True
            self.volume = 0.0 if isinstance(cmd, c.BlowOut) else self.volume + ul
            for well in (cmd.well, *cmd.wells):
                self.volumes[well] += gain
            if abs(ul) > 1e-6:
                key: Contact = (self.tip, 1 if ul > 0 else -1, (cmd.well, *cmd.wells))
                if self.expected and self.expected[-1][0] == key:
                    self.expected[-1] = (key, self.expected[-1][1] + ul)
                else:
                    self.expected.append((key, ul))

    def _collect(self) -> None:
        if self.pending is not None and self.pending[0].done.is_set():
            self.pending = None

    def _cut(self, cut: tuple[int, float, str, float | None] | None) -> None:
        """Land a pause or a door in a move of the call to come (``CUT``)."""
        if cut is None:
            return
        nth, fraction, what, linger = cut
        self.interrupt_in_a_move(nth, fraction, what, linger or 0.0)
        if what != "door" and linger is not None:
            self.act_later(linger, "resume")


    # -- protocol calls ---------------------------------------------------------------

    @precondition(lambda self: self.bare())
    @rule(layout=st.sampled_from(LAYOUTS))
    def configure_nozzle_layout(self, layout: tuple[str, str | None, str | None, int]) -> None:
        self._call(c.ConfigureNozzleLayout(MOUNT, *layout))

    @precondition(lambda self: self.bare())
    @rule(cut=CUT)
    def pick_up_tip(self, cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        self._call(self._new_tip())

    @precondition(lambda self: self.tipped())
    @rule()
    def drop_tip(self) -> None:
        self._call(c.DropTip(MOUNT, *TRASH))

    @precondition(lambda self: self.tipped() and self.volume < 290)
    @rule(col=st.integers(0, 11), row=st.integers(0, 7), fraction=st.floats(0.05, 1.0),
          split=st.sampled_from(SPLITS), cut=CUT)
    def aspirate(self, col: int, row: int, fraction: float, split: str,
                 cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        well, wells = self._column(col, row)
        volume = round((300 - self.volume) * fraction, 3)
        self._call_split([(c.MoveTo(MOUNT, self._point(well, 3.0), well=well),),
                     (c.Aspirate(MOUNT, volume, 50.0, well, wells),)], split)

    @precondition(lambda self: self.holds())
    @rule(col=st.integers(0, 11), row=st.integers(0, 7), fraction=st.floats(0.1, 1.0),
          split=st.sampled_from(SPLITS), cut=CUT)
    def dispense(self, col: int, row: int, fraction: float, split: str,
                 cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        well, wells = self._column(col, row)
        volume = round(self.volume * fraction, 3) if fraction < 1 else self.volume
        self._call_split([(c.MoveTo(MOUNT, self._point(well, 3.0), well=well),),
                     (c.Dispense(MOUNT, volume, 50.0, well, wells),)], split)

    @precondition(lambda self: self.tipped())
    @rule(col=st.integers(0, 11), row=st.integers(0, 7), split=st.sampled_from(SPLITS), cut=CUT)
    def blow_out(self, col: int, row: int, split: str,
                 cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        # just below the wells' top: the tips in them
        well, wells = self._column(col, row)
        self._call_split([(c.MoveTo(MOUNT, self._point(well, 13.0), well=well),),
                     (c.BlowOut(MOUNT, 50.0, well, wells),)], split)

    @precondition(lambda self: self.tipped())
    @rule(col=st.integers(0, 11), row=st.integers(0, 7), cut=CUT)
    def touch_tip(self, col: int, row: int,
                  cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        well, wells = self._column(col, row)
        self._call(c.TouchTip(MOUNT, self._point(well, 13.0), 2.5, 2.5, 60.0, well, wells))

    @precondition(lambda self: self.tipped() and self.volume < 290)
    @rule(col=st.integers(0, 11), row=st.integers(0, 7), repetitions=st.integers(1, 3),
          fraction=st.floats(0.05, 1.0), cut=CUT)
    def mix(self, col: int, row: int, repetitions: int, fraction: float,
            cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        # as mix() sends it: to the top, the plunger made ready there if the tip is empty,
        # down, then the strokes, all one step
        well, wells = self._column(col, row)
        volume = round((300 - self.volume) * fraction, 3)
        commands: list[c.Command] = [c.MoveTo(MOUNT, self._point(well, 14.22), well=well)]
        if self.volume <= 0:
            commands.append(c.PrepareToAspirate(MOUNT))
        commands.append(c.MoveTo(MOUNT, self._point(well, 3.0), well=well))
        for _ in range(repetitions):
            commands += [c.Aspirate(MOUNT, volume, 50.0, well, wells),
                         c.Dispense(MOUNT, volume, 50.0, well, wells)]
        self._call(*commands)

    @precondition(lambda self: self.bare())
    @rule(source=st.tuples(st.integers(0, 11), st.integers(0, 7)),
          destination=st.tuples(st.integers(0, 11), st.integers(0, 7)),
          volume=st.floats(5, 300), cut=CUT)
    def transfer(self, source: tuple[int, int], destination: tuple[int, int],
                 volume: float,
                 cut: tuple[int, float, str, float | None] | None) -> None:
        self._cut(cut)
        # one step with a fresh column of tips, as transfer() makes it
        volume = round(volume, 3)
        (well, wells), (to, tos) = self._column(*source), self._column(*destination)
        self._call(self._new_tip(),
                   c.MoveTo(MOUNT, self._point(well, 3.0), well=well),
                   c.Aspirate(MOUNT, volume, 50.0, well, wells),
                   c.MoveTo(MOUNT, self._point(to, 3.0), well=to),
                   c.Dispense(MOUNT, volume, 50.0, to, tos),
                   c.DropTip(MOUNT, *TRASH))

    # A person's or a client's ending comes one pick in eight, the protocol's return one
    # in four: the liquid calls need runs that go on.

    @rule(chance=st.integers(0, 7))
    def stop(self, chance: int) -> None:
        if chance == 0:
            self._act("stop")

    @rule(chance=st.integers(0, 7))
    def abort(self, chance: int) -> None:
        if chance == 0:
            self._act("abort", "changed my mind")

    @rule(chance=st.integers(0, 7))
    def halt(self, chance: int) -> None:
        if chance == 0:
            self._act("halt")

    @precondition(lambda self: self.free())
    @rule(chance=st.integers(0, 3))
    def finish_protocol(self, chance: int) -> None:
        if chance:
            return
        self.r.finish()
        self.finished = True

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def every_contact_is_one_asked_for_in_its_wells(self) -> None:
        """The contacts so far are, in order, those the calls asked for (the last perhaps
        under way, or cut off by the run's end), each in the wells its record names; the
        tips came from where the pick-ups asked, each pressed in at one place."""
        if self.run is None:
            return
        seen = NozzleTrace(self.trace)
        check_contacts(seen.contacts, self.expected, complete=False)
        params = {e["id"]: e["params"] for e in self.r.run.record.events
                  if e["event"] == "command" and e["status"] == "queued"}
        for (_, _, wells), _, command_id in seen.contacts:
            assert command_id is not None, wells
            said = params[command_id]
            assert wells == (said["well"], *said["wells"]), (command_id, said, wells)
        picks = [places for _, places in seen.picks if places]
        assert len(picks) <= len(self.expected_picks), (picks, self.expected_picks)
        for places, asked in zip(picks, self.expected_picks, strict=False):
            assert places == {asked}, (places, asked)

    # -- the end: against the pause-free twin ----------------------------------------

    def pause_free_twin(self) -> tuple[NozzleTrace, dict[str, Any]]:
        """The same protocol calls, run without any pause: what its nozzles did, and its
        summary."""
        trace = self.twin_trace = list[TraceItem]()
        twin = ScriptedRun(self.config, trace=trace)
        try:
            twin.play()
            for commands in self.calls:
                twin.call(*commands, name=commands[0].kind)
            twin.finish()
            assert twin.status().status is Status.SUCCEEDED
            summary = dict(twin.run.record.last or {})
        finally:
            twin.close()
        return NozzleTrace(trace), summary

    def teardown(self) -> None:
        if self.run is not None:
            self.run.close()
            events = read_record(Path(self.tmp.name) / "run.jsonl")
            summary = events[-1]
            assert summary["event"] == "summary" and Status(summary["status"]).is_terminal
            final = summary["status"]
            # The run ends as the twin does, unless a person or a client ended it.
            ended = {e["action"] for e in events if e["event"] == "action"
                     and e["accepted"] and e["action"] in ("stop", "abort", "halt")}
            assert final == "succeeded" or ended or not self.finished, (final, ended)
            seen, (twin, twin_summary) = NozzleTrace(self.trace), self.pause_free_twin()
            complete = final == "succeeded"
            hypothesis.event(f"ended {final}")
            hypothesis.event(f"{min(len(self.calls) // 5 * 5, 20)}+ calls, "
                             f"{min(len(seen.contacts) // 5 * 5, 20)}+ contacts")
            effects = {(e["effect"], params_of(events, e["id"])["type"]) for e in events
                       if e["event"] == "pause_effect" and "id" in e}
            for effect, kind in effects:
                hypothesis.event(f"pause effect: {effect} in {kind}")
            for (_, _, wells), _, _ in seen.contacts:
                hypothesis.event(f"a contact of {len(wells)} tips")
            check_contacts(seen.contacts, [(key, ul) for key, ul, _ in twin.contacts],
                           complete=complete)
            # each at the twin's height, and never lower than the twin anywhere
            for index, (z, their_z) in enumerate(zip(seen.depths, twin.depths, strict=False)):
                assert abs(z - their_z) <= 0.05, (index, seen.contacts[index], z, their_z)
            assert PhysicalTrace(self.config, self.trace).floor_violations(
                PhysicalTrace(self.config, self.twin_trace)) == []
            if complete:
                assert seen.visits == twin.visits
                assert seen.picks == twin.picks and len(seen.picks) == self.taken
                volumes = summary["well_volumes_ul"]
                assert volumes.keys() == twin_summary["well_volumes_ul"].keys()
                for well, volume in volumes.items():
                    assert volume == pytest.approx(twin_summary["well_volumes_ul"][well],
                                                   abs=1e-5), well
                    assert volume == pytest.approx(self.volumes[well], abs=1e-5), well
                assert {w for w, v in self.volumes.items() if abs(v) > 1e-6} <= volumes.keys()
            else:
                assert seen.visits == twin.visits[:len(seen.visits)], (seen.visits,
                                                                       twin.visits)
                picks = [(i, p) for i, p in seen.picks if p]
                assert [p for _, p in picks] == [p for _, p in twin.picks[:len(picks)]]
        self.tmp.cleanup()


def params_of(events: list[dict[str, Any]], command_id: int) -> dict[str, Any]:
    """The ``queued`` event of a command."""
    return next(e for e in events if e["event"] == "command" and e["id"] == command_id
                and e["status"] == "queued")


def check_contacts(mine: Sequence[tuple[Contact, float, Any]],
                   theirs: Sequence[tuple[Contact, float]], *, complete: bool) -> None:
    """``mine`` are ``theirs`` in order (tip, sign, the well of each nozzle with a tip,
    µL): all of them if ``complete``, else the first of them, the last perhaps cut short."""
    if complete:
        assert len(mine) == len(theirs), (mine, theirs)
    assert len(mine) <= len(theirs), (mine, theirs)
    for index, ((key, ul, _), (their_key, their_ul)) in enumerate(
            zip(mine, theirs, strict=False)):
        assert key == their_key, (index, key, their_key)
        if index == len(mine) - 1 and not complete:
            assert abs(ul) <= abs(their_ul) + 1e-3, (index, key, ul, their_ul)
        else:
            assert ul == pytest.approx(their_ul, abs=1e-3), (index, key, ul, their_ul)


# Three times the profile's examples: a run of this machine is short, and its liquid
# calls and interruptions meet in fewer of them than the single channels' do.
MultiChannelMachine.TestCase.settings = settings(
    settings(), max_examples=3 * settings().max_examples, stateful_step_count=50,
    deadline=None)
TestMultiChannelMachine = MultiChannelMachine.TestCase
