"""Labware definitions in the Opentrons labware JSON format (schema 2).

Standard definitions are Opentrons' own, read lazily from the opentrons-shared-data
package and shared: treat a returned definition as read-only (``copy.deepcopy`` it if you
must change it). Custom definitions are Opentrons-format ``.json`` files read from
directories; they take precedence over standard ones of the same load name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from protocol_api.api_level import ADAPTER_API, ENGINE_CORE_API
from protocol_api.errors import LabwareDefinitionError, LabwareNotFoundError
from protocol_api.loader import MAX_API

from ._custom import (
    SkippedFile,
    custom_versions,
    load_custom_definitions,
    own_definition,
    read_definition_file,
    skipped_files,
    validate_definition,
)
from ._shared import (
    LabwareDefinition,
    SharedDataMissingError,
    data_root,
    default_version,
    read_json,
    standard_definition,
    standard_names,
    standard_versions,
)

__all__ = [
    "STANDARD_NAMESPACE",
    "LabwareDefinition",
    "SharedDataMissingError",
    "SkippedFile",
    "builtin_load_names",
    "check_role",
    "custom_wells",
    "data_root",
    "get_definition",
    "load_custom_definitions",
    "own_definition",
    "read_definition_file",
    "read_json",
    "skipped_files",
    "standard_versions",
    "validate_definition",
]

STANDARD_NAMESPACE = "opentrons"


LID_API = (2, 23)
"""From here a definition whose roles include ``lid`` is refused by ``load_labware``."""


def check_role(definition: Mapping[str, Any], *, adapter: bool,
               api_version: tuple[int, int]) -> None:
    """Refuse a definition loaded in a role it does not allow (its ``allowedRoles``): an
    adapter loaded as a labware (from apiLevel 2.14, as Opentrons), or a labware as an
    adapter."""
    roles = definition.get("allowedRoles") or ()
    name = definition["parameters"]["loadName"]
    if adapter and "adapter" not in roles:
        raise LabwareDefinitionError(f"{name} is not an adapter; load it with load_labware")
    if not adapter and "lid" in roles and api_version >= LID_API:
        # as Opentrons: a lid goes on a labware (load_labware(..., lid=)), not on the deck
        raise LabwareDefinitionError(
            f"{name} is a lid: from apiLevel 2.23, as in Opentrons, a lid is not loaded as "
            "a labware (and labrun does not load lids on labware)")
    if not adapter and roles and "labware" not in roles and api_version >= ENGINE_CORE_API:
        if "adapter" in roles:
            how = ("load it with load_adapter" if api_version >= ADAPTER_API
                   else "load it with load_adapter, from apiLevel 2.15")
        else:
            how = f"its definition allows it only as {', '.join(roles)}"
        raise LabwareDefinitionError(f"{name} is not defined as a normal labware; {how}")


def check_deck_slot(definition: Mapping[str, Any], slot: str) -> None:
    """Refuse a definition Opentrons' engine (apiLevel 2.14 on) does not let sit in deck
    ``slot``: one that only stacks (quirk ``stackingOnly``: resin tips' labware), or the
    Flex's large trash outside the deck's right-hand column."""
    name = definition["parameters"]["loadName"]
    if "stackingOnly" in (definition["parameters"].get("quirks") or ()):
        raise LabwareDefinitionError(f"{name} cannot sit in a slot by itself: its definition "
                                     "says it only stacks on a labware or an adapter")
    if name == "opentrons_1_trash_3200ml_fixed" and slot.isdigit() and int(slot) % 3:
        raise LabwareDefinitionError(f"{name} is not allowed in slot {slot}, as in "
                                     "Opentrons: it goes only in the right-hand column "
                                     "(slot 3, 6 or 9)")


_DRAWN = ("shape", "x", "y", "diameter", "xDimension", "yDimension", "totalLiquidVolume")
"""What a reader of the run record needs of a well to draw it and know its capacity."""


def custom_wells(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The wells of a definition that is not one of Opentrons' standard ones (where the
    definition places them, their shape, size and capacity), for the run record: a reader
    draws a standard labware from its load name, a custom one only from these. None for
    a standard definition."""
    name, version = definition["parameters"]["loadName"], definition.get("version")
    if (definition.get("namespace") == STANDARD_NAMESPACE
            and version in standard_versions(name)
            and definition == standard_definition(name, version)):
        return None
    return {well: {key: spec[key] for key in _DRAWN if key in spec}
            for well, spec in definition["wells"].items()}


def builtin_load_names() -> list[str]:
    """The load names labrun knows without any custom labware (Opentrons' standard), sorted."""
    return list(standard_names())


def get_definition(
    load_name: str,
    namespace: str | None = None,
    version: int | None = None,
    extra_dirs: Iterable[str | os.PathLike[str]] = (),
    api_version: tuple[int, int] = MAX_API,
    known: Iterable[LabwareDefinition] = (),
) -> LabwareDefinition:
    """The definition for ``load_name``: custom ones first (``known``, those the protocol
    gave, then those of the directories), then Opentrons' standard.

    ``namespace`` and ``version`` narrow the search. Without a version, a standard
    definition is the version Opentrons loads at ``api_version``; custom ones of that
    name (of several versions or namespaces) must be narrowed to one, as Opentrons asks
    (LabwareDefinitionError). Raises LabwareNotFoundError naming the load name and
    suggesting close matches.
    """
    # In lower case, as Opentrons looks it up, but not stripped: it finds no " name".
    name = load_name.lower() if isinstance(load_name, str) else load_name
    if isinstance(version, str) and version.strip().isdecimal():  # "1": Opentrons takes it
        if api_version < ENGINE_CORE_API and version != str(int(version)):
            # "01": Opentrons' older core looks for "01.json", and finds no labware
            raise LabwareNotFoundError(
                f"no labware {name!r} version {version!r}: below apiLevel 2.14 Opentrons "
                f"looks a version up as it is written, and finds none; write "
                f"version={int(version)}")
        version = int(version)
    if isinstance(version, float) and version.is_integer() and api_version >= ENGINE_CORE_API:
        version = int(version)  # 1.0: Opentrons' engine takes it as 1 (its older core, not)
    if isinstance(version, (bool, float)):  # 1.0 read "1.0.json", a file of no labware
        raise LabwareNotFoundError(
            f"no labware {name!r} version {version!r}: a version is a whole number, such as 1")
    if isinstance(namespace, str):  # "Opentrons": in lower case, as Opentrons looks it up
        namespace = namespace.lower()
    if not isinstance(name, str) or not name:
        raise LabwareNotFoundError(
            f"a labware load name must be a non-empty string, not {load_name!r}"
        )
    customs: list[LabwareDefinition] = []
    custom_names: list[str] = []
    given: dict[str, list[LabwareDefinition]] = {}
    for d in known:  # given by the protocol: one per URI already
        given.setdefault(d["parameters"]["loadName"], []).append(d)
    sources: list[Mapping[str, Sequence[LabwareDefinition]]] = [given]
    sources += [custom_versions(directory) for directory in extra_dirs]
    for custom in sources:
        custom_names.extend(custom)
        customs.extend(d for d in custom.get(name, ()) if not any(  # a URI once: the first
            (d["namespace"], d["version"]) == (o["namespace"], o["version"]) for o in customs))
    matches = [
        d
        for d in customs
        if (namespace is None or d["namespace"] == namespace)
        and (version is None or d["version"] == version)
    ]
    if len(matches) > 1:
        uris = ", ".join(f"{d['namespace']}/{name}/{d['version']}" for d in matches)
        narrow = "version" if namespace is not None or len(
            {d["namespace"] for d in matches}) == 1 else "namespace and version"
        raise LabwareDefinitionError(
            f"several custom labware are named {name!r} ({uris}); give the {narrow} of "
            "the one to load, as Opentrons asks")
    if matches:
        return matches[0]
    versions = standard_versions(name)
    if versions and namespace in (None, STANDARD_NAMESPACE):
        wanted = default_version(name, api_version) if version is None else version
        if wanted in versions:
            return standard_definition(name, wanted)
    if customs or versions:
        found = [f"{d['namespace']}/{name}/{d['version']}" for d in customs]
        found += [f"{STANDARD_NAMESPACE}/{name}/{v}" for v in versions]
        raise LabwareNotFoundError(_mismatch(name, namespace, version, found))
    for directory in extra_dirs:  # a file passed over that would have been this labware
        for skipped in skipped_files(directory):
            if name in (skipped.load_name, os.path.splitext(
                    os.path.basename(skipped.path))[0].lower()):
                raise LabwareDefinitionError(
                    f"labware {name!r} is only in {skipped.path}, which is not a labware "
                    f"definition labrun can read: {skipped.problem}")
    raise LabwareNotFoundError(_unknown(name, [*custom_names, *standard_names()]))


def _mismatch(name: str, namespace: str | None, version: int | None, found: list[str]) -> str:
    wanted = " ".join(
        part
        for part in (
            f"version {version}" if version is not None else "",
            f"in namespace {namespace!r}" if namespace is not None else "",
        )
        if part
    )
    return f"no labware {name!r} {wanted}; labrun has {', '.join(found)}"


_TIP_VOLUME = re.compile(r"(\d+(?:\.\d+)?)ul")


def _tip_volume(name: str) -> float | None:
    match = _TIP_VOLUME.search(name)
    return float(match.group(1)) if match else None


def _is_tiprack_name(name: str) -> bool:
    return "tiprack" in name or "tip_rack" in name


def _unknown(name: str, known: list[str]) -> str:
    import difflib

    # A tip rack of another volume is never a good guess: it changes what the pipette holds.
    if name.strip() != name and name.strip() in known:
        return (f"no labware definition named {name!r}: the load name has spaces around it "
                f"(Opentrons finds none either); did you mean {name.strip()!r}?")
    volume = _tip_volume(name)
    known = [k for k in known if not _is_tiprack_name(k) or _tip_volume(k) == volume]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:  # only those about as good as the best one; a near-exact typo stands alone
        best = difflib.SequenceMatcher(None, name, close[0]).ratio()
        floor = best - min(0.1, 2 * (1 - best))
        close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= floor]
    else:
        close = [k for k in known if name in k][:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
    return (
        f"no labware definition named {name!r}{hint} "
        f"labrun has Opentrons' {len(standard_names())} standard definitions "
        "(protocol_api.labware_definitions.builtin_load_names() lists them). "
        "To use custom labware, save its Opentrons labware JSON (schemaVersion 2) in a "
        "folder and give that folder with --labware-dir (labrun simulate and run), as "
        "labware= when the protocol is queued (labrun serve's client), or from Python as "
        "labware_dirs= (open_context) or extra_dirs= (get_definition)."
    )
