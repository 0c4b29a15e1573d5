"""Firmware dialects: GRBL 1.1, Marlin 2.x and Smoothieware."""

from __future__ import annotations

from typing import Any

from .base import INTERLOCK_PREFIX, Dialect
from .grbl import Grbl
from .marlin import Marlin, checksum
from .smoothie import Smoothie

DIALECTS: dict[str, type[Dialect]] = {"grbl": Grbl, "marlin": Marlin, "smoothie": Smoothie}


def get_dialect(name: str, **options: Any) -> Dialect:
    """The dialect called ``name`` (``grbl``, ``marlin``, ``smoothie``)."""
    try:
        cls = DIALECTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown G-code dialect {name!r}; expected one of "
                         f"{sorted(DIALECTS)}") from None
    return cls(**options)


__all__ = ["DIALECTS", "INTERLOCK_PREFIX", "Dialect", "Grbl", "Marlin", "Smoothie",
           "checksum", "get_dialect"]
