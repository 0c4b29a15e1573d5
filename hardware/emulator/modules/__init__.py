"""Emulated twins of the Opentrons modules, each behind a pseudo-terminal of its own.

``running_module_twins({"mag": "magnetic", ...}, speed=20)`` starts one firmware per
module in a background thread (``models={"mag": "magneticModuleV1"}``: of that model, not
the kind's newest); ``twins.address(name)`` is the pty to give the serial
driver as its port, ``twins.firmware(name)`` the twin itself (its state, the lines it
received), ``twins.call(fn)`` runs ``fn`` in the twins' loop, ``twins.drop(name)`` pulls
the cable, ``twins.hold_line(name, True)`` holds its line (until ``False``),
``twins.report_error(name, text)`` has the firmware report an error of its own,
``twins.overheat(name)`` has a temperature module switch its target off by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import anyio
import anyio.from_thread

from ...clock import RealClock
from ..links import PtyLink, hold_line
from .base import ModuleFirmware, Refused
from .firmwares import (
    FIRMWARES,
    HeaterShakerFirmware,
    MagneticModuleFirmware,
    TemperatureModuleFirmware,
    ThermocyclerFirmware,
    ThermocyclerGen1Firmware,
    twin_firmware,
)

T = TypeVar("T")


class ModuleTwins:
    """Running twins, controlled from the thread that started them."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal,
                 firmwares: Mapping[str, ModuleFirmware], addresses: Mapping[str, str]) -> None:
        self._portal = portal
        self._firmwares = dict(firmwares)
        self._addresses = dict(addresses)

    @property
    def names(self) -> list[str]:
        return list(self._firmwares)

    def address(self, name: str) -> str:
        """The pseudo-terminal of module ``name`` (a serial port for the driver)."""
        return self._addresses[name]

    def firmware(self, name: str) -> ModuleFirmware:
        """The twin of module ``name`` (read its state through ``call``)."""
        return self._firmwares[name]

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` in the twins' loop; its result."""
        return self._portal.call(fn)

    def report_error(self, name: str, text: str) -> None:
        """Fault: module ``name`` reports an error of its own (``async ERRnnn:...``)."""
        self._portal.call(self._firmwares[name].report_async_error, text)

    def overheat(self, name: str) -> None:
        """Fault: temperature module ``name`` overheats and switches its target off."""
        firmware = self._firmwares[name]
        if not isinstance(firmware, TemperatureModuleFirmware):
            raise TypeError(f"module {name!r} is no temperature module")
        self._portal.call(firmware.overheat)

    def drop(self, name: str) -> None:
        """Fault: close module ``name``'s connection now."""
        self._portal.call(self._firmwares[name].drop)

    def hold_line(self, name: str, held: bool) -> None:
        """Fault: module ``name`` holds its line (True), as flow control or a USB firmware
        that stopped reading does: the driver's writes wait until it is let go (False)."""
        self._portal.call(hold_line, self._firmwares[name].link, held)


@contextmanager
def running_module_twins(kinds: Mapping[str, str], *, speed: float = 1.0,
                         models: Mapping[str, str | None] | None = None,
                         ) -> Iterator[ModuleTwins]:
    """Twins of the modules ``kinds`` names (name -> kind), each of the model ``models``
    gives it (else the kind's newest), on the emulator's clock sped up ``speed`` times,
    for the duration of the ``with`` block."""
    chosen = models or {}
    with anyio.from_thread.start_blocking_portal() as portal:
        clock = RealClock(speed)

        async def create() -> tuple[dict[str, ModuleFirmware], dict[str, PtyLink]]:
            firmwares = {name: twin_firmware(kind, chosen.get(name), clock)
                         for name, kind in kinds.items()}
            return firmwares, {name: PtyLink() for name in kinds}

        firmwares, links = portal.call(create)
        futures = [portal.start_task(firmwares[name].serve, links[name],
                                     name=f"labrun-module-twin-{name}")[0]
                   for name in kinds]
        try:
            yield ModuleTwins(portal, firmwares, {n: link.path for n, link in links.items()})
        finally:
            for future in futures:
                future.cancel()


__all__ = [
    "FIRMWARES",
    "HeaterShakerFirmware",
    "MagneticModuleFirmware",
    "ModuleFirmware",
    "ModuleTwins",
    "Refused",
    "TemperatureModuleFirmware",
    "ThermocyclerFirmware",
    "ThermocyclerGen1Firmware",
    "running_module_twins",
    "twin_firmware",
]
