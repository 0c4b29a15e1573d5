"""Commands: what a protocol asks the robot to do, as plain frozen data.

Each command type lives in a module of its own with its params and its implementation
(see ``base``). ``REGISTRY`` lists them all: a new command is a new module and one line
here.
"""

from __future__ import annotations

from .air_gap import AirGap
from .base import XYZ, Command, Execution, Result
from .blow_out import BlowOut
from .comment import Comment
from .delay import Delay
from .drop_tip import DropTip
from .home import Home
from .liquid import Aspirate, Dispense, LiquidCommand
from .load_instrument import LoadInstrument
from .load_labware import LoadLabware
from .max_speeds import SetMaxSpeeds
from .move_to import MoveTo
from .pick_up_tip import PickUpTip
from .rail_lights import SetRailLights
from .touch_tip import TouchTip
from .wait_for_resume import WaitForResume

REGISTRY: dict[str, type[Command]] = {command.kind: command for command in (
    LoadLabware,
    LoadInstrument,
    Comment,
    Home,
    MoveTo,
    PickUpTip,
    DropTip,
    Aspirate,
    Dispense,
    BlowOut,
    Delay,
    WaitForResume,
    AirGap,
    TouchTip,
    SetRailLights,
    SetMaxSpeeds,
)}
"""Every command type, by the ``kind`` the run record names it with."""

LIQUID_COMMANDS = (Aspirate, Dispense, AirGap, BlowOut)

__all__ = [
    "LIQUID_COMMANDS",
    "REGISTRY",
    "XYZ",
    "AirGap",
    "Aspirate",
    "BlowOut",
    "Command",
    "Comment",
    "Delay",
    "Dispense",
    "DropTip",
    "Execution",
    "Home",
    "LiquidCommand",
    "LoadInstrument",
    "LoadLabware",
    "MoveTo",
    "PickUpTip",
    "Result",
    "SetMaxSpeeds",
    "SetRailLights",
    "TouchTip",
    "WaitForResume",
]
