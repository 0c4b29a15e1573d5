"""What a connected firmware says about itself, and where the robot file disagrees.

``inspect_controller(driver)`` reads, without moving anything:

- GRBL: ``$I`` (version, planner blocks, serial buffer), ``$$`` (the settings that
  matter: report mask ``$10``, units ``$13``, soft limits ``$20``, homing ``$22``,
  steps/mm ``$100+``, max rate ``$110+``, acceleration ``$120+``, max travel ``$130+``),
  ``$#`` (work offsets) and a status report (state, the axes it reports);
- Marlin: ``M115`` (firmware name, axis count, capabilities), ``M503`` (steps/mm
  ``M92``, max feed rates ``M203``, accelerations ``M201``, soft endstops ``M211``,
  home offsets ``M206``) and ``M114`` (the axes it reports);
- Smoothieware: ``M115`` (its name and version) and ``M114`` (the axes it reports).

The steps/mm and units that would put every move off are compared by ``settings``,
which the driver also applies as it connects.

Each disagreement with the robot file is a sentence naming both values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from attrs import define, field

from ..config import RobotConfig
from .driver import GcodeController, other_firmware
from .errors import CommandUnknown, ControllerError
from .settings import (
    GRBL_AXES,
    TOLERANCE,
    grbl_settings,
    grbl_unsafe,
    marlin_settings,
    marlin_unsafe,
)

_BRACKET = re.compile(r"^\[([A-Z0-9]+):(.*)\]$")


_STATE_SAID = {
    "Alarm": " (locked until homed; labrun homes before a run)",
    "Door": " (the door is or was open: it holds until the door is closed and it is "
            "resumed, which labrun does before it homes)",
    "Hold": " (feed hold, set at the board: labrun does not resume it; nothing moves "
            "until it is resumed there, cycle start)",
}
"""What a controller's state means for a run, by the state's name."""


@define
class Inspection:
    """What the firmware said, as labelled lines, and the disagreements found."""

    firmware: str = "unknown"
    axes: list[str] = field(factory=list)
    facts: list[tuple[str, str]] = field(factory=list)
    """(label, what the firmware said), in the order they are worth reading."""
    disagreements: list[str] = field(factory=list)

    def fact(self, label: str, text: str) -> None:
        self.facts.append((label, text))


async def inspect_controller(driver: GcodeController) -> Inspection:
    """Read ``driver``'s firmware (connected) and compare it with its robot file."""
    name = driver.dialect.name
    if name == "grbl":
        return await _grbl(driver)  # (its state says a door: "Door")
    found = await (_marlin(driver) if name == "marlin" else _generic(driver))
    active = sorted(driver.active_interlocks())  # what its endstop report (M119) said
    if active:
        found.fact("interlocks", f"{', '.join(active)} open: labrun neither homes nor runs "
                                 "until it is closed")
    return found


def _firmware_axes(driver: GcodeController, reported: list[str], found: Inspection) -> None:
    """Note the axes the firmware reports and those of the robot file it lacks."""
    found.axes = reported
    found.fact("axes", " ".join(reported) or "none reported")
    missing = [f"{axis} (firmware {letter})" for axis, letter in driver.axis_map.items()
               if letter not in reported]
    if missing:
        found.disagreements.append(
            f"the robot file has axes the firmware does not report: {', '.join(missing)}")


# -- GRBL --------------------------------------------------------------------------------


async def _asked(driver: GcodeController, line: str, found: Inspection) -> list[str] | None:
    """GRBL's answer to ``line``; None, said, when GRBL answers it only in another state
    (``error:8``: ``$I`` and ``$#`` only Idle or in an alarm, ``$$`` not in a hold)."""
    try:
        return await driver.query(line)
    except ControllerError as exc:
        if "error:8" not in str(exc):
            raise
        found.fact(line, "not answered in this state (GRBL answers it only when Idle or in "
                         "an alarm; labrun asks it again before it homes)")
        return None


async def _grbl(driver: GcodeController) -> Inspection:
    found = Inspection()
    said = await _asked(driver, "$I", found)
    lines = said or []
    info = {m[1]: m[2] for line in lines if (m := _BRACKET.match(line))}
    options = info.get("OPT", "").split(",")
    firmware = "grblHAL" if info.get("FIRMWARE", "").lower() == "grblhal" else "Grbl"
    version, _, build = info.get("VER", "?").partition(":")  # build info: set by $I=
    if "VER" in info:
        found.firmware = f"{firmware} {version}" + (f" ({build})" if build else "")
    elif said is not None:
        found.firmware = "unknown (no version, [VER:...], in its answer to $I)"
    if said is not None:
        found.fact("firmware", found.firmware)
    if "VER" not in info and said is not None:  # every GRBL says its version to $I
        other = other_firmware([*lines, *driver.link.heard], "grbl")
        found.disagreements.append(
            "the controller did not answer $I with its version ([VER:...]) as GRBL does: "
            "is the robot file's dialect right?" + (f" ({other})" if other else ""))
    if len(options) >= 3:
        found.fact("buffers", f"planner {options[1]} blocks, serial receive buffer "
                              f"{options[2]} bytes (labrun streams within "
                              f"{driver.dialect.rx_buffer_bytes})")
    settings_said = await _asked(driver, "$$", found)
    status, _ = await driver.link.machine_status()
    reported = sorted((status.position or status.work_position or {}),
                      key=GRBL_AXES.index)
    found.fact("state", status.state + _STATE_SAID.get(status.state, ""))
    _firmware_axes(driver, reported, found)
    if settings_said is not None:
        _grbl_settings(driver.config, driver.axis_map, grbl_settings(settings_said), found)
    parameters = await _asked(driver, "$#", found)
    if parameters is None:
        return found
    offsets = [f"{m[1]} {m[2]}" for line in parameters
               if (m := _BRACKET.match(line)) and m[1].startswith(("G5", "G92"))]
    nonzero = [o for o in offsets if any(float(v) for v in o.split()[1].split(",")
                                         if _is_number(v))]
    found.fact("work offsets", ("; ".join(nonzero) if nonzero else "all zero")
               + " (labrun moves and reads in machine coordinates, G53, so they do not "
                 "shift its moves)")
    return found


def _grbl_settings(config: RobotConfig, axis_map: Mapping[str, str],
                   settings: Mapping[int, float], found: Inspection) -> None:
    def get(number: int) -> float | None:
        return settings.get(number)

    mask, units, soft, homing = get(10), get(13), get(20), get(22)
    found.fact("settings", ", ".join([
        f"homing $22={_n(homing)}", f"soft limits $20={_n(soft)}",
        f"units $13={_n(units)} ({'inches' if units else 'mm'})",
        f"report mask $10={_n(mask)} ({'MPos' if mask is None or int(mask) & 1 else 'WPos'})"]))
    switched = [a for a, c in config.axes.items() if c.homing == "switch"]
    if homing is not None and not int(homing) & 1 and switched:
        found.disagreements.append(
            f"homing is disabled ($22={_n(homing)}) but the robot file homes "
            f"{', '.join(switched)} with switches: enable it ($22=1) or set "
            "homing = \"none\" on those axes")
    if homing is not None and int(homing) & 1 and not switched:
        found.disagreements.append(
            "homing is enabled ($22=1) but the robot file has no axis with a switch: "
            "GRBL will stay locked until $X")
    found.disagreements.extend(grbl_unsafe(config, axis_map, settings))  # steps/mm, units
    if soft and not (homing and int(homing) & 1):
        found.disagreements.append("soft limits ($20=1) need homing ($22=1) on GRBL")
    per_axis: dict[str, list[str]] = {"steps/mm": [], "max rate mm/min": [],
                                      "acceleration mm/s²": [], "max travel mm": []}
    for axis, letter in axis_map.items():
        if letter not in GRBL_AXES:
            continue
        index = GRBL_AXES.index(letter)
        cfg = config.axes[axis]
        for label, base, least in (
                ("steps/mm", 100, None),  # grbl_unsafe compares them (and travel, if
                # soft limits are on)
                ("max rate mm/min", 110, cfg.max_speed * 60),
                ("acceleration mm/s²", 120, cfg.acceleration),
                ("max travel mm", 130, None if soft else cfg.max - cfg.min)):
            value = get(base + index)
            if value is None:
                continue
            per_axis[label].append(f"{letter} {_n(value)}")
            if least is not None and value < least - TOLERANCE:
                found.disagreements.append(
                    f"axis {axis}: the firmware's {label} ${base + index}={_n(value)}"
                    f" is below the robot file's {_n(least)}")
    for label, values in per_axis.items():
        if values:
            found.fact(label, ", ".join(values))


# -- Marlin ------------------------------------------------------------------------------


async def _marlin(driver: GcodeController) -> Inspection:
    found = Inspection()
    lines = await driver.query("M115")
    name = next((line for line in lines if "FIRMWARE_NAME:" in line), "")
    found.firmware = (name.split("FIRMWARE_NAME:", 1)[1].split(" SOURCE_CODE_URL")[0]
                      .split(" PROTOCOL_VERSION")[0].split(",")[0].strip() if name
                      else "unknown (no FIRMWARE_NAME in its answer to M115)")
    found.fact("firmware", found.firmware)
    # Every Marlin names itself to M115 (its machine's name, e.g. a board's, may name
    # another firmware: a line that names Marlin is taken at its word)
    other = None if "marlin" in name.lower() else other_firmware(
        [name] if name else [*lines, *driver.link.heard], "marlin")
    if not name or other:
        found.disagreements.append(
            "the controller did not answer M115 with its name (FIRMWARE_NAME:Marlin ...) as "
            "Marlin does: is the robot file's dialect right?" + (f" ({other})" if other else ""))
    count = re.search(r"AXIS_COUNT:(\d+)", name)
    if count:
        found.fact("axis count", count[1])
    capabilities = [line.removeprefix("Cap:") for line in lines if line.startswith("Cap:")]
    if capabilities:
        found.fact("capabilities", " ".join(capabilities))
    for warning in driver.warnings:  # said at connection: no emergency parser
        found.fact("warning", warning)
    await driver.query("M114")
    reported = list(driver.link.position or {})
    _firmware_axes(driver, reported, found)
    try:
        config = await driver.query("M503")
    except CommandUnknown as exc:  # DISABLE_M503
        found.fact("settings", str(exc))
        return found
    _marlin_settings(driver, config, found)
    return found


def _marlin_settings(driver: GcodeController, lines: list[str], found: Inspection) -> None:
    codes = marlin_settings(lines)
    if not codes:
        found.fact("settings", "M503 reported none (EEPROM_SETTINGS or "
                               "the M503 report may be disabled)")
        return
    labels = {"M92": "steps/mm", "M203": "max feed rate mm/s", "M201": "acceleration mm/s²",
              "M206": "home offsets"}
    for code, label in labels.items():
        if code in codes:
            found.fact(label, ", ".join(f"{k} {_n(v)}" for k, v in codes[code].items()))
    if "M211" in codes:
        found.fact("soft endstops", "on" if codes["M211"].get("S") else "off")
    found.disagreements.extend(marlin_unsafe(driver.config, driver.axis_map, codes))
    for axis, letter in driver.axis_map.items():
        cfg = driver.config.axes[axis]
        feed = codes.get("M203", {}).get(letter)
        if feed is not None and feed < cfg.max_speed - TOLERANCE:
            found.disagreements.append(f"axis {axis}: the firmware's max feed rate M203 "
                                       f"{letter}{_n(feed)} mm/s is below the robot file's "
                                       f"max_speed {_n(cfg.max_speed)}")
    offsets = codes.get("M206", {})
    if any(abs(v) > TOLERANCE for v in offsets.values()):
        found.fact("note", "home offsets (M206) shift Marlin's logical coordinates, in "
                           "which labrun moves and reads")


# -- others ------------------------------------------------------------------------------


async def _generic(driver: GcodeController) -> Inspection:
    """Smoothieware: its name and version from M115 (a G-code it acknowledges, where its
    shell's ``version`` prints a line with no ``ok`` after it), its axes from M114."""
    found = Inspection()
    name = driver.dialect.name
    try:
        lines = await driver.query("M115")
    except ControllerError as exc:  # Smoothieware answers it; GRBL says error:20
        other = other_firmware([str(exc), *driver.link.heard], name)
        found.firmware = "unknown (it rejected M115)"
        found.fact("firmware", found.firmware)
        found.disagreements.append(
            "the controller rejected M115, which Smoothieware answers: is the robot "
            "file's dialect right?" + (f" ({other})" if other else ""))
        return found  # what it would answer next is no more Smoothieware's
    fields = dict(field.strip().partition(":")[::2] for line in lines
                  for field in line.split(",") if ":" in field)
    firmware = fields.get("FIRMWARE_NAME")
    found.firmware = (f"{firmware} {fields.get('FIRMWARE_VERSION', '')}".strip() if firmware
                      else "unknown (no FIRMWARE_NAME in its answer to M115)")
    found.fact("firmware", found.firmware)
    other = None if firmware and "smoothie" in firmware.lower() else other_firmware(
        [*lines, *driver.link.heard], name)
    if not firmware or other is not None:
        found.disagreements.append(
            "the controller did not answer M115 with its name (FIRMWARE_NAME:Smoothieware, "
            "...) as Smoothieware does: is the robot file's dialect right?"
            + (f" ({other})" if other else ""))
    await driver.query("M114")
    _firmware_axes(driver, list(driver.link.position or {}), found)
    return found


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
