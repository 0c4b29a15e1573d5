"""``OFF_DECK``: where a labware is when it is not on the deck.

As in Opentrons, ``protocol_api.OFF_DECK`` (not ``opentrons.types``): loaded there with
``load_labware(..., OFF_DECK)``, or moved there with ``move_labware`` (apiLevel 2.15).
"""

from __future__ import annotations

import enum


class OffDeckType(enum.Enum):
    """The place away from the deck."""

    OFF_DECK = "off-deck"


OFF_DECK = OffDeckType.OFF_DECK
"""``protocol_api.OFF_DECK``."""

__all__ = ["OFF_DECK", "OffDeckType"]
