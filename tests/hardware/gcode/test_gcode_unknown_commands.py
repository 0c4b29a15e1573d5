"""A command Marlin was not built with: ``echo:Unknown command: "M906 B500"``, then ``ok``.
The ``ok`` is no success: a line labrun relies on fails naming the controller and the
command; motor currents (only a saving while parked) are said once and no more sent; a
settings report that cannot be read (``DISABLE_M503``) is said at connection."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from hardware.config import RobotConfig
from hardware.emulator import running_emulator
from hardware.gcode import CommandUnknown, open_controller
from hardware.gcode.inspect import inspect_controller

pytestmark = pytest.mark.anyio

SPEED = 20.0
POLL_S = 0.05
ConfigFor = Callable[..., RobotConfig]


def currents_sent(lines: list[str]) -> list[str]:
    """The ``M906`` lines the board took, without their numbers and checksums."""
    return [line.partition(" ")[2].partition("*")[0] for line in lines if " M906 " in line]


async def test_a_line_the_marlin_does_not_know_fails_naming_it_and_the_controller(
        config_for: ConfigFor) -> None:
    # Marlin answers it 'echo:Unknown command: "G29"' and then ok: taken as done before.
    with running_emulator("marlin", speed=SPEED) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            with pytest.raises(CommandUnknown) as raised:
                await ctl.send_gcode(["G29"])
            assert str(raised.value) == (
                f"the Marlin at {emu.address} does not know G29: it answered 'G29' with "
                "'echo:Unknown command: \"G29\"'")
            assert raised.value.command == "G29"
            await ctl.home()  # the link goes on: the next lines are answered as before
            await ctl.move({"X": 20.0})


async def test_currents_on_a_marlin_without_tmc_drivers_are_said_once_and_sent_no_more(
        config_for: ConfigFor, caplog: pytest.LogCaptureFixture) -> None:
    with running_emulator("marlin", speed=SPEED, tmc_drivers=False) as emu, \
            caplog.at_level(logging.WARNING, logger="hardware.gcode"):
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            assert ctl.supports_currents
            await ctl.set_currents({"B": 0.5})
            assert not ctl.supports_currents
            await ctl.set_currents({"B": 1.0})  # nothing sent, nothing said
            assert ctl.warnings == []  # a warning of the run, not of the connection
        assert currents_sent(emu.stats.lines) == ["M906 B500"]
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert said == [
            f"the Marlin at {emu.address} does not know M906 (built without TMC drivers?): "
            "it answered 'M906 B500' with 'echo:Unknown command: \"M906 B500\"'; labrun "
            "sends it no more on this connection: the motors keep the current the board "
            "gives them, while parked too"]
        # A new connection asks again (the board may have been flashed meanwhile).
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            assert ctl.supports_currents
    with running_emulator("marlin", speed=SPEED) as emu:  # with TMC drivers: set, silently
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.set_currents({"B": 0.5})
            assert ctl.supports_currents
        assert emu.emulator.machine.currents["B"] == 0.5


async def test_a_marlin_without_m503_is_said_at_connection_as_unchecked(
        config_for: ConfigFor) -> None:
    # DISABLE_M503 (a build short of flash): its settings report was an Unknown command
    # and ok, read as a report without steps/mm, so the check passed without a word.
    with running_emulator("marlin", speed=SPEED, m503=False) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            assert [w for w in ctl.warnings if "M503" in w] == [
                f"the Marlin at {emu.address} does not know M503 (built with DISABLE_M503?): "
                "it answered 'M503' with 'echo:Unknown command: \"M503\"'; labrun cannot "
                "check its steps/mm against the robot file's: make sure they agree (M92)"]
            await ctl.home()


async def test_labrun_doctor_says_a_marlin_without_m503_has_no_settings_report(
        config_for: ConfigFor) -> None:
    # Its M503 answered with an Unknown command is no report to read (nor an error).
    with running_emulator("marlin", speed=SPEED, m503=False) as emu:
        async with open_controller(config_for("marlin", emu.address), poll_interval=POLL_S,
                                   check_settings=False) as ctl:
            found = await inspect_controller(ctl)
    assert ("settings", f"the Marlin at {emu.address} does not know M503 (built with "
                        "DISABLE_M503?): it answered 'M503' with 'echo:Unknown command: "
                        "\"M503\"'") in found.facts


OTHER_WORDINGS = [
    # klippy/gcode.py cmd_default: respond_info('Unknown command:"%s"'), then its ok
    ("klipper", "// Unknown command:\"{word}\""),
    # Prusa-Firmware Marlin_main.cpp: printf_P(MSG_UNKNOWN_CODE, 'M', cmd), then ok
    ("prusa", "Unknown {letter} code: {line}"),
    # RepRapFirmware GCodes2.cpp (Marlin mode): warningNotSupported, then ok
    ("reprapfirmware", "Warning: {word}: Command is not supported"),
]


@pytest.mark.parametrize(("firmware", "said"), OTHER_WORDINGS)
async def test_an_unknown_command_worded_as_another_marlin_like_firmware_words_it_fails(
        firmware: str, said: str, config_for: ConfigFor) -> None:
    # Its ok was taken for success: a G29 (or an M410 quickstop) that did nothing.
    with running_emulator("marlin", speed=SPEED, unknown_commands=firmware) as emu:
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            with pytest.raises(CommandUnknown) as raised:
                await ctl.send_gcode(["G29 P1"])
            answer = said.format(word="G29", letter="G", line="G29 P1")
            assert str(raised.value) == (
                f"the Marlin at {emu.address} does not know G29: it answered 'G29 P1' "
                f"with {answer!r}")
            await ctl.home()  # the next lines are answered as before
            await ctl.move({"X": 20.0})


@pytest.mark.parametrize(("firmware", "said"), OTHER_WORDINGS)
async def test_currents_on_another_marlin_like_firmware_without_m906_are_said_once(
        firmware: str, said: str, config_for: ConfigFor,
        caplog: pytest.LogCaptureFixture) -> None:
    with running_emulator("marlin", speed=SPEED, tmc_drivers=False,
                          unknown_commands=firmware) as emu, \
            caplog.at_level(logging.WARNING, logger="hardware.gcode"):
        async with open_controller(config_for("marlin", emu.address),
                                   poll_interval=POLL_S) as ctl:
            await ctl.home()
            await ctl.set_currents({"B": 0.5})
            assert not ctl.supports_currents
            await ctl.set_currents({"B": 1.0})  # nothing sent, nothing said
            await ctl.move({"X": 20.0})
        assert currents_sent(emu.stats.lines) == ["M906 B500"]
        answer = said.format(word="M906", letter="M", line="M906 B500")
        said_lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert said_lines == [
            f"the Marlin at {emu.address} does not know M906 (built without TMC drivers?): "
            f"it answered 'M906 B500' with {answer!r}; labrun sends it no more on this "
            "connection: the motors keep the current the board gives them, while parked too"]
