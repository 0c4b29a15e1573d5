"""Reading a run record back (``iter_record``): strict JSON, a cut last line skipped, and
the cost of a line flat: one decoder for the whole file, not one a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.record import iter_record, read_record


def write_record(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_reading_a_long_record_makes_no_decoder_a_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    events = [{"seq": i, "t": i / 10, "event": "command", "id": i, "status": "queued",
               "params": {"volume": 20.0, "well": f"1/A{i % 12 + 1}"}} for i in range(500)]
    write_record(path, [json.dumps(e) for e in events])
    made: list[object] = []
    real_init = json.JSONDecoder.__init__

    def counting_init(self: json.JSONDecoder, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json.JSONDecoder, "__init__", counting_init)
    assert list(iter_record(path)) == events
    assert len(made) <= 1  # was 500: json.loads with parse_constant builds one each call


def test_the_reader_stays_strict_and_skips_only_a_cut_last_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    write_record(path, ['{"seq": 0, "event": "run"}', '{"seq": 1, "event": "stat'])
    assert read_record(path) == [{"seq": 0, "event": "run"}]
    write_record(path, ['{"seq": 0, "t": NaN}', '{"seq": 1}'])
    with pytest.raises(ValueError, match=r"run\.jsonl:1: not a JSON record line"):
        read_record(path)
    write_record(path, ['{"seq": 0}', '{"seq": 1, "t": Infinity}'])
    assert read_record(path) == [{"seq": 0}]  # a last line that is not JSON counts as cut
