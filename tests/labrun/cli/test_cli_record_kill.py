"""A run killed at any instant leaves a record that parses and says where the run was
(docs/design.md §9): ``labrun simulate``, and ``labrun run`` on the emulator, are each killed
with SIGKILL at 50 instants spread over their whole life, from start-up to the summary.

Whatever the instant, the record is absent (killed before the run existed) or it begins
with its run line; every line but a cut last one is strict JSON; and it lags the
protocol by at most the call in progress (``record_kills.record_lag``); on the emulator,
every motion the controller received was announced by a ``started`` line on disk
(``record_kills.unrecorded_motion``). The instants
vary from run to run; what must hold does not depend on them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from record_kills import (
    KillServer,
    progress_protocol,
    read_progress,
    record_lag,
    reset_progress,
    unrecorded_motion,
)

from engine.record import read_record
from hardware.emulator import EmulatorHandle, running_emulator

KILLS = 50
CALLS = 600


@pytest.fixture(scope="module")
def server() -> Iterator[KillServer]:
    server = KillServer()
    yield server
    server.close()


def full_run_s(server: KillServer, protocol: Path, record: Path, progress: Path) -> float:
    """How long the whole command takes here (it is not killed)."""
    reset_progress(progress)
    start = time.monotonic()
    assert server.run(["simulate", str(protocol), "--record", str(record)], 60.0) == 0
    elapsed = time.monotonic() - start
    assert read_progress(progress) == CALLS - 1
    events = read_record(record)
    assert events[-1]["event"] == "summary" and record_lag(events, CALLS - 1) is None
    return elapsed


def test_a_simulation_killed_at_any_instant_leaves_a_record_that_says_where_it_was(
        server: KillServer, tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    protocol = tmp_path / "moves.py"
    record = tmp_path / "record.jsonl"
    protocol.write_text(progress_protocol(progress, CALLS))
    span = full_run_s(server, protocol, record, progress)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    outcomes = {"killed": 0, "finished": 0, "no record": 0}
    # At least KILLS kills, and on until half of them have cut a run short: a run that
    # ends before its kill (the machine is less busy than when the span was measured)
    # shortens the span the next delays are drawn from, as on the emulator below.
    for kill in range(2 * KILLS):
        if kill >= KILLS and outcomes["killed"] >= KILLS // 2:
            break
        record.unlink(missing_ok=True)
        reset_progress(progress)
        delay = rng.uniform(0.0, span)
        result = server.run(["simulate", str(protocol), "--record", str(record)], delay)
        if result == "killed":
            outcomes["killed"] += 1
        else:
            outcomes["finished"] += 1
            span = min(span, delay)
        began = read_progress(progress)
        where = f"kill {kill} after {delay:.3f} s (seed {seed})"
        if not record.exists():
            assert began == -1, f"{where}: the protocol ran but there is no record"
            outcomes["no record"] += 1
            continue
        events = read_record(record)  # strict JSON; only a cut last line is skipped
        problem = record_lag(events, began)
        assert problem is None, f"{where}: {problem}"
    assert outcomes["killed"] >= KILLS // 2, outcomes


EMULATOR_CALLS = 8
EMULATOR_SPEED = 20.0


def robot_file(path: Path, address: str) -> Path:
    path.write_text(f'name = "kill-grbl"\n[controller]\nkind = "gcode"\ndialect = "grbl"\n'
                    f'port = "{address}"\ntimeout_s = 2.0\npoll_interval = 0.05\n')
    return path


def received(emulator: EmulatorHandle) -> list[str]:
    """The lines the emulator has received, once it has read all that was sent: the killed
    host's bytes are in its socket, and the firmware lets the link go only after reading
    them to the end of the stream."""
    deadline = time.monotonic() + 30.0
    while emulator.call(lambda: emulator.emulator.firmware.link is not None):
        assert time.monotonic() < deadline, "the emulator never saw the host go"
        time.sleep(0.01)
    return emulator.call(lambda: list(emulator.stats.lines))


def test_a_run_on_the_emulator_killed_at_any_instant_leaves_a_record_that_says_where_it_was(
        server: KillServer, tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    protocol = tmp_path / "moves.py"
    record = tmp_path / "record.jsonl"
    protocol.write_text(progress_protocol(progress, EMULATOR_CALLS, direct=True))

    def labrun_run(address: str, delay: float) -> object:
        robot = robot_file(tmp_path / "robot.toml", address)
        return server.run(["run", str(protocol), "--robot", str(robot), "--no-simulate",
                           "--record", str(record)], delay)

    reset_progress(progress)
    with running_emulator("grbl", speed=EMULATOR_SPEED) as emulator:
        start = time.monotonic()
        assert labrun_run(emulator.address, 60.0) == 0
        span = time.monotonic() - start
        events = read_record(record)
        assert record_lag(events, EMULATOR_CALLS - 1) is None
        assert unrecorded_motion(events, received(emulator)) is None
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    killed = 0
    # At least KILLS kills, and on until half of them have cut a run short: how long a
    # run takes depends on how busy the machine is, so a run that ends before its kill
    # shortens the span the next delays are drawn from.
    for kill in range(2 * KILLS):
        if kill >= KILLS and killed >= KILLS // 2:
            break
        record.unlink(missing_ok=True)
        reset_progress(progress)
        delay = rng.uniform(0.0, span)
        where = f"kill {kill} after {delay:.3f} s (seed {seed})"
        with running_emulator("grbl", speed=EMULATOR_SPEED) as emulator:
            outcome = labrun_run(emulator.address, delay)
            lines = received(emulator)
        if outcome == "killed":
            killed += 1
        else:
            span = min(span, delay)
        began = read_progress(progress)
        if not record.exists():
            assert began == -1 and not lines, f"{where}: the robot was driven with no record"
            continue
        events = read_record(record)
        assert record_lag(events, began) is None, f"{where}: {record_lag(events, began)}"
        problem = unrecorded_motion(events, lines)
        assert problem is None, f"{where}: {problem}"
    assert killed >= KILLS // 2


@pytest.mark.parametrize("command", ["simulate", "run"])
def test_a_run_killed_before_its_record_began_leaves_no_older_record(
        tmp_path: Path, command: str) -> None:
    """killed -9 while its protocol loaded (or was simulated first), a run left the record
    an earlier run wrote at that path, which said "succeeded" for the same protocol."""
    import os
    import signal
    import subprocess
    import sys

    record = tmp_path / "record.jsonl"
    record.write_text('{"seq":0,"t":0.0,"event":"run","protocol":"old.py"}\n'
                      '{"seq":1,"t":9.0,"event":"summary","status":"succeeded"}\n')
    protocol = tmp_path / "slow_to_load.py"
    gate = tmp_path / "gate"
    protocol.write_text(f'import pathlib, time\n'
                        f'while not pathlib.Path({str(gate)!r}).exists():\n'
                        f'    time.sleep(0.01)\n'
                        f'metadata = {{"apiLevel": "2.15"}}\n'
                        f'def run(ctx):\n'
                        f'    ctx.comment("hi")\n')
    extra = ["--emulate", "-y"] if command == "run" else []
    cli = "import sys; from labrun.cli.main import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", cli, command, str(protocol),
                                "--record", str(record), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60.0
        while "preparing" not in record.read_text():  # replaced before the load began
            assert time.monotonic() < deadline, record.read_text()
            assert process.poll() is None
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    events = read_record(record)
    assert [(e["event"], e.get("status")) for e in events] == [("run", "preparing")]
    assert events[0]["protocol"] == str(protocol.resolve())
