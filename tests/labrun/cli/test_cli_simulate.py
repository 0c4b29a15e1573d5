"""``labrun simulate`` in-process: exit statuses, the text summary, --json, --record,
--labware-dir and --debug, as a user at a terminal sees them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from labrun_protocols import ASPIRATE_LINE, aspirating_at

from engine.record import read_record
from labrun.cli.main import main
from protocol_api.labware_definitions import get_definition
from protocol_api.loader import LocatedLoadError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Tips each example uses: plate replication takes a fresh tip for each of 2 x 96 wells;
# the serial dilution and the incubation use one tip per transfer move plus their own.
EXAMPLE_FACTS = {
    "plate_replication.py": {"tips": 192, "pauses": 1},
    "serial_dilution.py": {"tips": 1 + 8 * 2, "pauses": 0},
    "incubation.py": {"tips": 8 + 1 + 8, "pauses": 0},
    "bead_cleanup.py": {"tips": 50, "pauses": 1},
    "pcr_setup.py": {"tips": 8 + 24, "pauses": 2,  # two moves by hand
                     "left on": ["module in slot 7"]},  # the plate kept at 4 °C
}

SMALL = '''
from opentrons import protocol_api

metadata = {"apiLevel": "2.15"}


def run(ctx: protocol_api.ProtocolContext) -> None:
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(120, plate["A1"], [plate["B1"], plate["B2"]])
    ctx.pause("check the plate")
    ctx.delay(seconds=45)
'''


def write(tmp_path: Path, text: str, name: str = "protocol.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["simulate", *args])
    out, err = capsys.readouterr()
    return status, out, err


def run_log(out: str) -> list[str]:
    """The run log's lines, without their ``[m:ss]`` stamps."""
    log = out.split("\nRun log\n", 1)[1].split("\n\n")[0]
    return [line.split("] ", 1)[-1] if line.startswith("[") else line[len("[ 0:00] "):]
            for line in log.splitlines()]


def summary_fields(out: str) -> dict[str, str]:
    """The closing ``key: value`` lines of the text output."""
    tail = out.split("\n\n")[-1]
    fields = {}
    for line in tail.strip().splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


# -- examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_simulates_and_prints_its_summary(
        capsys: pytest.CaptureFixture[str], example: Path) -> None:
    status, out, err = simulate(capsys, str(example))
    assert status == 0, err
    assert err == ""
    fields = summary_fields(out)
    facts = EXAMPLE_FACTS[example.name]
    assert list(fields) == ["status", "commands", "steps", "tips used", "pauses",
                            "estimated duration", *facts.get("left on", [])]
    assert fields["status"] == "succeeded"
    assert int(fields["tips used"]) == facts["tips"]
    assert int(fields["pauses"]) == facts["pauses"]
    assert int(fields["commands"]) > 0 and int(fields["steps"]) > 0
    assert fields["estimated duration"].endswith(" s)") or fields["estimated duration"].endswith(
        " s")
    # The setup sheet comes first, then the run log: a line per protocol call.
    assert out.startswith("Setup\n  Deck\n")
    log = run_log(out)
    # from apiLevel 2.16 the fixed trash is a bin, named as Opentrons names it
    assert log[0] == ("Loading Trash Bin (slot 12)" if example.name == "incubation.py"
                      else "Loading Opentrons Fixed Trash (slot 12)")
    assert len(log) < int(fields["commands"]) / 3


def test_the_examples_cover_every_one_in_the_directory() -> None:
    assert {p.name for p in EXAMPLES} == set(EXAMPLE_FACTS)


def test_text_and_json_agree_on_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(ROOT / "examples" / "plate_replication.py")
    _, text, _ = simulate(capsys, example)
    _, out, _ = simulate(capsys, example, "--json")
    document = json.loads(out)
    fields = summary_fields(text)
    assert int(fields["commands"]) == len(
        [c for c in document["commands"] if c["origin"] == "protocol"])
    assert int(fields["steps"]) == document["steps"]
    assert int(fields["tips used"]) == document["tips_used"]
    assert int(fields["pauses"]) == len(document["pauses"])
    assert f"({document['estimated_duration_s']:.1f} s)" in fields["estimated duration"]
    assert document["pauses"][0]["message"] == (
        "Replace the replica plate in slot 2 with an empty plate, then resume.")


# -- --json -----------------------------------------------------------------------------------


def test_the_protocols_float_noise_is_rounded_in_json_and_the_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 55.1 + 55.2 is 110.30000000000001 in floating point, a point 0.1 + 0.2 mm above a
    # well's top likewise: both went into --json and the record as they were, and the
    # labware's own 331.78499999999997 (its top) too.
    path = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
            p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p300.pick_up_tip()
            volume = 55.1 + 55.2
            p300.aspirate(volume, plate["A1"])
            p300.dispense(volume, plate["B1"].top(0.1 + 0.2))
            p300.drop_tip()
    """)
    record = tmp_path / "record.jsonl"
    status, out, _ = simulate(capsys, str(path), "--json", "--record", str(record))
    assert status == 0
    for text in (out, record.read_text()):
        assert not re.findall(r"\d\.\d{7,}", text)  # nothing past 6 decimals
    commands = json.loads(out)["commands"]
    liquid = [(c["type"], c["params"]["volume"]) for c in commands
              if c["type"] in ("aspirate", "dispense")]
    assert liquid == [("aspirate", 110.3), ("dispense", 110.3)]
    to_b1 = [c["params"]["point"] for c in commands
             if c["type"] == "moveTo" and c["params"]["well"] == "1/B1"]
    assert to_b1 == [[14.38, 65.24, 14.52]]  # 0.3 mm above its top
    queued = [e for e in read_record(record) if e["event"] == "command" and "params" in e]
    assert [e["params"] for e in queued] == [c["params"] for c in commands]


def test_json_with_v_says_v_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(ROOT / "examples" / "plate_replication.py")
    code, out, err = simulate(capsys, example, "--json", "-v")
    assert code == 0 and json.loads(out)["final_status"] == "succeeded"
    assert err.splitlines() == ["warning: -v has no effect with --json: the document lists "
                                "every command, with its parameters"]


def test_json_is_one_document_with_the_documented_values(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = simulate(capsys, str(write(tmp_path, SMALL)), "--json")
    assert (status, err) == (0, "")
    document = json.loads(out)  # one document, nothing else on stdout
    assert set(document) >= {
        "schema_version", "status", "final_status", "estimated_duration_s", "commands",
        "steps", "pauses", "pause_unresolved", "tips_used", "well_volumes_ul",
        "status_changes", "parks", "error", "location", "reason"}
    assert document["schema_version"] == 2
    assert document["status"] == document["final_status"] == "succeeded"
    assert document["error"] is None and document["location"] is None
    assert document["tips_used"] == 1
    assert document["well_volumes_ul"] == {"1/A1": -240, "1/B1": 120, "1/B2": 120}
    assert document["pause_unresolved"] is False
    assert [(p["source"], p["message"]) for p in document["pauses"]] == [
        ("protocol", "check the plate")]
    assert [p["event"] for p in document["parks"]] == ["park", "unpark"]
    changes = [s["status"] for s in document["status_changes"]]
    assert changes == ["running", "pausing", "paused", "running", "finishing", "succeeded"]
    times = [s["t"] for s in document["status_changes"]]
    assert times == sorted(times)
    assert document["estimated_duration_s"] == pytest.approx(times[-1], abs=1e-3)
    assert document["estimated_duration_s"] > 45

    commands = document["commands"]
    assert [c["id"] for c in commands] == list(range(len(commands)))
    liquid = [(c["type"], c["params"]["volume"], c["params"]["well"]) for c in commands
              if c["type"] in ("aspirate", "dispense")]
    assert liquid == [("aspirate", 120, "1/A1"), ("dispense", 120, "1/B1"),
                      ("aspirate", 120, "1/A1"), ("dispense", 120, "1/B2")]
    assert {c["status"] for c in commands} == {"completed"}
    assert {c["origin"] for c in commands} == {"protocol"}
    path = str(tmp_path / "protocol.py")
    transfer = [c for c in commands if c["step"] == 4]
    assert {c["line"] for c in transfer} == {f"{path}:10"}
    assert transfer[0]["type"] == "pickUpTip" and transfer[0]["params"]["well"] == "4/A1"
    assert transfer[-1]["type"] == "dropTip" and transfer[-1]["params"]["well"] == "12/A1"
    delay = commands[-1]
    assert (delay["type"], delay["params"]["seconds"]) == ("delay", 45)
    assert delay["completed_at"] - delay["started_at"] == pytest.approx(45)
    moves = [c for c in commands if c["type"] == "moveTo"]
    assert all(len(c["params"]["point"]) == 3 and c["params"]["mount"] == "right"
               for c in moves)


def test_json_for_a_failed_run_has_the_error_and_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace('plate["B2"]', 'plate["B13"]'))
    status, out, err = simulate(capsys, str(path), "--json")
    assert status == 1
    document = json.loads(out)
    assert document["status"] == document["final_status"] == "failed"
    assert document["error"] == (
        "corning_96_wellplate_360ul_flat in slot 1 has no well 'B13' (wells are A1..H12)")
    assert document["location"] == f"{path}:10"
    assert err == f"error: {path}:10: {document['error']}\n"


def test_json_for_a_file_that_cannot_load_has_the_same_keys(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace('"2.15"', '"2.99"'))
    status, out, err = simulate(capsys, str(path), "--json")
    assert status == 2
    document = json.loads(out)
    good = json.loads(simulate(capsys, str(write(tmp_path, SMALL, "ok.py")), "--json")[1])
    assert set(document) == set(good)
    assert document["status"] == document["final_status"] == "failed"
    assert document["error"] == "apiLevel 2.99 is not supported; labrun supports 2.0 to 2.27"
    assert document["location"] == f"{path}:3"
    assert document["commands"] == [] and document["tips_used"] == 0
    assert err == f"error: {path}:3: {document['error']}\n"


# -- --record ---------------------------------------------------------------------------------


def test_record_is_json_lines_from_run_to_summary_agreeing_with_json(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = str(write(tmp_path, SMALL))
    record = tmp_path / "run.jsonl"
    status, out, _ = simulate(capsys, protocol, "--json", "--record", str(record))
    assert status == 0
    document = json.loads(out)
    lines = record.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert events == read_record(record)
    assert events[0]["event"] == "run" and events[0]["status"] == "idle"
    summary = events[-1]
    assert summary["event"] == "summary"
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert summary["status"] == document["status"]
    assert summary["duration_s"] == document["estimated_duration_s"]
    assert summary["tips_used"] == document["tips_used"]
    assert summary["well_volumes_ul"] == document["well_volumes_ul"]
    assert summary["pauses"] == document["pauses"]
    assert summary["steps"] == document["steps"]
    assert summary["commands"] == len(document["commands"])
    completed = [e["id"] for e in events if e["event"] == "command"
                 and e["status"] == "completed"]
    assert completed == [c["id"] for c in document["commands"]]


def test_record_of_a_failed_run_ends_with_the_failure(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, SMALL.replace("ctx.delay(seconds=45)",
                                           'p300.detect_liquid_presence(plate["A1"])'))
    record = tmp_path / "run.jsonl"
    status, _, err = simulate(capsys, str(protocol), "--record", str(record))
    assert status == 1
    events = read_record(record)
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "failed"
    assert events[-1]["location"] == f"{protocol}:12"
    failure = [e for e in events if e["event"] == "failure"]
    assert [f["error"] for f in failure] == [  # Opentrons has it from 2.20 (labrun not at all)
        "InstrumentContext.detect_liquid_presence needs apiLevel 2.20 or later; this "
        "protocol's apiLevel is 2.15"]
    assert "Traceback" not in err


def test_a_file_that_cannot_load_leaves_a_record_that_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, "def run(ctx):\n    ctx.home()\n")
    record = tmp_path / "run.jsonl"
    status, out, err = simulate(capsys, str(protocol), "--record", str(record))
    assert status == 2 and out == ""
    assert err.startswith(f"error: {protocol}:1: no apiLevel")
    events = read_record(record)
    assert [e["event"] for e in events] == ["run", "failure", "status", "summary"]
    assert events[-1]["status"] == "failed" and events[-1]["location"] == f"{protocol}:1"
    assert events[-1]["error"].startswith("no apiLevel")


# -- errors and exit statuses -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "message"), [
    ('metadata = {"apiLevel": "2.15"}\ndef run(ctx)\n    pass\n', 2, "syntax error: "),
    # errors Python's parser lets through and its compiler raises
    ('metadata = {"apiLevel": "2.15"}\ndef run(ctx):\n    ctx.delay(seconds=1, seconds=2)\n',
     3, "syntax error: keyword argument repeated: seconds"),
    ('metadata = {"apiLevel": "2.15"}\ndef run(ctx):\n    pass\nbreak\n', 4,
     "syntax error: 'break' outside loop"),
    ('metadata = {"apiLevel": "2.15"}\n', 1, "the protocol has no run(ctx) function"),
    ('metadata = {"apiLevel": "2.15"}\ndef run(a, b):\n    pass\n', 2,
     "run must take exactly one argument"),
    ('metadata = {"apiLevel": "two"}\ndef run(ctx):\n    pass\n', 1,
     "apiLevel 'two' is not a version like '2.15'; labrun supports 2.0 to 2.27"),
    ('metadata = {"apiLevel": "2.15"}\nrequirements = {"apiLevel": "2.16"}\n'
     "def run(ctx):\n    pass\n", 2, "apiLevel is '2.15' in metadata but '2.16'"),
    ('import opentrons.hardware_control\nmetadata = {"apiLevel": "2.15"}\n'
     "def run(ctx):\n    pass\n", 1, "the protocol's top level raised ImportError: labrun "
     "runs Opentrons protocols but does not provide 'opentrons.hardware_control'"),
])
def test_load_errors_exit_2_with_the_line_and_no_traceback(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, line: int,
        message: str) -> None:
    path = write(tmp_path, text)
    status, out, err = simulate(capsys, str(path))
    assert status == 2
    assert out == ""  # nothing ran: no run log
    assert err.startswith(f"error: {path}:{line}: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("command", ["simulate", "run"])
def test_load_errors_raise_with_debug_and_still_leave_a_record(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    path = write(tmp_path, 'metadata = {"apiLevel": "2.15"}\n')
    record = tmp_path / "run.jsonl"
    record.write_text('{"seq":0,"t":0.0,"event":"run"}\n')  # an older run's
    robot = ["--emulate", "--no-simulate"] if command == "run" else []
    with pytest.raises(LocatedLoadError, match=r"no run\(ctx\) function"):
        main([command, str(path), *robot, "--debug", "--record", str(record)])
    events = read_record(record)
    assert events[0]["protocol"] == str(path.resolve())
    assert events[-1]["status"] == "failed"
    assert "no run(ctx) function" in events[-1]["error"]


RUNTIME_ERRORS = [
    ('ctx.load_labware("corning_96_wellplate_360ul_fla", 2)',
     "no labware definition named 'corning_96_wellplate_360ul_fla'; did you mean "
     "'corning_96_wellplate_360ul_flat'?"),
    ('ctx.load_instrument("p20_single_gen2", "right")',
     "the right mount already has a p300_single_gen2"),
    ('p300.aspirate(10, plate["A1"])', "aspirate: the right pipette (p300_single_gen2) has no "
                                       "tip"),
    ('p300.pick_up_tip(); p300.aspirate(400, plate["A1"])',
     "aspirate: 400 µL would put 400 µL in the tip"),
    ('p300.detect_liquid_presence(plate["A1"])',
     "InstrumentContext.detect_liquid_presence needs apiLevel 2.20 or later"),
]


@pytest.mark.parametrize(("call", "message"), RUNTIME_ERRORS,
                         ids=[m.split(":")[0][:30] for _, m in RUNTIME_ERRORS])
def test_runtime_errors_exit_1_with_the_line_and_no_traceback(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, call: str, message: str) -> None:
    path = write(tmp_path, SMALL.replace('    p300.transfer(120, plate["A1"], [plate["B1"], '
                                         'plate["B2"]])', f"    {call}"))
    status, out, err = simulate(capsys, str(path))
    assert status == 1
    assert err.startswith(f"error: {path}:10: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err
    fields = summary_fields(out)
    assert fields["status"] == "failed"
    assert message.split(":")[0] not in out  # the error is said once, on stderr


def test_debug_shows_the_traceback_of_a_runtime_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("ctx.delay(seconds=45)",
                                           'p300.detect_liquid_presence(plate["A1"])'))
    status, _, err = simulate(capsys, str(path), "--debug")
    assert status == 1
    assert err.startswith("Traceback (most recent call last):")
    assert f'File "{path}", line 12, in run' in err
    assert err.endswith(f"error: {path}:12: InstrumentContext.detect_liquid_presence needs "
                        "apiLevel 2.20 or later; this protocol's apiLevel is 2.15\n")


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = simulate(capsys, str(tmp_path / "missing.py"))
    assert status == 2 and out == ""
    assert err == (f"error: {tmp_path / 'missing.py'}: cannot read the protocol file: No such "
                   "file or directory\n")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate"])
    assert info.value.code == 2
    assert "the following arguments are required: file" in capsys.readouterr().err


# -- --labware-dir ----------------------------------------------------------------------------


def custom_plate(directory: Path) -> Path:
    definition: dict[str, Any] = json.loads(json.dumps(
        get_definition("corning_96_wellplate_360ul_flat")))
    definition["parameters"]["loadName"] = "lab_custom_96_plate"
    definition["metadata"]["displayName"] = "Our Custom Plate"
    definition["namespace"] = "custom_beta"
    directory.mkdir()
    path = directory / "lab_custom_96_plate.json"
    path.write_text(json.dumps(definition))
    return path


CHANGES_FOLDER = """
    import os
    metadata = {"apiLevel": "2.20"}
    os.chdir("elsewhere")

    def add_parameters(parameters):
        parameters.add_csv_file(variable_name="volumes", display_name="Volumes")

    def run(ctx):
        os.chdir("elsewhere")
        plate = ctx.load_labware("lab_custom_96_plate", 1)
        ctx.comment(f"{ctx.params.volumes.parse_as_csv()} into {plate.load_name}")
"""


def test_a_protocol_that_changes_the_folder_leaves_labruns_paths_alone(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The record and the deck picture went into the protocol's folder (a record that said
    # "preparing" for ever was left where asked), and the labware folder and the CSV file,
    # given relative to where labrun started, were not found.
    start = tmp_path / "start"
    # (Its top level runs twice, as in Opentrons: once more for add_parameters.)
    (start / "elsewhere" / "elsewhere" / "elsewhere").mkdir(parents=True)
    custom_plate(start / "labware")
    (start / "volumes.csv").write_text("well,volume\nA1,20\n")
    write(start, CHANGES_FOLDER)
    monkeypatch.chdir(start)
    status, out, err = simulate(capsys, "protocol.py", "--labware-dir", "labware", "--param",
                                "volumes=volumes.csv", "--record", "run.jsonl", "--deck",
                                "deck.svg")
    assert (status, err) == (0, "")
    assert "[['well', 'volume'], ['A1', '20']] into lab_custom_96_plate" in out
    assert read_record(start / "run.jsonl")[-1]["status"] == "succeeded"
    assert (start / "deck.svg").read_text().startswith("<svg")
    assert not list((start / "elsewhere").rglob("*.*"))


def test_labware_dir_loads_a_custom_definition(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    custom_plate(tmp_path / "labware")
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat",
                                             "lab_custom_96_plate"))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir",
                                str(tmp_path / "labware"), "--json")
    assert (status, err) == (0, "")
    document = json.loads(out)
    loads = [c["params"] for c in document["commands"] if c["type"] == "loadLabware"]
    assert ("lab_custom_96_plate", "1") in [(p["load_name"], p["slot"]) for p in loads]
    assert document["well_volumes_ul"] == {"1/A1": -240, "1/B1": 120, "1/B2": 120}


def test_a_labware_dir_keeps_each_version_of_a_custom_labware_as_opentrons_does(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Version 2 of a custom plate saved beside version 1: the folder was refused ("each
    # custom labware needs its own load name"), so no protocol ran with it. As in
    # Opentrons, each is loaded by its version, and a load without one is ambiguous.
    first = custom_plate(tmp_path / "labware")
    definition = json.loads(first.read_text())
    definition["version"] = 1
    first.write_text(json.dumps(definition))
    definition["version"] = 2
    definition["metadata"]["displayName"] = "Our Custom Plate, Version 2"
    (tmp_path / "labware" / "lab_custom_96_plate_v2.json").write_text(json.dumps(definition))
    for version in (1, 2):
        protocol = write(tmp_path, SMALL.replace('"corning_96_wellplate_360ul_flat", 1',
                                                 f'"lab_custom_96_plate", 1, version={version}'))
        status, out, err = simulate(capsys, str(protocol), "--labware-dir",
                                    str(tmp_path / "labware"))
        assert (status, err) == (0, "")
        named = "Our Custom Plate, Version 2" if version == 2 else "Our Custom Plate"
        assert f"] Loading {named} (slot 1)\n" in out
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat",
                                             "lab_custom_96_plate"))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir",
                                str(tmp_path / "labware"))
    assert status == 1
    assert err.splitlines()[-1] == (
        f"error: {protocol}:8: several custom labware are named 'lab_custom_96_plate' "
        "(custom_beta/lab_custom_96_plate/1, custom_beta/lab_custom_96_plate/2); give the "
        "version of the one to load, as Opentrons asks")


def test_a_custom_labware_named_in_capitals_is_passed_over_and_its_load_says_why(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Opentrons' schema takes only lower-case load names, so it passes over the file;
    # labrun read it, and then answered load_labware("Lab_Plate") with "no labware
    # definition named 'lab_plate'; did you mean 'Lab_Plate'?".
    path = custom_plate(tmp_path / "labware")
    definition = json.loads(path.read_text())
    definition["parameters"]["loadName"] = "Lab_Plate"
    path.write_text(json.dumps(definition))
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat", "Lab_Plate"))
    status, _, err = simulate(capsys, str(protocol), "--labware-dir", str(tmp_path / "labware"))
    problem = ("parameters.loadName: must be lower-case letters, digits, '.' and '_' only, as "
               "Opentrons' labware schema asks, found 'Lab_Plate'")
    assert status == 1
    assert err.splitlines() == [
        f"warning: {path}: skipped, not a labware definition labrun can read: {problem}",
        f"error: {protocol}:8: labware 'lab_plate' is only in {path}, which is not a labware "
        f"definition labrun can read: {problem}"]


def test_a_custom_well_placed_below_its_labware_is_refused_naming_the_file_and_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A well's x, y and z are measured from the labware's front left bottom corner, and
    Opentrons' labware schema asks each to be at least 0: it passes over a definition
    with a well at z -20. labrun read it and aspirated from that well at 19 mm under the
    deck's surface, as if nothing were wrong."""
    path = custom_plate(tmp_path / "labware")
    definition = json.loads(path.read_text())
    definition["wells"]["A1"]["z"] = -20
    path.write_text(json.dumps(definition))
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat",
                                             "lab_custom_96_plate"))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir",
                                str(tmp_path / "labware"))
    problem = "wells.A1.z: must be at least 0, found -20"
    assert status == 1 and "Aspirating" not in out
    assert err.splitlines()[-1] == (
        f"error: {protocol}:8: labware 'lab_custom_96_plate' is only in {path}, which is not "
        f"a labware definition labrun can read: {problem}")


@pytest.mark.parametrize("name", ["1A", "a1", "A 1", "A"])
def test_a_custom_well_not_named_row_letters_then_column_number_is_refused_at_its_load(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    """Opentrons reads a well's row and column from its name (capital letters, then
    digits) and refuses a labware with any other name, by a file or by
    load_labware_from_definition. labrun loaded it and made rows up: wells "1A" and "1B"
    were rows "A" and "B", and the protocol that relied on that failed on the robot."""
    definition = json.loads(custom_plate(tmp_path / "labware").read_text())
    definition["wells"][name] = definition["wells"].pop("A1")
    definition["ordering"][0][0] = name
    protocol = write(tmp_path, SMALL.replace(
        'plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)',
        f"plate = ctx.load_labware_from_definition(json.loads({json.dumps(definition)!r}), 1)"
    ).replace("from opentrons", "import json\nfrom opentrons"))
    status, out, err = simulate(capsys, str(protocol))
    assert status == 1 and "Aspirating" not in out
    assert err.splitlines() == [
        f"error: {protocol}:9: labware definition: wells.{name}: a well's name must be capital "
        "letters then digits, such as A1 or AB12, as Opentrons asks (it refuses the labware "
        f"otherwise), found {name!r}"]


def test_a_custom_tip_rack_whose_tips_hold_nothing_is_refused_naming_the_file_and_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A tip rack's wells' totalLiquidVolume is what each tip holds. Given 0, labrun took it
    for "not said" and let the pipette aspirate its full volume into such a tip, where
    Opentrons fails the aspirate ("only 0 is available"); refused at its load instead."""
    definition: dict[str, Any] = json.loads(json.dumps(
        get_definition("opentrons_96_tiprack_300ul")))
    definition["parameters"]["loadName"] = "lab_tips"
    definition["namespace"] = "custom_beta"
    for well in definition["wells"].values():
        well["totalLiquidVolume"] = 0
    (tmp_path / "labware").mkdir()
    path = tmp_path / "labware" / "lab_tips.json"
    path.write_text(json.dumps(definition))
    protocol = write(tmp_path, SMALL.replace('"opentrons_96_tiprack_300ul"', '"lab_tips"'))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir",
                                str(tmp_path / "labware"))
    assert status == 1 and "Aspirating" not in out
    assert err.splitlines()[-1] == (
        f"error: {protocol}:7: labware 'lab_tips' is only in {path}, which is not a labware "
        "definition labrun can read: wells.A1.totalLiquidVolume: a tip rack's tip must hold "
        "more than 0 µL, found 0")


def test_without_labware_dir_the_custom_name_is_unknown(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat",
                                             "lab_custom_96_plate"))
    status, _, err = simulate(capsys, str(protocol))
    assert status == 1
    assert err.startswith(f"error: {protocol}:8: no labware definition named "
                          "'lab_custom_96_plate'")


def test_a_bad_labware_dir_is_bad_input(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    protocol = str(write(tmp_path, SMALL))
    status, out, err = simulate(capsys, protocol, "--labware-dir", str(tmp_path / "nope"))
    assert (status, out) == (2, "")
    assert err == f"error: custom labware directory '{tmp_path / 'nope'}' does not exist\n"


def test_a_json_file_of_a_labware_dir_that_is_not_labware_is_skipped_with_a_warning(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """As Opentrons passes over "invalid labware": the user's settings.json beside the
    definitions, or a file cut short that the protocol does not use, stops nothing."""
    folder = tmp_path / "labware"
    custom_plate(folder)
    (folder / "settings.json").write_text('{"theme": "dark"}')
    (folder / "old_plate.json").write_text('{"schemaVersion": 2, "parame')
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat",
                                             "lab_custom_96_plate"))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir", str(folder))
    assert status == 0 and "status:              succeeded" in out
    assert err == (
        f"warning: {folder / 'old_plate.json'}: skipped, not a labware definition labrun "
        "can read: not valid JSON (line 1, column 22: Unterminated string starting at)\n"
        f"warning: {folder / 'settings.json'}: skipped, not a labware definition labrun can "
        "read: schemaVersion: labrun reads Opentrons labware schema 2, found 'missing'\n")
    # a labware only that file could have been: refused at its line, naming the file
    protocol = write(tmp_path, SMALL.replace("corning_96_wellplate_360ul_flat", "old_plate"))
    status, out, err = simulate(capsys, str(protocol), "--labware-dir", str(folder))
    assert status == 1
    assert err.splitlines()[-1] == (
        f"error: {protocol}:8: labware 'old_plate' is only in {folder / 'old_plate.json'}, "
        "which is not a labware definition labrun can read: not valid JSON (line 1, column "
        "22: Unterminated string starting at)")


# -- packaging --------------------------------------------------------------------------------


def test_the_labrun_console_script_points_at_main() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["labrun"] == "labrun.cli.main:main"
    module, _, name = project["scripts"]["labrun"].partition(":")
    assert getattr(sys.modules[module], name) is main


def test_what_the_protocol_prints_does_not_break_json(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("def run(ctx: protocol_api.ProtocolContext) -> None:",
                                         'print("loading")\n\n\ndef run(ctx):\n'
                                         '    print("running")'))
    status, out, err = simulate(capsys, str(path), "--json")
    assert status == 0
    assert json.loads(out)["status"] == "succeeded"
    assert err == "loading\nrunning\n"
    status, out, err = simulate(capsys, str(path))
    assert status == 0 and err == ""
    assert out.startswith("loading\nrunning\n")


@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_a_protocol_may_use_what_a_standard_stream_has(tmp_path: Path,
                                                       json_option: list[str]) -> None:
    # Each failed the run: "AttributeError: '_Borrowed' object has no attribute 'buffer'",
    # "UnsupportedOperation: fileno" (faulthandler.enable() too), ... 'reconfigure'.
    import subprocess

    path = write(tmp_path, """
        import faulthandler
        import sys
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            sys.stdout.reconfigure(line_buffering=True)
            sys.stdout.buffer.write(b"bytes\\n")
            sys.stdout.buffer.flush()
            faulthandler.enable()
            print(sys.stdout.name, sys.stdout.fileno(), sys.stdout.writable())
            ctx.comment("a")
        """)
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                           *json_option], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    if json_option:  # on stderr: the document keeps stdout
        assert json.loads(done.stdout)["status"] == "succeeded"
        assert done.stderr == "bytes\n<stderr> 2 True\n"
    else:
        assert done.stdout.startswith("bytes\n<stdout> 1 True\nSetup\n")


CLOSING = ("sys.stdout.buffer.close()", "sys.stdout.buffer.detach()", "sys.stdout.close()",
           "sys.stdout.detach()", "sys.stderr.buffer.close()", "sys.stderr.detach()")


@pytest.mark.parametrize("json_option", [[], ["--json"]])
@pytest.mark.parametrize("closing", CLOSING)
def test_a_protocol_closing_its_stdout_closes_nothing_of_labrun_s(
        tmp_path: Path, json_option: list[str], closing: str) -> None:
    # sys.stdout.buffer was labrun's own stream's: closed (or detached), the setup sheet
    # after the run was lost, "ValueError: I/O operation on closed file", exit 1 (with
    # --json, labrun's stderr went: exit 120). sys.stdout.detach() (sys.stderr's) failed
    # the protocol: "UnsupportedOperation: detach", exit 1.
    import subprocess

    def simulate(step: str) -> subprocess.CompletedProcess[str]:
        path = write(tmp_path, f"""
            import sys
            metadata = {{"apiLevel": "2.15"}}

            def run(ctx):
                print("before")
                {step}
                ctx.comment("a")
            """)
        return subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate",
                               str(path), *json_option], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)

    done, untouched = simulate(closing), simulate("pass")
    assert (done.returncode, done.stderr) == (0, untouched.stderr)
    assert done.stdout == untouched.stdout  # the results whole
    if json_option:
        assert json.loads(done.stdout)["status"] == "succeeded"
        assert done.stderr == "before\n"
    else:
        assert done.stdout.startswith("before\nSetup\n")


def test_an_unwritable_record_is_bad_input(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    record = tmp_path / "no" / "such" / "dir" / "run.jsonl"
    status, out, err = simulate(capsys, str(write(tmp_path, SMALL)), "--record", str(record))
    assert (status, out) == (2, "")
    assert err == f"error: cannot write the run record {record}: no folder {record.parent}\n"
    status, out, err = simulate(capsys, str(write(tmp_path, SMALL)), "--record", ".")
    assert (status, out, err) == (2, "", f"error: cannot write the run record {Path.cwd()}: "
                                         "it is a directory\n")


def test_no_output_replaces_the_protocol_or_another_output(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, SMALL)
    text = protocol.read_text()
    for option in ("--record", "--deck"):
        status, out, err = simulate(capsys, str(protocol), option, str(protocol))
        what = "run record" if option == "--record" else "deck picture"
        assert (status, out) == (2, "")
        assert err == (f"error: cannot write the {what} {protocol}: it is the protocol file; "
                       "writing there would replace it\n")
        assert protocol.read_text() == text
    both = tmp_path / "out"
    status, out, err = simulate(capsys, str(protocol), "--record", str(both), "--deck", str(both))
    assert (status, out) == (2, "") and not both.exists()
    assert err == (f"error: cannot write the deck picture {both}: it is the file of the run "
                   "record; writing there would replace it\n")


CSV_PARAMETER = """
    metadata = {"apiLevel": "2.20"}

    def add_parameters(parameters):
        parameters.add_csv_file(variable_name="volumes", display_name="Volumes")

    def run(ctx):
        ctx.comment(str(ctx.params.volumes.parse_as_csv()))
"""


@pytest.mark.parametrize("output", ["--record", "--deck"])
@pytest.mark.parametrize("given", ["csv", "labware", "robot"])
def test_no_output_replaces_a_file_the_run_reads(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str, given: str) -> None:
    # The record replaced the --param CSV file (the user's data gone, the run reading the
    # record's first line as its CSV), a labware definition or the robot file.
    protocol = write(tmp_path, CSV_PARAMETER)
    data = tmp_path / "volumes.csv"
    data.write_text("well,volume\nA1,20\n")
    labware = custom_plate(tmp_path / "labware")
    robot = tmp_path / "robot.toml"
    robot.write_text('name = "ours"\n[controller]\nkind = "simulated"\n')
    target, what = {"csv": (data, "the file of --param volumes"),
                    "labware": (labware, f"a labware definition of --labware-dir "
                                         f"{tmp_path / 'labware'}"),
                    "robot": (robot, "the robot file")}[given]
    before = target.read_text()
    status, out, err = simulate(capsys, str(protocol), "--param", f"volumes={data}",
                                "--labware-dir", str(tmp_path / "labware"), "--robot",
                                str(robot), output, str(target))
    which = "run record" if output == "--record" else "deck picture"
    assert (status, out) == (2, "")
    assert err == (f"error: cannot write the {which} {target}: it is {what}; writing there "
                   "would replace it\n")
    assert target.read_text() == before


def test_a_bad_at_never_writes_its_record_over_a_file_the_run_reads(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A --at that cannot be read is bad input said before anything else: the record of
    # that run, which never started, replaced the --param CSV file all the same.
    protocol = write(tmp_path, CSV_PARAMETER)
    data = tmp_path / "volumes.csv"
    data.write_text("well,volume\nA1,20\n")
    status, out, _ = simulate(capsys, str(protocol), "--param", f"volumes={data}",
                              "--at", "soon", "--record", str(data))
    assert (status, out) == (2, "")
    assert data.read_text() == "well,volume\nA1,20\n"


def test_a_deck_picture_that_cannot_be_written_is_bad_input_before_the_run(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = str(write(tmp_path, SMALL))
    folder = tmp_path / "no" / "such"
    status, out, err = simulate(capsys, protocol, "--deck", str(folder / "deck.svg"))
    assert (status, out) == (2, "")
    assert err == (f"error: cannot write the deck picture {folder / 'deck.svg'}: "
                   f"no folder {folder}\n")
    status, out, err = simulate(capsys, protocol, "--deck", str(tmp_path))
    assert (status, out) == (2, "")
    assert err == f"error: cannot write the deck picture {tmp_path}: it is a directory\n"


def test_a_short_delay_is_said_to_the_hundredth_of_a_second(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, 'metadata = {"apiLevel": "2.15"}\n'
                               "def run(ctx):\n"
                               "    ctx.delay(seconds=1 / 3)\n"
                               "    ctx.delay(seconds=25 / 3)\n"
                               "    ctx.delay(seconds=0.5)\n")
    status, out, _ = simulate(capsys, str(protocol))
    assert status == 0
    assert run_log(out)[1:] == ["Delaying for 0.33 s", "Delaying for 8.33 s",
                                "Delaying for 0.5 s"]


def test_the_log_lists_the_protocol_pause_and_its_automatic_resume(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = simulate(capsys, str(write(tmp_path, SMALL)))
    assert status == 0
    assert run_log(out) == [
        "Loading Opentrons Fixed Trash (slot 12)",
        "Loading Opentrons OT-2 96 Tip Rack 300 µL (slot 4)",
        "Loading Corning 96 Well Plate 360 µL Flat (slot 1)",
        "Loading p300_single_gen2 on the right mount",
        "Transferring 120.0 µL from A1 of Corning 96 Well Plate 360 µL Flat (slot 1) to "
        "B1, B2 of Corning 96 Well Plate 360 µL Flat (slot 1)",
        "Pausing: check the plate",
        "Delaying for 45 s",
    ]
    assert out.count("check the plate") == 2  # once in the setup sheet, once in the log
    assert summary_fields(out)["pauses"] == "1"
    _, verbose, _ = simulate(capsys, str(write(tmp_path, SMALL)), "-v")
    log = run_log(verbose)
    paused = log.index("status paused by protocol")
    assert log[paused + 1:paused + 3] == ["resume from simulate", "status running"]
    assert "parked" in log and "delay elapsed" in log
    # A protocol pause is a checkpoint: the tip waits up until a command acts there.
    assert "unparked; the tips stay up until a command acts where they were" in log
    assert "  Aspirating 120.0 µL from A1 of Corning 96 Well Plate 360 µL Flat (slot 1)" in log
    assert not any("(" in line and "," in line.split("(")[-1] for line in log)  # no points
    _, very, _ = simulate(capsys, str(write(tmp_path, SMALL)), "-vv")
    log = run_log(very)
    assert any(line.startswith("parked; recorded position X=") for line in log)
    assert any(line.startswith("unparked back to X=") for line in log)
    assert any(line.startswith("  Moving to B1 of Corning 96 Well Plate 360 µL Flat "
                               "(slot 1) (") for line in log)


def test_a_label_of_two_lines_is_shown_on_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The setup sheet, the run log and the summary keep a line each: the label's lines
    are joined (the record keeps the label as it was given)."""
    text = SMALL.replace('"corning_96_wellplate_360ul_flat", 1)',
                         '"corning_96_wellplate_360ul_flat", 1,\n'
                         '                             label="Sample plate\\n(from fridge)")')
    status, out, _ = simulate(capsys, str(write(tmp_path, text)), "-v")
    assert status == 0
    assert "    slot 1   Sample plate (from fridge) (Corning 96 Well Plate 360 µL Flat)" in (
        out.splitlines())
    assert "Loading Sample plate (from fridge) (slot 1)" in run_log(out)
    assert "\n(from fridge)" not in out


def test_a_module_call_that_lifts_the_pipettes_first_is_one_call_in_the_log(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, '''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            hs = ctx.load_module("heaterShakerModuleV1", 1)
            hs.load_labware("nest_96_wellplate_2ml_deep")
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
            p = ctx.load_instrument("p300_single_gen2", "right")
            hs.close_labware_latch()
            p.move_to(plate["A1"].top())
            hs.set_and_wait_for_shake_speed(500)
        ''')
    status, out, _ = simulate(capsys, str(path))
    assert status == 0
    assert run_log(out)[-1] == "Heater-Shaker: set and wait for shake speed (500 rpm)"
    status, out, _ = simulate(capsys, str(path), "-v")
    log = [line.strip() for line in run_log(out)]
    shake = log.index("Heater-Shaker: set and wait for shake speed (500 rpm)")
    # the call's line says its module command: only the lift is nested under it
    assert log[shake + 1:shake + 3] == [
        "Lifting the pipettes clear of the Heater-Shaker Module GEN1 in slot 1",
        "status finishing"]


def liquid_calls(capsys: pytest.CaptureFixture[str], tmp_path: Path, calls: str,
                 *verbs: str) -> list[str]:
    """The run log's lines starting with ``verbs`` for ``calls`` made with a p300 ``p``,
    its ``tips`` (slot 1), a ``plate`` (slot 2) and a ``res`` ervoir (slot 3)."""
    protocol = write(tmp_path, '''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, "plate")
            res = ctx.load_labware("nest_12_reservoir_15ml", 3, "reservoir")
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    ''' + textwrap.indent(textwrap.dedent(calls), " " * 12))
    status, out, _ = simulate(capsys, str(protocol))
    assert status == 0
    return [line for line in run_log(out) if line.startswith(verbs)]


def test_a_transfer_from_many_wells_into_one_says_the_volume_from_each(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # As the protocol gave it (70 from each), not the 560 µL the reservoir well got.
    assert liquid_calls(capsys, tmp_path, '''
        p.transfer(70, plate.columns()[0], res["A12"])
        p.transfer(70, res["A1"], plate.columns()[0])
        p.consolidate(30, plate.columns()[0], res["A11"])
    ''', "Transf", "Consol") == [
        "Transferring 70.0 µL from each of 8 wells A1…H1 of plate (slot 2) to A12 of "
        "reservoir (slot 3)",
        "Transferring 70.0 µL from A1 of reservoir (slot 3) to 8 wells A1…H1 of plate (slot 2)",
        "Consolidating 30.0 µL from each of 8 wells A1…H1 of plate (slot 2) to A11 of "
        "reservoir (slot 3)",
    ]


def test_a_transfer_of_a_list_of_volumes_says_each_or_their_span(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert liquid_calls(capsys, tmp_path, '''
        p.transfer([10, 250, 30], plate["A1"], plate.wells()[8:11])
        p.transfer([10, 20, 30, 40], plate["A1"], plate.wells()[16:20])
    ''', "Transf") == [
        "Transferring 10.0 µL, 250.0 µL and 30.0 µL from A1 of plate (slot 2) to A2, B2, C2 "
        "of plate (slot 2)",
        "Transferring 4 volumes between 10.0 µL and 40.0 µL from A1 of plate (slot 2) to 4 "
        "wells A3…D3 of plate (slot 2)",
    ]


def test_a_transfer_with_air_gaps_says_the_liquid_not_the_air(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert liquid_calls(capsys, tmp_path, '''
        p.transfer(100, plate["A1"], plate["A2"], air_gap=20)
        p.transfer(600, plate["A1"], plate["A3"], air_gap=50)
        p.distribute(30, plate["A1"], [plate["B1"], plate["B2"]], air_gap=10)
    ''', "Transf", "Distr") == [
        "Transferring 100.0 µL from A1 of plate (slot 2) to A2 of plate (slot 2)",
        "Transferring 600.0 µL from A1 of plate (slot 2) to A3 of plate (slot 2)",
        "Distributing 30.0 µL from A1 of plate (slot 2) to B1, B2 of plate (slot 2)",
    ]


def test_a_load_name_in_other_case_is_shown_by_its_labware_name_not_as_a_label(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Opentrons takes load names in any case; the log and setup sheet name the labware as
    # for the lowercase name, rather than show the lowercased name as if it were a label.
    protocol = write(tmp_path, '''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.load_labware("opentrons_96_tiprack_300uL", 4)
    ''')
    status, out, _ = simulate(capsys, str(protocol))
    assert status == 0
    assert "Loading Opentrons OT-2 96 Tip Rack 300 µL (slot 4)" in run_log(out)
    assert "slot 4   Opentrons OT-2 96 Tip Rack 300 µL\n" in out


# -- runtime parameters -----------------------------------------------------------------------

PARAMETERS = '''metadata = {"apiLevel": "2.20"}

def add_parameters(parameters):
    parameters.add_int(variable_name="columns", display_name="Columns", default=2,
                       minimum=1, maximum=12)
    parameters.add_csv_file(variable_name="volumes", display_name="Volumes")

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    volume = float(ctx.params.volumes.parse_as_csv()[1][1])
    for column in plate.columns()[:ctx.params.columns]:
        p300.transfer(volume, plate["A12"], column[0])
'''


def test_param_sets_runtime_parameters_and_the_setup_says_their_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "parameters.py"
    protocol.write_text(PARAMETERS)
    volumes = tmp_path / "volumes.csv"
    volumes.write_text("well,volume\nA1,25\n")
    code, out, err = simulate(capsys, str(protocol), "--param", "columns=3",
                              "--param", f"volumes={volumes}")
    assert (code, err) == (0, "")
    assert out.splitlines()[:4] == ["Setup", "  Parameters", "    columns = 3",
                                    f"    volumes = {str(volumes)!r}"]
    assert run_log(out).count("Transferring 25.0 µL from A12 of Corning 96 Well Plate 360 µL "
                              "Flat (slot 2) to A1 of Corning 96 Well Plate 360 µL Flat "
                              "(slot 2)") == 1
    assert sum("Transferring 25.0 µL" in line for line in run_log(out)) == 3
    code, out, _ = simulate(capsys, str(protocol), "--json", "--param", f"volumes={volumes}")
    assert json.loads(out)["setup"]["parameters"] == {"columns": 2, "volumes": str(volumes)}


@pytest.mark.parametrize(("given", "said"), [
    (["--param", "columns=13"], "error: --param: columns must be between 1 and 12, not 13"),
    (["--param", "rows=2"], "error: --param: the protocol has no parameter 'rows'; its "
                            "parameters are columns, volumes"),
    (["--param", "volumes=/nonexistent/v.csv"], "error: --param: volumes: cannot read the "
                                                "CSV file /nonexistent/v.csv: No such file "
                                                "or directory"),
])
def test_a_param_the_protocol_cannot_take_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], given: list[str], said: str) -> None:
    protocol = tmp_path / "parameters.py"
    protocol.write_text(PARAMETERS)
    code, out, err = simulate(capsys, str(protocol), *given)
    assert (code, out, err.splitlines()) == (2, "", [said])


def test_a_csv_parameter_not_given_fails_at_the_line_that_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "parameters.py"
    protocol.write_text(PARAMETERS)
    code, _, err = simulate(capsys, str(protocol))
    assert code == 1
    assert err.splitlines()[-1] == (f"error: {protocol}:12: the CSV file parameter volumes was "
                                    "given no file (labrun simulate and run take one as "
                                    "--param volumes=FILE.csv; a queued run has none)")


# -- where the record goes ----------------------------------------------------------------------


def test_a_record_path_that_is_a_link_writes_the_file_it_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target, link = tmp_path / "records" / "run.jsonl", tmp_path / "latest.jsonl"
    target.parent.mkdir()
    link.symlink_to(target)
    example = str(ROOT / "examples" / "plate_replication.py")
    code, _, _ = simulate(capsys, example, "--record", str(link))
    assert code == 0 and link.is_symlink()  # the link stays a link
    assert read_record(target)[-1]["status"] == "succeeded"


def test_a_record_path_that_is_a_pipe_is_written_to_as_it_goes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "record.fifo"
    os.mkfifo(fifo)
    example = str(ROOT / "examples" / "plate_replication.py")
    # No reader: said at once (a write would wait for ever), and the pipe stays a pipe.
    code, _, err = simulate(capsys, example, "--record", str(fifo))
    assert code == 2 and stat.S_ISFIFO(fifo.stat().st_mode)
    assert err == f"error: cannot write the run record {fifo}: No such device or address\n"
    lines: list[bytes] = []
    end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader before labrun opens it
    os.set_blocking(end, True)
    held = os.open(fifo, os.O_WRONLY)  # so that the reader waits for labrun's lines

    def read() -> None:
        with open(end, "rb") as pipe:
            lines.extend(pipe.read().splitlines())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code, _, _ = simulate(capsys, example, "--record", str(fifo))
    finally:
        os.close(held)
        reader.join(30)
    assert code == 0 and stat.S_ISFIFO(fifo.stat().st_mode)
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "run" and events[-1]["status"] == "succeeded"


def test_a_record_that_fills_the_disk_fails_the_simulation_in_one_line(tmp_path: Path) -> None:
    import resource
    import signal
    import subprocess

    def limited() -> None:  # in the child: past 20 kB a file cannot grow, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    record = tmp_path / "record.jsonl"
    example = str(ROOT / "examples" / "plate_replication.py")
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", example,
                           "--record", str(record)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, preexec_fn=limited)
    assert done.returncode == 1
    [error] = done.stderr.splitlines()
    assert error.startswith(f"error: {example}:")
    assert error.endswith(f": cannot write the run record {record}: File too large")
    assert "status:              failed" in done.stdout
    assert read_record(record)[0]["event"] == "run"


@pytest.mark.parametrize("stdout_is", ["a pipe", "a file"])
def test_a_record_to_stdout_goes_beside_the_log(tmp_path: Path, stdout_is: str) -> None:
    # Redirected to a file, the log overwrote the record's first lines: the record opened
    # /dev/stdout anew, at the file's start, rather than writing where stdout writes.
    import subprocess

    example = str(ROOT / "examples" / "plate_replication.py")
    command = [sys.executable, "-m", "labrun.cli.main", "simulate", example,
               "--record", "/dev/stdout"]
    if stdout_is == "a pipe":
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        status, out, err = done.returncode, done.stdout, done.stderr
    else:
        with (tmp_path / "out.txt").open("w") as stdout:
            done = subprocess.run(command, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        status, out, err = done.returncode, (tmp_path / "out.txt").read_text(), done.stderr
    assert (status, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [record["seq"] for record in records] == list(range(len(records)))
    assert records[0]["event"] == "run" and records[-1]["event"] == "summary"
    assert "\nRun log\n" in out and "status:              succeeded" in out


def test_control_characters_in_a_protocols_text_are_printed_as_escapes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Raw, an escape sequence or a carriage return rewrote the user's terminal.
    path = write(tmp_path, '''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.comment("red\\x1b[31m alert\\rover")
            ctx.pause("swap\\x07 plates")
        ''')
    status, out, _ = simulate(capsys, str(path))
    assert status == 0
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert run_log(out)[-2:] == ["red\\x1b[31m alert\\x0dover", "Pausing: swap\\x07 plates"]


@pytest.mark.parametrize(("level", "call", "said", "model"), [
    ("2.15", "height_from_base=5", "7.5 mm above their home, 5 mm above the labware's base",
     "magnetic module gen2"),
    ("2.13", "height=10", "10 mm above their home, 7.5 mm above the labware's base",
     "magnetic module gen2"),
    ("2.13", "height=1", "1 mm above their home", "magnetic module gen2"),
    # A GEN1's height is in half-millimetres before 2.14: said in those too.
    ("2.13", "height=10", "5 mm (10 half-mm) above their home, 2.5 mm above the labware's "
                          "base", "magnetic module"),
])
def test_the_log_gives_the_magnet_height_from_the_labware_base_as_well_as_from_home(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], level: str, call: str,
        said: str, model: str) -> None:
    """From apiLevel 2.14 a protocol gives the height above the labware's base; the log
    said only the height above the magnets' home, which read as a misread number."""
    protocol = tmp_path / "magnet.py"
    protocol.write_text(f'''
metadata = {{"apiLevel": "{level}"}}

def run(ctx):
    mag = ctx.load_module("{model}", 6)
    mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    mag.engage({call})
''')
    assert main(["simulate", str(protocol)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "engage" in line and line.startswith("[")]
    assert [line.split("] ", 1)[1] for line in lines] == [
        f"Magnetic module: engage (magnets {said})"]
    # left up at the end: the summary says so, in the same words
    assert f"Magnetic Module GEN{2 if 'gen2' in model else 1}: magnets engaged {said}; " in out


MODULE_LOADS = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    temp = ctx.load_module("temperature module gen2", 1)
    temp.load_labware("opentrons_96_aluminumblock_generic_pcr_strip_200ul", label="samples")
    ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    tc = ctx.load_module("thermocycler")
    tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    tc.set_block_temperature(95, hold_time_seconds=300)
    tc.set_block_temperature(4, hold_time_seconds=45)
    tc.execute_profile([{"temperature": 95, "hold_time_seconds": 300},
                        {"temperature": 4, "hold_time_seconds": 30}], repetitions=2)
'''


def test_the_log_says_which_module_a_labware_sits_on_and_holds_in_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "modules.py"
    path.write_text(MODULE_LOADS)
    status, out, _ = simulate(capsys, str(path))
    assert status == 0
    log = run_log(out)
    assert "Loading samples on Temperature Module GEN2 (slot 1)" in log
    assert "Loading Corning 96 Well Plate 360 µL Flat (slot 2)" in log  # on the deck itself
    assert ("Loading NEST 96 Well Plate 100 µL PCR Full Skirt on Thermocycler Module GEN1 "
            "(slot 7)") in log
    assert ("Thermocycler: set target block temperature (to 95 °C, hold time 5 min)") in log
    assert ("Thermocycler: set target block temperature (to 4 °C, hold time 45 s)") in log
    assert "Thermocycler: run profile 95 °C for 5 min, 4 °C for 30 s (repetitions 2)" in log


def test_a_time_beyond_a_million_hours_is_said_in_hours_not_in_digits(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A thousand million minutes: 1.7e+07 h, not "16666666 h 40 min" in every stamp.
    protocol = write(tmp_path, textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
            p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p300.pick_up_tip()
            ctx.delay(minutes=1e9)
            p300.drop_tip()
        '''))
    status, out, err = simulate(capsys, str(protocol), "--max-hours", "0")
    assert status == 0, err
    assert summary_fields(out)["estimated duration"] == "1.7e+07 h (6e+10 s)"
    assert "[ 0:04] Delaying for 1.7e+07 h\n" in out
    assert "[1.7e+07 h] Dropping tip into A1 of Opentrons Fixed Trash (slot 12)" in out
    assert "Timeline (about 1.7e+07 h, 6 steps)" in out


def test_a_flow_rate_slower_than_the_robot_moves_is_refused_at_its_line_in_simulation(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Opentrons takes any positive rate; a robot's controller cannot move a plunger at
    # 5e-300 mm/s (labrun's driver refuses it), so the simulation says so first.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(aspirating_at(1e-300))
    status, out, err = simulate(capsys, str(protocol))
    assert status == 1
    assert err.strip().splitlines()[-1] == (
        f"error: {protocol}:{ASPIRATE_LINE}: aspirate at 4.95e-300 mm/s is slower than the robot's "
        "controller moves (at least 0.00167 mm/s): a flow rate or speed far too low")
    assert summary_fields(out)["status"] == "failed"


def test_a_warning_after_a_module_wait_began_is_in_the_log(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A module's wait is said as it begins; a warning of the same call came after it and
    # was left out of the log (in the record only).
    protocol = write(tmp_path, textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            temp = ctx.load_module("temperature module gen2", 3)
            temp.await_temperature(4)
            temp.start_set_temperature(30)
            temp.await_temperature(35)
        '''))
    status, out, err = simulate(capsys, str(protocol))
    assert status == 0, err
    log = run_log(out)
    wait = log.index("Temperature module: wait for temperature (to 4 °C)")
    assert log[wait + 1].startswith(f"  warning: {protocol}:5: await_temperature(4): the "
                                    "module has no target temperature")
    wait = log.index("Temperature module: wait for temperature (to 35 °C)")
    assert log[wait + 1].startswith(f"  warning: {protocol}:7: await_temperature(35): the "
                                    "module was on its way to 30 °C only")


# -- the time limit: a loop that never ends ---------------------------------------------------

LIMIT_HINT = "(the time limit of simulate; --max-hours HOURS sets it, 0 turns it off)"


def test_an_endless_delay_loop_fails_at_the_time_limit_naming_its_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # `while True: ctx.delay(minutes=60)` makes calls, so the watchdog never fired: the
    # simulation ran until Ctrl-C, printing nothing (a progress line only on a terminal).
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            while True:
                ctx.delay(minutes=60)
        """)
    record = tmp_path / "run.jsonl"
    status, out, err = simulate(capsys, str(protocol), "--record", str(record))
    assert status == 1
    assert err.splitlines() == [
        f"error: {protocol}:5: the simulation reached 168 h of protocol time; does the "
        f"protocol loop without end? {LIMIT_HINT}"]
    fields = summary_fields(out)
    assert fields["status"] == "failed"
    assert fields["estimated duration"] == "168 h 0 min 0 s (604800.0 s)"
    assert fields["ended during"] == f"Delaying for 1 h ({protocol}:5), it failed"
    events = read_record(record)
    (failure,) = [e for e in events if e["event"] == "failure"]
    assert (failure["t"], failure["location"]) == (604800.0, f"{protocol}:5")
    assert events[-1]["status"] == "failed" and events[-1]["duration_s"] == 604800.0


def test_an_endless_pipetting_loop_fails_at_the_time_limit_it_is_given(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            while True:
                p.aspirate(50, plate["A1"])
                p.dispense(50, plate["A2"])
        """)
    status, out, err = simulate(capsys, str(protocol), "--max-hours", "0.1")
    assert status == 1
    (line,) = err.splitlines()
    assert re.fullmatch(
        rf"error: {re.escape(str(protocol))}:(9|10): the simulation reached 0\.1 h of "
        rf"protocol time; does the protocol loop without end\? {re.escape(LIMIT_HINT)}", line)
    fields = summary_fields(out)
    assert fields["status"] == "failed"
    assert fields["tip on the right"].endswith("dropped into the trash")  # cleaned up


def test_a_protocol_longer_than_the_limit_runs_with_a_higher_one_or_none(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.delay(minutes=200 * 60)
            ctx.comment("after the long delay")
        """)
    status, _, err = simulate(capsys, str(protocol))
    assert status == 1 and "reached 168 h of protocol time" in err
    for limit in ("201", "0"):
        status, out, err = simulate(capsys, str(protocol), "--max-hours", limit)
        assert (status, err) == (0, "")
        assert summary_fields(out)["estimated duration"] == "200 h 0 min 0 s (720000.0 s)"


@pytest.mark.parametrize("limit", ["-1", "nan", "inf"])
def test_a_bad_max_hours_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      limit: str) -> None:
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.comment("a")
        """)
    status, out, err = simulate(capsys, str(protocol), "--max-hours", limit)
    assert (status, out) == (2, "")
    assert err == (f"error: --max-hours must be 0 (off) or a number of hours above 0, not "
                   f"{float(limit):g}\n")
