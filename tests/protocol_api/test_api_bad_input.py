"""Bad input at run time (docs/design.md §10): each mistake fails the run with a message that
names the problem and the protocol ``file:line`` of the offending call, and that call
sends nothing to the robot.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file

from engine import commands as c
from engine.channel import CommandChannel
from engine.run import Run
from engine.state import StepInfo
from hardware.config import default_config
from hardware.frozen import replace
from protocol_api.execute import continue_when_stalled, create_run, open_context
from protocol_api.labware_definitions import get_definition
from protocol_api.steps import FINITE

HEADER = '''metadata = {"apiLevel": "2.18"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    small_tips = ctx.load_labware("opentrons_96_tiprack_20ul", 5)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
'''
BAD_LINE = 10  # the line of the last statement of every body below


def simulate(tmp_path: Path, body: str) -> tuple[Path, Run, dict[str, Any]]:
    path = tmp_path / "protocol.py"
    text = HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    path.write_text(text)
    assert len(text.splitlines()) == BAD_LINE
    run = simulate_file(path)
    summary = run.record.events[-1]
    assert summary["event"] == "summary"
    return path, run, summary


CASES: list[tuple[str, str, str]] = [
    ("unknown labware", 'pass\nctx.load_labware("corning_96_wellplate_360ul_fla", 2)',
     "no labware definition named 'corning_96_wellplate_360ul_fla'; did you mean "
     "'corning_96_wellplate_360ul_flat'?"),
    # Opentrons takes a load name in any case but finds none with spaces around it; labrun
    # took it, so the protocol failed only on the robot.
    ("a load name with a space in front",
     'pass\nctx.load_labware(" corning_96_wellplate_360ul_flat", 2)',
     "no labware definition named ' corning_96_wellplate_360ul_flat': the load name has "
     "spaces around it (Opentrons finds none either); did you mean "
     "'corning_96_wellplate_360ul_flat'?"),
    ("unknown instrument", 'pass\nctx.load_instrument("p300_single_gen3", "right")',
     "unknown instrument 'p300_single_gen3'; did you mean 'p300_single_gen2'? the OT-2 "
     "pipettes are p10_single, p10_multi, "),
    ("a pause message that is not text", "pass\nctx.pause(5)",  # as Opentrons from 2.14
     "pause: the message must be text or None, not 5; write ctx.pause(str(...))"),
    ("a delay message that is not text", "pass\nctx.delay(1, msg=5)",  # as Opentrons from 2.14
     "delay: the message must be text or None, not 5; write msg=str(...)"),
    # Opentrons' engine (apiLevel 2.14 on) refuses a home_after it cannot read as a boolean
    ("a home_after that is no boolean", "p300.pick_up_tip()\np300.drop_tip(home_after='x')",
     "drop_tip: home_after must be True or False, not 'x'"),
    ("a home_after of 2", "p300.pick_up_tip()\np300.return_tip(home_after=2)",
     "return_tip: home_after must be True or False, not 2"),
    ("a Flex pipette", 'pass\nctx.load_instrument("flex_8channel_1000", "right")',
     "unknown instrument 'flex_8channel_1000'; the OT-2 pipettes are p10_single"),
    ("unknown mount", 'pass\nctx.load_instrument("p20_single_gen2", "middle")',
     "no mount 'middle'; mounts are 'left' and 'right'"),
    # Opentrons takes a mount in any case but not " left"; labrun took it
    ("a mount with a space in front", 'pass\nctx.load_instrument("p20_single_gen2", " right")',
     "no mount ' right': it has spaces around it (Opentrons refuses it); did you mean "
     "'right'?"),
    ("mount already used", 'pass\nctx.load_instrument("p20_single_gen2", "left")',
     "the left mount already has a p300_single_gen2; pass replace=True to replace it"),
    ("replacing a pipette that holds a tip",
     'p300.pick_up_tip()\nctx.load_instrument("p20_single_gen2", "left", replace=True)',
     "the p300_single_gen2 on the left mount holds a tip; drop it (drop_tip() or "
     "return_tip()) before replacing the pipette"),
    ("a call of a replaced pipette",  # its commands would move the new one
     'ctx.load_instrument("p20_single_gen2", "left", replace=True)\np300.pick_up_tip()',
     "this p300_single_gen2 on the left mount was replaced by the p20_single_gen2 "
     "(load_instrument(..., replace=True)); call the pipette that call returned"),
    ("an int beyond any float, set as a flow rate", "pass\np300.flow_rate.aspirate = 10**400",
     "a number is too large to compute with (int too large to convert to float)"),
    ("a label that is not text",  # it would be said in the log, and fail a later print
     'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 2, label=["a"])',
     "label must be text or None, not ['a']"),
    ("a replaced pipette's tip racks reset",  # they may be the new pipette's
     'ctx.load_instrument("p300_single_gen2", "left", replace=True)\np300.reset_tipracks()',
     "this p300_single_gen2 on the left mount was replaced by another p300_single_gen2 "
     "(load_instrument(..., replace=True)); call the pipette that call returned"),
    ("occupied slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 1)',
     "slot 1 already holds Corning 96 Well Plate 360 µL Flat"),
    ("invalid slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 13)',
     "no slot '13' on this deck; slots are 1-11 and the fixed trash in 12"),
    ("a module given as the slot",
     'm = ctx.load_module("temperature module gen2", 3)\n'
     'ctx.load_labware("corning_96_wellplate_360ul_flat", m)',
     "load_labware: a slot is a number or a slot's name, not TemperatureModuleContext at "
     "Temperature Module GEN2 on 3 lw None; to load onto it, call its own load_labware"),
    ("a labware given as the slot",
     'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", plate)',
     "load_labware: a slot is a number or a slot's name, not Corning 96 Well Plate 360 µL "
     "Flat; to load onto it, call its own load_labware"),
    ("fixed trash slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 12)',
     "slot 12 already holds Trash Bin"),  # from 2.16, as the log names it
    ("well that does not exist", 'p300.pick_up_tip()\np300.aspirate(10, plate["Z1"])',
     "corning_96_wellplate_360ul_flat in slot 1 has no well 'Z1' (wells are A1..H12)"),
    # A list of wells where one is expected printed every well: a line of 96 of them.
    ("a plate's wells given as the location",
     'p300.pick_up_tip()\np300.blow_out(plate.wells())',
     "blow_out: expected a Location or a Well, not a list of 96 (A1 of Corning 96 Well "
     "Plate 360 µL Flat on slot 1 ... H12 of Corning 96 Well Plate 360 µL Flat on slot 1)"),
    ("a point given as the location",  # short: as written, not "a tuple of 3 (1 ... 3)"
     'p300.pick_up_tip()\np300.blow_out((1, 2, 3))',
     "blow_out: expected a Location or a Well, not (1, 2, 3)"),
    ("a column given as the volume", 'p300.pick_up_tip()\np300.aspirate(plate.columns()[0])',
     "aspirate: volume must be a number of µL, not a list of 8 (A1 of Corning 96 Well "
     "Plate 360 µL Flat on slot 1 ... H1 of Corning 96 Well Plate 360 µL Flat on slot 1)"),
    ("negative volume", 'p300.pick_up_tip()\np300.aspirate(-5, plate["A1"])',
     "aspirate: volume -5 µL is negative"),
    ("volume over the pipette max", 'p300.pick_up_tip()\np300.aspirate(301, plate["A1"])',
     "aspirate: 301 µL would put 301 µL in the tip; the p300_single_gen2 with this tip "
     "holds at most 300 µL"),
    # a hair over what is left (2e-7 µL): said to the digit, not "300 µL would put 300 µL"
    ("volume just over the pipette max",
     'p300.pick_up_tip(); p300.aspirate(100, plate["A1"])\np300.aspirate(200.0000002)',
     "aspirate: 200.0000002 µL would put 300.0000002 µL in the tip; the p300_single_gen2 "
     "with this tip holds at most 300 µL"),
    ("volume over the tip max",
     'p300.pick_up_tip(small_tips["A1"])\np300.aspirate(25, plate["A1"])',
     "aspirate: 25 µL would put 25 µL in the tip; the p300_single_gen2 with this tip holds "
     "at most 20 µL"),
    ("aspirating with no tip", 'pass\np300.aspirate(10, plate["A1"])',
     "aspirate: the left pipette (p300_single_gen2) has no tip; call pick_up_tip() first"),
    ("picking up a tip while holding one", "p300.pick_up_tip()\np300.pick_up_tip()",
     "pick_up_tip: the left pipette already holds a tip; drop or return it first"),
    # A column of a tip rack, given to a multi-channel, read "[A3 of ..., B3 of ...] is not
    # a well of a tip rack": wells of a tip rack, each of them.
    ("a multi-channel given a tip rack's column",
     'm300 = ctx.load_instrument("p300_multi_gen2", "right", tip_racks=[tips])\n'
     "m300.pick_up_tip(tips.columns()[2])",
     "pick_up_tip: give one well of a tip rack; a multi-channel takes the tips below the "
     "well it is given: give A3, not a list of 8"),
    ("a single-channel given a list of one tip", "pass\np300.pick_up_tip(tips.rows()[0][3:4])",
     "pick_up_tip: give one well of a tip rack, such as A4, not a list of 1"),
    # A list of a plate's wells suggested "give A1" of the plate, which holds no tips.
    ("a multi-channel given a plate's column",
     'm300 = ctx.load_instrument("p300_multi_gen2", "right", tip_racks=[tips])\n'
     "m300.pick_up_tip(plate.columns()[0])",
     "pick_up_tip: corning_96_wellplate_360ul_flat in slot 1 is not a tip rack; give one "
     "well of a tip rack, not a list of 8 wells of corning_96_wellplate_360ul_flat"),
    ("empty tip rack",
     "[(p300.pick_up_tip(), p300.drop_tip()) for _ in range(96)]\np300.pick_up_tip()",
     "pick_up_tip: out of tips; every tip in opentrons_96_tiprack_300ul in slot 4 has been "
     "used"),
    # Given the rack, it named only the rack's display name: which of two alike ran out?
    ("empty tip rack given to pick_up_tip",
     "[(p300.pick_up_tip(tips), p300.drop_tip()) for _ in range(96)]\np300.pick_up_tip(tips)",
     "pick_up_tip: out of tips; every tip in opentrons_96_tiprack_300ul in slot 4 has been "
     "used"),
    ("empty tip rack from a starting tip",  # it named the rack twice, "... on in ..."
     'p300.starting_tip = tips["H12"]; p300.pick_up_tip(); p300.drop_tip()\np300.pick_up_tip()',
     "pick_up_tip: out of tips; every tip from the starting_tip H12 on in "
     "opentrons_96_tiprack_300ul in slot 4 has been used"),
    # A single-channel took one tip of the rack and a multi the eleven full columns: it
    # said "every tip ... has been used" with seven tips in the rack (Opentrons' multi
    # takes only a column with all eight).
    ("a multi with single tips left but no full column",
     'm300 = ctx.load_instrument("p300_multi_gen2", "right", tip_racks=[tips]); '
     "p300.pick_up_tip(); p300.drop_tip(); "
     "[(m300.pick_up_tip(), m300.drop_tip()) for _ in range(11)]\nm300.pick_up_tip()",
     "pick_up_tip: out of tips for this 8-channel pipette; no column in "
     "opentrons_96_tiprack_300ul in slot 4 still holds 8 unused tips (it takes a whole "
     "column), though 7 single tip(s) are left"),
    # The refusal named the aspirate that mix starts with, not the mix the protocol called.
    ("a mix at a plate, not a well", 'p300.pick_up_tip()\np300.mix(2, 50, plate)',
     "mix: expected a Location or a Well, not Corning 96 Well Plate 360 µL Flat"),
    ("an unknown module", 'pass\nctx.load_module("magdek", 3)',
     "load_module: 'magdek' is not a module labrun knows; did you mean 'magdeck'? Use a "
     "model, as it is written (temperatureModuleV1, "),
    ("a module name Opentrons refuses (no 'gen1' aliases)",
     'pass\nctx.load_module("temperature module gen1", 3)',
     "load_module: 'temperature module gen1' is not a module labrun knows; did you mean "
     "'temperature module gen2' or 'temperature module'?"),
    ("the heater-shaker by anything but its model",
     'pass\nctx.load_module("heater shaker", 3)',
     "load_module: 'heater shaker' is not a module labrun knows; did you mean "
     "'heaterShakerModuleV1'? Use a model, as it is written"),
    ("a model name in the wrong case", 'pass\nctx.load_module("temperaturemodulev2", 3)',
     "load_module: 'temperaturemodulev2' is not a module labrun knows; did you mean "
     "'temperatureModuleV2'"),
    ("a module in a slot it cannot use", 'pass\nctx.load_module("thermocycler", 3)',
     "load_module: a Thermocycler Module GEN1 cannot go in slot 3; it fits in slot 7"),
    ("a module in an occupied slot", 'pass\nctx.load_module("magnetic module gen2", 1)',
     "slot 1 already holds Corning 96 Well Plate 360 µL Flat"),
    ("a thermocycler over a taken slot", 'ctx.load_labware("nest_12_reservoir_15ml", 10)\n'
     'ctx.load_module("thermocyclerModuleV2")',
     "slot 10 already holds NEST 12 Well Reservoir 15 mL"),
    ("a module next to a heater-shaker", 'ctx.load_module("heaterShakerModuleV1", 3)\n'
     'ctx.load_module("temperature module gen2", 6)',
     "load_module: a Temperature Module GEN2 in slot 6 would stand next to Heater-Shaker"),
    # The simulated module starts with its latch shut, which the closing lines show: the
    # refusal says it is the protocol that has not closed it.
    ("shaking with the latch not closed", 'hs = ctx.load_module("heaterShakerModuleV1", 3)\n'
     'hs.set_and_wait_for_shake_speed(500)',
     "set_and_wait_for_shake_speed: the labware latch must be closed with "
     "close_labware_latch() before the plate shakes: the protocol has not closed it"),
    ("a magnet height out of range", 'mag = ctx.load_module("magnetic module gen2", 3)\n'
     'mag.engage(height_from_base=30)',
     "engage: height_from_base 30 mm is outside the Magnetic Module GEN2's range of -2.5 to "
     "22.5 mm above the labware's base"),
    ("a magnet height from home after apiLevel 2.13", 'mag = ctx.load_module("magnetic module '
     'gen2", 3)\nmag.engage(height=10)', "engage: the height parameter was removed in apiLevel "
     "2.14; use height_from_base or offset"),
    ("engaging with no labware", 'mag = ctx.load_module("magnetic module gen2", 3)\n'
     'mag.engage()', "engage: no labware is loaded on it; give height_from_base"),
    ("a temperature out of range", 'temp = ctx.load_module("temperature module gen2", 3)\n'
     'temp.set_temperature(100)',
     "set_temperature: celsius must be between -9 and 99 °C (rounded to whole degrees), "
     "not 100"),
    ("pipetting into a closed thermocycler",
     'tc = ctx.load_module("thermocycler"); pcr = tc.load_labware('
     '"nest_96_wellplate_100ul_pcr_full_skirt"); tc.close_lid(); p300.pick_up_tip()\n'
     'p300.aspirate(10, pcr["A1"])',
     "the pipette cannot go to the labware in Thermocycler Module GEN1 (slot 7) while its lid "
     "is closed"),
    ("moving next to a shaking heater-shaker",
     'hs = ctx.load_module("heaterShakerModuleV1", 3); hs.close_labware_latch(); '
     'hs.set_and_wait_for_shake_speed(500); r = ctx.load_labware("nest_12_reservoir_15ml", 2); '
     'p300.pick_up_tip()\np300.aspirate(10, r["A1"])',
     "the pipette cannot go to or next to Heater-Shaker Module GEN1 (slot 3) while it shakes"),
    ("opening the latch of a shaking heater-shaker",
     'hs = ctx.load_module("heaterShakerModuleV1", 3); hs.close_labware_latch(); '
     'hs.set_and_wait_for_shake_speed(500)\nhs.open_labware_latch()',
     "open_labware_latch: the plate is shaking"),
    ("a block ramp with no target set before it", 'tc = ctx.load_module("thermocycler")\n'
     'tc.set_block_temperature(4, ramp_rate=1)',
     "set_block_temperature: ramp_rate: the block has no target temperature yet (none set, "
     "or deactivated since), and from apiLevel 2.14 Opentrons takes a ramp rate only from "
     "one: set the temperature once without a ramp_rate first"),
    ("a profile step with no hold time", 'tc = ctx.load_module("thermocycler")\n'
     'tc.execute_profile([{"temperature": 95}], 2)',
     "execute_profile: step 1 must give hold_time_seconds or hold_time_minutes"),
    ("a partial layout below apiLevel 2.20", "from opentrons import protocol_api\n"
     'p300.configure_nozzle_layout(protocol_api.SINGLE, start="A1")',
     "configure_nozzle_layout: the SINGLE layout needs apiLevel 2.20 or later; this "
     "protocol's apiLevel is 2.18"),
    ("a nozzle layout named by a string", 'pass\np300.configure_nozzle_layout("SINGLE")',
     "configure_nozzle_layout: style must be one of opentrons.protocol_api's SINGLE, "
     "PARTIAL_COLUMN or ALL, not 'SINGLE'"),
    # Names labrun does not support, at a level below Opentrons' for them: the level
    # first, as Opentrons says it (test_api_level: at it, "not supported by labrun").
    ("a liquid-class transfer (apiLevel 2.24 on)",
     'pass\np300.transfer_with_liquid_class(None, 50, plate["A1"], plate["A2"])',
     "InstrumentContext.transfer_with_liquid_class needs apiLevel 2.24 or later; this "
     "protocol's apiLevel is 2.18"),
    ("tasks (apiLevel 2.27 on)", "pass\nctx.wait_for_tasks([])",
     "ProtocolContext.wait_for_tasks needs apiLevel 2.27 or later"),
    ("a robot context (apiLevel 2.22 on)", "pass\nctx.robot",
     "ProtocolContext.robot needs apiLevel 2.22 or later"),
    ("lids (apiLevel 2.23 on)", 'pass\nplate.load_lid_stack("lid", 2)',
     "Labware.load_lid_stack needs apiLevel 2.23 or later"),
    ("a well's meniscus (apiLevel 2.21 on)", 'pass\np300.move_to(plate["A1"].meniscus(z=-1))',
     "Well.meniscus needs apiLevel 2.21 or later"),
    ("a well's liquid height (apiLevel 2.21 on)",
     'pass\nprint(plate["A1"].current_liquid_height())',
     "Well.current_liquid_height needs apiLevel 2.21 or later; this protocol's apiLevel is "
     "2.18"),
    ("a layout for a 96-channel", "from opentrons import protocol_api\n"
     "p300.configure_nozzle_layout(protocol_api.COLUMN)",
     "configure_nozzle_layout: COLUMN configuration is only supported on 96-Channel "
     "pipettes."),
    ("pipette.air_gap over no well", "p300.pick_up_tip()\np300.air_gap(400)",
     "air_gap: 400 µL would put 400 µL in the tip"),
    ("transfer(air_gap=300)", 'pass\np300.transfer(50, plate["A1"], plate["A2"], air_gap=300)',
     "transfer: air_gap must be from 0 µL to below the pipette's working volume"),
    ("mix with a bad repetition count", 'p300.pick_up_tip()\np300.mix(-1, 10, plate["A1"])',
     "mix: repetitions must be a whole number >= 0, not -1"),
    # Non-finite numbers, wherever a number is taken.
    ("a nan delay", 'pass\nctx.delay(seconds=float("nan"))',
     "delay: seconds is nan; " + FINITE),
    ("an infinite delay", 'pass\nctx.delay(minutes=float("inf"))',
     "delay: minutes is inf; " + FINITE),
    ("a delay that adds up to infinity", "pass\nctx.delay(seconds=1e308, minutes=1e308)",
     "delay: the delay command's seconds would be inf; " + FINITE),
    ("a nan volume", 'p300.pick_up_tip()\np300.aspirate(float("nan"), plate["A1"])',
     "aspirate: volume is nan; " + FINITE),
    ("an infinite rate", 'p300.pick_up_tip()\np300.dispense(0, plate["A1"], rate=float("inf"))',
     "dispense: rate is inf; " + FINITE),
    ("a nan height", 'pass\np300.move_to(plate["A1"].top(float("nan")))',
     "move_to: location holds nan; " + FINITE),
    ("a nan Point", "from opentrons.types import Location, Point\n"
     'p300.move_to(Location(Point(1, float("nan"), 3), None))',
     "move_to: location holds nan; " + FINITE),
    ("a Location moved by -inf", "from opentrons.types import Point\n"
     'p300.move_to(plate["A1"].top().move(Point(z=float("-inf"))))',
     "move_to: location holds -inf; " + FINITE),
    ("a nan speed", 'pass\np300.move_to(plate["A1"].top(), speed=float("nan"))',
     "move_to: speed is nan; " + FINITE),
    ("a zero speed", 'pass\np300.move_to(plate["A1"].top(), speed=0)',
     "move_to: speed must be a positive number of mm/s, not 0"),
    ("a negative speed", 'pass\np300.move_to(plate["A1"].top(), speed=-5.0)',
     "move_to: speed must be a positive number of mm/s, not -5.0"),
    ("a speed that is not a number", 'pass\np300.move_to(plate["A1"].top(), speed=b"x")',
     "move_to: speed must be a positive number of mm/s, not b'x'"),
    ("a travel height that is not a number",
     'pass\np300.move_to(plate["A1"].top(), minimum_z_height="high")',
     "move_to: minimum_z_height must be a number of mm, not 'high'"),
    ("a delay in words", 'pass\nctx.delay("5")', "delay: seconds must be a number, not '5'"),
    ("a negative hold", 'tc = ctx.load_module("thermocycler")\n'
     "tc.set_block_temperature(40, hold_time_minutes=-1)",
     "set_block_temperature: hold_time_minutes must be between 0 and 1e+09 min, not -1"),
    ("a magnet height that is not a number", 'mag = ctx.load_module("magnetic module gen2", 3)\n'
     'mag.engage(height_from_base="5")',
     "engage: height_from_base must be a number of mm, not '5'"),
    ("one tip rack, not a list", 'pass\nctx.load_instrument("p20_single_gen2", "right", '
     "tip_racks=small_tips)",
     "tip_racks must be a list: tip_racks=[rack], not the rack itself (Opentrons OT-2 96 Tip "
     "Rack 20 µL in slot 5)"),
    ("tip racks set to a number", "pass\np300.tip_racks = 5",
     "tip_racks must be a list of tip racks, not 5"),
    ("tip racks set to a plate", "pass\np300.tip_racks = [plate]",
     "tip_racks must be tip racks; the Corning 96 Well Plate 360 µL Flat in slot 1 is not"),
    ("an air gap height in words", 'p300.pick_up_tip(); p300.aspirate(10, plate["A1"])\n'
     'p300.air_gap(10, "5")', "air_gap: height must be a number of mm, not '5'"),
    ("a well height in words", 'p300.pick_up_tip()\np300.aspirate(10, plate["A1"].bottom("2"))',
     "bottom: z must be a number of mm, not '2'"),
    ("a well as a height", 'pass\np300.move_to(plate["A1"].top(plate["B1"]))',
     "top: z must be a number of mm, not B1 of Corning 96 Well Plate 360 µL Flat on slot 1"),
    ("a complex offset", "from opentrons.types import Point\n"
     'p300.move_to(plate["A1"].top().move(Point(1j, 0, 0)))',
     "move_to: the moveTo command's point would hold (14.38+1j), a complex number; "
     "positions and amounts are real numbers"),
    ("a nan in a list of volumes",
     'pass\np300.transfer([10, float("nan")], plate.wells()[:2], plate.wells()[2:4])',
     "transfer: volume holds nan; " + FINITE),
    ("an infinite mix volume", 'p300.pick_up_tip()\np300.mix(2, float("inf"), plate["A1"])',
     "mix: volume is inf; " + FINITE),
    ("a nan touch-tip offset",
     'p300.pick_up_tip()\np300.touch_tip(plate["A1"], v_offset=float("nan"))',
     "touch_tip: v_offset is nan; " + FINITE),
    ("an infinite air gap", 'p300.pick_up_tip()\np300.air_gap(float("inf"))',
     "air_gap: volume is inf; " + FINITE),
    ("a nan flow rate", 'pass\np300.flow_rate.aspirate = float("nan")',
     "flow_rate.aspirate must be a positive number, not nan"),
    ("a nan clearance", 'pass\np300.well_bottom_clearance.dispense = float("nan")',
     "well_bottom_clearance.dispense must be a number of mm, not nan"),
    ("flow rates replaced by a number", "pass\np300.flow_rate = 100",
     "flow_rate cannot be replaced (by 100); set its parts: flow_rate.aspirate, "
     "flow_rate.dispense, flow_rate.blow_out"),
    ("clearances replaced by a number", "pass\np300.well_bottom_clearance = 2",
     "well_bottom_clearance cannot be replaced (by 2); set its parts: "
     "well_bottom_clearance.aspirate, well_bottom_clearance.dispense"),
    ("an infinite default speed", 'pass\np300.default_speed = float("inf")',
     "default_speed must be a positive number of mm/s, not inf"),
    ("a nan labware offset", 'pass\nplate.set_offset(0, float("nan"), 0)',
     "set_offset: the offset must be finite numbers of mm, not (0, nan, 0)"),
    ("a labware offset in words", 'pass\nplate.set_offset("1", 0, 0)',
     "set_offset: the offset must be finite numbers of mm, not ('1', 0, 0)"),
    ("a keyword a module's load_labware does not take",  # it was taken and ignored
     'mag = ctx.load_module("magnetic module gen2", 3)\n'
     'mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", lable="beads")',
     "TypeError: ModuleContext.load_labware() got an unexpected keyword argument 'lable'"),
    ("a load name that is not text", "pass\nctx.load_labware(None, 2)",
     "load_labware: the load name must be text, not None"),  # an AttributeError was
    ("a load name in a list", 'pass\nctx.load_labware(["nest_12_reservoir_15ml"], 2)',
     "load_labware: the load name must be text, not ['nest_12_reservoir_15ml']"),
    ("an adapter's load name that is not text", "pass\nctx.load_adapter(7, 2)",
     "load_adapter: the load name must be text, not 7"),
    ("a slot written with a space",  # as Opentrons: "' 2' is not a valid deck slot"
     'pass\nctx.load_labware("nest_12_reservoir_15ml", " 2")',
     "no slot ' 2' on this deck; slots are 1-11 and the fixed trash in 12"),
    ("a labware put into the deck by assignment", "pass\nctx.deck[2] = plate",
     "ctx.deck cannot be assigned to; use load_labware or move_labware"),
    ("a label of two lines in an error", 'ctx.load_labware("nest_12_reservoir_15ml", 2, '
     'label="Sample plate\\n(from fridge)")\nctx.load_labware("nest_12_reservoir_15ml", 2)',
     "slot 2 already holds Sample plate (from fridge)"),  # one line, not two
    ("a disposal volume bigger than the tip",  # refused before the tip was picked up
     'pass\np300.distribute(50, plate["A1"], plate.wells()[1:5], disposal_volume=1000)',
     "distribute: disposal_volume 1000 µL leaves no room in the 300 µL tip"),
    ("a disposal volume and air gap that fill the tip",
     'pass\np300.distribute(50, plate["A1"], plate.wells()[1:5], disposal_volume=200, '
     "air_gap=100)",
     "distribute: disposal_volume 200 µL and air_gap 100 µL leave no room in the 300 µL tip"),
    ("a list of air gaps",  # no "(or a list of them)": only a volume may be a list
     'pass\np300.transfer(10, plate["A1"], plate["A2"], air_gap=[5, 5])',
     "transfer: air_gap must be a number of µL, not [5, 5]"),
    ("a profile step that is not a dict", 'tc = ctx.load_module("thermocycler")\n'
     "tc.execute_profile(steps=[(95, 10)], repetitions=1)",
     'execute_profile: step 1 must be a dict like {"temperature": 95, "hold_time_seconds": '
     '10}, not (95, 10)'),
    ("an int beyond any float", 'p300.pick_up_tip()\np300.aspirate(10**400, plate["A1"])',
     "a number is too large to compute with (int too large to convert to float)"),
    ("an int beyond any float, in a transfer",
     'pass\np300.transfer(10**400, plate["A1"], plate["A2"])',
     "a number is too large to compute with"),
    ("a height beyond any float",
     'p300.pick_up_tip()\np300.aspirate(10, plate["A1"].bottom(10**400))',
     "a number is too large to compute with"),
    # Exits: the run fails, labrun carries on.
    ("sys.exit in run", "import sys\nsys.exit(3)",
     "the protocol tried to exit (SystemExit, code 3); a protocol ends by returning from "
     "run(ctx)"),
    ("raise SystemExit in run", "pass\nraise SystemExit",
     "the protocol tried to exit (SystemExit); a protocol ends by returning from run(ctx)"),
    ("os._exit in run", "import os\nos._exit(0)",
     "the protocol tried to exit (os._exit(0)); a protocol ends by returning from run(ctx)"),
    ("a call from a second thread", "import threading\n"
     't = threading.Thread(target=lambda: ctx.comment("hi"), name="helper"); t.start(); t.join()',
     "comment was called from thread 'helper'; protocol calls must come from the thread that "
     "runs run(ctx)"),
]


@pytest.mark.parametrize(("body", "message"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_bad_input_fails_the_run_at_the_offending_line(tmp_path: Path, body: str,
                                                       message: str) -> None:
    path, run, summary = simulate(tmp_path, body)
    assert summary["status"] == "failed"
    assert summary["error"].startswith(message), summary["error"]
    assert summary["location"] == f"{path}:{BAD_LINE}"
    # The offending call sent nothing to the robot.
    bad = f"{path}:{BAD_LINE}"
    assert [e.command.kind for e in run.engine.entries if e.line == bad] == []
    statuses = [e["status"] for e in run.record.events if e["event"] == "status"]
    assert statuses[-1] == "failed" and "succeeded" not in statuses


@pytest.mark.parametrize(("racks", "kind"), [("(r for r in [small_tips])", "generator"),
                                             ("{small_tips}", "set")])
def test_tip_racks_given_as_a_generator_fail_at_the_first_pick_up_with_no_location(
        tmp_path: Path, racks: str, kind: str) -> None:
    """Opentrons keeps tip_racks as given: a generator (or a set) is no list, and its
    first pick-up with no location fails ("'generator' object is not subscriptable");
    a tip named by its well is taken. labrun ran them all; now it warns at the load and
    refuses that pick-up, saying why and where the racks were given."""
    path, run, summary = simulate(tmp_path, f"""
        p20 = ctx.load_instrument("p20_single_gen2", "right", tip_racks={racks})
        p20.pick_up_tip(small_tips["A1"]); p20.drop_tip(); p20.pick_up_tip()
    """)
    load, pick = f"{path}:{BAD_LINE - 1}", f"{path}:{BAD_LINE}"
    assert summary["status"] == "failed" and summary["location"] == pick
    assert summary["error"] == (
        f"pick_up_tip: no location given, and this pipette's tip_racks is a {kind} "
        f"(load_instrument at {load}), which Opentrons cannot take the next tip from (it "
        f"fails: '{kind}' object is not subscriptable); give a list, tip_racks=[...]")
    warnings = [e.command.message for e in run.engine.entries
                if isinstance(e.command, c.Comment) and e.command.message.startswith("warning")]
    assert warnings == [f"warning: {load}: load_instrument: tip_racks is a {kind}, not a "
                        "list: Opentrons keeps it so and picks no tip from it without a "
                        "location (pick_up_tip() fails there); give a list, tip_racks=[...]"]
    kinds = [e.command.kind for e in run.engine.entries if e.line == pick]
    assert kinds[:2] == ["pickUpTip", "dropTip"] and kinds.count("pickUpTip") == 1


def test_a_non_finite_number_never_reaches_the_record(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(HEADER + '    p300.pick_up_tip()\n    p300.aspirate(float("nan"), '
                    'plate["A1"])\n')
    record = tmp_path / "record.jsonl"
    run = create_run(path, record_path=record, on_stalled=continue_when_stalled)
    try:
        run.control.play()
        run.wait(timeout=30)
    finally:
        run.close()
    text = record.read_text()
    for line in text.splitlines():  # strict JSON: a NaN or Infinity token would raise
        json.loads(line, parse_constant=lambda token: pytest.fail(f"{token} in the record"))
    assert "nan" not in [e.command.params().get("volume") for e in run.engine.entries]
    assert json.loads(text.splitlines()[-1])["status"] == "failed"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_call_from_a_second_thread_sends_nothing_and_keeps_the_steps_apart(
        tmp_path: Path) -> None:
    # The helper thread's own error is its affair (threading prints it); the run fails.
    path, run, summary = simulate(
        tmp_path, "import threading\nt = threading.Thread(target=lambda: [ctx.comment(str(i)) "
                  "for i in range(800)]); t.start(); t.join()")
    assert summary["status"] == "failed"
    assert summary["location"] == f"{path}:{BAD_LINE}"
    assert [e.command.kind for e in run.engine.entries if e.command.kind == "comment"] == []
    steps = [e["name"] for e in run.record.events if e["event"] == "step"]
    assert steps == ["load_labware"] * 4 + ["load_instrument"]


def test_after_a_failure_the_attached_tip_is_dropped_in_the_trash(tmp_path: Path) -> None:
    _, run, summary = simulate(tmp_path, 'p300.pick_up_tip()\np300.aspirate(-1, plate["A1"])')
    assert summary["status"] == "failed"
    cleanup = [(e.command.kind, e.command.params()["well"]) for e in run.engine.entries
               if e.origin == "cleanup"]
    assert cleanup == [("dropTip", "trash")]


def test_a_robot_error_inside_a_step_group_names_the_call_not_the_group(tmp_path: Path) -> None:
    # The engine refuses a point out of reach; the failure points at the move_to line.
    path, _, summary = simulate(tmp_path, """
        with ctx.step("bad move"):
            p300.move_to(plate["A1"].top(2000))
    """)
    assert summary["status"] == "failed"
    assert "cannot reach that point" in summary["error"]
    assert summary["location"] == f"{path}:{BAD_LINE}"


@pytest.mark.parametrize(("mounts", "said"), [
    (["right"], "the right mount cannot travel over the tallest labware (500.0 mm high): it "
                "would need axis A at 501.0 mm"),
    (["left"], "the left mount cannot travel over the tallest labware (500.0 mm high): it "
               "would need axis Z at 501.0 mm"),
    (["left", "right"], "the right mount cannot"),  # the one that moves
])
def test_a_labware_too_tall_to_travel_over_is_said_of_a_mount_with_a_pipette(
        tmp_path: Path, mounts: list[str], said: str) -> None:
    """A mount with no pipette is not the one said: only a right pipette loaded, the
    message once named the left mount (and its axis Z)."""
    tall = json.loads(json.dumps(get_definition("corning_96_wellplate_360ul_flat")))
    tall["parameters"]["loadName"] = "tall_box"
    tall["namespace"] = "custom_beta"
    tall["dimensions"]["zDimension"] = 500.0
    (tmp_path / "labware").mkdir()
    (tmp_path / "labware" / "tall_box.json").write_text(json.dumps(tall))
    loads = "\n".join(f'p_{mount} = ctx.load_instrument("p300_single_gen2", "{mount}", '
                      "tip_racks=[tips])" for mount in mounts)
    path = protocol_file(tmp_path, f"""
tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
ctx.load_labware("tall_box", 2)
{loads}
p_{mounts[-1]}.pick_up_tip()
""")
    run = create_run(path, on_stalled=continue_when_stalled,
                     labware_dirs=[str(tmp_path / "labware")])
    try:
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"].startswith(said), summary["error"]
    assert summary["location"] == f"{path}:{7 + len(mounts)}"


def test_an_exception_in_a_helper_function_names_the_innermost_protocol_line(
        tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def helper(ctx):
            ctx.load_labware("no_such_labware", 1)

        def run(ctx):
            helper(ctx)
    ''').lstrip("\n"))
    summary = simulate_file(path).record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"].startswith("no labware definition named 'no_such_labware'")
    assert summary["location"] == f"{path}:4"


def test_a_run_imported_from_the_users_module_is_located_in_that_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No frame is in the protocol file: the error is where the user's own code called
    labrun, not inside labrun (``protocol_api/instrument.py``)."""
    library = tmp_path / "lib"
    library.mkdir()
    module = library / "labrun_test_steps_b.py"
    module.write_text(textwrap.dedent('''
        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            p.aspirate(-5, plate["A1"])
    ''').lstrip("\n"))
    monkeypatch.syspath_prepend(str(library))
    monkeypatch.delitem(sys.modules, "labrun_test_steps_b", raising=False)
    path = tmp_path / "protocol.py"
    path.write_text('from labrun_test_steps_b import run\nmetadata = {"apiLevel": "2.15"}\n')
    try:
        summary = simulate_file(path).record.events[-1]
    finally:
        sys.modules.pop("labrun_test_steps_b", None)
    assert summary["status"] == "failed"
    assert summary["error"] == "aspirate: volume -5 µL is negative"
    assert summary["location"] == f"{module}:6"


def test_an_embedded_context_reports_the_scripts_line_and_reraises() -> None:
    with pytest.raises(Exception, match="volume -1 µL is negative"), \
            open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(-1, tips["A1"])  # the failing line
    summary = ctx.run.record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"] == "aspirate: volume -1 µL is negative"
    this_file, line = summary["location"].rsplit(":", 1)
    assert this_file == __file__
    source = Path(__file__).read_text().splitlines()[int(line) - 1]
    assert "# the failing line" in source


def test_a_command_for_a_mount_the_robot_lacks_fails_the_run() -> None:
    config = default_config()
    config = replace(config, mounts={"left": config.mounts["left"]})

    def protocol(channel: CommandChannel) -> None:
        channel.execute(c.LoadInstrument("p20_single_gen2", "right", 20.0, 1.25, 18.0, 19.0,
                                         20.0), StepInfo(0, "load_instrument"))
        channel.execute(c.MoveTo("right", (100.0, 100.0, 100.0)), StepInfo(1, "move_to"))

    run = Run(protocol, config=config, on_stalled=continue_when_stalled).start()
    run.control.play()
    try:
        with contextlib.suppress(Exception):
            run.wait(timeout=10)
    finally:
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    assert "right" in summary["error"]


@pytest.mark.parametrize(("command", "bad"), [
    (c.MoveTo("left", (1.0, float("inf"), 3.0)), "point would be inf"),
    (c.MoveTo("left", (1.0, 2, float("nan"))), "point would be nan"),
    (c.Aspirate("left", 10.0, float("-inf"), "1/A1", ("1/B1",)), "flow_rate would be -inf"),
    (c.Delay(float("nan"), "wait"), "seconds would be nan"),
    (c.Comment(float("nan")), "message would be nan"),  # type: ignore[arg-type]
    (c.MoveTo("left", (1e308, 1e308, 0.0)), None),  # finite, though their sum is not
    (c.Aspirate("left", 10.0, 5.0, "1/A1", ("1/B1", "1/C1")), None),
])
def test_a_command_holding_a_non_finite_number_is_refused_before_it_is_sent(
        command: c.Command, bad: str | None) -> None:
    """The last check before the robot: whatever reached a command's fields (a rate set
    earlier, a sum of finite numbers) is looked at once more, nothing sent if it fails."""
    from protocol_api.errors import ProtocolError
    from protocol_api.steps import StepTracker

    refused: list[ProtocolError] = []

    def protocol(channel: CommandChannel) -> None:
        tracker = StepTracker(channel)
        tracker.open("a call", implicit=True)  # inside a call: commands wait for its end
        try:
            tracker.send(command)
        except ProtocolError as exc:
            refused.append(exc)
        assert channel.requests_sent == 0  # the call never ends: nothing is handed over

    run = Run(protocol, on_stalled=continue_when_stalled).start()
    run.control.play()
    try:
        run.wait(timeout=10)
    finally:
        run.close()
    assert run.record.events[-1]["commands"] == 0
    if bad is None:
        assert not refused
    else:
        assert len(refused) == 1
        assert f"the {command.kind} command's {bad}; " in str(refused[0])
