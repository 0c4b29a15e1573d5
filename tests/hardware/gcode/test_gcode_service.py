"""The driver's background task (``Service``) when the loop ends before it is stopped: a
connection cut off by Ctrl-C while it opened left its reader running, and asyncio then
printed "unhandled exception during asyncio.run() shutdown" and a traceback under
labrun's own error line."""

from __future__ import annotations

import logging

import anyio
import pytest

from hardware.gcode.service import Service


def test_a_service_still_running_when_its_loop_ends_ends_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    async def reader() -> None:
        ran.append("started")
        await anyio.sleep_forever()

    async def connect_cut_off() -> None:
        await Service("labrun-test-reader").start(reader)  # never stopped

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        anyio.run(connect_cut_off)  # the loop shuts down with the reader in it
    assert ran == ["started"]
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
