"""The run's hardware modules inside the engine loop (docs/design.md §5 and §7).

``load_module`` binds each module a protocol loads to one of the robot's devices of
the same kind (the first one not yet in use) that is the model it asks for or one
Opentrons takes in its place (``hardware.modules.models``: a Temperature Module GEN1 for
a GEN2 and back; the attached model is the module's from then on); a device of another
model is refused at the ``load_module`` line, as Opentrons refuses it. A simulated robot
with none of that kind gets a simulated module of the model asked for (its heaters off
at a stop when the robot file's module of that kind says so), a real robot fails the run
with a clear reason. Module commands are device calls through ``hardware.devices.Device``,
whether simulated or over serial. At a pause every device is parked (a shaker stops;
temperatures, magnets and a running profile hold or run on) and unparked before the run
continues; stop, abort and a failure deactivate them (the shaker stops, heaters only when so
configured); halt leaves their heaters as the emergency stop leaves them, but a profile
labrun steps through is abandoned at once, and once the emergency stop has gone out a
shaking plate stops. A fault a bound module meets while the run asks nothing of it (its
cable pulled, an error its firmware reports on its own) goes to the engine's fault path,
as the controller's lost connection does. Each module keeps a timeline of the targets it
was given, for the summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from hardware.config import ModuleConfig, RobotConfig
from hardware.controller import HardwareFault
from hardware.devices import Device
from hardware.frozen import replace

from . import commands as c
from .core import EngineCore
from .entries import CommandEntry
from .robot_model import CommandError
from .state import EndKind

_ENDING_WORDS = {EndKind.STOP: "stop", EndKind.ABORT: "abort", EndKind.FAIL: "failure"}
"""What a deactivation's failure calls the ending that made the modules safe."""


class LoadedModule:
    """A module the protocol loaded: where it is, the device it is bound to, its targets."""

    __slots__ = ("covers", "device", "id", "kind", "model", "slot", "timeline")

    def __init__(self, id: str, kind: str, model: str, slot: str, covers: tuple[str, ...],
                 device: Device) -> None:
        self.id = id
        self.kind = kind
        self.model = model
        self.slot = slot
        self.covers = covers
        self.device = device
        self.timeline: list[dict[str, Any]] = []


def no_free_module(kind: str, model: str, slot: str, have: list[str], *,
                   served_emulator: bool = False) -> str:
    """Why a ``load_module`` of ``kind`` cannot be bound to the robot's modules ``have``
    (each ``name (kind)``), and how to name one in the robot file; ``served_emulator``: the
    robot is the emulator ``labrun serve --emulate`` started, which plays the modules of
    the robot file given with ``--config`` (none without one)."""
    how = (f"labrun serve --emulate plays the modules of the robot file given with --config: "
           f"name one there as [modules.<name>] with kind = \"{kind}\" and start the server "
           "again" if served_emulator else
           f"name them in the robot file as [modules.<name>] with kind = \"{kind}\" and its "
           "port")
    return (f"load_module: this robot has no free {kind} module for {model} in slot "
            f"{slot}; its modules: {', '.join(have) or 'none'} ({how})")


def wrong_model(model: str, slot: str, kind: str, found: list[tuple[str, str]]) -> str:
    """Why a ``load_module`` of ``model`` cannot be bound to the robot's free modules of
    its kind, ``found`` (each its name and the model it says it is)."""
    from hardware.modules.models import display_name

    theirs = ", ".join(f"[modules.{name}] is a {display_name(attached)} ({attached})"
                       for name, attached in found)
    other = found[0][1]
    return (f"load_module: the protocol asks for a {display_name(model)} ({model}) in slot "
            f"{slot}, but the robot's {kind.replace('_', '-')} module {theirs}, whose "
            f"geometry and behaviour differ, and Opentrons refuses it in its place: load "
            f"it as {other!r}, or attach a {display_name(model)}")


def modules_for(config: RobotConfig, needed: Iterable[Mapping[str, Any]], *, emulated: bool,
                served_emulator: bool = False) -> tuple[RobotConfig, str | None]:
    """The robot's configuration for a protocol whose simulation loaded the modules
    ``needed`` (its ``loadModule`` events): on the emulator, with an emulated twin of each
    module the robot file does not name, of the model the protocol asks for (a GEN1 is
    bound as a GEN1); on a robot, the same, and what it lacks (the first ``load_module``
    it cannot bind, with its line), so that the run fails before anything is connected
    or moved. ``served_emulator``: the robot is an emulator already started (by ``labrun
    serve --emulate``), whose modules are fixed like a robot's; said in what it lacks."""
    have: dict[str, int] = {}
    for module in config.modules.values():
        have[module.kind] = have.get(module.kind, 0) + 1
    added = dict(config.modules)
    for event in needed:
        params = event["params"]
        kind = str(params["module_kind"])
        if have.get(kind, 0) > 0:
            have[kind] -= 1
            continue
        if not emulated:
            where = f"{event['line']}: " if event.get("line") else ""
            return config, where + no_free_module(
                kind, str(params["model"]), str(params["slot"]),
                sorted(f"{name} ({m.kind})" for name, m in config.modules.items()),
                served_emulator=served_emulator)
        name = kind
        while name in added:
            name += "_"
        added[name] = ModuleConfig(kind, model=str(params["model"]))
    if len(added) == len(config.modules):
        return config, None
    return replace(config, modules=added), None


def _could_not(module: LoadedModule, what: str, fault: HardwareFault) -> str:
    """What a person reads of ``fault``, met as the run did ``what`` to ``module`` ("be
    made safe at the run's stop"): the slot the module was loaded in, what could not be
    done, and the device's own words (which name the module and its port)."""
    return f"the module loaded in slot {module.slot} could not {what}: {fault}"


def _failure_at(module: LoadedModule, what: str, fault: HardwareFault) -> dict[str, str]:
    """The fields of the record's ``failure`` at ``module``: the whole line (``error``),
    the module (``location``), and what the module's own card says (``at_module``: the
    line without the slot, which the card is)."""
    return {"error": _could_not(module, what, fault), "location": module.id,
            "at_module": f"could not {what}: {fault}"}


class Modules:
    """The modules of one run and the robot's devices they are bound to."""

    def __init__(self, engine: EngineCore, devices: Mapping[str, Device] | None = None, *,
                 simulate: bool = True) -> None:
        self.engine = engine
        self.devices: dict[str, Device] = dict(devices or {})
        self.simulate = simulate  # a robot with no device of a kind gets a simulated one
        self.loaded: dict[str, LoadedModule] = {}
        self._profiles: set[int] = set()  # entries whose profile has been started
        self._timed: set[int] = set()  # entries already on a module's timeline
        self._configs_used: set[str] = set()  # robot-file modules a simulated one stands for

    def _bind(self, command: c.LoadModule) -> tuple[Device, str]:
        """A free device for ``command`` and the model it is (the one asked for when it
        does not say)."""
        # imported at the first load: a run without modules never needs module code
        from hardware.modules.models import takes

        used = {id(module.device) for module in self.loaded.values()}
        refused: list[tuple[str, str]] = []
        for device in self.devices.values():
            if device.kind != command.module_kind or id(device) in used:
                continue
            attached = device.status().get("model")
            if attached is None or takes(command.model, str(attached)):
                return device, str(attached or command.model)
            refused.append((device.name, str(attached)))
        if refused:
            raise CommandError(wrong_model(command.model, command.slot, command.module_kind,
                                           refused))
        if not self.simulate:
            raise CommandError(no_free_module(
                command.module_kind, command.model, command.slot,
                sorted(f"{d.name} ({d.kind})" for d in self.devices.values())))
        # imported at the first simulated module: a run without one never needs it
        from hardware.modules.simulated import simulated_device

        name = f"{command.module_kind}-{command.slot}"
        device = simulated_device(command.module_kind, name, self.engine.clock,
                                  heaters_off_on_stop=self._heaters_off(command.module_kind),
                                  model=command.model)
        self.devices[name] = device
        return device, command.model

    def _heaters_off(self, kind: str) -> bool:
        """Whether the robot file's next module of ``kind`` (the one a robot would bind)
        switches its heaters off at a stop."""
        for name, module in self.engine.config.modules.items():
            if module.kind == kind and name not in self._configs_used:
                self._configs_used.add(name)
                return module.heaters_off_on_stop
        return False

    def _watch(self, module: LoadedModule) -> None:
        """Hear the faults ``module`` meets on its own: they fail a waiting run at once
        (the engine's fault path), named by the slot the protocol loaded it in."""
        engine = self.engine

        def report(fault: HardwareFault) -> None:
            engine.on_fault(HardwareFault(f"{fault} (the module loaded in slot "
                                          f"{module.slot})"))

        module.device.set_fault_listener(report)

    def halt(self) -> None:
        """The run halts: every profile labrun steps through stops now (the heaters stay
        as they are, as the emergency stop leaves them)."""
        for module in self.loaded.values():
            if module.device.abandon():
                self.engine.record.add("module_halt", module=module.id, abandoned="profile")

    async def stop_moving(self) -> None:
        """After a halt's emergency stop: each module stops what still moves (a shaking
        plate; heaters stay); a device fault is recorded, not raised, naming the slot the
        module was loaded in."""
        for module in self.loaded.values():
            try:
                stopped = await module.device.stop_moving()
            except HardwareFault as exc:
                self.engine.record.add(
                    "failure", **_failure_at(module, "be stopped at the run's halt", exc))
                continue
            if stopped:
                self.engine.record.add("module_halt", module=module.id,
                                       status=dict(module.device.status()), **stopped)

    async def execute(self, entry: CommandEntry) -> None:
        """Carry out a module command (a load or a device call) and record its result."""
        engine, cmd = self.engine, entry.command
        if isinstance(cmd, c.LoadModule):
            module = self.loaded.get(cmd.module)
            if module is None:
                device, model = self._bind(cmd)
                module = self.loaded[cmd.module] = LoadedModule(
                    cmd.module, cmd.module_kind, model, cmd.slot, cmd.covers, device)
                self._watch(module)
            engine.book.set_status(entry, "completed",
                                   result={**cmd.apply(engine.model), "model": module.model,
                                           "device": module.device.name})
            return
        assert isinstance(cmd, c.ModuleCommand)
        module = self.loaded.get(cmd.module)
        if module is None:
            raise CommandError(f"{cmd.kind}: no module {cmd.module!r} is loaded")
        device = module.device
        if cmd.sets_target and entry.id not in self._timed:
            self._timed.add(entry.id)
            module.timeline.append({"t": round(engine.clock.now(), 3), "call": cmd.method,
                                    **cmd.device_params()})
        engine.record.flush()  # what the module is about to do is on disk first
        if isinstance(cmd, c.ReadModule):
            result: Mapping[str, Any] = {}
        elif isinstance(cmd, c.RunProfile):
            await self.start_profile(entry)
            result = await device.call("wait_for_profile", {})
        else:
            result = await device.call(cmd.method, cmd.device_params())
        engine.book.set_status(entry, "completed",
                          result={**result, "module": dict(device.status())})

    async def start_profile(self, entry: CommandEntry) -> None:
        """Start the profile of ``entry`` (a ``RunProfile``) on its thermocycler, once:
        after a pause it is only waited for."""
        cmd = entry.command
        assert isinstance(cmd, c.RunProfile)
        module = self.loaded.get(cmd.module)
        if module is None:
            raise CommandError(f"{cmd.kind}: no module {cmd.module!r} is loaded")
        if entry.id not in self._profiles:
            self.engine.record.flush()  # what the module is about to do is on disk first
            await module.device.call("execute_profile", cmd.device_params())
            self._profiles.add(entry.id)

    async def park(self) -> None:
        """The run parks: each device stops what must stop (a shaker) and holds the rest;
        a device fault fails the run, naming the slot the module was loaded in."""
        for module in self.loaded.values():
            # What it stopped is the device's to say: a serial module's status is its last
            # reading, from before a shake the pause cut off once its line went out.
            try:
                stopped = await module.device.park()
            except HardwareFault as exc:
                raise HardwareFault(_could_not(module, "be stopped at the run's pause",
                                              exc)) from exc
            self.engine.record.add("module_park", module=module.id,
                                   status=dict(module.device.status()), **stopped)

    async def unpark(self) -> None:
        """The run resumes: each device back to what was set before the run moves on; a
        device fault fails the run, naming the slot the module was loaded in."""
        for module in self.loaded.values():
            try:
                await module.device.unpark()
            except HardwareFault as exc:
                raise HardwareFault(_could_not(
                    module, "take up again at the run's resume what the pause stopped",
                    exc)) from exc
            self.engine.record.add("module_unpark", module=module.id,
                                   status=dict(module.device.status()))

    async def deactivate(self) -> None:
        """A stop, an abort or a failure: make every module safe; a device fault is
        recorded, not raised, naming the slot the module was loaded in and what could not
        be done."""
        ending = self.engine.state.ending
        end = _ENDING_WORDS.get(ending.kind, "end") if ending is not None else "end"
        for module in self.loaded.values():
            try:
                await module.device.deactivate()
            except HardwareFault as exc:
                self.engine.record.add(
                    "failure", **_failure_at(module, f"be made safe at the run's {end}", exc))
            with contextlib.suppress(HardwareFault):
                self.engine.record.add("module_deactivate", module=module.id,
                                       status=dict(module.device.status()))

    def report(self) -> list[dict[str, Any]]:
        """Each module: kind, model, slot, device, labware on it, its timeline of targets."""
        on_slot = self.engine.model.labware
        return [{"id": m.id, "kind": m.kind, "model": m.model, "slot": m.slot,
                 **({"covers": list(m.covers)} if m.covers else {}),
                 "device": m.device.name, "labware": on_slot.get(m.slot),
                 "timeline": list(m.timeline), "status": dict(m.device.status())}
                for m in self.loaded.values()]
