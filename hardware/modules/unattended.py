"""What a module does while the run asks nothing of it, beyond ``hardware.devices.Device``.

A serial module meets faults on its own (its cable pulled, an error its firmware reports
by itself): ``ReportsFaults`` says whom to tell. A thermocycler runs a profile by itself,
step after step, through pauses: ``RunsOnItsOwn.abandon`` stops it at a halt, the block
holding the step it was at. ``driver_of`` finds the driver behind a device that only
carries calls across threads (``hardware.threaded.ThreadedDevice``), where these live.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..controller import FaultListener
from ..devices import Device


@runtime_checkable
class ReportsFaults(Protocol):
    """A module driver that reports the faults it meets while nothing is asked of it."""

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """Tell ``listener``, in the loop this is called from, of every fault; None: nobody."""
        ...


@runtime_checkable
class RunsOnItsOwn(Protocol):
    """A module driver that runs something by itself (a thermocycler's profile)."""

    def abandon(self) -> bool:
        """Stop sending what it runs by itself, now, from any thread (heaters are left as
        they are); whether anything was running."""
        ...


def driver_of(device: Device) -> object:
    """The module driver behind ``device``: a ``ThreadedDevice``'s own, else ``device``."""
    return getattr(device, "inner", device)
