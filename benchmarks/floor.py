"""Simulation at the floor (issue 15): start-up, per-command cost, whole runs, memory.

Run ``python benchmarks/floor.py [--quick] [--max-calls N]``. Every figure is a median,
printed beside a baseline measured in the same run:

- start-up: CPU and wall time of ``labrun simulate`` on a one-line protocol, ``labrun
  --help`` and ``labrun --version``, each beside ``python -c pass`` (targets: simulate
  within 80 ms of it, help and version within 50 ms), and ``python -S -c pass``: the
  interpreter without the environment's ``.pth`` files, which an editable install's
  import finder makes dearer;
- commands per second on the generated 10k-command protocol with the run record written
  (target >= 60,000), run as ``labrun simulate --record`` runs it (no history kept in
  memory, what loading made frozen out of the garbage collector's way) and as an
  embedding script's run keeps every event and command; with the CPU per command of
  both threads beside the bare thread-handoff round trip, the time that encoding and
  writing the run record alone takes a command (what no design of the engine removes
  while the record is written), the time the run's own writes of the record take (one
  a protocol call, so that a killed run's record says where it was; each several times
  dearer in the run than in a loop), what the protocol API alone takes (every command
  answered at once, with no engine behind it), and the Python calls per command (a count, unlike the
  times the same on a busy machine), in all and by layer;
- the 96-transfer protocol as a whole process (target <= 0.15 s);
- per-call cost (wall, in process, no history kept) at 1k, 10k, 100k and 1M calls, up to
  ``--max-calls``, of a loop, and at 1k, 10k and 100k calls written out one a line (a
  protocol generated call by call), each beside the loop's at 1k;
- peak RSS of ``labrun simulate`` on the largest protocol, plain, ``--json`` and
  ``--record`` (target < 120 MB at a million calls), and on one call of as many
  commands (a transfer of litres: one step), plain, ``--json`` and ``-v``.

Child processes run with bytecode caching on (as an installed labrun does), whatever
``PYTHONDONTWRITEBYTECODE`` says here, after one warm-up run that writes the caches.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput
from protocols import PROTOCOL_96

from engine.channel import CommandChannel
from engine.record import json_line, read_record
from protocol_api.execute import continue_when_stalled, create_run

TRIVIAL = 'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n    ctx.comment("hello")\n'

CALLS = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    wells = plate.wells()
    p300.pick_up_tip()
    for i in range(%d):
        p300.aspirate(20, wells[i %% 96])
        p300.dispense(20, wells[(i + 1) %% 96])
    p300.drop_tip()
'''
"""``2 n + 2`` protocol calls after the set-up (each call a move and a liquid command)."""

LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
      os.waitstatus_to_exitcode(status))
"""


Row = tuple[str, str, str, str]


def measure(argv: list[str], cwd: Path | None = None) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS (MB) and exit code of one child process
    (through a small launcher: Linux keeps the high-water mark across exec)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], check=True, env=env,
                         cwd=cwd, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]) / 1024.0, int(out[3])


def process(argv: list[str]) -> tuple[float, float, float]:
    """``measure`` of a child process that must succeed."""
    wall, cpu, rss, code = measure(argv)
    if code != 0:
        raise RuntimeError(f"{argv} exited with {code}")
    return wall, cpu, rss


def labrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "labrun.cli.main", *args]


def startup(tmp: Path, repeats: int) -> list[Row]:
    trivial = tmp / "trivial.py"
    trivial.write_text(TRIVIAL)
    cases = {"simulate trivial": labrun("simulate", str(trivial)),
             "--help": labrun("--help"), "--version": labrun("--version")}
    base = [sys.executable, "-c", "pass"]
    for argv in cases.values():
        process(argv)  # bytecode caches written
    rows: list[Row] = []
    for name, argv in cases.items():
        runs = [(process(argv), process(base)) for _ in range(repeats)]
        cpu = statistics.median(r[0][1] for r in runs)
        base_cpu = statistics.median(r[1][1] for r in runs)
        wall = statistics.median(r[0][0] for r in runs)
        base_wall = statistics.median(r[1][0] for r in runs)
        extra = statistics.median(r[0][1] - r[1][1] for r in runs)
        rows.append((f"labrun {name}: CPU", f"{cpu * 1000:.0f} ms",
                     f"python -c pass {base_cpu * 1000:.0f} ms", f"+{extra * 1000:.0f} ms"))
        rows.append((f"labrun {name}: wall", f"{wall * 1000:.0f} ms",
                     f"python -c pass {base_wall * 1000:.0f} ms",
                     f"+{(wall - base_wall) * 1000:.0f} ms"))
    # The baseline pays for the site packages' .pth files: an editable install's import
    # finder (setuptools) imports pathlib and re in every process of the environment.
    bare = [(process([sys.executable, "-S", "-c", "pass"]), process(base))
            for _ in range(repeats)]
    rows.append(("python -S -c pass (no site packages): wall",
                 f"{statistics.median(r[0][0] for r in bare) * 1000:.0f} ms",
                 f"python -c pass {statistics.median(r[1][0] for r in bare) * 1000:.0f} ms", ""))
    return rows


def commands(tmp: Path, repeats: int) -> list[Row]:
    protocol = tmp / "generated.py"
    protocol.write_text(throughput.GENERATED % throughput.N_CYCLES)
    throughput.engine_run(protocol)
    rates, kept, cpus, bare = [], [], [], []
    n = 0
    records = [tmp / f"record{i}.jsonl" for i in range(repeats)]
    for record in records:
        cpu = time.process_time()
        seconds, n = throughput.engine_run(protocol, record)
        cpus.append((time.process_time() - cpu) / n)
        rates.append(n / seconds)
        seconds, n = throughput.engine_run(protocol, record, history=True)
        kept.append(n / seconds)
        bare.append(throughput.bare_handoff(n) / n)
    rate, cpu, floor = statistics.median(rates), statistics.median(cpus), statistics.median(bare)
    rate_kept = statistics.median(kept)
    writing = statistics.median(record_writing(records[0], tmp / "copy.jsonl") / n
                                for _ in range(repeats))
    api = statistics.median(protocol_api_alone(protocol) / n for _ in range(repeats))
    in_run = [writes_in_the_run(protocol, tmp / "timed.jsonl") for _ in range(repeats)]
    writes = statistics.median(seconds for seconds, _ in in_run) / n
    syscall = statistics.median(each for _, each in in_run)
    looped = statistics.median(write_in_a_loop(tmp / "looped.bin") for _ in range(repeats))
    return [(f"{n} commands, record written", f"{rate:,.0f} cmd/s",
             f"bare handoff {1 / floor:,.0f} /s", f"{rate * floor:.2f}"),
            ("  the same, every event and command also kept in memory", f"{rate_kept:,.0f} cmd/s",
             f"bare handoff {1 / floor:,.0f} /s", f"{rate_kept * floor:.2f}"),
            ("  CPU per command (both threads)", f"{cpu * 1e6:.1f} us",
             f"handoff round trip {floor * 1e6:.1f} us", f"{cpu / floor:.1f}x"),
            ("  writing the record alone, per command", f"{writing * 1e6:.1f} us",
             f"at most {1 / writing:,.0f} cmd/s", f"{writing / cpu:.0%} of the CPU"),
            ("  the protocol API alone, per command", f"{api * 1e6:.1f} us",
             f"with the record: at most {1 / (api + writing):,.0f} cmd/s",
             f"{api / cpu:.0%} of the CPU"),
            ("  the record's writes in the run (one a protocol call), per command",
             f"{writes * 1e6:.1f} us",
             f"with them: at most {1 / (api + writing + writes):,.0f} cmd/s",
             f"{writes / cpu:.0%} of the CPU"),
            ("  one write of the record in the run (mean)", f"{syscall * 1e6:.1f} us",
             f"the same write in a loop {looped * 1e6:.1f} us", f"{syscall / looped:.1f}x"),
            *python_calls(protocol, tmp / "counted.jsonl")]


def protocol_api_alone(protocol: Path) -> float:
    """Seconds of the protocol's run (``throughput.engine_run``) with every command
    answered at once and empty, no engine behind the channel: what the protocol API costs
    (its checks, locations and steps), which no engine design removes. The generated
    protocol reads no result."""
    real = CommandChannel.execute_all

    def answered(self: CommandChannel, batch: Sequence[object]) -> Iterator[dict[str, Any]]:
        return iter([{} for _ in batch])

    CommandChannel.execute_all = answered  # type: ignore[method-assign]
    try:
        return throughput.engine_run(protocol)[0]
    finally:
        CommandChannel.execute_all = real  # type: ignore[method-assign]


def record_writing(record: Path, copy: Path) -> float:
    """Seconds to encode a run's record events as JSON lines and write them, nothing else:
    the part of a command's cost that no engine design removes while the record is written
    (three or four events a command, each a line of JSON)."""
    events = read_record(record)
    start = time.perf_counter()
    with copy.open("w") as out:
        out.write("".join([json_line(event) for event in events]))
    return time.perf_counter() - start


def writes_in_the_run(protocol: Path, record: Path) -> tuple[float, float]:
    """Seconds spent in ``os.write`` during ``throughput.engine_run`` with the record
    written (the run's only writes: one a protocol call, which a record that says where a
    killed run was requires), and the mean of one. Between writes the engine's work
    has pushed the kernel's write path out of the caches, so a write costs several times
    what the same write costs in a loop (``write_in_a_loop``)."""
    real = os.write
    each: list[float] = []

    def timed(fd: int, data: Any) -> int:
        start = time.perf_counter()
        try:
            return real(fd, data)
        finally:
            each.append(time.perf_counter() - start)

    os.write = timed
    try:
        throughput.engine_run(protocol, record)
    finally:
        os.write = real
    return sum(each), sum(each) / len(each)


def write_in_a_loop(path: Path, size: int = 925, count: int = 5000) -> float:
    """Seconds one append of ``size`` bytes (a protocol call's record lines) takes when
    nothing else runs between the writes."""
    data = b"x" * size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, data)
        return (time.perf_counter() - start) / count
    finally:
        os.close(fd)


LAYERS = (
    ("protocol API: checks, locations, steps", ("protocol_api/",)),
    ("engine loop: bridge, runtime, scopes, state",
     ("engine/engine.py", "engine/bridge.py", "engine/channel.py", "engine/inbox.py",
      "engine/run.py", "engine/pausing.py", "engine/ending.py", "engine/waits.py",
      "engine/reducer.py", "engine/state.py", "engine/modules.py", "hardware/aio.py",
      "hardware/wakeup.py")),
    ("commands: plans, robot model", ("engine/commands/", "engine/robot_model.py",
                                      "engine/segments.py")),
    ("book and run record", ("engine/book.py", "engine/record.py", "engine/summary.py",
                             "engine/entries.py")),
    ("simulated robot: limits, kinematics, clock",
     ("hardware/simulated.py", "hardware/kinematics.py", "hardware/clock.py",
      "hardware/config.py")),
)
"""Where a command's Python calls go, by the code they run (first match wins)."""
OTHER = "other: frozen values, standard library"


def python_calls(protocol: Path, record: Path) -> list[Row]:
    """Python function calls per command in the run's threads, in all and by layer: the
    one figure of the per-command cost that does not depend on how busy the machine is,
    and what it would take to remove: the engine loop's share is what any redesign of
    the loop could save; the rest is work every command needs."""
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    counts: dict[str, int] = {}

    def count(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            counts[name] = counts.get(name, 0) + 1

    threading.setprofile(count)  # the threads the run starts from now on
    try:
        _, n = throughput.engine_run(protocol, record)
    finally:
        threading.setprofile(None)
    layers = dict.fromkeys([name for name, _ in LAYERS] + [OTHER], 0)
    for filename, calls in counts.items():
        relative = filename[len(root):].replace(os.sep, "/") if filename.startswith(root) else ""
        layer = next((name for name, prefixes in LAYERS
                      if relative.startswith(prefixes)), OTHER)
        layers[layer] += calls
    total = sum(layers.values())
    rows: list[Row] = [("  Python calls per command (both threads)", f"{total / n:.0f}", "", "")]
    rows += [(f"    {layer}", f"{calls / n:.1f}", "", f"{calls / total:.0%}")
             for layer, calls in layers.items()]
    return rows


def transfers(tmp: Path, repeats: int) -> list[Row]:
    protocol = tmp / "transfer_96.py"
    protocol.write_text(PROTOCOL_96)
    argv, base = labrun("simulate", str(protocol)), [sys.executable, "-c", "pass"]
    process(argv)
    runs = [(process(argv), process(base)) for _ in range(repeats)]
    wall = statistics.median(r[0][0] for r in runs)
    cpu = statistics.median(r[0][1] for r in runs)
    base_wall = statistics.median(r[1][0] for r in runs)
    return [("labrun simulate, 96 transfers: wall", f"{wall:.3f} s",
             f"python -c pass {base_wall:.3f} s", f"{wall / base_wall:.1f}x"),
            ("  the same: CPU", f"{cpu:.3f} s", "", "")]


def per_call(tmp: Path, max_calls: int) -> list[Row]:
    """Seconds a call at 1k, 10k, 100k and 1M calls of a loop, and at 1k, 10k and 100k
    calls written out one a line (a protocol generated call by call: each call is at a
    line of its own in one long ``run``), each beside the loop's at 1k."""
    rows: list[Row] = []
    first: float | None = None
    for kind, limit in (("", max_calls), (" written out", min(max_calls, 100_000))):
        calls = 1000
        while calls <= limit:
            protocol = tmp / f"calls_{kind.strip()}_{calls}.py"
            protocol.write_text(written_out(calls) if kind else CALLS % (calls // 2))
            each = _run_seconds(protocol) / calls
            first = first if first is not None else each
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows.append((f"per call, {calls:,} calls{kind} (in process)", f"{each * 1e6:.1f} us",
                         f"at 1,000 calls {first * 1e6:.1f} us",
                         f"{each / first:.2f} (peak RSS so far {rss:.0f} MB)"))
            calls *= 10
    return rows


def written_out(calls: int) -> str:
    """``CALLS`` with ``calls`` protocol calls, each on a line of its own, no loop."""
    head, _, _ = (CALLS % 0).partition("    for i in range(0):")
    body = "".join(f"    p300.aspirate(20, wells[{i % 96}])\n"
                   f"    p300.dispense(20, wells[{(i + 1) % 96}])\n"
                   for i in range((calls - 2) // 2))
    return head + body + "    p300.drop_tip()\n"


def _run_seconds(protocol: Path) -> float:
    run = create_run(protocol, on_stalled=continue_when_stalled, keep_history=False)
    start = time.perf_counter()
    run.control.play()
    status = run.wait()
    seconds = time.perf_counter() - start
    run.close()
    assert status.status.value == "succeeded", status
    return seconds


ONE_TRANSFER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(%d, plate["A1"], plate["A2"], new_tip="once")
'''


def memory(tmp: Path, calls: int) -> list[Row]:
    protocol = tmp / f"memory_{calls}.py"
    protocol.write_text(CALLS % (calls // 2))
    base = process([sys.executable, "-c", "pass"])[2]
    rows: list[Row] = []
    for label, extra in (("plain", []), ("--json", ["--json"]),
                         ("--record", ["--record", str(tmp / "memory.jsonl")])):
        wall, _, rss = process(labrun("simulate", str(protocol), "--watchdog", "0",
                                              "--max-hours", "0", *extra))
        rows.append((f"peak RSS, simulate {calls:,} calls, {label}", f"{rss:.0f} MB",
                     f"python -c pass {base:.0f} MB", f"wall {wall:.1f} s"))
    # One call of as many commands: a transfer of 4-command tipfuls is one step.
    tipfuls = calls // 4
    protocol = tmp / f"transfer_{tipfuls}.py"
    protocol.write_text(ONE_TRANSFER % (300 * tipfuls))
    for label, extra in (("plain", []), ("--json", ["--json"]), ("-v", ["-v"])):
        wall, _, rss = process(labrun("simulate", str(protocol), "--watchdog", "0",
                                              "--max-hours", "0", *extra))
        rows.append((f"peak RSS, one transfer of {tipfuls:,} tipfuls, {label}", f"{rss:.0f} MB",
                     f"python -c pass {base:.0f} MB", f"wall {wall:.1f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--max-calls", type=int, default=1_000_000,
                        help="the largest protocol of the per-call and memory figures")
    parser.add_argument("--only", choices=("startup", "commands", "transfers", "calls",
                                           "memory"), action="append")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    only = set(args.only or ("startup", "commands", "transfers", "calls", "memory"))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "startup" in only:
            rows += startup(tmp, repeats)
        if "commands" in only:
            rows += commands(tmp, repeats)
        if "transfers" in only:
            rows += transfers(tmp, repeats)
        if "calls" in only:
            rows += per_call(tmp, args.max_calls)
        if "memory" in only:
            rows += memory(tmp, args.max_calls)
    header = (f"figure (median of {repeats})", "value", "baseline (same run)", "ratio")
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)))
    print("  ".join("-" * w for w in width))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))


if __name__ == "__main__":
    main()
