"""Engine throughput on the simulated robot, against the bare thread-handoff cost."""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import threading
import time
from pathlib import Path

from protocol_api.execute import continue_when_stalled, create_run

N_CYCLES = 2500  # x (move, aspirate, move, dispense) = 10,000 commands, plus tips

GENERATED = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    racks = [ctx.load_labware("opentrons_96_tiprack_300ul", slot) for slot in (1, 4, 7)]
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=racks)
    wells = plate.wells()
    p300.pick_up_tip()
    for i in range(%d):
        if i %% 100 == 99:
            p300.drop_tip()
            p300.pick_up_tip()
        p300.aspirate(20, wells[i %% 96])
        p300.dispense(20, wells[(i + 1) %% 96])
    p300.drop_tip()
'''


def engine_run(protocol: Path, record: Path | None = None, *,
               history: bool = False) -> tuple[float, int]:
    """Seconds from play to the end, and the number of commands.

    As ``labrun simulate`` runs a protocol: no history kept (the record is written, not
    held) and what loading made frozen out of the garbage collector's way; ``history``
    keeps every event and command in memory instead, as an embedding script's run does.
    """
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled,
                     keep_history=history)
    if not history:
        gc.freeze()
    try:
        start = time.perf_counter()
        run.control.play()
        status = run.wait()
        elapsed = time.perf_counter() - start
        run.close()
    finally:
        gc.unfreeze()
    assert status.status.value == "succeeded", status
    last = run.engine.book.last
    return elapsed, 0 if last is None else last.id + 1


def bare_handoff(n: int) -> float:
    """Seconds for ``n`` thread -> event loop -> thread round trips doing nothing."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    start = time.perf_counter()
    for _ in range(n):
        lock = threading.Lock()
        lock.acquire()
        loop.call_soon_threadsafe(lock.release)
        lock.acquire()
    elapsed = time.perf_counter() - start
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
    return elapsed


def figures(repeats: int) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        protocol = Path(tmp) / "generated.py"
        protocol.write_text(GENERATED % N_CYCLES)
        engine_run(protocol)  # warm up imports and caches
        unrecorded, disk, kept, bare = [], [], [], []
        commands = 0
        for i in range(repeats):
            seconds, commands = engine_run(protocol)
            unrecorded.append(commands / seconds)
            seconds, commands = engine_run(protocol, Path(tmp) / f"record{i}.jsonl")
            disk.append(commands / seconds)
            seconds, commands = engine_run(protocol, Path(tmp) / f"kept{i}.jsonl", history=True)
            kept.append(commands / seconds)
            bare.append(commands / bare_handoff(commands))
    base = statistics.median(bare)
    rows = [(f"engine throughput, {commands} commands, no record", statistics.median(unrecorded)),
            ("  the same, run record written to disk", statistics.median(disk)),
            ("  the same, every event and command also kept in memory", statistics.median(kept))]
    return [(name, f"{rate:,.0f} cmd/s", f"bare handoff {base:,.0f} /s", f"{rate / base:.2f}")
            for name, rate in rows]
