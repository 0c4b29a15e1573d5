"""labrun's figures: run ``python benchmarks/run.py [--quick]`` and read the table.

Machines are noisy: every figure is the median of several runs, printed beside a
baseline measured in the same run, with the ratio between them.

- engine throughput: commands per second simulating a generated protocol of >= 10,000
  commands, against the bare cost of handing a call to another thread's event loop;
- ``labrun simulate`` as a whole process on a 96-transfer protocol (a new tip per
  transfer, a pause and a 30 s delay half-way): wall time and peak RSS, beside
  ``python -c pass``;
- pauses: real-time engine overhead of an immediate pause (request to motion stopped),
  a deferred pause once its checkpoint is reached, resume to the next command started,
  and throughput with a pause and resume every 100 commands.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gcode_latency
import pause_latency
import remote_latency
import throughput
from protocols import PROTOCOL_96

ROOT = Path(__file__).resolve().parent.parent



LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def process(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process.

    Started from a small launcher: Linux keeps a process's memory high-water mark
    across exec, so a child forked straight from this (large) process would report
    this process's pages as its own.
    """
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], check=True,
                         capture_output=True, text=True).stdout.split()
    wall, rss_kb, code = float(out[0]), int(out[1]), int(out[2])
    if code != 0:
        raise RuntimeError(f"{argv} exited with {code}")
    return wall, rss_kb / 1024.0


def simulate_process(repeats: int) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        protocol = Path(tmp) / "transfer_96.py"
        protocol.write_text(PROTOCOL_96)
        simulate = [sys.executable, "-m", "labrun.cli.main", "simulate", str(protocol)]
        baseline = [sys.executable, "-c", "pass"]
        runs = [(process(simulate), process(baseline)) for _ in range(repeats)]
    wall = statistics.median(r[0][0] for r in runs)
    rss = statistics.median(r[0][1] for r in runs)
    base_wall = statistics.median(r[1][0] for r in runs)
    base_rss = statistics.median(r[1][1] for r in runs)
    return [
        ("labrun simulate, 96 transfers: wall", f"{wall:.3f} s",
         f"python -c pass {base_wall:.3f} s", f"{wall / base_wall:.1f}x"),
        ("labrun simulate, 96 transfers: peak RSS", f"{rss:.1f} MB",
         f"python -c pass {base_rss:.1f} MB", f"{rss / base_rss:.1f}x"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    os.chdir(ROOT)
    rows: list[tuple[str, str, str, str]] = []
    rows += throughput.figures(repeats)
    rows += simulate_process(repeats)
    rows += pause_latency.figures(repeats)
    rows += remote_latency.figures(repeats)
    rows += gcode_latency.figures(repeats)
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    header = (f"figure (median of {repeats})", "value", "baseline (same run)", "ratio")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)))
    print("  ".join("-" * w for w in width))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))


if __name__ == "__main__":
    main()
