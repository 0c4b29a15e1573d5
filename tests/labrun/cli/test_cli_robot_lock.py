"""One labrun at a time on a robot: ``labrun run``, ``labrun doctor`` and a server's run
worker lock the controller's address in the state folder, so a second process on the same
robot is refused (or, a server's worker, waits) before it connects, naming the first.
Real processes against labrun's emulator on a real socket."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated_runs import grbl_robot_file
from labrun_testing import free_port

from engine.record import read_record
from hardware.config import load_config
from hardware.emulator import EmulatorHandle, running_emulator
from labrun.cli.main import main
from labrun.cli.robot_lock import robot_lock_file

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 30.0

LONG = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.delay(minutes=10)
'''


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator("grbl", speed=100.0) as emu:
        yield emu


def labrun(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
    """labrun in a process of its own (the state folder is the tests' own: inherited)."""
    return subprocess.Popen([sys.executable, "-m", "labrun.cli.main", *args], cwd=ROOT,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def running(robot: Path, protocol: Path) -> Iterator[subprocess.Popen[str]]:
    """``labrun run`` of ``protocol`` on ``robot``, playing (its status line says so); it
    is ended with SIGTERM (an abort, with its cleanup) on the way out."""
    process = labrun("run", str(protocol), "--robot", str(robot), "-y")
    try:
        assert process.stdout is not None
        for line in process.stdout:  # bounded: the run plays within the emulator's time
            if re.search(r"status: +running|\brunning\b", line):
                break
        else:
            pytest.fail(f"the first run never played: {process.stderr.read()}")  # type: ignore[union-attr]
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(WAIT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def in_use(robot: Path, holder: subprocess.Popen[str], what: str) -> str:
    config = load_config(robot)
    return (f"the robot at {config.controller.port} is in use by another process (pid "
            f"{holder.pid}: {what}) (it holds {robot_lock_file(config)}); stop that process "
            "or let its run end, then start again")


def test_a_second_run_on_a_robot_another_run_drives_is_refused_before_it_connects(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    robot = grbl_robot_file(tmp_path, emulator.address)
    first = tmp_path / "first.py"
    first.write_text(LONG)
    second = tmp_path / "second.py"
    second.write_text(LONG.replace("minutes=10", "seconds=1"))
    with running(robot, first) as holder:
        connections = emulator.call(lambda: emulator.stats.connections)
        status = main(["run", str(second), "--robot", str(robot), "-y",
                       "--record", str(tmp_path / "second.jsonl")])
        err = capsys.readouterr().err
        assert status == 4
        assert f"error: {in_use(robot, holder, 'labrun run first.py')}\n" in err
        assert "nothing was connected or moved" in err
        # not a word of the tips: the first run's "unfinished" mark is its own, not a tip
        assert "never ended" not in err
        assert emulator.call(lambda: emulator.stats.connections) == connections
    summary = read_record(tmp_path / "second.jsonl")[-1]
    assert (summary["event"], summary["status"]) == ("summary", "failed")
    assert "is in use by another process" in summary["error"]


def test_doctor_does_not_talk_to_a_robot_a_run_drives(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    robot = grbl_robot_file(tmp_path, emulator.address)
    first = tmp_path / "first.py"
    first.write_text(LONG)
    with running(robot, first) as holder:
        assert main(["doctor", "--robot", str(robot)]) == 4  # not started, as run says
        assert capsys.readouterr().err == \
            f"error: {in_use(robot, holder, 'labrun run first.py')}\n"
    # once the run has ended, the robot is free again
    assert main(["doctor", "--robot", str(robot)]) == 0


def test_a_server_waits_for_the_run_that_drives_its_robot_and_then_serves(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    robot = grbl_robot_file(tmp_path, emulator.address)
    first = tmp_path / "first.py"
    first.write_text(LONG)
    port = free_port()
    with running(robot, first) as holder:
        server = labrun("serve", "--robot", str(robot), "--port", str(port),
                        stdout=subprocess.DEVNULL)
        try:
            assert server.stderr is not None
            waiting = server.stderr.readline()  # bounded: said as the worker starts
            config = load_config(robot)
            assert waiting == (
                f"labrun: waiting for another process (pid {holder.pid}: labrun run "
                f"first.py) to let go of the robot at {config.controller.port}, up to "
                f"30 s\n")
            holder.send_signal(signal.SIGTERM)  # the run aborts and lets go of the robot
            assert holder.wait(WAIT_S) != 0
            for line in server.stderr:  # bounded: the server starts once the lock is free
                if line.startswith("labrun: robot 'bench'"):
                    break
            else:
                pytest.fail("the server never started")
            # now the server's worker holds it: a run is refused, naming the server (the
            # process to stop; its worker ignores the signals that would end it)
            assert main(["run", str(first), "--robot", str(robot), "-y"]) == 4
            assert f"error: {in_use(robot, server, 'labrun serve, whose run worker drives it')}" \
                in capsys.readouterr().err
            server.send_signal(signal.SIGINT)
            assert server.wait(WAIT_S) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


def test_two_names_of_one_serial_port_share_a_lock_and_the_simulated_robot_has_none(
        tmp_path: Path) -> None:
    device = tmp_path / "ttyACM0"
    device.touch()
    alias = tmp_path / "usb-Arduino-if00"
    os.symlink(device, alias)
    configs = [grbl_robot_file(tmp_path / name, str(port))
               for name, port in (("a", device), ("b", alias), ("c", "tcp://127.0.0.1:7800"))
               if (tmp_path / name).mkdir() is None]
    locks = [robot_lock_file(load_config(path)) for path in configs]
    assert locks[0] == locks[1] != locks[2]
    assert locks[2] is not None and locks[2].name.startswith("tcp_127.0.0.1_7800-")
    simulated = tmp_path / "simulated.toml"
    simulated.write_text('name = "sim"\n')
    assert robot_lock_file(load_config(simulated)) is None


def test_ctrl_c_while_a_server_waits_for_its_robot_ends_it_at_once(
        tmp_path: Path, emulator: EmulatorHandle) -> None:
    robot = grbl_robot_file(tmp_path, emulator.address)
    first = tmp_path / "first.py"
    first.write_text(LONG)
    port = free_port()
    with running(robot, first):
        server = labrun("serve", "--robot", str(robot), "--port", str(port),
                        stdout=subprocess.DEVNULL)
        try:
            assert server.stderr is not None
            assert server.stderr.readline().startswith("labrun: waiting for another process")
            server.send_signal(signal.SIGINT)
            # its worker, waiting for the lock, is told (not left behind for 30 s)
            assert server.wait(WAIT_S) == 130
            assert server.stderr.read() == "\nlabrun: interrupted before the server started\n"
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
