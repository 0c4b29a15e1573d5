"""From a robot configuration to the controller that drives it and the clock of its runs.

``create_controller(config)`` builds (does not connect) the controller that
``config.controller`` names: the simulated one (on a real-time clock: a rehearsal that
takes as long as the real run) or the G-code driver in its dialect. ``emulator_config``
is the configuration file shipped for the bundled emulator (``hardware/robots``).
"""

from __future__ import annotations

import sys
from importlib import resources

from .clock import Clock, RealClock
from .config import ConfigError, RobotConfig, config_from_dict
from .controller import MotionController
from .gcode import GcodeController
from .simulated import SimulatedController

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

EMULATOR_DIALECTS = ("grbl", "marlin", "smoothie")


def create_controller(config: RobotConfig, clock: Clock | None = None,
                      ) -> tuple[MotionController, Clock]:
    """The (unconnected) controller for ``config`` and the clock a run on it uses."""
    clock = clock if clock is not None else RealClock()
    kind = config.controller.kind
    if kind == "simulated":
        return SimulatedController(config, clock), clock
    if kind == "gcode":
        try:
            return GcodeController(config), clock
        except ValueError as exc:  # dialect or axis map (load_config checks these too)
            raise ConfigError(f"controller: {exc}") from None
    raise ConfigError(f"controller.kind: {kind!r} is not 'simulated' or 'gcode'")


def emulator_config(dialect: str = "grbl") -> RobotConfig:
    """The shipped robot configuration for the emulator speaking ``dialect``."""
    if dialect not in EMULATOR_DIALECTS:
        raise ConfigError(f"controller.dialect: {dialect!r} is not one of "
                          f"{', '.join(repr(d) for d in EMULATOR_DIALECTS)}")
    name = f"emulator_{dialect}.toml"
    text = resources.files("hardware.robots").joinpath(name).read_text(encoding="utf-8")
    try:
        return config_from_dict(tomllib.loads(text))
    except (ConfigError, tomllib.TOMLDecodeError) as exc:  # pragma: no cover - shipped file
        raise ConfigError(f"hardware/robots/{name}: {exc}") from None


def emulator_config_path(dialect: str = "grbl") -> str:
    """Where the shipped emulator configuration for ``dialect`` is (for ``--robot``)."""
    return str(resources.files("hardware.robots").joinpath(f"emulator_{dialect}.toml"))
