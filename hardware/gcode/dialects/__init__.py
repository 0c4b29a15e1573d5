"""Firmware dialects: GRBL 1.1, Marlin 2.x and Smoothieware."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import INTERLOCK_PREFIX, Dialect
from .grbl import Grbl
from .marlin import Marlin, checksum
from .smoothie import Smoothie

if TYPE_CHECKING:
    from ...config import ControllerConfig

DIALECTS: dict[str, type[Dialect]] = {"grbl": Grbl, "marlin": Marlin, "smoothie": Smoothie}


def get_dialect(name: str, **options: Any) -> Dialect:
    """The dialect called ``name`` (``grbl``, ``marlin``, ``smoothie``)."""
    try:
        cls = DIALECTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown G-code dialect {name!r}; expected one of "
                         f"{sorted(DIALECTS)}") from None
    return cls(**options)


def configured_dialect(ctl: ControllerConfig, name: str | None = None) -> Dialect:
    """The dialect ``name`` (the robot file's own when None) with the options the robot
    file gives it (a Smoothie board's ``feed_hold`` and ``realtime_status``)."""
    name = name or ctl.dialect
    options = ({"feed_hold": ctl.feed_hold, "realtime_status": ctl.realtime_status}
               if name.lower() == "smoothie" else {})
    return get_dialect(name, **options)


__all__ = ["DIALECTS", "INTERLOCK_PREFIX", "Dialect", "Grbl", "Marlin", "Smoothie",
           "checksum", "configured_dialect", "get_dialect"]
