"""An API call hands its commands to the engine together and returns once they are done.

What the protocol sees must not change: when a call returns, every command it sent has
completed (so whatever the protocol does next, a print or a read of the record, comes
after them); a command that fails ends the call that sent it, and nothing after it runs,
is recorded or is listed by ``ctx.commands()``.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import RunFailed
from protocol_api import open_context
from protocol_api.execute import EmbeddedContext
from protocol_api.steps import BATCH
from protocol_api.types import Location, Point

TIPS = "opentrons_96_tiprack_300ul"
PLATE = "corning_96_wellplate_360ul_flat"


def command_events(ctx: EmbeddedContext) -> list[dict[str, Any]]:
    return [e for e in ctx.run.record.events if e["event"] == "command"]


def kinds(ctx: EmbeddedContext) -> dict[int, str]:
    """Each command's type by its id (the record names it when the command is queued)."""
    return {e["id"]: e["type"] for e in command_events(ctx) if e["status"] == "queued"}


def completed(ctx: EmbeddedContext) -> list[str]:
    """The types of the commands completed so far, in order (in the record)."""
    types = kinds(ctx)
    return [types[e["id"]] for e in command_events(ctx) if e["status"] == "completed"]


def unfinished(ctx: EmbeddedContext) -> list[int]:
    """The ids of the commands queued and not completed (in the record)."""
    events = command_events(ctx)
    done = {e["id"] for e in events if e["status"] == "completed"}
    return [e["id"] for e in events if e["status"] == "queued" and e["id"] not in done]


def test_a_call_returns_once_every_command_it_sent_is_done() -> None:
    with open_context() as ctx:
        racks = [ctx.load_labware(TIPS, slot) for slot in (4, 5)]
        plate = ctx.load_labware(PLATE, 1)
        p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=racks)
        p300.transfer(50, plate["A1"], plate.wells()[1:])  # several batches of commands
        done = completed(ctx)
        assert len(done) > 3 * BATCH
        assert (done.count("aspirate"), done.count("dispense")) == (95, 95)
        assert done[-1] == "dropTip"  # the transfer's last command
        assert unfinished(ctx) == [] and len(ctx.commands()) == len(kinds(ctx))
        p300.pick_up_tip()
        assert completed(ctx)[-1] == "pickUpTip"
        p300.aspirate(10, plate["A1"])  # a call of two commands: move, then aspirate
        assert completed(ctx)[-2:] == ["moveTo", "aspirate"]
        assert unfinished(ctx) == [] and len(ctx.commands()) == len(kinds(ctx))


def test_a_failing_command_ends_its_call_and_nothing_after_it_runs() -> None:
    with open_context() as ctx:
        tips = ctx.load_labware(TIPS, 4)
        p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p300.pick_up_tip()
        listed = len(ctx.commands())
        out_of_reach = Location(Point(2000.0, 2000.0, 50.0), None)
        with pytest.raises(RunFailed, match="cannot reach that point"):
            p300.aspirate(10, out_of_reach)  # its move fails; its aspirate never runs
        assert len(ctx.commands()) == listed  # neither the move nor the aspirate
    types = kinds(ctx)
    last = [(types[e["id"]], e["status"]) for e in command_events(ctx)
            if e["id"] > max(types) - 2 and types[e["id"]] != "dropTip"]  # not the cleanup
    assert last == [("moveTo", "queued"), ("moveTo", "started"), ("moveTo", "failed")]
    assert "aspirate" not in types.values()
    assert ctx.run.record.events[-1]["status"] == "failed"
