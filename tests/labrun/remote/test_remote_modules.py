"""What the status and the live page say of a run's hardware modules: each one's name,
slot and what it is doing, from the run's record and, while the run goes, from reading
the modules themselves (a plate heating while the protocol waits); the last run's as it
left them once it has ended; nothing for a run that loads none."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import MODULES, QUICK, SHAKEN, SPEED, WAIT, Gates, Served, item, serving

from hardware.config import load_config
from labrun.remote import RunManager, start_server
from labrun.remote.modules import ModuleBoard, lines_of, state_of
from labrun.remote.robots import hardware_robot
from protocol_api.execute import continue_when_stalled, create_run

PCR = '''metadata = {"apiLevel": "2.15"}

def run(ctx):
    tc = ctx.load_module("thermocyclerModuleV2")
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    magnet = ctx.load_module("magnetic module gen2", 6)
    cold = ctx.load_module("temperature module gen2", 3)
    cold.start_set_temperature(4)
    hs.close_labware_latch()
    hs.set_and_wait_for_shake_speed(500)
    tc.close_lid()
    tc.set_lid_temperature(105)
    tc.execute_profile([{"temperature": 95, "hold_time_seconds": 10},
                        {"temperature": 55, "hold_time_seconds": 20}], repetitions=3)
    magnet.engage(height_from_base=5)
'''


@pytest.fixture(scope="module")
def pcr_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("pcr") / "pcr.py"
    path.write_text(PCR, encoding="utf-8")
    run = create_run(path, on_stalled=continue_when_stalled)
    run.control.play(source="simulate")
    run.wait()
    run.close()
    return list(run.record.events)


def said(board: ModuleBoard) -> list[tuple[str, str, str, list[str]]]:
    return [(m["name"], m["slot"], m["state"], m["lines"]) for m in board.fields()]


def test_the_board_says_what_the_record_says_each_module_did(
        pcr_events: list[dict[str, Any]]) -> None:
    board = ModuleBoard("pcr")
    seen: list[list[tuple[str, str, str, list[str]]]] = []
    for event in pcr_events:
        if board.feed([event]):
            seen.append(said(board))
    # Each module appears once loaded, in the order the protocol loaded them.
    assert [name for name, *_ in seen[-1]] == [
        "Thermocycler Module GEN2", "Heater-Shaker Module GEN1", "Magnetic Module GEN2",
        "Temperature Module GEN2"]
    assert [slot for _, slot, *_ in seen[-1]] == ["7", "1", "6", "3"]
    assert board.fields()[0]["covers"] == ["8", "10", "11"]
    # What each call left it doing, as its call ended.
    shown = [line for state in seen for *_, lines in state for line in lines]
    assert "23.0 °C → 4 °C, cooling" in shown
    assert "shaking at 500 rpm, latch closed" in shown
    assert "lid closed, heater 105.0 °C → 105 °C, holding" in shown
    # As the run left them (the summary's): the profile's last step held, the magnets up,
    # the cold block still on its way down (it cools slowly).
    assert seen[-1] == [
        ("Thermocycler Module GEN2", "7", "holding",
         ["block 55.0 °C → 55 °C, holding", "lid closed, heater 105.0 °C → 105 °C, holding"]),
        ("Heater-Shaker Module GEN1", "1", "shaking",
         ["heater 23.0 °C, idle", "shaking at 500 rpm, latch closed"]),
        ("Magnetic Module GEN2", "6", "engaged",
         ["magnets engaged, 7.5 mm above their home, 5 mm above the labware's base"]),
        ("Temperature Module GEN2", "3", "cooling", ["6.1 °C → 4 °C, cooling"])]
    assert board.ended


def test_a_reading_mid_profile_names_its_step_and_cycle_and_an_older_one_is_passed_over(
        pcr_events: list[dict[str, Any]]) -> None:
    board = ModuleBoard("pcr")
    profile = next(i for i, e in enumerate(pcr_events)
                   if e.get("type") == "thermocycler/runProfile")
    board.feed(pcr_events[:profile + 1])
    t = pcr_events[profile]["t"] + 30.0
    reading = {"id": "thermocyclerModuleV2@7", "kind": "thermocycler",
               "model": "thermocyclerModuleV2", "slot": "7", "t": t,
               "status": {"kind": "thermocycler", "status": "running profile", "lid": "closed",
                          "lid_temperature": 105.0, "lid_target": 105.0,
                          "block_temperature": 61.3, "block_target": 55.0,
                          "hold_time_left_s": 18.0, "profile_step": 2, "profile_cycle": 1}}
    assert board.update([reading])
    thermocycler = board.fields()[0]
    assert thermocycler["state"] == "running profile"
    assert thermocycler["lines"] == ["block 61.3 °C → 55 °C, cooling, hold 0:18 left",
                                     "lid closed, heater 105.0 °C → 105 °C, holding",
                                     "profile step 2 of 2, cycle 1 of 3"]
    assert thermocycler["reading"]["profile_cycles"] == 3 and thermocycler["t"] == round(t, 3)
    # A reading taken before what the board has (a batch of events sent after it) is old.
    older = {**reading, "t": t - 1.0, "status": {**reading["status"], "profile_step": 1}}
    assert not board.update([older])
    assert board.fields()[0]["lines"][2] == "profile step 2 of 2, cycle 1 of 3"
    # Once the summary has said how the run left them, a late reading is not news.
    board.feed(pcr_events[profile + 1:])
    assert not board.update([{**reading, "t": t + 1e6}])
    assert board.fields()[0]["state"] == "holding"


@pytest.mark.parametrize(("kind", "reading", "state", "lines"), [
    ("temperature", {"temperature": 37.04, "target": 95.0}, "heating",
     ["37.0 °C → 95 °C, heating"]),
    ("temperature", {"temperature": 23.0, "target": None}, "idle", ["23.0 °C, idle"]),
    ("heater_shaker", {"temperature": 36.8, "target": 37.0, "rpm": 420.0,
                       "target_rpm": 1000.0, "latch": "closed"}, "shaking",
     ["heater 36.8 °C → 37 °C, holding", "shaker 420 rpm → 1000 rpm, latch closed"]),
    ("heater_shaker", {"temperature": 23.0, "target": None, "rpm": 0.0, "target_rpm": 0.0,
                       "latch": "open"}, "idle",
     ["heater 23.0 °C, idle", "not shaking, latch open"]),
    ("thermocycler", {"lid": "in_between", "lid_temperature": 80.0, "lid_target": 105.0,
                      "block_temperature": 4.0, "block_target": 4.0, "hold_time_left_s": 0.0,
                      "profile_step": None, "profile_cycle": None}, "holding",
     ["block 4.0 °C → 4 °C, holding", "lid in between, heater 80.0 °C → 105 °C, heating"]),
    ("magnetic", {"status": "moving", "height_mm": 3.2, "engaged": True}, "moving",
     ["magnets moving, at 3.2 mm above their home"]),
    ("magnetic", {"status": "disengaged", "height_mm": 0.0, "engaged": False}, "disengaged",
     ["magnets disengaged"]),
])
def test_each_kind_in_words(kind: str, reading: dict[str, Any], state: str,
                            lines: list[str]) -> None:
    assert state_of(kind, reading) == state
    assert lines_of(kind, "", reading) == lines


@pytest.fixture(params=["in process", "run worker"])
def served(request: pytest.FixtureRequest, gates: Gates) -> Iterator[Served]:
    """Both ways a server runs its runs (``labrun serve`` runs them in its run worker)."""
    with serving(gates, run_worker=request.param == "run worker") as server:
        yield server


def test_the_status_shows_each_module_as_it_goes_then_as_the_run_left_it(
        served: Served, gates: Gates) -> None:
    c = served.client
    assert c.status()["modules"] == []  # no run yet
    c.queue_item_add(MODULES)
    c.queue_start()
    gates.reached("heating")
    first = c.wait_for(lambda s: [m["state"] for m in s["modules"]] == ["heating", "engaged"],
                       timeout=WAIT)
    temp, magnet = first["modules"]
    assert {k: temp[k] for k in ("id", "kind", "model", "name", "slot")} == {
        "id": "temperatureModuleV2@3", "kind": "temperature", "model": "temperatureModuleV2",
        "name": "Temperature Module GEN2", "slot": "3"}
    assert temp["reading"]["target"] == 95.0
    assert re.fullmatch(r"\d+\.\d °C → 95 °C, heating", temp["lines"][0]), temp["lines"]
    assert (magnet["name"], magnet["slot"]) == ("Magnetic Module GEN2", "6")
    assert magnet["lines"] == [
        "magnets engaged, 7.5 mm above their home, 5 mm above the labware's base"]
    # The protocol waits at its gate, calling nothing; the plate heats on, and the status
    # follows it there (the modules are read while the run goes).
    before = temp["reading"]["temperature"]
    warmer = c.wait_for(lambda s: s["modules"][0]["reading"]["temperature"] > before + 1.0,
                        timeout=WAIT)
    assert warmer["progress"]["step"] == first["progress"]["step"]
    assert warmer["modules"][0]["t"] > temp["t"]
    gates.open("heating")
    c.wait_for_idle(timeout=WAIT)
    after = c.status()  # the last run's, as it left them, until the next starts
    assert after["manager_state"] == "idle" and after["progress"]["status"] == "succeeded"
    assert [(m["slot"], m["state"]) for m in after["modules"]] == [("3", "idle"),
                                                                   ("6", "disengaged")]
    assert after["modules"][0]["lines"][0].endswith(" °C, idle")
    assert after["modules"][1]["lines"] == ["magnets disengaged"]
    # The next run loads no module: it has none.
    c.queue_item_add(QUICK)
    c.queue_start()
    running = c.wait_for(lambda s: s["progress"] is not None
                         and s["progress"]["name"] == "quick.py", timeout=WAIT)
    assert running["modules"] == []
    c.wait_for_idle(timeout=WAIT)
    assert c.status()["modules"] == []


def test_a_run_without_modules_has_none_in_its_status(served: Served) -> None:
    c = served.client
    c.queue_item_add(QUICK)
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    status = c.status()
    assert status["progress"]["status"] == "succeeded" and status["modules"] == []


HOT = item('''
temp = ctx.load_module("temperature module gen2", 3)
temp.start_set_temperature(90)
ctx.delay(minutes=30)
''', "hot.py")
COLD = item('''
temp = ctx.load_module("temperature module gen2", 3)
temp.deactivate()
''', "cold.py")


def test_a_module_an_aborted_run_left_heating_stays_in_the_status(tmp_path: Path) -> None:
    """On a robot whose modules stay connected (emulated here), a run aborted with its
    plate heating to 90 °C leaves it so: the next run, which loads no module, still shows
    it, as that run left it, until a run loads a module in its slot."""
    config = load_config(Path(__file__).parents[3] / "hardware" / "robots"
                         / "modules_example.toml")
    robot = hardware_robot(config, emulate="grbl", speed=SPEED)
    manager = RunManager(robot, emergency_lock_key="EMERGENCY")
    try:
        with start_server(manager) as handle:
            c = Served(handle, robot).client
            c.queue_item_add(HOT)
            c.queue_start()
            c.wait_for(lambda s: [m["state"] for m in s["modules"]] == ["heating"],
                       timeout=WAIT)
            c.re_abort("testing a hot abort")
            c.wait_for_idle(timeout=WAIT)
            c.queue_item_add(QUICK)
            c.queue_start()
            running = c.wait_for(lambda s: s["progress"] is not None
                                 and s["progress"]["name"] == "quick.py", timeout=WAIT)
            [left] = running["modules"]
            assert (left["name"], left["slot"], left["left_by"]) == (
                "Temperature Module GEN2", "3", "hot.py")
            assert left["state"] in ("heating", "holding") and left["reading"]["target"] == 90
            assert left["lines"][-1] == "as hot.py left it (not read since)"
            c.wait_for_idle(timeout=WAIT)
            assert [m["left_by"] for m in c.status()["modules"]] == ["hot.py"]
            c.queue_item_add(COLD)  # loads the module in slot 3: its own, no longer hot.py's
            c.queue_start()
            c.wait_for_idle(timeout=WAIT)
            [own] = c.status()["modules"]
            assert "left_by" not in own and own["state"] == "idle"
            c.queue_item_add(QUICK)  # nothing left doing anything: nothing carried
            c.queue_start()
            c.wait_for_idle(timeout=WAIT)
            assert c.status()["modules"] == []
    finally:
        robot.close()



def test_a_halt_that_stops_a_shaking_plate_is_said_on_its_module_as_it_happens(
        served: Served, gates: Gates) -> None:
    """Halted while its plate shakes at 2000 rpm: the heater-shaker says the halt stopped
    it, from its ``module_halt`` line on (before the summary), and once the run has ended;
    had it failed to stop, its ``failure`` says so there instead."""
    c = served.client
    c.queue_item_add(SHAKEN)
    c.queue_start()
    gates.reached("shaking")
    # the run worker's module state reaches the server a moment after the protocol's call
    c.wait_for(lambda s: bool(s["modules"]) and s["modules"][0]["state"] == "shaking",
               timeout=WAIT)
    assert c.re_halt()["success"]
    gates.open("shaking")
    c.wait_for_idle(timeout=WAIT)
    status = c.status()
    assert status["progress"]["status"] == "halted"
    [shaker] = status["modules"]
    assert (shaker["state"], shaker["lines"]) == (
        "idle", ["heater 23.0 °C, idle", "not shaking, latch closed",
                 "stopped shaking (it was set to 2000 rpm) after the emergency stop"])
    # As it happens: the record up to the summary says it already.
    record = c.history_item_get(status["progress"]["item_uid"])["item"]["record"]
    ending = next(i for i, e in enumerate(record) if e["event"] == "summary")
    board = ModuleBoard("shaken")
    board.feed(record[:ending])
    assert not board.ended and board.fields()[0]["lines"] == shaker["lines"]
    # A plate that did not stop (the module did not answer): said so, shaking as last read.
    board = ModuleBoard("shaken")
    board.feed([{"event": "failure", "error": "the heater-shaker does not answer",
                 "location": "heaterShakerModuleV1@4"} if e["event"] == "module_halt" else e
                for e in record[:ending]])
    assert said(board)[0][2:] == ("shaking", [
        "heater 23.0 °C, idle", "shaking at 2000 rpm, latch closed",
        "not stopped after the emergency stop: the heater-shaker does not answer"])
    # The engine's failure names the slot and what the halt could not do, and says on its
    # own what the card, which is the module, shows: once, not after words of the board's.
    refused = ("could not be stopped at the run's halt: the heater-shaker module "
               "[modules.hs] on /dev/ttyACM1: the module refused 'G28'")
    board = ModuleBoard("shaken")
    board.feed([{"event": "failure", "error": f"the module loaded in slot 4 {refused}",
                 "at_module": refused, "location": "heaterShakerModuleV1@4"}
                if e["event"] == "module_halt" else e for e in record[:ending]])
    assert said(board)[0][3][-1] == (
        "could not be stopped at the run's halt: the heater-shaker module [modules.hs] on "
        "/dev/ttyACM1: the module refused 'G28'")


def test_a_plate_a_pause_stopped_is_said_so_until_a_halt_ends_the_run(
        served: Served, gates: Gates) -> None:
    """Paused, the heater-shaker says the pause stopped it and that it shakes again as
    the run resumes; halted then, no resume follows, and it no longer says so."""
    c = served.client
    c.queue_item_add(SHAKEN)
    c.queue_start()
    gates.reached("shaking")
    assert c.re_pause("immediate")["success"]
    paused = c.wait_for(lambda s: s["run_status"] == "paused" and len(
        s["modules"][0]["lines"]) == 3, timeout=WAIT)
    assert paused["modules"][0]["lines"][1:] == [
        "not shaking, latch closed", "stopped shaking (it was set to 2000 rpm) while the run "
        "is paused; it shakes again as the run resumes"]
    assert c.re_halt()["success"]
    gates.open("shaking")
    c.wait_for_idle(timeout=WAIT)
    status = c.status()
    assert status["modules"][0]["lines"] == ["heater 23.0 °C, idle", "not shaking, latch closed"]
    # From the emergency stop on, before the summary.
    record = c.history_item_get(status["progress"]["item_uid"])["item"]["record"]
    ending = next(i for i, e in enumerate(record) if e["event"] == "summary")
    board = ModuleBoard("shaken")
    board.feed(record[:ending])
    assert not board.ended and board.fields()[0]["lines"] == status["modules"][0]["lines"]


def test_a_profile_a_halt_stops_is_said_so_on_its_thermocycler(served: Served) -> None:
    c = served.client
    c.queue_item_add(item('''
tc = ctx.load_module("thermocyclerModuleV2")
tc.close_lid()
tc.execute_profile([{"temperature": 95, "hold_time_seconds": 600}], repetitions=10,
                   block_max_volume=50)
''', "profile.py"))
    c.queue_start()
    c.wait_for(lambda s: [m["state"] for m in s["modules"]] == ["running profile"],
               timeout=WAIT)
    assert c.re_halt()["success"]
    c.wait_for_idle(timeout=WAIT)
    [thermocycler] = c.status()["modules"]
    assert thermocycler["lines"][-1] == \
        "profile stopped by the halt: the block holds the step it was at"
    assert thermocycler["state"] != "running profile"
