"""Embedding: a script opens a context itself and controls the run from another thread."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.errors import RunStopped
from engine.record import read_record
from engine.run import RunControl
from engine.state import Status
from engine.status import RunStatusReport
from protocol_api import ProtocolContext, open_context
from protocol_api.execute import continue_when_stalled

TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parents[2]


def run_script(path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """``text`` written to ``path`` and run as a script of its own (a process whose main
    thread it has, as a user's script does), with labrun importable."""
    path.write_text(text)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_an_embedded_context_runs_calls_and_ends_with_the_block(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    with open_context(record_path=record) as ctx:
        assert isinstance(ctx, ProtocolContext)
        assert ctx.control.status().status is Status.RUNNING
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.transfer(75, plate["A1"], plate["A2"])
    status = ctx.control.status()
    assert status.status is Status.SUCCEEDED
    events = read_record(record)
    assert events[0]["event"] == "run"
    assert events[-1]["event"] == "summary"
    assert events[-1]["well_volumes_ul"] == {"1/A1": -75, "1/A2": 75}
    assert events[-1]["tips_used"] == 1
    # Lines point at this script.
    lines = {e["line"] for e in events if e["event"] == "command" and e.get("line")}
    assert all(line.startswith(f"{__file__}:") for line in lines)


def test_a_protocol_pause_waits_for_a_resume_from_another_thread() -> None:
    seen: list[RunStatusReport] = []

    def operator(ctx_control: RunControl) -> None:
        seen.append(ctx_control.wait_until_paused(timeout=TIMEOUT))
        assert ctx_control.resume(source="operator").accepted

    with open_context() as ctx:
        p = ctx.load_instrument("p20_single_gen2", "right")
        p.move_to(ctx.fixed_trash)  # the trash bin, at 2.20
        helper = threading.Thread(target=operator, args=(ctx.control,))
        helper.start()
        ctx.pause("add the reagent")  # returns once the operator resumes
        helper.join(TIMEOUT)
        ctx.comment("resumed")
    assert len(seen) == 1
    paused = seen[0]
    assert paused.status is Status.PAUSED
    assert (paused.pause_source, paused.pause_message) == ("protocol", "add the reagent")
    assert paused.parked
    summary = ctx.run.record.events[-1]
    assert summary["status"] == "succeeded"
    assert [p["message"] for p in summary["pauses"]] == ["add the reagent"]
    resumes = [e for e in ctx.run.record.events if e["event"] == "action"
               and e["action"] == "resume"]
    assert [(e["source"], e["accepted"]) for e in resumes] == [("operator", True)]


def test_with_continue_when_stalled_a_pause_goes_on_by_itself() -> None:
    with open_context(on_stalled=continue_when_stalled) as ctx:
        ctx.pause("nobody is here to resume")  # returns: nothing else is scheduled
        ctx.comment("after the pause")
        control = ctx.control
    status = control.status()
    assert status.status is Status.SUCCEEDED
    assert [a["source"] for a in ctx.run.record.events if a["event"] == "action"
            and a["action"] == "resume"] == ["simulate"]


def test_a_stop_from_another_thread_ends_the_block_cleanly() -> None:
    after_stop: list[str] = []

    def operator(ctx_control: RunControl) -> None:
        ctx_control.wait_until_paused(timeout=TIMEOUT)
        assert ctx_control.stop(source="operator").accepted

    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        helper = threading.Thread(target=operator, args=(ctx.control,))
        helper.start()
        try:
            ctx.pause("stop me")
        finally:
            after_stop.append("finally ran")
        after_stop.append("not reached")
    helper.join(TIMEOUT)
    assert after_stop == ["finally ran"]
    summary = ctx.run.record.events[-1]
    assert summary["status"] == "stopped"
    # The cleanup dropped the attached tip into the trash.
    cleanup = [e.command.kind for e in ctx.run.engine.entries if e.origin == "cleanup"]
    assert cleanup == ["dropTip"]
    # Any later call raises at once, before anything it would find wrong: the pipette
    # still seems to hold its tip, and -5 is no volume.
    with pytest.raises(RunStopped):
        p.drop_tip()
    with pytest.raises(RunStopped, match="the run was stopped"):
        p.pick_up_tip()
    with pytest.raises(RunStopped, match="the run was stopped"):
        p.aspirate(-5)


def test_wait_for_wakes_when_a_step_of_its_own_predicate_begins() -> None:
    """``wait_for`` on a step's name returns once the step begins: waiting threads were
    woken only on changes of the status, pause or delay, so it went on waiting while the
    step ran, and said the run was "still succeeded" once it had ended."""
    seen: list[str] = []
    waiting, entered, leave = threading.Event(), threading.Event(), threading.Event()

    def in_transfer(status: RunStatusReport) -> bool:
        waiting.set()  # checked once before it waits: the step has not begun yet
        return status.step is not None and status.step.name == "transfer"

    def operator(control: RunControl) -> None:
        status = control.wait_for(in_transfer, timeout=60)  # far past the 10 s below
        seen.append(status.step.name if status.step else "")
        leave.set()

    with open_context() as ctx:
        helper = threading.Thread(target=operator, args=(ctx.control,))
        helper.start()
        with ctx.step("first"):
            ctx.comment("a")
        assert waiting.wait(TIMEOUT)
        with ctx.step("transfer"):
            ctx.comment("b")  # the step has begun: the operator wakes
            entered.set()
            assert leave.wait(10)  # held here until it has seen the step
        helper.join(TIMEOUT)
        control = ctx.control
    assert seen == ["transfer"] and entered.is_set()
    with pytest.raises(TimeoutError, match=r"^the run ended \(succeeded\) before what was "
                                           "waited for held$"):
        control.wait_for(lambda s: False, timeout=5)


def test_a_pause_a_script_asked_for_that_the_protocols_answers_is_said_in_words() -> None:
    """An embedding script's pause comes from the "client" source: the log says "a client",
    not "the pause client asked for"."""
    from labrun.cli.calls import asker
    from labrun.cli.report import text_log

    with open_context(on_stalled=continue_when_stalled) as ctx:  # the pause goes on
        p = ctx.load_instrument("p20_single_gen2", "right")
        p.move_to(ctx.fixed_trash)
        assert ctx.control.pause().accepted  # deferred: the protocol's own pause answers it
        ctx.pause("swap the plate")
    assert [asker(s) for s in ("client", "remote", "rehearsal", "operator")] == [
        "a client", "a client", "the rehearsal", "the operator"]
    log = text_log(ctx.run, verbosity=1)
    assert any(line.endswith("status paused by protocol, which also answers the pause a "
                             "client asked for") for line in log), log


def test_wait_for_on_a_run_never_started_says_so() -> None:
    from engine.run import Run

    run = Run(None)  # made, never started
    with pytest.raises(TimeoutError, match=r"^the run has not been started: start"):
        run.control.wait_for(lambda s: False, timeout=1)


def test_once_the_run_has_ended_wait_for_raises_and_wait_until_paused_returns() -> None:
    # As the README says: wait_for a status that never comes raises, saying the run ended
    # first; wait_until_paused returns the ended status, for the caller to read.
    with open_context() as ctx:
        ctx.comment("nothing to wait for")
    with pytest.raises(TimeoutError, match=r"^the run ended \(succeeded\) before what was "
                                           r"waited for held"):
        ctx.control.wait_for(lambda s: s.status is Status.PAUSED, timeout=TIMEOUT)
    assert ctx.control.wait_until_paused(timeout=TIMEOUT).status is Status.SUCCEEDED


def test_a_script_that_raises_while_its_run_is_paused_fails_the_run_at_once() -> None:
    """Paused between two calls (by a person, from another thread), the script raised:
    the run waited for a resume that might never come, and the ``with`` never ended."""
    outcome: dict[str, object] = {}

    def script() -> None:
        try:
            with open_context() as ctx:
                outcome["ctx"] = ctx
                ctx.load_instrument("p300_single_gen2", "left")
                assert ctx.control.pause("immediate").accepted
                assert ctx.control.status().status is Status.PAUSED
                raise ValueError("the script broke")
        except ValueError as exc:
            outcome["raised"] = str(exc)

    thread = threading.Thread(target=script, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the with block never ended"
    assert outcome["raised"] == "the script broke"
    ctx = outcome["ctx"]
    assert isinstance(ctx, ProtocolContext)
    status = ctx.control.status()  # type: ignore[attr-defined]
    assert status.status is Status.FAILED
    assert status.outcome.error == "ValueError: the script broke"
    assert status.outcome.location.endswith("test_api_embedding.py:" + str(
        script.__code__.co_firstlineno + 7))


CTRL_C_IN_THE_LOOP = '''
import os, signal
from protocol_api import open_context
try:
    with open_context(record_path={record!r}) as ctx:
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        pipette = ctx.load_instrument("p300_single_gen2", "left")
        seen = []
        def ctrl_c(event):  # runs in the engine's loop, which this thread drives
            seen.append(event)
            if len(seen) == 40:
                os.kill(os.getpid(), signal.SIGINT)
        ctx.run.record.subscribe(ctrl_c)
        for well in plate.wells():
            pipette.move_to(well.top())
except KeyboardInterrupt:
    print("KeyboardInterrupt", ctx.control.status().status.value)
'''


def test_ctrl_c_while_the_script_drives_the_loop_ends_the_run_failed(tmp_path: Path) -> None:
    """A simulated run's loop runs in the script's thread: a Ctrl-C landing in the
    engine's work killed the loop half-way, the status stayed ``running`` for ever and
    the record's summary said ``running``. It is raised in the script's code instead."""
    record = tmp_path / "record.jsonl"
    script = tmp_path / "script.py"
    done = run_script(script, CTRL_C_IN_THE_LOOP.format(record=str(record)))
    assert done.stdout.strip() == "KeyboardInterrupt failed", done.stderr
    summary = read_record(record)[-1]
    assert summary["event"] == "summary" and summary["status"] == "failed"
    assert summary["error"] == "KeyboardInterrupt"
    assert summary["location"] == f"{script}:15"  # the script's own line, not labrun's


@pytest.mark.parametrize(("end", "raised"), [
    ("stop", None), ("abort", "RunAborted"), ("halt", "RunHalted"), ("fail", "RunFailed")])
def test_only_a_run_a_person_stopped_ends_the_block_quietly(end: str, raised: str | None) -> None:
    """A run that failed or was halted ended the block as if all went well: the script
    went on after it. A stop is a person's choice to end it; the others reach the script."""
    from protocol_api.types import Location, Point

    after: list[str] = []

    def block() -> None:
        with open_context() as ctx:
            pipette = ctx.load_instrument("p300_single_gen2", "left")
            if end == "fail":
                pipette.move_to(Location(Point(2000.0, 2000.0, 50.0), None))  # out of reach
            elif end == "abort":
                ctx.control.abort("enough")
            else:
                getattr(ctx.control, end)()
            ctx.comment("after the end")
        after.append("after the block")

    if raised is None:
        block()
        assert after == ["after the block"]
        return
    with pytest.raises(RunStopped) as info:
        block()
    assert type(info.value).__name__ == raised and after == []


@pytest.mark.parametrize(("end", "raised"), [("abort", "RunAborted"), ("halt", "RunHalted")])
def test_a_run_ended_so_after_the_scripts_last_call_raises_out_of_the_block(
        end: str, raised: str) -> None:
    """With no call of the script after the abort or halt, nothing raised: the block
    ended as if the run had worked."""
    with pytest.raises(RunStopped) as info, open_context() as ctx:
        ctx.load_instrument("p300_single_gen2", "left")
        if end == "abort":
            ctx.control.abort("enough")
        else:
            ctx.control.halt()
    assert type(info.value).__name__ == raised
    assert str(info.value) == ("enough" if end == "abort" else "the run was halted")


def test_the_record_file_is_closed_with_the_block(tmp_path: Path) -> None:
    """Each embedded run left its record's file open: a script of many runs ran out of
    file descriptors."""
    import os

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    with open_context(record_path=tmp_path / "first.jsonl") as ctx:
        ctx.comment("warm")
    before = open_files()
    for index in range(5):
        with open_context(record_path=tmp_path / f"run{index}.jsonl") as ctx:
            ctx.comment("x")
    assert open_files() == before
    assert read_record(tmp_path / "run4.jsonl")[-1]["status"] == "succeeded"


SCRIPT_ENDS = """
import sys
from protocol_api import open_context
{how}
"""


@pytest.mark.parametrize(("how", "status", "code"), [
    # a notebook's way: the manager is gone at once; the run ends as the script does
    ('ctx = open_context(record_path={record!r}).__enter__()\nctx.comment("hello")',
     "succeeded", 0),
    ('with open_context(record_path={record!r}) as ctx:\n    ctx.comment("hi")\n'
     "    sys.exit(0)", "succeeded", 0),
    ('with open_context(record_path={record!r}) as ctx:\n    ctx.comment("hi")\n'
     "    sys.exit(3)", "failed", 3),
    # never closed, and the script died of an error: the run failed with it
    ('ctx = open_context(record_path={record!r}).__enter__()\nctx.comment("hello")\n'
     'raise ValueError("broke")', "failed", 1),
])
def test_a_script_that_ends_without_closing_its_context_ends_its_run(
        tmp_path: Path, how: str, status: str, code: int) -> None:
    """``open_context().__enter__()`` failed the run at once ("GeneratorExit"), a context
    left open ended the script with a traceback and a record with no end, and
    ``sys.exit(0)`` in the block failed the run."""
    record = tmp_path / "record.jsonl"
    script = tmp_path / "script.py"
    done = run_script(script, SCRIPT_ENDS.format(how=how.format(record=str(record))))
    assert done.returncode == code
    assert done.stderr == "" or done.stderr.endswith("ValueError: broke\n"), done.stderr
    summary = read_record(record)[-1]
    assert summary["event"] == "summary" and summary["status"] == status
    if code == 3:
        assert summary["error"] == "the script exited (sys.exit(3))"
    elif code:
        assert summary["error"] == "ValueError: broke"
        assert summary["location"] == f"{script}:6"


def test_a_call_from_another_thread_says_which_thread_may_call() -> None:
    """Embedded, the refusal told a script to call "from the thread that runs run(ctx)",
    a function it does not have."""
    from protocol_api.errors import ThreadCallError

    said: list[str] = []

    def helper(ctx: ProtocolContext) -> None:
        try:
            ctx.comment("hi")
        except ThreadCallError as exc:
            said.append(str(exc))

    with pytest.raises(RunStopped), open_context() as ctx:
        thread = threading.Thread(target=helper, args=(ctx,), name="helper")
        thread.start()
        thread.join(TIMEOUT)
        ctx.comment("after")
    assert said == ["comment was called from thread 'helper'; protocol calls must come "
                    "from the thread that opened the context"]


CTRL_C_IN_A_PAUSE = '''
import os, signal, threading
from protocol_api import open_context
with open_context(record_path={record!r}) as ctx:
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    ctx.pause("wait for me")
'''


def test_ctrl_c_in_a_pause_fails_the_run_and_cuts_the_pause_off(tmp_path: Path) -> None:
    """The pause the script waited in was recorded as "failed" with the script's error:
    it was cut off by the run's end, as a stop cuts it off."""
    record = tmp_path / "record.jsonl"
    done = run_script(tmp_path / "script.py", CTRL_C_IN_A_PAUSE.format(record=str(record)))
    # ended by the Ctrl-C, as Python ends on one (the signal again, once all is done)
    assert done.returncode == -2 and done.stderr.endswith("KeyboardInterrupt\n"), done.stderr
    events = read_record(record)
    pause = next(e["id"] for e in events if e.get("type") == "waitForResume")
    assert [e["status"] for e in events if e["event"] == "command" and e["id"] == pause][-1] \
        == "interrupted"
    summary = events[-1]
    assert (summary["status"], summary["error"]) == ("failed", "KeyboardInterrupt")
    assert summary["ended_during"]["status"] == "interrupted"


def test_a_failure_the_script_caught_is_not_raised_again_at_the_blocks_end() -> None:
    from engine.errors import RunFailed
    from protocol_api.types import Location, Point

    with open_context() as ctx:
        pipette = ctx.load_instrument("p300_single_gen2", "left")
        with pytest.raises(RunFailed, match="cannot reach that point"):
            pipette.move_to(Location(Point(2000.0, 2000.0, 50.0), None))
    assert ctx.control.status().status is Status.FAILED  # the block ended: it knew
