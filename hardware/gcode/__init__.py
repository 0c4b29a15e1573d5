"""The G-code driver: one ``MotionController`` for GRBL 1.1, Marlin 2.x and Smoothieware.

``open_controller(config)`` connects to ``config.controller.port`` (``tcp://host:port``,
a serial device or a pyserial URL such as ``socket://host:port``) in
``config.controller.dialect`` and yields a connected ``GcodeController``.
"""

from .dialects import DIALECTS, INTERLOCK_PREFIX, Dialect, Grbl, Marlin, Smoothie, get_dialect
from .driver import AT_CONNECTION, GcodeController, open_controller
from .errors import (
    CommandUnknown,
    ConnectionLost,
    ControllerAlarm,
    ControllerError,
    ControllerTimeout,
    InterlockActive,
    MotionInterrupted,
    SettingsMismatch,
)
from .planning import default_axis_map
from .transport import SerialTransport, TcpTransport, Transport, open_transport

__all__ = [
    "AT_CONNECTION",
    "DIALECTS",
    "INTERLOCK_PREFIX",
    "CommandUnknown",
    "ConnectionLost",
    "ControllerAlarm",
    "ControllerError",
    "ControllerTimeout",
    "Dialect",
    "GcodeController",
    "Grbl",
    "InterlockActive",
    "Marlin",
    "MotionInterrupted",
    "SerialTransport",
    "SettingsMismatch",
    "Smoothie",
    "TcpTransport",
    "Transport",
    "default_axis_map",
    "get_dialect",
    "open_controller",
    "open_transport",
]
