"""Parking a controller that holds motion while an interlock is active (GRBL's door).

``HoldingController`` behaves like GRBL on the simulated robot's virtual clock: it
refuses moves while the door is open, and a move the door interrupts stops where it is
and stays held until cancelled. Parking must not try to move it then, still read the
position back and lower the currents; unparking once the door is closed brings it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from engine import commands as c
from engine.actions import Action, Resume
from engine.channel import CommandChannel
from engine.run import Run
from engine.state import RunState, Status, StepInfo
from hardware import parking
from hardware.clock import VirtualClock
from hardware.config import default_config
from hardware.controller import HardwareFault
from hardware.simulated import SimulatedController

P300 = c.LoadInstrument("p300_single_gen2", "left", 300.0, 300.0 / 16, 18.0, 19.0, 20.0)
CONFIG = default_config()


class HoldingController(SimulatedController):
    """A simulated robot with GRBL's door behaviour."""

    moves_during_interlock = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = 0
        self.held = 0
        self._hold: anyio.CancelScope | None = None

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        if self.active_interlocks():
            self.refused += 1
            raise HardwareFault("door open: the controller will not move until it is closed")
        await super().move(target, speed)

    async def _travel(self, target: Mapping[str, float], speed: float | None) -> None:
        with anyio.CancelScope() as self._hold:
            await super()._travel(target, speed)  # stops where the trajectory is
        self._hold = None
        if self.active_interlocks():
            self.held += 1
            await anyio.sleep_forever()  # held until someone stops the move

    def set_interlock(self, name: str, active: bool) -> None:
        super().set_interlock(name, active)
        if active and self._hold is not None:
            self._hold.cancel()


def test_the_simulated_robot_moves_during_an_interlock() -> None:
    assert SimulatedController(CONFIG).moves_during_interlock is True
    assert HoldingController(CONFIG).moves_during_interlock is False


@pytest.mark.anyio
async def test_parking_behind_an_open_door_moves_nothing_but_reads_back_and_lowers_currents(
        ) -> None:
    robot = HoldingController(CONFIG, VirtualClock())
    await robot.move({"X": 100.0, "Y": 100.0, "Z": 50.0})
    robot.set_interlock("door", True)
    here = await robot.read_position()
    parked = await parking.park(robot, CONFIG, here, keep_xy=False)
    assert parked == here  # read back, where the axes stopped
    assert robot.refused == 0  # parking did not even try
    assert robot.currents["B"] == CONFIG.axes["B"].idle_current
    # Once the door is closed, unparking returns to the recorded position.
    robot.set_interlock("door", False)
    back = await parking.unpark(robot, CONFIG, here)
    assert back == pytest.approx(here)
    assert robot.currents["B"] == CONFIG.axes["B"].run_current


@pytest.mark.anyio
async def test_a_door_opening_during_a_parking_move_stops_it_and_skips_the_rest() -> None:
    clock = VirtualClock()
    robot = HoldingController(CONFIG, clock)
    await robot.move({"X": 100.0, "Y": 100.0, "Z": 20.0})
    here = await robot.read_position()
    # The Z lift to 190 mm takes about 1.4 s; the door opens half-way through it.
    clock.call_at(clock.now() + 0.7, lambda: robot.set_interlock("door", True))
    with anyio.fail_after(5):
        parked = await parking.park(robot, CONFIG, here, keep_xy=False)
    assert robot.refused == 0
    assert 20.0 < parked["Z"] < CONFIG.safe_height  # stopped where the door caught it
    assert (parked["X"], parked["Y"]) == (100.0, 100.0)  # the gantry move was skipped


@pytest.mark.anyio
async def test_a_controller_that_would_move_is_not_moved_behind_the_door_either() -> None:
    robot = SimulatedController(CONFIG, VirtualClock())
    await robot.move({"X": 100.0, "Y": 100.0, "Z": 50.0})
    here = await robot.read_position()
    robot.set_interlock("door", True)
    parked = await parking.park(robot, CONFIG, here, keep_xy=False)
    assert parked == here  # the hands that opened it are in the deck
    robot.set_interlock("door", False)
    parked = await parking.park(robot, CONFIG, here, keep_xy=False)  # closed: as usual
    assert (parked["X"], parked["Y"]) == CONFIG.park_position
    assert parked["Z"] == CONFIG.safe_height


def test_a_run_paused_by_the_door_parks_in_place_and_resumes_where_it_stopped() -> None:
    clock = VirtualClock()
    robot = HoldingController(CONFIG, clock)

    def protocol(channel: CommandChannel) -> None:
        channel.execute(P300, StepInfo(0, "load"))
        channel.execute(c.MoveTo("left", (100.0, 100.0, 60.0)), StepInfo(1, "move"))
        clock.call_at(clock.now() + 0.3, lambda: robot.set_interlock("door", True))
        clock.call_at(clock.now() + 60.0, lambda: robot.set_interlock("door", False))
        channel.execute(c.MoveTo("left", (350.0, 300.0, 60.0)), StepInfo(2, "long move"))

    def resume_once_closed(state: RunState) -> Action | None:
        return None if state.interlocks else Resume(source="test")

    run = Run(protocol, config=CONFIG, controller=robot, clock=clock,
              on_stalled=resume_once_closed).start()
    try:
        run.control.play()
        final = run.wait(10)
    finally:
        run.close()
    assert final.status is Status.SUCCEEDED, final
    events = run.record.events
    park = next(e for e in events if e["event"] == "park")
    unpark = next(e for e in events if e["event"] == "unpark")
    assert park["parked"] == pytest.approx(park["recorded"])  # nothing moved behind the door
    assert 100.0 < park["recorded"]["X"] < 350.0  # stopped mid-move
    # The step made moves only: it is rewound to its checkpoint, where the move began.
    assert unpark["rewind"] is True
    assert unpark["position"] == pytest.approx(unpark["recorded"])
    checkpoint = (100.0 + 34.0, 100.0)  # the first move's target, left mount offset -34 mm
    assert (unpark["position"]["X"], unpark["position"]["Y"]) == pytest.approx(checkpoint)
    assert robot.refused == 0  # no move was tried while the door was open
    statuses = [e["status"] for e in events if e["event"] == "status"]
    assert statuses[:4] == ["running", "pausing", "paused", "running"]
    pause = next(e for e in events if e["event"] == "status" and e["status"] == "paused")
    assert pause["pause_source"] == "interlock"


class StallingController(HoldingController):
    """GRBL-like, and its parking moves stall: no answer comes (as grbl-sim's do when its
    stepper underruns on a loaded machine: ``Idle`` with a block left and no ``ok``)."""

    stall = False

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        if self.stall:
            raise HardwareFault("no answer from the controller to 'G4 P0' and no sign of "
                                "progress for 3 s")
        await super().move(target, speed)


@pytest.mark.anyio
async def test_a_parking_move_that_fails_raises_its_fault_not_a_group() -> None:
    robot = StallingController(CONFIG, VirtualClock())
    await robot.move({"X": 100.0, "Y": 100.0, "Z": 50.0})
    robot.stall = True
    with pytest.raises(HardwareFault, match=r"no answer from the controller to 'G4 P0'"):
        await parking.park(robot, CONFIG, await robot.read_position(), keep_xy=False)


def test_a_run_whose_parking_fails_says_why() -> None:
    clock = VirtualClock()
    robot = StallingController(CONFIG, clock)

    def protocol(channel: CommandChannel) -> None:
        channel.execute(P300, StepInfo(0, "load"))
        channel.execute(c.MoveTo("left", (100.0, 100.0, 60.0)), StepInfo(1, "move"))
        robot.stall = True
        channel.execute(c.WaitForResume("look"), StepInfo(2, "pause"))

    run = Run(protocol, config=CONFIG, controller=robot, clock=clock).start()
    try:
        run.control.play()
        final = run.wait(10)
    finally:
        run.close()
    assert final.status is Status.FAILED
    assert final.outcome is not None
    assert final.outcome.error is not None
    assert final.outcome.error.startswith("no answer from the controller to 'G4 P0'"), \
        final.outcome.error
