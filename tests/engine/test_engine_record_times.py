"""The time on each event of the run record: the run clock's reading when the event was
added, rounded to a microsecond, in memory and in the file alike."""

from __future__ import annotations

from pathlib import Path

from engine.record import RunRecord, read_record


def test_every_event_carries_the_clock_reading_of_its_own_moment(tmp_path: Path) -> None:
    readings = iter([0.0, 0.1234567, 0.1234567, 2.0000004, 2.0000004, 0.1234567, 7.5])
    path = tmp_path / "run.jsonl"
    record = RunRecord(path, clock=lambda: next(readings), first={"protocol": "p.py"})
    for i in range(6):
        record.add("command", id=i, status="started")
    record.close()
    expected = [0.0, 0.123457, 0.123457, 2.0, 2.0, 0.123457, 7.5]
    assert [event["t"] for event in record.events] == expected
    assert [event["t"] for event in read_record(path)] == expected
