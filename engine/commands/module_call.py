"""What every module command is: one call of the device vocabulary on one loaded module.

``method`` names the device call (``hardware.devices``); the command's fields other than
``module`` are its params, named as the vocabulary names them. Setting a temperature,
a magnet height, a lid or latch position is reversible (it can simply be set again);
waits are ``WAIT`` commands: time runs on during a pause and the wait is called again
after the resume.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hardware.frozen import values

from .base import Command, Execution


class ModuleCommand(Command):
    """Base of the module commands."""

    __slots__ = ("module",)

    method: ClassVar[str] = ""
    execution = Execution.DEVICE
    sets_target: ClassVar[bool] = True  # it changes what the module is told to do
    module: str

    def __init__(self, module: str) -> None:
        object.__setattr__(self, "module", module)

    def device_params(self) -> dict[str, Any]:
        """The params of the device call (as the command has them, not rounded)."""
        params = dict(zip(self.fields, values(self), strict=True))
        del params["module"]
        return params


class ReadModule(ModuleCommand):
    """Read what the module is doing now (a protocol reading a temperature on a robot);
    changes nothing, so it may run again."""

    __slots__ = ()

    kind = "module/read"
    sets_target = False


class ModuleWait(ModuleCommand):
    """Base of the module waits: a wait on the run's clock, called again after a pause."""

    __slots__ = ()

    execution = Execution.WAIT
    sets_target = False
