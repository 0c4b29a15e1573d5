"""Opentrons modules driven over their serial ports (see README.md in this folder).

``serial_module(kind, name, port, clock, ...)`` builds the (unconnected) ``Device`` for a
``[modules.<name>]`` table of the robot file.
"""

from __future__ import annotations

from ...clock import Clock
from .base import SerialModule
from .heater_shaker import SerialHeaterShaker
from .magnetic import SerialMagneticModule
from .temperature import SerialTemperatureModule
from .thermocycler import SerialThermocycler
from .wire import FirmwareError, ModuleWire

SERIAL_MODULES: dict[str, type[SerialModule]] = {
    cls.kind: cls for cls in (SerialTemperatureModule, SerialMagneticModule,
                              SerialThermocycler, SerialHeaterShaker)
}
"""Module kind -> its serial driver."""


def serial_module(kind: str, name: str, port: str, clock: Clock, *, baudrate: int = 115200,
                  timeout_s: float = 10.0, heaters_off_on_stop: bool = False) -> SerialModule:
    """The serial driver for a module of ``kind`` on ``port`` (not yet connected)."""
    try:
        cls = SERIAL_MODULES[kind]
    except KeyError:
        raise ValueError(f"unknown module kind {kind!r}; expected one of "
                         f"{', '.join(repr(k) for k in SERIAL_MODULES)}") from None
    return cls(name, port, clock, baudrate=baudrate, timeout_s=timeout_s,
               heaters_off_on_stop=heaters_off_on_stop)


__all__ = [
    "SERIAL_MODULES",
    "FirmwareError",
    "ModuleWire",
    "SerialHeaterShaker",
    "SerialMagneticModule",
    "SerialModule",
    "SerialTemperatureModule",
    "SerialThermocycler",
    "serial_module",
]
