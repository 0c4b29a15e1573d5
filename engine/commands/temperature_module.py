"""Temperature module commands: set a target, wait for it, switch off."""

from __future__ import annotations

from .module_call import ModuleCommand, ModuleWait


class SetTargetTemperature(ModuleCommand):
    """Head for ``celsius`` (returns at once)."""

    __slots__ = ("celsius",)

    kind = "temperatureModule/setTargetTemperature"
    method = "set_temperature"
    celsius: float

    def __init__(self, module: str, celsius: float) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "celsius", celsius)


class WaitForTemperature(ModuleWait):
    """Wait until the plate is at its target, or (``celsius``) until it has passed that
    temperature on its way to the target, whichever comes first."""

    __slots__ = ("celsius",)

    kind = "temperatureModule/waitForTemperature"
    method = "wait_for_temperature"
    celsius: float | None

    def __init__(self, module: str, celsius: float | None = None) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "celsius", celsius)


class DeactivateTemperature(ModuleCommand):
    """Stop heating or cooling."""

    __slots__ = ()

    kind = "temperatureModule/deactivate"
    method = "deactivate"
