"""What the protocol's apiLevel does not have yet is refused at the call, as Opentrons
refuses it (``APIVersionError``, on its simulator and on the robot); at that level it works.
The levels are Opentrons' (8.8.2), each checked there one below and at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file

from engine import commands as c
from protocol_api import open_context
from protocol_api.errors import APIVersionError, ProtocolError, UnsupportedAPIError
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Point

PLATE = "corning_96_wellplate_360ul_flat"
TIPS = "opentrons_96_tiprack_300ul"

Call = Callable[[Any], object]

GATED: list[tuple[tuple[int, int], str, Call]] = [
    ((2, 5), "ProtocolContext.set_rail_lights", lambda ctx: ctx.set_rail_lights(True)),
    ((2, 5), "ProtocolContext.rail_lights_on", lambda ctx: ctx.rail_lights_on),
    ((2, 14), "ProtocolContext.define_liquid",
     lambda ctx: ctx.define_liquid("water", description=None, display_color=None)),
    ((2, 15), "ProtocolContext.load_adapter",
     lambda ctx: ctx.load_adapter("opentrons_96_pcr_adapter", 4)),
    ((2, 15), "Labware.load_labware",  # stacking: it ran at any apiLevel here
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)
     .load_labware("nest_96_wellplate_100ul_pcr_full_skirt", version=4)),
    ((2, 15), "Labware.load_labware_from_definition",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)
     .load_labware_from_definition(get_definition("nest_96_wellplate_100ul_pcr_full_skirt",
                                                  version=4))),
    ((2, 15), "Labware.is_adapter", lambda ctx: ctx.load_labware(TIPS, 1).is_adapter),
    ((2, 15), "ProtocolContext.load_adapter_from_definition",
     lambda ctx: ctx.load_adapter_from_definition(get_definition("opentrons_96_pcr_adapter"),
                                                  4)),
    ((2, 15), "ModuleContext.load_adapter_from_definition",
     lambda ctx: ctx.load_module("temperature module gen2", 1).load_adapter_from_definition(
         get_definition("opentrons_96_pcr_adapter"))),
    ((2, 1), "ModuleContext.load_labware_by_name",
     lambda ctx: ctx.load_module("temperature module", 1).load_labware_by_name(PLATE)),
    ((2, 7), "InstrumentContext.has_tip",
     lambda ctx: ctx.load_instrument("p300_single_gen2", "left").has_tip),
    ((2, 3), "TemperatureModuleContext.start_set_temperature",
     lambda ctx: ctx.load_module("temperature module", 1).start_set_temperature(20)),
    ((2, 3), "TemperatureModuleContext.await_temperature",
     lambda ctx: ctx.load_module("temperature module", 1).await_temperature(20)),
    ((2, 3), "TemperatureModuleContext.status",
     lambda ctx: ctx.load_module("temperature module", 1).status),
    ((2, 14), "ModuleContext.model", lambda ctx: ctx.load_module("magnetic module", 1).model),
    ((2, 14), "ModuleContext.type", lambda ctx: ctx.load_module("magnetic module", 1).type),
    ((2, 14), "ModuleContext.parent", lambda ctx: ctx.load_module("magnetic module", 1).parent),
    ((2, 14), "ModuleContext.serial_number",
     lambda ctx: ctx.load_module("temperature module", 1).serial_number),
]


@pytest.mark.parametrize(("level", "name", "call"), GATED, ids=[g[1] for g in GATED])
def test_a_part_newer_than_the_api_level_is_refused(level: tuple[int, int], name: str,
                                                     call: Call) -> None:
    before = (level[0], level[1] - 1)
    refusal = (rf"^{name} needs apiLevel {level[0]}\.{level[1]} or later; this protocol's "
               rf"apiLevel is {before[0]}\.{before[1]}$")
    with open_context(api_version=before) as ctx, pytest.raises(APIVersionError,
                                                                match=refusal):
        call(ctx)
    with open_context(api_version=level) as ctx:
        call(ctx)


def test_the_hardware_handle_switches_the_lights_before_set_rail_lights_exists() -> None:
    # Protocols of apiLevel 2.0-2.4 blink the rails through Opentrons' hardware handle.
    with open_context(api_version=(2, 4)) as ctx:
        ctx._hw_manager.hardware.set_lights(rails=True)
        assert ctx._hw_manager.hardware.get_lights() == {"button": True, "rails": True}


@pytest.mark.parametrize("mode", ["transfer", "distribute", "consolidate"])
def test_blowout_location_needs_2_8(mode: str) -> None:
    for level, refused in (((2, 7), True), ((2, 8), False)):
        with open_context(api_version=level) as ctx:
            plate = ctx.load_labware(PLATE, 1)
            p300 = ctx.load_instrument("p300_single_gen2", "left",
                                       tip_racks=[ctx.load_labware(TIPS, 2)])
            call = getattr(p300, mode)
            if refused:
                with pytest.raises(APIVersionError, match=(
                        rf"^{mode}: blowout_location needs apiLevel 2\.8 or later; this "
                        r"protocol's apiLevel is 2\.7$")):
                    call(50, plate["A1"], plate["B1"], blow_out=True, blowout_location="trash")
            else:
                call(50, plate["A1"], plate["B1"], blow_out=True, blowout_location="trash")


@pytest.mark.parametrize(("mode", "location", "many"), [
    ("consolidate", "source well", "sources"),
    ("distribute", "destination well", "destinations"),
])
def test_a_blowout_location_with_several_wells_is_refused(mode: str, location: str,
                                                          many: str) -> None:
    with open_context(api_version=(2, 15)) as ctx:
        plate = ctx.load_labware(PLATE, 1)
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        with pytest.raises(ProtocolError, match=(
                rf"^{mode}: blowout_location cannot be '{location}'; a {mode} has several "
                rf"{many}$")):
            getattr(p300, mode)(50, plate["A1"], plate["B1"], blow_out=True,
                                blowout_location=location)
        assert not p300.has_tip  # refused before the first tip


def test_the_refusal_names_the_protocol_line(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, "\n".join([
        'tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)',
        'p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])',
        "if not p300.has_tip:",
        "    p300.pick_up_tip()",
    ]), api="2.6")
    summary = simulate_file(path).record.last
    assert summary is not None and summary["status"] == "failed"
    assert summary["location"] == f"{path}:7"
    assert summary["error"] == ("InstrumentContext.has_tip needs apiLevel 2.7 or later; this "
                                "protocol's apiLevel is 2.6")


@pytest.mark.parametrize(("level", "call", "refusal"), [
    ("2.22", "r = ctx.robot",
     "ProtocolContext.robot: the robot context is a Flex's; an OT-2 has none"),
    ("2.16", "ctx.load_waste_chute()",
     "ProtocolContext.load_waste_chute: a waste chute is a Flex's; an OT-2 has none (drop "
     "tips into its fixed trash, ctx.fixed_trash)"),
])
def test_what_only_a_flex_has_is_refused_as_a_flexs(tmp_path: Path, level: str, call: str,
                                                      refusal: str) -> None:
    """Opentrons 8.8.2 refuses ``ctx.robot`` on an OT-2 ("The RobotContext is only
    available on Flex robots") and ``load_waste_chute`` too (the OT-2's deck provides no
    waste chute); labrun said they were "not supported by labrun", as if a labrun gap. One
    level below, the level needed is said first, as Opentrons says it."""
    path = protocol_file(tmp_path, call, api=level)
    summary = simulate_file(path).record.last
    assert summary is not None and summary["status"] == "failed"
    assert summary["location"] == f"{path}:5"
    assert summary["error"] == refusal
    major, minor = level.split(".")
    below = f"{major}.{int(minor) - 1}"
    summary = simulate_file(protocol_file(tmp_path, call, api=below)).record.last
    assert summary is not None
    assert summary["error"].endswith(f"needs apiLevel {level} or later; this protocol's "
                                     f"apiLevel is {below}")


def test_reading_a_wells_liquid_says_labrun_does_not_track_it(tmp_path: Path) -> None:
    """Opentrons 8.8.2 has ``Well.current_liquid_height``, ``current_liquid_volume`` and
    ``estimate_liquid_height_after_pipetting`` from apiLevel 2.21 (below, it says they need
    2.21). labrun failed with a bare "'Well' object has no attribute ...", as if misspelt;
    now it says it does not track them, at the protocol's line."""
    path = protocol_file(tmp_path, "\n".join([
        'plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)',
        'plate["A1"].load_liquid(ctx.define_liquid("water"), 100)',
        'print(plate["A1"].current_liquid_volume())',
    ]), api="2.22")
    summary = simulate_file(path).record.last
    assert summary is not None and summary["status"] == "failed"
    assert summary["location"] == f"{path}:7"
    assert summary["error"] == (
        "Well.current_liquid_volume is not supported by labrun; labrun does not track the "
        "liquid in a well for the protocol to read; keep the volumes the protocol loads and "
        "moves in its own variables")


def test_labrun_reads_what_it_gates_for_itself_at_any_level() -> None:
    """The gates are for protocols: labrun's own use of a module's slot, a pipette's tip
    and the lights works at apiLevel 2.0 (the library caught loaded_labwares once)."""
    with open_context(api_version=(2, 0)) as ctx:
        plate = ctx.load_module("magnetic module", 1).load_labware(PLATE)
        assert ctx.loaded_labwares[1] is plate
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        p300.transfer(50, plate["A1"], plate["B1"])
        p300.pick_up_tip()
        p300.transfer(50, plate["A1"], plate["B1"], new_tip="never")


@pytest.mark.parametrize(("level", "kwargs", "refusal"), [
    ((2, 14), {"presses": 1}, r"^pick_up_tip: presses was removed in apiLevel 2\.14; this "
                              r"protocol's apiLevel is 2\.14$"),
    ((2, 14), {"increment": 0}, r"^pick_up_tip: increment was removed in apiLevel 2\.14; "
                                r"this protocol's apiLevel is 2\.14$"),
    ((2, 12), {"prep_after": True}, r"^pick_up_tip: prep_after needs apiLevel 2\.13 or "
                                    r"later; this protocol's apiLevel is 2\.12$"),
])
def test_pick_up_tip_options_by_level(level: tuple[int, int], kwargs: dict[str, Any],
                                      refusal: str) -> None:
    """As Opentrons: presses and increment until 2.13, prep_after from 2.13."""
    with open_context(api_version=level) as ctx:
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        with pytest.raises(ProtocolError, match=refusal):
            p300.pick_up_tip(**kwargs)
        assert not p300.has_tip
    with open_context(api_version=(2, 13)) as ctx:  # each is taken there
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        p300.pick_up_tip(**kwargs)
        assert p300.has_tip


@pytest.mark.parametrize(("kwargs", "refusal"), [
    ({"presses": 2.0}, r"^pick_up_tip: presses must be a whole number \(an int\), not 2\.0$"),
    ({"presses": "2"}, r"^pick_up_tip: presses must be a whole number \(an int\), not '2'$"),
    ({"increment": "1"}, r"^pick_up_tip: increment must be a number of mm, not '1'$"),
])
def test_below_2_14_presses_is_a_whole_number_and_increment_a_number(
        kwargs: dict[str, Any], refusal: str) -> None:
    """At apiLevel 2.13 and below an OT-2 presses into the tip ``presses`` times (an int:
    2.0 fails at the pick-up), each ``increment`` mm deeper, so anything else is refused
    before the pick-up, as Opentrons fails there."""
    with open_context(api_version=(2, 13)) as ctx:
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        with pytest.raises(ProtocolError, match=refusal):
            p300.pick_up_tip(**kwargs)
        p300.pick_up_tip(presses=3, increment=0.5)
        assert p300.has_tip


@pytest.mark.parametrize("value", ["x", 2, 0.5, []])
def test_a_home_after_that_is_no_boolean_is_refused_from_2_14(value: object) -> None:
    """Opentrons' engine (2.14 on) reads home_after as a boolean and refuses what it
    cannot read as one; its legacy core (before 2.14) takes any value."""
    with open_context(api_version=(2, 13)) as ctx:
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        p300.pick_up_tip()
        p300.drop_tip(home_after=value)
        p300.pick_up_tip()
        p300.return_tip(home_after=value)
    with open_context(api_version=(2, 14)) as ctx:
        p300 = ctx.load_instrument("p300_single_gen2", "left",
                                   tip_racks=[ctx.load_labware(TIPS, 2)])
        p300.pick_up_tip()
        for taken in (True, False, None, 1, 0, 1.0, "yes", "False", "0"):  # as Opentrons
            p300.return_tip(home_after=taken)
            p300.pick_up_tip()
        with pytest.raises(ProtocolError) as refused:
            p300.drop_tip(home_after=value)
        assert str(refused.value) == f"drop_tip: home_after must be True or False, not {value!r}"
        assert p300.has_tip  # nothing dropped


def test_move_to_force_direct_is_read_as_opentrons_engine_reads_it_from_2_14() -> None:
    """From 2.14 Opentrons' engine reads force_direct as a boolean: 'false' is False (an
    arc; labrun moved straight, by the word's truth), and 'x', 2 or None are refused.
    Before 2.14 any value is taken by its truth."""
    def moves(level: tuple[int, int], value: object) -> list[bool]:
        with open_context(api_version=level) as ctx:
            plate = ctx.load_labware(PLATE, 2)
            p300 = ctx.load_instrument("p300_single_gen2", "left")
            p300.move_to(plate["A1"].top(), force_direct=value)
            return [cmd.force_direct for cmd in (e.command for e in ctx.run.engine.entries)
                    if isinstance(cmd, c.MoveTo)]

    assert moves((2, 14), "false") == [False] and moves((2, 14), "Yes") == [True]
    assert moves((2, 14), 1) == [True] and moves((2, 13), "false") == [True]
    assert moves((2, 13), None) == [False] and moves((2, 13), "x") == [True]
    for value in ("x", 2, None):
        with open_context(api_version=(2, 14)) as ctx:
            p300 = ctx.load_instrument("p300_single_gen2", "left")
            with pytest.raises(ProtocolError) as refused:
                p300.move_to(ctx.load_labware(PLATE, 2)["A1"].top(), force_direct=value)
            assert str(refused.value) == (f"move_to: force_direct must be True or False, "
                                          f"not {value!r}")


PARAMETERS: list[tuple[tuple[int, int], str, Call]] = [
    ((2, 20), "define_liquid without a description needs apiLevel 2.20",
     lambda ctx: ctx.define_liquid("water", display_color=None)),
    ((2, 20), "define_liquid without a display_color needs apiLevel 2.20",
     lambda ctx: ctx.define_liquid("water", description=None)),
    ((2, 15), "load_labware: adapter needs apiLevel 2.15",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4,
                                  adapter="opentrons_96_pcr_adapter")),
    ((2, 4), "load_module: configuration needs apiLevel 2.4",
     lambda ctx: ctx.load_module("thermocycler", configuration="semi")),
    ((2, 15), "dispense: push_out needs apiLevel 2.15", lambda ctx: _dispense_push_out(ctx)),
    # an adapter's own namespace and version: a TypeError at any level before
    ((2, 26), "load_labware: adapter_version needs apiLevel 2.26",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4,
                                  adapter="opentrons_96_pcr_adapter", adapter_version=1)),
    ((2, 26), "load_labware: adapter_namespace needs apiLevel 2.26",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4,
                                  adapter="opentrons_96_pcr_adapter",
                                  adapter_namespace="opentrons")),
    ((2, 26), "Labware.load_labware: lid_version needs apiLevel 2.26",  # taken, no lid given
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)
     .load_labware("nest_96_wellplate_100ul_pcr_full_skirt", version=4, lid_version=1)),
    # a module's load_labware takes them as the context's does
    ((2, 26), "load_labware: adapter_version needs apiLevel 2.26",
     lambda ctx: ctx.load_module("temperature module gen2", 1)
     .load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt",
                   adapter="opentrons_96_well_aluminum_block", adapter_version=1)),
    ((2, 26), "load_labware: adapter_namespace needs apiLevel 2.26",
     lambda ctx: ctx.load_module("temperature module gen2", 1)
     .load_labware(PLATE, adapter_namespace="opentrons")),
    ((2, 26), "load_labware: lid_namespace needs apiLevel 2.26",
     lambda ctx: ctx.load_module("temperature module gen2", 1)
     .load_labware(PLATE, lid_namespace="opentrons")),
    ((2, 26), "load_labware: lid_version needs apiLevel 2.26",
     lambda ctx: ctx.load_module("temperature module gen2", 1)
     .load_labware(PLATE, lid_version=1)),
]


def _dispense_push_out(ctx: Any) -> None:
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[ctx.load_labware(TIPS, 1)])
    plate = ctx.load_labware(PLATE, 2)
    p300.pick_up_tip()
    p300.aspirate(10, plate["A1"])
    p300.dispense(10, plate["A2"], push_out=1)


@pytest.mark.parametrize(("level", "refusal", "call"), PARAMETERS,
                         ids=[p[1].split(" needs")[0] for p in PARAMETERS])
def test_an_argument_newer_than_the_api_level_is_refused(level: tuple[int, int], refusal: str,
                                                         call: Call) -> None:
    before = (level[0], level[1] - 1)
    with open_context(api_version=before) as ctx, pytest.raises(
            APIVersionError, match=rf"^{refusal} or later; this protocol's apiLevel is "
                                   rf"{before[0]}\.{before[1]}"):
        call(ctx)
    with open_context(api_version=level) as ctx:
        call(ctx)


def test_the_thermocyclers_configuration_ends_at_2_13() -> None:
    with open_context(api_version=(2, 13)) as ctx:
        ctx.load_module("thermocycler", configuration="semi")
    with open_context(api_version=(2, 14)) as ctx, pytest.raises(
            UnsupportedAPIError, match=r"^load_module: configuration was removed in apiLevel "
                                       r"2\.14; this protocol's apiLevel is 2\.14$"):
        ctx.load_module("thermocycler", configuration="semi")


REMOVED: list[tuple[str, Call]] = [
    ("Labware.use_tips", lambda ctx: ctx.load_labware(TIPS, 1).use_tips(ctx.deck["1"]["A1"])),
    ("Labware.previous_tip", lambda ctx: ctx.load_labware(TIPS, 1).previous_tip()),
    ("Labware.return_tips",
     lambda ctx: ctx.load_labware(TIPS, 1).return_tips(ctx.deck["1"]["A1"])),
    ("Well.geometry", lambda ctx: ctx.load_labware(PLATE, 1)["A1"].geometry),
    ("ProtocolContext.max_speeds", lambda ctx: ctx.max_speeds),
]


@pytest.mark.parametrize(("name", "call"), REMOVED, ids=[r[0] for r in REMOVED])
def test_what_opentrons_removed_at_2_14_is_refused_from_there(name: str, call: Call) -> None:
    with open_context(api_version=(2, 14)) as ctx, pytest.raises(
            UnsupportedAPIError, match=rf"^{name} was removed in apiLevel 2\.14; this "
                                       r"protocol's apiLevel is 2\.14; "):
        call(ctx)
    with open_context(api_version=(2, 13)) as ctx:
        try:
            call(ctx)
        except ProtocolError as exc:  # return_tips of a full rack: refused for that reason
            assert "removed" not in str(exc)


@pytest.mark.parametrize(("level", "refused"), [((2, 0), False), ((2, 11), False),
                                                ((2, 13), False), ((2, 14), True),
                                                ((2, 17), True), ((2, 18), False)])
def test_set_offset_is_refused_from_2_14_until_2_18(level: tuple[int, int],
                                                    refused: bool) -> None:
    """As Opentrons: labware offsets come from the app's position check there."""
    with open_context(api_version=level) as ctx:
        plate = ctx.load_labware(PLATE, 1)
        if refused:
            with pytest.raises(APIVersionError, match=r"^Labware\.set_offset needs apiLevel "
                                                      r"2\.18 or later \(or below 2\.14\)"):
                plate.set_offset(1, 2, 3)
        else:
            before = plate["A1"].top().point
            plate.set_offset(1, 2, 3)
            assert plate["A1"].top().point == before + Point(1, 2, 3)


def test_tip_tracking_keeps_its_books_at_every_level() -> None:
    for level in ((2, 13), (2, 14), (2, 20)):
        with open_context(api_version=level) as ctx:
            p300 = ctx.load_instrument("p300_single_gen2", "left",
                                       tip_racks=[ctx.load_labware(TIPS, 1)])
            p300.pick_up_tip()
            p300.drop_tip()
            p300.pick_up_tip()
            assert p300.hw_pipette["has_tip"]
            p300.return_tip()
            p300.pick_up_tip()  # the third tip: the first two are marked used
            assert ctx.deck["1"].next_tip() is ctx.deck["1"]["D1"]


def test_an_adapters_own_version_is_the_one_looked_up_from_2_26() -> None:
    """Opentrons looks the adapter up by ``adapter_version`` from 2.26: one it lacks is
    not found (and ``adapter_version`` without an adapter is taken and means nothing)."""
    with open_context(api_version=(2, 26)) as ctx:
        with pytest.raises(ProtocolError) as refused:
            ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4,
                             adapter="opentrons_96_pcr_adapter", adapter_version=5)
        assert str(refused.value).startswith(
            "no labware 'opentrons_96_pcr_adapter' version 5; labrun has ")
        assert ctx.load_labware(PLATE, 5, adapter_version=1).parent == "5"
        module = ctx.load_module("temperature module gen2", 1)  # a module's, the same
        with pytest.raises(ProtocolError) as refused:
            module.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt",
                                adapter="opentrons_96_well_aluminum_block", adapter_version=7)
        assert str(refused.value).startswith(
            "no labware 'opentrons_96_well_aluminum_block' version 7; labrun has ")
        assert module.labware is None  # nothing loaded
        plate = module.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt",
                                    adapter="opentrons_96_well_aluminum_block",
                                    adapter_namespace="opentrons", adapter_version=1)
        assert plate.parent.load_name == "opentrons_96_well_aluminum_block"


@pytest.mark.parametrize(("level", "name", "refusal", "call"), [
    ((2, 23), "load_labware: lid",
     "load_labware: lid: lids on labware are not supported by labrun",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4,
                                  lid="opentrons_tough_pcr_auto_sealing_lid")),
    ((2, 23), "Labware.load_labware: lid",
     "Labware.load_labware: lid: lids on labware are not supported by labrun",
     lambda ctx: ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 4, version=4)
     .load_labware("nest_96_wellplate_100ul_pcr_full_skirt", version=4,
                   lid="opentrons_tough_pcr_auto_sealing_lid")),
    ((2, 23), "load_labware: lid",
     "load_labware: lid: lids on labware are not supported by labrun",
     lambda ctx: ctx.load_module("temperature module gen2", 1)
     .load_labware(PLATE, lid="opentrons_tough_pcr_auto_sealing_lid")),
    # Opentrons refuses it on an OT-2 even when False
    ((2, 20), "load_instrument: liquid_presence_detection",
     "load_instrument: liquid_presence_detection is a Flex's; an OT-2 pipette has no "
     "pressure sensor (leave it out)",
     lambda ctx: ctx.load_instrument("p20_single_gen2", "left",
                                     liquid_presence_detection=False)),
])
def test_arguments_labrun_does_not_take_say_so_not_a_type_error(
        level: tuple[int, int], name: str, refusal: str, call: Call) -> None:
    """They were TypeErrors ("got an unexpected keyword argument"), as if misspelt: below
    their level they need it, as in Opentrons; from it, the message says why not."""
    before = (level[0], level[1] - 1)
    with open_context(api_version=before) as ctx, pytest.raises(
            APIVersionError, match=rf"^{name} needs apiLevel {level[0]}\.{level[1]} or later"):
        call(ctx)
    with open_context(api_version=level) as ctx, pytest.raises(ProtocolError) as refused:
        call(ctx)
    assert str(refused.value) == refusal


@pytest.mark.parametrize(("level", "name", "get"), [
    ((2, 21), "InstrumentContext.get_minimum_liquid_sense_height",
     lambda ctx: ctx.load_instrument("p300_single_gen2", "left")),
    ((2, 24), "InstrumentContext.transfer_with_liquid_class",
     lambda ctx: ctx.load_instrument("p300_single_gen2", "left")),
    ((2, 27), "ProtocolContext.capture_image", lambda ctx: ctx),
    ((2, 21), "Well.meniscus", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 21), "Well.current_liquid_height", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 21), "Well.current_liquid_volume", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 21), "Well.estimate_liquid_height_after_pipetting",
     lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 24), "Well.volume_from_height", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 24), "Well.height_from_volume", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 27), "Well.has_tracked_liquid", lambda ctx: ctx.load_labware(PLATE, 1)["A1"]),
    ((2, 23), "Labware.load_lid_stack", lambda ctx: ctx.load_labware(PLATE, 1)),
])
def test_what_labrun_lacks_says_opentrons_level_first(level: tuple[int, int], name: str,
                                                      get: Call) -> None:
    """``p.detect_liquid_presence`` at apiLevel 2.0 said "not supported by labrun", where
    Opentrons says it needs 2.20: below the level Opentrons has it from, that is said
    first; from it, that labrun does not support it. ``hasattr`` is False at both."""
    attribute = name.split(".")[1]
    before = (level[0], level[1] - 1)
    with open_context(api_version=before) as ctx:
        owner = get(ctx)
        with pytest.raises(AttributeError) as below:
            getattr(owner, attribute)
        assert str(below.value) == (f"{name} needs apiLevel {level[0]}.{level[1]} or later; "
                                    f"this protocol's apiLevel is {before[0]}.{before[1]}")
        assert not hasattr(owner, attribute)
    with open_context(api_version=level) as ctx:
        owner = get(ctx)
        with pytest.raises(AttributeError, match="not supported by labrun"):
            getattr(owner, attribute)


@pytest.mark.parametrize("name", ["detect_liquid_presence", "require_liquid_presence",
                                  "measure_liquid_height"])
def test_sensing_liquid_is_refused_for_want_of_a_pressure_sensor(name: str) -> None:
    """From apiLevel 2.20 Opentrons 8.8.2 refuses these on an OT-2 because its pipettes
    have no pressure sensor ("Pressure sensor not available for this pipette"); labrun
    said it did not support them, as if a labrun limit. Below 2.20 they need 2.20."""
    with open_context(api_version=(2, 20)) as ctx:
        pipette = ctx.load_instrument("p300_single_gen2", "right")
        with pytest.raises(AttributeError) as refused:
            getattr(pipette, name)
        assert str(refused.value) == (
            f"InstrumentContext.{name}: the right pipette (p300_single_gen2) has no pressure "
            "sensor to sense liquid with, as no OT-2 pipette has")
