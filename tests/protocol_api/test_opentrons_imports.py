"""The ``opentrons`` module paths library protocols import resolve to labrun's objects."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from labrun_testing import simulate_file

import protocol_api
from protocol_api import labware as labrun_labware
from protocol_api.context import ProtocolContext
from protocol_api.errors import ProtocolLoadError, TipError
from protocol_api.instrument import InstrumentContext
from protocol_api.loader import load_protocol
from protocol_api.types import APIVersion

PROTOCOL = """
metadata = {"apiLevel": "2.13"}
import opentrons.protocol_api.labware
from opentrons import APIVersion as TopVersion, protocol_api, types
from opentrons.protocol_api.labware import Labware, OutOfTipsError, Well
from opentrons.protocol_api.contexts import InstrumentContext, ProtocolContext
from opentrons.protocol_api.instrument_context import InstrumentContext as IC
from opentrons.protocol_api.protocol_context import ProtocolContext as PC
from opentrons.protocols.api_support.types import APIVersion

FOUND = (Labware, OutOfTipsError, Well, InstrumentContext, ProtocolContext, IC, PC,
         APIVersion, TopVersion, protocol_api, types, opentrons.protocol_api.labware)

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
    p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips])
    for well in tips.wells():
        well.has_tip = False
    try:
        p20.pick_up_tip()
    except OutOfTipsError:
        ctx.comment("caught")
    ctx.comment(str(APIVersion(2, 13)))
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "imports.py"
    path.write_text(textwrap.dedent(PROTOCOL), encoding="utf-8")
    return path


def test_every_module_path_resolves_to_labrun(tmp_path: Path) -> None:
    before = {name for name in sys.modules if name.startswith("opentrons")}
    source = load_protocol(write(tmp_path))
    found = source.run.__globals__["FOUND"]
    assert found[:8] == (labrun_labware.Labware, labrun_labware.OutOfTipsError,
                         labrun_labware.Well, InstrumentContext, ProtocolContext,
                         InstrumentContext, ProtocolContext, APIVersion)
    assert found[8] is APIVersion
    assert found[9] is protocol_api and found[10] is protocol_api.types
    assert found[11] is labrun_labware
    # Nothing was added to sys.modules.
    assert {name for name in sys.modules if name.startswith("opentrons")} == before


def test_a_protocol_catches_out_of_tips_by_the_opentrons_name(tmp_path: Path) -> None:
    run = simulate_file(write(tmp_path))
    comments = [e.command.params()["message"] for e in run.engine.entries
                if e.command.kind == "comment"]
    assert comments == ["caught", "2.13"]
    assert issubclass(labrun_labware.OutOfTipsError, TipError)


def test_a_protocol_may_define_dataclasses_and_keeps_its_main_guard_off(tmp_path: Path) -> None:
    path = tmp_path / "dc.py"
    path.write_text(textwrap.dedent("""
        from dataclasses import dataclass
        metadata = {"apiLevel": "2.13"}

        @dataclass(frozen=True)
        class Source:
            well: str
            volume: float

        RAN_MAIN = False
        if __name__ == "__main__":
            RAN_MAIN = True

        def run(ctx):
            ctx.comment(str(Source("A1", 5)))
    """), encoding="utf-8")
    source = load_protocol(path)
    assert source.run.__globals__["RAN_MAIN"] is False
    run = simulate_file(path)
    comments = [e.command.params()["message"] for e in run.engine.entries
                if e.command.kind == "comment"]
    assert comments == ["Source(well='A1', volume=5)"]


def test_the_nozzle_layouts_import_as_opentrons_names_them(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text('from opentrons.protocol_api import ALL, COLUMN, PARTIAL_COLUMN, ROW, SINGLE\n'
                    'metadata = {"apiLevel": "2.20"}\n\ndef run(ctx):\n    pass\n')
    names = load_protocol(path).run.__globals__
    assert [names[n].value for n in ("ALL", "COLUMN", "PARTIAL_COLUMN", "ROW", "SINGLE")] == [
        "ALL", "COLUMN", "PARTIAL_COLUMN", "ROW", "SINGLE"]


CLASSES = """
from opentrons import protocol_api
metadata = {"apiLevel": "2.20"}

def add_parameters(parameters):
    assert isinstance(parameters, protocol_api.ParameterContext)
    parameters.add_int(variable_name="n", display_name="n", default=2, minimum=1, maximum=5)

def run(ctx):
    temp = ctx.load_module("temperature module gen2", 1)
    mag = ctx.load_module("magnetic module gen2", 9)
    hs = ctx.load_module("heaterShakerModuleV1", 3)
    tc = ctx.load_module("thermocycler module")
    water = ctx.define_liquid("water", "w", "#0000ff")
    checks = [isinstance(temp, protocol_api.TemperatureModuleContext),
              isinstance(mag, protocol_api.MagneticModuleContext),
              isinstance(hs, protocol_api.HeaterShakerContext),
              isinstance(tc, protocol_api.ThermocyclerContext),
              all(isinstance(m, protocol_api.ModuleContext) for m in (temp, mag, hs, tc)),
              isinstance(water, protocol_api.Liquid),
              isinstance(ctx.params, protocol_api.Parameters),
              isinstance(ctx.deck, protocol_api.Deck)]
    ctx.comment(str(checks))
    ctx.comment(f"{protocol_api.MIN_SUPPORTED_VERSION} {protocol_api.MAX_SUPPORTED_VERSION}")
"""


def test_module_parameter_and_liquid_classes_are_opentrons_protocol_api_names(
        tmp_path: Path) -> None:
    """Opentrons 8.8.2's ``opentrons.protocol_api`` has the module contexts, ModuleContext,
    ParameterContext, Parameters, Liquid and Deck: protocols check what they loaded with
    isinstance, and MIN/MAX_SUPPORTED_VERSION are APIVersions, printed as '2.0'."""
    path = tmp_path / "classes.py"
    path.write_text(textwrap.dedent(CLASSES), encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    comments = [e.command.params()["message"] for e in run.engine.entries
                if e.command.kind == "comment"]
    assert comments == [str([True] * 8), "2.0 2.27"]


@pytest.mark.parametrize(("line", "said"), [
    ("print(protocol_api.WasteChute)",
     "opentrons.protocol_api.WasteChute: waste chutes (a Flex's) are not supported by labrun"),
    ("isinstance(ctx, protocol_api.RobotContext)",
     "opentrons.protocol_api.RobotContext: the robot's own motion commands (ctx.robot) are "
     "not supported by labrun"),
    ("protocol_api.Nonsense", "labrun does not provide opentrons.protocol_api.Nonsense"),
    ("types.MountType.LEFT", "labrun does not provide opentrons.types.MountType"),
])
def test_a_name_labrun_lacks_fails_at_its_line_saying_so(tmp_path: Path, line: str,
                                                         said: str) -> None:
    """An Opentrons name labrun does not have fails the run at the protocol's line with one
    line saying labrun does not provide it (not Python's 'module has no attribute')."""
    path = tmp_path / "protocol.py"
    path.write_text('from opentrons import protocol_api, types\nmetadata = {"apiLevel": "2.20"}\n'
                    f'def run(ctx):\n    {line}\n', encoding="utf-8")
    summary = simulate_file(path).record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"] == said
    assert summary["location"] == f"{path}:4"


MOUNTS = """
from opentrons import types
metadata = {"apiLevel": "2.15"}
def run(ctx):
    p300 = ctx.load_instrument("p300_single_gen2", types.Mount.RIGHT)
    right = types.Mount.RIGHT
    ctx.comment(f"{p300.mount} {right} {right.value} {list(ctx.loaded_instruments)}")
    ctx.comment(str(types.Mount.string_to_mount("left") is types.Mount.LEFT))
    ctx.load_instrument("p20_single_gen2", types.Mount.EXTENSION)
"""


def test_a_protocol_sees_opentrons_mounts(tmp_path: Path) -> None:
    """As in Opentrons: a pipette loaded on ``types.Mount.RIGHT`` is on mount 'right',
    the Mount prints as RIGHT and its value is 2; a pipette on EXTENSION is refused."""
    path = tmp_path / "mounts.py"
    path.write_text(textwrap.dedent(MOUNTS), encoding="utf-8")
    run = simulate_file(path)
    comments = [e.command.params()["message"] for e in run.engine.entries
                if e.command.kind == "comment"]
    assert comments == ["right RIGHT 2 ['right']", "True"]
    summary = run.record.events[-1]
    assert summary["status"] == "failed" and summary["location"] == f"{path}:9"
    assert summary["error"] == ("no pipette mounts on EXTENSION (the Flex's gripper mount); "
                                "mounts are 'left' and 'right'")


def test_module_contexts_import_from_their_opentrons_module(tmp_path: Path) -> None:
    """Opentrons' own protocols import the module classes from
    ``opentrons.protocol_api.module_contexts``; the Flex's (MagneticBlockContext) are
    refused at the import's line, saying labrun does not support them."""
    path = tmp_path / "protocol.py"
    path.write_text(
        "from opentrons.protocol_api.module_contexts import (\n"
        "    HeaterShakerContext, MagneticModuleContext, ModuleContext,\n"
        "    TemperatureModuleContext, ThermocyclerContext)\n"
        'metadata = {"apiLevel": "2.20"}\n\ndef run(ctx):\n    pass\n', encoding="utf-8")
    names = load_protocol(path).run.__globals__
    assert [names[n] for n in ("HeaterShakerContext", "MagneticModuleContext", "ModuleContext",
                               "TemperatureModuleContext", "ThermocyclerContext")] == [
        protocol_api.HeaterShakerContext, protocol_api.MagneticModuleContext,
        protocol_api.ModuleContext, protocol_api.TemperatureModuleContext,
        protocol_api.ThermocyclerContext]
    path.write_text("import json\nfrom opentrons.protocol_api.module_contexts import "
                    "MagneticBlockContext\n" 'metadata = {"apiLevel": "2.20"}\n'
                    "def run(ctx):\n    pass\n", encoding="utf-8")
    with pytest.raises(ProtocolLoadError) as info:
        load_protocol(path)
    assert info.value.location == f"{path}:2"
    assert str(info.value).endswith(
        "ImportError: opentrons.protocol_api.module_contexts.MagneticBlockContext: magnetic "
        "blocks (a Flex's) are not supported by labrun")


def test_an_unknown_load_name_is_caught_as_file_not_found(tmp_path: Path) -> None:
    """Below apiLevel 2.15 Opentrons raises FileNotFoundError for a load name it has no
    definition of; library protocols try one plate and load another in its handler."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent("""
        metadata = {"apiLevel": "2.13"}
        def run(ctx):
            try:
                plate = ctx.load_labware("opentrons_96_flat_bottom_adapter_nest_plate", 2)
            except FileNotFoundError:
                plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
            ctx.comment(plate.load_name)
    """), encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["corning_96_wellplate_360ul_flat"]


def test_api_version_errors_and_limits_import_from_api_support(tmp_path: Path) -> None:
    """Opentrons has APIVersionError and UnsupportedAPIError in
    ``opentrons.protocols.api_support.util`` and the supported levels in ``.definitions``:
    a protocol catches a call its apiLevel does not have yet by that name."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent("""
        from opentrons.protocols.api_support.util import APIVersionError, UnsupportedAPIError
        from opentrons.protocols.api_support.definitions import (
            MAX_SUPPORTED_VERSION, MIN_SUPPORTED_VERSION)
        metadata = {"apiLevel": "2.8"}
        def run(ctx):
            ctx.comment(f"{MIN_SUPPORTED_VERSION} {MAX_SUPPORTED_VERSION}")
            try:
                ctx.define_liquid("water", "w", "#0000ff")
            except APIVersionError:
                ctx.comment("not at 2.8")
    """), encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["2.0 2.27", "not at 2.8"]


@pytest.mark.parametrize(("line", "module"), [
    ("from opentrons import execute", "opentrons.execute"),
    ("import opentrons.simulate", "opentrons.simulate"),
    ("from opentrons import protocol_api, simulate", "opentrons.simulate"),
    ("from opentrons.execute import get_protocol_api", "opentrons.execute")])
def test_get_protocol_api_is_refused_naming_what_labrun_offers(tmp_path: Path, line: str,
                                                               module: str) -> None:
    """Opentrons' ``execute``/``simulate.get_protocol_api`` (for Jupyter scripts) are not
    labrun's: the import fails at its line, saying where a context comes from."""
    path = tmp_path / "protocol.py"
    path.write_text(f'{line}\nmetadata = {{"apiLevel": "2.15"}}\ndef run(ctx):\n    pass\n',
                    encoding="utf-8")
    with pytest.raises(ProtocolLoadError) as info:
        load_protocol(path)
    assert info.value.location == f"{path}:1"
    assert str(info.value).endswith(
        f"ImportError: labrun does not provide '{module}' (get_protocol_api): a protocol "
        "file gets its context as run(ctx)'s argument, and a script of its own opens one "
        "with labrun's protocol_api.open_context()")


@pytest.mark.parametrize("statement", [
    "import opentrons.protocol_api.module_contexts as where",
    "import opentrons.protocol_api.contexts as where",
    "import opentrons.protocol_api.module_contexts\n"
    "where = opentrons.protocol_api.module_contexts"])
def test_a_submodule_path_imports_with_import_as(tmp_path: Path, statement: str) -> None:
    """``import opentrons.protocol_api.contexts as c`` reads each module of the path as its
    parent's attribute, as Python does: it works as ``from ... import`` does."""
    path = tmp_path / "protocol.py"
    path.write_text(f'{statement}\nmetadata = {{"apiLevel": "2.15"}}\ndef run(ctx):\n'
                    '    ctx.comment(where.__name__)\n', encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    said = [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"]
    assert said == [statement.split()[1]]


def test_runtime_parameter_types_import_from_their_opentrons_module(tmp_path: Path) -> None:
    """Protocols type their choices with ``opentrons.protocols.parameters.types``'
    ParameterChoice (its import failed the load: labrun did not provide the module), and
    ``.exceptions`` has RuntimeParameterRequired, what a CSV file not given raises."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent("""
        from typing import List
        from opentrons.protocols.parameters.types import ParameterChoice
        from opentrons.protocols.parameters.exceptions import RuntimeParameterRequired
        metadata = {"apiLevel": "2.20"}
        PLATES: List[ParameterChoice] = [
            {"display_name": "Corning", "value": "corning_96_wellplate_360ul_flat"}]
        def add_parameters(parameters):
            parameters.add_str(variable_name="plate", display_name="Plate",
                               default="corning_96_wellplate_360ul_flat", choices=PLATES)
            parameters.add_csv_file(variable_name="picks", display_name="Cherry picks")
        def run(ctx):
            ctx.comment(ctx.params.plate)
            try:
                ctx.params.picks.parse_as_csv()
            except RuntimeParameterRequired:
                ctx.comment("no file")
    """), encoding="utf-8")
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["corning_96_wellplate_360ul_flat", "no file"]
