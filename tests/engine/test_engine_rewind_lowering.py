"""A rewound step lowers the tips again where a checkpoint's unpark had left them up.

After a protocol pause the unpark keeps the tips at the safe height over where they were
(docs/design.md §4, ``z_held``); the first command acting in place lowers them. When that
command is reversible (``prepare_to_aspirate``) and an immediate pause cuts it off, the
step is rewound to its checkpoint, which is up there: the lowering must run again with
it, or the next in-place aspirate draws air above the well instead of the liquid in it.
"""

from __future__ import annotations

import pytest
from labrun_testing import P300, P300_RIGHT, TIP_TOP, ScriptedRun
from motion_trace import TraceItem

from engine import commands as c
from engine.actions import Pause
from engine.state import Status
from hardware.config import default_config

PLATE = c.LoadLabware("corning_96_wellplate_360ul_flat", "2", "plate", 14.22)
WELL = (146.88, 74.24, 3.0)  # A1's bottom
TIP_LENGTH = 51.0


def run(pause_in_prepare: bool) -> tuple[list[tuple[float, float]], list[dict[str, object]]]:
    """Tip into A1, blow out there, protocol pause, ``prepare_to_aspirate`` (cut off in
    its plunger move when ``pause_in_prepare``), then an aspirate in place. Returns each
    plunger stroke (nozzle Z, mm of plunger travel) after the pick-up, and the record."""
    trace: list[TraceItem] = []
    scripted = ScriptedRun(default_config(), trace=trace)
    try:
        scripted.play()
        scripted.call(P300)
        scripted.call(PLATE)
        scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", TIP_LENGTH))
        picked = len(trace)
        scripted.call(c.MoveTo("left", WELL, well="2/A1"))
        scripted.call(c.BlowOut("left", 50.0, "2/A1"))  # the plunger past the bottom
        scripted.call(c.WaitForResume("look"))
        assert scripted.status().status is Status.PAUSED
        assert scripted.control.resume().accepted
        scripted.settle()
        if pause_in_prepare:
            # the lowering ends, then the 1 mm plunger move: cut it off 10 ms before its end
            ends = scripted.clock.now() + prepare_duration()
            scripted.clock.call_at(
                ends - 0.01, lambda: scripted.engine.apply(Pause(option="immediate")))
        prepared = scripted.call(c.PrepareToAspirate("left"))
        while not prepared.done.is_set():
            assert scripted.status().status is Status.PAUSED
            assert scripted.control.resume().accepted
            scripted.settle()
        assert prepared.error is None
        scripted.call(c.Aspirate("left", 50.0, 50.0, "2/A1"))
        scripted.finish()
        assert scripted.status().status is Status.SUCCEEDED
        events = scripted.events()
    finally:
        scripted.close()
    strokes = [(round(end["Z"], 3), round(end["B"] - start_["B"], 3))
               for kind, start_, end in trace[picked:]
               if kind == "move" and abs(end["B"] - start_["B"]) > 1e-6]
    return strokes, events


def prepare_duration() -> float:
    """How long the prepare takes, lowering and plunger move (measured on a free run)."""
    global _END
    if _END is None:
        _, events = run(False)
        step = next(e for e in events if e["event"] == "command" and e["status"] == "queued"
                    and e["type"] == "prepareToAspirate")
        times = [float(e["t"]) for e in events if e["event"] == "command"  # type: ignore[arg-type]
                 and e["id"] == step["id"] and e["status"] in ("started", "completed")]
        _END = times[1] - times[0]
    return _END


_END: float | None = None


def test_a_rewound_prepare_to_aspirate_lowers_the_tip_again() -> None:
    free, _ = run(False)
    paused, events = run(True)
    assert any(e["event"] == "pause_effect" and e["effect"] == "rewound" for e in events)
    in_well = WELL[2] + TIP_LENGTH  # the nozzle's Z with the tip end at A1's bottom
    assert {z for z, _ in free} == {in_well}
    # every stroke, the aspirate's included, with the tip in the well as without the pause
    assert {z for z, _ in paused} == {in_well}, paused
    drawn = sum(stroke for _, stroke in paused)
    assert abs(drawn - sum(stroke for _, stroke in free)) < 1e-3


def held_up(scripted: ScriptedRun, cap: float | None = None, *,
            blown_out: bool = False) -> None:
    """A tip into A1, a protocol pause and its resume: the unpark holds the tip up at the
    safe height over A1 (with ``max_speeds`` capping Z at ``cap`` mm/s, if given; with
    the plunger past the bottom, blown out there, if ``blown_out``)."""
    scripted.play()
    scripted.call(P300)
    scripted.call(PLATE)
    scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", TIP_LENGTH))
    if cap is not None:
        scripted.call(c.SetMaxSpeeds((("Z", cap),)))
    scripted.call(c.MoveTo("left", WELL, well="2/A1"))
    if blown_out:
        scripted.call(c.BlowOut("left", 50.0, "2/A1"))
    scripted.call(c.WaitForResume("look"))
    assert scripted.control.resume().accepted
    scripted.settle()


def test_an_aspirate_cut_off_in_its_lowering_is_recorded_as_completed_after_the_pause(
        ) -> None:
    # After a protocol pause the tips wait up at the safe height; the aspirate in place
    # lowers them first. An immediate pause in that lowering cuts off an irreversible
    # command (the step is not rewound): the record says it was completed after the
    # pause, as it says of any command the pause cut off and the resume completed.
    scripted = ScriptedRun(default_config())
    try:
        held_up(scripted)
        scripted.clock.call_at(scripted.clock.now() + 0.05,
                               lambda: scripted.engine.apply(Pause(option="immediate")))
        aspirated = scripted.call(c.Aspirate("left", 50.0, 50.0, "2/A1"))
        while not aspirated.done.is_set():
            assert scripted.status().status is Status.PAUSED
            assert scripted.control.resume().accepted
            scripted.settle()
        assert aspirated.error is None
        scripted.finish()
        assert scripted.status().status is Status.SUCCEEDED
        events = scripted.events()
    finally:
        scripted.close()
    aspirate = next(e["id"] for e in events if e["event"] == "command"
                    and e["status"] == "queued" and e["type"] == "aspirate")
    effects = [(e["effect"], e.get("from_segment")) for e in events
               if e["event"] == "pause_effect" and e["id"] == aspirate]
    assert effects == [("interrupted", None), ("completed after pause", 0)]


def test_a_prepare_to_aspirate_cut_off_in_its_lowering_is_recorded_as_rewound() -> None:
    # The same lowering cut off in a reversible command, alone in its step: the step is
    # rewound to its checkpoint, up there, and the command starts over, lowering the tip
    # again; the record says it was rewound, as it says of every command a rewind runs
    # again, between the unpark back to the checkpoint and its completion.
    scripted = ScriptedRun(default_config())
    try:
        held_up(scripted, blown_out=True)  # the plunger past the bottom
        scripted.clock.call_at(scripted.clock.now() + 0.05,
                               lambda: scripted.engine.apply(Pause(option="immediate")))
        prepared = scripted.call(c.PrepareToAspirate("left"))
        assert scripted.status().status is Status.PAUSED
        assert scripted.control.resume().accepted
        scripted.settle()
        assert prepared.done.is_set() and prepared.error is None
        scripted.finish()
        assert scripted.status().status is Status.SUCCEEDED
        events = scripted.events()
    finally:
        scripted.close()
    prepare = next(e["id"] for e in events if e["event"] == "command"
                   and e["status"] == "queued" and e["type"] == "prepareToAspirate")
    said = [(e["event"], e.get("effect") or e.get("status"), bool(e.get("rewind")))
            for e in events if e["event"] == "unpark" or e.get("id") == prepare]
    assert said[-5:] == [("command", "started", False), ("pause_effect", "interrupted", False),
                         ("unpark", None, True), ("pause_effect", "rewound", False),
                         ("command", "completed", False)]


def lowering_time(cap: float | None) -> float:
    """Seconds an aspirate in place takes after a protocol pause held the tips up, with
    ``max_speeds`` capping Z at ``cap`` mm/s (None: no cap)."""
    scripted = ScriptedRun(default_config())
    try:
        held_up(scripted, cap)
        events = scripted.events()
        unpark = next(e for e in events if e["event"] == "unpark")
        assert unpark["z_held"]
        held = float(unpark["position"]["Z"])  # type: ignore[index]
        scripted.call(c.Aspirate("left", 50.0, 50.0, "2/A1"))
        scripted.finish()
        events = scripted.events()
    finally:
        scripted.close()
    aspirate = next(e["id"] for e in events if e["event"] == "command"
                    and e["status"] == "queued" and e["type"] == "aspirate")
    times = {e["status"]: float(e["t"]) for e in events  # type: ignore[arg-type]
             if e["event"] == "command" and e["id"] == aspirate}
    drop = held - (WELL[2] + TIP_LENGTH)
    if cap is not None:  # the lowering alone, at the cap, takes at least this
        assert times["completed"] - times["started"] >= drop / cap
    return times["completed"] - times["started"]


def test_the_lowering_after_a_checkpoint_keeps_to_the_protocols_max_speeds() -> None:
    # max_speeds is obeyed by every later move: the lowering an in-place command makes
    # first (the unpark held the tips up) is that command's move too.
    assert lowering_time(5.0) > lowering_time(None) + 10


@pytest.mark.parametrize("right_used", [False, True], ids=["right idle", "right used before"])
def test_a_home_that_moves_neither_the_gantry_nor_the_held_tip_keeps_the_lowering(
        right_used: bool) -> None:
    # Found by a red-team run: after a protocol pause held the left tip up over A1, a home
    # of the right mount (or of a plunger) dropped the lowering, as if it went elsewhere,
    # and the next aspirate in place drew air ~130 mm above the liquid it was recorded
    # drawing from. A right pipette used before stands at its travel height, which the
    # unpark lifted too: its home takes its own axis out of the lowering, not the left's.
    # A home of the gantry still ends it: the tip is no longer over A1.
    def aspirate_height(home: tuple[str, ...], pause: bool = True) -> float:
        trace: list[TraceItem] = []
        scripted = ScriptedRun(default_config(), trace=trace)
        try:
            scripted.play()
            scripted.call(P300)
            scripted.call(PLATE)
            if right_used:
                scripted.call(P300_RIGHT)
                scripted.call(c.PickUpTip("right", (14.38, 65.24, 64.69), "1/B1", TIP_LENGTH))
                scripted.call(c.MoveTo("right", (155.88, 74.24, 3.0), well="2/A2"))
            scripted.call(c.PickUpTip("left", TIP_TOP, "1/A1", TIP_LENGTH))
            scripted.call(c.MoveTo("left", WELL, well="2/A1"))
            scripted.call(c.PrepareToAspirate("left"))
            if pause:
                scripted.call(c.WaitForResume("look"))
                assert scripted.control.resume().accepted
                scripted.settle()
            scripted.call(c.Home(axes=home))
            if "X" in home:
                scripted.call(c.MoveTo("left", WELL, well="2/A1"))
            before = len(trace)
            scripted.call(c.Aspirate("left", 50.0, 50.0, "2/A1"))
            aspirate = trace[before:]
            scripted.finish()
            assert scripted.status().status is Status.SUCCEEDED
        finally:
            scripted.close()
        strokes = [end["Z"] for kind, start_, end in aspirate  # (after a plunger's home,
                   if kind == "move" and abs(end["B"] - start_["B"]) > 1e-6]  # readied first)
        return float(strokes[-1])

    in_a1 = aspirate_height(("C",), pause=False)
    assert aspirate_height(("X", "Y")) == in_a1  # homed away, sent back to A1 by the protocol
    for home in (("A", "C"), ("C",), ("B",)):
        assert aspirate_height(home) == in_a1, home


@pytest.mark.parametrize("refused", [
    c.Aspirate("left", 50.0, 1e-300, "2/A1"),  # too slow for the controller
    c.Aspirate("left", 400.0, 50.0, "2/A1"),   # more than the pipette holds
], ids=["too slow", "too much"])
def test_a_command_refused_after_a_checkpoint_does_not_lower_the_held_tip_first(
        refused: c.Command) -> None:
    # After a protocol pause the unpark holds the tip up over A1. An in-place command
    # the engine refuses (its plan fails) used to lower the tip into the well first,
    # then fail: the run ended with the tip in the liquid. It is planned, as from the
    # lowered height, before anything moves.
    trace: list[TraceItem] = []
    scripted = ScriptedRun(default_config(), trace=trace)
    try:
        held_up(scripted)
        here = scripted.engine.model.position
        held, over = here["Z"], (here["X"], here["Y"])
        assert held > WELL[2] + TIP_LENGTH + 10  # up, above the well
        resumed = len(trace)
        outcome = scripted.call(refused)
        assert outcome.error is not None
        assert scripted.status().status is Status.FAILED
    finally:
        scripted.close()
    lowered = [end["Z"] for kind, _, end in trace[resumed:]  # (the cleanup's drop
               if kind == "move" and (end["X"], end["Y"]) == over  # in the trash is not)
               and end["Z"] < held - 1e-6]
    assert lowered == []  # nothing went down into A1
