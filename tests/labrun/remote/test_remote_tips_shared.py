"""A tip left on a robot is known to ``labrun run`` and ``labrun serve --robot`` alike: a
lab drives one robot both ways, and each kept its own word of it, so a run after the
other's halt pressed a fresh tip onto the used one. Real processes, labrun's emulator on
a real socket, the state folder the tests share."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated_runs import grbl_robot_file
from remote_kit import WAIT, item, protocol
from test_remote_cli import free_port, serve

from hardware.emulator import EmulatorHandle, running_emulator
from labrun.cli.main import main
from labrun.cli.tips_left import remember, robot_key, said_of
from labrun.remote import RequestFailedError, RunManagerAPI

HALTED = {"run": "held.py", "status": "halted",
          "mounts": {"right": {"volume_ul": 100.0}}}


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator("grbl", speed=100.0) as emu:
        yield emu


@pytest.fixture
def robot(tmp_path: Path, emulator: EmulatorHandle) -> Iterator[Path]:
    path = grbl_robot_file(tmp_path, emulator.address)
    yield path
    with contextlib.suppress(Exception):  # the next test's robot starts with nothing on
        remember(robot_key(str(path)), None)


@contextlib.contextmanager
def serving(robot: Path, records: Path) -> Iterator[RunManagerAPI]:
    """``labrun serve --robot robot --record-dir records`` in a process, once it listens;
    stopped with Ctrl-C on the way out."""
    process, token_url, _ = serve("--port", str(free_port()), "--record-dir", str(records),
                                  robot=robot, stdout=subprocess.DEVNULL)
    try:
        client = RunManagerAPI(token_url)
        try:
            yield client
        finally:
            client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def quick(tmp_path: Path) -> Path:
    path = tmp_path / "quick.py"
    path.write_text(protocol('p300.transfer(50, plate["A1"], plate["B1"])'))
    return path


def test_a_tip_a_served_run_left_holds_the_next_labrun_run(
        tmp_path: Path, robot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serving(robot, tmp_path / "records") as client:
        client.queue_item_add(item('p300.pick_up_tip()\np300.aspirate(100, plate["A1"])\n'
                                   'ctx.delay(minutes=60)\np300.drop_tip()', "held.py"))
        client.queue_start()
        client.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
        client.re_halt()
        status = client.wait_for_idle(timeout=WAIT)
        assert status["tips_left"]["mounts"] == {"right": {"volume_ul": 100.0}}
    status_code = main(["run", str(quick(tmp_path)), "--robot", str(robot), "-y"])
    err = capsys.readouterr().err
    assert status_code == 4
    assert ("error: the right pipette holds a tip with about 100 µL, left by held.py "
            "(halted): take it off the robot, then run again with --tips-removed\n") in err
    assert "nothing was connected or moved" in err
    # said off (and the run went): a server started now knows the robot is clear
    assert main(["run", str(quick(tmp_path)), "--robot", str(robot), "-y",
                 "--tips-removed"]) == 0
    with serving(robot, tmp_path / "records") as client:
        assert client.status()["tips_left"] is None


def test_a_tip_labrun_run_left_holds_a_server_s_queue_until_said_off(
        tmp_path: Path, robot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remember(robot_key(str(robot)), HALTED)  # as labrun run keeps it after a halt
    with serving(robot, tmp_path / "records") as client:
        assert client.status()["tips_left"] == HALTED
        client.queue_item_add(item('p300.transfer(50, plate["A1"], plate["B1"])', "next.py"))
        with pytest.raises(RequestFailedError, match=r"the right pipette holds a tip with about "
                           r"100 µL, left by held.py \(halted\): take it off"):
            client.queue_start()
        assert client.robot_tips_removed()["success"]
        assert said_of(robot_key(str(robot))) == {"mounts": {}}
        client.queue_start()
        assert client.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert main(["run", str(quick(tmp_path)), "--robot", str(robot), "-y"]) == 0


def test_a_served_run_the_server_never_saw_end_is_held_by_the_next_labrun_run(
        tmp_path: Path, robot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the server's word while its run plays: should it die with its worker, a tip may be on
    with serving(robot, tmp_path / "records") as client:
        client.queue_item_add(item('p300.pick_up_tip()\nctx.delay(minutes=60)\n'
                                   'p300.drop_tip()', "long.py"))
        client.queue_start()
        client.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
        kept = said_of(robot_key(str(robot)))
        assert kept is not None and kept["unfinished"] and kept["run"] == "long.py"
        client.re_stop()  # its cleanup drops the tip
        client.wait_for_idle(timeout=WAIT)
        assert said_of(robot_key(str(robot))) == {"mounts": {}}


def test_a_tip_left_while_the_server_ran_holds_its_next_run(
        tmp_path: Path, robot: Path) -> None:
    # The server read the word once, at its start: a labrun run on the robot while its
    # run worker was gone (lost, not yet restarted: no lock held) left a tip, and the
    # server's next run pressed a fresh one onto it and wrote the word away.
    with serving(robot, tmp_path / "records") as client:
        assert client.status()["tips_left"] is None
        remember(robot_key(str(robot)), HALTED)  # as that labrun run kept it
        client.queue_item_add(item('p300.transfer(50, plate["A1"], plate["B1"])', "next.py"))
        with pytest.raises(RequestFailedError, match=r"the right pipette holds a tip with about "
                           r"100 µL, left by held.py \(halted\): take it off"):
            client.queue_start()
        assert client.status()["tips_left"] == HALTED
        assert said_of(robot_key(str(robot))) == HALTED  # not written away
