"""What every command is: frozen params, how it executes, whether it may run again.

A command's fields are its params. ``execution`` tells the engine loop how to carry it
out; ``reversible`` says whether it may run again when a step is rewound after an
immediate pause (moves, homing, comments) or must never be repeated (anything that
touches tips or liquid, a touch-tip included, and a labware moved by hand): a step in
which an irreversible command has started is never rewound. ``plan`` and ``apply`` are
its implementation against the robot model. Positions are deck coordinates in mm;
``well`` names a well as ``"<slot>/<well>"`` for the run record and the liquid accounting.
"""

from __future__ import annotations

import enum
from itertools import repeat
from typing import Any, ClassVar

from hardware.frozen import Frozen, values

from ..robot_model import RobotModel
from ..segments import Segment

XYZ = tuple[float, float, float]
Result = dict[str, Any]


class Execution(enum.Enum):
    """How the engine loop carries a command out."""

    INSTANT = "instant"        # changes the model only: nothing moves, nothing to interrupt
    MOTION = "motion"          # a plan of segments, interruptible, completed after a pause
    WAIT = "wait"              # a timed wait on the run's clock (time runs on in a pause)
    DEVICE = "device"          # a call to a hardware module, interruptible, called again
    CHECKPOINT = "checkpoint"  # the protocol pauses the run here


class Command(Frozen):
    """Base of all commands."""

    __slots__ = ()

    kind: ClassVar[str] = "command"
    reversible: ClassVar[bool] = True
    # A rewind never goes back past it, reversible or not: its motion made way for a
    # module (the pipettes lifted out of a lid's or a shaker's way), and going back to
    # before it would put them back in the way while the module moves.
    rewind_barrier: ClassVar[bool] = False
    moves_liquid: ClassVar[bool] = False  # its plunger draws or pushes what the tip holds
    in_place: ClassVar[bool] = False  # it acts where the pipette is, without moving there
    execution: ClassVar[Execution] = Execution.INSTANT

    def params(self) -> dict[str, Any]:
        """The params as plain JSON-able data, for the run record: numbers to 6 decimals
        (1 nm, 1 pL), so that float noise of the protocol's arithmetic (a volume of
        110.30000000000001 µL) is not read as meant; the command keeps its own values."""
        # floats tested here, not in a call for each field: params are made for every
        # command (and an empty tuple, a single channel's other wells, is kept as it is);
        # a loop, not a comprehension, which is a call of its own before Python 3.12
        params: dict[str, Any] = {}
        for name, value in zip(self.fields, values(self), strict=True):
            params[name] = (round(value, 6) if type(value) is float
                            else _for_record(value) if type(value) in _NESTED and value != ()
                            else value)
        return params

    def plan(self, robot: RobotModel) -> list[Segment]:
        """The motion from where the robot is now (MOTION commands)."""
        return []

    def apply(self, robot: RobotModel) -> Result:
        """Record the completed command's effect on the model; its result."""
        return {}

    def pause_message(self) -> str | None:
        """A CHECKPOINT command: what its pause says to the people at the robot."""
        return None

    def arriving_top(self) -> float | None:
        """A CHECKPOINT command: the top (deck z, mm) of a labware a person may place
        during its pause, which the park and the unpark must clear as well."""
        return None


_NESTED = (tuple, dict)
_NUMBERS = frozenset({float, int})


def _for_record(value: Any) -> Any:
    """``value`` with its numbers (and those in its tuples and dicts) rounded to 6
    decimals."""
    kind = type(value)
    if kind is float:
        return round(value, 6)
    if kind is tuple and value:
        if set(map(type, value)) <= _NUMBERS:  # mostly a point: rounded with no Python call
            return tuple(map(round, value, repeat(6)))  # (an int stays as it is)
        return tuple([round(item, 6) if type(item) is float else _for_record(item)
                      for item in value])
    if kind is dict:
        return {key: _for_record(item) for key, item in value.items()}
    return value
