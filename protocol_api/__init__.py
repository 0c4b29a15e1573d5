"""labrun's protocol API, shaped like the Opentrons Python Protocol API v2.

Protocol files written for Opentrons run unmodified: ``from opentrons import
protocol_api`` resolves to this package when the file is loaded by labrun.
"""

from . import types
from .context import ProtocolContext
from .errors import ProtocolError
from .execute import create_run, open_context
from .instrument import InstrumentContext
from .labware import Labware, TrashBin, Well
from .loader import MAX_API, load_protocol
from .nozzles import ALL, COLUMN, PARTIAL_COLUMN, ROW, SINGLE
from .off_deck import OFF_DECK, OffDeckType
from .types import Location, Mount, Point

MAX_SUPPORTED_VERSION = MAX_API


def __getattr__(name: str) -> object:
    """``protocol_api.COLUMN`` and the like: what labrun does not do, said as such."""
    from .errors import UnsupportedNameError
    from .loader import not_provided

    said = not_provided(f"opentrons.protocol_api.{name}")
    if said:
        raise UnsupportedNameError(said)
    raise AttributeError(f"module 'opentrons.protocol_api' has no attribute {name!r}")

__all__ = [
    "ALL",
    "COLUMN",
    "MAX_SUPPORTED_VERSION",
    "OFF_DECK",
    "PARTIAL_COLUMN",
    "ROW",
    "SINGLE",
    "InstrumentContext",
    "Labware",
    "Location",
    "Mount",
    "OffDeckType",
    "Point",
    "ProtocolContext",
    "ProtocolError",
    "TrashBin",
    "Well",
    "create_run",
    "load_protocol",
    "open_context",
    "types",
]
