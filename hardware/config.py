"""Robot configuration: axes, kinematics, deck geometry, parking; loaded from TOML.

A configuration is a frozen value. ``default_config()`` is the built-in OT-2-like robot;
``load_config(path)`` reads a TOML file whose keys override that default, and every
error names the offending key. An axis, mount or interlock set to ``false`` is removed
(``[axes]`` ``A = false``), so a robot file describes a 3-axis gantry as well as the
built-in six axes.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hardware.frozen import Frozen

Point3 = tuple[float, float, float]


class ConfigError(ValueError):
    """A robot configuration that cannot be used; the message names the key."""


HOMING_KINDS = ("switch", "none")


class AxisConfig(Frozen):
    """One motor axis: limits in mm, speed in mm/s, acceleration in mm/s^2, currents in A.

    Positions are the controller's machine coordinates. ``homing = "switch"``: the
    firmware's homing cycle finds the axis' switch and must leave it at ``home`` (checked
    after homing). ``homing = "none"``: the axis has no switch; the first ``home()`` after
    connecting takes wherever the axis stands as ``home`` (jog it there first), later
    ones move it there.
    """

    __slots__ = ("acceleration", "home", "homing", "idle_current", "max", "max_speed", "min",
                 "run_current", "steps_per_mm")

    max_speed: float
    acceleration: float
    home: float
    min: float
    max: float
    steps_per_mm: float
    run_current: float
    idle_current: float
    homing: str

    def __init__(self, max_speed: float, acceleration: float, home: float, min: float = 0.0,
                 max: float = 1000.0, steps_per_mm: float = 80.0, run_current: float = 1.0,
                 idle_current: float = 0.3, homing: str = "switch") -> None:
        object.__setattr__(self, "max_speed", max_speed)
        object.__setattr__(self, "acceleration", acceleration)
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "min", min)
        object.__setattr__(self, "max", max)
        object.__setattr__(self, "steps_per_mm", steps_per_mm)
        object.__setattr__(self, "run_current", run_current)
        object.__setattr__(self, "idle_current", idle_current)
        object.__setattr__(self, "homing", homing)


class MountConfig(Frozen):
    """A pipette mount: its Z axis, its plunger axis and its offset from the gantry origin.

    ``plunger_axis = ""``: the tool on this mount has no plunger motor (a 3-axis gantry
    X, Y, Z); it moves, but cannot aspirate, dispense or handle tips."""

    __slots__ = ("offset", "plunger_axis", "z_axis")

    z_axis: str
    plunger_axis: str
    offset: Point3

    def __init__(self, z_axis: str, plunger_axis: str, offset: Point3 = (0.0, 0.0, 0.0)) -> None:
        object.__setattr__(self, "z_axis", z_axis)
        object.__setattr__(self, "plunger_axis", plunger_axis)
        object.__setattr__(self, "offset", offset)


SLOWEST_FEED = 0.1
"""The slowest path speed (mm/min) labrun asks of a G-code controller: slower, a move is
refused (at the protocol's line, in a simulation too). Slower than any protocol needs (a
P300's plunger at 0.03 µL/s); Marlin and Smoothieware ignore an ``F0``, which a feed
rounded to nothing would be, and keep their last speed."""
SLOWEST_FEEDS = {"grbl": 1.0}
"""A firmware that moves no slower: GRBL's planner runs a slower block at its
``MINIMUM_FEED_RATE``, 1 mm/min."""


def slowest_feed(dialect: str) -> float:
    """The slowest feed (mm/min) labrun asks of a controller of ``dialect``."""
    return SLOWEST_FEEDS.get(dialect, SLOWEST_FEED)


class ControllerConfig(Frozen):
    """Which motion controller drives the robot.

    ``kind`` is ``simulated`` or ``gcode``; for G-code, ``port`` is a serial device, a
    pyserial URL (``socket://host:port``) or ``tcp://host:port``. ``axis_map`` sends a
    labrun axis to another firmware letter (``{B = "E"}``; default: the same letter).
    ``feed_hold`` and ``realtime_status`` say whether a Smoothieware board has the
    realtime ``!``/``~`` and ``?`` commands enabled (labrun sends ``~`` only, to leave a
    hold: Smoothieware's feed hold lets the move under way run to its end).
    ``poll_interval`` is the seconds between status queries (GRBL, Smoothieware).
    """

    __slots__ = ("axis_map", "baudrate", "dialect", "feed_hold", "kind", "poll_interval", "port",
                 "realtime_status", "timeout_s")

    kind: str
    dialect: str
    port: str
    baudrate: int
    timeout_s: float
    axis_map: Mapping[str, str]
    feed_hold: bool
    realtime_status: bool
    poll_interval: float

    def __init__(self, kind: str = "simulated", dialect: str = "grbl", port: str = "",
                 baudrate: int = 115200, timeout_s: float = 10.0,
                 axis_map: Mapping[str, str] | None = None, feed_hold: bool = True,
                 realtime_status: bool = True, poll_interval: float = 0.1) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "dialect", dialect)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "baudrate", baudrate)
        object.__setattr__(self, "timeout_s", timeout_s)
        object.__setattr__(self, "axis_map", {} if axis_map is None else axis_map)
        object.__setattr__(self, "feed_hold", feed_hold)
        object.__setattr__(self, "realtime_status", realtime_status)
        object.__setattr__(self, "poll_interval", poll_interval)

    @property
    def slowest_speed(self) -> float:
        """The slowest path speed (mm/s) a move may ask for on this controller
        (``slowest_feed``; the simulated robot, as the slowest G-code controller)."""
        return (slowest_feed(self.dialect) if self.kind == "gcode" else SLOWEST_FEED) / 60


MODULE_KINDS = ("temperature", "magnetic", "thermocycler", "heater_shaker")


class ModuleConfig(Frozen):
    """A hardware module on its own serial port (``[modules.<name>]``).

    ``kind`` is one of ``MODULE_KINDS``; ``port`` its serial device or pyserial URL
    (``labrun run --emulate`` replaces it with an emulated twin's). With
    ``heaters_off_on_stop`` a stopped or aborted run switches its heaters off; otherwise
    they keep their temperature (a shaker always stops). ``model``, one of the kind's
    (``hardware.modules.models``: ``magneticModuleV1``...), is the model attached: its
    emulated twin is that model, and a ``thermocyclerModuleV1`` is spoken to in the GEN1's
    framing; None: a twin is the kind's newest. A module's own ``M115`` says which model
    it is, and a ``load_module`` is bound by that.
    """

    __slots__ = ("baudrate", "heaters_off_on_stop", "kind", "model", "port", "timeout_s")

    kind: str
    port: str
    baudrate: int
    timeout_s: float
    heaters_off_on_stop: bool
    model: str | None

    def __init__(self, kind: str, port: str = "", baudrate: int = 115200, timeout_s: float = 10.0,
                 heaters_off_on_stop: bool = False, model: str | None = None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "baudrate", baudrate)
        object.__setattr__(self, "timeout_s", timeout_s)
        object.__setattr__(self, "heaters_off_on_stop", heaters_off_on_stop)
        object.__setattr__(self, "model", model)


class InterlockConfig(Frozen):
    """A safety input (a door, a light curtain): whether the run resumes by itself once clear."""

    __slots__ = ("auto_resume",)

    auto_resume: bool

    def __init__(self, auto_resume: bool = False) -> None:
        object.__setattr__(self, "auto_resume", auto_resume)


class RobotConfig(Frozen):
    """Everything labrun needs to know about one robot."""

    __slots__ = ("axes", "controller", "drop_tips_on_stop", "interlocks", "modules", "mounts",
                 "name", "park_position", "safe_height", "slots", "trash_slot")

    name: str
    controller: ControllerConfig
    axes: Mapping[str, AxisConfig]
    mounts: Mapping[str, MountConfig]
    slots: Mapping[str, Point3]
    safe_height: float
    park_position: tuple[float, float]
    trash_slot: str
    drop_tips_on_stop: bool
    interlocks: Mapping[str, InterlockConfig]
    modules: Mapping[str, ModuleConfig]

    def __init__(self, name: str, controller: ControllerConfig, axes: Mapping[str, AxisConfig],
                 mounts: Mapping[str, MountConfig], slots: Mapping[str, Point3], safe_height: float,
                 park_position: tuple[float, float], trash_slot: str = "12",
                 drop_tips_on_stop: bool = True,
                 interlocks: Mapping[str, InterlockConfig] | None = None,
                 modules: Mapping[str, ModuleConfig] | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "controller", controller)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "mounts", mounts)
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "safe_height", safe_height)
        object.__setattr__(self, "park_position", park_position)
        object.__setattr__(self, "trash_slot", trash_slot)
        object.__setattr__(self, "drop_tips_on_stop", drop_tips_on_stop)
        object.__setattr__(self, "interlocks", {} if interlocks is None else interlocks)
        object.__setattr__(self, "modules", {} if modules is None else modules)

    @property
    def gantry_axes(self) -> tuple[str, str]:
        """The two horizontal axes, X and Y."""
        return ("X", "Y")

    def out_of_travel(self, target: Mapping[str, float]) -> str | None:
        """Why ``target`` cannot be reached (an unknown axis, or a position outside an
        axis' travel), or None: the one reach check of the engine and every controller."""
        for axis, value in target.items():
            cfg = self.axes.get(axis)
            if cfg is None:
                return f"unknown axis {axis!r}"
            if not cfg.min - 1e-6 <= value <= cfg.max + 1e-6:
                by = value - cfg.max if value > cfg.max else cfg.min - value
                past = f"{by:.2f} mm" if by >= 0.005 else "less than 0.01 mm"
                return (f"axis {axis} would go to {value:.2f} mm, {past} outside its "
                        f"travel [{cfg.min:g}, {cfg.max:g}]")
        return None

    def mount(self, name: str) -> MountConfig:
        """The mount called ``name`` (``left`` or ``right``)."""
        try:
            return self.mounts[name]
        except KeyError:
            raise ConfigError(
                f"unknown mount {name!r}; this robot has {sorted(self.mounts)}") from None

    @property
    def z_axes(self) -> tuple[str, ...]:
        """Every mount's Z axis."""
        return tuple(m.z_axis for m in self.mounts.values())

    @property
    def plunger_axes(self) -> tuple[str, ...]:
        """Every mount's plunger axis (mounts without a plunger have none)."""
        return tuple(m.plunger_axis for m in self.mounts.values() if m.plunger_axis)


# OT-2 deck slot origins (front-left corner of each slot), mm in deck coordinates.
_OT2_SLOTS: dict[str, Point3] = {
    str(i + 1): (132.5 * (i % 3), 90.5 * (i // 3), 0.0) for i in range(12)
}


def default_config() -> RobotConfig:
    """The built-in OT-2-like robot on the simulated controller."""
    axes = {
        "X": AxisConfig(max_speed=600, acceleration=3000, home=418, min=0, max=418,
                        run_current=1.25, idle_current=0.7),
        "Y": AxisConfig(max_speed=400, acceleration=2000, home=353, min=0, max=353,
                        run_current=1.25, idle_current=0.7),
        "Z": AxisConfig(max_speed=125, acceleration=1500, home=218, min=0, max=218,
                        run_current=0.8, idle_current=0.7),
        "A": AxisConfig(max_speed=125, acceleration=1500, home=218, min=0, max=218,
                        run_current=0.8, idle_current=0.7),
        "B": AxisConfig(max_speed=40, acceleration=200, home=0, min=0, max=20,
                        steps_per_mm=768, run_current=0.5, idle_current=0.05),
        "C": AxisConfig(max_speed=40, acceleration=200, home=0, min=0, max=20,
                        steps_per_mm=768, run_current=0.5, idle_current=0.05),
    }
    mounts = {
        "left": MountConfig(z_axis="Z", plunger_axis="B", offset=(-34.0, 0.0, 0.0)),
        "right": MountConfig(z_axis="A", plunger_axis="C", offset=(0.0, 0.0, 0.0)),
    }
    return RobotConfig(
        name="ot2-sim",
        controller=ControllerConfig(),
        axes=axes,
        mounts=mounts,
        slots=dict(_OT2_SLOTS),
        safe_height=190.0,
        park_position=(340.0, 330.0),
        interlocks={"door": InterlockConfig(auto_resume=False)},
    )


def load_config(path: str | Path) -> RobotConfig:
    """Read a TOML robot configuration; unspecified keys keep the built-in defaults."""
    if sys.version_info >= (3, 11):  # imported here: most runs read no robot file
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # TOML is UTF-8, whatever the locale
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such robot configuration file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a directory, not a robot configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:  # an editor that saved Latin-1
        number = exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{number}: not UTF-8 text (byte {exc.object[exc.start]:#04x}), "
                          "as TOML must be; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        line = line_of_key(text, key_of_error(str(exc)))
        raise ConfigError(f"{path}{'' if line is None else f':{line}'}: {exc}") from None


def key_of_error(message: str) -> str | None:
    """The dotted key a configuration error names (``axes.X.max``), if any."""
    named = re.match(r"unknown key '([^']+)'", message) or re.match(r"([\w.-]+): ", message)
    return named[1] if named else None


def line_of_key(text: str, key: str | None) -> int | None:
    """The line of the TOML ``text`` that writes ``key`` (``axes.X.max``): its own line,
    else that of the nearest table or key above it that the file writes (``[axes.X]``);
    None when the file writes none of them (a default's fault). Strings and comments are
    read past: a ``[`` or ``=`` inside them is no table or key."""
    if not key:
        return None
    written: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_brackets = 0  # inside a value written over several lines (an array)
    string: str | None = None  # the delimiter of a string written over several lines
    for number, line in enumerate(text.splitlines(), 1):
        at_start = open_brackets == 0 and string is None
        code, string = _code_of(line, string)
        header = re.match(r"\s*\[\[?([^\]]+)\]\]?\s*$", code)
        assignment = re.match(r"\s*([\w\-.\"' ]+?)\s*=", code)
        if at_start and header:
            table = _key_parts(header[1])
            written.setdefault(table, number)
            continue
        if at_start and assignment:
            written.setdefault(table + _key_parts(assignment[1]), number)
        open_brackets = max(0, open_brackets + code.count("[") - code.count("]"))
    parts = _key_parts(key)
    for end in range(len(parts), 0, -1):
        if parts[:end] in written:
            return written[parts[:end]]
    below = [number for written_key, number in written.items()
             if written_key[:len(parts)] == parts]  # a table the file writes only parts of
    return min(below, default=None)


def _code_of(line: str, string: str | None) -> tuple[str, str | None]:
    """``line`` without its comment, brackets and ``#`` inside its strings left out, and
    the multi-line string delimiter still open at its end (``string``: open at its
    start, so the line's text up to the closing one is the string's)."""
    code: list[str] = []
    at = 0
    while at < len(line):
        if string is not None:  # inside a multi-line string
            end = line.find(string, at)
            if end < 0:
                return "".join(code), string
            at, string = end + len(string), None
            code.append('""')
            continue
        char = line[at]
        if char == "#":
            break
        if line.startswith(('"""', "'''"), at):
            string, at = line[at:at + 3], at + 3
            continue
        if char in "\"'":
            end = at + 1
            while end < len(line) and line[end] != char:
                end += 2 if char == '"' and line[end] == "\\" else 1
            code.append(char + re.sub(r"[\[\]#=]", "", line[at + 1:end]) + char)
            at = end + 1
            continue
        code.append(char)
        at += 1
    return "".join(code), string


def _key_parts(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))


_TOP_KEYS = {"name", "controller", "axes", "mounts", "slots", "safe_height", "park_position",
             "trash_slot", "drop_tips_on_stop", "interlocks", "modules"}


def config_from_dict(data: Mapping[str, Any], base: RobotConfig | None = None) -> RobotConfig:
    """Build a configuration from parsed TOML, overriding ``base`` (the default)."""
    base = base or default_config()
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"unknown key {sorted(unknown)[0]!r}; expected one of {sorted(_TOP_KEYS)}")
    controller = _table(data, "controller", ControllerConfig, base.controller)
    axes = _tables(data, "axes", AxisConfig, base.axes)
    for axis in base.gantry_axes:
        if axis not in axes:
            raise ConfigError(f"axes.{axis}: the gantry axis {axis} cannot be removed")
    written = data.get("axes")
    given_axes: Mapping[str, Any] = written if isinstance(written, Mapping) else {}
    for name, axis_config in axes.items():
        given = given_axes.get(name)
        _check_axis(name, axis_config, set(given) if isinstance(given, Mapping) else set())
    mounts = _tables(data, "mounts", MountConfig, base.mounts)
    if not mounts:
        raise ConfigError("mounts: a robot needs at least one mount")
    interlocks = _tables(data, "interlocks", InterlockConfig, base.interlocks)
    modules = _tables(data, "modules", ModuleConfig, base.modules)
    for name, module in modules.items():
        if module.kind not in MODULE_KINDS:
            raise ConfigError(f"modules.{name}.kind: {module.kind!r} is not one of "
                              f"{', '.join(repr(k) for k in MODULE_KINDS)}")
        if not module.baudrate > 0:
            raise ConfigError(f"modules.{name}.baudrate: expected a positive number, "
                              f"got {module.baudrate!r}")
        if not 0 < module.timeout_s < math.inf:
            raise ConfigError(f"modules.{name}.timeout_s: expected a positive number of seconds, "
                              f"got {module.timeout_s!r}")
        if module.model is not None:
            _check_model(f"modules.{name}.model", module.kind, module.model)
    slots = dict(base.slots)
    for name, value in _section(data, "slots").items():
        slots[str(name)] = _point(f"slots.{name}", value, 3)  # type: ignore[assignment]
    # Each axis has one job: a plunger on Z (or on the other mount's Z) would lower the
    # tip as it aspirates.
    jobs = {axis: "a gantry axis" for axis in base.gantry_axes}
    for mount_name, mount in mounts.items():
        for key in ("z_axis", "plunger_axis"):
            axis = getattr(mount, key)
            if not axis:
                continue
            if axis not in axes:
                raise ConfigError(f"mounts.{mount_name}.{key}: axis {axis!r} is not defined "
                                  "under [axes]")
            if axis in jobs:
                raise ConfigError(f"mounts.{mount_name}.{key}: axis {axis!r} is already "
                                  f"{jobs[axis]}; every mount needs a Z axis and a plunger "
                                  "axis of its own")
            jobs[axis] = f"mounts.{mount_name}.{key}"
    config = RobotConfig(
        name=_typed(data, "name", str, base.name),
        controller=controller,
        axes=axes,
        mounts=mounts,
        slots=slots,
        safe_height=_typed(data, "safe_height", float, base.safe_height),
        park_position=(_point("park_position", data["park_position"], 2)  # type: ignore[arg-type]
                       if "park_position" in data else base.park_position),
        trash_slot=str(_typed(data, "trash_slot", str, base.trash_slot)),
        drop_tips_on_stop=_typed(data, "drop_tips_on_stop", bool, base.drop_tips_on_stop),
        interlocks=interlocks,
        modules=modules,
    )
    _check_parking(config)
    if config.trash_slot not in config.slots:
        raise ConfigError(f"trash_slot: slot {config.trash_slot!r} is not defined under [slots]")
    if config.controller.kind not in ("simulated", "gcode"):
        raise ConfigError(
            f"controller.kind: {config.controller.kind!r} is not 'simulated' or 'gcode'")
    if config.controller.kind == "gcode" and not config.controller.port:
        raise ConfigError("controller.port: a G-code controller needs a port or URL")
    if config.controller.kind == "gcode":
        for name, module in modules.items():
            if not module.port:
                raise ConfigError(f"modules.{name}.port: a module of a real robot needs "
                                  "its serial port")
    _check_controller(config)
    return config


_DIALECTS = ("grbl", "marlin", "smoothie")


def tcp_address(port: str) -> tuple[str, int] | None:
    """The host and port number of ``tcp://host:port``; None for any other port (a serial
    device or a pyserial URL). ``ValueError`` names what is wrong with a bad one."""
    if not port.startswith("tcp://"):
        return None
    host, sep, number = port[len("tcp://"):].rpartition(":")
    if not sep or not number.isdigit():
        raise ValueError(f"bad TCP address {port!r}; expected tcp://host:port")
    if not 0 < int(number) < 65536:
        raise ValueError(f"bad TCP address {port!r}: the port number must be 1 to 65535")
    return host.strip("[]") or "127.0.0.1", int(number)


def _check_axis(name: str, axis: AxisConfig, given: set[str] | None = None) -> None:
    """An axis whose numbers a controller could use: a run never divides by zero or
    sends ``Fnan`` because of a typo in the robot file (``given``: the keys the file
    wrote for it, so that a default is named as one)."""
    key = f"axes.{name}"
    if axis.homing not in HOMING_KINDS:
        raise ConfigError(f"{key}.homing: {axis.homing!r} is not one of "
                          f"{', '.join(repr(k) for k in HOMING_KINDS)}")
    for field, unit in (("max_speed", "mm/s"), ("acceleration", "mm/s^2"),
                        ("steps_per_mm", "steps a mm")):
        value = getattr(axis, field)
        if not 0 < value < math.inf:
            raise ConfigError(f"{key}.{field}: expected a positive number of {unit}, "
                              f"got {value!r}")
    for field in ("run_current", "idle_current"):
        value = getattr(axis, field)
        if not 0 <= value < math.inf:
            raise ConfigError(f"{key}.{field}: expected a current in A, 0 or more, "
                              f"got {value!r}")
    if not (math.isfinite(axis.min) and math.isfinite(axis.max) and axis.min < axis.max):
        raise ConfigError(f"{key}: the travel min = {axis.min!r} .. max = {axis.max!r} "
                          "must be finite with min below max")
    if not axis.min <= axis.home <= axis.max:
        if given is None or "home" in given:
            raise ConfigError(f"{key}.home: {axis.home:g} is outside the axis' travel "
                              f"[{axis.min:g}, {axis.max:g}]")
        bounds = [f"{bound} = {getattr(axis, bound):g}" for bound in ("min", "max")
                  if bound in given]
        wrote = f"{' and '.join(bounds)} leave" if len(bounds) > 1 else \
            f"{bounds[0] if bounds else 'its travel'} leaves"
        raise ConfigError(f"{key}: {wrote} its home, {axis.home:g} "
                          f"(the default), outside the travel [{axis.min:g}, {axis.max:g}]; "
                          f"set {key}.home too")


def _check_parking(config: RobotConfig) -> None:
    """Where a pause parks the robot is reachable: found now, not at the first pause."""
    for z in config.z_axes:
        travel = config.axes[z]
        if not travel.min <= config.safe_height <= travel.max:
            raise ConfigError(f"safe_height: {config.safe_height:g} mm is outside the "
                              f"travel of axis {z} [{travel.min:g}, {travel.max:g}]")
    for axis, value in zip(config.gantry_axes, config.park_position, strict=True):
        travel = config.axes[axis]
        if not travel.min <= value <= travel.max:
            raise ConfigError(f"park_position: {axis} {value:g} mm is outside the travel "
                              f"of axis {axis} [{travel.min:g}, {travel.max:g}]")
    for plunger in config.plunger_axes:  # held, never switched off, while parked
        if config.axes[plunger].idle_current <= 0:
            raise ConfigError(f"axes.{plunger}.idle_current: 0 A would switch plunger {plunger}'s "
                              "motor off while the robot is paused, and the plunger of a tip "
                              "holding liquid could slip; give it a holding current (an "
                              "OT-2's is 0.05 A)")


def _check_controller(config: RobotConfig) -> None:
    ctl = config.controller
    if ctl.dialect not in _DIALECTS:
        raise ConfigError(f"controller.dialect: {ctl.dialect!r} is not one of "
                          f"{', '.join(repr(d) for d in _DIALECTS)}")
    for name in ("timeout_s", "poll_interval"):  # inf: a silent controller never noticed
        if not 0 < getattr(ctl, name) < math.inf:
            raise ConfigError(f"controller.{name}: expected a positive number of seconds, "
                              f"got {getattr(ctl, name)!r}")
    if not ctl.baudrate > 0:
        raise ConfigError(f"controller.baudrate: expected a positive number, got {ctl.baudrate!r}")
    if ctl.kind == "gcode":
        try:
            tcp_address(ctl.port)
        except ValueError as exc:
            raise ConfigError(f"controller.port: {exc}") from None
    for axis in ctl.axis_map:
        if axis not in config.axes:
            raise ConfigError(f"controller.axis_map.{axis}: axis {axis!r} is not defined "
                              "under [axes]")
    if ctl.kind == "gcode":
        # Imported here: the G-code package itself builds on this module.
        from .gcode.dialects import get_dialect
        from .gcode.planning import default_axis_map

        try:
            default_axis_map(config, get_dialect(ctl.dialect), ctl.axis_map)
        except ValueError as exc:
            raise ConfigError(f"controller.axis_map: {exc}") from None
        problem = polling_problem(ctl)
        if problem is not None:
            raise ConfigError(problem)


def polling_problem(ctl: ControllerConfig, dialect: str | None = None) -> str | None:
    """Why a controller that falls silent would be noticed late, for a controller of
    ``dialect`` (the file's own when None) asked for its status every ``poll_interval``:
    the poll is not below ``timeout_s`` (milliseconds meant, most likely); else None."""
    from .gcode.dialects import configured_dialect

    asked = configured_dialect(ctl, dialect).status_query is not None  # (a Smoothie may not)
    if not asked or ctl.poll_interval < ctl.timeout_s:
        return None
    return (f"controller: poll_interval ({ctl.poll_interval:g} s) must be below timeout_s "
            f"({ctl.timeout_s:g} s), else a controller that falls silent is noticed only a "
            "poll_interval later; both are in seconds")


def _check_model(key: str, kind: str, model: str) -> None:
    """ConfigError unless ``model`` is a model of module ``kind``."""
    from hardware.modules.models import models_of  # only a robot file that names one

    known = models_of(kind)
    if model not in known:
        raise ConfigError(f"{key}: {model!r} is not a model of a {kind.replace('_', '-')} "
                          f"module; expected one of {', '.join(repr(m) for m in known)}")


def _tables(data: Mapping[str, Any], key: str, cls: type,
            base: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with the sub-tables of ``data[key]`` overriding it; ``false`` removes one."""
    values = dict(base)
    for name, table in _section(data, key).items():
        if table is False:
            if name not in values:
                raise ConfigError(f"{key}.{name}: cannot remove {name!r}: it is not defined")
            del values[name]
        else:
            values[name] = _table_value(f"{key}.{name}", table, cls, values.get(name))
    return values


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
    return value


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    if key not in data:
        return default
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}")
    return value


def _point(key: str, value: Any, length: int) -> tuple[float, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) != length
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{key}: expected a list of {length} numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _names(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key}: expected a table of axis letters, got {value!r}")
    return dict(value)


def _table(data: Mapping[str, Any], key: str, cls: type, default: Any) -> Any:
    if key not in data:
        return default
    return _table_value(key, data[key], cls, default)


def _table_value(key: str, table: Any, cls: type, default: Any) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{key}: expected a table, got {table!r}")
    import inspect  # a config file is read: not on a simulation's start-up

    fields = inspect.get_annotations(cls)
    values: dict[str, Any] = {} if default is None else {
        name: getattr(default, name) for name in fields}
    for name, value in table.items():
        if name not in fields:
            raise ConfigError(f"{key}.{name}: unknown key; expected one of {sorted(fields)}")
        expected = fields[name]
        full = {f"{key}.{name}": value}  # errors name the whole key: controller.timeout_s
        if expected in ("float", float):
            value = _typed(full, f"{key}.{name}", float, None)
        elif expected in ("int", int):
            value = _typed(full, f"{key}.{name}", int, None)
        elif expected in ("str", str, "str | None"):
            value = _typed(full, f"{key}.{name}", str, None)
        elif expected in ("bool", bool):
            value = _typed(full, f"{key}.{name}", bool, None)
        elif expected in ("Point3",):
            value = _point(f"{key}.{name}", value, 3)
        elif expected in ("Mapping[str, str]",):
            value = _names(f"{key}.{name}", value)
        values[name] = value
    parameters = inspect.signature(cls).parameters
    missing = [name for name in fields
               if name not in values and parameters[name].default is inspect.Parameter.empty]
    if missing:
        raise ConfigError(f"{key}: missing key {missing[0]!r}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {exc}") from None
