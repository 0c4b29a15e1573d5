"""Bad input as a user sees it: one ``error: file:line: ...`` line and the exit status, for
``labrun simulate`` and ``labrun run --emulate``; nothing moves and labrun is never ended
by the protocol.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from labrun_protocols import ASPIRATE_LINE, aspirating_at

from labrun.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 30.0
HEADER = 'import os\nimport sys\nmetadata = {"apiLevel": "2.15"}\n\n'
EXIT = "; a protocol ends by returning from run(ctx)"
FINITE = "every number a protocol gives must be finite"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "protocol.py"
    path.write_text(HEADER + textwrap.dedent(body).lstrip("\n"))
    return path


def labrun(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# An exception class whose message cannot be made.
BROKEN = "class Broken(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
# An exception class of the protocol's own that is not an Exception.
WEIRD = "class Weird(BaseException):\n    pass\n"
SYS_EXIT_IN_PARAMETERS = ("def add_parameters(parameters):\n    sys.exit(3)\n"
                          "def run(ctx):\n    pass\n")
# Each protocol, the line its error names, and the message.
LOAD_ERRORS = [
    ("sys.exit at the top level", "sys.exit(3)\ndef run(ctx):\n    pass\n", 5,
     "the protocol tried to exit (SystemExit, code 3)" + EXIT),
    ("os._exit at the top level", "os._exit(0)\ndef run(ctx):\n    pass\n", 5,
     "the protocol tried to exit (os._exit(0))" + EXIT),
    ("raise SystemExit at the top level", "raise SystemExit\ndef run(ctx):\n    pass\n", 5,
     "the protocol tried to exit (SystemExit)" + EXIT),
    ("run = 42", "\nrun = 42\n", 5,
     "run must be a function taking the protocol context, not int 42"),
    ("a bare raise at the top level", "raise RuntimeError()\ndef run(ctx):\n    pass\n", 5,
     "the protocol's top level raised RuntimeError"),
    ("an error whose message raises, at the top level",
     BROKEN + "raise Broken()\ndef run(ctx):\n    pass\n", 8,
     "the protocol's top level raised Broken: (its message could not be printed: "
     "RuntimeError)"),
    # labrun exited 3 (or 0) with nothing said, its record saying "preparing" for ever.
    ("sys.exit in add_parameters", SYS_EXIT_IN_PARAMETERS, 6,
     "the protocol tried to exit (SystemExit, code 3)" + EXIT),
    ("os._exit in add_parameters",
     "def add_parameters(parameters):\n    os._exit(0)\ndef run(ctx):\n    pass\n", 6,
     "the protocol tried to exit (os._exit(0))" + EXIT),
    # A traceback, exit 1, the record saying "preparing" for ever.
    ("a BaseException of its own at the top level",
     WEIRD + "raise Weird('odd')\ndef run(ctx):\n    pass\n", 7,
     "the protocol's top level raised Weird: odd"),
    ("a BaseException of its own in add_parameters",
     WEIRD + "def add_parameters(parameters):\n    raise Weird('odd')\ndef run(ctx):\n"
             "    pass\n", 8, "add_parameters raised Weird: odd"),
]
RUN_ERRORS = [
    ("a nan delay", 'def run(ctx):\n    ctx.comment("a")\n    ctx.delay(seconds=float("nan"))\n',
     7, "delay: seconds is nan; " + FINITE),
    ("an infinite delay", "def run(ctx):\n    ctx.delay(minutes=float('inf'))\n", 6,
     "delay: minutes is inf; " + FINITE),
    # It "succeeded" with an estimated duration of 300 digits.
    ("an endless delay", "def run(ctx):\n    ctx.delay(minutes=1e300)\n", 6,
     "delay: 6e+301 s is longer than any delay can be (at most 999,999,999 days)"),
    ("sys.exit in run", "def run(ctx):\n    ctx.comment('a')\n    sys.exit(3)\n", 7,
     "the protocol tried to exit (SystemExit, code 3)" + EXIT),
    ("os._exit in run", "def run(ctx):\n    ctx.comment('a')\n    os._exit(4)\n", 7,
     "the protocol tried to exit (os._exit(4))" + EXIT),
    ("raise SystemExit in run", "def run(ctx):\n    raise SystemExit(1)\n", 6,
     "the protocol tried to exit (SystemExit, code 1)" + EXIT),
    # One line: no dangling colon for an error with no message, its lines joined.
    ("an error with no message", "def run(ctx):\n    raise RuntimeError()\n", 6,
     "RuntimeError"),
    ("an error of two lines", 'def run(ctx):\n    raise ValueError("first\\nsecond")\n', 6,
     "ValueError: first second"),
    # It hung the run (the protocol's thread died explaining it) with a traceback.
    ("an error whose message raises", BROKEN + "def run(ctx):\n    raise Broken()\n", 9,
     "Broken: (its message could not be printed: RuntimeError)"),
]


def _cases(cases: list[tuple[str, str, int, str]]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("body", "line", "message"), [c[1:] for c in cases],
                                   ids=[c[0] for c in cases])


@_cases(LOAD_ERRORS)
def test_simulate_a_load_error_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
        message: str) -> None:
    path = write(tmp_path, body)
    status, _, err = labrun(capsys, "simulate", str(path))
    assert (status, err) == (2, f"error: {path}:{line}: {message}\n")


@_cases(RUN_ERRORS)
def test_simulate_a_run_error_gives_the_summary_one_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
        message: str) -> None:
    path = write(tmp_path, body)
    status, out, err = labrun(capsys, "simulate", str(path))
    assert status == 1
    assert err.splitlines()[-1] == f"error: {path}:{line}: {message}"
    assert "status:              failed" in out
    assert "Traceback" not in out + err


def test_simulate_a_file_that_is_not_utf8(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_bytes(b'metadata = {"apiLevel": "2.15"}\n# r\xe9sum\xe9\ndef run(ctx):\n    pass\n')
    status, _, err = labrun(capsys, "simulate", str(path))
    assert (status, err) == (2, f"error: {path}:2: the protocol file is not UTF-8 text: byte "
                                "0xe9 cannot be read; save the file as UTF-8\n")


@pytest.mark.parametrize(("body", "line", "message", "exit_status"),
                         [(*c[1:], 2) for c in LOAD_ERRORS] + [(*c[1:], 3) for c in RUN_ERRORS],
                         ids=[c[0] for c in LOAD_ERRORS + RUN_ERRORS])
def test_run_emulate_refuses_before_connecting_with_the_same_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
        message: str, exit_status: int) -> None:
    # Bad input exits 2; a protocol that fails in the simulation before the run, 3.
    path = write(tmp_path, body)
    status, out, err = labrun(capsys, "run", str(path), "--emulate", "--speed", "100")
    assert status == exit_status
    assert f"error: {path}:{line}: {message}" in err.splitlines()
    assert "connecting" not in out


@pytest.mark.parametrize(("body", "line", "message"), [c[1:] for c in RUN_ERRORS[2:4]],
                         ids=[c[0] for c in RUN_ERRORS[2:4]])
def test_run_emulate_without_simulation_fails_the_run_not_labrun(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
        message: str) -> None:
    path = write(tmp_path, body)
    status, out, err = labrun(capsys, "run", str(path), "--emulate", "--speed", "100",
                              "--no-simulate")
    assert status == 1
    assert err.splitlines()[-1] == f"error: {path}:{line}: {message}"
    assert "status:              failed" in out


# -- a protocol stuck in its own code: a real process, as a user runs it ----------------

STUCK = """
def run(ctx):
    ctx.comment("a")
    print("looping", flush=True)
    while True:
        pass
"""


def test_the_watchdog_fails_a_stuck_simulation_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, STUCK)
    done = subprocess.run(
        [sys.executable, "-m", "labrun.cli.main", "simulate", str(path), "--watchdog", "0.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] in {
        f"error: {path}:{line}: the protocol made no call for 0.5 s and seems stuck (the "
        "watchdog of simulate; --watchdog SECONDS sets the limit, 0 turns it off)"
        for line in (7, 8, 9)}  # wherever it was caught: the print, the loop or its body
    assert "status:              failed" in done.stdout


def test_the_watchdog_fails_a_top_level_that_never_ends(tmp_path: Path) -> None:
    # A loop before run() is even defined: load errors are bad input, exit 2.
    path = tmp_path / "protocol.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\nwhile True:\n    pass\n\n'
                    'def run(ctx):\n    pass\n')
    done = subprocess.run(
        [sys.executable, "-m", "labrun.cli.main", "simulate", str(path), "--watchdog", "0.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] in {
        f"error: {path}:{line}: the protocol's top level ran for 0.5 s without finishing and "
        "seems stuck (the watchdog of simulate; --watchdog SECONDS sets the limit, 0 turns "
        "it off)" for line in (2, 3)}


def signalled(path: Path, signals: list[signal.Signals], gap_s: float = 0.0
              ) -> tuple[int, str, str]:
    """``labrun simulate`` of ``path`` (which prints "looping" once it loops) sent
    ``signals``, ``gap_s`` apart: its exit status, stdout and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "simulate", str(path), "--watchdog", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "looping\n"
        for number in signals:
            process.send_signal(number)
            time.sleep(gap_s)
        out, err = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
        process.wait(WAIT_S)
    return process.returncode, out, err


def test_ctrl_c_ends_a_stuck_simulation_with_its_summary_and_no_traceback(
        tmp_path: Path) -> None:
    path = write(tmp_path, STUCK)
    code, out, err = signalled(path, [signal.SIGINT])
    assert code == 130
    assert err.splitlines()[-1] in {f"error: interrupted (Ctrl-C) at {path}:{line}"
                                    for line in (7, 8, 9)}
    assert "status:              aborted" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("signals", [[signal.SIGINT, signal.SIGINT], [signal.SIGTERM],
                                     [signal.SIGHUP, signal.SIGINT]],
                         ids=["ctrl-c twice", "sigterm", "sighup then ctrl-c"])
def test_a_simulation_ended_from_outside_prints_its_log_and_one_line(
        tmp_path: Path, signals: list[signal.Signals]) -> None:
    # A second Ctrl-C while the first is handled lost the whole log to a traceback, and
    # SIGTERM or SIGHUP killed the simulation without a word.
    path = write(tmp_path, STUCK)
    code, out, err = signalled(path, signals, gap_s=0.2)
    cause = ("interrupted (Ctrl-C)" if signals[0] == signal.SIGINT
             else f"terminated ({signals[0].name})")
    assert code == 130
    assert err.splitlines() in ([f"error: {cause} at {path}:{line}"] for line in (7, 8, 9))
    assert "Run log" in out and "status:              aborted" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("limit", ["-1", "inf", "nan", "0.001", "1e400"])
def test_a_watchdog_out_of_range_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              limit: str) -> None:
    # inf raised a traceback in the watchdog's thread; 0.001 failed at random, without
    # the protocol's line (before its first call) or with a KeyboardInterrupt traceback.
    path = write(tmp_path, STUCK)
    status, _, err = labrun(capsys, "simulate", str(path), "--watchdog", limit)
    assert (status, err) == (2, f"error: --watchdog must be 0 (off) or from 0.5 to 86,400 "
                                f"seconds, not {float(limit):g}\n")


def test_a_call_from_another_thread_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "import threading\n\ndef run(ctx):\n"
                           "    helper = threading.Thread(target=lambda: ctx.comment('x'))\n"
                           "    helper.start()\n    helper.join()\n")
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].endswith(
        "protocol calls must come from the thread that runs run(ctx)")


@pytest.mark.parametrize("where", ["raise KeyboardInterrupt\n",
                                   "def add_parameters(parameters):\n"
                                   "    raise KeyboardInterrupt\n"])
def test_an_interrupted_load_still_gives_its_json_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    # Ctrl-C as the protocol's top level ran (or its add_parameters): --json printed
    # nothing at all, no document to read.
    path = write(tmp_path, where + "def run(ctx):\n    pass\n")
    status, out, err = labrun(capsys, "simulate", str(path), "--json")
    said = "interrupted (Ctrl-C) while the protocol's top level ran"
    line = 5 if where.startswith("raise") else 6
    assert (status, err) == (130, f"error: {path}:{line}: {said}\n")
    document = json.loads(out)
    assert (document["status"], document["error"], document["location"]) == (
        "failed", said, f"{path}:{line}")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "plate_replication.py")
    with open("/dev/full", "w") as full:  # a full disk
        done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", example],
                              cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=WAIT_S)
    assert (done.returncode, done.stderr) == (
        1, "error: cannot write the output: No space left on device\n")
    closed = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", example,
                             "--json"], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            timeout=WAIT_S, preexec_fn=lambda: os.close(1))
    assert (closed.returncode, closed.stderr) == (
        2, "error: standard output is closed; labrun prints its results there (redirect it "
           "to a file, or to /dev/null)\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(("body", "json_option", "said"), [
    ("def run(ctx)\n    pass\n", ["--json"], "5: syntax error: expected ':'"),
    ("def run(ctx):\n    raise ValueError('bad')\n", [], "6: ValueError: bad"),
    ("def run(ctx):\n    raise ValueError('bad')\n", ["--json"], "6: ValueError: bad"),
], ids=["bad input --json", "a failed run", "a failed run --json"])
def test_an_output_that_cannot_be_written_does_not_hide_the_protocols_error(
        tmp_path: Path, body: str, json_option: list[str], said: str) -> None:
    # Only "cannot write the output" was said: the error the output was to carry was lost.
    path = write(tmp_path, body)
    with open("/dev/full", "w") as full:  # a full disk
        done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                               *json_option], cwd=ROOT, stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=WAIT_S)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [f"error: {path}:{said}",
                 "error: cannot write the output: No space left on device"])


@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_bad_input_whose_reader_went_away_still_fails_and_says_why(
        tmp_path: Path, json_option: list[str]) -> None:
    # `labrun simulate bad.py --json | head -1`: it exited 0 with nothing said.
    path = write(tmp_path, "def run(ctx)\n    pass\n")
    process = subprocess.Popen([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                                *json_option], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before labrun writes a line
    err = process.stderr.read()
    assert process.wait(WAIT_S) == 2
    assert err.splitlines() == [f"error: {path}:5: syntax error: expected ':'"]


def test_two_signals_at_once_end_a_simulation_as_one_does(tmp_path: Path) -> None:
    # The kernel may hand a signal to any thread: the main thread, waiting for the run,
    # must still wake to handle it (it waited for ever, 2 tries in 5).
    path = write(tmp_path, """
def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    print("looping", flush=True)
    while True:
        p300.aspirate(10, plate["A1"])
        p300.dispense(10, plate["A2"])
""")
    for _ in range(3):
        code, _, err = signalled(path, [signal.SIGINT, signal.SIGTERM])
        assert code == 130
        # Sent together, either may be handled first (the kernel hands each to any
        # thread): the one handled first names the ending, the other is ignored.
        assert err.splitlines()[-1].startswith(("error: interrupted (Ctrl-C) at ",
                                                "error: terminated (SIGTERM) at "))
        assert err.count("error: ") == 1


def test_a_signal_while_an_interrupted_simulation_prints_its_log_is_ignored(
        tmp_path: Path) -> None:
    # A second signal that comes once the run has ended (a busy machine may deliver it
    # that late), while the log is written out, must neither kill labrun (-15) nor cut
    # the log short. A log longer than the pipe holds keeps labrun writing it until it
    # is read: the signal lands there.
    path = write(tmp_path, """
def run(ctx):
    for n in range(1500):
        ctx.comment(f"comment {n} " + "of a long log " * 4)
    print("looping", flush=True)
    while True:
        ctx.comment("looping")
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "simulate", str(path), "--watchdog", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "looping\n"
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + WAIT_S
        wchan = Path(f"/proc/{process.pid}/wchan")
        while "pipe_write" not in wchan.read_text():  # blocked writing the log
            assert time.monotonic() < deadline, "labrun never wrote its log"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
        process.wait(WAIT_S)
    assert process.returncode == 130
    assert "comment 1499 of a long log" in out and "status:              aborted" in out
    assert err.splitlines()[-1].startswith("error: interrupted (Ctrl-C) at ")


def test_a_reader_that_goes_away_does_not_hide_how_the_run_ended(tmp_path: Path) -> None:
    # `labrun simulate FILE | head -1`: the results stop, the run's status and error do
    # not (it exited 0 with nothing said, for a run that failed).
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n    raise ValueError('bad')\n")
    process = subprocess.Popen([sys.executable, "-m", "labrun.cli.main", "simulate", str(path)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before labrun writes a line
    err = process.stderr.read()
    assert process.wait(WAIT_S) == 1
    assert err.splitlines() == [f"error: {path}:7: ValueError: bad"]


@pytest.mark.parametrize("swap", [
    "sys.stdout = sys.stderr = open(os.devnull, 'w')",
    "sys.stdout = None",
    "sys.stdout.close(); sys.stderr.close()",
])
def test_a_protocol_that_replaces_the_output_streams_does_not_silence_labrun(
        tmp_path: Path, swap: str) -> None:
    # It printed nothing at all, not even the error.
    path = write(tmp_path, f"def run(ctx):\n    {swap}\n    raise ValueError('bad')\n")
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 1
    assert "Run log" in done.stdout and "status:              failed" in done.stdout
    assert done.stderr.splitlines() == [f"error: {path}:7: ValueError: bad"]


def test_a_protocol_that_closes_standard_output_gets_one_line(tmp_path: Path) -> None:
    # It ended in an OSError traceback.
    path = write(tmp_path, "def run(ctx):\n    os.close(1)\n")
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert (done.returncode, done.stderr) == (
        1, "error: cannot write the output: Bad file descriptor\n")


def test_json_and_a_record_on_standard_output_are_refused(tmp_path: Path) -> None:
    # The record's lines went into the JSON document (or overwrote it, redirected).
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n")
    out = tmp_path / "out.json"
    with out.open("w") as stdout:
        done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                               "--json", "--record", "/dev/stdout"], cwd=ROOT, stdout=stdout,
                              stderr=subprocess.PIPE, text=True, timeout=WAIT_S)
    assert (done.returncode, done.stderr) == (
        2, "error: cannot write the run record /dev/stdout: it is standard output, which "
           "--json keeps for its one document; write the record to a file\n")
    assert json.loads(out.read_text())["status"] == "failed"


@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_streams_a_protocol_swaps_or_closes_at_its_top_level_are_labruns_again(
        tmp_path: Path, json_option: list[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text('import sys\nmetadata = {"apiLevel": "2.15"}\nsys.stdout.close()\n'
                    'sys.stderr = None\nraise ValueError("bad")\n\ndef run(ctx):\n    pass\n')
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                           *json_option], cwd=ROOT, capture_output=True, text=True,
                          timeout=WAIT_S)
    assert (done.returncode, done.stderr) == (
        2, f"error: {path}:5: the protocol's top level raised ValueError: bad\n")
    if json_option:
        assert json.loads(done.stdout)["error"].endswith("ValueError: bad")


def test_the_streams_lent_to_a_protocol_outlive_their_run(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    # A protocol thread still running once its run has ended (stuck in a loop Ctrl-C ended
    # the run around) may be inside print(), which holds sys.stdout without a reference of
    # its own: freed at the swap back, it crashed labrun (SIGSEGV, about 1 run in 30).
    import gc
    import weakref

    from labrun.cli.outputs import ProtocolStreams

    with ProtocolStreams():
        lent = weakref.ref(sys.stdout)
        print("in the run")
    gc.collect()
    still = lent()
    assert still is not None and still is not sys.stdout
    print("after the run", file=still)  # type: ignore[call-overload]
    assert capsys.readouterr().out == "in the run\nafter the run\n"


def test_a_lent_stream_closed_after_labrun_s_own_says_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A lent stream (or its buffer) is closed when it is collected, which can be after
    # labrun's own stream closed at exit: the flush raised "I/O operation on closed file",
    # which Python 3.13 prints at the end of a run ("Exception ignored in ...").
    import io

    from labrun.cli.outputs import ProtocolStreams

    own = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", own)
    with ProtocolStreams():
        lent, buffer = sys.stdout, sys.stdout.buffer
        with ProtocolStreams():  # lent again (a second run in one process): a chain
            chained = sys.stdout
    own.close()
    assert (lent.closed, buffer.closed, chained.closed) == (True, True, True)
    for stream in (buffer, lent, chained):
        stream.close()



@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_a_protocol_that_goes_on_printing_after_its_run_leaves_the_results_alone(
        tmp_path: Path, json_option: list[str]) -> None:
    # A retry loop swallows the stop and prints on: its lines went into stdout once labrun
    # took its streams back, before the --json document (which no longer parsed) and the
    # run log.
    path = write(tmp_path, """
        def run(ctx):
            while True:
                try:
                    ctx.comment("a")
                except Exception as error:
                    print("retrying after", error)
        """)
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                           "--at", "step=3:stop", *json_option], cwd=ROOT,
                          capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0
    said = "retrying after the run was stopped"  # (the last line cut short at the exit)
    assert said in done.stderr and all(said.startswith(line)
                                       for line in done.stderr.splitlines())
    if json_option:
        assert json.loads(done.stdout)["status"] == "stopped"
    else:  # what it printed as the run ended comes first, as a protocol's output does
        results = done.stdout[done.stdout.index("Setup\n"):]
        assert "retrying" not in results and "status:              stopped" in results
        assert results.endswith("wells changed:       none\n")


def test_what_is_printed_after_the_run_goes_to_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from labrun.cli.outputs import ProtocolStreams, labrun_stdout

    with ProtocolStreams(stdout_to_stderr=True):
        print("in the run")
    printer = threading.Thread(target=print, args=("after the run, from the protocol",))
    printer.start()
    printer.join()
    print("at exit, from the protocol")
    labrun_stdout().write("labrun's results\n")
    out, err = capsys.readouterr()
    assert out == "labrun's results\n"
    assert err == ("in the run\nafter the run, from the protocol\n"
                   "at exit, from the protocol\n")


@pytest.mark.parametrize("body", [
    "def run(ctx):\n    ctx.comment('a')\n",
    "raise ValueError('bad')\ndef run(ctx):\n    pass\n",  # bad input
], ids=["a run", "bad input"])
def test_what_a_protocols_atexit_callback_prints_leaves_the_json_document_alone(
        tmp_path: Path, body: str) -> None:
    # It came after the document, which no longer parsed ("Extra data").
    path = write(tmp_path, "import atexit\natexit.register(print, 'bye')\n" + body)
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path),
                           "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=WAIT_S)
    assert json.loads(done.stdout)["status"] in ("succeeded", "failed")
    assert done.stderr.splitlines()[-1] == "bye"


# -- the run record of a protocol that cannot start -------------------------------------

RECORD_LOAD_ERRORS = [
    *LOAD_ERRORS[:1],
    ("a syntax error", "def run(ctx):\n    ctx.comment('a'\n", 6,
     "syntax error: '(' was never closed"),
    ("no run", "x = 1\n", 1, "the protocol has no run(ctx) function"),
    ("a wrong runtime parameter", "def add_parameters(p):\n    p.add_str(variable_name='s', "
     "display_name='S', default='x', choices=[{'display_name': 'A', 'value': 'a'}])\n"
     "def run(ctx):\n    pass\n", 6, "add_str: the default of s must be one of 'a', not 'x'"),
    *(case for case in LOAD_ERRORS if case[1] == SYS_EXIT_IN_PARAMETERS),
]


def succeeded_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """A record of a run that succeeded, as an earlier run leaves it."""
    record = tmp_path / "run.jsonl"
    good = tmp_path / "good.py"
    good.write_text(HEADER + "def run(ctx):\n    ctx.comment('a')\n")
    assert labrun(capsys, "simulate", str(good), "--record", str(record))[0] == 0
    assert json.loads(record.read_text().splitlines()[-1])["status"] == "succeeded"
    return record


def unstarted_events(record: Path, path: Path, error: str, location: str | None) -> None:
    """``record`` is the record of a run of ``path`` that failed before it started."""
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert [e["event"] for e in events] == ["run", "failure", "status", "summary"]
    assert events[0]["protocol"] == str(path) and events[0]["status"] == "idle"
    assert (events[1]["error"], events[1]["location"]) == (error, location)
    assert events[2]["status"] == events[3]["status"] == "failed"
    assert (events[3]["error"], events[3].get("location"), events[3]["commands"]) == (
        error, location, 0)


@_cases(RECORD_LOAD_ERRORS)
def test_simulate_a_load_error_replaces_an_older_record_with_one_that_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
        message: str) -> None:
    # The record of the run before said "succeeded", as if of this run.
    record = succeeded_record(capsys, tmp_path)
    path = write(tmp_path, body)
    status, _, err = labrun(capsys, "simulate", str(path), "--record", str(record))
    assert (status, err) == (2, f"error: {path}:{line}: {message}\n")
    unstarted_events(record, path, message, f"{path}:{line}")


def test_simulate_a_wrong_param_value_leaves_a_record_that_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = succeeded_record(capsys, tmp_path)
    path = write(tmp_path, "def run(ctx):\n    pass\n")
    status, _, err = labrun(capsys, "simulate", str(path), "--record", str(record),
                            "--param", "n=1")
    assert status == 2
    message = err.removeprefix("error: ").rstrip("\n")
    unstarted_events(record, path, message, None)


def test_run_leaves_a_record_of_a_protocol_that_could_not_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing is connected, and the robot run's record says why it never began: a load
    error, or a failure in the simulation before it."""
    record = succeeded_record(capsys, tmp_path)
    path = write(tmp_path, RECORD_LOAD_ERRORS[1][1])
    status, out, _ = labrun(capsys, "run", str(path), "--emulate", "--record", str(record))
    assert status == 2 and "connecting" not in out
    unstarted_events(record, path, "syntax error: '(' was never closed", f"{path}:6")
    path = write(tmp_path, RUN_ERRORS[0][1])
    status, out, _ = labrun(capsys, "run", str(path), "--emulate", "--record", str(record))
    assert status == 3 and "connecting" not in out
    unstarted_events(record, path, "the protocol failed in simulation: delay: seconds is "
                                   "nan; " + FINITE, f"{path}:7")


BAD_ROBOT_FILES = [
    ("unparsable TOML", "name = [\n", "", "not valid TOML: Invalid value (at end of document)"),
    ("an unknown key", 'name = "bench"\nbogus = 1\n', ":2", "unknown key 'bogus'; expected "
     "one of ['axes', 'controller', 'drop_tips_on_stop', 'interlocks', 'modules', 'mounts', "
     "'name', 'park_position', 'safe_height', 'slots', 'trash_slot']"),
    ("a misspelt key in a table", '[axes.X]\nmax = 400\nstesp_per_mm = 80\n', ":3",
     "axes.X.stesp_per_mm: unknown key; expected one of ['acceleration', 'home', 'homing', "
     "'idle_current', 'max', 'max_speed', 'min', 'run_current', 'steps_per_mm']"),
    ("a bad value in an inline table", '[axes]\nY = { min = 9, max = 2 }\n', ":2",
     "axes.Y: the travel min = 9.0 .. max = 2.0 must be finite with min below max"),
    ("a slot the file does not have", 'name = "bench"\ntrash_slot = "13"\n', ":2",
     "trash_slot: slot '13' is not defined under [slots]"),
    ("a comment an editor saved as Latin-1",
     'name = "bench"\n# M\xfcller lab\n'.encode("latin-1"), ":2",
     "not UTF-8 text (byte 0xfc), as TOML must be; save it as UTF-8"),
    ("a directory", None, "", "a directory, not a robot configuration file"),
    ("a controller never timed out", "[controller]\ntimeout_s = inf\n", ":2",
     "controller.timeout_s: expected a positive number of seconds, got inf"),
    ("a poll interval in milliseconds", '[controller]\nkind = "gcode"\ndialect = "grbl"\n'
     'port = "/dev/ttyACM0"\ntimeout_s = 2\npoll_interval = 50\n', ":1",
     "controller: poll_interval (50 s) must be below timeout_s (2 s), else a controller that "
     "falls silent is noticed only a poll_interval later; both are in seconds"),
]
"""Each bad robot file, what it writes (bytes as they are; None: a directory there), the
line (``:N``) the error names, the error."""


@pytest.mark.parametrize("command", ["simulate", "run"])
@pytest.mark.parametrize(("text", "where", "message"), [c[1:] for c in BAD_ROBOT_FILES],
                         ids=[c[0] for c in BAD_ROBOT_FILES])
def test_a_bad_robot_file_replaces_an_older_record_with_one_that_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
        text: str | bytes | None, where: str, message: str) -> None:
    record = succeeded_record(capsys, tmp_path)
    robot = tmp_path / "robot.toml"
    if text is None:
        robot.mkdir()
    elif isinstance(text, bytes):
        robot.write_bytes(text)
    else:
        robot.write_text(text)
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n")
    status, out, err = labrun(capsys, command, str(path), "--robot", str(robot),
                              "--record", str(record))
    assert (status, err) == (2, f"error: {robot}{where}: {message}\n")
    assert "connecting" not in out
    unstarted_events(record, path, f"{robot}{where}: {message}", None)


def test_a_poll_too_slow_for_the_emulated_dialect_is_refused_before_it_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Marlin robot file may poll slowly (Marlin is not asked its status); run on
    --emulate --dialect grbl, that emulator is, and the same poll is refused."""
    robot = tmp_path / "robot.toml"
    shipped = (ROOT / "hardware" / "robots" / "emulator_marlin.toml").read_text()
    robot.write_text(re.sub(r"(?m)^poll_interval = .*$", "poll_interval = 50", shipped))
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n")
    status, out, err = labrun(capsys, "run", str(path), "--emulate", "--robot", str(robot),
                              "--dialect", "grbl", "-y")
    assert (status, out) == (2, "")
    assert err == (f"error: {robot}: controller: poll_interval (50 s) must be below "
                   "timeout_s (5 s), else a controller that falls silent is noticed only a "
                   "poll_interval later; both are in seconds (with --emulate, the grbl "
                   "emulator is asked its status)\n")


def test_a_move_slower_than_the_emulated_dialect_moves_is_refused_before_it_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Marlin robot file run on --emulate --dialect grbl: its simulation checks the
    slowest move against GRBL (1 mm/min), which the run drives, not Marlin (0.1 mm/min):
    an aspirate between the two failed on the emulator, after a tip was taken."""
    robot = ROOT / "hardware" / "robots" / "emulator_marlin.toml"
    path = tmp_path / "protocol.py"
    path.write_text(aspirating_at(0.001))
    status, out, err = labrun(capsys, "run", str(path), "--emulate", "--robot", str(robot),
                              "--dialect", "grbl", "-y")
    assert status == 3 and "connecting" not in out, out
    assert err == (f"error: {path}:{ASPIRATE_LINE}: aspirate at 0.00495 mm/s is slower "
                   "than the robot's controller moves (at least 0.0167 mm/s): a flow rate or "
                   "speed far too low\nthe protocol failed in simulation; nothing was "
                   "connected or moved\n")


ARGUMENT_ERRORS = [
    ("simulate", ["--watchdog", "-3"],
     "--watchdog must be 0 (off) or from 0.5 to 86,400 seconds, not -3"),
    ("simulate", ["--at", "soon:pause"],
     "--at 'soon:pause': WHEN must be seconds (e.g. 125.5) or step=N"),
    ("simulate", ["--deck", "/no/such/folder/deck.svg"],
     "cannot write the deck picture /no/such/folder/deck.svg: no folder /no/such/folder"),
    ("run", [], "labrun run needs --robot ROBOT.toml (the robot to drive) or --emulate "
                "(labrun's emulator)"),
    ("run", ["--emulate", "--speed", "0"],
     "--speed must be a number from 0.01 to 10000 (times real time), not 0"),
]


@pytest.mark.parametrize(("command", "options", "message"), ARGUMENT_ERRORS)
def test_an_argument_error_replaces_an_older_record_with_one_that_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
        options: list[str], message: str) -> None:
    record = succeeded_record(capsys, tmp_path)
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n")
    status, _, err = labrun(capsys, command, str(path), *options, "--record", str(record))
    assert (status, err) == (2, f"error: {message}\n")
    unstarted_events(record, path, message, None)


def test_a_record_path_that_is_the_protocol_is_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "def run(ctx):\n    ctx.comment('a')\n")
    before = path.read_text()
    for command, options in (("simulate", ["--watchdog", "-3"]), ("run", [])):
        status, _, err = labrun(capsys, command, str(path), *options, "--record", str(path))
        assert (status, err) == (2, f"error: cannot write the run record {path}: it is the "
                                    "protocol file; writing there would replace it\n")
        assert path.read_text() == before


# -- errors Python only prints: one line each, the run goes on, as in Opentrons ---------

STRAY_ERRORS = [
    ("a thread of the protocol", "import threading\n\ndef run(ctx):\n"
     "    def work():\n        raise ValueError('in thread')\n"
     "    worker = threading.Thread(target=work)\n    worker.start()\n    worker.join()\n"
     "    ctx.comment('after')\n",
     9, "a thread of the protocol raised ValueError: in thread"),
    ("an atexit callback after the run", "import atexit\n\ndef run(ctx):\n"
     "    atexit.register(lambda: ctx.comment('bye'))\n    ctx.comment('hi')\n",
     8, "an atexit callback of the protocol raised RunStopped: the run has ended; Python "
        "ignored it"),
    ("a __del__", "class Held:\n    def __del__(self):\n        raise RuntimeError('in del')\n"
     "\ndef run(ctx):\n    held = Held()\n    del held\n    ctx.comment('after')\n",
     7, "the protocol's Held.__del__ raised RuntimeError: in del; Python ignored it"),
]


@_cases(STRAY_ERRORS)
def test_an_error_python_only_prints_is_one_warning_line(
        tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, body)
    done = subprocess.run([sys.executable, "-m", "labrun.cli.main", "simulate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0
    assert "status:              succeeded" in done.stdout
    assert done.stderr == f"warning: {path}:{line}: {message}\n"


def test_a_record_on_a_read_only_file_system_is_said_so(tmp_path: Path) -> None:
    """Said as "permission denied", which sent people to chmod a folder they own."""
    from labrun.cli.outputs import unwritable

    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("no read-only file system can be mounted here")
    try:
        assert unwritable(str(mount / "run.jsonl")) == "it is on a read-only file system"
    finally:
        subprocess.run(["umount", str(mount)], check=True)
