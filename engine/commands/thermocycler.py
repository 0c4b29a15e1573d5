"""Thermocycler commands: lid, lid heater, block, profiles.

A profile is a timed process like a delay: ``RunProfile`` starts it once and waits for
it; after a pause the profile has run on and the run waits only for what remains.
"""

from __future__ import annotations

from typing import Any

from .module_call import ModuleCommand, ModuleWait


class OpenLid(ModuleCommand):
    __slots__ = ()
    kind = "thermocycler/openLid"
    method = "open_lid"


class CloseLid(ModuleCommand):
    __slots__ = ()
    kind = "thermocycler/closeLid"
    method = "close_lid"


class SetTargetLidTemperature(ModuleCommand):
    __slots__ = ("celsius",)
    kind = "thermocycler/setTargetLidTemperature"
    method = "set_lid_temperature"
    celsius: float

    def __init__(self, module: str, celsius: float) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "celsius", celsius)


class WaitForLidTemperature(ModuleWait):
    __slots__ = ()
    kind = "thermocycler/waitForLidTemperature"
    method = "wait_for_lid_temperature"


class DeactivateLid(ModuleCommand):
    __slots__ = ()
    kind = "thermocycler/deactivateLid"
    method = "deactivate_lid"


class SetTargetBlockTemperature(ModuleCommand):
    __slots__ = ("celsius", "hold_time_s", "ramp_rate", "volume_ul")
    kind = "thermocycler/setTargetBlockTemperature"
    method = "set_block_temperature"
    celsius: float
    hold_time_s: float | None
    volume_ul: float | None
    ramp_rate: float | None

    def __init__(self, module: str, celsius: float, hold_time_s: float | None = None,
                 volume_ul: float | None = None, ramp_rate: float | None = None) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "celsius", celsius)
        object.__setattr__(self, "hold_time_s", hold_time_s)
        object.__setattr__(self, "volume_ul", volume_ul)
        object.__setattr__(self, "ramp_rate", ramp_rate)


class WaitForBlockTemperature(ModuleWait):
    """Wait until the block is at its target and has held it for the hold time."""

    __slots__ = ()

    kind = "thermocycler/waitForBlockTemperature"
    method = "wait_for_block_temperature"


class DeactivateBlock(ModuleCommand):
    __slots__ = ()
    kind = "thermocycler/deactivateBlock"
    method = "deactivate_block"


class RunProfile(ModuleWait):
    """Run ``steps`` (``celsius``, ``hold_time_s``) ``repetitions`` times and wait for the end."""

    __slots__ = ("repetitions", "steps", "volume_ul")

    kind = "thermocycler/runProfile"
    method = "execute_profile"
    sets_target = True
    steps: tuple[tuple[float, float], ...]
    repetitions: int
    volume_ul: float | None

    def __init__(self, module: str, steps: tuple[tuple[float, float], ...], repetitions: int,
                 volume_ul: float | None = None) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "repetitions", repetitions)
        object.__setattr__(self, "volume_ul", volume_ul)

    def device_params(self) -> dict[str, Any]:
        return {"steps": [{"celsius": c, "hold_time_s": h} for c, h in self.steps],
                "repetitions": self.repetitions, "volume_ul": self.volume_ul}


class DeactivateThermocycler(ModuleCommand):
    __slots__ = ()
    kind = "thermocycler/deactivate"
    method = "deactivate"
