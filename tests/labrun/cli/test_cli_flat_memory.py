"""simulate's text log in flat memory: the same lines as from a run kept in memory, with
nothing held once handed out."""

from __future__ import annotations

import contextlib
import io
import os
import tracemalloc
from pathlib import Path

from engine.record import iter_record
from labrun.cli.history import Spool
from labrun.cli.main import main
from labrun.cli.report import TextLog, text_log
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
    return lines + log.finish(), log


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


def test_one_call_of_many_commands_runs_in_flat_memory(tmp_path: Path) -> None:
    # A transfer of litres is one step and one call of a million commands: neither the
    # engine (to rewind the step) nor the log (to name the call's wells) keeps them all.
    # (The --json document keeps its first MB in memory, then spools to a file: both
    # sizes are past that.)
    for options in ((), ("--json",)):
        short = _peak_bytes(tmp_path, 1000, *options)
        long = _peak_bytes(tmp_path, 2000, *options)  # 5,700 commands more
        assert long - short < 500_000, (options, short, long)
