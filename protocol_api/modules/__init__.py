"""Hardware module contexts: what ``ctx.load_module`` returns (docs/design.md §1, §7).

``TemperatureModuleContext``, ``MagneticModuleContext``, ``ThermocyclerContext`` and
``HeaterShakerContext`` are shaped like the Opentrons API's; their geometry comes from
Opentrons' module definitions (``definitions``), their deck rules from ``rules``.
"""

from __future__ import annotations

from .base import LabwarePlacer, ModuleContext, ModuleError, NoSuchCallError
from .definitions import ModuleSpec, module_spec, resolve_model
from .heater_shaker import HeaterShakerContext
from .magnetic import MagneticModuleContext
from .rules import ModuleRules
from .temperature import TemperatureModuleContext
from .thermocycler import ThermocyclerContext

CONTEXTS: dict[str, type[ModuleContext]] = {
    "temperature": TemperatureModuleContext,
    "magnetic": MagneticModuleContext,
    "thermocycler": ThermocyclerContext,
    "heater_shaker": HeaterShakerContext,
}
"""The context class of each module kind."""

__all__ = [
    "CONTEXTS",
    "HeaterShakerContext",
    "LabwarePlacer",
    "MagneticModuleContext",
    "ModuleContext",
    "ModuleError",
    "ModuleRules",
    "ModuleSpec",
    "NoSuchCallError",
    "TemperatureModuleContext",
    "ThermocyclerContext",
    "module_spec",
    "resolve_model",
]
