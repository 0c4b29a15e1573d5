"""When the run record reaches the disk: every command of a protocol call is written, with
its completion, before the call returns to the protocol (docs/design.md §9: the record lags
the protocol by at most the call in progress). A simulation whose protocol thread drives
the engine loop itself writes a call's commands together, as the loop goes back to wait;
a loop in its own thread writes each command before answering it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.record import RunRecord, read_record
from protocol_api.execute import continue_when_stalled, create_run

PROTOCOL = '''
import json

metadata = {"apiLevel": "2.15"}
RECORD = %r
SEEN = %r


def on_disk():
    """(queued, completed) command ids in the record file now."""
    queued, completed = set(), set()
    with open(RECORD) as lines:
        for line in lines:
            event = json.loads(line)
            if event["event"] != "command":
                continue
            if event["status"] == "queued":
                queued.add(event["id"])
            elif event["status"] == "completed":
                completed.add(event["id"])
    return sorted(queued), sorted(completed)


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    seen = []
    p300.pick_up_tip()
    seen.append(on_disk())
    p300.aspirate(50, plate["A1"])
    seen.append(on_disk())
    p300.dispense(50, plate["B1"])
    seen.append(on_disk())
    with ctx.step("mix twice"):
        p300.mix(2, 20, plate["B1"])
        seen.append(on_disk())
    p300.transfer(30, plate["A1"], plate.wells()[2:40], new_tip="never")
    seen.append(on_disk())
    p300.drop_tip()
    seen.append(on_disk())
    with open(SEEN, "w") as out:
        json.dump(seen, out)
'''


@pytest.mark.parametrize("driven", [True, False], ids=["protocol thread drives", "loop thread"])
def test_a_calls_commands_are_on_disk_completed_when_the_call_returns(
        tmp_path: Path, driven: bool) -> None:
    record, seen = tmp_path / "run.jsonl", tmp_path / "seen.json"
    protocol = tmp_path / "calls.py"
    protocol.write_text(PROTOCOL % (str(record), str(seen)))
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled)
    if not driven:
        run.engine.driver = None  # the loop runs in its own thread, as on a robot
    run.control.play()
    assert run.wait().status.value == "succeeded"
    run.close()
    snapshots = json.loads(seen.read_text())
    growth = [len(completed) for _, completed in snapshots]
    assert growth == sorted(set(growth)) and growth[0] > 0  # every call added commands
    for call, (queued, completed) in enumerate(snapshots):
        assert queued == completed, f"call {call}: queued {queued}, completed {completed}"
    events = read_record(record)
    protocol_ids = {e["id"] for e in events if e["event"] == "command"
                    and e["status"] == "queued" and e.get("origin", "protocol") == "protocol"}
    assert snapshots[-1][1] == sorted(protocol_ids)  # the last call saw all of them


@pytest.mark.parametrize("now", [0.0, 3.862184999, 1e-7, 12345678.1234567, 7, float("nan"),
                                 float("inf")])
def test_a_commands_status_line_is_the_encoders_line(tmp_path: Path, now: float) -> None:
    """``command_status`` writes its line from a template: byte for byte what the encoder
    writes for the same event through ``add``, and strict JSON for any clock reading."""
    from engine.record import RunRecord, json_line

    templated, encoded = tmp_path / "templated.jsonl", tmp_path / "encoded.jsonl"
    fast = RunRecord(templated, clock=lambda: now)
    plain = RunRecord(encoded, clock=lambda: now)
    for status in ("started", "completed", "failed"):
        fast.command_status(41, status, now)
        plain.add("command", id=41, status=status)
        fast.flush()  # a line at a time: none written with another's help
        plain.flush()
    fast.close()
    plain.close()
    assert templated.read_bytes() == encoded.read_bytes()
    lines = templated.read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["started", "completed", "failed"]
    assert all(json_line(event) == line + "\n"
               for event, line in zip(read_record(templated), lines, strict=True))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_that_cannot_take_the_first_line_is_an_error_and_keeps_no_descriptor() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(OSError):
            RunRecord("/dev/full", clock=lambda: 0.0, first={"protocol": "p.py"})
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_record_that_cannot_be_created_is_said_of_the_path_given(tmp_path: Path) -> None:
    """The error named the hidden temporary file the record is first written to."""

    path = tmp_path / "no such folder" / "run.jsonl"
    with pytest.raises(FileNotFoundError) as info:
        RunRecord(path, clock=lambda: 0.0, first={"protocol": "x.py"})
    assert info.value.filename == str(path) and ".tmp" not in str(info.value)
