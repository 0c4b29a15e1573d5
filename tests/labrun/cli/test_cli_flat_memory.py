"""simulate's text log in flat memory: the same lines as from a run kept in memory, with
nothing held once handed out."""

from __future__ import annotations

import contextlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from engine.record import iter_record
from labrun.cli import report
from labrun.cli.main import main
from labrun.cli.report import TextLog, text_log
from labrun.cli.spool import Spool
from protocol_api.execute import continue_when_stalled, create_run

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    for i in range(60):
        p300.aspirate(20, plate.wells()[i % 96])
        p300.dispense(20, plate.wells()[(i + 1) % 96])
        if i == 30:
            with ctx.step("mix twice"):
                p300.mix(2, 50, plate["A1"])
    p300.drop_tip()
'''


def _run(tmp_path: Path, keep: bool, verbosity: int) -> tuple[list[str], TextLog]:
    protocol = tmp_path / "calls.py"
    protocol.write_text(PROTOCOL)
    record = tmp_path / f"record_{keep}.jsonl"
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled,
                     keep_history=keep)
    run.control.play()
    run.wait(30)
    run.close()
    if keep:
        return text_log(run, verbosity), TextLog()
    log = TextLog(verbosity, step_words=False)
    lines: list[str] = []
    for event in iter_record(record):
        lines += log.feed(event)
        assert len(log.lines) <= 12  # at most the open call (with -vv, its commands)
    return [*lines, *log.finish()], log


def test_the_streamed_log_is_the_whole_log_and_keeps_nothing(tmp_path: Path) -> None:
    for verbosity in (0, 2):
        whole, _ = _run(tmp_path, True, verbosity)
        streamed, log = _run(tmp_path, False, verbosity)
        assert streamed == whole
        assert len(whole) > 120
        assert log.lines == [] and log.step_words == {}


def test_a_spool_keeps_a_bounded_part_in_memory_and_gives_back_everything_in_order(
        ) -> None:
    pieces = [f"line {i}\n" for i in range(1000)]
    spool = Spool(limit=100)
    for piece in pieces:
        spool.write(piece)
        assert spool.in_memory <= 100  # past the limit, everything goes to a file
    out = io.StringIO()
    spool.copy_to(out)
    assert out.getvalue() == "".join(pieces)
    small = Spool()
    small.write("a\n")
    small.write("b\n")
    assert small.in_memory == 4
    out = io.StringIO()
    small.copy_to(out)
    assert out.getvalue() == "a\nb\n"


def test_a_spool_gives_back_its_lines_as_written_from_memory_or_its_file() -> None:
    lines = [f"line {i}" for i in range(300)] + ["a \r in a comment", "", "last"]
    for limit in (1 << 20, 100, 0):
        spool = Spool(limit=limit)
        for line in lines:
            spool.write(line + "\n")
        assert list(spool.lines()) == lines, limit
        spool = Spool(limit=limit)
        spool.write("".join(line + "\n" for line in lines))
        out = io.StringIO()
        spool.copy_to(out)
        assert out.getvalue().split("\n")[:-1] == lines, limit  # the "\r" stays a "\r"


LONG_CALL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(%d, plate["A1"], plate["A2"], new_tip="once")
'''


def _peak_bytes(tmp_path: Path, parts: int, *options: str) -> int:
    """Peak memory Python allocated while ``labrun simulate`` ran one transfer of
    ``parts`` tipfuls (each an aspirate, a dispense and their moves)."""
    protocol = tmp_path / f"transfer_{parts}.py"
    protocol.write_text(LONG_CALL % (300 * parts))
    with open(os.devnull, "w") as out, contextlib.redirect_stdout(out):
        tracemalloc.start()
        try:
            assert main(["simulate", str(protocol), *options]) == 0
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_one_call_of_many_commands_runs_in_flat_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A transfer of litres is one step and one call of a million commands: neither the
    # engine (to rewind the step) nor the log (to name the call's wells, and with -v to
    # put its commands under it) keeps them all. (The --json document and the log keep
    # their first MB in memory, then spool to a file, and -v keeps HOLD lines under the
    # call: here less, so that both sizes are past that.)
    monkeypatch.setattr(Spool, "MEMORY", 50_000)
    monkeypatch.setattr(report, "HOLD", 500)
    for options in ((), ("--json",), ("-v",)):
        short = _peak_bytes(tmp_path, 1000, *options)
        long = _peak_bytes(tmp_path, 2000, *options)  # 5,700 commands more
        assert long - short < 500_000, (options, short, long)


MANY_IN_ONE_CALL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(300 * 12, plate["A1"], plate["A2"], new_tip="once")
    with ctx.step("two transfers"):
        p300.transfer(300 * 5, plate["A3"], plate["A4"])
        p300.transfer(50, plate["A5"], plate.columns()[6])
    ctx.comment("done")
'''


def test_the_lines_under_a_long_call_wait_in_a_spool_and_come_out_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = tmp_path / "many.py"
    protocol.write_text(MANY_IN_ONE_CALL)
    record = tmp_path / "many.jsonl"
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled)
    run.control.play()
    run.wait(30)
    run.close()
    whole = text_log(run, 1)  # every line in memory
    assert len(whole) > 80
    monkeypatch.setattr(report, "HOLD", 7)
    log = TextLog(1, step_words=False)
    streamed: list[str] = []
    for event in iter_record(record):
        streamed += log.feed(event)
        assert len(log.lines) <= 8  # the open call and at most HOLD of its lines
    assert [*streamed, *log.finish()] == whole
