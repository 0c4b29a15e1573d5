"""The faults a G-code controller raises; every one is a ``HardwareFault``."""

from __future__ import annotations

from ..controller import HardwareFault


class ControllerError(HardwareFault):
    """The firmware rejected a command (``error:N``, ``Error:...``, ``!!``)."""


class CommandUnknown(ControllerError):
    """The firmware was not built with the command sent (Marlin without TMC drivers and
    ``M906``): ``command`` is its code."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class ControllerTimeout(HardwareFault):
    """The firmware stopped answering: nothing arrived for ``timeout_s`` seconds."""


class ConnectionLost(HardwareFault):
    """The serial port or socket closed or failed."""


class ControllerAlarm(HardwareFault):
    """The firmware is in an alarm or halt state (limit, reset in motion, emergency stop)."""


class MotionInterrupted(HardwareFault):
    """A move was ended early by ``stop_motion`` or ``emergency_stop`` from another task."""


class TooSlow(HardwareFault):
    """A move slower than the firmware moves: it would go at another speed than asked."""


class InterlockActive(HardwareFault):
    """Motion was refused because an interlock (the door) is active."""


class SettingsMismatch(HardwareFault):
    """The firmware's settings (steps/mm, units) disagree with the robot file: every move
    or read would be off, so the controller is not used."""
