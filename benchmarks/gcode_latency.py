"""G-code figures on the bundled emulator over loopback TCP, through the whole stack.

- pause request to the stop on the wire: ``control.pause("immediate")`` from another
  thread (as a key or the HTTP API would) on a run moving on the emulator, to the
  emulator reading the feed hold ``!`` (GRBL, Smoothieware) or the quickstop ``M410``
  line (Marlin); the run drives the controller as ``labrun run`` does (engine loop,
  ``ThreadedController``, the driver's own loop, a real socket). Target: 2 ms median.
- resume to the first motion line on the wire: ``control.resume()`` to the emulator
  reading the first ``G1`` of the unparking (after the position read-back). Target 2 ms.
- commands per second streamed with acknowledgements (``send_gcode`` of ``G90`` lines):
  GRBL streams within its 128-byte buffer, Marlin (numbered, checksummed) and
  Smoothieware wait for each ``ok``; beside the rate of a raw request/answer round trip
  on a loopback socket between two threads, measured in the same run.

Times on the emulator side are taken when its loop has read the bytes, in another
thread: they include the loopback hop, not only the time to write.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.abc
from anyio.from_thread import start_blocking_portal

from engine.run import Run
from engine.state import Status
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.factory import emulator_config
from hardware.frozen import replace
from hardware.gcode import GcodeController
from hardware.robot import open_robot
from protocol_api.execute import create_run

DIALECTS = ("grbl", "marlin", "smoothie")
STOP_MARK = {"grbl": b"!", "marlin": b"M410", "smoothie": b"!"}
EMULATOR_SPEED = 4.0
WAIT_S = 30.0

# Slow moves back and forth near the park position: every pause catches a move, and
# parking and unparking are short.
BACK_AND_FORTH = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 9)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    for _ in range(200):
        p300.move_to(plate["A1"].top(20), speed=10)
        p300.move_to(plate["A12"].top(20), speed=10)
'''


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark: timed out waiting for {what}")
        time.sleep(0.0005)


def pause_and_resume_us(dialect: str, samples: int) -> tuple[list[float], list[float]]:
    """Pause request -> stop on the wire, and resume -> first G1 on the wire (µs)."""
    pauses: list[float] = []
    resumes: list[float] = []
    base = emulator_config(dialect)
    with tempfile.TemporaryDirectory() as tmp, \
            running_emulator(dialect, speed=EMULATOR_SPEED, config=base) as emu:
        protocol = Path(tmp) / "protocol.py"
        protocol.write_text(textwrap.dedent(BACK_AND_FORTH))
        config = replace(base, controller=replace(base.controller,
                                                            port=emu.address))
        robot = open_robot(config)
        robot.connect()
        robot.home()
        run = create_run(protocol, config=config, controller=robot.controller,
                         clock=robot.clock, simulating=False)
        try:
            run.control.play()
            for _ in range(samples):
                pause_us, resume_us = _one_pause(run, emu, dialect)
                pauses.append(pause_us)
                resumes.append(resume_us)
            run.control.stop()
            run.wait(WAIT_S)
        finally:
            run.close()
            robot.close()
    return pauses, resumes


def _one_pause(run: Run, emu: EmulatorHandle, dialect: str) -> tuple[float, float]:
    """Pause a move at once, then resume: both latencies to the wire, in µs."""
    machine, stats = emu.emulator.machine, emu.stats
    unparks = _count(run, "unpark")
    # A protocol move under way (not parking or unparking).
    _wait(lambda: emu.call(lambda: machine.moving)
          and run.control.status().status is Status.RUNNING
          and _count(run, "unpark") == unparks, "a move")
    requested = time.monotonic()
    run.control.pause("immediate")
    run.control.wait_until_paused(WAIT_S)
    stops = [t for data, t in list(stats.realtime)
             if data == STOP_MARK[dialect] and t >= requested]
    pause_us = (stops[0] - requested) * 1e6
    lines = len(stats.lines)
    requested = time.monotonic()
    run.control.resume()
    _wait(lambda: any(_motion(line) for line in stats.lines[lines:]), "the first motion line")
    firsts = [t for line, t in zip(stats.lines[lines:], stats.line_times[lines:], strict=False)
              if _motion(line) and t >= requested]
    resume_us = (firsts[0] - requested) * 1e6
    _wait(lambda: _count(run, "unpark") > unparks, "the unparking")
    return pause_us, resume_us


def _motion(line: str) -> bool:
    """A G1 line, with or without Marlin's line number or GRBL's G53 (machine frame)."""
    return re.match(r"(N\d+ )?(G53 )?G1 ", line) is not None


def _count(run: Run, kind: str) -> int:
    return sum(1 for e in list(run.record.events) if e["event"] == kind)


async def _stream_rate(emu: EmulatorHandle, dialect: str, n: int) -> float:
    base = emulator_config(dialect)
    config = replace(base, controller=replace(base.controller, port=emu.address))
    controller = GcodeController(config)
    await controller.connect()
    try:
        await controller.home()
        await controller.send_gcode(["G90"] * 50)  # warm up
        start = time.perf_counter()
        replies = await controller.send_gcode(["G90"] * n)
        elapsed = time.perf_counter() - start
        assert len(replies) == n
    finally:
        await controller.disconnect()
    return n / elapsed


def stream_rates(dialect: str, repeats: int, n: int = 2000) -> list[float]:
    """Commands per second, each acknowledged, streamed to the emulator."""
    with running_emulator(dialect, speed=100.0) as emu:
        return [anyio.run(_stream_rate, emu, dialect, n) for _ in range(repeats)]


async def _echo_round_trips(port: int, n: int) -> list[float]:
    times = []
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        for _ in range(n):
            start = time.perf_counter()
            await stream.send(b"G90\n")
            answer = b""
            while not answer.endswith(b"\n"):
                answer += await stream.receive()
            times.append(time.perf_counter() - start)
    return times


def echo_rates(repeats: int, n: int = 2000) -> list[float]:
    """Round trips per second of a bare line/answer exchange with another thread's loop."""

    async def answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            pending = b""
            async for chunk in stream:
                pending += chunk
                while b"\n" in pending:
                    _, pending = pending.split(b"\n", 1)
                    await stream.send(b"ok\n")

    async def serve(*, task_status: anyio.abc.TaskStatus[int]) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
        await listener.serve(answer)

    rates = []
    with start_blocking_portal() as portal:
        future, port = portal.start_task(serve)
        for _ in range(repeats):
            times = anyio.run(_echo_round_trips, port, n)
            rates.append(1.0 / statistics.median(times))
        future.cancel()
    return rates


def figures(repeats: int) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    samples = max(9, repeats * 2)
    echo = statistics.median(echo_rates(repeats))
    rtt_us = 1e6 / echo
    for dialect in DIALECTS:
        pauses, resumes = pause_and_resume_us(dialect, samples)
        stop = "M410" if dialect == "marlin" else "feed hold '!'"
        for what, values in ((f"pause request to {stop} on the wire", pauses),
                             ("resume to the first G1 on the wire", resumes)):
            median = statistics.median(values)
            rows.append((f"{dialect}: {what}", f"{median:.0f} µs (max {max(values):.0f})",
                         f"target <= 2000 µs; raw TCP round trip {rtt_us:.0f} µs",
                         f"{median / rtt_us:.1f}x"))
    for dialect in DIALECTS:
        rate = statistics.median(stream_rates(dialect, repeats))
        rows.append((f"{dialect}: commands streamed with acknowledgements",
                     f"{rate:,.0f} cmd/s", f"raw TCP round trips {echo:,.0f}/s",
                     f"{rate / echo:.2f}"))
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for row in figures(3):
        print("  ".join(row))
