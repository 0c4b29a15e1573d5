"""``labrun simulate`` builds its ``--json`` document from the run's events as they happen
(``labrun.cli.history``): the same document as one built from a run that kept every
event and command in memory, or from its record read back, whatever pauses and endings
the run went through."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.record import iter_record
from engine.run import Run
from engine.state import Status
from labrun.cli import history
from labrun.cli.history import JSON_SCHEMA_VERSION
from protocol_api.execute import continue_when_stalled, create_run

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    for i in range(3):
        p300.pick_up_tip()
        p300.aspirate(50, plate.wells()[i])
        if i == 1:
            ctx.pause("look")
            ctx.delay(seconds=5)
        p300.dispense(50, plate.wells()[i + 8])
        p300.drop_tip()
    FAIL
'''


def json_document(run: Run) -> dict[str, Any]:
    """The ``--json`` document built from a run that kept every event and command in
    memory: the oracle the streamed document is held to."""
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
        **{name: summary[name] for name in ("modules", "ended_during", "tips_at_end")
           if name in summary},
    }


@pytest.mark.parametrize("fails", [False, True])
def test_the_streamed_json_document_is_the_in_memory_one(tmp_path: Path, fails: bool) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL.replace("FAIL", "1 / 0" if fails else "pass"))
    record = tmp_path / "record.jsonl"
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled)
    run.control.play()
    run.wait(timeout=30)
    run.close()
    out = io.StringIO()
    history.write_json(iter_record(record), out, {"setup": {"x": 1}})
    streamed = json.loads(out.getvalue())
    expected = json.loads(json.dumps(json_document(run), default=str))
    for command in expected["commands"]:  # the record's times are to the microsecond
        for key in ("started_at", "completed_at"):
            if command[key] is not None:
                command[key] = round(command[key], 6)
    assert streamed.pop("setup") == {"x": 1}
    assert streamed == expected
    assert streamed["status"] == ("failed" if fails else "succeeded")
    assert len(streamed["commands"]) == len(run.engine.entries) > 10


def test_a_run_without_commands_is_a_document_too() -> None:
    out = io.StringIO()
    history.write_json([], out)
    assert json.loads(out.getvalue())["commands"] == []


_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
            | st.sampled_from([Status.PAUSED, Path("a/b")]))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text(max_size=3), inner, max_size=4)
                   | st.dictionaries(st.integers() | st.floats() | st.booleans(), inner,
                                     max_size=2)),
    max_leaves=20)


@given(value=_VALUES, depth=st.integers(0, 3))
def test_the_documents_indented_json_is_the_standard_librarys(value: Any, depth: int) -> None:
    """The document's tail (setup sheet, volumes, parks, ...) is written by
    ``history.indented``: byte for byte what ``json.dumps(indent=2)`` writes, nested."""
    expected = json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * depth)
    assert history.indented(value, depth) == expected
