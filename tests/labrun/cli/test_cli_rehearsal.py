"""``labrun simulate --at WHEN:ACTION``: interventions rehearsed on the virtual clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labrun_protocols import SLOW_TRANSFER
from motion_trace import PhysicalTrace, TracingController, follow_record

from engine.record import read_record
from hardware.clock import VirtualClock
from hardware.config import default_config
from labrun.cli.main import main
from labrun.cli.rehearsal import parse, schedule
from labrun.cli.report import clock
from protocol_api.execute import continue_when_stalled, create_run

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    for i in range(4):
        p.pick_up_tip()
        p.aspirate(100, plate.wells()[i])
        p.dispense(100, plate.wells()[i + 8])
        p.drop_tip()
    ctx.delay(seconds=120, msg="incubate")
    ctx.comment("done")
'''


SWAPPING = PROTOCOL.replace("    for i in range(4):",
                            "    p.pick_up_tip()\n    ctx.pause('swap the plate')\n"
                            "    p.drop_tip()\n    for i in range(4):")
"""The protocol with its own pause, a tip on, before the transfers."""


def simulated(tmp_path: Path, capsys: pytest.CaptureFixture[str],
              text: str) -> tuple[Path, dict]:
    """``text`` written as a protocol and simulated with no rehearsal: its path and the
    ``--json`` document."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(text)
    assert main(["simulate", str(protocol), "--json"]) == 0
    return protocol, json.loads(capsys.readouterr().out)


def simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *at: str) -> tuple[int, dict]:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    args = ["simulate", str(protocol), "--json"]
    for item in at:
        args += ["--at", item]
    code = main(args)
    return code, json.loads(capsys.readouterr().out)


def test_an_immediate_pause_mid_run_resumes_the_step(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = simulate(tmp_path, capsys, "3:pause-immediate", "50:resume")
    assert code == 0 and doc["final_status"] == "succeeded"
    statuses = [s["status"] for s in doc["status_changes"]]
    assert statuses[:4] == ["running", "pausing", "paused", "running"]
    assert [a["action"] for a in doc["actions"] if a["source"] == "rehearsal"] == \
        ["pause", "resume"]
    # A client's pause (the status's pause_source), asked for by the rehearsal.
    assert [(p["source"], p["from"]) for p in doc["pauses"]] == [("client", "rehearsal")]
    kinds = {r["effect"] for r in doc["pause_effects"]}
    assert "interrupted" in kinds and kinds & {"rewound", "completed after pause"}
    park, unpark = doc["parks"][0], doc["parks"][1]
    assert unpark["position"] == pytest.approx(park["recorded"], abs=0.01)
    # Whatever the interruption, the liquid moved is exactly what the protocol asked.
    assert sum(v for v in doc["well_volumes_ul"].values()) == pytest.approx(0.0)
    assert doc["well_volumes_ul"]["2/A1"] == pytest.approx(-100.0)


def test_a_deferred_pause_during_the_last_step_is_unresolved(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = simulate(tmp_path, capsys, "step=22:pause")  # the last step: comment
    assert code == 0 and doc["final_status"] == "succeeded"
    assert doc["pause_unresolved"] is True
    assert doc["steps"] == 22


@pytest.mark.parametrize("action, status, exit_code", [
    ("stop", "stopped", 0), ("abort", "aborted", 1), ("halt", "halted", 1)])
@pytest.mark.parametrize("step", [4, 5, 22])  # the pipette's load, a pick-up, the comment
def test_an_ending_as_a_step_begins_carries_out_none_of_it(  # type: ignore[no-untyped-def]
        tmp_path, capsys, action: str, status: str, exit_code: int, step: int) -> None:
    # It crashed ("a reply can be answered only once"): the step's first command ran after
    # the ending had answered the protocol's call.
    code, doc = simulate(tmp_path, capsys, f"step={step}:{action}")
    assert (code, doc["final_status"]) == (exit_code, status)
    assert doc["steps"] == step - 1  # the steps carried out: none of the one it ended at
    # and the setup sheet's timeline counts the same ("about 2 min 30 s, 5 steps" above
    # "steps: 4"): the step it ended at sent nothing
    assert doc["setup"]["steps"] == step - 1
    assert doc["tips_used"] == (0 if step < 22 else 4)
    record = [e for e in doc["actions"] if e["source"] == "rehearsal"]
    assert [a["action"] for a in record] == [action]


def test_a_pause_during_the_delay_keeps_its_deadline(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, plain = simulate(tmp_path, capsys)
    _, paused = simulate(tmp_path, capsys, f"{plain['estimated_duration_s'] - 60}:pause",
                         f"{plain['estimated_duration_s'] - 30}:resume")
    # Time runs on during the pause: the run ends about when it would have anyway.
    assert paused["estimated_duration_s"] == pytest.approx(plain["estimated_duration_s"], abs=3)


def test_a_pause_during_the_delay_names_the_delay_it_interrupted(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, plain = simulate(tmp_path, capsys)
    end = plain["estimated_duration_s"]
    assert main(["simulate", str(tmp_path / "protocol.py"), "-v",
                 f"--at={end - 60}:pause", f"--at={end - 30}:resume"]) == 0
    out = capsys.readouterr().out
    assert "  interrupted: Delaying for 2 min: incubate\n" in out


def test_the_log_says_where_a_rehearsed_pause_held_and_which_were_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path, capsys)
    protocol = str(tmp_path / "protocol.py")
    assert main(["simulate", protocol, "--at=3:pause-immediate", "--at=30:resume",
                 "--at=31:resume"]) == 0
    log = [line[8:] for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert log[log.index("pause (immediate) from rehearsal") + 1:][:3] == [
        "Paused by rehearsal",
        "resume from rehearsal",
        "resume from rehearsal refused: cannot resume while running; only a paused run resumes"]
    assert main(["simulate", protocol, "-v", "--at=3:pause-immediate", "--at=60:resume"]) == 0
    said = capsys.readouterr().out
    assert "status pausing by rehearsal\n" in said and "status paused by rehearsal\n" in said
    record = tmp_path / "record.jsonl"
    assert main(["simulate", protocol, "--record", str(record), "--at=3:pause"]) == 0
    paused = [e for e in read_record(record) if e.get("status") == "paused"]
    assert paused and paused[0]["pause_source"] == "client"
    assert paused[0]["pause_from"] == "rehearsal"


def test_door_open_then_stop(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = simulate(tmp_path, capsys, "2:door-open", "30:stop")
    assert code == 0 and doc["final_status"] == "stopped"
    paused = [s for s in doc["status_changes"] if s["status"] == "paused"]
    assert paused and doc["pauses"][0]["source"] == "interlock"
    # Behind the open door nothing moves, even on a robot whose controller would: the
    # tip stays on rather than being swept to the trash past the hands in the deck.
    code, doc = simulate(tmp_path, capsys, "6:door-open", "30:stop")  # a tip on
    assert doc["cleanup_skipped"] == "the door held motion"
    assert doc["tips_at_end"] == {"left": {"volume_ul": 0.0, "dropped": False}}
    assert not [c for c in doc["commands"] if c.get("origin") == "cleanup"]
    code, doc = simulate(tmp_path, capsys, "6:door-open", "20:door-close", "30:stop")
    assert doc["final_status"] == "stopped" and "cleanup_skipped" not in doc
    assert doc["tips_at_end"] == {"left": {"volume_ul": 0.0, "dropped": True}}


def test_halt_ends_halted_with_a_failing_exit(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = simulate(tmp_path, capsys, "4:halt")
    assert code == 1 and doc["final_status"] == "halted"


@pytest.mark.parametrize("bad", ["pause", "x:pause", "-1:stop", "step=0:pause", "3:jump",
                                 "nan:pause", "inf:stop"])
def test_bad_interventions_are_refused_before_running(tmp_path, capsys, bad) -> None:  # type: ignore[no-untyped-def]
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), f"--at={bad}"]) == 2
    assert "--at" in capsys.readouterr().err


@pytest.mark.parametrize("number", ["²", "³", "①"])
def test_a_step_written_with_a_digit_that_is_no_number_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], number: str) -> None:
    # str.isdigit() takes "²" for a digit that int() cannot read: a ValueError's traceback.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), f"--at=step={number}:pause"]) == 2
    assert capsys.readouterr().err == (
        f"error: --at 'step={number}:pause': step must be a whole number from 1\n")


@pytest.mark.parametrize(("bad", "said"), [
    ("10:pause-immediate:extra", "':extra' after the action 'pause-immediate' is not part of "
                                 "WHEN:ACTION (one intervention per --at, e.g. --at "
                                 "10:pause-immediate)"),
    ("step=3:stop:5:resume", "':5:resume' after the action 'stop' is not part of WHEN:ACTION "
                             "(one intervention per --at, e.g. --at step=3:stop)"),
    ("5:pause:", "':' after the action 'pause' is not part of WHEN:ACTION (one intervention "
                 "per --at, e.g. --at 5:pause)"),
    ("3:jump", "unknown action 'jump'; choose from pause, pause-immediate, resume, stop, "
               "abort, halt, skip-delay, door-open, door-close"),
])
def test_what_follows_a_good_action_is_named_not_taken_for_the_action(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, said: str) -> None:
    # The action was said to be unknown: "unknown action 'extra'" of a good one.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), f"--at={bad}"]) == 2
    assert capsys.readouterr().err == f"error: --at {bad!r}: {said}\n"


def liquid_steps(doc: dict) -> list[tuple[str, str, float]]:
    """The tip and liquid commands of a ``--json`` document, in order, each completed."""
    steps = []
    for command in doc["commands"]:
        if command["type"] in ("pickUpTip", "aspirate", "dispense", "dropTip"):
            assert command["status"] == "completed", command
            params = command["params"]
            steps.append((command["type"], params["well"], params.get("volume", 0.0)))
    return steps


def traced_rehearsal(path: Path, at: list[str]) -> PhysicalTrace:
    """The same rehearsal (parse and schedule, as ``--at`` does), with the motion kept."""
    config, clock, trace = default_config(), VirtualClock(), []  # type: ignore[var-annotated]
    run = create_run(path, config=config, clock=clock, on_stalled=continue_when_stalled,
                     controller=TracingController(config, clock, trace=trace))
    try:
        follow_record(run, trace)
        schedule(run, [parse(item) for item in at])  # what happened is in the trace
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    return PhysicalTrace(config, trace)


@pytest.mark.parametrize("kind", ["pickUpTip", "aspirate", "moveTo"])
def test_an_immediate_pause_mid_pick_up_aspirate_or_move_with_a_tip_changes_no_contact(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(SLOW_TRANSFER)
    assert main(["simulate", str(protocol), "--json"]) == 0
    twin = json.loads(capsys.readouterr().out)
    command = next(c for c in twin["commands"] if c["type"] == kind
                   and (kind != "moveTo" or c["params"].get("speed") == 10))
    middle = (command["started_at"] + command["completed_at"]) / 2
    at = [f"{middle}:pause-immediate", f"{middle + 60}:resume"]
    assert main(["simulate", str(protocol), "--json", *[f"--at={a}" for a in at]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["final_status"] == "succeeded"
    effects = [(e["effect"], e["id"]) for e in doc["pause_effects"]]
    assert effects == [("interrupted", command["id"]),
                       ("completed after pause", command["id"])]
    # What touched tips and liquid, and what the summary counts, is as without the pause.
    assert liquid_steps(doc) == liquid_steps(twin)
    for key in ("tips_used", "well_volumes_ul"):
        assert doc[key] == twin[key]
    paused, pause_free = traced_rehearsal(protocol, at), traced_rehearsal(protocol, [])
    assert paused.rounded_contacts() == pause_free.rounded_contacts()
    assert paused.floor_violations(pause_free) == []


EMPTY_STEPS = """
metadata = {"apiLevel": "2.15"}
def run(ctx):
    with ctx.step("nothing here"):
        pass
    ctx.comment("A")
    with ctx.step("also nothing"):
        x = 1
    ctx.delay(seconds=70)
    ctx.comment("B")
    ctx.pause("P")
"""


def test_a_step_that_sends_nothing_is_no_step_of_the_run(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A group or call that sends no command has no run-log line, so it has no number
    either: the summary's steps, the setup sheet's timeline, the record's step events and
    --at step=N (the run log's N-th step) count the same steps."""
    protocol, doc = simulated(tmp_path, capsys, EMPTY_STEPS)
    assert doc["steps"] == doc["setup"]["steps"] == 5  # the trash, A, the delay, B, P
    record = tmp_path / "run.jsonl"
    assert main(["simulate", str(protocol), "--record", str(record),
                 "--at", "step=3:skip-delay"]) == 0
    out = capsys.readouterr().out
    assert ", 5 steps)" in out and "step 5: PAUSE" in out
    assert [e["index"] for e in read_record(record) if e["event"] == "step"] == [0, 1, 2, 3, 4]
    # the third line of the run log is the delay: skipped at once
    assert [e["t"] for e in read_record(record) if e["event"] == "step"][3] == 0.0


def test_a_pause_that_holds_the_run_once_the_door_closes_is_one_of_its_pauses(
        tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A pause asked for while the door held the run takes over as the door closes and
    holds the run until the resume: a pause taken, in the summary's pauses too."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), "--json", "--at", "1:door-open", "--at", "1.5:pause",
                 "--at", "2:door-close", "--at", "9:resume"]) == 0
    doc = json.loads(capsys.readouterr().out)
    held = [(p["t"], p["source"], p.get("from")) for p in doc["pauses"]
            if p["source"] != "protocol"]
    assert held == [(1.0, "interlock", None), (2.0, "client", "rehearsal")]


def test_a_rehearsal_that_never_happens_is_said(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, doc = simulate(tmp_path, capsys)
    ended = f"the run ended first (at {clock(doc['estimated_duration_s'])}, after " \
            f"{doc['steps']} steps)"
    protocol = str(tmp_path / "protocol.py")
    assert main(["simulate", protocol, "--at=step=999:pause", "--at=1e9:stop"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: the rehearsed pause at step 999 did not happen: {ended}",
        f"warning: the rehearsed stop at t=1e+09s did not happen: {ended}"]
    # Those that happen are not named.
    assert main(["simulate", protocol, "--at=1:pause", "--at=2:resume", "--at=step=3:pause",
                 "--at=step=4:resume"]) == 0
    assert capsys.readouterr().err == ""
    # Nor is a door that opens and closes; one closed that was not open, or opened twice,
    # changed nothing, and is said so.
    assert main(["simulate", protocol, "--at=1:door-close", "--at=2:door-open",
                 "--at=2.5:door-open", "--at=3:door-close"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: the rehearsed door-close at t=1s changed nothing: the door was closed "
        "already",
        "warning: the rehearsed door-open at t=2.5s changed nothing: the door was open "
        "already"]


def test_the_log_says_how_long_a_shaker_stood_still_for_a_pause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "shake.py"
    protocol.write_text('metadata = {"apiLevel": "2.16"}\n\ndef run(ctx):\n'
                        '    hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                        '    hs.close_labware_latch()\n'
                        '    hs.set_and_wait_for_shake_speed(500)\n'
                        '    ctx.delay(minutes=5)\n'
                        '    hs.deactivate_shaker()\n')
    assert main(["simulate", str(protocol), "--at", "60:pause", "--at", "210:resume"]) == 0
    log = capsys.readouterr().out.split("Run log\n")[1].split("\n\n")[0].splitlines()
    said = [line for line in log if "stood still" in line]
    assert len(said) == 1
    assert said[0].endswith("Heater-Shaker Module GEN1 in slot 1: shaking again at 500 rpm; "
                            "it stood still for 2:30 while the run was paused")
    # The pause says so when it stops the shaker, not only the resume.
    stopped = [line for line in log if "stopped shaking" in line]
    assert len(stopped) == 1 and stopped[0].endswith(
        "Heater-Shaker Module GEN1 in slot 1: stopped shaking (it was set to 500 rpm) while the "
        "run is paused")
    assert log.index(stopped[0]) < log.index(said[0])
    # Paused with nothing shaking: nothing to say.
    assert main(["simulate", str(protocol), "--at", "step=3:pause", "--at", "100:resume"]) == 0
    out = capsys.readouterr().out
    assert "stood still" not in out and "stopped shaking" not in out


def test_a_rehearsed_halt_stops_the_shaker_and_the_log_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As on a robot: once the emergency stop has gone out the plate stops; its heater
    # keeps its target.
    protocol = tmp_path / "shake.py"
    protocol.write_text('metadata = {"apiLevel": "2.16"}\n\ndef run(ctx):\n'
                        '    hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                        '    hs.close_labware_latch()\n'
                        '    hs.set_target_temperature(37)\n'
                        '    hs.set_and_wait_for_shake_speed(2000)\n'
                        '    ctx.delay(minutes=5)\n')
    assert main(["simulate", str(protocol), "--at", "60:halt"]) == 1
    log = capsys.readouterr().out.split("Run log\n")[1].split("\n\n")[0].splitlines()
    [stopped] = [line for line in log if "stopped shaking" in line]
    assert stopped.endswith(
        "Heater-Shaker Module GEN1 in slot 1: stopped shaking (it was set to 2000 rpm) after "
        "the emergency stop")
    assert main(["simulate", str(protocol), "--at", "60:halt", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["final_status"] == "halted"
    [module] = doc["modules"]
    assert module["status"]["rpm"] == 0 and module["status"]["target"] == 37


def test_a_command_a_pause_cut_and_a_stop_ended_is_said_once_each_way(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    _, plain = simulate(tmp_path, capsys)
    aspirate = next(c for c in plain["commands"] if c["type"] == "aspirate")
    cut = (aspirate["started_at"] + aspirate["completed_at"]) / 2
    assert main(["simulate", str(protocol), "-v", f"--at={cut}:pause-immediate",
                 f"--at={cut + 30}:stop"]) == 0
    log = capsys.readouterr().out.split("Run log\n")[1]
    words = "Aspirating 100.0 µL from A1 of Corning 96 Well Plate 360 µL Flat (slot 2)"
    assert log.count(f"  interrupted: {words}\n") == 1  # by the pause
    assert log.count(f"  left unfinished by the stop: {words}\n") == 1  # by the stop
    assert "  cleanup: Dropping tip into the trash\n" in log


def test_a_pause_asked_for_before_the_protocols_own_is_answered_by_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(SWAPPING)
    assert main(["simulate", str(protocol), "--at", "1:pause", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pauses"] == [{"t": doc["pauses"][0]["t"], "source": "protocol",
                              "message": "swap the plate", "also_for": "rehearsal"}]
    assert main(["simulate", str(protocol), "--at", "1:pause"]) == 0
    log = capsys.readouterr().out.splitlines()
    assert any(line.endswith("Paused by the protocol, which also answers the pause "
                             "the rehearsal asked for") for line in log)
    assert main(["simulate", str(protocol), "--at", "1:pause", "-v"]) == 0  # -v says it too
    verbose = capsys.readouterr().out.splitlines()
    assert any(line.endswith("status paused by protocol, which also answers the pause "
                             "the rehearsal asked for") for line in verbose)
    assert main(["simulate", str(protocol), "--json"]) == 0  # the protocol's alone
    assert "also_for" not in json.loads(capsys.readouterr().out)["pauses"][0]


def test_the_protocols_pause_does_not_wait_for_a_rehearsed_pause_it_cannot_take(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A simulated pause continues by itself unless an intervention that acts on a paused
    run is still to come (a resume, a stop, a door...). A rehearsed pause after the end
    once held the protocol's own pause until its instant, stretching the run, and was then
    refused instead of said to be past the end."""
    protocol = tmp_path / "protocol.py"
    protocol, plain = simulated(tmp_path, capsys, SWAPPING)
    end = plain["estimated_duration_s"]
    late = f"--at={end + 1000:g}:pause"
    assert main(["simulate", str(protocol), "--json", late, "--at=1e6:pause-immediate"]) == 0
    captured = capsys.readouterr()
    rehearsed = json.loads(captured.out)
    assert rehearsed["estimated_duration_s"] == end
    assert [p["source"] for p in rehearsed["pauses"]] == ["protocol"]
    ended = f"the run ended first (at {clock(end)}, after {plain['steps']} steps)"
    assert captured.err.splitlines() == [
        f"warning: the rehearsed pause at t={end + 1000:g}s did not happen: {ended}",
        f"warning: the rehearsed pause-immediate at t=1e+06s did not happen: {ended}"]
    # A resume still to come holds the pause until it; a pause before it meets the run
    # paused, and is refused then.
    paused_at = plain["pauses"][0]["t"]
    assert main(["simulate", str(protocol), "--json", f"--at={paused_at + 5:g}:pause",
                 f"--at={paused_at + 60:g}:resume"]) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["estimated_duration_s"] == pytest.approx(end + 60, abs=1e-3)
    assert [(a["action"], a["accepted"]) for a in held["actions"]
            if a["source"] == "rehearsal"] == [("pause", False), ("resume", True)]


def test_a_skip_of_the_delay_waits_for_the_delay_past_the_protocols_own_pause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--at T:skip-delay`` skips the delay that is on at T, even when the protocol pauses
    before it (the pause does not wait for a skip it could not take, which stretched the
    run by T and ran the whole delay); ``--at step=N:skip-delay`` skips step N's delay,
    once it has begun, not as the step begins (where no delay is on yet)."""
    protocol, plain = simulated(tmp_path, capsys, PROTOCOL.replace(
        "    ctx.delay(seconds=120", "    ctx.pause('add the buffer')\n    ctx.delay(seconds=120"))
    delay = next(c for c in plain["commands"] if c["type"] == "delay")
    begins, end = delay["started_at"], plain["estimated_duration_s"]
    assert end == pytest.approx(begins + 120, abs=0.1)

    def skipped(*at: str) -> tuple[float, list[tuple[float, bool]]]:
        assert main(["simulate", str(protocol), "--json", *(f"--at={a}" for a in at)]) == 0
        doc = json.loads(capsys.readouterr().out)
        return doc["estimated_duration_s"], [(a["t"], a["accepted"]) for a in doc["actions"]
                                             if a["action"] == "skip_delay"]

    duration, skips = skipped(f"{begins + 30:g}:skip-delay")
    assert duration == pytest.approx(begins + 30, abs=0.1)
    assert skips == [(pytest.approx(begins + 30, abs=1e-3), True)]
    step = delay["step"] + 1  # as the run log numbers steps
    duration, skips = skipped(f"step={step}:skip-delay")
    assert duration == pytest.approx(begins, abs=0.1)
    assert skips == [(pytest.approx(begins, abs=1e-3), True)]
    # A step with no delay: the skip is refused (as its step ends), nothing is skipped.
    duration, skips = skipped(f"step={step - 1}:skip-delay")
    assert duration == pytest.approx(end, abs=1e-3)
    assert [accepted for _, accepted in skips] == [False]
    # The last step has none either: refused as the run finishes, not said never reached.
    last = plain["steps"]
    assert main(["simulate", str(protocol), "--json", f"--at=step={last}:skip-delay"]) == 0
    captured = capsys.readouterr()
    assert [a["accepted"] for a in json.loads(captured.out)["actions"]
            if a["action"] == "skip_delay"] == [False]
    assert "did not happen" not in captured.err


def test_a_run_stopped_because_nothing_closes_the_door_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), "--at", "2:door-open"]) == 0
    log = capsys.readouterr().out.splitlines()
    assert any(line.endswith("] Run stopped: the door stayed open, with nothing left to "
                             "close it") for line in log), log
    assert main(["simulate", str(protocol), "--at", "2:door-open", "-v"]) == 0
    assert any(line.endswith("] stop from simulate: the door stayed open, with nothing left "
                             "to close it") for line in capsys.readouterr().out.splitlines())
    assert main(["simulate", str(protocol), "--at", "2:door-open", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["final_status"], doc["reason"]) == (
        "stopped", "the door stayed open, with nothing left to close it")
    # Closed, then stopped by a person: no such words, only the line it was at.
    assert main(["simulate", str(protocol), "--at", "2:door-open", "--at", "5:door-close",
                 "--at", "9:stop"]) == 0
    log = capsys.readouterr().out.splitlines()
    assert [line.split("] ", 1)[1] for line in log if "Run stopped" in line] == [
        f"Run stopped: rehearsed stop at {protocol}:9"]


@pytest.mark.parametrize(("at", "status", "reason"), [
    ("step=5:stop", "stopped", "rehearsed stop at {}:9"),  # as the first pick-up begins
    ("step=5:abort", "aborted", "rehearsed abort at {}:9"),
    ("60:stop", "stopped", "rehearsed stop at {}:13"),  # during the delay
])
def test_a_rehearsed_stop_or_abort_names_the_protocol_line_the_run_was_at(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str, status: str,
        reason: str) -> None:
    # Ctrl-C's abort names its line; a rehearsed one said "rehearsed abort", a stop at a
    # step's start nothing: the log's last line was the call before, no line at all.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), f"--at={at}"]) == (0 if status == "stopped" else 1)
    out = capsys.readouterr().out
    said = reason.format(protocol)
    assert f"] Run {status}: {said}\n" in out
    assert f"\nreason:              {said}\n" in out
    _, doc = simulate(tmp_path, capsys, at)
    assert (doc["final_status"], doc["reason"]) == (status, said)


def test_a_rehearsed_halt_names_the_protocol_line_the_run_was_at(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As a stop's and an abort's: "halt from rehearsal" alone said nothing of where.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    assert main(["simulate", str(protocol), "--at=step=5:halt"]) == 1
    log = capsys.readouterr().out.splitlines()
    assert [line.split("] ", 1)[1] for line in log if "from rehearsal" in line] == [
        f"halt from rehearsal: rehearsed halt at {protocol}:9"]
    record = tmp_path / "run.jsonl"
    assert main(["simulate", str(protocol), "--at=step=5:halt", "--record", str(record)]) == 1
    assert [e.get("reason") for e in read_record(record)
            if e["event"] == "action" and e["source"] == "rehearsal"] == [
        f"rehearsed halt at {protocol}:9"]
