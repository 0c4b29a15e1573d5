"""An emergency stop (``re_halt``) between two runs of a running queue: no run has the
robot, yet it may be homing for the next one (after a halt, or just connected), or be
about to. The halt stops that homing as it stops a run's motion, and the queue stops
before the next run; it was refused ("no run is executing") while the robot moved."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item

from hardware.controller import HardwareFault, Position

HOMING_HALTED = ("quick.py could not start: the robot could not be homed: its homing was "
                 "halted (re_halt); it homes again before it moves")


def start_in_thread(served: Served) -> tuple[threading.Thread, list[dict[str, Any]]]:
    """``queue_start`` from another client (it answers once a run has started, or not)."""
    replies: list[dict[str, Any]] = []
    client = served.api(request_fail_exceptions=False)
    thread = threading.Thread(target=lambda: replies.append(client.queue_start()))
    thread.start()
    return thread, replies


@pytest.fixture
def halted_once(served: Served, gates: Gates) -> Iterator[Served]:
    """A server whose robot a first run's halt left to be homed before the next run."""
    c = served.client
    c.queue_item_add(item('p300.move_to(plate["A1"].top())\ngates.wait("held")', "first.py"))
    c.queue_start()
    gates.reached("held")
    c.re_halt()
    c.wait_for_idle(timeout=WAIT)
    c.robot_tips_removed()
    assert served.robot.controller.requires_homing
    yield served


def test_a_halt_while_the_robot_homes_for_the_next_run_stops_it(halted_once: Served) -> None:
    served = halted_once
    c = served.client
    controller: Any = served.robot.controller
    homing, cut_off = threading.Event(), threading.Event()
    home = controller.home

    async def long_homing(axes: Any = None) -> Position:  # a homing cycle going on
        homing.set()
        try:
            await anyio.sleep_forever()
        finally:
            cut_off.set()
        raise AssertionError("not reached")  # pragma: no cover

    controller.home = long_homing
    c.queue_item_add(QUICK)
    thread, replies = start_in_thread(served)
    assert homing.wait(WAIT)
    reply = c.re_halt()
    assert reply["success"] is True
    assert reply["msg"] == ("no run was executing: the robot was getting ready for quick.py; "
                            "its homing was halted and the queue stops")
    thread.join(WAIT)
    assert cut_off.is_set() and controller.requires_homing  # the emergency stop went out
    assert replies == [{"success": False, "msg": HOMING_HALTED}]
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] == HOMING_HALTED and status["items_in_queue"] == 1
    assert [h["name"] for h in c.history_get()["items"]] == ["first.py"]
    controller.home = home  # started again, it homes first and runs
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    assert [h["result"]["exit_status"] for h in c.history_get()["items"]] == [
        "halted", "succeeded"]


def test_a_halt_as_the_robot_connects_again_before_it_homes_keeps_it_from_homing(
        halted_once: Served) -> None:
    """The connection was lost between runs: it is opened again (a board's handshake),
    then the robot homes. A halt meanwhile: nothing moves yet, and it does not start
    homing once connected (the queue said it stopped, and the robot homed all the same)."""
    served = halted_once
    c = served.client
    controller: Any = served.robot.controller
    connecting, connected = threading.Event(), threading.Event()
    homed: list[Any] = []
    connect, home = controller.connect, controller.home

    async def slow_connect() -> None:
        connecting.set()
        await anyio.to_thread.run_sync(lambda: connected.wait(WAIT))
        await connect()

    async def recorded_home(axes: Any = None) -> Position:
        homed.append(axes)
        position: Position = await home(axes)
        return position

    controller.connect, controller.home = slow_connect, recorded_home
    c.queue_item_add(QUICK)
    thread, replies = start_in_thread(served)
    assert connecting.wait(WAIT)
    reply = c.re_halt()
    assert reply["msg"] == ("no run was executing: the robot was getting ready for quick.py; "
                            "nothing was moving and the queue stops")
    connected.set()
    thread.join(WAIT)
    said = "quick.py could not start: halted (re_halt) before it started"
    assert replies == [{"success": False, "msg": said}]
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] == said
    assert homed == [] and controller.requires_homing


def test_a_halt_as_the_next_run_is_checked_stops_the_queue_before_it(
        served: Served, gates: Gates) -> None:
    c = served.client
    c.queue_item_add(item('if gates.is_set("hold the check"):\n'
                          '    gates.wait("checked", simulation=True)\n'
                          'p300.transfer(50, plate["A1"], plate["B1"])', "quick.py"))
    gates.set("hold the check")  # the check right before it starts: nothing moves yet
    thread, replies = start_in_thread(served)
    gates.reached("checked")
    reply = c.re_halt()
    assert reply["success"] is True
    assert reply["msg"] == ("no run was executing: the robot was getting ready for quick.py; "
                            "nothing was moving and the queue stops")
    gates.open("checked")
    thread.join(WAIT)
    said = "quick.py could not start: halted (re_halt) before it started"
    assert replies == [{"success": False, "msg": said}]
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] == said
    assert status["items_in_queue"] == 1 and c.history_get()["items"] == []


def test_the_run_worker_halts_the_homing_it_is_doing() -> None:
    """Under ``labrun serve`` the run worker homes the robot: the server's ``halt_home``
    reaches that homing while it goes, and its ``home`` is answered with why it did not
    end."""
    import multiprocessing

    from hardware.config import default_config
    from labrun.remote.runner import Link, RobotSpec, RunWorker

    spec = RobotSpec(default_config())
    robot = spec.open()
    controller: Any = robot.controller
    anyio.run(controller.emergency_stop)  # as a halt leaves it: to be homed
    homing, cut_off = threading.Event(), threading.Event()

    async def long_homing(axes: Any = None) -> Position:
        homing.set()
        try:
            await anyio.sleep_forever()
        finally:
            cut_off.set()
        raise AssertionError("not reached")  # pragma: no cover

    controller.home = long_homing
    server_end, worker_end = multiprocessing.Pipe()
    worker = RunWorker(Link(worker_end), robot, spec)
    thread = threading.Thread(target=anyio.run, args=(worker.main,))
    thread.start()
    server = Link(server_end)
    try:
        assert (server.receive(WAIT) or [None])[0] == "ready"
        server.send("home", 1)
        assert homing.wait(WAIT)
        server.send("halt_home", 2)
        answers: dict[int, Any] = {}
        while len(answers) < 2:
            message = server.receive(WAIT)
            assert message is not None
            if message[0] == "answer":
                answers[message[1]] = message[2]
        assert answers == {2: "", 1: "its homing was halted (re_halt); it homes again "
                                       "before it moves"}
        assert cut_off.is_set() and controller.requires_homing
    finally:
        server.send("quit")
        thread.join(WAIT)
        robot.close()


def test_an_emergency_stop_not_confirmed_while_the_robot_homes_is_said(
        halted_once: Served) -> None:
    """The controller does not confirm the emergency stop that cuts the homing off (its
    link gone): the halt says so, and that the robot may still be moving, as a run's halt
    does; it was answered 500, the queue's reason saying nothing of it."""
    served = halted_once
    c = served.client
    controller: Any = served.robot.controller
    homing = threading.Event()

    async def long_homing(axes: Any = None) -> Position:
        homing.set()
        await anyio.sleep_forever()
        raise AssertionError("not reached")  # pragma: no cover

    async def unconfirmed_stop() -> None:
        raise HardwareFault("the controller does not answer")

    controller.home, controller.emergency_stop = long_homing, unconfirmed_stop
    c.queue_item_add(QUICK)
    thread, replies = start_in_thread(served)
    assert homing.wait(WAIT)
    reply = served.api(request_fail_exceptions=False).re_halt()
    thread.join(WAIT)
    unconfirmed = ("the controller did not confirm the emergency stop (the controller does "
                   "not answer): it may still be moving; cut its power")
    assert reply == {"success": True, "msg": (
        "no run was executing: the robot was getting ready for quick.py; its homing was "
        f"halted, but {unconfirmed}; the queue stops"), "run_status": None}
    said = f"{HOMING_HALTED}; {unconfirmed}"
    assert replies == [{"success": False, "msg": said}]
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] == said


def test_a_halt_while_the_run_worker_is_started_again_keeps_the_new_one_from_homing(
        gates: Gates) -> None:
    """The run worker died between two runs (the robot's connection went with it): the
    next run waits for a new one, which connects and homes. A halt meanwhile: nothing
    moves yet, and the new worker does not home once started (the queue said it stopped,
    and the robot homed all the same)."""
    import os
    import signal

    from hardware.emulator import running_emulator
    from hardware.factory import emulator_config
    from hardware.frozen import replace
    from labrun.remote import RunManager, start_server
    from labrun.remote.runner import RobotSpec
    from labrun.remote.supervisor import SupervisedRobot

    base = emulator_config("grbl")
    with running_emulator("grbl", speed=50.0, config=base) as emu:
        config = replace(base, controller=replace(base.controller, port=emu.address))
        robot = SupervisedRobot.start(RobotSpec(config, speed=50.0))
        try:
            manager = RunManager(robot)
            gates.watch(manager)
            with start_server(manager) as handle:
                served = Served(handle, robot)
                c = served.client
                c.queue_item_add(QUICK)
                c.queue_start()  # homes the freshly connected robot, and runs
                assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
                launch, home_if_needed = robot._launch, robot.home_if_needed
                launching, launched, getting_ready = (threading.Event(), threading.Event(),
                                                      threading.Event())

                def held_launch() -> None:  # the new worker is slow to start
                    launching.set()
                    launched.wait(WAIT)
                    launch()

                async def watched_home_if_needed() -> None:
                    getting_ready.set()
                    await home_if_needed()

                robot._launch = held_launch  # type: ignore[method-assign]
                robot.home_if_needed = watched_home_if_needed  # type: ignore[method-assign]
                pid = robot.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                assert launching.wait(WAIT)
                c.queue_item_add(QUICK)
                thread, replies = start_in_thread(served)
                assert getting_ready.wait(WAIT)
                homings = emu.stats.lines.count("$H")
                reply = c.re_halt()
                assert reply["msg"] == ("no run was executing: the robot was getting ready "
                                        "for quick.py; nothing was moving and the queue "
                                        "stops")
                launched.set()
                thread.join(WAIT)
                said = "quick.py could not start: halted (re_halt) before it started"
                assert replies == [{"success": False, "msg": said}]
                status = c.wait_for_idle(timeout=WAIT)
                assert status["queue_error"] == said and status["items_in_queue"] == 1
                assert robot.pid not in (None, pid)  # the new worker has the robot
                assert emu.stats.lines.count("$H") == homings  # it did not home it
                c.close()
        finally:
            robot.close()
