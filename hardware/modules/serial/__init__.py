"""Opentrons modules driven over their serial ports (see README.md in this folder).

``serial_module(kind, name, port, clock, ..., model=...)`` builds the (unconnected)
``Device`` for a ``[modules.<name>]`` table of the robot file (a ``model`` whose firmware
speaks otherwise than the kind's newest gets its own driver: the thermocycler GEN1).
"""

from __future__ import annotations

from ...clock import Clock
from .base import SerialModule
from .heater_shaker import SerialHeaterShaker
from .magnetic import SerialMagneticModule
from .temperature import SerialTemperatureModule
from .thermocycler import SerialThermocycler, SerialThermocyclerGen1
from .wire import FirmwareError, ModuleWire

SERIAL_MODULES: dict[str, type[SerialModule]] = {
    cls.kind: cls for cls in (SerialTemperatureModule, SerialMagneticModule,
                              SerialThermocycler, SerialHeaterShaker)
}
"""Module kind -> its serial driver."""

MODEL_DRIVERS: dict[str, type[SerialModule]] = {"thermocyclerModuleV1": SerialThermocyclerGen1}
"""Module model -> its serial driver, where not its kind's."""


def serial_module(kind: str, name: str, port: str, clock: Clock, *, baudrate: int = 115200,
                  timeout_s: float = 10.0, heaters_off_on_stop: bool = False,
                  model: str | None = None) -> SerialModule:
    """The serial driver for a module of ``kind`` on ``port`` (not yet connected), the
    ``model`` the robot file says it is (None: as the kind's newest speaks)."""
    try:
        cls = SERIAL_MODULES[kind]
    except KeyError:
        raise ValueError(f"unknown module kind {kind!r}; expected one of "
                         f"{', '.join(repr(k) for k in SERIAL_MODULES)}") from None
    own = MODEL_DRIVERS.get(model or "")
    if own is not None and own.kind == kind:
        cls = own
    return cls(name, port, clock, baudrate=baudrate, timeout_s=timeout_s,
               heaters_off_on_stop=heaters_off_on_stop, model=model)


__all__ = [
    "SERIAL_MODULES",
    "FirmwareError",
    "ModuleWire",
    "SerialHeaterShaker",
    "SerialMagneticModule",
    "SerialModule",
    "SerialTemperatureModule",
    "SerialThermocycler",
    "SerialThermocyclerGen1",
    "serial_module",
]
