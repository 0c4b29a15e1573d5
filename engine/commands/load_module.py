"""``loadModule``: place a hardware module on the deck and bind it to a device."""

from __future__ import annotations

from ..robot_model import RobotModel
from .base import Command, Execution, Result


class LoadModule(Command):
    """Put a module (``kind`` and ``model``) in ``slot``; the engine binds it to one of the
    robot's devices of that kind. Moves plan over its top from now on."""

    __slots__ = ("covers", "highest_z", "model", "module", "module_kind", "slot")

    kind = "loadModule"
    execution = Execution.DEVICE
    module: str  # the module's id in this run: "<model>@<slot>"
    module_kind: str  # temperature, magnetic, thermocycler, heater_shaker
    model: str
    slot: str
    highest_z: float
    covers: tuple[str, ...]  # the slots it takes beyond its own (thermocycler)

    def __init__(self, module: str, module_kind: str, model: str, slot: str, highest_z: float,
                 covers: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "module_kind", module_kind)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "slot", slot)
        object.__setattr__(self, "highest_z", highest_z)
        object.__setattr__(self, "covers", covers)

    def apply(self, robot: RobotModel) -> Result:
        robot.module_top(self.module, self.highest_z)
        return {}
