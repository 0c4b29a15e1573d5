"""Heater-shaker commands: heater, shaker, labware latch."""

from __future__ import annotations

from .module_call import ModuleCommand, ModuleWait


class SetTargetShakerTemperature(ModuleCommand):
    __slots__ = ("celsius",)
    kind = "heaterShaker/setTargetTemperature"
    method = "set_temperature"
    celsius: float

    def __init__(self, module: str, celsius: float) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "celsius", celsius)


class WaitForShakerTemperature(ModuleWait):
    __slots__ = ()
    kind = "heaterShaker/waitForTemperature"
    method = "wait_for_temperature"


class DeactivateHeater(ModuleCommand):
    __slots__ = ()
    kind = "heaterShaker/deactivateHeater"
    method = "deactivate_heater"


class SetAndWaitForShakeSpeed(ModuleCommand):
    """Shake at ``rpm`` (returns when at speed)."""

    __slots__ = ("rpm",)

    kind = "heaterShaker/setAndWaitForShakeSpeed"
    method = "set_shake_speed"
    rpm: float

    def __init__(self, module: str, rpm: float) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "rpm", rpm)


class DeactivateShaker(ModuleCommand):
    __slots__ = ()
    kind = "heaterShaker/deactivateShaker"
    method = "deactivate_shaker"


class OpenLabwareLatch(ModuleCommand):
    __slots__ = ()
    kind = "heaterShaker/openLabwareLatch"
    method = "open_latch"


class CloseLabwareLatch(ModuleCommand):
    __slots__ = ()
    kind = "heaterShaker/closeLabwareLatch"
    method = "close_latch"
