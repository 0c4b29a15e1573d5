"""labrun's protocol API, shaped like the Opentrons Python Protocol API v2.

Protocol files written for Opentrons run unmodified: ``from opentrons import
protocol_api`` resolves to this package when the file is loaded by labrun.
"""

from typing import TYPE_CHECKING

from . import types
from .context import Liquid, ProtocolContext
from .deck import Deck
from .errors import ProtocolError, RuntimeParameterRequiredError
from .execute import create_run, open_context
from .instrument import InstrumentContext
from .labware import Labware, TrashBin, Well
from .loader import MAX_API, MIN_API, load_protocol
from .nozzles import ALL, COLUMN, PARTIAL_COLUMN, ROW, SINGLE
from .off_deck import OFF_DECK, OffDeckType
from .parameters import CSVParameter, ParameterContext, Parameters
from .types import APIVersion, Location, Mount, Point

if TYPE_CHECKING:  # imported by the first use (a protocol without modules spares them)
    from .modules import (
        HeaterShakerContext,
        MagneticModuleContext,
        ModuleContext,
        TemperatureModuleContext,
        ThermocyclerContext,
    )

MODULE_CONTEXTS = frozenset({"HeaterShakerContext", "MagneticModuleContext", "ModuleContext",
                             "TemperatureModuleContext", "ThermocyclerContext"})

MAX_SUPPORTED_VERSION = APIVersion(*MAX_API)
MIN_SUPPORTED_VERSION = APIVersion(*MIN_API)


def __getattr__(name: str) -> object:
    """The module contexts, imported at their first use; a name labrun does not have
    (``protocol_api.WasteChute``), said as such."""
    from .errors import UnsupportedNameError
    from .loader import not_provided, opentrons_module

    if name in MODULE_CONTEXTS:
        from . import modules

        return getattr(modules, name)
    if name.startswith("__"):  # Python's own probes (__path__, __file__...)
        raise AttributeError(f"module 'opentrons.protocol_api' has no attribute {name!r}")
    qualified = f"opentrons.protocol_api.{name}"
    submodule = opentrons_module(qualified)  # .contexts, .module_contexts...
    if submodule is not None:
        return submodule
    raise UnsupportedNameError(not_provided(qualified)
                               or f"labrun does not provide {qualified}")

__all__ = [
    "ALL",
    "COLUMN",
    "MAX_SUPPORTED_VERSION",
    "MIN_SUPPORTED_VERSION",
    "OFF_DECK",
    "PARTIAL_COLUMN",
    "ROW",
    "SINGLE",
    "CSVParameter",
    "Deck",
    "HeaterShakerContext",
    "InstrumentContext",
    "Labware",
    "Liquid",
    "Location",
    "MagneticModuleContext",
    "ModuleContext",
    "Mount",
    "OffDeckType",
    "ParameterContext",
    "Parameters",
    "Point",
    "ProtocolContext",
    "ProtocolError",
    "RuntimeParameterRequiredError",
    "TemperatureModuleContext",
    "ThermocyclerContext",
    "TrashBin",
    "Well",
    "create_run",
    "load_protocol",
    "open_context",
    "types",
]
