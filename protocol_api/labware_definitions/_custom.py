"""Custom labware: reading Opentrons-format JSON files and checking the fields labrun uses.

Every error names the file (or other source) and the offending key, as a dotted path
such as ``wells.A1.diameter``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from protocol_api.errors import LabwareDefinitionError

from ._shared import LabwareDefinition


def validate_definition(definition: object, source: str = "labware definition") -> None:
    """Check a definition has what labrun reads; LabwareDefinitionError naming the key if not."""
    _Checker(source).check(definition)


def own_definition(definition: object) -> LabwareDefinition:
    """A definition a protocol passed as an object, checked and copied: the protocol may
    change its dict afterwards without changing the labware, as in Opentrons."""
    import copy  # a protocol's own definition only: not on every start-up

    validate_definition(definition)
    assert isinstance(definition, Mapping)
    copied: LabwareDefinition = copy.deepcopy(dict(definition))
    return copied


class SkippedFile(NamedTuple):
    """A ``*.json`` file of a labware directory that is not a definition labrun can read
    (a user's ``settings.json``, a file cut short): passed over, as Opentrons passes over
    "invalid labware"."""

    path: str
    problem: str
    """Why, without the file's name: ``not valid JSON (line 1, ...)``, ``wells: missing``."""
    load_name: str | None
    """The load name it gives, if it gives one."""


def load_custom_definitions(directory: str | os.PathLike[str]) -> dict[str, LabwareDefinition]:
    """Read and check every ``*.json`` under ``directory``; keyed by ``parameters.loadName``,
    the highest version of each (``custom_versions`` gives them all: two files with the
    same definition are one labware; different ones of one namespace and version are an
    error). A file that is not a labware definition is passed over (``skipped_files``
    says which).

    A directory is read again only when its files have changed (their names, sizes and
    modification times): every ``load_labware`` looks here first, and reading and checking
    a directory of definitions costs far more than a look at it. The definitions are
    shared: treat them as read-only.
    """
    return {name: versions[-1] for name, versions in custom_versions(directory).items()}


def custom_versions(
        directory: str | os.PathLike[str]) -> dict[str, tuple[LabwareDefinition, ...]]:
    """Each load name's definitions in ``directory``, as Opentrons keeps them: one per
    namespace and version (its URI), lowest version first."""
    root = os.fspath(directory)
    _check_directory(root)
    return dict(_directory(root).definitions)


def _check_directory(root: str) -> None:
    """LabwareDefinitionError unless ``root`` is a directory labrun can list."""
    if not os.path.isdir(root):
        raise LabwareDefinitionError(f"custom labware directory {root!r} " + (
            "is not a directory" if os.path.exists(root) else "does not exist"))
    try:
        os.scandir(root).close()  # the folder itself unreadable is bad input, not "no such"
    except PermissionError:
        raise LabwareDefinitionError(
            f"custom labware directory {root!r} cannot be read: permission denied") from None


def skipped_files(directory: str | os.PathLike[str]) -> tuple[SkippedFile, ...]:
    """The files of ``directory`` that ``load_custom_definitions`` passes over."""
    load_custom_definitions(directory)  # the directory's problems, if it has any
    return _directory(os.fspath(directory)).skipped


class _Directory(NamedTuple):
    signature: tuple[tuple[str, int, int], ...]  # its files, as they were when read
    definitions: dict[str, tuple[LabwareDefinition, ...]]  # by load name, lowest version first
    skipped: tuple[SkippedFile, ...]


def _directory(root: str) -> _Directory:
    files = _json_files(root)
    key, signature = os.path.realpath(root), tuple(files)
    seen = _READ.get(key)
    if seen is not None and seen.signature == signature:
        return seen
    found, skipped = _read_directory([Path(name) for name, _, _ in files])
    read = _READ[key] = _Directory(signature, found, skipped)
    return read


def _json_files(root: str) -> list[tuple[str, int, int]]:
    """The ``*.json`` files under ``root`` (not inside linked directories), each with its
    modification time and size (-1 if it is gone since the listing or a broken link), in
    the order of their paths' parts; with ``os.scandir``, a quarter of what ``rglob``
    and a ``stat`` each cost."""
    files = []
    folders = [root]
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except PermissionError:  # a folder this user may not list is passed over, as
            continue  # rglob does
        with listing as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.name.endswith(".json"):
                    try:
                        stat = entry.stat()
                    except OSError:  # read_definition_file says what is wrong with it
                        files.append((entry.path, -1, -1))
                    else:
                        files.append((entry.path, stat.st_mtime_ns, stat.st_size))
    files.sort(key=lambda file: file[0].split(os.sep))
    return files


_READ: dict[str, _Directory] = {}
"""Directories read, with the files they had then."""


def _read_directory(paths: list[Path]) -> tuple[dict[str, tuple[LabwareDefinition, ...]],
                                                tuple[SkippedFile, ...]]:
    found: dict[str, dict[tuple[str, int], LabwareDefinition]] = {}
    sources: dict[tuple[str, tuple[str, int]], Path] = {}
    skipped: list[SkippedFile] = []
    for path in paths:
        try:
            definition = read_definition_file(path)
        except LabwareDefinitionError as exc:
            problem = str(exc).removeprefix(f"{path}: ")
            skipped.append(SkippedFile(str(path), problem, _load_name_in(path)))
            continue
        load_name = definition["parameters"]["loadName"]
        key = (definition["namespace"], definition["version"])  # with the name, its URI
        versions = found.setdefault(load_name, {})
        if key in versions:
            if definition == versions[key]:
                continue  # the same labware saved twice (a copy): one definition
            raise LabwareDefinitionError(
                f"{path}: parameters.loadName: {load_name!r} is already defined by "
                f"{sources[load_name, key]}, differently, with the same namespace and "
                f"version ({key[0]}/{load_name}/{key[1]}); give one of them another "
                "version or load name"
            )
        versions[key] = definition
        sources[load_name, key] = path
    by_version = {name: tuple(versions[key] for key in sorted(
        versions, key=lambda key: (key[1], key[0]))) for name, versions in found.items()}
    return by_version, tuple(skipped)


def _load_name_in(path: Path) -> str | None:
    """The ``parameters.loadName`` a file that is no definition labrun reads gives, if any."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    params = data.get("parameters") if isinstance(data, dict) else None
    name = params.get("loadName") if isinstance(params, dict) else None
    return name.strip().lower() if isinstance(name, str) else None


def read_definition_file(path: str | os.PathLike[str]) -> LabwareDefinition:
    """Read one JSON definition file and check it."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM too, as Opentrons reads it
    except (OSError, UnicodeDecodeError) as exc:
        raise LabwareDefinitionError(f"{path}: cannot read the file ({exc})") from exc
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabwareDefinitionError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    validate_definition(definition, str(path))
    return definition  # type: ignore[no-any-return]


_SAFE_NAME = re.compile(r"[a-z0-9._]+")
"""Opentrons' ``safeString``: what a load name and a namespace are made of."""


_WELL_NAME = re.compile(r"[A-Z]+[0-9]+")
"""A well's name: its row's letters, then its column's number."""


class _Checker:
    """Walks a definition, failing at the first field labrun cannot use."""

    def __init__(self, source: str) -> None:
        self._source = source

    def fail(self, key: str, problem: str) -> LabwareDefinitionError:
        return LabwareDefinitionError(f"{self._source}: {key}: {problem}")

    def check(self, data: object) -> None:
        top = self.mapping(data, "(top level)", "a JSON object")
        if top.get("schemaVersion") != 2:
            found = top.get("schemaVersion", "missing")
            raise self.fail(
                "schemaVersion", f"labrun reads Opentrons labware schema 2, found {found!r}"
            )
        self.safe_name(top, "namespace")
        version = top.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail("version", f"must be a whole number >= 1, found {version!r}")
        params = self.mapping(top.get("parameters"), "parameters")
        self.safe_name(params, "loadName", "parameters.")
        is_tiprack = params.get("isTiprack")
        if not isinstance(is_tiprack, bool):
            raise self.fail("parameters.isTiprack", f"must be true or false, found {is_tiprack!r}")
        if is_tiprack:
            self.number(params, "tipLength", "parameters.", positive=True)
        if "tipOverlap" in params:
            self.number(params, "tipOverlap", "parameters.")
        quirks = params.get("quirks", [])
        if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
            raise self.fail("parameters.quirks", "must be a list of strings")
        self.text(self.mapping(top.get("metadata"), "metadata"), "displayName", "metadata.")
        dims = self.mapping(top.get("dimensions"), "dimensions")
        for key in ("xDimension", "yDimension", "zDimension"):
            self.number(dims, key, "dimensions.", positive=True)
        corner = self.mapping(top.get("cornerOffsetFromSlot"), "cornerOffsetFromSlot")
        for key in "xyz":
            self.number(corner, key, "cornerOffsetFromSlot.")
        wells = self.mapping(top.get("wells"), "wells")
        if not wells and "adapter" not in (top.get("allowedRoles") or ()):
            raise self.fail("wells", "has no wells (only an adapter may have none)")
        for name, well in wells.items():
            if not _WELL_NAME.fullmatch(name):  # its row and column are read from it
                raise self.fail(f"wells.{name}", "a well's name must be capital letters then "
                                "digits, such as A1 or AB12, as Opentrons asks (it refuses "
                                f"the labware otherwise), found {name!r}")
            self.well(name, well)
            if is_tiprack and not well["totalLiquidVolume"] > 0:  # what its tip holds
                raise self.fail(f"wells.{name}.totalLiquidVolume", "a tip rack's tip must "
                                f"hold more than 0 µL, found {well['totalLiquidVolume']!r}")
        self.ordering(top.get("ordering"), wells)
        self.stacking(top, params)

    def stacking(self, top: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        """The optional fields that say where the labware sits and what sits on it."""
        for key in ("allowedRoles", "compatibleParentLabware"):
            value = top.get(key)
            if value is not None and (not isinstance(value, list)
                                      or not all(isinstance(v, str) for v in value)):
                raise self.fail(key, f"must be a list of strings, found {value!r}")
        for key in ("stackingOffsetWithLabware", "stackingOffsetWithModule"):
            if top.get(key) is None:
                continue
            for under, offset in self.mapping(top[key], key).items():
                vector = self.mapping(offset, f"{key}.{under}")
                for axis in "xyz":
                    self.number(vector, axis, f"{key}.{under}.")
        if top.get("stackLimit") is not None:
            limit = top["stackLimit"]
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise self.fail("stackLimit", f"must be a whole number >= 1, found {limit!r}")
        if params.get("magneticModuleEngageHeight") is not None:
            self.number(params, "magneticModuleEngageHeight", "parameters.")

    def well(self, name: str, data: object) -> None:
        prefix = f"wells.{name}."
        well = self.mapping(data, prefix[:-1])
        for key in ("x", "y", "z"):  # from the labware's front left bottom corner: never
            # below it (a tip sent to such a well's bottom would go under the labware)
            self.number(well, key, prefix, minimum=0.0)
        self.number(well, "depth", prefix, minimum=0.0)
        self.number(well, "totalLiquidVolume", prefix, minimum=0.0)
        shape = well.get("shape")
        if shape == "circular":
            self.number(well, "diameter", prefix, positive=True)
        elif shape == "rectangular":
            self.number(well, "xDimension", prefix, positive=True)
            self.number(well, "yDimension", prefix, positive=True)
        else:
            raise self.fail(
                f"{prefix}shape", f"must be 'circular' or 'rectangular', found {shape!r}"
            )

    def ordering(self, data: object, wells: Mapping[str, Any]) -> None:
        if not isinstance(data, list) or (not data and wells):
            raise self.fail("ordering", "must be a non-empty list of columns of well names")
        seen: set[str] = set()
        for i, column in enumerate(data):
            if not isinstance(column, list) or not column:
                raise self.fail(f"ordering[{i}]", "must be a non-empty list of well names")
            for name in column:
                if name not in wells:
                    raise self.fail(f"ordering[{i}]", f"well {name!r} is not defined in wells")
                if name in seen:
                    raise self.fail(f"ordering[{i}]", f"well {name!r} is listed twice")
                seen.add(name)
        missing = [name for name in wells if name not in seen]
        if missing:
            raise self.fail("ordering", f"well {missing[0]!r} is in wells but in no column")

    def mapping(self, data: object, key: str, what: str = "an object") -> Mapping[str, Any]:
        if data is None:
            raise self.fail(key, "missing")
        if not isinstance(data, dict):
            raise self.fail(key, f"must be {what}, found {type(data).__name__}")
        return data

    def text(self, data: Mapping[str, Any], key: str, prefix: str = "") -> None:
        value = data.get(key)
        if value is None:
            raise self.fail(prefix + key, "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(prefix + key, f"must be a non-empty string, found {value!r}")

    def safe_name(self, data: Mapping[str, Any], key: str, prefix: str = "") -> None:
        """A load name or namespace: lower-case letters, digits, ``.`` and ``_`` only, as
        Opentrons' schema has it (it passes over a definition with any other)."""
        self.text(data, key, prefix)
        if not _SAFE_NAME.fullmatch(data[key]):
            raise self.fail(prefix + key, "must be lower-case letters, digits, '.' and '_' "
                            f"only, as Opentrons' labware schema asks, found {data[key]!r}")

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        prefix: str = "",
        *,
        positive: bool = False,
        minimum: float | None = None,
    ) -> None:
        value = data.get(key)
        if value is None:
            raise self.fail(prefix + key, "missing")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(prefix + key, f"must be a number, found {value!r}")
        if not math.isfinite(value):
            raise self.fail(prefix + key, f"must be a finite number, found {value!r}")
        if positive and not value > 0:
            raise self.fail(prefix + key, f"must be more than 0, found {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(prefix + key, f"must be at least {minimum:g}, found {value!r}")
