"""Loading protocol files: opentrons imports, metadata and apiLevel, and load errors.

A protocol written for Opentrons must load unmodified, with ``opentrons`` imports
resolved to labrun, without touching ``sys.modules`` or any other import; a file that
cannot run fails at load time with the problem and its ``file:line``.
"""

from __future__ import annotations

import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest
from labrun_testing import simulate_file as simulate

import protocol_api
import protocol_api.types as labrun_types
from protocol_api.execute import create_run
from protocol_api.loader import LoadInterrupted, LocatedLoadError, ProtocolSource, load_protocol


def write(tmp_path: Path, text: str, name: str = "protocol.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_error(path: Path) -> LocatedLoadError:
    with pytest.raises(LocatedLoadError) as info:
        load_protocol(path)
    return info.value


# -- opentrons imports ----------------------------------------------------------------------

OPENTRONS_STYLE = """
    from opentrons import protocol_api
    from opentrons import types
    from opentrons.types import Point, Location
    import opentrons.protocol_api as pa
    from opentrons.protocol_api import ProtocolContext
    import opentrons

    metadata = {"apiLevel": "2.15"}


    def run(ctx: protocol_api.ProtocolContext) -> None:
        assert isinstance(ctx, ProtocolContext) and isinstance(ctx, pa.ProtocolContext)
        assert opentrons.protocol_api is pa and opentrons.types is types
        from opentrons.types import Mount  # an import at run time resolves too
        p = ctx.load_instrument("p300_single_gen2", Mount.LEFT)
        p.move_to(Location(Point(100, 120, 80), None))
        p.move_to(types.Location(types.Point(50, 60, 70), None))
"""


def test_opentrons_imports_resolve_to_labrun(tmp_path: Path) -> None:
    source = load_protocol(write(tmp_path, OPENTRONS_STYLE))
    namespace = source.run.__globals__
    assert namespace["protocol_api"] is protocol_api
    assert namespace["pa"] is protocol_api
    assert namespace["types"] is labrun_types
    assert namespace["Point"] is protocol_api.Point
    assert namespace["Location"] is protocol_api.Location
    assert namespace["ProtocolContext"] is protocol_api.ProtocolContext
    assert source.api_version == (2, 15)
    assert source.metadata == {"apiLevel": "2.15"} and source.requirements == {}


def test_an_opentrons_protocol_runs_unmodified(tmp_path: Path) -> None:
    run = simulate(write(tmp_path, OPENTRONS_STYLE))
    summary = run.record.events[-1]
    assert summary["status"] == "succeeded", summary.get("error")
    points = [e.command.params()["point"] for e in run.engine.entries
              if e.command.kind == "moveTo"]
    assert points == [(100, 120, 80), (50, 60, 70)]


def test_loading_and_running_leave_sys_modules_and_other_imports_alone(tmp_path: Path) -> None:
    path = write(tmp_path, OPENTRONS_STYLE)
    before = dict(sys.modules)
    simulate(path)
    assert "opentrons" not in sys.modules
    assert not [name for name in sys.modules if name.startswith("opentrons")]
    assert {k: v for k, v in sys.modules.items() if k in before} == before
    # Ordinary imports still work, and still come from sys.modules.
    import json
    assert sys.modules["json"] is json


def test_an_installed_opentrons_package_is_untouched(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("opentrons")
    fake.protocol_api = "the real one"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentrons", fake)
    source = load_protocol(write(tmp_path, OPENTRONS_STYLE))
    assert source.run.__globals__["protocol_api"] is protocol_api
    assert sys.modules["opentrons"] is fake
    assert fake.protocol_api == "the real one"


def test_protocols_may_import_anything_else(tmp_path: Path) -> None:
    path = write(tmp_path, """
        import math
        from collections import OrderedDict

        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.comment(str(math.floor(2.5)) + str(len(OrderedDict(a=1))))
    """)
    run = simulate(path)
    assert [e.command.params() for e in run.engine.entries if e.command.kind == "comment"] == [
        {"message": "21"}]


def test_a_protocol_is_compiled_with_its_own_future_imports_not_labrun_s(
        tmp_path: Path) -> None:
    """A protocol's annotations are evaluated as Python (and Opentrons) evaluate them: the
    loader's own ``from __future__ import annotations`` made them text, so a dataclass's
    ``ClassVar`` became one of its fields (``Plan(5)`` set the rows, not the volume) and an
    annotation naming nothing ran; a protocol that asks for the future import has it."""
    path = write(tmp_path, """
        from dataclasses import dataclass
        from typing import ClassVar

        metadata = {"apiLevel": "2.15"}

        @dataclass
        class Plan:
            rows: ClassVar[int] = 8
            volume: float = 10.0

        def annotated(x: int) -> None:
            pass

        def run(ctx):
            ctx.comment(repr(Plan(5)))
            ctx.comment(repr(annotated.__annotations__["x"]))
    """)
    run = simulate(path)
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["Plan(volume=5)", "<class 'int'>"]
    path = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx: NoSuchName):
            pass
    """, name="typo.py")
    error = load_error(path)
    assert (str(error), error.location) == (
        "the protocol's top level raised NameError: name 'NoSuchName' is not defined",
        f"{path}:3")
    path = write(tmp_path, """
        from __future__ import annotations

        metadata = {"apiLevel": "2.15"}

        def run(ctx: NoSuchName):
            ctx.comment(repr(run.__annotations__["ctx"]))
    """, name="lazy.py")
    run = simulate(path)
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["'NoSuchName'"]


@pytest.mark.parametrize(("statement", "module"), [
    ("import opentrons.hardware_control", "opentrons.hardware_control"),
    ("from opentrons.protocol_api.labware import Pipe", "opentrons.protocol_api.labware.Pipe"),
])  # (execute and simulate: test_opentrons_imports.py, which says what to use instead)
def test_other_opentrons_modules_give_a_clear_load_error(tmp_path: Path, statement: str,
                                                         module: str) -> None:
    path = write(tmp_path, f"""
        metadata = {{"apiLevel": "2.15"}}
        {statement}

        def run(ctx):
            pass
    """)
    error = load_error(path)
    assert str(error).startswith(
        "the protocol's top level raised ImportError: labrun runs Opentrons protocols but "
        f"does not provide '{module}'; it provides opentrons.protocol_api, ")
    assert error.location == f"{path}:2"


# -- apiLevel and metadata ------------------------------------------------------------------


@pytest.mark.parametrize(("header", "version"), [
    ('metadata = {"apiLevel": "2.0"}', (2, 0)),
    ('metadata = {"apiLevel": "2.20", "protocolName": "x"}', (2, 20)),
    ('requirements = {"robotType": "OT-2", "apiLevel": "2.27"}', (2, 27)),
    ('requirements = {"robotType": "OT-2", "apiLevel": "2.16"}', (2, 16)),
    ('metadata = {"author": "me"}\nrequirements = {"apiLevel": "2.9"}', (2, 9)),
])
def test_accepted_api_levels(tmp_path: Path, header: str, version: tuple[int, int]) -> None:
    path = write(tmp_path, header + "\n\ndef run(ctx):\n    pass\n")
    assert load_protocol(path).api_version == version


@pytest.mark.parametrize(("text", "version", "line"), [
    # what looks like metadata but is not the top-level statement is not read as it
    ('"""\nmetadata = {"apiLevel": "2.1"}\n"""\nmetadata = {"apiLevel": "2.13"}\n', (2, 13), 4),
    ('x = dict(\nmetadata={"apiLevel": "2.1"},\n)\nmetadata = {"apiLevel": "2.13"}\n',
     (2, 13), 4),
    ('class C:\n    metadata = {"apiLevel": "2.1"}\nmetadata = {"apiLevel": "2.13"}\n', (2, 13), 3),
    ('metadata = {\n  "apiLevel": "2.13",\n  "author": """a\nmetadata = 5\n"""}\n', (2, 13), 1),
    # the statement is found wherever it starts, the last one counts
    ('x = 1; metadata = {"apiLevel": "2.13"}\n', (2, 13), 1),
    ('metadata = {"apiLevel": "2.1"}\nmetadata = {"apiLevel": "2.13"}\n', (2, 13), 2),
    ('metadata = \\\n    {"apiLevel": "2.13"}\n', (2, 13), 1),
    ('metadata = (\n    {"apiLevel": "2.13"}\n)\n', (2, 13), 1),
    ('metadata = {"apiLevel": "2.1"}\rmetadata = {"apiLevel": "2.13"}\r', (2, 13), 2),
    ('metadata = {"apiLevel": "2.1"}\r\nmetadata = {"apiLevel": "2.13"}\r\n', (2, 13), 2),
])
def test_metadata_is_the_top_level_statement_that_assigns_it(
        tmp_path: Path, text: str, version: tuple[int, int], line: int) -> None:
    """Only those statements are parsed (not the whole file, for speed), and they are the
    ones Python's own syntax tree gives; the line is the statement's, as an error names it."""
    path = tmp_path / "protocol.py"
    path.write_bytes((text + "\ndef run(ctx):\n    pass\n").encode())
    assert load_protocol(path).api_version == version
    path.write_bytes(text.replace('"2.13"', '"9.9"').encode() + b"\ndef run(ctx):\n    pass\n")
    assert load_error(path).location == f"{path}:{line}"


def test_a_warning_about_the_file_is_given_once_at_its_line(tmp_path: Path) -> None:
    """Python warns of an invalid escape when it compiles the file; reading the metadata
    again must not repeat it, nor name no file."""
    path = write(tmp_path, 'metadata = {"apiLevel": "2.13",\n'
                           '            "description": "C:\\path"}\n\ndef run(ctx):\n    pass\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_protocol(path).api_version == (2, 13)
    assert [(str(w.message), w.filename, w.lineno) for w in caught] == [
        ("invalid escape sequence '\\p'", str(path.resolve()), 2)]


def test_metadata_after_code_that_never_ends_is_read_all_the_same(tmp_path: Path) -> None:
    """Python's compiler drops the statements after a top level that cannot go on; the
    metadata is read from the file, so the error is the top level's own."""
    path = write(tmp_path, 'raise ValueError("no")\nmetadata = {"apiLevel": "2.13"}\n\n'
                           'def run(ctx):\n    pass\n')
    error = load_error(path)
    assert (str(error), error.location) == (
        "the protocol's top level raised ValueError: no", f"{path}:1")


def test_the_context_gets_the_protocols_api_level(tmp_path: Path) -> None:
    path = write(tmp_path, """
        requirements = {"apiLevel": "2.11"}

        def run(ctx):
            assert ctx.api_version == (2, 11), ctx.api_version
    """)
    assert simulate(path).record.events[-1]["status"] == "succeeded"


SUPPORTED = "labrun supports 2.0 to 2.27"
API_V1 = ("the protocol is written for Opentrons' Python API version 1 ({}), which labrun, "
          "like Opentrons' current software, does not run; port it to API v2: def "
          "run(protocol) and an apiLevel in metadata (the newest is '2.27')")


@pytest.mark.parametrize(("header", "message", "line"), [
    ('metadata = {"apiLevel": "2.28"}', f"apiLevel 2.28 is not supported; {SUPPORTED}", 1),
    ('metadata = {"apiLevel": "3.0"}', f"apiLevel 3.0 is not supported; {SUPPORTED}", 1),
    ('metadata = {"apiLevel": "1.9"}', API_V1.format("apiLevel 1.9"), 1),
    ('metadata = {"apiLevel": "1"}', API_V1.format("apiLevel '1'"), 1),
    ('# a comment\nmetadata = {"apiLevel": "two"}',
     f"apiLevel 'two' is not a version like '2.15'; {SUPPORTED}", 2),
    ('metadata = {"apiLevel": "2"}', f"apiLevel '2' is not a version like '2.15'; {SUPPORTED}",
     1),
    ('metadata = {"apiLevel": "2.x"}',
     f"apiLevel '2.x' is not a version like '2.15'; {SUPPORTED}", 1),
    ('metadata = {"apiLevel": 2.20}',
     f"apiLevel must be a string like '2.15', not 2.2; {SUPPORTED}", 1),
    ('metadata = {"protocolName": "x"}',
     "no apiLevel: add metadata = {'apiLevel': '2.27'} (or requirements) to the protocol, "
     f"or the level an older protocol was written for; {SUPPORTED}", 1),
    ('metadata = {"apiLevel": "2.15"}\nrequirements = {"apiLevel": "2.14"}',
     "apiLevel is '2.15' in metadata but '2.14' in requirements; give it once, in one of "
     "them", 2),
    ('metadata = {"apiLevel": "2.15"}\nrequirements = {"apiLevel": "2.15"}',
     "apiLevel is in both metadata and requirements; give it once, in one of them", 2),
    ('metadata = dict(apiLevel="2.15")', "metadata must be a literal dict (no names or calls)",
     1),
    ('requirements = ["2.15"]', "requirements must be a dict", 1),
    ('metadata = {"apiLevel": "2.15"}\nrequirements = {"robotType": "OT3000"}',
     "robotType must be 'OT-2' or 'Flex', not 'OT3000'", 2),
    ('requirements = {"robotType": "Flex", "apiLevel": "2.15"}',
     "labrun runs OT-2 protocols; robotType 'Flex' is not supported", 1),
    # an apiLevel of None is given (Opentrons refuses a value that is not text), not absent
    ('metadata = {"apiLevel": None}\nrequirements = {"apiLevel": "2.15"}',
     "apiLevel is None in metadata but '2.15' in requirements; give it once, in one of them",
     2),
    ('requirements = {"apiLevel": None}',
     "apiLevel must be a string like '2.15', not None; labrun supports 2.0 to 2.27", 1),
    # Opentrons refuses a requirements key it does not know, so a misspelt one is seen
    ('requirements = {"apiLevel": "2.15", "robottype": "OT-2"}',
     "requirements has no key 'robottype'; its keys are 'apiLevel' and 'robotType' "
     "(put anything else in metadata)", 1),
    ('metadata = {"apiLevel": "2.15"}\nrequirements = {"author": "me"}',
     "requirements has no key 'author'; its keys are 'apiLevel' and 'robotType' "
     "(put anything else in metadata)", 2),
])
def test_bad_api_levels_are_load_errors(tmp_path: Path, header: str, message: str,
                                        line: int) -> None:
    path = write(tmp_path, header + "\n\ndef run(ctx):\n    pass\n")
    error = load_error(path)
    assert str(error) == message
    assert error.location == f"{path}:{line}"


@pytest.mark.parametrize(("text", "why", "line"), [
    ("""
     # an OT-2 protocol of 2019
     from opentrons import labware, instruments, robot

     metadata = {"protocolName": "old"}
     plate = labware.load("96-flat", "1")
     p300 = instruments.P300_Single(mount="right")
     """, "it imports labware, instruments, robot from opentrons", 2),
    ("""
     import json
     import opentrons.robot as robot
     from opentrons import instruments

     def run(ctx):
         pass
     """, "it imports robot, instruments from opentrons", 2),
    ("""
     from opentrons import *
     plate = labware.load("96-flat", "1")
     """, "it has no run function: its code is at the top level", 1),
])
def test_an_api_v1_protocol_is_refused_as_one(tmp_path: Path, text: str, why: str,
                                              line: int) -> None:
    # Not "no apiLevel": adding one would only lead to the next failure.
    error = load_error(write(tmp_path, text))
    assert (str(error), error.location) == (API_V1.format(why), f"{tmp_path}/protocol.py:{line}")


@pytest.mark.parametrize("text", [
    "from opentrons import protocol_api\n\nx = 1\n",  # API v2's import, no run
    # API v2 scripts of Opentrons' own, at the top level
    "from opentrons import simulate\n\nctx = simulate.get_protocol_api('2.15')\n",
    "import opentrons.execute\n\nctx = opentrons.execute.get_protocol_api('2.15')\n",
    "import json\n\nx = 1\n",  # no opentrons
])
def test_a_file_with_no_api_level_nor_api_v1_imports_is_told_to_give_one(
        tmp_path: Path, text: str) -> None:
    assert str(load_error(write(tmp_path, text))).startswith("no apiLevel: add metadata")


# -- the file and run() ---------------------------------------------------------------------


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx)
            pass
    """)
    error = load_error(path)
    assert str(error).startswith("syntax error: ")
    assert error.location == f"{path}:3"


def test_a_json_protocol_or_a_device_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "designer.json"
    path.write_text('{"metadata": {"protocolName": "x"}, "commands": []}')
    error = load_error(path)
    assert str(error) == ("this is an Opentrons JSON protocol (from the Protocol Designer); "
                          "labrun runs Python protocols")
    error = load_error(Path("/dev/zero"))  # read for ever, before
    assert (str(error), error.location) == ("the protocol is not a regular file", "/dev/zero")


def test_a_null_byte_names_its_line(tmp_path: Path) -> None:
    # Python's own error gives no line for it ("nul.py:None" before).
    path = tmp_path / "nul.py"
    path.write_bytes(b'metadata = {"apiLevel": "2.15"}\ndef run(ctx):\n    x = 1\x00\n')
    error = load_error(path)
    assert str(error) == "syntax error: source code string cannot contain null bytes"
    assert error.location == f"{path.resolve()}:3"


@pytest.mark.parametrize(("statement", "message"), [
    ("ctx.delay(seconds=1, seconds=2)", "keyword argument repeated: seconds"),
    ("nonlocal ctx", "name 'ctx' is parameter and nonlocal"),
    ("await ctx", "'await' outside async function"),
])
def test_a_syntax_error_the_compiler_finds_names_its_line(tmp_path: Path, statement: str,
                                                           message: str) -> None:
    """Python's parser accepts these; its compiler refuses them: still bad input."""
    path = write(tmp_path, 'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n    '
                 + statement + "\n")
    error = load_error(path)
    assert str(error) == f"syntax error: {message}"
    assert error.location == f"{path}:4"


def test_a_missing_run_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'metadata = {"apiLevel": "2.15"}\n\ndef main(ctx):\n    pass\n')
    error = load_error(path)
    assert (str(error), error.location) == ("the protocol has no run(ctx) function", f"{path}:1")


@pytest.mark.parametrize(("signature", "line"), [
    ("def run(ctx, other):", 4), ("def run():", 4), ("def run(*, ctx):", 4),
    ("def run(ctx, *, flag):", 4)])
def test_run_must_take_one_argument(tmp_path: Path, signature: str, line: int) -> None:
    path = write(tmp_path, f'metadata = {{"apiLevel": "2.15"}}\n\n\n{signature}\n    pass\n')
    error = load_error(path)
    assert str(error) == "run must take exactly one argument, the protocol context"
    assert error.location == f"{path}:{line}"


@pytest.mark.parametrize("signature", [
    "def run(ctx, extra=1):", "def run(ctx, *args, **kwargs):", "def run(*args):",
    "def run(ctx, /):", "def run(ctx, *, flag=1):", "def run(ctx=None):"])
def test_run_with_defaults_or_varargs_is_accepted(tmp_path: Path, signature: str) -> None:
    path = write(tmp_path, f'metadata = {{"apiLevel": "2.15"}}\n\n{signature}\n    pass\n')
    assert isinstance(load_protocol(path), ProtocolSource)


def test_a_run_that_is_no_plain_function_is_checked_all_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, 'import functools\nmetadata = {"apiLevel": "2.15"}\n\n'
                           'def steps(ctx, n):\n    pass\n\nrun = functools.partial(steps, n=2)\n')
    assert isinstance(load_protocol(path), ProtocolSource)
    path = write(tmp_path, 'import functools\nmetadata = {"apiLevel": "2.15"}\n\n'
                           'def steps(ctx, n):\n    pass\n\nrun = functools.partial(steps)\n')
    assert str(load_error(path)) == "run must take exactly one argument, the protocol context"


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_bytes(b'\xef\xbb\xbfmetadata = {"apiLevel": "2.15"}\n'
                     b'def run(ctx):\n    ctx.comment("caf\xc3\xa9")\n')
    run = simulate(path)
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["café"]


def test_an_error_at_the_top_level_is_a_load_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}
        PLATES = {"a": 1}
        FIRST = PLATES["b"]

        def run(ctx):
            pass
    """)
    error = load_error(path)
    assert str(error) == "the protocol's top level raised KeyError: 'b'"
    assert error.location == f"{path}:3"


def test_a_missing_file_is_a_load_error(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.py")
    assert str(error) == "cannot read the protocol file: No such file or directory"
    assert error.location == str(tmp_path / "nope.py")


def test_nothing_runs_when_the_file_cannot_be_loaded(tmp_path: Path) -> None:
    path = write(tmp_path, """
        metadata = {"apiLevel": "9.0"}

        def run(ctx):
            ctx.home()
    """)
    with pytest.raises(LocatedLoadError, match=r"apiLevel 9\.0 is not supported"):
        create_run(path, record_path=tmp_path / "record.jsonl")
    assert not (tmp_path / "record.jsonl").exists()


# -- files and top levels that must not end labrun ----------------------------------------


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_bytes(b'metadata = {"apiLevel": "2.15"}\n\n# caf\xe9\ndef run(ctx):\n    pass\n')
    error = load_error(path)
    assert str(error) == ("the protocol file is not UTF-8 text: byte 0xe9 cannot be read; "
                          "save the file as UTF-8")
    assert error.location == f"{path}:3"


def test_a_declared_coding_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_bytes(b'# -*- coding: latin-1 -*-\nmetadata = {"apiLevel": "2.15"}\n'
                     b'def run(ctx):\n    ctx.comment("caf\xe9")\n')
    run = simulate(path)
    assert run.record.events[-1]["status"] == "succeeded"
    assert [e.command.params()["message"] for e in run.engine.entries
            if e.command.kind == "comment"] == ["café"]


@pytest.mark.parametrize("codec", ["rot13", "base64"])
def test_a_coding_comment_naming_no_text_encoding_is_a_syntax_error_at_its_line(
        tmp_path: Path, codec: str) -> None:
    path = tmp_path / "protocol.py"
    # (line 1 says "coding" too, in a word: the comment is on line 2)
    path.write_bytes(f'# Barcoding samples\n# coding: {codec}\ndef run(ctx):\n    pass\n'
                     .encode())
    error = load_error(path)
    assert str(error) == (f"syntax error: the coding comment names '{codec}', which is not "
                          "a text encoding; save the file as UTF-8")
    assert error.location == f"{path}:2"


@pytest.mark.parametrize(("head", "line"), [
    (b"# -*- coding: latin-1 -*-\n", 1),
    (b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\n", 2),
])
def test_a_byte_order_mark_and_a_coding_comment_that_disagree_are_said_at_its_line(
        tmp_path: Path, head: bytes, line: int) -> None:
    # Python's own words were "encoding problem: utf-8", at line 1 whatever the line.
    path = tmp_path / "protocol.py"
    path.write_bytes(b"\xef\xbb\xbf" + head + b'metadata = {"apiLevel": "2.15"}\n'
                     b"def run(ctx):\n    pass\n")
    error = load_error(path)
    assert str(error) == ("syntax error: the file begins with a UTF-8 byte order mark, but "
                          "its coding comment names 'latin-1'; remove the coding comment (or "
                          "save the file as latin-1 without the mark)")
    assert error.location == f"{path}:{line}"


@pytest.mark.parametrize(("body", "line", "message"), [
    ("run = 42", 3, "run must be a function taking the protocol context, not int 42"),
    ("def run(ctx):\n    pass\nrun = 'x'", 5,
     "run must be a function taking the protocol context, not str 'x'"),
    ("if True:\n    run = None", 4,
     "run must be a function taking the protocol context, not NoneType None"),
    ("class run:\n    pass", 3, "run must be a function taking the protocol context"),
    ("async def run(ctx):\n    pass", 3, "run must be a plain def, not async def"),
    # a generator function's call runs none of its body: the run would do nothing
    ("def run(ctx):\n    ctx.comment('x')\n    yield 1", 3,
     "run must be a plain def, not a generator function (it has yield)"),
    ("async def run(ctx):\n    yield 1", 3, "run must be a plain def, not async def"),
    # Opentrons refuses two (a copy left in the file); the last one ran, the first never
    ("def run(ctx):\n    ctx.comment('a')\n\ndef run(ctx):\n    ctx.comment('b')", 6,
     "run is defined 2 times (lines 3, 6); a protocol has one run(ctx) function"),
])
def test_a_run_that_is_not_a_function_is_reported_at_its_own_line(
        tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, 'metadata = {"apiLevel": "2.15"}\n\n' + body + "\n")
    error = load_error(path)
    assert str(error).startswith(message), str(error)
    assert error.location == f"{path}:{line}"


@pytest.mark.parametrize(("statement", "how"), [
    ("sys.exit(3)", "SystemExit, code 3"),
    ("raise SystemExit", "SystemExit"),
    ("exit('bye')", "SystemExit, code 'bye'"),
    ("os._exit(0)", "os._exit(0)"),
    ("from os import _exit; _exit(5)", "os._exit(5)"),
    ("import os.path; os._exit(0)", "os._exit(0)"),
])
def test_exiting_at_the_top_level_is_a_load_error_not_the_end_of_labrun(
        tmp_path: Path, statement: str, how: str) -> None:
    path = write(tmp_path, f"""
        import os
        import sys
        metadata = {{"apiLevel": "2.15"}}
        {statement}
        def run(ctx):
            pass
    """)
    error = load_error(path)  # reaching this line at all: labrun was not ended
    assert str(error) == (f"the protocol tried to exit ({how}); a protocol ends by returning "
                          "from run(ctx)")
    assert error.location == f"{path}:4"


def test_the_protocols_os_is_the_real_one_but_for_exit(tmp_path: Path) -> None:
    import os

    real_exit = os._exit
    source = load_protocol(write(tmp_path, """
        import os
        metadata = {"apiLevel": "2.15"}
        HERE = os.getcwd()
        def run(ctx):
            pass
    """))
    assert os._exit is real_exit and sys.modules["os"] is os
    assert source.run.__globals__["HERE"] == os.getcwd()
    assert source.run.__globals__["os"].environ is os.environ


def test_ctrl_c_at_the_top_level_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        raise KeyboardInterrupt
        def run(ctx):
            pass
    """)
    with pytest.raises(LoadInterrupted) as info:
        load_protocol(path)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.location == f"{path}:3"
