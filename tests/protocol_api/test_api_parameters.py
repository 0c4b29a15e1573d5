"""Runtime parameters: ``add_parameters`` defines them, ``ctx.params`` reads them, a run
may be given other values (as Opentrons checks definitions and values)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.run import Run
from protocol_api.errors import ParameterError
from protocol_api.execute import continue_when_stalled, create_run
from protocol_api.loader import LocatedLoadError, load_protocol

DEFINED = """
    def add_parameters(parameters):
        parameters.add_int(variable_name="count", display_name="Sample count", default=6,
                           minimum=1, maximum=12, unit="samples")
        parameters.add_float(variable_name="volume", display_name="Volume", default=20,
                             choices=[{"display_name": "small", "value": 20},
                                      {"display_name": "large", "value": 50.0}])
        parameters.add_bool(variable_name="dry_run", display_name="Dry run", default=False)
        parameters.add_str(variable_name="plate", display_name="Plate",
                           default="corning_96_wellplate_360ul_flat",
                           choices=[{"display_name": "Corning",
                                     "value": "corning_96_wellplate_360ul_flat"},
                                    {"display_name": "NEST",
                                     "value": "nest_96_wellplate_200ul_flat"}])
"""

READ = """
    def run(ctx):
        p = ctx.params
        ctx.comment(f"{p.count!r} {p.volume!r} {p.dry_run!r} {p.plate}")
        plate = ctx.load_labware(p.plate, 1)
        ctx.comment(plate.load_name)
"""


def write(tmp_path: Path, *parts: str, level: str = "2.18") -> Path:
    path = tmp_path / "protocol.py"
    text = f'metadata = {{"apiLevel": "{level}"}}\n' + "".join(
        textwrap.dedent(part) for part in parts)
    path.write_text(text)
    return path


def finished(path: Path, **params: str) -> Run:
    """The protocol's run, played to its end (its pauses go on by themselves) and closed."""
    run = create_run(path, on_stalled=continue_when_stalled, params=params)
    try:
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    return run


def load_refused(path: Path) -> tuple[str, str]:
    """The load error of the protocol at ``path``: its message and its ``file:line``."""
    with pytest.raises(LocatedLoadError) as raised:
        load_protocol(path)
    return str(raised.value), raised.value.location


def comments(path: Path, **params: str) -> list[str]:
    """The run's comments; it must succeed."""
    events = finished(path, **params).record.events
    assert events[-1]["status"] == "succeeded", events[-1]
    return [e["params"]["message"] for e in events
            if e["event"] == "command" and e["status"] == "queued" and e["type"] == "comment"]


def test_a_run_reads_the_defaults_with_their_types(tmp_path: Path) -> None:
    path = write(tmp_path, DEFINED, READ)
    assert comments(path) == ["6 20.0 False corning_96_wellplate_360ul_flat",
                              "corning_96_wellplate_360ul_flat"]


def test_given_values_replace_the_defaults_and_the_record_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, DEFINED, READ)
    assert comments(path, count="12", volume="50", dry_run="yes",
                    plate="nest_96_wellplate_200ul_flat") == [
        "12 50.0 True nest_96_wellplate_200ul_flat", "nest_96_wellplate_200ul_flat"]
    run = create_run(path, params={"count": "3"})
    run.close()
    assert run.record.events[0]["params"] == {
        "count": 3, "volume": 20.0, "dry_run": False,
        "plate": "corning_96_wellplate_360ul_flat"}


@pytest.mark.parametrize(("given", "message"), [
    ({"count": "13"}, "count must be between 1 and 12, not 13"),
    ({"count": "2.5"}, "count must be an integer, not '2.5'"),
    ({"volume": "30"}, "volume must be one of 20.0, 50.0, not 30.0"),
    ({"volume": "nan"}, "volume must be a finite number, not 'nan'"),
    ({"dry_run": "maybe"}, "dry_run must be true or false (or yes/no, on/off, 1/0), not "
                           "'maybe'"),
    ({"plate": "x"}, "plate must be one of 'corning_96_wellplate_360ul_flat', "
                     "'nest_96_wellplate_200ul_flat', not 'x'"),
    ({"cnt": "3"}, "the protocol has no parameter 'cnt'; its parameters are count, volume, "
                   "dry_run, plate"),
])
def test_a_value_a_parameter_cannot_take_is_refused_before_the_run(
        tmp_path: Path, given: dict[str, str], message: str) -> None:
    path = write(tmp_path, DEFINED, READ)
    with pytest.raises(ParameterError) as raised:
        create_run(path, params=given)
    assert str(raised.value) == message


@pytest.mark.parametrize(("call", "message"), [
    ('add_int(variable_name="n", display_name="N", default=20, minimum=1, maximum=3)',
     "add_int: the default of n must be between 1 and 3, not 20"),
    ('add_int(variable_name="n", display_name="N", default=2, minimum=1)',
     "add_int: n needs a minimum and a maximum, or choices"),
    ('add_float(variable_name="v", display_name="V", default=0.8, choices=[])',
     "add_float: v is given no choices (an empty list); give some, or a minimum and a "
     "maximum"),
    ('add_int(variable_name="n", display_name="N", default=2, minimum=3, maximum=1)',
     "add_int: n's maximum 1 is less than its minimum 3"),
    ('add_int(variable_name="n", display_name="N", default=2, minimum=1, maximum=3, '
     'choices=[{"display_name": "a", "value": 2}])',
     "add_int: n is given choices and a minimum or maximum; give one or the other"),
    ('add_int(variable_name="n", display_name="N", default=2.0, minimum=1, maximum=3)',
     "default must be an integer, not 2.0"),
    ('add_float(variable_name="v", display_name="V", default=1, '
     'choices=[{"display_name": "a", "value": "1"}])',
     "each choice's value must be a number, not '1'"),
    ('add_float(variable_name="v", display_name="V", default=1, choices=[{"value": 1}])',
     "each choice must be a dict with the keys 'display_name' and 'value', not {'value': 1}"),
    ('add_str(variable_name="s", display_name="S", default="x")',
     "add_str: s needs choices (a list of {'display_name': ..., 'value': ...})"),
    ('add_str(variable_name="s", display_name="S", default="x", '  # as add_int, Opentrons
     'choices=[{"display_name": "A", "value": "a"}, {"display_name": "B", "value": "b"}])',
     "add_str: the default of s must be one of 'a', 'b', not 'x'"),
    ('add_bool(variable_name="b", display_name="B", default=1)',
     "default must be True or False, not 1"),
    ('add_bool(variable_name="2b", display_name="B", default=True)',
     "variable_name '2b' must be a Python name (letters, digits and _, not starting with a "
     "digit)"),
    ('add_bool(variable_name="class", display_name="B", default=True)',
     "variable_name 'class' is a Python keyword"),
    ('add_bool(variable_name="b", display_name="B" * 31, default=True)',
     f"display_name {'B' * 31!r} is longer than 30 characters"),
    ('add_bool(variable_name="b", display_name="B", default=True)\n'
     '    parameters.add_bool(variable_name="b", display_name="C", default=True)',
     "variable_name 'b' is already used (by another parameter or by ctx.params itself); "
     "give another"),
    ('add_bool(variable_name="_values", display_name="B", default=True)',
     "variable_name '_values' is already used (by another parameter or by ctx.params "
     "itself); give another"),
    ('add_bool(variable_name="__class__", display_name="B", default=True)',
     "variable_name '__class__' is already used (by another parameter or by ctx.params "
     "itself); give another"),
    ('add_int(variable_name="get_all", display_name="B", default=1, minimum=0, maximum=2)',
     "variable_name 'get_all' is already used (by another parameter or by ctx.params "
     "itself); give another"),
    ('add_csv_file(variable_name="f", display_name="F")',
     "add_csv_file needs apiLevel 2.20 or later; this protocol's apiLevel is 2.18"),
    ('nonsense(1)', "add_parameters raised AttributeError: 'ParameterContext' object has no "
                    "attribute 'nonsense'"),
    # The bounds are said exactly, as Opentrons says them: 0.1 + 0.2 is not 0.3 (rounded,
    # the message read "must be between 0.3 and 0.7, not 0.3"), nor 1234567 1.23457e+06.
    ('add_float(variable_name="v", display_name="V", default=0.3, minimum=0.1 + 0.2, '
     'maximum=0.7)',
     "add_float: the default of v must be between 0.30000000000000004 and 0.7, not 0.3"),
    ('add_int(variable_name="n", display_name="N", default=0, minimum=1, maximum=1234567)',
     "add_int: the default of n must be between 1 and 1234567, not 0"),
    ('add_float(variable_name="v", display_name="V", default=1.0, minimum=2.5, '
     'maximum=1234567.5)',
     "add_float: the default of v must be between 2.5 and 1234567.5, not 1.0"),
    ('add_int(variable_name="n", display_name="N", default=1, minimum=7654321, '
     'maximum=1234567)',
     "add_int: n's maximum 1234567 is less than its minimum 7654321"),
])
def test_a_wrong_definition_fails_the_load_at_its_line(
        tmp_path: Path, call: str, message: str) -> None:
    path = write(tmp_path, f"def add_parameters(parameters):\n    parameters.{call}\n",
                 "def run(ctx):\n    pass\n")
    said, where = load_refused(path)
    assert said.endswith(message), said
    assert where == f"{path}:{3 + call.count(chr(10))}"


def test_params_needs_2_18_and_is_empty_without_add_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, "def run(ctx):\n    ctx.comment(repr(ctx.params.get_all()))\n"
                 "    ctx.params.missing\n")
    run = finished(path)
    summary = run.record.events[-1]
    assert summary["status"] == "failed" and summary["location"] == f"{path}:4"
    assert summary["error"] == ("AttributeError: ctx.params has no parameter 'missing'; the "
                                "protocol defines none (add_parameters)")
    assert comments(write(tmp_path, "def run(ctx):\n    ctx.comment(repr(ctx.params.get_all()))"
                          "\n")) == ["{}"]
    older = write(tmp_path, DEFINED, READ, level="2.17")  # defined, but not readable
    run = finished(older)
    assert run.record.events[-1]["error"] == (
        "ProtocolContext.params needs apiLevel 2.18 or later; this protocol's apiLevel is 2.17")


def test_a_parameter_cannot_be_changed_by_the_protocol(tmp_path: Path) -> None:
    path = write(tmp_path, DEFINED, "def run(ctx):\n    ctx.params.count = 3\n")
    run = finished(path)
    assert run.record.events[-1]["error"] == (
        "AttributeError: ctx.params.count is a runtime parameter; it cannot be changed")


CSV = """
    def add_parameters(parameters):
        parameters.add_csv_file(variable_name="picks", display_name="Cherry picks")

    def run(ctx):
        rows = ctx.params.picks.parse_as_csv()
        ctx.comment(repr(rows))
        ctx.comment(ctx.params.picks.file.readline().strip())
"""


def test_a_csv_file_is_read_from_the_path_given(tmp_path: Path) -> None:
    path = write(tmp_path, CSV, level="2.20")
    picks = tmp_path / "picks.csv"
    picks.write_text("well,volume\nA1,20\nB1,30\n\n")
    assert comments(path, picks=str(picks)) == [
        "[['well', 'volume'], ['A1', '20'], ['B1', '30']]", "well,volume"]
    run = create_run(path, params={"picks": str(picks)})
    run.close()
    assert run.record.events[0]["params"] == {"picks": str(picks)}
    with pytest.raises(ParameterError, match=r"^picks: cannot read the CSV file .*gone\.csv: "
                                             r"No such file or directory$"):
        create_run(path, params={"picks": str(tmp_path / "gone.csv")})
    with pytest.raises(ParameterError, match=r"^picks: the CSV file /dev/zero is not a regular "
                                             r"file$"):
        create_run(path, params={"picks": "/dev/zero"})  # it would be read for ever
    for empty in ("", " "):  # said as what it is, not as the current folder (".")
        with pytest.raises(ParameterError, match=r"^picks: a CSV file parameter needs a "
                                                 r"file's path, not an empty one$"):
            create_run(path, params={"picks": empty})


CSV_FILE = """
    def add_parameters(parameters):
        parameters.add_csv_file(variable_name="picks", display_name="Cherry picks")

    def run(ctx):
        f = ctx.params.picks.file
        ctx.comment(f"{f.name} {f.mode} {f.writable()}")
        for line in f:
            ctx.comment(repr(line.rstrip("\\n").split(",")))
"""


def test_a_csv_file_saved_with_crlf_reads_as_opentrons_opens_it(tmp_path: Path) -> None:
    # Opentrons opens the file in text mode: '\r\n' reads as '\n'. As a StringIO of the
    # bytes, a protocol splitting its lines by hand got 'mix\r' and skipped its mixes.
    path = write(tmp_path, CSV_FILE, level="2.20")
    picks = tmp_path / "picks.csv"
    picks.write_bytes(b"well,action\r\nA1,mix\r\n")
    assert comments(path, picks=str(picks)) == [
        f"{picks} r False", "['well', 'action']", "['A1', 'mix']"]


def test_a_csv_file_with_a_nul_byte_is_refused_at_every_python(tmp_path: Path) -> None:
    # As Opentrons' robots' Python (3.10) refuses it; 3.11's csv module reads it.
    path = write(tmp_path, CSV, level="2.20")
    picks = tmp_path / "picks.csv"
    picks.write_bytes(b"well,volume\nA1,2\x000\n")
    run = finished(path, picks=str(picks))
    assert run.record.events[-1]["error"] == "cannot read the CSV file of picks: line 2 " \
                                            "contains NUL"


def test_a_csv_file_not_given_fails_where_the_protocol_reads_it(tmp_path: Path) -> None:
    path = write(tmp_path, CSV, level="2.20")
    run = finished(path)
    summary = run.record.events[-1]
    assert (summary["status"], summary["location"]) == ("failed", f"{path}:7")
    assert summary["error"] == ("the CSV file parameter picks was given no file (labrun "
                                "simulate and run take one as --param picks=FILE.csv; a "
                                "queued run has none)")
    assert run.record.events[0]["params"] == {"picks": None}


def test_a_protocol_may_catch_a_csv_file_not_given_as_opentrons_documents(
        tmp_path: Path) -> None:
    # Opentrons' documentation has a protocol import RuntimeParameterRequiredError and catch
    # it to use rows of its own; the import used to fail the load ("not supported").
    path = write(tmp_path, """
        from opentrons.protocol_api import RuntimeParameterRequiredError

        def add_parameters(parameters):
            parameters.add_csv_file(variable_name="picks", display_name="Cherry picks")

        def run(ctx):
            for read in ("parse_as_csv()", "contents", "file"):
                try:
                    eval(f"ctx.params.picks.{read}")
                except RuntimeParameterRequiredError:
                    ctx.comment(f"{read}: no file")
    """, level="2.20")
    assert comments(path) == ["parse_as_csv(): no file", "contents: no file", "file: no file"]


def test_a_csv_file_of_one_column_needs_detect_dialect_false(tmp_path: Path) -> None:
    # As in Opentrons: the guess of the delimiter fails on one column.
    path = write(tmp_path, CSV.replace("parse_as_csv()", "parse_as_csv(detect_dialect=False)"),
                 level="2.20")
    picks = tmp_path / "picks.csv"
    picks.write_text("volume\n20\n")
    assert comments(path, picks=str(picks))[0] == "[['volume'], ['20']]"
    path = write(tmp_path, CSV, level="2.20")
    run = finished(path, picks=str(picks))
    assert run.record.events[-1]["error"] == (
        "cannot read the CSV file of picks: Could not determine delimiter (for a file of one "
        "column, parse_as_csv(detect_dialect=False))")


def test_parameter_errors_are_value_errors_a_protocol_may_catch(tmp_path: Path) -> None:
    # As Opentrons' (ParameterValueError...): they were not, so `except ValueError`
    # around a definition or a CSV file's reading caught nothing and the protocol failed.
    path = write(tmp_path, """
        def add_parameters(parameters):
            try:
                parameters.add_int(variable_name="count", display_name="Count", default=9,
                                   minimum=1, maximum=8)
            except ValueError as exc:
                parameters.add_bool(variable_name="fallback", display_name="Fallback",
                                    default=True)
            parameters.add_csv_file(variable_name="picks", display_name="Cherry picks")

        def run(ctx):
            ctx.comment(repr(ctx.params.get_all()["fallback"]))
            try:
                rows = ctx.params.picks.parse_as_csv()
            except ValueError:  # one column: no delimiter to guess
                rows = ctx.params.picks.parse_as_csv(detect_dialect=False)
            ctx.comment(repr(rows))
            try:
                ctx.params.count
            except ValueError:
                pass
            except AttributeError:
                ctx.comment("no count")
    """, level="2.20")
    picks = tmp_path / "picks.csv"
    picks.write_text("volume\n20\n")
    assert comments(path, picks=str(picks)) == ["True", "[['volume'], ['20']]", "no count"]
    run = finished(path)  # no file: not a ValueError, as in Opentrons
    assert (run.record.events[-1]["location"], run.record.events[-1]["error"][:46]) == (
        f"{path}:15", "the CSV file parameter picks was given no file")


def test_what_add_parameters_sets_at_the_top_level_run_does_not_see(tmp_path: Path) -> None:
    # Opentrons executes the file anew for run: a global add_parameters set is undefined
    # there (NameError on the robot), a list it appended to is empty. Both were seen.
    path = write(tmp_path, """
        SEEN = []

        def add_parameters(parameters):
            global KEPT
            KEPT = parameters
            SEEN.append("add_parameters")
            parameters.add_bool(variable_name="dry_run", display_name="Dry run", default=True)

        def run(ctx):
            ctx.comment(f"{SEEN} {ctx.params.dry_run}")
            ctx.comment(repr(KEPT))
    """)
    run = finished(path)
    assert [e["params"]["message"] for e in run.record.events if e.get("type") == "comment"
            and e["status"] == "queued"] == ["[] True"]
    assert (run.record.events[-1]["location"], run.record.events[-1]["error"]) == (
        f"{path}:13", "NameError: name 'KEPT' is not defined")


@pytest.mark.parametrize(("signature", "others"), [
    ("parameters, more=1", "more=1"),
    ("parameters, *rest", "*rest"),
    ("parameters, **options", "**options"),
])
def test_add_parameters_with_more_parameters_fails_the_load_at_its_def(
        tmp_path: Path, signature: str, others: str) -> None:
    """Opentrons refuses an ``add_parameters`` of more than one parameter, even when the
    others have defaults ("Function 'add_parameters' must take exactly one argument");
    labrun ran it, so the protocol passed here and failed on the robot."""
    path = write(tmp_path, f"def add_parameters({signature}):\n"
                 '    parameters.add_bool(variable_name="b", display_name="B", default=True)\n',
                 "def run(ctx):\n    pass\n")
    said, where = load_refused(path)
    assert said.endswith("add_parameters must take exactly one parameter, the parameters to "
                         f"define; it also has {others}"), said
    assert where == f"{path}:2"


def test_add_parameters_of_star_args_alone_is_taken(tmp_path: Path) -> None:
    """``def add_parameters(*args)`` has one parameter: Opentrons takes it."""
    path = write(tmp_path, "def add_parameters(*args):\n"
                 '    args[0].add_bool(variable_name="b", display_name="B", default=True)\n',
                 "def run(ctx):\n    ctx.comment(repr(ctx.params.b))\n")
    assert comments(path) == ["True"]


@pytest.mark.parametrize(("define", "kind"), [
    ("async def add_parameters(parameters):", "async def"),
    ("def add_parameters(parameters):\n    yield", "a generator function (it has yield)"),
])
def test_add_parameters_that_is_not_a_plain_def_fails_the_load_at_its_def(
        tmp_path: Path, define: str, kind: str) -> None:
    """Called, an ``async def`` or generator ``add_parameters`` returns at once and defines
    nothing (Opentrons then runs with no parameters; its ``ctx.params.b`` fails with no
    such attribute): labrun said so only at that line, "its parameters are none: the
    protocol defines no add_parameters", which it does. The load now says why, at the def."""
    path = write(tmp_path, f"{define}\n"
                 '    parameters.add_bool(variable_name="b", display_name="B", default=True)\n',
                 "def run(ctx):\n    ctx.comment(repr(ctx.params.b))\n")
    said, where = load_refused(path)
    assert said.endswith(f"add_parameters must be a plain def, not {kind}: called, it would "
                         "define no parameters"), said
    assert where == f"{path}:2"


def test_an_add_parameters_that_defines_none_is_not_said_missing(tmp_path: Path) -> None:
    """With an ``add_parameters`` that defines nothing, ``ctx.params.NAME`` said "the
    protocol defines no add_parameters", which it does; now: it defines none."""
    path = write(tmp_path, "def add_parameters(parameters):\n    pass\n",
                 "def run(ctx):\n    ctx.params.missing\n")
    run = finished(path)
    summary = run.record.events[-1]
    assert summary["status"] == "failed" and summary["location"] == f"{path}:5"
    assert summary["error"] == ("AttributeError: ctx.params has no parameter 'missing'; the "
                                "protocol defines none (add_parameters)")
