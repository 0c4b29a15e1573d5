"""The emulated firmwares: GRBL 1.1, Marlin 2.x and Smoothieware."""

from .base import Firmware, Line
from .grbl import GrblFirmware
from .marlin import MarlinFirmware
from .smoothie import SmoothieFirmware

FIRMWARES: dict[str, type[Firmware]] = {
    "grbl": GrblFirmware, "marlin": MarlinFirmware, "smoothie": SmoothieFirmware,
}

__all__ = ["FIRMWARES", "Firmware", "GrblFirmware", "Line", "MarlinFirmware",
           "SmoothieFirmware"]
