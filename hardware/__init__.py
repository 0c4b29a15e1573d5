"""The hardware layer: the motion-controller interface and its implementations."""

from .clock import Clock, RealClock, VirtualClock
from .config import ConfigError, RobotConfig, default_config, load_config
from .controller import HardwareFault, MotionController, NotHomedError, Position
from .simulated import SimulatedController

__all__ = [
    "Clock",
    "ConfigError",
    "HardwareFault",
    "MotionController",
    "NotHomedError",
    "Position",
    "RealClock",
    "RobotConfig",
    "SimulatedController",
    "VirtualClock",
    "default_config",
    "load_config",
]
