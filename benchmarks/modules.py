"""Hardware modules: estimated durations against a hand calculation, and simulate wall time.

Run ``python benchmarks/modules.py``. Two protocols:

- a thermocycler PCR (lid to 105 °C, 3 min at 95 °C, 30 cycles of 95/60/72 °C, a final
  extension, a hold at 4 °C);
- the magnetic-bead clean-up of ``examples/bead_cleanup.py``.

For each, the time its module calls and delays take in the simulation is printed beside
the same time worked out by hand from the rates in ``hardware/modules/physics.py`` (the
formulas are written out here again, independently of the simulated modules), with the
whole estimated duration and the wall time of simulating it (median of 5).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import commands as c
from engine.run import Run
from hardware.modules import physics
from protocol_api.execute import continue_when_stalled, create_run

ROOT = Path(__file__).resolve().parent.parent
CYCLES = 30

PCR = f'''
metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    tc = ctx.load_module("thermocycler module gen2")
    plate = tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    mix = ctx.load_labware("nest_12_reservoir_15ml", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 3)
    p20 = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[tips])
    tc.open_lid()
    p20.transfer(10, mix["A1"], plate.columns()[0], new_tip="always")
    tc.set_lid_temperature(105)
    tc.close_lid()
    tc.set_block_temperature(95, hold_time_minutes=3, block_max_volume=20)
    tc.execute_profile([{{"temperature": 95, "hold_time_seconds": 15}},
                        {{"temperature": 60, "hold_time_seconds": 30}},
                        {{"temperature": 72, "hold_time_seconds": 30}}],
                       repetitions={CYCLES}, block_max_volume=20)
    tc.set_block_temperature(72, hold_time_minutes=5, block_max_volume=20)
    tc.set_block_temperature(4, block_max_volume=20)
    tc.open_lid()
    tc.deactivate_lid()
'''


def pcr_by_hand() -> float:
    """The PCR's module time, from the rates."""
    block, lid = physics.THERMOCYCLER_BLOCK, physics.THERMOCYCLER_LID
    heat, cool = block.heat_c_per_s, block.cool_c_per_s
    ambient = physics.AMBIENT_C
    cycle = (95 - 72) / heat + 15 + (95 - 60) / cool + 30 + (72 - 60) / heat + 30
    first_cycle = cycle - (95 - 72) / heat  # it starts at 95 °C
    return (physics.LID_TRAVEL_S  # the lid starts open: it only closes
            + (105 - ambient) / lid.heat_c_per_s
            + (95 - ambient) / heat + 180
            + first_cycle + (CYCLES - 1) * cycle
            + 300  # at 72 °C already: the final extension is its hold
            + (72 - 4) / cool
            + physics.LID_TRAVEL_S)


def cleanup_by_hand() -> float:
    """The bead clean-up's module time and delays, from the rates: the cold block
    reaches 4 °C while the beads bind, so only the delays and the magnets count."""
    delays = (5 + 2 + 0.5 + 0.5 + 3 + 2 + 1) * 60
    magnets = 4 * 12.5 / physics.MAGNET_SPEED_MM_S  # 4 moves of 12.5 mm
    return delays + magnets


def simulate(path: Path) -> tuple[Run, float]:
    run = create_run(path, on_stalled=continue_when_stalled)
    start = time.perf_counter()
    run.control.play(source="benchmark")
    status = run.wait(timeout=600)
    wall = time.perf_counter() - start
    run.close()
    assert status.status.value == "succeeded", status
    return run, wall


def timed(run: Run) -> float:
    """Seconds of the run spent in module calls and delays."""
    total = 0.0
    for entry in run.engine.entries:
        if isinstance(entry.command, (c.LoadModule, c.ModuleCommand, c.Delay)):
            assert entry.started_at is not None and entry.completed_at is not None
            total += entry.completed_at - entry.started_at
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pcr = Path(tmp) / "pcr.py"
        pcr.write_text(PCR)
        cases = [("thermocycler PCR", pcr, pcr_by_hand()),
                 ("bead clean-up", ROOT / "examples" / "bead_cleanup.py", cleanup_by_hand())]
        print(f"{'protocol':<18}{'modules+delays':>16}{'by hand':>10}{'estimated':>11}"
              f"{'simulate wall':>15}")
        for name, path, by_hand in cases:
            runs = [simulate(path) for _ in range(5)]
            run = runs[0][0]
            duration = run.record.events[-1]["duration_s"]
            wall = statistics.median(w for _, w in runs)
            print(f"{name:<18}{timed(run):>14.1f} s{by_hand:>8.1f} s{duration:>9.1f} s"
                  f"{wall:>13.3f} s")


if __name__ == "__main__":
    main()
