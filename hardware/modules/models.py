"""The OT-2 module models: what each is called, which others a protocol may load in its
place, and how a module's ``M115`` answer says which model it is.

The names and the pairs are those of Opentrons' module definitions (``displayName`` and
``compatibleWith`` of ``module/definitions/3`` in opentrons-shared-data); Opentrons binds
a ``load_module`` to an attached module only if it is the model asked for or one the
asked-for definition names as compatible, and then uses the attached module's definition.
How the model is read from ``M115`` is Opentrons' own host software's: a temperature or
magnetic module's ``model:<name>_v<revision>`` is GEN2 from revision 20, a thermocycler
that echoes the code (``M115 FW:... HW:...``, the STM32 firmware) is GEN2, and there is one
heater-shaker.
"""

from __future__ import annotations

import re

from ..frozen import Frozen


class ModuleModel(Frozen):
    """One model: its device kind, its name in Opentrons' words, and the models a protocol
    asking for it may get instead."""

    __slots__ = ("compatible_with", "display_name", "kind", "name")

    name: str
    kind: str
    display_name: str
    compatible_with: tuple[str, ...]

    def __init__(self, name: str, kind: str, display_name: str,
                 compatible_with: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "compatible_with", compatible_with)


MODELS: dict[str, ModuleModel] = {model.name: model for model in (
    ModuleModel("temperatureModuleV1", "temperature", "Temperature Module GEN1",
                ("temperatureModuleV2",)),
    ModuleModel("temperatureModuleV2", "temperature", "Temperature Module GEN2",
                ("temperatureModuleV1",)),
    ModuleModel("magneticModuleV1", "magnetic", "Magnetic Module GEN1"),
    ModuleModel("magneticModuleV2", "magnetic", "Magnetic Module GEN2"),
    ModuleModel("thermocyclerModuleV1", "thermocycler", "Thermocycler Module GEN1",
                ("thermocyclerModuleV1",)),
    ModuleModel("thermocyclerModuleV2", "thermocycler", "Thermocycler Module GEN2"),
    ModuleModel("heaterShakerModuleV1", "heater_shaker", "Heater-Shaker Module GEN1"),
)}
"""Every OT-2 module model by its name."""

FIRST_GEN2_REVISION = 20.0
"""A temperature or magnetic module of this ``model:`` revision or later is GEN2."""

_REVISION = re.compile(r"model:\S*?v(\d+(?:\.\d+)?)")


def models_of(kind: str) -> tuple[str, ...]:
    """The models of the device kind ``kind`` (``magnetic``...), oldest first."""
    return tuple(name for name, model in MODELS.items() if model.kind == kind)


def display_name(model: str) -> str:
    """``Thermocycler Module GEN2`` for ``thermocyclerModuleV2`` (the name if unknown)."""
    known = MODELS.get(model)
    return known.display_name if known is not None else model


def takes(requested: str, attached: str) -> bool:
    """Whether a protocol that loads ``requested`` may be given the ``attached`` module
    (Opentrons' rule: the same model, or one ``requested``'s definition names)."""
    known = MODELS.get(requested)
    return attached == requested or (known is not None and attached in known.compatible_with)


def model_from_identity(kind: str, identity: str) -> str | None:
    """The model a module of ``kind`` is, from its ``M115`` answer; None if it does not say."""
    if kind == "heater_shaker":
        return "heaterShakerModuleV1"
    if kind == "thermocycler":
        return "thermocyclerModuleV2" if identity.startswith("M115") else "thermocyclerModuleV1"
    if kind not in ("temperature", "magnetic"):
        return None
    found = _REVISION.search(identity)
    if found is None:
        return None
    gen2 = float(found.group(1)) >= FIRST_GEN2_REVISION
    return f"{kind}ModuleV{2 if gen2 else 1}"


def firmware_version(identity: str) -> tuple[int, ...] | None:
    """The firmware version an STM32 module's ``M115`` gives (``FW:v1.0.8`` -> (1, 0, 8))."""
    found = re.search(r"FW:v?(\d+(?:\.\d+)*)", identity)
    return tuple(int(part) for part in found.group(1).split(".")) if found else None
