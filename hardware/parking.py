"""Parking and unparking (DESIGN.md §5), on any ``MotionController``.

Park: every Z axis up to the safe height, the gantry to the park position unless told
to keep it where it is (a tip holds liquid), plunger motors to their low holding
current. Plungers keep their position: no motor is switched off. Unpark reverses it:
currents restored, gantry back above the recorded position at safe height, then Z
lowered to the recorded heights.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import RobotConfig
from .controller import MotionController, Position


async def park(controller: MotionController, config: RobotConfig, position: Mapping[str, float],
               *, keep_xy: bool) -> Position:
    """Park from ``position`` (where the axes stopped); return the parked position."""
    lift = {z: max(position[z], config.safe_height) for z in config.z_axes}
    if any(abs(lift[z] - position[z]) > 1e-9 for z in lift):
        await controller.move(lift)
    if not keep_xy:
        x, y = config.park_position
        if abs(position["X"] - x) > 1e-9 or abs(position["Y"] - y) > 1e-9:
            await controller.move({"X": x, "Y": y})
    if controller.supports_currents:
        await controller.set_currents(
            {axis: config.axes[axis].idle_current for axis in config.plunger_axes})
    return await controller.read_position()


async def restore_currents(controller: MotionController, config: RobotConfig) -> None:
    """Give the plunger motors their run current again."""
    if controller.supports_currents:
        await controller.set_currents(
            {axis: config.axes[axis].run_current for axis in config.plunger_axes})


async def unpark(controller: MotionController, config: RobotConfig,
                 recorded: Mapping[str, float]) -> Position:
    """Return to ``recorded`` (the position when the run paused), Z last."""
    await restore_currents(controller, config)
    here = await controller.read_position()
    lift = {z: max(here[z], config.safe_height) for z in config.z_axes}
    if any(abs(lift[z] - here[z]) > 1e-9 for z in lift):
        await controller.move(lift)
    await controller.move({"X": recorded["X"], "Y": recorded["Y"]})
    await controller.move({z: recorded[z] for z in config.z_axes})
    return await controller.read_position()
