"""Engine throughput on the simulated robot, against the bare thread-handoff cost."""

from __future__ import annotations

import asyncio
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


def engine_run(protocol: Path, record: Path | None = None) -> tuple[float, int]:
    """Seconds from play to the end, and the number of commands."""
    run = create_run(protocol, record_path=record, on_stalled=continue_when_stalled)
    start = time.perf_counter()
    run.control.play()
    status = run.wait()
    elapsed = time.perf_counter() - start
    run.close()
    assert status.status.value == "succeeded", status
    return elapsed, len(run.engine.entries)


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
        memory, disk, bare = [], [], []
        commands = 0
        for i in range(repeats):
            seconds, commands = engine_run(protocol)
            memory.append(commands / seconds)
            seconds, commands = engine_run(protocol, Path(tmp) / f"record{i}.jsonl")
            disk.append(commands / seconds)
            bare.append(commands / bare_handoff(commands))
    base = statistics.median(bare)
    in_memory, to_disk = statistics.median(memory), statistics.median(disk)
    return [
        (f"engine throughput, {commands} commands", f"{in_memory:,.0f} cmd/s",
         f"bare handoff {base:,.0f} /s", f"{in_memory / base:.2f}"),
        ("  the same, run record written to disk", f"{to_disk:,.0f} cmd/s",
         f"bare handoff {base:,.0f} /s", f"{to_disk / base:.2f}"),
    ]
