"""The device interface: hardware modules beside the motion controller (docs/design.md §7).

A device is one module on the deck (temperature, magnetic, thermocycler, heater-shaker),
simulated on the run's clock or driven over its own serial port. The engine drives
devices only through this interface; what a module can do is in its own calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Protocol

from .controller import FaultListener


class Device(Protocol):
    """One hardware module."""

    @property
    def name(self) -> str:
        """The name the robot file gives it (``[modules.<name>]``)."""
        ...

    @property
    def kind(self) -> str:
        """What it is: ``temperature``, ``magnetic``, ``thermocycler``, ``heater_shaker``."""
        ...

    async def connect(self) -> None:
        """Open its connection (nothing for a simulated device)."""
        ...

    async def disconnect(self) -> None:
        """Close its connection."""
        ...

    async def call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out one of its calls (``set_temperature``, ``engage``, ...); its result."""
        ...

    async def park(self) -> Mapping[str, Any]:
        """The run pauses: stop what must stop (a shaker), hold the rest; what it stopped
        (``stopped_rpm``: the speed a shaker was set to), empty when nothing was moving."""
        ...

    async def unpark(self) -> None:
        """The run resumes: back to what was set (a shaker to its speed) before moving on."""
        ...

    async def deactivate(self) -> None:
        """The run is stopped or aborted: make the module safe (heaters as configured)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """What it is doing now, for the status and the record."""
        ...

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """Tell ``listener``, in the loop this is called from, of every fault the module
        meets while nothing is asked of it (its cable pulled, an error its firmware
        reports by itself); None: nobody. A module that meets none ignores it."""
        ...

    async def stop_moving(self) -> Mapping[str, Any]:
        """A halt, once the controller's emergency stop has gone out: stop what still
        moves (a shaking plate; heaters and a latch stay as they are); what it stopped
        (``stopped_rpm``: the speed a shaker was set to), empty when nothing moved."""
        ...

    def abandon(self) -> bool:
        """A halt: stop, now and from any thread, what the module runs by itself (a
        thermocycler's profile: the block holds the step it was at, heaters as they are);
        whether anything was running."""
        ...


def runs_in_hardware_thread(device: Device) -> bool:
    """Whether ``device`` is carried out in the robot's hardware thread (a serial module,
    ``hardware.threaded.ThreadedDevice``)."""
    threaded = sys.modules.get("hardware.threaded")  # not imported: there is none
    return threaded is not None and isinstance(device, threaded.ThreadedDevice)
