"""labrun's G-code controller emulator: GRBL, Marlin and Smoothieware over TCP or a pty.

Real motion timing (``hardware.kinematics``) on a clock that can run faster than real
time, a planner queue so acknowledgements come when the firmware would send them,
homing, currents, a door input, alarms and their recovery, and fault injection
(``Faults``) that tests switch at runtime.

In-process::

    with running_emulator("grbl", speed=20) as emu:
        config = replace(config, controller=ControllerConfig(
            kind="gcode", dialect="grbl", port=emu.address))
        emu.set_door(True)
"""

from .faults import Faults, Stats
from .firmware import FIRMWARES
from .planner import Machine
from .server import Emulator, EmulatorHandle, main, running_emulator, serve_emulator

__all__ = [
    "FIRMWARES",
    "Emulator",
    "EmulatorHandle",
    "Faults",
    "Machine",
    "Stats",
    "main",
    "running_emulator",
    "serve_emulator",
]
