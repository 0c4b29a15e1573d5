"""The firmware settings a robot cannot be moved without: read when the driver connects.

A G-code controller is sent millimetres and turns them into motor steps with its own
steps/mm. If those differ from the robot file's ``steps_per_mm`` (a board whose settings
went back to the firmware's defaults, a robot file written for another machine), every
move lands that many times too far or too short, and a well becomes a crash. A GRBL that
reports in inches (``$13=1``) makes every position labrun reads 25.4 times off; one with
soft limits on (``$20=1``) and a travel (``$130+``) shorter than the robot file's stops a
run with an alarm at the first move past it, tips full perhaps. So the
driver reads GRBL's ``$$`` or Marlin's ``M503`` as it connects and refuses a controller
that disagrees (``labrun doctor`` lists every setting it reads, and passes them).
Smoothieware is not asked: its steps/mm live in its config file on the SD card.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from attrs import frozen

from ..config import RobotConfig

GRBL_AXES = "XYZABC"
"""Axis order of GRBL's per-axis settings ($100 X, $101 Y, ... $105 C)."""
TOLERANCE = 0.01
_SETTING = re.compile(r"^\$(\d+)=([-+\d.]+)")
_WORDS = re.compile(r"([A-Z])(-?\d+(?:\.\d*)?)")
MARLIN_CODES = ("M92", "M203", "M201", "M211", "M206")
"""The lines of Marlin's ``M503`` report that labrun reads."""


def grbl_settings(lines: Iterable[str]) -> dict[int, float]:
    """GRBL's ``$$`` answer as numbers by setting (``$100=250.000`` -> {100: 250.0})."""
    return {int(m[1]): float(m[2]) for line in lines if (m := _SETTING.match(line))}


GRBL_LOCATE_SCALAR = 5.0
"""GRBL's ``HOMING_AXIS_LOCATE_SCALAR``: its locate phase looks for the switch again over
this many pull-off distances (``$27``), at the homing feed rate (``$24``)."""


@frozen
class HomingRates:
    """How fast a firmware's own homing cycle goes, whatever the robot file's speeds."""

    seek: float
    """The rate at which it looks for the switches (mm/s)."""
    locate_s: float
    """The most its slow locate phase takes, per axis (s)."""


def grbl_homing(settings: Mapping[int, float]) -> HomingRates | None:
    """GRBL's homing rates from its ``$$`` (seek ``$25``, feed ``$24``, pull-off ``$27``,
    in mm/min and mm): it seeks at ``$25``, pulls off, seeks again slowly at ``$24`` and
    pulls off again. None when ``$25`` is missing."""
    seek, feed = settings.get(25, 0.0) / 60.0, settings.get(24, 0.0) / 60.0
    if seek <= 0:
        return None
    pulloff = max(settings.get(27, 0.0), 0.0)
    locate = 2.0 * pulloff / seek + (GRBL_LOCATE_SCALAR * pulloff / feed if feed > 0 else 0.0)
    return HomingRates(seek=seek, locate_s=locate)


_OPTIONS = re.compile(r"^\[OPT:([A-Za-z+*]*),")


def grbl_build_options(lines: Iterable[str]) -> str | None:
    """The build option letters of GRBL's ``$I`` answer (``[OPT:VH,15,128]`` -> "VH"; ``H``
    is single-axis homing, ``$HX``), or None when it lists none."""
    return next((m[1] for line in lines if (m := _OPTIONS.match(line))), None)


def marlin_settings(lines: Iterable[str]) -> dict[str, dict[str, float]]:
    """Marlin's ``M503`` report by code (``echo:  M92 X80.00 Y80.00`` ->
    {"M92": {"X": 80.0, "Y": 80.0}}), the codes of ``MARLIN_CODES`` only."""
    codes: dict[str, dict[str, float]] = {}
    for line in lines:
        code, _, rest = line.removeprefix("echo:").strip().partition(" ")
        if code in MARLIN_CODES:
            codes[code] = {m[1]: float(m[2]) for m in _WORDS.finditer(rest)}
    return codes


def steps_disagreement(axis: str, setting: str, firmware: float, config: RobotConfig) -> str:
    """The sentence for one axis whose firmware steps/mm (``setting`` names where it was
    read, ``$100=250`` or ``M92 X250``) differ from the robot file's; "" if they agree."""
    expected = config.axes[axis].steps_per_mm
    if abs(firmware - expected) <= TOLERANCE:
        return ""
    return (f"axis {axis}: the firmware's steps/mm {setting}, the robot file's "
            f"axes.{axis}.steps_per_mm {expected:g} (a move would go "
            f"{firmware / expected:.3g} times as far as asked)")


def grbl_unsafe(config: RobotConfig, axis_map: Mapping[str, str],
                settings: Mapping[int, float]) -> list[str]:
    """What in GRBL's ``settings`` would put moves or reads off."""
    found = [steps_disagreement(axis, f"${100 + GRBL_AXES.index(letter)}={value:g}",
                                value, config)
             for axis, letter in axis_map.items() if letter in GRBL_AXES
             and (value := settings.get(100 + GRBL_AXES.index(letter))) is not None]
    if settings.get(13):
        found.append(f"the firmware reports in inches ($13={settings[13]:g}); labrun reads "
                     "positions in mm: set $13=0")
    if settings.get(20):  # soft limits: GRBL alarms at a target past its travel, mid-run
        for axis, letter in axis_map.items():
            number = 130 + GRBL_AXES.index(letter) if letter in GRBL_AXES else None
            travel = settings.get(number) if number is not None else None
            cfg = config.axes[axis]
            if travel is not None and travel < cfg.max - cfg.min - TOLERANCE:
                found.append(f"axis {axis}: soft limits are on ($20=1) and the firmware's "
                             f"max travel ${number}={travel:g} mm is shorter than the robot "
                             f"file's axes.{axis} min..max, {cfg.max - cfg.min:g} mm (a move "
                             "beyond it would stop the run with an alarm)")
    return [sentence for sentence in found if sentence]


def marlin_unsafe(config: RobotConfig, axis_map: Mapping[str, str],
                  codes: Mapping[str, Mapping[str, float]]) -> list[str]:
    """What in Marlin's ``M503`` report would put moves off (nothing if it reported none:
    ``M503`` may be compiled out)."""
    steps = codes.get("M92", {})
    found = [steps_disagreement(axis, f"M92 {letter}{value:g}", value, config)
             for axis, letter in axis_map.items() if (value := steps.get(letter)) is not None]
    return [sentence for sentence in found if sentence]


def refusal(problems: list[str]) -> str:
    """The one line that refuses a controller whose settings disagree."""
    return ("the controller's settings disagree with the robot file, so labrun will not "
            "move it: " + "; ".join(problems) + "; correct the firmware's setting or the "
            "robot file (labrun doctor lists both)")
