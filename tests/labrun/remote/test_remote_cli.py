"""``labrun serve`` as a user starts it: a process on a port, stopped with Ctrl-C; bad
arguments exit 2; ``--emulate`` drives labrun's emulator over a real socket."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from remote_kit import QUICK, WAIT

from labrun.cli.main import main
from labrun.remote import RunManager, RunManagerAPI, start_server

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_labrun_serve_runs_a_queue_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "serve", "--simulate", "--speed", "50",
         "--port", str(port)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:  # uvicorn says when it listens
            lines.append(line)
            if "Uvicorn running on" in line or "Application startup complete" in line:
                break
        assert any("simulated, real time x50" in line for line in lines), lines
        client = RunManagerAPI(f"http://127.0.0.1:{port}")
        client.queue_item_add(QUICK)
        client.queue_start()
        client.wait_for_idle(timeout=WAIT)
        assert client.history_get()["items"][0]["result"]["exit_status"] == "succeeded"
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--config", "/no/such/robot.toml"], "robot.toml"),
    (["serve", "--speed", "0"], "--speed must be positive"),
    (["serve", "--simulate", "--dialect", "grbl"], "--dialect applies to --emulate only"),
    (["serve", "--record-dir", "/no/such/dir"], "not a directory"),
])
def test_bad_arguments_exit_2(argv: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("hardware.factory") is None
                    or importlib.util.find_spec("hardware.threaded") is None,
                    reason="this labrun has no hardware factory yet")
def test_emulated_robot_runs_the_queue_over_a_real_socket() -> None:
    from labrun.remote.robots import emulated_robot

    robot = emulated_robot(speed=50)
    try:
        with start_server(RunManager(robot)) as handle:
            client = RunManagerAPI(handle.url)
            assert client.status()["robot"]["kind"].startswith("emulated grbl")
            client.queue_item_add(QUICK)
            client.queue_start()  # homes the freshly connected robot first
            client.wait_for_idle(timeout=WAIT)
            result = client.history_get()["items"][0]["result"]
            assert result["exit_status"] == "succeeded"
            client.sim_interlock("door", True)
            assert client.wait_for(lambda s: s["interlocks"] == ["door"], timeout=WAIT)
            client.close()
    finally:
        robot.close()
