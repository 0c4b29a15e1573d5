"""Parking and unparking (docs/design.md §5), on any ``MotionController``.

Park: every Z axis up to the safe height, the gantry to the park position unless told
to keep it where it is (a tip holds liquid), plunger motors to their low holding
current. Plungers keep their position: no motor is switched off. Unpark reverses it:
currents restored, gantry back above the recorded position at safe height, then Z
lowered to the recorded heights. The position is read back after the gantry move and
after lowering: a robot more than ``RESUME_TOLERANCE_MM`` from the recorded position
(its coordinates changed during the pause) is a ``HardwareFault`` before Z goes down.

Nothing moves behind an active interlock (an open door): parking then leaves the axes
where they stopped, reads the position back and lowers the currents, on every
controller, whether it holds motion itself (GRBL with its door open:
``moves_during_interlock`` is False) or would move (Marlin, Smoothie, the simulated
robot). On a controller that holds motion, an interlock tripping during a parking move
stops that move and skips the rest. Unparking, once the interlock has cleared, brings
the robot back to the recorded position as usual.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import RobotConfig
from .controller import HardwareFault, MotionController, Position
from .kinematics import capped_speed

RESUME_TOLERANCE_MM = 0.01
"""How far unparking may land from the recorded position."""
INTERLOCK_POLL_S = 0.01
"""How often a parking move on a controller that holds motion checks the interlocks."""
INTERLOCK_GRACE_S = 2.0
"""How long an unparking move refused by a fresh interlock waits to be cancelled by the
pause that interlock causes, before the refusal counts as a fault."""


def holds_motion(controller: MotionController) -> bool:
    """True when the controller refuses to move now: it holds motion behind an interlock."""
    return not controller.moves_during_interlock and bool(controller.active_interlocks())


async def park(controller: MotionController, config: RobotConfig, position: Mapping[str, float],
               *, keep_xy: bool, over: tuple[float, float] | None = None) -> Position:
    """Park from ``position`` (where the axes stopped); return the parked position.

    With ``keep_xy`` (a tip holds liquid) the gantry stays where it stopped, or goes to
    ``over`` (X, Y: above the well the liquid came from or went to) at the safe height.
    """
    lift = {z: max(position[z], config.safe_height) for z in config.z_axes}
    moving = True
    if any(abs(lift[z] - position[z]) > 1e-9 for z in lift):
        moving = await _park_move(controller, lift)
    x, y = config.park_position if not keep_xy else over or (position["X"], position["Y"])
    if moving and (abs(position["X"] - x) > 1e-9 or abs(position["Y"] - y) > 1e-9):
        await _park_move(controller, {"X": x, "Y": y})
    return await hold(controller, config)


async def hold(controller: MotionController, config: RobotConfig) -> Position:
    """The end of parking, wherever the axes stand: plunger motors to their low holding
    current; returns the position read back. For a park an interlock cut off, too."""
    if controller.supports_currents:
        await controller.set_currents(
            {axis: config.axes[axis].idle_current for axis in config.plunger_axes})
    return await controller.read_position()


async def _park_move(controller: MotionController, target: Mapping[str, float]) -> bool:
    """Make one parking move; False if an active interlock prevented it. Nothing moves
    behind an active interlock (an open door), whether or not the controller would."""
    if controller.active_interlocks():
        return False
    if controller.moves_during_interlock:
        await controller.move(target)
        return True
    import anyio  # a controller that holds motion is a real one: its loop is anyio's

    tripped = False
    fault: HardwareFault | None = None  # raised after the group, which would wrap it
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal tripped
            while not controller.active_interlocks():
                await anyio.sleep(INTERLOCK_POLL_S)
            tripped = True
            tg.cancel_scope.cancel()  # the controller holds the move: stop it, skip the rest

        tg.start_soon(watch)
        try:
            await controller.move(target)
        except HardwareFault as exc:
            if holds_motion(controller):
                tripped = True  # refused: the interlock came first
            else:
                fault = exc
        tg.cancel_scope.cancel()
    if fault is not None:
        raise fault
    return not tripped


async def restore_currents(controller: MotionController, config: RobotConfig) -> None:
    """Give the plunger motors their run current again."""
    if controller.supports_currents:
        await controller.set_currents(
            {axis: config.axes[axis].run_current for axis in config.plunger_axes})


async def unpark(controller: MotionController, config: RobotConfig,
                 recorded: Mapping[str, float],
                 caps: Mapping[str, float] | None = None) -> Position:
    """Return to ``recorded`` (the position when the run paused), Z last; no axis faster
    than its cap in ``caps`` (the protocol's ``max_speeds``: the tips go back to work)."""
    caps = caps or {}
    await restore_currents(controller, config)
    here = await controller.read_position()
    lift = {z: max(here[z], config.safe_height) for z in config.z_axes}
    if any(abs(lift[z] - here[z]) > 1e-9 for z in lift):
        await _unpark_move(controller, lift, capped_speed(here, lift, None, caps))
        here = {**here, **lift}
    across = {"X": recorded["X"], "Y": recorded["Y"]}
    await _unpark_move(controller, across, capped_speed(here, across, None, caps))
    landed = await controller.read_position()
    _check_landed(landed, recorded, ("X", "Y"))
    lower = {z: recorded[z] for z in config.z_axes}
    await _unpark_move(controller, lower, capped_speed(landed, lower, None, caps))
    position = await controller.read_position()
    _check_landed(position, recorded, ("X", "Y", *config.z_axes))
    return position


def _check_landed(position: Mapping[str, float], recorded: Mapping[str, float],
                  axes: tuple[str, ...]) -> None:
    off = {a: position[a] - recorded[a] for a in axes
           if abs(position[a] - recorded[a]) > RESUME_TOLERANCE_MM}
    if off:
        raise HardwareFault(
            "unparking did not return to the recorded position: " + ", ".join(
                f"{a} is at {position[a]:.3f}, recorded {recorded[a]:.3f}" for a in off)
            + f" (more than {RESUME_TOLERANCE_MM:g} mm off); the controller's coordinates "
            "changed during the pause, so the run cannot continue safely")


async def _unpark_move(controller: MotionController, target: Mapping[str, float],
                       speed: float | None) -> None:
    try:
        await controller.move(target, speed)
    except HardwareFault:
        if not holds_motion(controller):
            raise
        # The interlock tripped just before this move: the pause it causes cancels the
        # unparking (and parks again) as soon as the engine hears of it.
        import anyio

        with anyio.move_on_after(INTERLOCK_GRACE_S):
            await anyio.sleep_forever()
        raise
