"""Commands: what a protocol asks the robot to do, as plain frozen data.

Each command type lives in a module of its own with its params and its implementation
(see ``base``). ``REGISTRY`` lists them all: a new command is a new module and one line
here.
"""

from __future__ import annotations

from ..stacks import OFF_DECK
from .base import XYZ, Command, Execution, Result
from .blow_out import BlowOut
from .comment import Comment
from .delay import Delay
from .drop_tip import DropTip
from .heater_shaker import (
    CloseLabwareLatch,
    DeactivateHeater,
    DeactivateShaker,
    OpenLabwareLatch,
    SetAndWaitForShakeSpeed,
    SetTargetShakerTemperature,
    WaitForShakerTemperature,
)
from .home import Home
from .labware_offset import SetLabwareOffset
from .lift_pipettes import LiftPipettes
from .liquid import Aspirate, Dispense, LiquidCommand
from .load_instrument import LoadInstrument
from .load_labware import LoadLabware
from .load_liquid import LoadLiquid
from .load_module import LoadModule
from .magnetic_module import Disengage, Engage
from .max_speeds import SetMaxSpeeds
from .module_call import ModuleCommand, ModuleWait, ReadModule
from .move_labware import MoveLabware, RemoveLabware
from .move_to import MoveTo
from .nozzle_layout import ConfigureNozzleLayout
from .pick_up_tip import PickUpTip
from .prepare_to_aspirate import PrepareToAspirate
from .rail_lights import SetRailLights
from .temperature_module import DeactivateTemperature, SetTargetTemperature, WaitForTemperature
from .thermocycler import (
    CloseLid,
    DeactivateBlock,
    DeactivateLid,
    DeactivateThermocycler,
    OpenLid,
    RunProfile,
    SetTargetBlockTemperature,
    SetTargetLidTemperature,
    WaitForBlockTemperature,
    WaitForLidTemperature,
)
from .touch_tip import TouchTip
from .wait_for_resume import WaitForResume

MODULE_COMMANDS: tuple[type[Command], ...] = (
    LoadModule, ReadModule,
    SetTargetTemperature, WaitForTemperature, DeactivateTemperature,
    Engage, Disengage,
    OpenLid, CloseLid, SetTargetLidTemperature, WaitForLidTemperature, DeactivateLid,
    SetTargetBlockTemperature, WaitForBlockTemperature, DeactivateBlock, RunProfile,
    DeactivateThermocycler,
    SetTargetShakerTemperature, WaitForShakerTemperature, DeactivateHeater,
    SetAndWaitForShakeSpeed, DeactivateShaker, OpenLabwareLatch, CloseLabwareLatch,
)
"""The hardware-module commands (``loadModule`` and one per module call)."""

_COMMANDS: tuple[type[Command], ...] = (
    LoadLabware,
    LoadInstrument,
    Comment,
    Home,
    LiftPipettes,
    MoveTo,
    PickUpTip,
    DropTip,
    PrepareToAspirate,
    Aspirate,
    Dispense,
    BlowOut,
    Delay,
    WaitForResume,
    MoveLabware,
    RemoveLabware,
    SetLabwareOffset,
    LoadLiquid,
    TouchTip,
    SetRailLights,
    SetMaxSpeeds,
    ConfigureNozzleLayout,
    *MODULE_COMMANDS,
)
REGISTRY: dict[str, type[Command]] = {command.kind: command for command in _COMMANDS}
"""Every command type, by the ``kind`` the run record names it with."""

LIQUID_COMMANDS = (Aspirate, Dispense, BlowOut)

__all__ = [
    "LIQUID_COMMANDS",
    "MODULE_COMMANDS",
    "OFF_DECK",
    "REGISTRY",
    "XYZ",
    "Aspirate",
    "BlowOut",
    "CloseLabwareLatch",
    "CloseLid",
    "Command",
    "Comment",
    "ConfigureNozzleLayout",
    "DeactivateBlock",
    "DeactivateHeater",
    "DeactivateLid",
    "DeactivateShaker",
    "DeactivateTemperature",
    "DeactivateThermocycler",
    "Delay",
    "Disengage",
    "Dispense",
    "DropTip",
    "Engage",
    "Execution",
    "Home",
    "LiftPipettes",
    "LiquidCommand",
    "LoadInstrument",
    "LoadLabware",
    "LoadLiquid",
    "LoadModule",
    "ModuleCommand",
    "ModuleWait",
    "MoveLabware",
    "MoveTo",
    "OpenLabwareLatch",
    "OpenLid",
    "PickUpTip",
    "PrepareToAspirate",
    "ReadModule",
    "RemoveLabware",
    "Result",
    "RunProfile",
    "SetAndWaitForShakeSpeed",
    "SetLabwareOffset",
    "SetMaxSpeeds",
    "SetRailLights",
    "SetTargetBlockTemperature",
    "SetTargetLidTemperature",
    "SetTargetShakerTemperature",
    "SetTargetTemperature",
    "TouchTip",
    "WaitForBlockTemperature",
    "WaitForLidTemperature",
    "WaitForResume",
    "WaitForShakerTemperature",
    "WaitForTemperature",
]
