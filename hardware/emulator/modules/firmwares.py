"""The four emulated Opentrons module firmwares, speaking what the real ones speak.

Each moves at the rates of the shared physical model (``hardware.modules.physics``:
temperatures as ``Track``s, magnets and shakers as ``Motion``s) on the emulator's clock,
and answers as the published firmware does (``hardware/modules/serial/README.md``).
``twin_firmware(kind, model, clock)`` is the twin of one module model: a temperature or
magnetic module GEN1 is the GEN2's firmware naming its GEN1 revision in ``M115`` (as
Opentrons' simulators name them), a thermocycler GEN1 its own, Arduino-framed firmware.
"""

from __future__ import annotations

import math

from ...clock import RealClock
from ...modules import physics
from ...modules.models import MODELS
from ...modules.physics import Track
from .base import ModuleFirmware, Motion, Refused, argument, code_of, unknown


def _celsius(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


class TemperatureModuleFirmware(ModuleFirmware):
    """Temperature module GEN2 (Arduino firmware): M104 S, M105, M18."""

    family = "arduino"
    model = "temp_deck_v20"

    def __init__(self, clock: RealClock, model: str | None = None) -> None:
        super().__init__(clock, model)
        self.plate = Track(physics.TEMPERATURE_MODULE, clock.now())

    def info(self) -> str:
        return f"serial:TDV20EMULATED model:{self.model} version:edge-emulated"

    async def execute(self, line: str) -> str:
        code, now = code_of(line), self.clock.now()
        if code == "M104":
            celsius = argument(line, "S")
            if celsius is not None:  # the firmware clamps to its range
                ramp = physics.TEMPERATURE_MODULE
                self.plate.set_target(now, max(ramp.low_c, min(ramp.high_c, celsius)))
        elif code == "M105":
            return f"T:{_celsius(self.plate.target)} C:{self.plate.temperature(now):.2f}"
        elif code == "M18":
            self.plate.set_target(now, None)
        return ""  # the Arduino firmware answers unknown codes with ok, ok

    async def overheat(self) -> None:
        """Fault: the plate overheats; the firmware switches its target off by itself and
        says so only in a line of its own, as its main loop does (then ``M105`` answers
        ``T:none``)."""
        self.plate.set_target(self.clock.now(), None)
        if self.link is not None:
            await self.link.send(b"Temperature module overheated! Deactivating.\r\n")


class MagneticModuleFirmware(ModuleFirmware):
    """Magnetic module (Arduino firmware): G0 Z, G28.2, M114.2; a move is answered when
    done. ``model`` ``mag_deck_v20`` (GEN2) counts Z in mm, ``mag_deck_v1.1`` (GEN1) in
    half millimetres."""

    family = "arduino"
    model = "mag_deck_v20"

    def __init__(self, clock: RealClock, model: str | None = None) -> None:
        super().__init__(clock, model)
        self.magnet = Motion(clock, 0.0, physics.MAGNET_SPEED_MM_S)
        """Magnet height above home, mm."""

    @property
    def units_per_mm(self) -> float:
        return 2.0 if self.model.startswith("mag_deck_v1") else 1.0

    def info(self) -> str:
        return f"serial:MDEMULATED model:{self.model} version:v1.1.2-emulated"

    async def execute(self, line: str) -> str:
        code = code_of(line)
        if code == "G0":
            height = argument(line, "Z")
            if height is not None:
                mm = max(0.0, min(physics.MAGNET_MAX_HEIGHT_MM, height / self.units_per_mm))
                await self.travel(self.magnet.head_for(mm))
        elif code == "G28.2":
            await self.travel(self.magnet.head_for(0.0))
        elif code == "M114.2":
            return f"Z:{self.magnet.value() * self.units_per_mm:.3f}"
        return ""


class ThermocyclerFirmware(ModuleFirmware):
    """Thermocycler GEN2 (STM32 firmware): lid, lid heater, block with hold time and ramp
    rate (``M104 ... R<°C/s>``, from firmware v1.0.8; ``version`` says which it is)."""

    family = "stm32"
    model = "thermocycler gen2"
    version = "v1.1.0-emulated"

    def __init__(self, clock: RealClock, model: str | None = None) -> None:
        super().__init__(clock, model)
        self.block = Track(physics.THERMOCYCLER_BLOCK, clock.now())
        self.lid_heater = Track(physics.THERMOCYCLER_LID, clock.now())
        self.hold_s: float | None = None
        self.hold_from: float | None = None
        self.lid = "open"  # as Opentrons' emulator and simulator start, and labrun's

    def info(self) -> str:
        return f"FW:{self.version} HW:Opentrons-thermocycler-gen2 SerialNo:TC2EMULATED"

    async def execute(self, line: str) -> str:
        code, now = code_of(line), self.clock.now()
        if code in ("M126", "M127"):
            where = "open" if code == "M126" else "closed"
            if self.lid != where:
                self.lid = "in_between"
                await self.travel(physics.LID_TRAVEL_S)
                self.lid = where
        elif code == "M119":
            return f"Lid:{self.lid} Seal:{'engaged' if self.lid == 'closed' else 'retracted'}"
        elif code == "M140":
            self.lid_heater.set_target(now, _in_range(argument(line, "S"),
                                                      physics.THERMOCYCLER_LID))
        elif code == "M141":
            return (f"T:{_celsius(self.lid_heater.target)} "
                    f"C:{self.lid_heater.temperature(now):.2f}")
        elif code == "M108":
            self.lid_heater.set_target(now, None)
        elif code == "M104":
            self.block.set_target(now, _in_range(argument(line, "S"),
                                                 physics.THERMOCYCLER_BLOCK),
                                  limit=argument(line, "R"))
            self.hold_s, self.hold_from = argument(line, "H"), None
        elif code == "M105":
            return self._block_report(now)
        elif code in ("M14", "M18"):
            self.block.set_target(now, None)
            self.hold_s = self.hold_from = None
            if code == "M18":
                self.lid_heater.set_target(now, None)
        else:
            raise unknown(line)
        return ""

    def _block_report(self, now: float) -> str:
        current = self.block.temperature(now)
        if self.block.target is None:
            return f"T:none C:{current:.2f} H:none Total_H:none At_target?:0"
        at_target = now >= self.block.reached_at()
        if at_target and self.hold_from is None:
            self.hold_from = self.block.reached_at()
        hold = self.hold_s or 0.0
        left = (max(0.0, hold - (now - self.hold_from)) if self.hold_from is not None
                else hold)
        return (f"T:{self.block.target:.2f} C:{current:.2f} H:{left:.2f} "
                f"Total_H:{hold:.2f} At_target?:{int(at_target)}")


class ThermocyclerGen1Firmware(ThermocyclerFirmware):
    """Thermocycler GEN1 (Arduino-framed firmware): the GEN2's lines without ``R`` (its
    ramp rate is ``M566``, which Opentrons never sends), answered as the Arduino modules
    answer (data, then ``ok`` twice; no error replies: a target out of range is clamped,
    as Opentrons' GEN1 driver clamps it, an unknown code acknowledged); ``M115`` does not
    echo its code, and ``M105`` has no ``At_target?``, as Opentrons' own emulator of it
    answers (``hardware_control/emulation/thermocycler.py``)."""

    family = "arduino"
    model = "v02"

    def info(self) -> str:
        return f"serial:TC1EMULATED model:{self.model} version:{self.version}"

    async def execute(self, line: str) -> str:
        code, now = code_of(line), self.clock.now()
        if code == "M104":
            self.block.set_target(now, _clamped(argument(line, "S"),
                                                physics.THERMOCYCLER_BLOCK))
            self.hold_s, self.hold_from = argument(line, "H"), None
        elif code == "M140":
            self.lid_heater.set_target(now, _clamped(argument(line, "S"),
                                                     physics.THERMOCYCLER_LID))
        elif code == "M105":
            return self._block_report(now).split(" At_target?:")[0]
        elif code == "M119":
            return f"Lid:{self.lid}"
        else:
            try:
                return await super().execute(line)
            except Refused:
                return ""  # an unknown code: acknowledged
        return ""


def _clamped(value: float | None, ramp: physics.Ramp) -> float | None:
    return None if value is None else max(ramp.low_c, min(ramp.high_c, value))


def _in_range(value: float | None, ramp: physics.Ramp) -> float:
    if value is None or not ramp.low_c <= value <= ramp.high_c:
        raise Refused("ERR407:thermal:Invalid target temperature")
    return value


class HeaterShakerFirmware(ModuleFirmware):
    """Heater-shaker (STM32 firmware): heater, shaker, labware latch, with the
    firmware's refusals.

    Its motor is homed at power-on (the firmware closes the latch and homes the plate
    as it starts), turning after any ``M3``, and homed again once a ``G28`` has stopped
    it. ``M3`` and ``G28`` need the latch closed (``ERR126``); opening the latch needs
    the motor homed (``ERR123``), closing it needs the motor not turning (``ERR124``).
    A latch asked to be as it already is moves nothing and is never refused.
    """

    family = "stm32"
    model = "heater-shaker"

    def __init__(self, clock: RealClock, model: str | None = None) -> None:
        super().__init__(clock, model)
        self.plate = Track(physics.HEATER_SHAKER, clock.now())
        self.shaker = Motion(clock, 0.0, physics.SHAKER_ACCEL_RPM_S)
        self.target_rpm = 0
        self.motor = "homed"  # "turning" after M3, "homing" after G28 (homed once stopped)
        self.latch_closed = True
        self.latch_moving_until: float | None = None

    def info(self) -> str:
        return "FW:v1.0.4-emulated HW:Opentrons Heater-Shaker SerialNo:HSMEMULATED"

    async def execute(self, line: str) -> str:
        code, now = code_of(line), self.clock.now()
        if code == "M104":
            celsius = argument(line, "S")
            ramp = physics.HEATER_SHAKER
            if celsius is None or not ramp.low_c <= celsius <= ramp.high_c:
                raise Refused("ERR213:heater:target temperature out of range")
            self.plate.set_target(now, celsius)
        elif code == "M105":
            return f"C:{self.plate.temperature(now):.2f} T:{_celsius(self.plate.target)}"
        elif code == "M106":
            self.plate.set_target(now, None)
        elif code == "M3":
            self._shake(int(argument(line, "S") or 0))
        elif code == "G28":
            self._closed_latch_required()
            self.target_rpm = 0
            self.motor = "homing"
            self.shaker.head_for(0.0)
        elif code == "M123":
            rpm = self.shaker.value()
            # Whole rpm, and never 0 while it still turns: a host that waits for C:0
            # after G28 before opening the latch is not then refused (ERR123) at 0.3 rpm.
            shown = round(rpm) if rpm >= 1.0 else math.ceil(rpm)
            return f"C:{shown} T:{self.target_rpm}"
        elif code in ("M242", "M243"):
            self._move_latch(closing=code == "M243")
        elif code == "M241":
            return f"STATUS:{self.latch_state()}"
        else:
            raise unknown(line)
        return ""

    def _shake(self, rpm: int) -> None:
        if rpm and not physics.SHAKER_MIN_RPM <= rpm <= physics.SHAKER_MAX_RPM:
            raise Refused("ERR120:main motor:illegal speed")
        self._closed_latch_required()  # at any speed, 0 too
        self.target_rpm = rpm
        self.motor = "turning"
        self.shaker.head_for(float(rpm))

    def _closed_latch_required(self) -> None:
        if self.latch_state() != "IDLE_CLOSED":
            raise Refused("ERR126:main motor:plate lock not closed (required)")

    def homed(self) -> bool:
        """Whether the plate is homed: at power-on, and once a G28 has stopped it."""
        return self.motor == "homed" or (self.motor == "homing"
                                         and self.shaker.value() <= 0.0)

    def _move_latch(self, *, closing: bool) -> None:
        if self.latch_closed == closing:  # already there (or on its way): nothing moves,
            return  # and the firmware refuses nothing, shaking or not
        if not self.homed():
            raise Refused("ERR124:main motor:not stopped (required)" if closing
                          else "ERR123:main motor:not home (required)")
        self.latch_closed = closing
        self.latch_moving_until = self.clock.now() + physics.LATCH_TRAVEL_S

    def latch_state(self) -> str:
        """``IDLE_OPEN``, ``IDLE_CLOSED``, ``OPENING`` or ``CLOSING`` (as ``M241`` says)."""
        if self.latch_moving_until is not None and self.clock.now() < self.latch_moving_until:
            return "CLOSING" if self.latch_closed else "OPENING"
        return "IDLE_CLOSED" if self.latch_closed else "IDLE_OPEN"


FIRMWARES: dict[str, type[ModuleFirmware]] = {
    "temperature": TemperatureModuleFirmware,
    "magnetic": MagneticModuleFirmware,
    "thermocycler": ThermocyclerFirmware,
    "heater_shaker": HeaterShakerFirmware,
}
"""Module kind -> its emulated firmware (of the kind's newest model)."""

MODEL_TWINS: dict[str, tuple[type[ModuleFirmware], str | None]] = {
    "temperatureModuleV1": (TemperatureModuleFirmware, "temp_deck_v1.1"),
    "temperatureModuleV2": (TemperatureModuleFirmware, "temp_deck_v20"),
    "magneticModuleV1": (MagneticModuleFirmware, "mag_deck_v1.1"),
    "magneticModuleV2": (MagneticModuleFirmware, "mag_deck_v20"),
    "thermocyclerModuleV1": (ThermocyclerGen1Firmware, None),
    "thermocyclerModuleV2": (ThermocyclerFirmware, None),
    "heaterShakerModuleV1": (HeaterShakerFirmware, None),
}
"""Module model -> its emulated firmware and the model its ``M115`` names (None: the
firmware's own)."""


def twin_firmware(kind: str, model: str | None, clock: RealClock) -> ModuleFirmware:
    """The emulated firmware of a module of ``kind``, of ``model`` (None: the kind's
    newest); ValueError for a kind or a model it has no twin of."""
    if kind not in FIRMWARES:
        raise ValueError(f"no emulated module of kind {kind!r}; expected one of "
                         f"{', '.join(repr(k) for k in FIRMWARES)}")
    if model is None:
        return FIRMWARES[kind](clock)
    known = MODELS.get(model)
    if known is None or known.kind != kind:
        raise ValueError(f"no emulated {kind} module of model {model!r}")
    firmware, identity = MODEL_TWINS[model]
    return firmware(clock, identity)
