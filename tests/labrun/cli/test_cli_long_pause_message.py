"""A very long pause message (100,000 characters from ``ctx.pause``) is shown by its
start and its length on the terminal (the run log and the setup sheet); the record, the
summary and ``--json`` keep it whole."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine.record import read_record
from labrun.cli.main import main

SHOWN = 600  # characters of a message shown

LONG = "Replace the plate in slot 2. " + "x" * 99_971  # 100,000 characters


def test_a_very_long_pause_message_is_shown_by_its_start_and_kept_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(f'''
        metadata = {{"apiLevel": "2.15"}}

        def run(ctx):
            ctx.pause({LONG!r})
            ctx.comment("after")
        '''))
    record = tmp_path / "run.jsonl"
    assert main(["simulate", str(path), "--record", str(record)]) == 0
    out = capsys.readouterr().out
    (line,) = [row for row in out.splitlines() if "Pausing" in row]
    assert line.endswith("… (100,000 characters in all; the run record has the whole message)")
    assert "Replace the plate in slot 2. xxx" in line
    assert len(line) < SHOWN + 120
    assert len(out) < 5_000
    # The record and the summary keep every character.
    events = read_record(record)
    assert [e["message"] for e in events[-1]["pauses"]] == [LONG]
    (pause,) = [e for e in events if e["event"] == "command" and e.get("type") == "waitForResume"
                and e["status"] == "queued"]
    assert pause["params"]["message"] == LONG
    assert main(["simulate", str(path), "--json"]) == 0
    assert [p["message"] for p in json.loads(capsys.readouterr().out)["pauses"]] == [LONG]


def test_a_short_pause_message_is_shown_whole(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    message = "Add the buffer to A1\nthen resume " + "y" * (SHOWN - 40)
    path = tmp_path / "protocol.py"
    path.write_text(f'metadata = {{"apiLevel": "2.15"}}\n\ndef run(ctx):\n'
                    f'    ctx.pause({message!r})\n')
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Pausing: " + message.replace("\n", "\n        ") in out  # under its text
    assert "characters in all" not in out


def test_a_pause_message_that_starts_on_a_blank_line_is_shown_from_its_first_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Written as """\n Take out ...""" and 420 characters long, it was shown as its first
    # line, which is empty: "Pausing: … (420 characters in all; ...)", no instruction.
    message = "\n    Take out the PIXUL plate.\n    Place the new plate on slot 8." + \
        " Then resume." * 25
    path = tmp_path / "protocol.py"
    path.write_text(f'metadata = {{"apiLevel": "2.15"}}\n\ndef run(ctx):\n'
                    f'    ctx.pause({message!r})\n')
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    # its further lines under its first, without the code's indentation
    assert "Pausing: Take out the PIXUL plate.\n        Place the new plate on slot 8." in out
    assert "characters in all" not in out
