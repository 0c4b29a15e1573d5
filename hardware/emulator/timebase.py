"""Emulated time: the wall clock, optionally sped up by a constant factor."""

from __future__ import annotations

import time

import anyio


class ScaledClock:
    """Emulated seconds pass ``speed`` times faster than wall-clock seconds."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        """Emulated seconds since the clock was created."""
        return (time.monotonic() - self._origin) * self.speed

    def wall(self, emulated: float) -> float:
        """Wall-clock seconds that ``emulated`` seconds take."""
        return max(0.0, emulated) / self.speed

    async def sleep(self, emulated: float) -> None:
        await anyio.sleep(self.wall(emulated))
