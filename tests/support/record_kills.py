"""Killing ``labrun`` at chosen instants, and what its run record must say afterwards.

``KillServer`` starts one Python process that has imported the CLI once, then forks a
``labrun`` command for each kill and sends it SIGKILL after the given delay (measured
from the fork): a kill costs the run, not an interpreter start-up. The server is
single-threaded, so forking it is safe.

The protocol ``progress_protocol`` writes, before each of its calls, the call's index
into a memory-mapped file that outlives the kill: the tests compare the record with
what the protocol had asked for.
"""

from __future__ import annotations

import json
import mmap
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVER = r"""
import json, os, signal, sys, time
import labrun.cli.main as cli
for line in sys.stdin:
    argv, delay = json.loads(line)
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            code = cli.main(argv)
        except BaseException:
            code = 3
        os._exit(code)
    deadline = time.monotonic() + delay
    finished = None
    while finished is None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            finished = os.waitstatus_to_exitcode(status)
        elif time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            finished = "killed"
        else:
            time.sleep(0.0005)
    print(json.dumps(finished), flush=True)
"""


class KillServer:
    """A process that runs ``labrun`` commands and kills each after a delay."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)

    def run(self, argv: list[str], delay_s: float) -> Any:
        """Run ``labrun *argv``; ``"killed"`` if it was killed after ``delay_s``, else its
        exit status."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps([argv, delay_s]) + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def close(self) -> None:
        """End the server."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(30)


def progress_protocol(progress: Path, calls: int, *, direct: bool = False) -> str:
    """A protocol of ``calls`` moves that writes each call's index to ``progress`` first;
    ``direct``: straight moves (one motion each) between far-apart wells."""
    if direct:
        move = "p300.move_to(wells[(i * 47) % 96].top(20 + i % 3), force_direct=True)"
    else:
        move = "p300.move_to(wells[i % 96].top(5 + i % 3))"
    return f'''
import mmap, struct
metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    wells = plate.wells()
    with open({str(progress)!r}, "r+b") as f:
        progress = mmap.mmap(f.fileno(), 8)
    for i in range({calls}):
        progress[:8] = struct.pack("<q", i)
        {move}
'''


def reset_progress(progress: Path) -> None:
    """No call made yet: -1."""
    progress.write_bytes(struct.pack("<q", -1))


def read_progress(progress: Path) -> int:
    """The index of the last call the protocol began (-1: none)."""
    with progress.open("rb") as f, mmap.mmap(f.fileno(), 8, access=mmap.ACCESS_READ) as m:
        value: int = struct.unpack("<q", m[:8])[0]
    return value


def record_lag(events: list[dict[str, Any]], began: int) -> str | None:
    """What is wrong with a killed run's record, given that the protocol had begun call
    ``began``: None when the record names the run, its status and where it was.

    The protocol's moves are the record's ``moveTo`` commands, in order. Every move
    before call ``began`` had returned, so it is completed in the record; call ``began``
    is either in the record (started, or completed if the protocol had not yet gone on)
    or not yet taken by the engine.
    """
    if not events or events[0]["event"] != "run":
        return "the record does not begin with its run line"
    first = events[0]
    if first.get("status") == "preparing":  # killed before the run began: that line only
        if len(events) != 1 or not first.get("protocol") or began != -1:
            return f"a record of a run being prepared, but the protocol ran: {events[:3]}"
        return None
    if not (first.get("protocol") and first.get("robot") and first.get("clock")):
        return f"the run line does not name the protocol, robot and clock: {first}"
    statuses = [e["status"] for e in events if e["event"] in ("run", "status")]
    if not statuses:
        return "no status"
    moves: dict[int, list[str]] = {}
    for event in events:
        if event["event"] == "command":
            if event["status"] == "queued":
                if event["type"] == "moveTo":
                    moves[event["id"]] = []
            elif event["id"] in moves:
                moves[event["id"]].append(event["status"])
    order = list(moves.values())
    if len(order) not in (began, began + 1):
        return f"{len(order)} moves in the record, but the protocol had begun call {began}"
    for index, statuses_of in enumerate(order[:-1]):
        if "completed" not in statuses_of:
            return f"move {index} returned to the protocol but is not completed: {statuses_of}"
    if order and len(order) == began and "completed" not in order[-1]:
        return f"the last move returned to the protocol but is not completed: {order[-1]}"
    if order and len(order) == began + 1 and "started" not in order[-1]:
        return f"the move in progress is queued but not started: {order[-1]}"
    return None


def unrecorded_motion(events: list[dict[str, Any]], lines: list[str]) -> str | None:
    """What the robot was sent that the record did not announce first, given the G-code
    ``lines`` a controller received from a killed ``labrun run`` of a ``direct``
    progress protocol (one motion line per move): None if nothing.

    Each motion line is preceded on disk by its move's ``started`` line; the one motion
    that is not a protocol move (the Z lift when the run finishes) by the status
    ``finishing``.
    """
    motions = sum(1 for line in lines if line.replace("G53 ", "").startswith(("G0 ", "G1 ")))
    commands = [e for e in events if e["event"] == "command"]
    moves = {e["id"] for e in commands if e.get("type") == "moveTo"}
    started = sum(1 for e in commands if e["status"] == "started" and e["id"] in moves)
    ending = any(e["event"] == "status" and e["status"] not in ("running", "paused", "pausing")
                 for e in events)
    if motions > started + ending:
        return (f"the robot was sent {motions} motions but the record shows {started} moves "
                f"started{' and the run ending' if ending else ''}")
    return None
