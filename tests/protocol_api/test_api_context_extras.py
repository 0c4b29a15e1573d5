"""ProtocolContext: rail lights, the door, max_speeds, commands(), loaded_modules, liquids,
api_version."""

from __future__ import annotations

from typing import Any

import pytest

from engine import commands as c
from protocol_api import open_context
from protocol_api.errors import ProtocolError
from protocol_api.execute import continue_when_stalled
from protocol_api.types import APIVersion


def protocol_commands(ctx: Any) -> list[Any]:
    return [e.command for e in ctx.run.engine.entries if e.origin == "protocol"]


def finish(ctx: Any) -> dict[str, Any]:
    ctx.run.channel.finish()
    ctx.run.wait(timeout=30)
    summary: dict[str, Any] = ctx.run.record.events[-1]
    return summary


def test_door_closed_reads_the_robot_s_door_as_it_is_now() -> None:
    # The protocol thread may read it between two calls while the door opens.
    with open_context(api_version=(2, 5)) as ctx:
        assert ctx.door_closed is True
        ctx.control.set_interlock("door", True)
        assert ctx.door_closed is False
        assert ctx.control.status().status.value == "paused"  # the open door paused it
        ctx.control.set_interlock("door", False)
        assert ctx.door_closed is True
        assert ctx.control.resume().accepted
        ctx.comment("on")
    with open_context(api_version=(2, 4)) as ctx, pytest.raises(
            ProtocolError, match=r"door_closed.*apiLevel 2\.5"):
        ctx.door_closed  # noqa: B018


def test_rail_lights_are_an_instant_reversible_command() -> None:
    with open_context() as ctx:
        assert ctx.rail_lights_on is False
        ctx.set_rail_lights(True)
        assert ctx.rail_lights_on is True
        command = protocol_commands(ctx)[-1]
        assert isinstance(command, c.SetRailLights) and command.on
        assert command.reversible and command.execution is c.Execution.INSTANT
        assert ctx.run.engine.model.rail_lights is True
        ctx.set_rail_lights(False)
        assert ctx.rail_lights_on is False


def test_rail_lights_switched_to_neither_on_nor_off_are_refused_from_2_14() -> None:
    # As Opentrons' engine: None was taken for off, where Opentrons fails at the line.
    with open_context(api_version=(2, 15)) as ctx, pytest.raises(
            ProtocolError, match=r"^set_rail_lights: on must be True or False, not None$"):
        ctx.set_rail_lights(None)
    with open_context(api_version=(2, 13)) as ctx:  # Opentrons' legacy core: bool(on)
        ctx.set_rail_lights(None)
        assert ctx.rail_lights_on is False


def test_rail_lights_take_what_opentrons_engine_reads_as_on_or_off() -> None:
    """From 2.14 Opentrons' engine reads 'yes' as on and 'false' as off (labrun refused
    them), and refuses 'x'; its legacy core took 'false' by its truth, on."""
    with open_context(api_version=(2, 15)) as ctx:
        ctx.set_rail_lights("yes")
        assert ctx.rail_lights_on is True
        ctx.set_rail_lights("false")
        assert ctx.rail_lights_on is False and ctx.run.engine.model.rail_lights is False
        with pytest.raises(ProtocolError, match=r"^set_rail_lights: on must be True or "
                                                r"False, not 'x'$"):
            ctx.set_rail_lights("x")
    with open_context(api_version=(2, 13)) as ctx:
        ctx.set_rail_lights("false")
        assert ctx.rail_lights_on is True


@pytest.mark.parametrize(("given", "lit"), [("on", True), ("Off", False), ("yes", True),
                                           ("0", False), (1, True), (0.0, False)])
def test_rail_lights_take_the_words_of_a_switch_from_2_14(given: object, lit: bool) -> None:
    """Opentrons 8.8.2's engine reads set_rail_lights('on') as on and 'off' as off (the
    words pydantic reads as True or False); labrun refused them, failing a protocol
    Opentrons runs. 2 and ' on' stay refused there, as in Opentrons."""
    with open_context(api_version=(2, 15)) as ctx:
        ctx.set_rail_lights(not lit)
        ctx.set_rail_lights(given)  # type: ignore[arg-type]  # as a protocol may
        assert ctx.rail_lights_on is lit
        assert protocol_commands(ctx)[-1] == c.SetRailLights(lit)
    for refused in (2, " on", "lit"):
        with open_context(api_version=(2, 15)) as ctx, pytest.raises(
                ProtocolError, match=rf"^set_rail_lights: on must be True or False, "
                                     rf"not {refused!r}$"):
            ctx.set_rail_lights(refused)  # type: ignore[arg-type]


MAX_SPEEDS_LEVEL = (2, 13)  # ctx.max_speeds is gone from apiLevel 2.14, as in Opentrons


def move_time(cap: float | None) -> float:
    with open_context(api_version=MAX_SPEEDS_LEVEL) as ctx:
        p = ctx.load_instrument("p300_single_gen2", "left")
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        if cap is not None:
            ctx.max_speeds["X"] = cap
        p.move_to(plate["A1"].top())
        return float(finish(ctx)["duration_s"])


def test_max_speeds_caps_an_axis_and_the_estimate_follows() -> None:
    fast, slow = move_time(None), move_time(20)
    # X travels about 400 mm from home to slot 1: at 20 mm/s that alone takes 20 s.
    assert slow > fast + 10
    assert slow > 400 / 20 * 0.9


def test_max_speeds_is_a_dict_of_axes() -> None:
    with open_context(api_version=MAX_SPEEDS_LEVEL) as ctx:
        speeds = ctx.max_speeds
        speeds["x"] = 100
        speeds["A"] = 50
        assert dict(speeds) == {"X": 100, "A": 50}
        del speeds["X"]
        speeds["A"] = None
        assert dict(speeds) == {}
        assert protocol_commands(ctx)[-1] == c.SetMaxSpeeds(())
        with pytest.raises(ProtocolError, match="'Q' is not an axis"):
            speeds["Q"] = 10
        with pytest.raises(ProtocolError, match="must be a positive speed"):
            speeds["X"] = -1
        with pytest.raises(ProtocolError, match=r"^max_speeds\['X'\] must be a positive "
                                                r"speed in mm/s, not nan"):
            speeds["X"] = float("nan")


def test_commands_is_the_run_log() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        ctx.comment("hello")
        log = ctx.commands()
        assert "Picking up tip from 4/A1" in log
        assert any(line.startswith("Aspirating 50 uL from 1/A1") for line in log)
        assert log[-1] == "hello"
        ctx.clear_commands()
        assert ctx.commands() == []


def test_cleanup_ends_what_commands_records_until_clear_commands() -> None:
    """Opentrons' ``cleanup()`` (it was an AttributeError here) stops ``commands()``
    recording later commands, and ``clear_commands()`` starts it again; the run goes on
    and records every command."""
    with open_context(api_version=(2, 20)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        before = ctx.commands()
        ctx.cleanup()
        p.drop_tip()
        ctx.cleanup()  # again: nothing more
        assert ctx.commands() == before and not p.has_tip
        ctx.clear_commands()
        p.pick_up_tip()
        assert ctx.commands() == ["Picking up tip from 4/B1"]
        assert [type(cmd).__name__ for cmd in protocol_commands(ctx)][-3:] == [
            "PickUpTip", "DropTip", "PickUpTip"]


def test_commands_words_each_context_call_and_keeps_its_message() -> None:
    """ctx.commands() dropped a delay's message ('Delaying for 63 seconds', where
    Opentrons lists 'Delaying for 1 minutes and 3.0 seconds. dmsg'), ended a pause with
    no message on ': ', and listed the rail lights, the speed caps and a liquid loaded as
    labrun's own records read (setRailLights(on=True), ('A1',)): each is now a line of
    words, the messages kept as Opentrons keeps them."""
    with open_context(api_version=(2, 13), on_stalled=continue_when_stalled) as ctx:
        ctx.clear_commands()
        ctx.pause()
        ctx.pause("swap the plate")
        ctx.delay(minutes=1, seconds=3, msg="incubate")
        ctx.delay(1.5)
        ctx.set_rail_lights(True)
        ctx.max_speeds["x"] = 100
        del ctx.max_speeds["X"]
        assert ctx.commands() == [
            "Pausing robot operation", "Pausing robot operation: swap the plate",
            "Delaying for 63 seconds. incubate", "Delaying for 1.5 seconds",
            "Turning the rail lights on", "Capping the speeds: X 100 mm/s",
            "Lifting the caps on the speeds"]
    with open_context(api_version=(2, 14)) as ctx:
        water = ctx.define_liquid("water", "H2O", "#0000ff")
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        ctx.clear_commands()
        plate["A1"].load_liquid(water, 50)
        assert ctx.commands() == ["Loading 50 uL of water into A1"]


def test_loaded_modules_liquids_and_api_version() -> None:
    with open_context(api_version=(2, 14)) as ctx:
        assert ctx.loaded_modules == {}
        assert ctx.api_version == APIVersion(2, 14) and ctx.api_version >= (2, 14)
        assert str(ctx.api_version) == "2.14"
        water = ctx.define_liquid("water", description="H2O", display_color="#0000ff")
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        plate["A1"].load_liquid(water, 200)
        assert plate["A1"].liquid == (water, 200.0)
        assert water.name == "water" and water.display_color == "#0000ff"
        with pytest.raises(ProtocolError, match="load_liquid: volume"):
            plate["A2"].load_liquid(water, -1)


@pytest.mark.parametrize(("call", "message"), [
    (lambda ctx, plate: plate["A1"].load_liquid("water", 50),
     "load_liquid: the liquid must be one ctx.define_liquid made, not 'water'"),
    (lambda ctx, plate: ctx.define_liquid("water", "H2O", display_color="blue"),
     "define_liquid: display_color must be a hex colour such as '#1f77b4' (or None), not "
     "'blue'"),
    (lambda ctx, plate: ctx.define_liquid("water", "H2O", display_color="#12345"),
     "define_liquid: display_color must be a hex colour"),
    (lambda ctx, plate: ctx.define_liquid(7, "H2O", None), "define_liquid: name must be text"),
    (lambda ctx, plate: ctx.define_liquid("water", 3, None),
     "define_liquid: description must be text or None, not 3"),
    (lambda ctx, plate: ctx.comment(5),
     "comment: the message must be text, not 5; write ctx.comment(str(...))"),
])
def test_liquids_and_comments_are_checked_as_opentrons_checks_them(
        call: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info, open_context(api_version=(2, 14)) as ctx:
        for colour in ("#abc", "#abcd", "#0000ff", "#0000ff80", None):  # all taken
            ctx.define_liquid("ok", "fine", display_color=colour)
        call(ctx, ctx.load_labware("corning_96_wellplate_360ul_flat", 1))
    assert str(info.value).startswith(message)


def test_a_comment_of_a_number_is_said_before_apilevel_2_14() -> None:
    with open_context(api_version=(2, 13)) as ctx:
        ctx.comment(5)
        assert ctx.commands()[-1].endswith("5")


def test_a_delay_message_of_a_number_is_text_before_apilevel_2_14() -> None:
    """Opentrons takes ``delay(msg=5)`` below 2.14 and refuses it from there (from 2.14
    labrun refuses it too: test_api_bad_input)."""
    with open_context(api_version=(2, 13)) as ctx:
        ctx.delay(1, msg=5)
        delay = protocol_commands(ctx)[-1]
        assert isinstance(delay, c.Delay) and delay.message == "5"


@pytest.mark.parametrize(("level", "slots"), [((2, 15), [1, 12]), ((2, 16), [1])])
def test_the_fixed_trash_is_loaded_labware_before_2_16(level: tuple[int, int],
                                                        slots: list[int]) -> None:
    # As Opentrons 8.8.2: from 2.16 its fixed trash is a trash bin, not labware.
    with open_context(api_version=level) as ctx:
        ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        assert sorted(ctx.loaded_labwares) == slots


@pytest.mark.parametrize(("level", "in_bin"), [((2, 13), "location"), ((2, 23), None),
                                               ((2, 24), "bin")])
def test_location_cache_reads_as_opentrons_after_the_trash_bin_and_a_drop(
        level: tuple[int, int], in_bin: str | None) -> None:
    """Opentrons 8.8.2's location cache (engine core, apiLevel 2.14 on) is None after a
    tip is dropped (into the trash or a well: a Location given is kept), holds the trash
    bin a pipette went to from 2.24 (None from 2.16 until then), and is kept through
    ctx.home(). labrun gave the trash's well as a Location, and the trash or the tip rack
    after a drop. Below 2.14 it is the last move, as there (the trash is labware)."""
    with open_context(api_version=level) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        if in_bin != "location":
            p.dispense(50, ctx.fixed_trash)
            assert ctx.location_cache is (ctx.fixed_trash if in_bin == "bin" else None)
        p.drop_tip()
        dropped = ctx.location_cache
        p.pick_up_tip()
        p.drop_tip(plate["B1"].top())
        kept = ctx.location_cache
        p.pick_up_tip()
        p.move_to(plate["A2"].top())
        ctx.home()
        homed = ctx.location_cache
        p.return_tip()
        if level < (2, 14):
            assert dropped is not None and dropped.labware.as_well() is ctx.fixed_trash["A1"]
            assert homed is None and ctx.location_cache.labware.as_well() is tips["C1"]
        else:
            assert dropped is None and ctx.location_cache is None
            assert homed == plate["A2"].top()
        assert kept == plate["B1"].top()


def test_newer_names_answer_as_opentrons_or_say_they_are_not_supported() -> None:
    # From a fourth differential round: each raised a bare AttributeError or TypeError.
    with open_context(api_version=(2, 25)) as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
        p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        assert p.current_tip_source_well() is None and ctx.location_cache is None
        p.pick_up_tip(tips["B2"])
        assert p.current_tip_source_well() is tips["B2"]
        p.aspirate(10, plate["A1"])
        cached = ctx.location_cache
        assert cached is not None and cached.labware.as_well() is plate["A1"]
        with pytest.raises(ProtocolError, match="location_cache: setting it is not supported"):
            ctx.location_cache = None
        with pytest.raises(ProtocolError, match=r"^ProtocolContext.capture_image needs "
                           r"apiLevel 2.27 or later; this protocol's apiLevel is 2.25$"):
            ctx.capture_image()  # Opentrons has it from 2.27 (labrun not at all)
        # as Opentrons from 2.23: a lid goes on a labware, never on the deck by itself
        with pytest.raises(ProtocolError, match=r"^corning_96_wellplate_360ul_lid is a lid: "
                           r"from apiLevel 2.23"):
            ctx.load_labware("corning_96_wellplate_360ul_lid", 3)
    with open_context(api_version=(2, 22)) as ctx:
        ctx.load_labware("corning_96_wellplate_360ul_lid", 3)  # still a labware there
        p = ctx.load_instrument("p300_single_gen2", "right")
        with pytest.raises(ProtocolError, match=r"current_tip_source_well needs apiLevel 2.25"):
            p.current_tip_source_well()


def test_flex_labware_that_cannot_sit_in_an_ot2_slot_is_refused_as_opentrons_does() -> None:
    with open_context(api_version=(2, 20)) as ctx:
        with pytest.raises(ProtocolError, match=r"^ev_resin_tips_flex_96_labware cannot sit in "
                           r"a slot by itself"):
            ctx.load_labware("ev_resin_tips_flex_96_labware", 2)
        with pytest.raises(ProtocolError, match=r"^opentrons_1_trash_3200ml_fixed is not "
                           r"allowed in slot 2"):
            ctx.load_labware("opentrons_1_trash_3200ml_fixed", 2)
        ctx.load_labware("opentrons_1_trash_3200ml_fixed", 3)  # the right-hand column
