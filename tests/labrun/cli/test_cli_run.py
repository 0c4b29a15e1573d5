"""``labrun run`` in-process and ``labrun emulator`` as a process: the protocol is
simulated first, then runs on the emulator over a real socket; bad input exits 2
before anything is connected; faults end the run ``failed`` with a complete record.

stdin is not a terminal here, so ``labrun run`` runs without keys and prints status
changes as lines (the keys are tested in a pseudo-terminal, test_cli_run_terminal.py).
"""

from __future__ import annotations

import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labrun_protocols import hops

from engine.record import read_record
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.factory import emulator_config_path
from labrun.cli.main import main
from labrun.cli.outputs import ProtocolStreams

ROOT = Path(__file__).resolve().parents[3]
DIALECTS = ("grbl", "marlin", "smoothie")
SPEED = "100"
WAIT_S = 15.0

SHORT = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    print("protocol says hello")
    p300.transfer(50, plate["A1"], [plate["B1"], plate["B2"]])
    ctx.delay(seconds=0.05)
'''

# Fails in simulation at line 7: the plate has no well Z99.
BROKEN = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    p300.move_to(plate["Z99"].top())
'''

HOPS = hops(20)


def write(tmp_path: Path, text: str, name: str = "protocol.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def robot_file(tmp_path: Path, dialect: str, port: str, timeout_s: float = 2.0) -> Path:
    path = tmp_path / "robot.toml"
    path.write_text(textwrap.dedent(f'''
        name = "test-{dialect}"
        [controller]
        kind = "gcode"
        dialect = "{dialect}"
        port = "{port}"
        timeout_s = {timeout_s}
        poll_interval = 0.05
    '''))
    return path


def labrun(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["run", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    dialect = getattr(request, "param", "grbl")
    with running_emulator(dialect, speed=float(SPEED)) as emu:
        yield emu


# -- end to end ---------------------------------------------------------------------------


def test_a_protocol_that_changes_the_folder_runs_from_its_own_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated, it could not be read for the robot's run ("cannot read the protocol
    # file .../elsewhere/protocol.py", exit 2), and its record said "preparing" for ever.
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path, 'import os\nos.chdir("elsewhere")\n' + SHORT)
    monkeypatch.chdir(tmp_path)
    status, out, err = labrun(capsys, "protocol.py", "--emulate", "--speed", SPEED, "-y",
                              "--record", "run.jsonl")
    assert (status, err) == (0, "")
    assert out.count("protocol says hello") == 1 and "status:              succeeded" in out
    assert read_record(tmp_path / "run.jsonl")[-1]["status"] == "succeeded"
    assert not list((tmp_path / "elsewhere").iterdir())


def test_the_record_never_replaces_the_csv_file_the_run_reads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The record replaced the user's CSV file, which the run then read as its data.
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.20"}

        def add_parameters(parameters):
            parameters.add_csv_file(variable_name="volumes", display_name="Volumes")

        def run(ctx):
            ctx.comment(str(ctx.params.volumes.parse_as_csv()))
        """)
    data = tmp_path / "volumes.csv"
    data.write_text("well,volume\nA1,20\n")
    status, out, err = labrun(capsys, str(protocol), "--emulate", "--speed", SPEED, "-y",
                              "--param", f"volumes={data}", "--record", str(data))
    assert (status, out) == (2, "")
    assert err == (f"error: cannot write the run record {data}: it is the file of --param "
                   "volumes; writing there would replace it\n")
    assert data.read_text() == "well,volume\nA1,20\n"


STREAM_USER = """
import sys
metadata = {"apiLevel": "2.15"}

def run(ctx):
    sys.stdout.reconfigure(line_buffering=True)
    sys.stdout.buffer.write(b"bytes\\n")
    print(sys.stdout.name, ctx.is_simulating())
    ctx.comment("a")
    if FAIL:
        raise ValueError("bad")
"""


@pytest.mark.parametrize("fail", [False, True])
def test_a_protocol_may_use_what_a_standard_stream_has(tmp_path: Path, fail: bool) -> None:
    # Its simulation failed: "AttributeError: '_io.StringIO' object has no attribute
    # 'reconfigure'" ('buffer', 'name'), exit 3, for a protocol labrun simulate runs.
    path = write(tmp_path, STREAM_USER.replace("FAIL", str(fail)))
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "run", str(path),
                           "--emulate", "--speed", SPEED, "-y"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    if fail:  # what the simulation printed, held, is shown
        assert (done.returncode, done.stderr.splitlines()[0]) == (
            3, f"error: {path}:10: ValueError: bad")
        assert done.stdout == "bytes\n<stdout> True\n"
    else:
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.count("bytes\n<stdout> False\n") == 1


@pytest.mark.parametrize("closing", ["sys.stdout.buffer.close()", "sys.stdout.buffer.detach()",
                                     "sys.stdout.close()"])
def test_a_protocol_closing_its_stdout_in_the_simulation_closes_nothing_of_labrun_s(
        tmp_path: Path, closing: str) -> None:
    # The simulation closed the stream where it held what the protocol printed, which its
    # failure shows: "ValueError: I/O operation on closed file" (exit 1), not the error.
    path = write(tmp_path, STREAM_USER.replace("FAIL", "True").replace(
        '    sys.stdout.buffer.write(b"bytes\\n")\n',
        f'    sys.stdout.buffer.write(b"bytes\\n")\n    sys.stdout.flush()\n    {closing}\n'))
    assert closing in path.read_text()
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "run", str(path),
                           "--emulate", "--speed", SPEED, "-y"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        3, f"error: {path}:12: ValueError: bad")
    assert done.stdout == "bytes\n<stdout> True\n"


CLOSER = """
import sys
metadata = {"apiLevel": "2.15"}

def run(ctx):
    if ctx.is_simulating() == SIMULATING:
        sys.STREAM.flush()
        CLOSING
        print("after")
        ctx.comment("a")
        raise ValueError("bad")
"""


@pytest.mark.parametrize("closing", ["buffer.close()", "buffer.detach()", "close()",
                                     "detach()"])
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_protocol_closing_a_standard_stream_on_the_robot_closes_nothing_of_labrun_s(
        tmp_path: Path, stream: str, closing: str) -> None:
    # The robot's run lent the protocol labrun's own streams: its next log line (or the
    # error) was "ValueError: I/O operation on closed file", a traceback, the summary lost
    # (a borrowed stream's detach() failed the protocol: "UnsupportedOperation: detach").
    path = write(tmp_path, CLOSER.replace("SIMULATING", "False").replace("STREAM", stream)
                 .replace("CLOSING", f"sys.{stream}.{closing}"))
    record = tmp_path / "run.jsonl"
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "run", str(path),
                           "--emulate", "--speed", SPEED, "-y", "--record", str(record)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (1, f"error: {path}:10: ValueError: bad\n")
    assert "\nafter\n" in done.stdout and "status:              failed" in done.stdout
    assert read_record(record)[-1]["error"] == "ValueError: bad"


def test_a_line_the_protocol_prints_as_labrun_flushes_its_own_output_is_kept() -> None:
    # The protocol prints (its thread) while labrun's thread writes the live log: a
    # TextIOWrapper write that flushes released the GIL in its buffer's write and then
    # dropped what the other thread wrote meanwhile (CPython gh-119506). The protocol's
    # "after" went missing from `labrun run`'s output, rarely. Here the protocol prints
    # exactly then: from inside the write of labrun's flush.
    printed: list[str] = []

    class Terminal(io.BytesIO):  # labrun's stdout's binary stream
        def write(self, data: bytes) -> int:  # type: ignore[override]
            written = super().write(data)
            if not printed:  # the protocol's thread, while labrun's thread writes
                printed.append("after")
                print("after")
            return written

    terminal = Terminal()
    own = io.TextIOWrapper(terminal, encoding="utf-8")
    saved = sys.stdout, sys.stderr
    sys.stdout = own
    try:
        with ProtocolStreams():
            own.write("a" * 8191)  # labrun's live log, held by its stream
            own.write("bb\n")  # more than a chunk: flushed, and the protocol prints
    finally:
        sys.stdout, sys.stderr = saved
    own.flush()
    assert terminal.getvalue() == b"a" * 8191 + b"after\n" + b"bb\n"


@pytest.mark.parametrize("closing", ["buffer.close()", "buffer.detach()", "close()",
                                     "detach()"])
def test_a_protocol_closing_its_stderr_in_the_simulation_closes_nothing_of_labrun_s(
        tmp_path: Path, closing: str) -> None:
    # labrun's own stderr was the protocol's: closed, the simulation's error was lost
    # ("ValueError: I/O operation on closed file", exit 1).
    path = write(tmp_path, CLOSER.replace("SIMULATING", "True").replace("STREAM", "stderr")
                 .replace("CLOSING", f"sys.stderr.{closing}"))
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "run", str(path),
                           "--emulate", "--speed", SPEED, "-y"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (3, "after\n")
    assert done.stderr == (f"error: {path}:10: ValueError: bad\nthe protocol failed in "
                           "simulation; nothing was connected or moved\n")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_emulate_runs_a_protocol_end_to_end(tmp_path: Path, dialect: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record.jsonl"
    status, out, err = labrun(capsys, str(write(tmp_path, SHORT)), "--emulate", "--dialect",
                              dialect, "--speed", SPEED, "--record", str(record))
    assert status == 0, err
    assert err == ""
    # Simulated first (what the protocol prints there is kept quiet), then the emulator.
    assert out.startswith("Setup\n  Deck\n")  # the setup sheet, from the simulation
    assert "Pipettes and tips" in out and "Timeline (about " in out
    assert out.count("protocol says hello") == 1
    assert re.search(rf"emulator: {dialect} on tcp://127\.0\.0\.1:\d+ \(speed x100\)", out)
    assert "homing" in out and "stdin is not a terminal: no keys" in out
    assert "status running" in out and "status finishing" in out
    assert re.search(r"status:\s+succeeded", out)
    events = read_record(record)
    assert events[0]["event"] == "run" and events[0]["robot"] == f"ot2-emulator-{dialect}"
    assert events[0]["virtual_clock"] is False
    # The record says which coordinate frame the wire used.
    frame = "Marlin's logical" if dialect == "marlin" else "machine coordinates (G53"
    assert events[0]["coordinates"].startswith(frame)
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "succeeded"
    assert events[-1]["tips_used"] == 1


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_the_last_call_is_said_before_the_run_ends_and_each_status_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verbose: list[str]) -> None:
    # A call's line waits for its end (to name every well it touched); the protocol's last
    # call ends with the protocol, so it is said at "finishing", not after "succeeded".
    status, out, err = labrun(capsys, str(write(tmp_path, hops(2))), "--emulate",
                              "--speed", SPEED, *verbose)
    assert status == 0, err
    stamped = [line[8:] for line in out.splitlines() if line.startswith("[")]
    assert stamped[-2:] == ["status finishing", "status succeeded"]
    assert sum(line.startswith("Moving to") for line in stamped) == 8
    # With -v too, each status change is said once: live, not again in the log.
    statuses = [line for line in stamped if line.startswith("status ")]
    assert statuses == ["status running", "status finishing", "status succeeded"]


def test_robot_file_drives_a_separately_started_emulator(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``labrun emulator`` in its own process, ``labrun run --robot`` against it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "emulator", "--dialect", "marlin",
         "--port", "0", "--speed", SPEED],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # bounded: the emulator prints it at once
        match = re.search(r"on (tcp://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        robot = robot_file(tmp_path, "marlin", match[1])
        status, out, err = labrun(capsys, str(write(tmp_path, SHORT)), "--robot", str(robot))
        assert status == 0, err
        assert re.search(r"status:\s+succeeded", out)
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT_S) == 0
    finally:
        process.kill()
        process.wait(WAIT_S)


def test_the_shipped_emulator_robot_files_load() -> None:
    for dialect in DIALECTS:
        status = main(["simulate", "--robot", emulator_config_path(dialect),
                       str(ROOT / "examples" / "incubation.py")])
        assert status == 0


# -- before anything moves ------------------------------------------------------------------


def test_a_protocol_that_fails_in_simulation_exits_3_without_connecting(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = write(tmp_path, BROKEN)
    robot = robot_file(tmp_path, "grbl", emulator.address)
    status, _, err = labrun(capsys, str(protocol), "--robot", str(robot))
    assert status == 3  # not 1: that is a run that failed on the robot
    assert f"{protocol}:6" in err and "Z99" in err
    assert "nothing was connected or moved" in err
    assert emulator.stats.connections == 0


def test_a_protocol_that_loops_without_end_fails_its_simulation_at_the_time_limit(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    # The simulation before the run never ended (the watchdog sees calls), keeping every
    # event of it in memory, until Ctrl-C.
    protocol = write(tmp_path, """
metadata = {"apiLevel": "2.15"}

def run(ctx):
    while True:
        ctx.delay(minutes=60)
""")
    robot = robot_file(tmp_path, "grbl", emulator.address)
    status, _, err = labrun(capsys, str(protocol), "--robot", str(robot), "--max-hours", "24")
    assert status == 3
    assert err.splitlines() == [
        f"error: {protocol}:5: the simulation reached 24 h of protocol time; does the "
        "protocol loop without end? (the time limit of the simulation before the run; "
        "--max-hours HOURS sets it, 0 turns it off)",
        "the protocol failed in simulation; nothing was connected or moved"]
    assert emulator.stats.connections == 0
    status, _, err = labrun(capsys, str(protocol), "--robot", str(robot), "--max-hours", "-1")
    assert (status, err) == (2, "error: --max-hours must be 0 (off) or a number of hours "
                                "above 0, not -1\n")


MODULES = '''
metadata = {"apiLevel": "2.16"}

def run(ctx):
    mag = ctx.load_module("magnetic module gen2", 1)
    plate = mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    hs = ctx.load_module("heaterShakerModuleV1", 3)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    hs.close_labware_latch()
    mag.engage()
    p.pick_up_tip()
    p.aspirate(20, plate["A1"])
    p.dispense(20, plate["A2"])
    p.drop_tip()
    mag.disengage()
    ctx.comment(f"magnets {mag.status}")  # on a robot: asks the module, a step of its own
'''


def test_emulate_gives_a_module_protocol_emulated_modules_on_their_own_ports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record.jsonl"
    status, out, err = labrun(capsys, str(write(tmp_path, MODULES)), "--emulate", "--speed",
                              SPEED, "--record", str(record))
    assert status == 0, err
    assert re.search(r"emulated module: magnetic \(magnetic\) on ", out)
    assert re.search(r"emulated module: heater_shaker \(heater_shaker\) on ", out)
    events = read_record(record)
    ids = {e["id"] for e in events if e["event"] == "command" and e["status"] == "queued"
           and e["type"] == "loadModule"}
    loads = [e for e in events if e["event"] == "command" and e["id"] in ids
             and e["status"] == "completed"]
    # bound to the emulated serial twins, not to modules simulated in the engine
    assert sorted(e["result"]["device"] for e in loads) == ["heater_shaker", "magnetic"]
    assert events[-1]["status"] == "succeeded"
    assert "magnets disengaged" in out
    assert any(e["event"] == "step" and e["name"] == "read_module" for e in events)
    assert ": read" not in out  # the reading is not a call of the log


def test_a_robot_without_the_protocols_module_fails_before_connecting(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = write(tmp_path, MODULES)
    robot = robot_file(tmp_path, "grbl", emulator.address)
    status, _, err = labrun(capsys, str(protocol), "--robot", str(robot))
    assert status == 3
    assert err.splitlines() == [
        f"error: {protocol}:4: load_module: this robot has no free magnetic module for "
        "magneticModuleV2 in slot 1; its modules: none (name them in the robot file as "
        "[modules.<name>] with kind = \"magnetic\" and its port)",
        "nothing was connected or moved"]
    assert emulator.stats.connections == 0


def test_no_simulate_skips_the_check_and_the_robot_run_fails_at_the_line(
        tmp_path: Path, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = write(tmp_path, BROKEN)
    robot = robot_file(tmp_path, "grbl", emulator.address)
    record = tmp_path / "record.jsonl"
    status, out, err = labrun(capsys, str(protocol), "--robot", str(robot), "--no-simulate",
                              "--record", str(record))
    assert status == 1
    assert "simulation:" not in out
    assert emulator.stats.connections == 1
    assert f"error: {protocol}:6" in err
    assert read_record(record)[-1]["status"] == "failed"


@pytest.mark.parametrize(("args", "message"), [
    ([], "needs --robot ROBOT.toml"),
    (["--dialect", "grbl", "--robot", "x.toml"], "only with --emulate"),
    (["--emulate", "--speed", "0"], "--speed must be a number from 0.01 to 10000"),
    # argparse's own error: its usage and a float's words, and no record.
    (["--emulate", "--speed", "abc"], "error: --speed must be a number from 0.01 to 10000 "
                                      "(times real time), not 'abc'"),
    (["--speed", "5", "--robot", "x.toml"], "--speed applies only with --emulate; a robot's "
                                            "time is real time"),
    # It homed the robot, then raised an OverflowError traceback.
    (["--emulate", "--speed", "inf"], "--speed must be a number from 0.01 to 10000 (times "
                                      "real time), not inf"),
    (["--robot", "/no/such/robot.toml"], "no such robot configuration file"),
    (["--emulate", "--labware-dir", "/no/such/dir"], "/no/such/dir"),
    # (a path is said as labrun takes it, from the folder labrun started in)
    (["--emulate", "--record", "."], f"cannot write the run record {Path.cwd()}: it is a "
                                     "directory"),
    (["--emulate", "--param", "count=3"], "error: --param: the protocol has no parameter "
                                          "'count'; its parameters are none"),
])
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = labrun(capsys, str(write(tmp_path, SHORT)), *args)
    assert status == 2
    assert message in err


@pytest.mark.parametrize("given", ["count", "=3"])
def test_a_param_not_written_as_name_equals_value_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's usage error, as for any option
        labrun(capsys, str(write(tmp_path, SHORT)), "--emulate", "--param", given)
    assert exited.value.code == 2
    said = capsys.readouterr().err.splitlines()[-1]
    assert said == f"labrun run: error: --param {given!r}: give it as NAME=VALUE"


def test_the_record_never_replaces_the_protocol(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    protocol = write(tmp_path, SHORT)
    status, _, err = labrun(capsys, str(protocol), "--emulate", "-y", "--record", str(protocol))
    assert status == 2 and protocol.read_text() == SHORT.lstrip()
    assert err == (f"error: cannot write the run record {protocol}: it is the protocol file; "
                   "writing there would replace it\n")


def test_a_bad_robot_file_names_the_key(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    robot = tmp_path / "robot.toml"
    robot.write_text('[controller]\nkind = "gcode"\nport = "tcp://127.0.0.1:1"\n'
                     'dialect = "grbl"\naxis_map = { B = "E" }\n')
    status, _, err = labrun(capsys, str(write(tmp_path, SHORT)), "--robot", str(robot))
    assert status == 2
    assert "controller.axis_map" in err and "'E'" in err


def test_a_robot_that_cannot_be_reached_exits_1_with_a_complete_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator("grbl") as emu:
        port = emu.address  # then nobody listens there any more
    record = tmp_path / "record.jsonl"
    robot = robot_file(tmp_path, "grbl", port)
    started = time.monotonic()
    status, _, err = labrun(capsys, str(write(tmp_path, SHORT)), "--robot", str(robot),
                            "--record", str(record))
    assert status == 1
    assert time.monotonic() - started < WAIT_S
    assert f"the robot was not ready: cannot connect to {port}" in err
    events = read_record(record)
    # a hardware fault, not a person's abort: the run failed, with the error
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "failed"
    assert "cannot connect" in events[-1]["error"]
    assert [(e["status"], e.get("error", "")[:26]) for e in events if e["event"] == "status"
            ] == [("failed", "the robot was not ready: c")]


# -- faults during the run ------------------------------------------------------------------


def _when_moving(emu: EmulatorHandle, then: str) -> threading.Thread:
    """In another thread: once the run's moves are under way (homing is over), drop the
    connection or go silent."""

    def watch() -> None:
        machine = emu.emulator.machine
        axes = set(machine.config.axes)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if emu.call(lambda: machine.homed == axes and machine.moving
                        and not machine.homing):
                if then == "drop":
                    emu.drop_connection()
                else:
                    emu.faults.silent = True
                return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("emulator", DIALECTS, indirect=True)
@pytest.mark.parametrize("fault", ["drop", "silence"])
def test_a_fault_mid_run_ends_it_failed_with_a_clear_error_and_a_complete_record(
        tmp_path: Path, emulator: EmulatorHandle, fault: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    dialect = emulator.emulator.dialect
    record = tmp_path / "record.jsonl"
    robot = robot_file(tmp_path, dialect, emulator.address, timeout_s=0.5)
    watcher = _when_moving(emulator, fault)
    started = time.monotonic()
    status, out, err = labrun(capsys, str(write(tmp_path, HOPS)), "--robot", str(robot),
                              "--record", str(record), "--no-simulate")
    watcher.join(WAIT_S)
    assert status == 1
    assert time.monotonic() - started < WAIT_S
    expected = (r"closed the connection" if fault == "drop"
                else r"no answer|no status report|stopped answering")
    assert re.search(rf"error: {re.escape(str(tmp_path))}/protocol\.py:\d+: .*({expected})",
                     err), err
    assert re.search(r"status:\s+failed", out)
    events = read_record(record)
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "failed"
    assert [e["status"] for e in events if e["event"] == "status"][-1] == "failed"
    last: dict[int, str] = {}
    for event in events:
        if event["event"] == "command":
            last[event["id"]] = event["status"]
    assert not [i for i, s in last.items() if s in ("queued", "started")], last


# -- labrun emulator ------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_labrun_emulator_on_a_pseudo_terminal_ends_cleanly(stop: signal.Signals) -> None:
    """Served on a pty, it answers; Ctrl-C or SIGTERM end it with status 0 and no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "emulator", "--dialect", "grbl",
         "--pty"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"\(grbl, speed x1\) on (/dev/\S+)", banner)
        assert match, banner
        fd = os.open(match[1], os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"?")
            deadline = time.monotonic() + WAIT_S
            seen = b""
            while b">" not in seen and time.monotonic() < deadline:
                seen += os.read(fd, 256)
            assert b"<Alarm|MPos:" in seen  # GRBL powers up locked
        finally:
            os.close(fd)
        process.send_signal(stop)
        assert process.wait(WAIT_S) == 0
        assert process.stderr is not None and process.stderr.read() == ""
    finally:
        process.kill()
        process.wait(WAIT_S)


def test_labrun_emulator_refuses_a_bad_speed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--speed", "0"]) == 2
    assert capsys.readouterr().err.startswith(  # one line, as every command says it
        "error: --speed must be a number from 0.01")
    assert main(["emulator", "--speed", "nan"]) == 2
    assert "not nan" in capsys.readouterr().err
    assert main(["emulator", "--busy-interval", "inf"]) == 2
    assert "--busy-interval must be more than 0" in capsys.readouterr().err


def test_labrun_emulator_and_the_emulators_own_main_say_the_same_options(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # One definition: the two lists were kept in step by hand, and their help had drifted.
    from hardware.emulator import server

    monkeypatch.setenv("COLUMNS", "100")

    def options(call: Callable[[], object]) -> str:
        with pytest.raises(SystemExit):
            call()
        return capsys.readouterr().out.split("options:", 1)[1]

    said = options(lambda: main(["emulator", "--help"]))
    assert "  --speed N             run the motion clock N times faster than real time " \
           "(default: 1)" in said
    assert options(lambda: server.main(["--help"])) == said


def test_labrun_emulator_on_a_busy_or_bad_port_says_so_in_a_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 1
    assert capsys.readouterr().err == (f"error: cannot serve on 127.0.0.1:{port}: "
                                       "Address already in use\n")
    assert main(["emulator", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "error: --port must be 0 to 65535, got 70000\n"


# -- without a terminal: Ctrl-C and SIGTERM ---------------------------------------------------


def _read_until(process: subprocess.Popen[bytes], pattern: str, seen: list[bytes]) -> str:
    """Read the process's output (bounded) until ``pattern`` appears in it."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + WAIT_S
    while not re.search(pattern, b"".join(seen).decode()):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {pattern!r} in:\n{b''.join(seen).decode()}"
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if ready:
            data = os.read(fd, 65536)
            assert data, f"the process ended without {pattern!r}:\n{b''.join(seen).decode()}"
            seen.append(data)
    return b"".join(seen).decode()


def test_without_a_terminal_ctrl_c_pauses_and_sigterm_aborts(tmp_path: Path) -> None:
    protocol = write(tmp_path, HOPS.replace("* 20", "* 500"))
    record = tmp_path / "record.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate",
         "--speed", "10", "--record", str(record)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[bytes] = []
    try:
        _read_until(process, r"stdin is not a terminal: no keys", seen)
        _read_until(process, r"status running", seen)
        _read_until(process, r"Moving to", seen)
        process.send_signal(signal.SIGINT)
        _read_until(process, r"Ctrl-C: deferred pause requested", seen)
        # (Twice within 3 s is tested on a terminal, during a slow move.)
        paused = _read_until(process, r"status paused by terminal", seen)
        # no keys here: the person is told how the paused run can end
        _read_until(process, r"stdin is not a terminal, so it cannot be resumed here: "
                             r"Ctrl-C twice within 3 s stops it, SIGTERM aborts it", seen)
        # Every move the robot made before it parked is said before "parked": the call
        # the pause waited for too (its line waits for its end, which the pause is).
        deadline = time.monotonic() + WAIT_S  # on disk before the run waits to resume
        events = read_record(record)
        while not any(e["event"] == "park" for e in events):
            assert time.monotonic() < deadline, "no park in the record"
            time.sleep(0.01)
            events = read_record(record)
        before_park = events[:next(i for i, e in enumerate(events) if e["event"] == "park")]
        moves = sum(e["event"] == "step" and e["name"] == "move_to" for e in before_park)
        assert moves > 0 and paused.split("parked at")[0].count("Moving to") == moves
        process.send_signal(signal.SIGTERM)
        out = _read_until(process, r"status:\s+aborted", seen)
        assert process.wait(WAIT_S) == 1
        assert re.search(r"reason:\s+terminated by a signal",
                         _read_until(process, r"reason:.*\n", seen))
        assert "Traceback" not in out
    finally:
        process.kill()
        process.wait(WAIT_S)


def test_without_a_terminal_a_protocol_pause_says_how_to_end_the_run(tmp_path: Path) -> None:
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.pause("add the reagent")
            ctx.comment("never reached")
    """)
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate",
         "--speed", SPEED],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[bytes] = []
    try:
        # No keys, so no "press r": what does end the run, which SIGTERM then does.
        out = _read_until(process, r"the protocol paused the run: .*\n", seen)
        assert ("the protocol paused the run: stdin is not a terminal, so it cannot be "
                "resumed here: Ctrl-C twice within 3 s stops it, SIGTERM aborts it") in out
        assert "press r" not in out
        process.send_signal(signal.SIGTERM)
        _read_until(process, r"status:\s+aborted", seen)
        assert process.wait(WAIT_S) == 1
    finally:
        process.kill()
        process.wait(WAIT_S)


def test_a_delay_and_a_comment_are_said_as_they_begin_not_when_they_end(
        tmp_path: Path) -> None:
    # A call that only waits or speaks is printed as it begins, with its start time, so
    # that a person sees what the run waits for (README, "Running on a robot").
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            ctx.comment("prepare the buffer")
            ctx.delay(minutes=10, msg="incubate")
            ctx.comment("never reached")
    """)
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[bytes] = []
    try:
        out = _read_until(process, r"Delaying for 10 min: incubate\n", seen)
        assert re.search(r"\[ 0:0\d\] prepare the buffer\n\[ 0:0\d\] Delaying for 10 min: "
                         r"incubate\n", out), out
        assert "never reached" not in out  # the delay goes on: 10 minutes at real speed
        process.send_signal(signal.SIGTERM)
        _read_until(process, r"status:\s+aborted", seen)
        assert process.wait(WAIT_S) == 1
    finally:
        process.kill()
        process.wait(WAIT_S)


def test_a_signal_while_an_interrupted_run_prints_its_error_is_ignored(tmp_path: Path) -> None:
    # After a Ctrl-C, the run fails; a SIGTERM that comes while labrun prints how it ended
    # must neither kill labrun (-15) nor cut the error short. An error longer than the
    # pipe holds keeps labrun writing it until it is read: the signal lands there.
    flag = tmp_path / "fail now"
    protocol = write(tmp_path, f"""
        import os, time

        metadata = {{"apiLevel": "2.15"}}

        def run(ctx):
            if ctx.is_simulating():
                return
            print("looping", flush=True)
            while not os.path.exists({str(flag)!r}):
                time.sleep(0.01)
            raise RuntimeError("a long error " * 10000 + "ends here")
    """)
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate",
             "--speed", SPEED], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT_S
        while "looping" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)  # a deferred pause, which the failure forestalls
        while "Ctrl-C: deferred pause requested" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.01)
        flag.touch()
        wchan = Path(f"/proc/{process.pid}/wchan")
        while "pipe_write" not in wchan.read_text():  # blocked writing the error
            assert time.monotonic() < deadline, "labrun never wrote its error"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
        process.wait(WAIT_S)
    assert process.returncode == 1
    assert re.search(r"status:\s+failed", out.read_text())
    assert err.splitlines()[-1] == (f"error: {protocol}:11: RuntimeError: "
                                    + "a long error " * 10000 + "ends here")


def test_an_open_door_at_the_start_holds_the_run_until_it_is_closed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Marlin would home with the door open (only GRBL holds motion itself): labrun waits
    for it to close before homing, and the run starts once it has."""
    from labrun.cli import run as run_cli

    waiting = threading.Event()
    wait_for_interlocks = run_cli._wait_for_interlocks
    sent_before: list[str] = []  # what went to the firmware while the door was open

    def spy(controller: object, stage: list[str], out: object) -> None:
        waiting.set()
        wait_for_interlocks(controller, stage, out)  # type: ignore[arg-type]

    monkeypatch.setattr(run_cli, "_wait_for_interlocks", spy)
    with running_emulator("marlin", speed=float(SPEED)) as emu:
        emu.set_door(True)
        robot = robot_file(tmp_path, "marlin", emu.address)

        def close_when_waiting() -> None:
            if waiting.wait(WAIT_S):
                time.sleep(0.3)  # labrun waits on: it must not home meanwhile
                sent_before.extend(emu.call(lambda: list(emu.stats.lines)))
                emu.set_door(False)

        closer = threading.Thread(target=close_when_waiting, daemon=True)
        closer.start()
        status, out, err = labrun(capsys, str(write(tmp_path, SHORT)), "--robot", str(robot))
        closer.join(WAIT_S)
    assert status == 0, err
    assert "interlock active: door; waiting for it to clear before homing" in out
    assert out.index("waiting for it to clear") < out.index("interlock cleared: door") \
        < out.index("\nhoming\n")
    assert not any(line.startswith("G28") for line in sent_before)  # not homed behind it
    assert re.search(r"status:\s+succeeded", out)


def _with_file_size_limit(limit: int) -> None:
    """In the child: any file written past ``limit`` bytes fails (EFBIG), as a full disk."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_a_record_that_can_no_longer_be_written_fails_the_run_and_cleans_up(
        tmp_path: Path) -> None:
    # Past 12 kB the record cannot grow (as on a full disk), mid-run: the run fails with
    # one line and the robot cleans up (the tip dropped), rather than hang with the tip
    # in a well.
    protocol = write(tmp_path, """
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            for well in plate.wells()[:40]:
                p.aspirate(1, plate["A1"])
                p.dispense(1, well)
            p.drop_tip()
    """)
    record = tmp_path / "record.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate", "-y",
         "--speed", "100", "--record", str(record)],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: _with_file_size_limit(12_000))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"error: {protocol}:")
    assert done.stderr.splitlines()[-1].endswith(
        f": cannot write the run record {record}: File too large")
    assert "status:              failed" in done.stdout
    assert "dropped into the trash" in done.stdout  # the cleanup ran
    assert f"record:              {record} (cut short where it could no longer be written)" \
        in done.stdout
    lines = read_record(record)  # whole lines, but for a cut last one
    assert lines[0]["event"] == "run" and 11_000 < record.stat().st_size <= 12_000


def test_interrupted_while_connecting_says_nothing_moved(tmp_path: Path) -> None:
    # It said "its motion was stopped" of a robot that had not been sent a line.
    import socket

    with socket.socket() as silent:  # a controller that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        protocol = write(tmp_path, SHORT)
        process = subprocess.Popen(
            [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--robot",
             str(robot_file(tmp_path, "grbl", port, timeout_s=3.0)), "--no-simulate"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _read_until(process, r"connecting to", [])
            process.send_signal(signal.SIGINT)
            assert process.wait(WAIT_S) == 130
            assert process.stderr is not None
            assert process.stderr.read().decode().splitlines()[-1] == (
                "error: interrupted while the robot connected; nothing had moved")
        finally:
            process.kill()
            process.wait(WAIT_S)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_while_homing_the_robot_stops_before_labrun_ends(
        tmp_path: Path, stop: signal.Signals) -> None:
    # The firmware's homing cycle goes on by itself: labrun must stop it, not just exit.
    with running_emulator("grbl", speed=1.0) as emulator:
        protocol = write(tmp_path, SHORT)
        record = tmp_path / "record.jsonl"
        process = subprocess.Popen(
            [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--robot",
             str(robot_file(tmp_path, "grbl", emulator.address)), "--no-simulate",
             "--record", str(record)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _read_until(process, r"homing\n", [])
            time.sleep(0.3)  # the axes are on their way from mid-travel
            process.send_signal(stop)
            assert process.wait(WAIT_S) == 130
            assert process.stderr is not None
            assert process.stderr.read().decode().splitlines()[-1] == (
                "error: interrupted while the robot connected or homed; its motion was "
                "stopped, and it homes again before it moves")
            stopped = emulator.position()
            time.sleep(0.5)
            assert emulator.position() == stopped  # nothing moves on after labrun ended
            assert stopped["X"] != emulator.emulator.machine.home_position["X"]
        finally:
            process.kill()
            process.wait(WAIT_S)
    aborted = [e for e in read_record(record) if e["event"] == "action"]
    assert aborted[-1]["reason"] == ("interrupted while the robot connected or homed; its "
                                     "motion was stopped")


def test_interrupted_while_homing_waits_for_a_hold_at_the_board_says_nothing_moved(
        tmp_path: Path) -> None:
    # Homing waits, sending nothing, for a feed hold someone set at the board to be
    # resumed there; a Ctrl-C then said "its motion was stopped" though nothing had moved.
    with running_emulator("grbl", speed=1.0) as emulator:
        emulator.call(emulator.emulator.machine.hold)  # at the board, before labrun comes
        protocol = write(tmp_path, SHORT)
        record = tmp_path / "record.jsonl"
        process = subprocess.Popen(
            [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--robot",
             str(robot_file(tmp_path, "grbl", emulator.address)), "--no-simulate",
             "--record", str(record)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        try:
            seen: list[bytes] = []
            _read_until(process, r"labrun does not resume it.*\n", seen)
            process.send_signal(signal.SIGINT)
            assert process.wait(WAIT_S) == 130
            assert process.stdout is not None
            said = (b"".join(seen) + process.stdout.read()).decode().splitlines()
            assert said[-1] == ("error: interrupted while homing waited for the hold set at "
                                "the controller's board to be resumed; nothing had moved")
            assert not [line for line in emulator.stats.lines if line.startswith("$H")]
        finally:
            process.kill()
            process.wait(WAIT_S)
    aborted = [e for e in read_record(record) if e["event"] == "action"]
    assert aborted[-1]["reason"] == ("interrupted while homing waited for the hold set at "
                                     "the controller's board to be resumed; nothing had moved")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_while_it_simulates_first_names_the_line(
        tmp_path: Path, stop: signal.Signals) -> None:
    looping = tmp_path / "looping"
    protocol = write(tmp_path, f"""
        metadata = {{"apiLevel": "2.15"}}

        def run(ctx):
            ctx.comment("a")
            open({str(looping)!r}, "w").close()
            while True:
                pass
    """)
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate", "-y"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # What the protocol prints in the simulation is held back: it leaves a file.
        deadline = time.monotonic() + WAIT_S
        while not looping.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(stop)
        _, err = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
        process.wait(WAIT_S)
    cause = "interrupted (Ctrl-C)" if stop == signal.SIGINT else "terminated (SIGTERM)"
    assert process.returncode == 130
    lines = err.strip().splitlines()
    assert lines[-1] == "nothing was connected or moved"
    assert lines[-2] in {f"error: {cause} at {protocol}:{n}" for n in (6, 7, 8)}


def test_a_csv_parameter_is_read_once_the_robot_runs_what_was_simulated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The file changes between the simulation and the robot's run (here the protocol
    # itself appends to it while simulated): the robot must not run unchecked data.
    csv_file = tmp_path / "picks.csv"
    csv_file.write_text("well,volume\nA1,20\n")
    protocol = write(tmp_path, f"""
        metadata = {{"apiLevel": "2.20"}}

        def add_parameters(parameters):
            parameters.add_csv_file(variable_name="picks", display_name="Picks")

        def run(ctx):
            rows = ctx.params.picks.parse_as_csv()
            ctx.comment(f"{{len(rows) - 1}} picks")
            if ctx.is_simulating():
                open({str(csv_file)!r}, "a").write("B1,30\\n")
    """)
    status, out, _ = labrun(capsys, str(protocol), "--emulate", "-y", "--speed", SPEED,
                            "--param", f"picks={csv_file}")
    assert status == 0
    assert "1 picks" in out and "2 picks" not in out
    assert csv_file.read_text().count("\n") == 3  # it did change


def test_an_output_whose_reader_ends_before_the_run_says_it_did_not_start(
        tmp_path: Path) -> None:
    # `labrun run F | head -3`: the setup sheet's reader is gone; exit 0 said nothing ran.
    protocol = write(tmp_path, SHORT)
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate", "-y",
         "--speed", SPEED], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as head does once it has its lines
        err = process.stderr.read()
        assert process.wait(WAIT_S) == 2
    finally:
        process.kill()
        process.wait(WAIT_S)
    assert err == ("error: standard output was closed (its reader ended) before the run "
                   "started; the run did not start\n")


def test_an_output_whose_reader_ends_mid_run_leaves_the_run_going_to_its_end(
        tmp_path: Path) -> None:
    protocol = write(tmp_path, HOPS.replace("* 20", "* 200"))
    record = tmp_path / "record.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "run", str(protocol), "--emulate", "-y",
         "--speed", "10", "--record", str(record)], cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[bytes] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        _read_until(process, r"status running", seen)
        process.stdout.close()  # the reader ends while the robot moves
        err = process.stderr.read().decode()
        assert process.wait(WAIT_S * 4) == 0  # the run's own status: it succeeded
    finally:
        process.kill()
        process.wait(WAIT_S)
    assert err == (f"warning: the output stopped (Broken pipe); the run went on to its "
                   f"end: succeeded; the record {record} has it all\n")
    assert read_record(record)[-1]["status"] == "succeeded"


def test_a_park_an_interlock_held_in_place_is_said_as_such() -> None:
    """A door that let nothing move: the live line said only "parked at …", which reads
    as parked clear of the deck, while the pipettes stood low where they stopped."""
    from labrun.cli.run import event_line

    position = {"X": 131.0, "Y": 221.0, "Z": 218.0, "A": 133.1}
    line = event_line({"event": "park", "recorded": position, "parked": position,
                       "kept_xy": False, "stopped_by": ["door"]})
    assert line == ("parked at X 131.00 Y 221.00 Z 218.00 A 133.10 (stopped where it was, not "
                    "lifted clear of the deck: door active, nothing moves behind it); recorded "
                    "X 131.00 Y 221.00 Z 218.00 A 133.10")


def test_ctrl_c_while_waiting_for_the_door_ends_labrun_with_nothing_moved(
        tmp_path: Path) -> None:
    """Ctrl-C as labrun waits for the door to close: it ends labrun (exit 130), the run
    aborted before anything moved, said in one line."""
    import signal
    import subprocess

    record = tmp_path / "record.jsonl"
    with running_emulator("marlin", speed=float(SPEED)) as emu:
        emu.set_door(True)
        robot = robot_file(tmp_path, "marlin", emu.address)
        cli = "import sys; from labrun.cli.main import main; sys.exit(main(sys.argv[1:]))"
        process = subprocess.Popen(
            [sys.executable, "-c", cli, "run", str(write(tmp_path, SHORT)), "--robot",
             str(robot), "-y", "--record", str(record)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if "waiting for it to clear before homing" in line:
                    break
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=WAIT_S)
        finally:
            process.kill()
            process.wait()
        assert not any(line.startswith("G28") for line in emu.call(
            lambda: list(emu.stats.lines)))
    assert process.returncode == 130, err
    assert err.strip() == ("error: interrupted while waiting for the door to close; nothing "
                           "had moved")
    summary = read_record(record)[-1]
    assert summary["status"] == "aborted"
