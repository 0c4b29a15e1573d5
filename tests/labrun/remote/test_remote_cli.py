"""``labrun serve`` as a user starts it: a process on a port, stopped with Ctrl-C; bad
arguments exit 2; ``--emulate`` drives labrun's emulator over a real socket."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labrun_testing import free_port
from remote_kit import QUICK, WAIT, item

from engine.record import read_record
from labrun.cli.main import main
from labrun.remote import HTTPClientError, RunManager, RunManagerAPI, start_server
from labrun.remote.runner import RobotSpec
from labrun.remote.supervisor import SupervisedRobot

ROOT = Path(__file__).resolve().parents[3]


def serve(*args: str, stdout: int | None = None, new_session: bool = False,
          robot: Path | None = None) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``labrun serve --simulate --speed 50 ARGS`` (``--robot robot`` instead, given one)
    in a subprocess, once it listens: the process, the token URL it printed, and the
    lines it printed until then."""
    driven = ["--robot", str(robot)] if robot is not None else ["--simulate", "--speed", "50"]
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from labrun.cli.main import main; "
         "sys.exit(main(sys.argv[1:]))", "serve", *driven, *args],
        cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True,
        start_new_session=new_session)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # uvicorn says when it listens
        lines.append(line)
        if "Uvicorn running on" in line or "Application startup complete" in line:
            break
    token_url = next(line.strip() for line in lines if "/?token=" in line)
    return process, token_url, lines


def test_labrun_serve_runs_a_queue_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process, token_url, lines = serve("--port", str(port))
    try:
        assert process.stderr is not None
        assert any("simulated, real time x50" in line for line in lines), lines
        assert token_url.startswith(f"http://127.0.0.1:{port}/?token=")
        with pytest.raises(HTTPClientError, match="401"):
            RunManagerAPI(f"http://127.0.0.1:{port}").queue_clear()
        client = RunManagerAPI(token_url)  # the URL it printed carries the token
        client.queue_item_add(QUICK)
        client.queue_start()
        client.wait_for_idle(timeout=WAIT)
        assert client.history_get()["items"][0]["result"]["exit_status"] == "succeeded"
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT) == 0
        told = [line.rstrip() for line in process.stderr if " run quick.py: " in line]
        assert len(told) == 2, told  # the run's start and end, one line each
        assert re.fullmatch(r"labrun: \d\d:\d\d:\d\d run quick\.py: started, 5 steps, "
                            r"(about 0:\d\d|under a second)", told[0]), told
        assert re.fullmatch(r"labrun: \d\d:\d\d:\d\d run quick\.py: succeeded after 0:\d\d",
                            told[1]), told
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_aborts_the_running_run_and_ends_labrun_serve_with_status_0() -> None:
    # As a service manager stops it: the run aborted with its cleanup, the robot let go,
    # and the exit status the README gives for a stopped server (it was killed by the
    # signal uvicorn sent itself again: 143, skipping labrun's own ending).
    process, token_url, _ = serve("--port", str(free_port()))
    try:
        assert process.stderr is not None
        client = RunManagerAPI(token_url)
        client.queue_item_add(item("p300.pick_up_tip()\nctx.delay(minutes=60)", "long.py"))
        client.queue_start()
        client.wait_for(lambda status: status["run_status"] == "running", timeout=WAIT)
        client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
        said = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "run long.py: aborted: the server stopped" in said
    assert "Traceback" not in said


def test_what_a_protocol_prints_while_it_is_checked_stays_out_of_the_terminal() -> None:
    # Each item is checked when added and again before it starts: its prints are said
    # once, when it runs (they came three times, a flood for a chatty protocol).
    process, token_url, _ = serve("--port", str(free_port()), stdout=subprocess.PIPE)
    try:
        client = RunManagerAPI(token_url)
        client.queue_item_add(item('print("NOISE out")\n'
                                   'import sys; print("NOISE err", file=sys.stderr)', "noisy.py"))
        client.queue_start()
        client.wait_for_idle(timeout=WAIT)
        client.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
        assert out.count("NOISE out") == 1, out
        assert err.count("NOISE err") == 1, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def serve_a_long_run(records: Path) -> tuple[subprocess.Popen[str], Path]:
    """``labrun serve --record-dir records`` in a process group of its own, running a
    protocol that holds a tip through an hour's delay, once it is in that delay: the
    server's process and the run's record (the group is killed if it gets no further)."""
    process, token_url, _ = serve("--port", str(free_port()), "--record-dir", str(records),
                                  new_session=True)
    try:
        client = RunManagerAPI(token_url)
        added = client.queue_item_add(item("p300.pick_up_tip()\nctx.delay(minutes=60)\n"
                                           "p300.drop_tip()", "long.py"))
        client.queue_start()
        client.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
        client.close()
    except BaseException:
        process.kill()
        process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    return process, records / f"{added['item']['item_uid']}.jsonl"


def test_a_server_killed_mid_run_leaves_its_run_aborted_by_its_worker(tmp_path: Path) -> None:
    # kill -9 of the server alone: its run worker, which owns the robot, sees it gone,
    # aborts the run with its cleanup and ends the record with why.
    process, path = serve_a_long_run(tmp_path / "records")
    try:
        process.kill()
        process.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while read_record(path)[-1]["event"] != "summary" and time.monotonic() < deadline:
            time.sleep(0.05)
        summary = read_record(path)[-1]
        assert summary["event"] == "summary" and summary["status"] == "aborted"
        assert summary["reason"] == "the server stopped"
        assert summary["tips_at_end"]["right"]["dropped"] is True  # the cleanup ran
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the worker, should it linger


def test_ctrl_c_in_the_terminal_ends_a_running_run_cleanly(tmp_path: Path) -> None:
    """Ctrl-C reaches the server and its run worker (one process group): the worker leaves
    it to the server, which aborts the run with its cleanup and ends its record."""
    process, token_url, _ = serve("--port", str(free_port()), "--record-dir",
                                  str(tmp_path / "records"),  # made
                                  new_session=True)
    try:
        assert process.stderr is not None
        client = RunManagerAPI(token_url)
        added = client.queue_item_add(item("p300.pick_up_tip()\n"
                                           "ctx.delay(minutes=60)\n"
                                           "p300.drop_tip()", "long.py"))
        client.queue_start()
        client.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
        client.close()
        os.killpg(process.pid, signal.SIGINT)  # as the terminal sends it
        assert process.wait(WAIT) == 0
        assert "Traceback" not in process.stderr.read()
        record = read_record(tmp_path / "records" / f"{added['item']['item_uid']}.jsonl")
        assert record[-1]["event"] == "summary" and record[-1]["status"] == "aborted"
        assert record[-1]["reason"] == "the server stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_closed_terminal_ends_a_running_run_cleanly(tmp_path: Path) -> None:
    """The terminal closes (an SSH session dropped): SIGHUP reaches the server and its run
    worker, one process group, and ends the server as SIGTERM does, the run aborted with
    its cleanup; it killed both at once, the robot left with its tip and its run with no
    end."""
    process, path = serve_a_long_run(tmp_path / "records")
    try:
        assert process.stderr is not None
        os.killpg(process.pid, signal.SIGHUP)  # as the terminal's hangup sends it
        assert process.wait(WAIT) == 0
        said = process.stderr.read()
        assert "run long.py: aborted: the server stopped" in said
        assert "Traceback" not in said
        summary = read_record(path)[-1]
        assert summary["event"] == "summary" and summary["status"] == "aborted"
        assert summary["reason"] == "the server stopped"
        assert summary["tips_at_end"]["right"]["dropped"] is True  # the cleanup ran
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the worker, should it linger


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--config", "/no/such/robot.toml"], "robot.toml"),
    (["serve", "--speed", "0"], "--speed must be a number from 0.01"),
    (["serve", "--speed", "1e308"], "--speed must be a number from 0.01"),
    (["serve", "--simulate", "--dialect", "grbl"], "--dialect applies to --emulate only"),
    (["serve", "--record-dir", __file__], "--record-dir " + __file__ + ": not a directory"),
    (["serve", "--port", "70000"], "error: --port must be a port number, 0 to 65535, not "
                                   "70000"),
    (["serve", "--max-body", "-5"], "error: --max-body must be at least 1024 bytes"),
    (["serve", "--token", "schlüssel"], "error: --token (or $LABRUN_TOKEN): the token must "
                                        "be printable ASCII, as an HTTP header carries it; "
                                        "'ü' is not"),
])
def test_bad_arguments_exit_2(argv: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_robot_that_does_not_answer_exits_2_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The run worker opens the robot before the server listens; its reason reaches the
    terminal in one line."""
    robot = tmp_path / "robot.toml"
    robot.write_text('name = "bench"\n[controller]\nkind = "gcode"\ndialect = "grbl"\n'
                     f'port = "tcp://127.0.0.1:{free_port()}"\ntimeout_s = 1.0\n')
    assert main(["serve", "--robot", str(robot), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot connect to the robot: "), err


def test_a_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


TEMPERATURE = (
    'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n'
    '    ctx.load_module("temperature module gen2", 3).set_temperature(4)\n')


@pytest.mark.skipif(importlib.util.find_spec("hardware.factory") is None
                    or importlib.util.find_spec("hardware.threaded") is None,
                    reason="this labrun has no hardware factory yet")
@pytest.mark.parametrize("run_worker", [False, True], ids=["in process", "run worker"])
def test_emulated_robot_runs_the_queue_over_a_real_socket(run_worker: bool) -> None:
    from labrun.remote.robots import Robot, emulated_robot, emulator_setup

    robot: Robot | SupervisedRobot
    if run_worker:  # as labrun serve --emulate runs it: the emulator in the run worker
        config, dialect = emulator_setup(None, None)
        robot = SupervisedRobot.start(RobotSpec(config, emulate=dialect, speed=50))
    else:
        robot = emulated_robot(speed=50)
    try:
        with start_server(RunManager(robot)) as handle:
            client = RunManagerAPI(handle.url, token=handle.token)
            robot_status = client.status()["robot"]
            assert robot_status["kind"].startswith("emulated grbl")
            # --speed speeds the run's clock, its delays too, as labrun run --emulate does:
            # this delay takes 2 s of wall time at x50, well within WAIT, not 100 s.
            assert robot_status["speed"] == 50
            client.queue_item_add(item("ctx.delay(seconds=100)", "delay.py"))
            client.queue_item_add(QUICK)
            client.queue_start()  # homes the freshly connected robot first
            client.wait_for_idle(timeout=WAIT)
            results = [entry["result"] for entry in client.history_get()["items"]]
            assert [r["exit_status"] for r in results] == ["succeeded", "succeeded"]
            client.sim_interlock("door", True)
            assert client.wait_for(lambda s: s["interlocks"] == ["door"], timeout=WAIT)
            # A module the robot file does not name is refused when it is added (it was
            # taken, then failed the run at its load_module, stopping the queue).
            with pytest.raises(HTTPClientError, match="422") as refused:
                client.queue_item_add(item={"name": "temp.py", "source": TEMPERATURE})
            # ... with what to do: the emulator plays the modules of a --config file
            assert ("temp.py:4: load_module: this robot has no free temperature module for "
                    "temperatureModuleV2 in slot 3; its modules: none (labrun serve --emulate "
                    "plays the modules of the robot file given with --config: name one there "
                    "as [modules.<name>] with kind = \"temperature\" and start the "
                    "server again)") in str(refused.value)
            assert client.queue_get()["items"] == []
            client.close()
    finally:
        robot.close()


def test_a_robot_connection_lost_between_runs_is_opened_again_for_the_next(
        tmp_path: Path) -> None:
    # The cable pulled (or the board reset) while the server waited: nobody noticed, and
    # every later run failed at once with "closed the connection". The next run opens the
    # connection again, homes, and runs.
    from hardware.emulator import running_emulator
    from hardware.factory import emulator_config
    from hardware.frozen import replace
    from labrun.remote.robots import hardware_robot

    base = emulator_config("grbl")
    with running_emulator("grbl", speed=50.0, config=base) as emu:
        config = replace(base, controller=replace(base.controller, port=emu.address,
                                                  timeout_s=2.0))
        robot = hardware_robot(config)
        try:
            with start_server(RunManager(robot)) as handle:
                client = RunManagerAPI(handle.url, token=handle.token)
                for _ in range(2):
                    client.queue_item_add(QUICK)
                    client.queue_start()
                    client.wait_for_idle(timeout=WAIT)
                    emu.drop_connection()  # between runs
                results = [h["result"] for h in client.history_get()["items"]]
                assert [r["exit_status"] for r in results] == ["succeeded", "succeeded"]
                assert emu.stats.connections == 2
                client.close()
        finally:
            robot.close()


def test_a_call_the_stopping_server_cuts_off_is_answered_503_without_a_traceback(
        tmp_path: Path) -> None:
    """SIGTERM while an added protocol is still being simulated: the client is told the
    server is stopping (it was a 500 and a traceback on the server's terminal)."""
    import threading

    from labrun.remote import HTTPServerError

    process, token_url, _ = serve("--port", str(free_port()), new_session=True)
    errors: list[Exception] = []
    try:
        assert process.stderr is not None
        client = RunManagerAPI(token_url, timeout=60)
        long = item("while True:  # its check lasts until the server stops\n"
                    "    p300.move_to(plate['A1'].top())", "long.py")

        def add() -> None:
            try:
                client.queue_item_add(long)
            except Exception as exc:  # what the client is told
                errors.append(exc)

        adding = threading.Thread(target=add)
        adding.start()
        import time

        time.sleep(1.5)  # the check of long.py runs (it takes seconds)
        process.send_signal(signal.SIGTERM)
        adding.join(WAIT)
        assert process.wait(WAIT) == 0  # a stopped server
        said = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(errors) == 1 and isinstance(errors[0], HTTPServerError), errors
    assert "503" in str(errors[0]) and "the server is stopping" in str(errors[0])
    assert "Traceback" not in said


def test_one_server_at_a_time_keeps_its_records_in_a_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second server on the folder would take the first's running run for one that
    ended with its server: it is refused before it starts."""
    from labrun.remote.history_file import FolderInUse, claim

    held = claim(tmp_path)  # as a server serving there holds it
    try:
        with pytest.raises(FolderInUse):
            claim(tmp_path)
        assert main(["serve", "--simulate", "--port", str(free_port()),
                     "--record-dir", str(tmp_path)]) == 2
        assert capsys.readouterr().err == (
            f"error: --record-dir {tmp_path}: another labrun serve keeps its records in "
            f"{tmp_path}\n")
    finally:
        held.close()
    claim(tmp_path).close()  # free again once that server has ended
