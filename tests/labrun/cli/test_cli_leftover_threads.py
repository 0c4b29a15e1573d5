"""A thread the protocol leaves running never keeps labrun from exiting (the process's
own exit, so each test runs labrun in a subprocess, bounded by a timeout)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WARNING = ("the protocol's thread 'Thread-{n} (forever)' was still running after the run "
           "ended; labrun exits without waiting for it (Python waits for a thread that is "
           "not a daemon: start it with daemon=True, or end it)")


def simulate(tmp_path: Path, body: str,
             *options: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(body).lstrip("\n"))
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                           *options], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return path, done


THREADS = """
    import atexit
    import threading
    import time
    metadata = {"apiLevel": "2.15"}

    def forever():
        threading.Event().wait()  # never set

    def soon():
        time.sleep(0.1)
        print("soon ended")

    threading.Thread(target=forever).start()  # at the top level: not a daemon
    atexit.register(print, "atexit ran")

    def run(ctx):
        threading.Thread(target=forever, daemon=False).start()
        threading.Thread(target=soon, daemon=False).start()
        ctx.comment("threads started")
        FAILING
    """


def test_simulate_exits_and_names_the_threads_the_protocol_left_running(
        tmp_path: Path) -> None:
    # `labrun simulate` printed its results, then never exited: Python waited for the
    # protocol's endless threads, until Ctrl-C (a traceback from threading._shutdown).
    path, done = simulate(tmp_path, THREADS.replace("FAILING", "pass"))
    assert done.returncode == 0, done.stderr
    assert "threads started" in done.stdout and "status:              succeeded" in done.stdout
    # A thread that ends within the grace is waited for, as Python would; the endless ones
    # are said, each at the protocol line it is at; the protocol's atexit callbacks run.
    assert done.stderr.splitlines() == [
        "soon ended",
        f"warning: {path}:7: {WARNING.format(n=1)}",
        f"warning: {path}:7: {WARNING.format(n=2)}",
        "atexit ran"]


def test_a_failed_run_that_left_a_thread_keeps_its_exit_status_and_error(
        tmp_path: Path) -> None:
    path, done = simulate(tmp_path, THREADS.replace("FAILING", "raise ValueError('no')"),
                          "--json")
    assert done.returncode == 1
    assert '"status": "failed"' in done.stdout
    lines = done.stderr.splitlines()
    assert f"error: {path}:20: ValueError: no" in lines
    assert lines[-3:] == [f"warning: {path}:7: {WARNING.format(n=1)}",
                          f"warning: {path}:7: {WARNING.format(n=2)}",
                          "atexit ran"]
