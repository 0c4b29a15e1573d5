"""Hardware modules through the protocol API: names, geometry, heights, the example.

Module protocols run on the simulated robot with simulated modules on the virtual
clock; what the modules did is read back from the run record and its summary.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file
from motion_trace import PhysicalTrace, TraceItem, TracingController, follow_record

from engine import commands as c
from engine.run import Run
from hardware.clock import VirtualClock
from hardware.config import config_from_dict, default_config
from hardware.modules import physics
from labrun.cli.rehearsal import Intervention, schedule
from protocol_api import OFF_DECK
from protocol_api.errors import APIVersionError, ProtocolError, UnsupportedAPIError
from protocol_api.execute import continue_when_stalled, create_run, open_context
from protocol_api.modules import (
    HeaterShakerContext,
    MagneticModuleContext,
    ModuleError,
    TemperatureModuleContext,
    ThermocyclerContext,
)
from protocol_api.types import Location, Point

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bead_cleanup.py"


def comment_messages(run: Run) -> list[str]:
    """The messages of the run's comments (its warnings among them), in order."""
    return [e["params"]["message"] for e in run.record.events
            if e["event"] == "command" and e.get("type") == "comment"]


def summary(run: Run) -> dict[str, Any]:
    event = run.record.events[-1]
    assert event["event"] == "summary"
    return event


def module_calls(run: Run, kind: str) -> list[dict[str, Any]]:
    return [e["params"] for e in run.record.events
            if e["event"] == "command" and e["status"] == "queued" and e["type"] == kind]


@pytest.mark.parametrize(("name", "model", "context"), [
    ("magdeck", "magneticModuleV1", MagneticModuleContext),
    ("Magnetic Module GEN2", "magneticModuleV2", MagneticModuleContext),
    ("magneticModuleV2", "magneticModuleV2", MagneticModuleContext),
    ("tempdeck", "temperatureModuleV1", TemperatureModuleContext),
    ("Temperature Module Gen2", "temperatureModuleV2", TemperatureModuleContext),
    ("thermocycler", "thermocyclerModuleV1", ThermocyclerContext),
    ("thermocycler module", "thermocyclerModuleV1", ThermocyclerContext),
    ("thermocyclerModuleV2", "thermocyclerModuleV2", ThermocyclerContext),
    ("heaterShakerModuleV1", "heaterShakerModuleV1", HeaterShakerContext),
])
def test_every_name_and_alias_loads_its_model(name: str, model: str, context: type) -> None:
    with open_context(api_version=(2, 15)) as ctx:
        slot = None if "thermocycler" in name.lower() else 1
        module = ctx.load_module(name, slot)
        assert isinstance(module, context) and module.model == model
        assert ctx.loaded_modules == {int(module.parent): module}
        assert ctx.deck[module.parent] is module


def test_labware_on_a_module_sits_at_the_definitions_offset_turned_round_on_the_right() -> None:
    with open_context(api_version=(2, 15)) as ctx:
        left = ctx.load_module("magnetic module gen2", 1).load_labware(
            "biorad_96_wellplate_200ul_pcr")
        right = ctx.load_module("magnetic module gen2", 3).load_labware(
            "biorad_96_wellplate_200ul_pcr")
        bare = ctx.load_labware("biorad_96_wellplate_200ul_pcr", 2)
        slot = {s: ctx.deck.position_for(s).point for s in ("1", "2", "3")}
        a1 = {name: plate["A1"].bottom().point for name, plate in
              (("left", left), ("right", right), ("bare", bare))}
        in_slot = a1["bare"] - slot["2"]  # the well's place from its slot's origin
        # magneticModuleV2: labwareOffset (-1.175, -0.125, 82.25); slots 3, 6, 9 mirror x
        # and add 0.25 (the OT-2 deck's slotTransforms).
        assert a1["left"] - slot["1"] - in_slot == pytest.approx((-1.175, -0.125, 82.25))
        assert a1["right"] - slot["3"] - in_slot == pytest.approx((1.425, -0.125, 82.25))
        assert ctx.loaded_labwares[1] is left


def test_the_thermocycler_takes_slots_7_8_10_and_11() -> None:
    with open_context(api_version=(2, 15)) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        assert tc.parent == "7" and all(ctx.deck[s] is tc for s in ("7", "8", "10", "11"))
        assert list(ctx.loaded_modules) == [7]
        # As in Opentrons, whose thermocycler has no ``status`` (its block and lid have
        # one each): a protocol that read it ran here and failed on an OT-2
        assert tc.block_temperature_status == "idle"
        with pytest.raises(AttributeError, match="has no attribute 'status'"):
            tc.status  # noqa: B018


@pytest.mark.parametrize(("api", "model", "load_name", "a1_bottom"), [
    # A1.bottom() in Opentrons 8.8.2's simulator. From 2.14 a plate sits into the block by
    # its definition's stackingOffsetWithModule (nest 10.8, biorad 10.75), else 10.7 mm;
    # before 2.14 the GEN2's legacy labware offset (0, 68.06, 98.26) holds it.
    ("2.16", "thermocycler module gen2", "nest_96_wellplate_100ul_pcr_full_skirt",
     (14.38, 324.04, 99.08)),
    ("2.16", "thermocycler module gen2", "biorad_96_wellplate_200ul_pcr", (14.38, 324.04, 99.46)),
    ("2.16", "thermocycler module gen2", "opentrons_96_wellplate_200ul_pcr_full_skirt",
     (14.38, 324.04, 99.31)),
    ("2.16", "thermocycler module", "biorad_96_wellplate_200ul_pcr", (14.38, 337.8, 88.35)),
    ("2.13", "thermocycler module gen2", "nest_96_wellplate_100ul_pcr_full_skirt",
     (14.38, 323.3, 99.18)),
    ("2.13", "thermocycler module", "biorad_96_wellplate_200ul_pcr", (14.38, 337.8, 99.05)),
])
def test_a_plate_in_the_thermocycler_sits_where_opentrons_puts_it(
        api: str, model: str, load_name: str, a1_bottom: tuple[float, float, float]) -> None:
    major, minor = (int(part) for part in api.split("."))
    with open_context(api_version=(major, minor)) as ctx:
        plate = ctx.load_module(model).load_labware(load_name)
        assert tuple(plate["A1"].bottom().point) == pytest.approx(a1_bottom, abs=0.005)


@pytest.mark.parametrize(("api", "model", "load_name", "heights"), [
    # mm above the magnets' home for engage(), engage(offset=-1), engage(offset=2),
    # engage(height_from_base=5), engage(height=8): what Opentrons 8.8.2 does
    ("2.15", "magnetic module gen2", "nest_96_wellplate_100ul_pcr_full_skirt",
     [22.5, 21.5, 24.5, 7.5, None]),
    ("2.15", "magnetic module gen2", "nest_96_wellplate_2ml_deep", [9.3, 8.3, 11.3, 7.5, None]),
    ("2.15", "magnetic module", "nest_96_wellplate_100ul_pcr_full_skirt",
     [22.5, 21.5, None, 7.5, None]),
    ("2.15", "magnetic module", "biorad_96_wellplate_200ul_pcr", [20.5, 19.5, 22.5, 7.5, None]),
    ("2.13", "magnetic module gen2", "nest_96_wellplate_100ul_pcr_full_skirt",
     [10.0, 9.0, 12.0, 7.5, 8.0]),
    ("2.13", "magnetic module gen2", "nest_96_wellplate_2ml_deep", [6.8, 5.8, 8.8, 7.5, 8.0]),
    ("2.13", "magnetic module", "nest_96_wellplate_2ml_deep", [6.8, 6.3, 7.8, 5.0, 4.0]),
    ("2.2", "magnetic module", "nest_96_wellplate_100ul_pcr_full_skirt",
     [10.0, 9.5, 11.0, 5.0, 4.0]),
])
def test_magnet_heights_are_opentrons_by_api_level_model_and_labware(
        tmp_path: Path, api: str, model: str, load_name: str,
        heights: list[float | None]) -> None:
    # From apiLevel 2.14 heights are measured from the labware's bottom and a definition's
    # engage height is mm (but for three version-1 definitions); before, from the
    # magnets' home, in the model's units. None: refused at the call's line.
    calls = ["engage()", "engage(offset=-1)", "engage(offset=2)",
             "engage(height_from_base=5)", "engage(height=8)"]
    got: list[float | None] = []
    for call in calls:
        path = protocol_file(tmp_path, f'mag = ctx.load_module("{model}", 1)\n'
                               f'mag.load_labware("{load_name}")\nmag.{call}', api)
        run = simulate_file(path)
        if summary(run)["status"] != "succeeded":
            assert summary(run)["location"] == f"{path}:7", summary(run)
            got.append(None)
            continue
        [engaged] = module_calls(run, "magneticModule/engage")
        got.append(engaged["height_mm"])
    assert got == heights


def test_the_latch_opens_once_the_shaker_is_deactivated_whatever_the_time(
        tmp_path: Path) -> None:
    # After 31.011 s of shaking the stopped shaker was left at 2e-10 rpm, and the latch
    # refused to open: the run failed with "open_latch: the plate is shaking".
    path = protocol_file(tmp_path, """
hs = ctx.load_module("heaterShakerModuleV1", 1)
hs.close_labware_latch()
hs.set_and_wait_for_shake_speed(500)
ctx.delay(seconds=31.011)
hs.deactivate_shaker()
hs.open_labware_latch()
""")
    run = simulate_file(path)
    assert summary(run)["status"] == "succeeded", summary(run)
    [shaker] = summary(run)["modules"]
    assert (shaker["status"]["rpm"], shaker["status"]["latch"]) == (0, "open")


def test_the_bead_cleanup_example_takes_the_time_of_its_delays_and_modules() -> None:
    run = simulate_file(EXAMPLE)
    result = summary(run)
    assert result["status"] == "succeeded", result
    assert [p["message"] for p in result["pauses"]] == [
        "Add 30 µL of elution buffer to column 1 of the cold block, then resume"]
    modules = {m["kind"]: m for m in result["modules"]}
    assert modules["magnetic"]["slot"] == "1" and modules["magnetic"]["labware"] == "samples"
    assert [t["call"] for t in modules["magnetic"]["timeline"]] == [
        "engage", "disengage", "engage", "disengage"]
    assert [t["call"] for t in modules["temperature"]["timeline"]] == [
        "set_temperature", "deactivate"]
    # Delays: 5 + 2 + 0.5 + 0.5 + 3 + 2 + 1 min; the magnets travel 22.5 mm four times.
    delays = (5 + 2 + 0.5 + 0.5 + 3 + 2 + 1) * 60
    magnets = 4 * 22.5 / physics.MAGNET_SPEED_MM_S
    assert result["duration_s"] > delays + magnets
    # The cold block reached 4 °C while the beads bound and washed: no wait at the pause.
    cooling = (physics.AMBIENT_C - 4) / physics.TEMPERATURE_MODULE.cool_c_per_s
    waits = [e for e in run.engine.entries
             if e.command.kind == "temperatureModule/waitForTemperature"]
    assert len(waits) == 1 and waits[0].completed_at == waits[0].started_at
    assert waits[0].started_at is not None and waits[0].started_at > cooling


def traced(interventions: list[Intervention]) -> tuple[PhysicalTrace, Run]:
    config = default_config()
    clock = VirtualClock()
    trace: list[TraceItem] = []
    controller = TracingController(config, clock, trace=trace)
    run = create_run(EXAMPLE, config=config, controller=controller, clock=clock,
                     on_stalled=continue_when_stalled)
    try:
        follow_record(run, trace)
        schedule(run, interventions)
        run.control.play(source="test")
        run.wait(timeout=120)
    finally:
        run.close()
    return PhysicalTrace(config, trace), run


def test_pauses_during_the_magnet_and_the_delays_change_no_contact_and_move_no_magnet() -> None:
    twin, twin_run = traced([])
    engage = next(e for e in twin_run.engine.entries
                  if e.command.kind == "magneticModule/engage")
    assert engage.started_at is not None
    during_engage = engage.started_at + 0.5  # the magnets are halfway up
    paused, run = traced([
        Intervention(during_engage, None, "pause-immediate"),
        Intervention(during_engage + 60, None, "resume"),
        Intervention(during_engage + 100, None, "door-open"),  # in the 2 min delay
        Intervention(during_engage + 130, None, "door-close"),
        Intervention(during_engage + 131, None, "resume"),
    ])
    result = summary(run)
    assert result["status"] == "succeeded", result
    assert paused.rounded_contacts() == twin.rounded_contacts()
    assert paused.floor_violations(twin) == []
    parks = [e for e in run.record.events if e["event"] == "module_park"]
    unparks = [e for e in run.record.events if e["event"] == "module_unpark"]
    magnet_parks = [e["status"]["height_mm"] for e in parks if e["module"].startswith("magnetic")]
    magnet_unparks = [e["status"]["height_mm"] for e in unparks
                      if e["module"].startswith("magnetic")]
    # The pause waited for the magnets to arrive (the module finishes a move it was sent),
    # and they stayed there through the pause.
    assert magnet_parks[0] == magnet_unparks[0] == 22.5
    assert magnet_parks[1] == magnet_unparks[1] == 22.5  # engaged during the delay
    # The pauses add their length, no more: chemistry (the delays) ran on.
    assert result["duration_s"] == pytest.approx(
        summary(twin_run)["duration_s"] + 60, abs=30)


def test_below_2_14_deleting_a_slot_removes_what_it_held_a_module_from_all_its_slots() -> None:
    with open_context(api_version=(2, 13)) as ctx:
        ctx.load_labware("nest_12_reservoir_15ml", 2)
        tc = ctx.load_module("thermocycler")
        del ctx.deck["2"]
        assert ctx.deck["2"] is None
        del ctx.deck["8"]
        assert all(ctx.deck[s] is None for s in tc.slots)
        assert ctx.loaded_modules == {}
        ctx.load_module("temperature module gen2", 7)  # the slot is free again


def test_below_2_14_loaded_labwares_keeps_a_deleted_labware_until_its_slot_is_reloaded(
) -> None:
    # As Opentrons 8.8.2 there: every labware loaded is listed, in load order by slot; a
    # later load into a slot takes its place, where the first stood in the order. labrun
    # listed only what the deck held, so a deleted rack was gone and its slot's new rack
    # came last.
    with open_context(api_version=(2, 13)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        del ctx.deck[9]
        assert list(ctx.loaded_labwares.items()) == [
            (12, ctx.fixed_trash), (9, tips), (1, plate)]
        small_tips = ctx.load_labware("opentrons_96_tiprack_20ul", 9)
        assert list(ctx.loaded_labwares.items()) == [
            (12, ctx.fixed_trash), (9, small_tips), (1, plate)]


def test_from_2_15_deleting_a_slot_takes_its_labware_off_the_deck_and_keeps_a_module() -> None:
    # As Opentrons 8.8.2: a move OFF_DECK with no pause; a module stays; refused at 2.14.
    with open_context(api_version=(2, 15)) as ctx:
        reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
        tc = ctx.load_module("thermocycler")
        del ctx.deck["2"]
        del ctx.deck["3"]  # nothing there: nothing to do
        assert ctx.deck["2"] is None and reservoir.parent is OFF_DECK
        with pytest.raises(ProtocolError, match=r"^del deck\['8'\]: slot 8 holds Thermocycler "
                           "Module GEN1, a module; a module stays on the deck"):
            del ctx.deck["8"]
        assert ctx.deck["8"] is tc
        assert not any(status == "paused" for status in (
            e.get("status") for e in ctx.run.record.events if e["event"] == "status"))
    with open_context(api_version=(2, 14)) as ctx:
        ctx.load_labware("nest_12_reservoir_15ml", 2)
        with pytest.raises(APIVersionError, match=r"^del deck\[slot\] needs apiLevel 2.15"):
            del ctx.deck["2"]


def test_on_a_robot_a_reading_asks_the_module_in_a_simulation_it_reads_the_target() -> None:
    with open_context(api_version=(2, 15), simulating=False) as ctx:
        temp = ctx.load_module("temperature module gen2", 1)
        temp.start_set_temperature(4)
        assert temp.temperature == physics.AMBIENT_C and temp.status == "cooling"
        ctx.delay(60)
        cooled = physics.AMBIENT_C - 60 * physics.TEMPERATURE_MODULE.cool_c_per_s
        assert temp.temperature == pytest.approx(cooled)
        reads = [e for e in ctx.run.engine.entries if e.command.kind == "module/read"]
        assert len(reads) == 3
    with open_context(api_version=(2, 15)) as ctx:
        temp = ctx.load_module("temperature module gen2", 1)
        temp.start_set_temperature(4)
        # as Opentrons' simulator: a loop polling the temperature ends
        assert temp.temperature == 4 and temp.status == "holding at target"
        assert not [e for e in ctx.run.engine.entries if e.command.kind == "module/read"]


@pytest.mark.parametrize(("api", "body", "error"), [
    ("2.13", "hs.open_labware_latch()\nhs.deactivate_shaker()", "the labware latch is open"),
    ("2.15", "hs.open_labware_latch()\nhs.deactivate_shaker()", "the labware latch is open"),
    ("2.15", "hs.deactivate_shaker()", "the protocol has not closed the labware latch"),
    ("2.13", "hs.deactivate_shaker()", None),
    ("2.15", "hs.close_labware_latch()\nhs.deactivate_shaker()", None),
])
def test_the_shaker_stops_only_with_its_latch_closed(tmp_path: Path, api: str, body: str,
                                                     error: str | None) -> None:
    # The module stops its plate by homing it, which it refuses with the latch open (as
    # Opentrons' simulator does from 2.14, also before any close_labware_latch()); the
    # error names the call's line, and nothing of the call reaches the module.
    path = protocol_file(tmp_path, 'hs = ctx.load_module("heaterShakerModuleV1", 1)\n' + body, api)
    run = simulate_file(path)
    result = summary(run)
    if error is None:
        assert result["status"] == "succeeded", result
        return
    assert result["status"] == "failed"
    assert error in result["error"] and result["location"] == f"{path}:{6 + body.count(chr(10))}"
    assert module_calls(run, "heaterShaker/deactivateShaker") == []


DECK_RULES_SETUP = """
tips = ctx.load_labware("opentrons_96_tiprack_300ul", 9)
p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
m = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
tc = ctx.load_module("thermocycler module gen2")
tc_plate = tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
hs = ctx.load_module("heaterShakerModuleV1", 1)
hs_plate = hs.load_labware("opentrons_96_flat_bottom_adapter_nest_wellplate_200ul_flat")
beside = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
behind = ctx.load_labware("corning_96_wellplate_360ul_flat", 4)
rack_behind = ctx.load_labware("opentrons_96_tiprack_300ul", 5)
tm = ctx.load_module("temperature module gen2", 3)
"""


@pytest.mark.parametrize(("api", "calls", "refused"), [
    # what Opentrons 8.8.2 refuses (the call's line) and accepts, at 2.13 and from 2.14
    ("2.13", "p.move_to(tc_plate['A1'].top())", None),
    ("2.15", "p.move_to(tc_plate['A1'].top())", "its lid is not known to be open (the "
     "protocol has not called open_lid(), though the lid may stand open); open it"),
    ("2.15", "tc.open_lid()\np.move_to(tc_plate['A1'].top())", None),
    ("2.15", "p.move_to(hs_plate['A1'].top())", "before the protocol has closed its labware latch"),
    ("2.13", "hs.open_labware_latch()\np.move_to(beside['A1'].top())", "latch is open"),
    ("2.15", "p.move_to(behind['A1'].top())", None),
    ("2.15", "hs.close_labware_latch()\np.move_to(beside['A1'].top())\n"
             "p.move_to(hs_plate['A1'].top())", None),
    ("2.15", "hs.close_labware_latch()\nhs.set_and_wait_for_shake_speed(500)\n"
             "p.move_to(behind['A1'].top())", "while it shakes"),
    ("2.15", "hs.close_labware_latch()\nm.move_to(beside['A1'].top())",
     "an 8-channel pipette cannot go to the slots left and right"),
    ("2.13", "hs.close_labware_latch()\nm.move_to(behind['A1'].top())", "only to a tip rack"),
    ("2.13", "m.move_to(behind['A1'].top())", "only to a tip rack"),  # whatever the latch
    ("2.15", "m.move_to(behind['A1'].top())", None),  # from 2.14 only once it is closed
    ("2.15", "hs.close_labware_latch()\nm.move_to(rack_behind['A1'].top())", None),
    ("2.15", "hs.wait_for_temperature()", "no target temperature is set"),
    ("2.15", "hs.set_target_temperature(40)\nhs.wait_for_temperature()\n"
             "hs.deactivate_heater()\nhs.wait_for_temperature()", "no target temperature"),
    ("2.15", "tm.await_temperature(None)", "celsius must be a number"),
    # a temperature module's target is rounded to whole degrees, then checked: 99.4 °C is
    # taken (as 99), -9.5 °C is refused (as -10), as in Opentrons 8.8.2
    ("2.15", "tm.set_temperature(99.4)\ntm.await_temperature(98.6)", None),
    ("2.15", "tm.start_set_temperature(-9.5)", "celsius must be between -9 and 99 °C (rounded "
     "to whole degrees), not -9.5"),
    ("2.15", "tm.set_temperature(20)\ntm.await_temperature(99.5)", "between -9 and 99 °C"),
    ("2.13", "tc.set_lid_temperature(36)", None),
    ("2.15", "tc.set_lid_temperature(36)", "must be between 37 and 110 °C"),
    # a heater-shaker below 37 °C: refused until 2.24, taken from 2.25, as in Opentrons
    ("2.24", "hs.set_target_temperature(30)", "must be between 37 and 95 °C"),
    ("2.25", "hs.set_target_temperature(30)\nhs.wait_for_temperature()", None),
    ("2.25", "hs.set_and_wait_for_temperature(-1)", "must be between 0 and 95 °C"),
])
def test_module_deck_rules_and_waits_are_opentrons(tmp_path: Path, api: str, calls: str,
                                                   refused: str | None) -> None:
    setup = DECK_RULES_SETUP.strip()
    path = protocol_file(tmp_path, setup + "\n" + calls, api)
    result = summary(simulate_file(path))
    if refused is None:
        assert result["status"] == "succeeded", result
        return
    last_line = 4 + (setup.count("\n") + 1) + (calls.count("\n") + 1)
    assert result["status"] == "failed" and refused in result["error"], result
    assert result["location"] == f"{path}:{last_line}"



@pytest.mark.parametrize(("calls", "lifted"), [
    # As Opentrons 8.8.2 (its heater-shaker and thermocycler commands): the pipettes are
    # lifted before the plate shakes when the last move went to the heater-shaker's slot
    # or a slot beside, in front of or behind it (or nowhere known yet); before the latch
    # opens only for its slot and the slots left and right; before a lid moves always.
    ("p.move_to(beside['A1'].top())\nhs.set_and_wait_for_shake_speed(500)", [False]),
    ("p.move_to(behind['A1'].top())\nhs.set_and_wait_for_shake_speed(500)", [False]),
    ("p.move_to(rack_behind['A1'].top())\nhs.set_and_wait_for_shake_speed(500)", []),
    ("hs.set_and_wait_for_shake_speed(500)", [False]),
    ("p.move_to(beside['A1'].top())\nhs.open_labware_latch()", [False]),
    ("p.move_to(behind['A1'].top())\nhs.open_labware_latch()", []),
    ("p.move_to(rack_behind['A1'].top())\ntc.open_lid()\ntc.close_lid()", [True, True]),
])
def test_the_pipettes_are_lifted_before_a_module_moves_beside_them(
        tmp_path: Path, calls: str, lifted: list[bool]) -> None:
    setup = DECK_RULES_SETUP.strip() + "\nhs.close_labware_latch()"
    run = simulate_file(protocol_file(tmp_path, setup + "\n" + calls, "2.15"))
    assert summary(run)["status"] == "succeeded"
    kinds = [(e["type"], e["params"]) for e in run.record.events if e["event"] == "command"
             and e["status"] == "queued" and e.get("origin", "protocol") == "protocol"]
    lifts = [params["gantry"] for kind, params in kinds if kind == "liftPipettes"]
    assert lifts == lifted
    if lifted:  # right before the module's command
        index = next(i for i, (kind, _) in enumerate(kinds) if kind == "liftPipettes")
        assert "/" in kinds[index + 1][0]


@pytest.mark.parametrize(("above_lid_mm", "refused"), [(5.0, False), (-5.0, True)])
def test_a_point_over_a_closed_thermocycler_is_refused_only_below_its_lid(
        tmp_path: Path, above_lid_mm: float, refused: bool) -> None:
    # As Opentrons, which checks only moves to the thermocycler's labware: a bare point
    # above the closed lid (a GEN1's: 97.8 + 37.7 mm) was refused here as if in the plate.
    body = (
        "from opentrons import types\n"
        "tips = ctx.load_labware('opentrons_96_tiprack_300ul', 1)\n"
        "p = ctx.load_instrument('p300_single_gen2', 'right', tip_racks=[tips])\n"
        "tc = ctx.load_module('thermocycler')\n"
        "plate = tc.load_labware('nest_96_wellplate_100ul_pcr_full_skirt')\n"
        "tc.close_lid()\np.pick_up_tip()\n"
        "a1 = plate['A1'].top().point\n"
        f"p.move_to(types.Location(types.Point(a1.x, a1.y, {97.8 + 37.7 + above_lid_mm}), "
        "None))")
    result = summary(simulate_file(protocol_file(tmp_path, body, "2.15")))
    if refused:
        assert result["status"] == "failed" and result["error"].startswith(
            "the pipette cannot go to the labware in Thermocycler Module GEN1"), result
    else:
        assert result["status"] == "succeeded", result


MODULE_MOVES_AFTER_A_MODULE_PLATE = [
    "tc.open_lid()\np.aspirate(20, tc_plate['A1'])\ntc.close_lid()",
    "p.aspirate(20, tm.labware['A1'])\ntc.open_lid()",  # last in a plate on another module
    "p.aspirate(20, hs_plate['A1'])\nhs.open_labware_latch()",
    "p.aspirate(20, hs_plate['A1'])\nhs.set_and_wait_for_shake_speed(500)",
]


@pytest.mark.parametrize(("api", "calls"), [
    (api, calls) for api in ("2.0", "2.13", "2.15") for calls in MODULE_MOVES_AFTER_A_MODULE_PLATE
    if api != "2.0" or "hs" not in calls])  # the heater-shaker's calls need 2.13
def test_a_module_moves_after_the_pipette_was_in_a_plate_on_a_module_at_any_level(
        tmp_path: Path, api: str, calls: str) -> None:
    # The usual PCR protocol (fill the plate, close the lid): below 2.14 it failed here
    # on "ModuleContext.parent needs apiLevel 2.14", looking up where the pipette was.
    setup = DECK_RULES_SETUP.strip() + "\nhs.close_labware_latch()"
    if api == "2.0":
        setup = "\n".join(line for line in setup.splitlines() if "hs" not in line)
    body = setup + "\ntm.load_labware('nest_96_wellplate_100ul_pcr_full_skirt')\n" \
        "p.pick_up_tip()\n" + calls
    result = summary(simulate_file(protocol_file(tmp_path, body, api)))
    assert result["status"] == "succeeded", result


@pytest.mark.parametrize("api", ["2.13", "2.15"])
def test_after_the_pipettes_were_lifted_a_step_with_no_location_is_refused(
        tmp_path: Path, api: str) -> None:
    # They are over no well the protocol named (Opentrons refuses it below 2.14, and from
    # 2.14 beside a shaking heater-shaker); a step with a location goes on.
    setup = DECK_RULES_SETUP.strip() + "\nhs.close_labware_latch()\np.pick_up_tip()"
    calls = ("p.aspirate(50, beside['A1'])\nhs.set_and_wait_for_shake_speed(500)\n"
             "hs.deactivate_shaker()\np.dispense(50)")
    path = protocol_file(tmp_path, setup + "\n" + calls, api)
    result = summary(simulate_file(path))
    assert result["status"] == "failed" and "the pipettes have homed since the last move" \
        in result["error"], result
    assert result["location"] == f"{path}:{4 + setup.count(chr(10)) + 1 + 4}"
    given = calls.replace("p.dispense(50)", "p.dispense(50, beside['A1'])")
    ok = protocol_file(tmp_path, setup + "\n" + given, api)
    assert summary(simulate_file(ok))["status"] == "succeeded"


def test_a_heater_shaker_set_below_room_temperature_warns_and_holds_the_room(
        tmp_path: Path) -> None:
    # apiLevel 2.25 takes it, as Opentrons does; the module only heats, so the run log
    # says the plate stays at room temperature, and the wait is over at once.
    path = protocol_file(tmp_path, 'hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                         "hs.set_and_wait_for_temperature(10)", "2.25")
    run = simulate_file(path)
    comments = comment_messages(run)
    assert comments == [
        f"warning: {path}:6: set_and_wait_for_temperature: 10 °C is below room temperature; "
        "the heater-shaker only heats, so the plate stays at room temperature; an OT-2 "
        "waits here for ever, labrun went on with the plate at room temperature"]
    assert summary(run)["status"] == "succeeded"
    assert summary(run)["duration_s"] < 1


def test_await_temperature_waits_for_its_celsius_on_the_way_to_the_target(
        tmp_path: Path) -> None:
    path = protocol_file(tmp_path, """
t = ctx.load_module("temperature module gen2", 3)
t.start_set_temperature(95)
t.await_temperature(50)
ctx.comment("at 50")
t.await_temperature(95)
ctx.comment("at 95")
""", api="2.16")
    run = simulate_file(path)
    comments = {e["params"]["message"]: e["t"] for e in run.record.events
                if e["event"] == "command" and e.get("type") == "comment"}
    ramp = physics.TEMPERATURE_MODULE
    assert comments["at 50"] == pytest.approx((50 - physics.AMBIENT_C) / ramp.heat_c_per_s)
    assert comments["at 95"] == pytest.approx((95 - physics.AMBIENT_C) / ramp.heat_c_per_s)
    waits = [e["params"]["celsius"] for e in run.record.events if e["event"] == "command"
             and e.get("type") == "temperatureModule/waitForTemperature"]
    assert waits == [50.0, 95.0]


def test_await_temperature_with_no_target_warns_that_nothing_is_awaited(
        tmp_path: Path) -> None:
    # An idle module neither heats nor cools: Opentrons' await returns at once, and the
    # plate stays at room temperature while the log said it waited for 4 °C.
    path = protocol_file(tmp_path, """
t = ctx.load_module("temperature module gen2", 3)
t.await_temperature(4)
t.set_temperature(4)
t.await_temperature(4)
""", api="2.15")
    run = simulate_file(path)
    assert comment_messages(run) == [
        f"warning: {path}:6: await_temperature(4): the module has no target temperature, "
        "so it neither heats nor cools and nothing is awaited; labrun went on at once, as "
        "an OT-2 does (set_temperature or start_set_temperature first)"]


def test_await_temperature_beyond_the_target_warns_that_an_ot2_waits_for_ever(
        tmp_path: Path) -> None:
    # Opentrons' module waits while heating until the plate is at 35 °C: never. Once the
    # plate holds at its target, the same call returns at once there, and here no warning.
    path = protocol_file(tmp_path, """
t = ctx.load_module("temperature module gen2", 3)
t.start_set_temperature(30)
t.await_temperature(35)
t.await_temperature(35)
""", api="2.15")
    run = simulate_file(path)
    comments = comment_messages(run)
    assert comments == [
        f"warning: {path}:7: await_temperature(35): the module was on its way to 30 °C only, "
        "so the plate never reaches 35 °C; an OT-2 waits here for ever, labrun went on at "
        "30 °C (await the target, or set 35 °C first)"]
    ramp = physics.TEMPERATURE_MODULE
    assert summary(run)["duration_s"] == pytest.approx(
        (30 - physics.AMBIENT_C) / ramp.heat_c_per_s, abs=1e-3)


def test_temperatures_and_speeds_are_whole_as_opentrons_sends_them(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, """
t = ctx.load_module("temperature module gen2", 3)
t.set_temperature(4.6)
ctx.comment(f"target {t.target}")
t.start_set_temperature(-9)
hs = ctx.load_module("heaterShakerModuleV1", 1)
hs.close_labware_latch()
hs.set_and_wait_for_shake_speed(500.6)
ctx.comment(f"rpm {hs.target_speed}")
""", api="2.16")
    run = simulate_file(path)
    assert run.record.last is not None and run.record.last["status"] == "succeeded"
    queued = [e for e in run.record.events if e["event"] == "command"
              and e["status"] == "queued"]
    targets = [e["params"]["celsius"] for e in queued
               if e["type"] == "temperatureModule/setTargetTemperature"]
    assert targets == [5.0, -9.0]  # Opentrons takes -9 to 99 °C, in whole degrees
    comments = [e["params"]["message"] for e in queued if e["type"] == "comment"]
    assert comments[0] == "target 5.0" and comments[-1] == "rpm 501"
    assert "-9 °C is outside the Temperature Module GEN2's working range" in comments[1]


def test_a_thermocycler_reads_room_temperature_before_any_call() -> None:
    with open_context(api_version=(2, 16)) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        # Opentrons 8.8.2: 23 and 23, both idle
        assert (tc.block_temperature, tc.lid_temperature) == (23.0, 23.0)
        assert (tc.block_temperature_status, tc.lid_temperature_status) == ("idle", "idle")


@pytest.mark.parametrize(("body", "refused"), [
    # what Opentrons 8.8.2 refuses at load (DeckConflictError) and accepts
    ('ctx.load_module("heaterShakerModuleV1", 4)\n'
     'ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", 5)',
     "load_labware: Opentrons 15 Tube Rack with Falcon 15 mL Conical in slot 5 would stand "
     "beside Heater-Shaker Module GEN1 (slot 4), 124.35 mm tall"),
    ('ctx.load_labware("opentrons_15_tuberack_falcon_15ml_conical", 5)\n'
     'ctx.load_module("heaterShakerModuleV1", 4)',
     "load_module: a Heater-Shaker Module GEN1 in slot 4 would stand beside Opentrons 15 "
     "Tube Rack with Falcon 15 mL Conical in slot 5"),
    ('ctx.load_module("heaterShakerModuleV1", 9)', "cannot go in slot 9, in front of the "
                                                   "fixed trash in slot 12"),
    ('ctx.load_module("heaterShakerModuleV1", 11)', "beside Trash Bin in slot 12"),
    ('ctx.load_module("heaterShakerModuleV1", 4)\n'
     'ctx.load_labware("opentrons_96_tiprack_300ul", 5)\n'  # a tip rack that leaves room
     'ctx.load_labware("corning_96_wellplate_360ul_flat", 6)\n'
     'ctx.load_labware("opentrons_24_tuberack_eppendorf_1.5ml_safelock_snapcap", 7)', None),
    # the tip racks let beside it are Opentrons' own (namespace/loadName/version): a
    # custom rack of the same load name, as tall, is held to the height rule
    ('import json\n'
     'rack = json.loads(json.dumps(ctx.load_labware("opentrons_96_tiprack_300ul", 7).definition))\n'
     'rack["namespace"] = "custom_beta"\n'
     'ctx.load_module("heaterShakerModuleV1", 4)\n'
     'ctx.load_labware_from_definition(rack, 5)',
     "load_labware: Opentrons OT-2 96 Tip Rack 300 µL in slot 5 would stand beside "
     "Heater-Shaker Module GEN1 (slot 4), 64.49 mm tall"),
])
def test_a_heater_shaker_has_room_for_its_latch_and_its_screw(
        tmp_path: Path, body: str, refused: str | None) -> None:
    run = simulate_file(protocol_file(tmp_path, body, api="2.16"))
    summary = run.record.last
    assert summary is not None
    if refused is None:
        assert summary["status"] == "succeeded", summary.get("error")
    else:
        assert summary["status"] == "failed" and refused in summary["error"], summary["error"]


def test_in_a_simulation_a_heater_switched_off_reads_room_temperature(tmp_path: Path) -> None:
    # A poll for the cool-down ends at once, as in Opentrons' simulator (23, 23 23, 23),
    # instead of reading the last target for ever.
    path = protocol_file(tmp_path, """
tm = ctx.load_module("temperature module gen2", 1)
tm.set_temperature(4)
tm.deactivate()
n = 0
while tm.temperature < 20 and n < 1000:
    ctx.delay(seconds=60)
    n += 1
ctx.comment(f"polls {n} temp {tm.temperature}")
tc = ctx.load_module("thermocycler module gen2")
tc.set_block_temperature(95)
tc.set_lid_temperature(100)
tc.deactivate_block()
tc.deactivate_lid()
hs = ctx.load_module("heaterShakerModuleV1", 3)
hs.set_and_wait_for_temperature(60)
hs.deactivate_heater()
ctx.comment(f"{tc.block_temperature} {tc.lid_temperature} {hs.current_temperature}")
""", api="2.13")
    run = simulate_file(path)
    comments = [e["params"]["message"] for e in run.record.events if e["event"] == "command"
                and e["status"] == "queued" and e["type"] == "comment"]
    assert comments == ["polls 0 temp 23.0", "23.0 23.0 23.0"]


def test_below_2_14_a_module_s_geometry_says_where_its_labware_goes_and_how_high_it_is(
) -> None:
    """Opentrons' ``module.geometry`` before 2.14 (it was an AttributeError): the offset
    to where a labware on it goes (the slot's transform turns it round on the right), the
    module's top, then the labware's top and the module's height over it."""
    with open_context(api_version=(2, 13)) as ctx:
        left, right = ctx.load_module("magnetic module gen2", 1), ctx.load_module("magdeck", 3)
        geometry = right.geometry
        assert (geometry.model, geometry.load_name, geometry.module_type, geometry.parent) == (
            "magneticModuleV1", "magneticModuleV1", "magneticModuleType", "3")
        assert left.geometry.labware_offset == pytest.approx((-1.175, -0.125, 82.25))
        turned = ctx.load_module("magnetic module gen2", 9).geometry  # the right: mirrored
        assert turned.labware_offset == pytest.approx((1.425, -0.125, 82.25))
        assert geometry.labware is None and geometry.highest_z == pytest.approx(110.152)
        assert geometry.location.point == ctx.deck.position_for("3").point + \
            geometry.labware_offset
        plate = right.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        assert geometry.labware is plate  # the module's, as it is now
        assert geometry.highest_z == pytest.approx(plate.highest_z + 4.052)
        assert repr(geometry) == "Magnetic Module GEN1 on 3"
        cycler = ctx.load_module("thermocycler").geometry
        assert (cycler.covered_slots, cycler.lid_status) == ({7, 8, 10, 11}, "open")
        ctx.loaded_modules[7].close_lid()
        assert cycler.lid_status == "closed"
    with open_context(api_version=(2, 14)) as ctx:
        module = ctx.load_module("magdeck", 3)
        with pytest.raises(UnsupportedAPIError, match=r"^ModuleContext.geometry was removed "
                           r"in apiLevel 2.14; .*use the module's model, type, parent"):
            module.geometry  # noqa: B018


SEMI = """
tc = ctx.load_module("thermocycler", configuration="semi")
plate = tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
beside = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 8)
tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
p300.transfer(10, plate.wells()[0], [plate.columns()[0][1], beside["A1"]])
"""


def test_a_semi_configured_thermocycler_hides_columns_1_and_2_and_frees_slots_8_and_11(
        tmp_path: Path) -> None:
    """As Opentrons (before 2.14): a plate on it starts at column 3 (its first well is A3,
    where the full configuration has A3; A1 is no well of it), and slots 8 and 11 stay
    free. The configuration was taken and ignored: the run pipetted A1 and B1."""
    path = protocol_file(tmp_path, SEMI, api="2.13")
    run = simulate_file(path)
    assert summary(run)["status"] == "succeeded", summary(run)
    wells = [(e.command.kind, e.command.params()["well"]) for e in run.engine.entries
             if e.command.kind in ("aspirate", "dispense")]
    assert wells == [("aspirate", "7/A3"), ("dispense", "7/B3"),
                     ("aspirate", "7/A3"), ("dispense", "8/A1")]
    with open_context(api_version=(2, 13)) as ctx:
        full = ctx.load_module("thermocycler").load_labware(
            "nest_96_wellplate_100ul_pcr_full_skirt")
        a3 = full["A3"].top().point
    with open_context(api_version=(2, 13)) as ctx:
        tc = ctx.load_module("thermocycler", configuration="SEMI")
        plate = tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        assert (len(plate.wells()), plate.wells()[0].well_name) == (80, "A3")
        assert plate["A3"].top().point == a3
        with pytest.raises(KeyError, match="no well 'A1'"):
            plate["A1"]
        assert tc.slots == ("7", "10") and tc.geometry.covered_slots == {7, 10}
        assert tc.geometry.labware_offset == pytest.approx((-23.28, 82.56, 97.8))
        with pytest.raises(ModuleError, match=r"configuration is 'full' or 'semi', not 'half'"):
            ctx.load_module("thermocycler", configuration="half")


def test_the_parent_of_labware_on_a_module_is_the_module() -> None:
    with open_context(api_version=(2, 16)) as ctx:
        mag = ctx.load_module("magdeck", 6)
        plate = mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        assert plate.parent is mag  # Opentrons: plate.parent.engage() engages it
        assert plate["A1"].top().labware.first_parent() == "6"
        hs = ctx.load_module("heaterShakerModuleV1", 1)
        adapter = hs.load_adapter("opentrons_96_pcr_adapter")
        assert adapter.parent is hs
        on_adapter = adapter.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
        assert on_adapter.parent is adapter
        assert on_adapter["A1"].top().labware.first_parent() == "1"


@pytest.mark.parametrize("level", [(2, 13), (2, 14)])
def test_a_block_ramp_is_held_to_what_the_thermocycler_does_from_2_14(
        level: tuple[int, int]) -> None:
    # As Opentrons 8.8.2: heating at most 4.25 °C/s, cooling 2 °C/s, judged from the
    # target set last; before 2.14 (its legacy core) any rate goes.
    with open_context(api_version=level) as ctx:
        tc = ctx.load_module("thermocycler")
        tc.set_block_temperature(20)
        tc.set_block_temperature(95, ramp_rate=4.25)
        tc.set_block_temperature(60, ramp_rate=2)
        if level < (2, 14):
            tc.set_block_temperature(4, ramp_rate=3)
            assert tc.ramp_rate == 3
            return
        with pytest.raises(ModuleError, match=r"at most 2 °C/s cooling \(to 4 °C from 60 °C\)"):
            tc.set_block_temperature(4, ramp_rate=3)
        tc.set_block_temperature(70, ramp_rate=3)  # heating from 60
        assert tc.ramp_rate == 3
        # a profile leaves the block's target as it was (70): 50 °C is cooling from it
        tc.execute_profile([{"temperature": 95, "hold_time_seconds": 1}], 1)
        with pytest.raises(ModuleError, match=r"cooling \(to 50 °C from 70 °C\)"):
            tc.set_block_temperature(50, ramp_rate=3)
        with pytest.raises(ModuleError, match=r"execute_profile: step 1's ramp_rate must be "
                           r"above 0 and at most 4.25 °C/s heating \(to 95 °C from 70 °C\)"):
            tc.execute_profile([{"temperature": 95, "hold_time_seconds": 1, "ramp_rate": 9}], 1)
        tc.deactivate_block()  # no target now: no ramp rate, as in Opentrons
        with pytest.raises(ModuleError, match="the block has no target temperature yet"):
            tc.set_block_temperature(50, ramp_rate=1)


def test_a_refused_module_in_a_thermocyclers_slot_leaves_its_closed_lid_guarded() -> None:
    # The refused load kept its own (lower) top for slot 7: a move into the closed lid
    # was then let through.
    with open_context(api_version=(2, 20)) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        p = ctx.load_instrument("p300_single_gen2", "right")
        tc.close_lid()
        with pytest.raises(ProtocolError, match="slot 7 already holds Thermocycler"):
            ctx.load_module("temperature module gen2", 7)
        origin = ctx.deck.position_for(7).point
        with pytest.raises(ProtocolError, match="while its lid is closed"):
            p.move_to(Location(Point(origin.x + 64, origin.y + 43, 100.0), None))


def test_a_heater_shaker_has_no_deactivate_as_in_opentrons(tmp_path: Path) -> None:
    # Opentrons 8.8.2 has deactivate_shaker and deactivate_heater only: a protocol that
    # calls deactivate() fails on an OT-2, so it fails here, at its line, naming both.
    path = protocol_file(tmp_path, 'hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                         "hs.close_labware_latch()\nhs.deactivate()")
    run = simulate_file(path)
    result = summary(run)
    assert result["status"] == "failed" and result["location"] == f"{path}:7"
    assert result["error"] == (
        "HeaterShakerContext.deactivate: Opentrons' heater-shaker has no deactivate(), so "
        "this protocol would fail on an OT-2; call deactivate_shaker() and "
        "deactivate_heater()")
    with open_context(api_version=(2, 15)) as ctx:
        hs = ctx.load_module("heaterShakerModuleV1", 1)
        assert not hasattr(hs, "deactivate")  # an AttributeError, as in Opentrons
        with pytest.raises(ModuleError):
            hs.deactivate()


def test_a_heater_shaker_wait_below_room_temperature_warns_that_an_ot2_waits_for_ever(
        tmp_path: Path) -> None:
    # Opentrons' module waits while the plate is warmer than its target: for ever, as it
    # only heats; labrun says so at the wait and goes on with the plate at the room's.
    path = protocol_file(tmp_path, 'hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                         "hs.set_target_temperature(15)\nhs.wait_for_temperature()", "2.25")
    run = simulate_file(path)
    assert comment_messages(run)[-1] == (
        f"warning: {path}:7: wait_for_temperature: the plate never cools to 15 °C, below "
        "room temperature, as the heater-shaker only heats; an OT-2 waits here for ever, "
        "labrun went on with the plate at room temperature")
    assert summary(run)["status"] == "succeeded"


@pytest.mark.parametrize(("api", "celsius"), [("2.15", 0), ("2.15", 99), ("2.13", 0)])
def test_a_temperature_module_target_outside_its_working_range_is_warned_of(
        tmp_path: Path, api: str, celsius: float) -> None:
    # Opentrons takes -9 to 99 °C (before 2.14 the firmware clips to them); the module
    # works from 4 to 95 °C, so an OT-2 may wait for ever for a target beyond.
    path = protocol_file(tmp_path, 't = ctx.load_module("temperature module gen2", 3)\n'
                         f"t.set_temperature({celsius})\nt.set_temperature(4)\n"
                         "t.set_temperature(95)", api)
    run = simulate_file(path)
    assert summary(run)["status"] == "succeeded"
    assert [c["celsius"] for c in module_calls(run, "temperatureModule/setTargetTemperature")
            ] == [celsius, 4.0, 95.0]
    assert comment_messages(run) == [
        f"warning: {path}:6: set_temperature: {celsius:g} °C is outside the Temperature "
        "Module GEN2's working range of 4 to 95 °C: the plate may never get there, and an "
        "OT-2 then waits for it for ever; labrun's estimate has it there at the module's "
        "rates"]


def test_a_gen1_block_ramps_at_its_full_rate_as_opentrons_sends_it_no_ramp_rate(
        tmp_path: Path) -> None:
    # Opentrons' GEN1 driver drops the ramp rate (a GEN2's gets it: M104 ... R).
    path = protocol_file(tmp_path, "tc = ctx.load_module('thermocycler')\n"
                         "tc.set_block_temperature(43)\n"
                         'ctx.comment("ramping")\n'
                         "tc.set_block_temperature(63, ramp_rate=0.5)\n"
                         'ctx.comment("there")')
    run = simulate_file(path)
    times = {e["params"]["message"]: e["t"] for e in run.record.events
             if e["event"] == "command" and e.get("type") == "comment"}
    assert times["there"] - times["ramping"] == pytest.approx(
        20 / physics.THERMOCYCLER_BLOCK.heat_c_per_s)
    assert [m for m in comment_messages(run) if m.startswith("warning")] == [
        f"warning: {path}:8: set_block_temperature: a Thermocycler Module GEN1 takes no ramp "
        "rate (Opentrons' driver sends it none): the block ramps at its full rate"]


def test_a_halt_abandons_the_simulated_profile_as_on_a_robot(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, """
tc = ctx.load_module("thermocycler module gen2")
tc.close_lid()
tc.execute_profile([{"temperature": 95, "hold_time_seconds": 30},
                    {"temperature": 55, "hold_time_seconds": 30}], repetitions=20)
""")
    config, clock = default_config(), VirtualClock()
    run = create_run(path, config=config, clock=clock, on_stalled=continue_when_stalled)
    try:
        schedule(run, [Intervention(200.0, None, "halt")])
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    result = summary(run)
    assert result["status"] == "halted"
    halts = [e for e in run.record.events if e["event"] == "module_halt"]
    assert [(e["module"], e["abandoned"]) for e in halts] == [
        ("thermocyclerModuleV2@7", "profile")]
    status = result["modules"][0]["status"]
    assert status["status"] != "running profile" and status["block_target"] in (95, 55)


def test_a_simulation_with_a_robot_file_switches_heaters_off_at_a_stop_as_it_says(
        tmp_path: Path) -> None:
    # `labrun simulate --robot FILE`: the simulated module ends a stopped run as the
    # robot file's module of its kind would, heaters off only where it says so.
    path = protocol_file(tmp_path, """
tc = ctx.load_module("thermocycler module gen2")
t = ctx.load_module("temperature module gen2", 3)
t.set_temperature(30)
tc.set_block_temperature(60)
ctx.delay(minutes=10)
""")
    config = config_from_dict({"modules": {
        "cold": {"kind": "temperature", "port": "/dev/ttyACM0"},
        "cycler": {"kind": "thermocycler", "port": "/dev/ttyACM1",
                   "heaters_off_on_stop": True}}})
    run = create_run(path, config=config, clock=VirtualClock(),
                     on_stalled=continue_when_stalled)
    try:
        schedule(run, [Intervention(300.0, None, "stop")])
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    result = summary(run)
    assert result["status"] == "stopped"
    targets = {m["kind"]: m["status"].get("target", m["status"].get("block_target"))
               for m in result["modules"]}
    assert targets == {"thermocycler": None, "temperature": 30.0}


def test_the_module_models_the_robot_binds_by_are_opentrons_definitions() -> None:
    # The engine binds a load_module by hardware.modules.models, which cannot read the
    # protocol API's definitions: it must say what they say.
    from hardware.modules.models import MODELS
    from protocol_api.modules import module_spec
    from protocol_api.modules.definitions import MODELS as KINDS

    assert sorted(MODELS) == sorted(KINDS)
    for name, model in MODELS.items():
        definition = module_spec(name).definition
        assert (model.kind, model.display_name, sorted(model.compatible_with)) == (
            KINDS[name], definition["displayName"], sorted(definition["compatibleWith"]))


def test_a_profile_step_s_ramp_rate_is_checked_and_said_not_to_be_sent(
        tmp_path: Path) -> None:
    path = protocol_file(tmp_path, 'tc = ctx.load_module("thermocycler module gen2")\n'
                         "tc.set_block_temperature(60)\n"
                         'tc.execute_profile([{"temperature": 70, "hold_time_seconds": 1, '
                         '"ramp_rate": 1}], 1)')
    run = simulate_file(path)
    assert summary(run)["status"] == "succeeded"
    assert comment_messages(run) == [
        f"warning: {path}:7: execute_profile: a step's ramp_rate is checked but not sent: "
        "the block ramps at its full rate (Opentrons sends it to a GEN2)"]


def test_module_numbers_of_other_real_types_are_taken_inside_a_profile() -> None:
    # A profile's temperatures and holds read from a CSV file with numpy arrive as
    # numpy's scalars inside the step dicts: any real number is taken (a Fraction here),
    # and the command holds plain floats.
    with open_context(api_version=(2, 15)) as ctx:
        tc = ctx.load_module("thermocycler")
        tc.set_block_temperature(Fraction(4))
        tc.execute_profile([{"temperature": Fraction(95), "hold_time_seconds": Fraction(30)},
                            {"temperature": Fraction(115, 2), "hold_time_seconds": 30}],
                           repetitions=2, block_max_volume=Fraction(20))
        [profile] = [e.command for e in ctx.run.engine.entries
                     if isinstance(e.command, c.RunProfile)]
        params = profile.params()
        assert params["steps"] == ((95.0, 30.0), (57.5, 30.0))
        assert params["repetitions"] == 2 and params["volume_ul"] == 20.0
        assert {type(number) for step in params["steps"] for number in step} == {float}
        with pytest.raises(ModuleError, match=r"execute_profile: step 1's temperature must "
                           r"be a number of °C, not '95'"):
            tc.execute_profile([{"temperature": "95", "hold_time_seconds": 1}], 1)


def test_a_temperature_just_past_the_limits_is_sent_rounded(tmp_path: Path) -> None:
    """Opentrons 8.8.2 rounds a temperature module's target to whole degrees before it
    checks it against -9 to 99 °C: 99.4 °C and -9.4 °C are taken, as 99 and -9 °C."""
    calls = "tm.set_temperature(99.4)\ntm.start_set_temperature(-9.4)"
    run = simulate_file(protocol_file(tmp_path, DECK_RULES_SETUP.strip() + "\n" + calls, "2.15"))
    assert summary(run)["status"] == "succeeded"
    sent = module_calls(run, "temperatureModule/setTargetTemperature")
    assert [params["celsius"] for params in sent] == [99.0, -9.0]


@pytest.mark.parametrize("api", [(2, 13), (2, 15)])
@pytest.mark.parametrize("deactivate", ["deactivate_block", "deactivate"])
def test_a_thermocyclers_profile_counters_stay_until_the_block_is_deactivated(
        api: tuple[int, int], deactivate: str) -> None:
    """As Opentrons 8.8.2 reports them: no hold time before the block has a target; after
    a profile, its last step and repetition as the current ones, a new block temperature
    keeping them; deactivating the block (or the whole thermocycler) forgets them all."""
    with open_context(api_version=api) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        counters = ("total_step_count", "total_cycle_count", "current_step_index",
                    "current_cycle_index")
        assert tc.hold_time is None
        assert [getattr(tc, name) for name in counters] == [None] * 4
        tc.execute_profile([{"temperature": 95, "hold_time_seconds": 10},
                            {"temperature": 57, "hold_time_seconds": 10},
                            {"temperature": 72, "hold_time_minutes": 0.5}], 2)
        assert [getattr(tc, name) for name in counters] == [3, 2, 3, 2]
        tc.set_block_temperature(4, hold_time_seconds=5)
        assert tc.hold_time == 0
        assert [getattr(tc, name) for name in counters] == [3, 2, 3, 2]
        getattr(tc, deactivate)()
        assert tc.hold_time is None
        assert [getattr(tc, name) for name in counters] == [None] * 4


@pytest.mark.parametrize(("api", "refused"), [("2.13", False), ("2.14", True), ("2.20", True)])
def test_magnet_calibrate_is_gone_from_2_14(tmp_path: Path, api: str, refused: bool) -> None:
    """Opentrons 8.8.2 takes ``MagneticModuleContext.calibrate()`` (doing nothing) below
    apiLevel 2.14 and refuses it from 2.14 (UnsupportedAPIError)."""
    path = protocol_file(tmp_path, 'mag = ctx.load_module("magnetic module gen2", 3)\n'
                                   "mag.calibrate()", api)
    result = summary(simulate_file(path))
    if not refused:
        assert result["status"] == "succeeded", result
        return
    assert result["status"] == "failed" and "calibrate" in result["error"], result
    assert "2.14" in result["error"] and result["location"] == f"{path}:6", result


def test_an_empty_profile_leaves_the_block_at_its_target() -> None:
    """A profile of no steps runs nothing: in Opentrons 8.8.2 the block keeps the target
    set before it (and holds it), rather than being switched off."""
    with open_context(api_version=(2, 13)) as ctx:
        tc = ctx.load_module("thermocycler module gen2")
        tc.set_block_temperature(40)
        tc.execute_profile([], 1)
        assert tc.block_target_temperature == 40
        assert tc.block_temperature_status == "holding at target"
        assert (tc.total_step_count, tc.total_cycle_count) == (0, 1)
