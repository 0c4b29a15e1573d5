"""Commands: what a protocol asks the robot to do, as plain frozen data.

Every protocol call becomes one or more commands. A command's fields are its params;
``reversible`` says whether it may run again when a step is rewound after an immediate
pause (moves, homing, comments) or must never be repeated (anything that changes tips or
liquid): a step in which an irreversible command has started is never rewound.
Positions are deck coordinates in mm; ``well`` names a well as
``"<slot>/<well>"`` for the run record and the liquid accounting.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from attrs import frozen

XYZ = tuple[float, float, float]


@frozen
class Command:
    """Base of all commands."""

    kind: ClassVar[str] = "command"
    reversible: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """The params as plain JSON-able data, for the run record."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in attrs.fields(type(self)))
        return {name: getattr(self, name) for name in names}


_FIELD_NAMES: dict[type[Command], tuple[str, ...]] = {}


@frozen
class LoadLabware(Command):
    """Place a labware on the deck (no motion)."""

    kind = "loadLabware"
    load_name: str
    slot: str
    display_name: str
    highest_z: float
    drop_point: XYZ | None = None  # where tips go, when this labware is a trash


@frozen
class LoadInstrument(Command):
    """Attach a pipette to a mount (no motion); its plunger geometry comes with it."""

    kind = "loadInstrument"
    instrument_name: str
    mount: str
    max_volume: float
    ul_per_mm: float
    plunger_bottom: float
    plunger_blow_out: float
    plunger_drop_tip: float


@frozen
class Home(Command):
    """Home the given axes (every axis when None)."""

    kind = "home"
    axes: tuple[str, ...] | None = None


@frozen
class MoveTo(Command):
    """Move a mount's tip end (or nozzle) to a point, arcing over the deck unless direct."""

    kind = "moveTo"
    mount: str
    point: XYZ
    well: str | None = None
    force_direct: bool = False
    minimum_z_height: float | None = None
    speed: float | None = None


@frozen
class PickUpTip(Command):
    """Pick up the tip whose top is at ``point``."""

    kind = "pickUpTip"
    reversible = False
    mount: str
    point: XYZ
    well: str
    tip_length: float


@frozen
class DropTip(Command):
    """Eject the attached tip at ``point`` (a tip rack well or the trash)."""

    kind = "dropTip"
    reversible = False
    mount: str
    point: XYZ
    well: str


@frozen
class LiquidCommand(Command):
    """Moves ``volume`` µL through the tip where it is, at ``flow_rate`` µL/s."""

    reversible = False
    mount: str
    volume: float
    flow_rate: float
    well: str | None = None


@frozen
class Aspirate(LiquidCommand):
    """Draw ``volume`` µL into the tip."""

    kind = "aspirate"


@frozen
class Dispense(LiquidCommand):
    """Push ``volume`` µL out of the tip."""

    kind = "dispense"


@frozen
class BlowOut(Command):
    """Push the plunger past the bottom to expel what is left in the tip."""

    kind = "blowOut"
    reversible = False
    mount: str
    flow_rate: float
    well: str | None = None


@frozen
class Comment(Command):
    """A message for the run log."""

    kind = "comment"
    message: str


@frozen
class Delay(Command):
    """Wait; the deadline is fixed when the delay starts and time runs on during pauses."""

    kind = "delay"
    seconds: float
    message: str | None = None


@frozen
class WaitForResume(Command):
    """``ctx.pause(msg)``: a checkpoint where the run parks and waits for resume."""

    kind = "waitForResume"
    message: str | None = None


LIQUID_COMMANDS = (Aspirate, Dispense, BlowOut)
TIP_COMMANDS = (PickUpTip, DropTip)
