"""Magnetic module commands: raise the magnets to a height, lower them home."""

from __future__ import annotations

from .module_call import ModuleCommand


class Engage(ModuleCommand):
    """Raise the magnets to ``height_mm`` above their home (returns when there)."""

    __slots__ = ("height_mm",)

    kind = "magneticModule/engage"
    method = "engage"
    height_mm: float

    def __init__(self, module: str, height_mm: float) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "height_mm", height_mm)


class Disengage(ModuleCommand):
    """Lower the magnets home (returns when there)."""

    __slots__ = ()

    kind = "magneticModule/disengage"
    method = "disengage"
