"""Labware definitions in the Opentrons labware JSON format (schema 2).

Built-in definitions are generated once from a compact table and then shared: treat a
returned definition as read-only (``copy.deepcopy`` it if you must change it). Custom
definitions are Opentrons-format ``.json`` files read from directories.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from protocol_api.errors import LabwareNotFoundError

from ._builtin import LabwareDefinition, builtin_definition, builtin_names
from ._custom import load_custom_definitions, read_definition_file, validate_definition

__all__ = [
    "LabwareDefinition",
    "builtin_load_names",
    "get_definition",
    "load_custom_definitions",
    "read_definition_file",
    "validate_definition",
]

_BUILTIN_NAMESPACE = "opentrons"


def builtin_load_names() -> list[str]:
    """The load names labrun knows without any custom labware, sorted."""
    return builtin_names()


def get_definition(
    load_name: str,
    namespace: str | None = None,
    version: int | None = None,
    extra_dirs: Iterable[str | os.PathLike[str]] = (),
) -> LabwareDefinition:
    """The definition for ``load_name``: custom directories first, then the built-ins.

    ``namespace`` and ``version`` narrow the search; without a version the highest is
    used. Raises LabwareNotFoundError naming the load name and suggesting close matches.
    """
    name = load_name.strip().lower() if isinstance(load_name, str) else load_name
    if not isinstance(name, str) or not name:
        raise LabwareNotFoundError(
            f"a labware load name must be a non-empty string, not {load_name!r}"
        )
    candidates: list[LabwareDefinition] = []
    custom_names: list[str] = []
    for directory in extra_dirs:
        custom = load_custom_definitions(directory)
        custom_names.extend(custom)
        if name in custom:
            candidates.append(custom[name])
    builtin = builtin_definition(name)
    if builtin is not None:
        candidates.append(builtin)
    matches = [
        d
        for d in candidates
        if (namespace is None or d["namespace"] == namespace)
        and (version is None or d["version"] == version)
    ]
    if matches:
        return max(matches, key=lambda d: int(d["version"]))  # first wins on a tie
    if candidates:
        raise LabwareNotFoundError(_mismatch(name, namespace, version, candidates))
    raise LabwareNotFoundError(_unknown(name, [*custom_names, *builtin_names()]))


def _mismatch(
    name: str, namespace: str | None, version: int | None, found: list[LabwareDefinition]
) -> str:
    wanted = " ".join(
        part
        for part in (
            f"version {version}" if version is not None else "",
            f"in namespace {namespace!r}" if namespace is not None else "",
        )
        if part
    )
    have = ", ".join(f"{d['namespace']}/{name}/{d['version']}" for d in found)
    return f"no labware {name!r} {wanted}; labrun has {have}"


def _unknown(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:  # only the suggestions about as good as the best one
        best = difflib.SequenceMatcher(None, name, close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= best - 0.1]
    else:
        close = [k for k in known if name in k][:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
    return (
        f"no labware definition named {name!r}{hint} "
        f"labrun has {len(builtin_names())} built-in definitions "
        "(protocol_api.labware_definitions.builtin_load_names() lists them). "
        "To use custom labware, save its Opentrons labware JSON (schemaVersion 2) in a "
        "custom labware directory and pass that directory as extra_dirs."
    )
