"""What the four serial modules share: the wire, the call table, polling on the run's clock.

A ``SerialModule`` is a ``Device`` (``hardware.devices``): ``call(method, params)`` finds
the kind's handler in ``handlers()``; waits poll the firmware every ``poll_interval``
seconds of the run's clock until the module says it is there, so a wait cancelled by a
pause is simply called again and waits only for what remains. ``status()`` is what the
last answers said, and the ``model`` the module said it is (``M115``, read as Opentrons
reads it: ``hardware.modules.models``).

What goes wrong while nothing is asked of the module (its connection lost, an error the
firmware reports on its own, no answer to the wire's keep-alive) goes at once to the
listener ``set_fault_listener`` names, in that listener's loop, naming the module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from ...clock import Clock
from ...controller import FaultListener, HardwareFault
from ...gcode.errors import ControllerTimeout
from ...wakeup import loop_waker
from ..dispatch import Handler, call_handler
from ..models import display_name, model_from_identity, models_of
from ..physics import TOLERANCE_C
from .wire import Family, ModuleWire

CONNECT_TRIES = 3
"""Opentrons' host tries each module command three times, reopening the port between."""

IDENTITIES = {"temperature": ("temp_deck", "tempdeck"), "magnetic": ("mag_deck", "magdeck"),
              "thermocycler": ("thermocycler",), "heater_shaker": ("heater-shaker",)}
"""Words in each kind's ``M115`` answer (``model:temp_deck_v20``, ``HW:Opentrons
Heater-Shaker``)."""


OTHER_FRAMING_TIMEOUT_S = 2.0
"""Seconds to wait for ``M115`` asked in another model's framing."""

POLL_INTERVAL_S = 0.2
"""Seconds of the run's clock between two queries while waiting (Opentrons polls its
modules every 0.1-1 s)."""


class SerialModule:
    """Base of the serial temperature, magnetic, thermocycler and heater-shaker modules."""

    kind: ClassVar[str]
    family: ClassVar[Family]
    other_family: ClassVar[Family | None] = None
    """The framing another model of the kind speaks (a thermocycler's GEN1 and GEN2): a
    module that does not answer is asked in it once, to say what it is."""

    def __init__(self, name: str, port: str, clock: Clock, *, baudrate: int = 115200,
                 timeout_s: float = 10.0, poll_interval: float = POLL_INTERVAL_S,
                 heaters_off_on_stop: bool = False, model: str | None = None) -> None:
        self._name = name
        self.expected_model = model
        """The model the robot file names (None: any of the kind), checked at connect."""
        self.clock = clock
        self.poll_interval = poll_interval
        self.heaters_off_on_stop = heaters_off_on_stop
        self.wire = ModuleWire(self.family, port, baudrate=baudrate, timeout_s=timeout_s,
                               on_fault=self._wire_fault)
        self.firmware: str = ""
        """What the module said it is (``M115``)."""
        self.model: str | None = None
        """Its model (``temperatureModuleV2``...), from ``M115``; None before it answered."""
        self._fault_listener: FaultListener | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def port(self) -> str:
        return self.wire.port

    async def connect(self) -> None:
        """Open the port and ask the module what it is (``M115``), trying again on a
        fresh port when it does not answer (an Arduino module resets when its port
        opens and misses what arrives while it boots); then read its state."""
        for attempt in range(1, CONNECT_TRIES + 1):
            await self.wire.open()
            try:
                self.firmware = await self.wire.request("M115")
                self._check_identity(self.firmware)
                self.model = model_from_identity(self.kind, self.firmware)
                self._check_model(self.model)
                self.identify(self.firmware)
                await self.refresh()
                self.wire.keep_alive_query = self.refresh  # its state, read while quiet
                self.wire.keep_alive = True
                return
            except ControllerTimeout:
                await self.wire.close()
                if attempt == 1 and self.other_family is not None:
                    self._check_model(await self._model_in_other_framing(self.other_family))
                if attempt == CONNECT_TRIES:
                    raise
            except BaseException:
                await self.wire.close()
                raise

    async def disconnect(self) -> None:
        await self.wire.close()

    async def call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Run ``method``; a fault it meets names this module (the wire's name only its
        port: a lost connection said ``lost /dev/ttyACM0: ...``)."""
        with self.naming_faults():
            return await call_handler(self.kind, self.name, self.handlers(), method, params)

    @contextlib.contextmanager
    def naming_faults(self) -> Iterator[None]:
        """A fault raised inside names this module (``named``)."""
        try:
            yield
        except HardwareFault as fault:
            named = self.named(fault)
            if named is fault:
                raise
            raise named from fault

    async def park(self) -> Mapping[str, Any]:
        """Temperatures and magnets hold during a pause: nothing to do."""
        return {}

    async def unpark(self) -> None:
        """Nothing was stopped at the pause."""

    async def deactivate(self) -> None:
        """The run is stopped or aborted: make the module safe (``make_safe``); a fault
        names this module (the wire's name only its port)."""
        with self.naming_faults():
            await self.make_safe()

    async def stop_moving(self) -> Mapping[str, Any]:
        """A halt: nothing of it moves by itself (a heater-shaker's plate does)."""
        return {}

    def status(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "name": self.name, "port": self.port,
                "model": self.model, "status": self.state(), **self.readings()}

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """Tell ``listener`` (in the loop this is called from) of every fault the module's
        wire meets, also while nothing is asked of it; None: nobody."""
        if listener is None:
            self._fault_listener = None
            return
        schedule = loop_waker()

        def forward(fault: HardwareFault) -> None:
            with contextlib.suppress(RuntimeError):  # that loop has ended: nobody listens
                schedule(lambda: listener(fault))

        self._fault_listener = forward

    def abandon(self) -> bool:
        """Nothing runs by itself (the thermocycler's profile does)."""
        return False

    def named(self, fault: HardwareFault) -> HardwareFault:
        """``fault`` naming this module's kind, table and port (itself when it does)."""
        said = str(fault)
        if f"[modules.{self.name}]" in said:
            return fault
        said = said.removeprefix(f"{self.port}: ")
        if said.startswith(f"lost {self.port}: "):  # the transport's words
            said = "lost the connection: " + said.removeprefix(f"lost {self.port}: ")
        return type(fault)(f"the {self.kind.replace('_', '-')} module "
                           f"[modules.{self.name}] on {self.port}: {said}")

    def _wire_fault(self, fault: HardwareFault) -> None:
        listener = self._fault_listener
        if listener is not None:
            listener(HardwareFault(str(self.named(fault))))

    # -- for the kinds ----------------------------------------------------------------

    def _check_identity(self, info: str) -> None:
        """Refuse a module that says it is of another kind (a swapped cable)."""
        lowered = info.lower()
        for kind, words in IDENTITIES.items():
            if kind != self.kind and any(word in lowered for word in words):
                raise HardwareFault(
                    f"the module on {self.port} says it is a {kind.replace('_', '-')} "
                    f"module ({info}), not a {self.kind.replace('_', '-')} module: check "
                    f"the port of [modules.{self.name}]")

    def _check_model(self, said: str | None) -> None:
        """Refuse a module that says it is another model than the robot file names (a
        GEN1 thermocycler frames its lines otherwise, a GEN1 magnet counts half-mm)."""
        expected = self.expected_model
        # Without a model named, a thermocycler is spoken to as the kind's newest; the
        # other kinds' drivers adapt to whichever model answers.
        speaks = expected or (models_of(self.kind)[-1] if self.other_family else None)
        if said is None or speaks is None or said == speaks:
            return
        what = (f"the {self.kind.replace('_', '-')} module on {self.port} says it is a "
                f"{display_name(said)} ({said})")
        if expected is None:
            raise HardwareFault(f"{what}, which is spoken to otherwise: add model = "
                                f"{said!r} to [modules.{self.name}] in the robot file")
        raise HardwareFault(f"{what}, but [modules.{self.name}] says model = {expected!r}: "
                            f"correct the model in the robot file, or attach a "
                            f"{display_name(expected)}")

    async def _model_in_other_framing(self, family: Family) -> str | None:
        """The model a module that did not answer ``M115`` says it is when asked in the
        other ``family``'s framing (None: no answer that way either)."""
        wire = ModuleWire(family, self.port, baudrate=self.wire.baudrate,
                          timeout_s=min(self.wire.timeout_s, OTHER_FRAMING_TIMEOUT_S))
        try:
            await wire.open()
            answer = await wire.request("M115")
        except HardwareFault:  # no answer that way either (or a module still booting):
            return None  # the connect's own tries go on
        finally:
            await wire.close()
        self._check_identity(answer)  # another kind of module on this port
        return model_from_identity(self.kind, answer)

    async def make_safe(self) -> None:
        """What a stop, an abort or a failure does to the module (each kind says)."""
        raise NotImplementedError

    def identify(self, info: str) -> None:
        """Adapt to what ``M115`` said the module is (a GEN1 magnet counts half-mm)."""

    def handlers(self) -> dict[str, Handler]:
        """Method name -> its handler."""
        raise NotImplementedError

    async def refresh(self) -> None:
        """Query the module and update what ``readings`` reports."""
        raise NotImplementedError

    def readings(self) -> dict[str, Any]:
        """The kind's status fields, as last read."""
        raise NotImplementedError

    def state(self) -> str:
        """One word for the module's state (``idle``, ``heating``, ``engaged``...)."""
        raise NotImplementedError

    def check_target_kept(self, heater: str, sent: float | None, target: float | None,
                          reading: float | None) -> None:
        """Raise when the module reports no target for its ``heater`` (``""``, ``"block
        "``, ``"lid "``) while the driver set one, ``sent``: its firmware switched it off
        by itself (a temperature module that overheats does, saying so only in a line of
        its own), and a wait for the target would end as if it were reached."""
        if sent is None or target is not None:
            return
        where = "" if reading is None else f" (it reads {reading:g} °C)"
        raise HardwareFault(
            f"the {self.kind.replace('_', '-')} module [modules.{self.name}] on "
            f"{self.port} switched its {heater}target of {sent:g} °C off by itself{where}: "
            "a module does so when it overheats or meets a fault; check it")

    async def poll_until(self, reached: Callable[[], bool]) -> None:
        """Refresh every ``poll_interval`` of the run's clock until ``reached()``."""
        await self.refresh()
        while not reached():
            await self.clock.sleep_until(self.clock.now() + self.poll_interval)
            await self.refresh()


def celsius(params: Mapping[str, Any], key: str = "celsius") -> float:
    """A temperature parameter, as a float."""
    return float(params[key])


def state_of(temperature: float | None, target: float | None) -> str:
    """``idle`` with no target, else ``heating``/``cooling`` until within tolerance,
    then ``holding at target`` (the Opentrons words)."""
    if target is None or temperature is None:
        return "idle"
    if abs(temperature - target) <= TOLERANCE_C:
        return "holding at target"
    return "heating" if temperature < target else "cooling"


def near(temperature: float | None, target: float | None) -> bool:
    """Whether a heater has reached its target (no target: nothing to wait for)."""
    return target is None or (temperature is not None
                              and abs(temperature - target) <= TOLERANCE_C)
