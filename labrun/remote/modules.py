"""What each hardware module of a served run is doing, for the status and the live page.

Two sources, neither of them in the engine's hot path:

- the run's record events, which the server reads anyway (``manager``'s progress): each
  ``loadModule`` (kind, model, slot), each module call's result (the device's status
  when it ended), a thermocycler profile's steps and cycles, the module's park (a shaker
  it stopped is said so until the unpark), unpark and deactivation, what a halt did to it
  (``module_halt``) or a ``failure`` at it, said as it happens, and the summary's
  ``modules`` (each one's status at the end);
- ``follow_modules``: while a run with modules goes, the process that owns the run (the
  server's, or the run worker's) reads each loaded device's status in the engine loop
  every ``MODULE_INTERVAL`` wall seconds and hands it over when it changed, so a plate
  heating while the protocol waits, a profile going from step to step, a shaker
  spinning up are seen as they happen. A run that loads no module is never read.

``ModuleBoard`` keeps, for each module, the newest of what either said (by the run's
clock: a batch of events sent after a reading is older than it) and says it as the
status's ``modules``: plain data in, plain data out, tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio

from engine.bridge import LoopClosedError
from engine.core import EngineCore
from engine.run import Run
from engine.state import status_of
from labrun.cli.calls import magnet_height, module_display_name
from labrun.cli.report import clock

MODULE_INTERVAL = 0.5
"""Wall seconds between two readings of a run's modules (only while it has any)."""
READ_TIMEOUT = 5.0
"""Longest wait for the engine loop to answer a reading (it answers in microseconds)."""
TOLERANCE_C = 0.5
"""Within this of its target a heater is holding (``hardware.modules.physics``'s)."""

Reading = dict[str, Any]
"""One module as read in the engine loop: ``id``, ``kind``, ``model``, ``slot``,
``covers``, ``t`` (the run's clock) and ``status`` (the device's ``status()``)."""

RESTING = frozenset(("idle", "disengaged", "unknown"))
"""The states of a module that is doing nothing a person must know of before the next run."""
_DEVICE_FIELDS = ("kind", "name", "model")
"""Fields of a device's status that the module's own fields already say."""


def read_modules(engine: EngineCore) -> list[Reading]:
    """Each loaded module and its device's status now (in the engine loop)."""
    now = round(engine.clock.now(), 6)
    return [{"id": m.id, "kind": m.kind, "model": m.model, "slot": m.slot,
             "covers": list(m.covers), "t": now, "status": dict(m.device.status())}
            for m in engine.modules.loaded.values()]


async def follow_modules(run: Run, send: Callable[[list[Reading]], None], *,
                         going: Callable[[], bool],
                         interval: float = MODULE_INTERVAL) -> None:
    """While ``going()`` and the run has not ended, read its modules (once it has
    loaded one) every ``interval`` seconds and ``send`` the readings that changed."""
    engine = run.engine
    last: list[tuple[str, dict[str, Any]]] | None = None
    while going() and not status_of(engine.state).is_terminal:
        if engine.modules.loaded:  # a dict's truth, from this thread: no hop for none
            try:
                readings = await run.acall(lambda: read_modules(engine), READ_TIMEOUT)
            except TimeoutError:  # its loop is busy: the next reading will do
                pass
            except (LoopClosedError, RuntimeError):  # it has ended (or never began)
                return
            else:
                seen = [(r["id"], r["status"]) for r in readings]
                if seen != last and going():
                    last = seen
                    send(readings)
        await anyio.sleep(interval)


class _Module:
    """What the board knows of one module."""

    __slots__ = ("covers", "ending", "id", "kind", "model", "parked", "profile", "slot",
                 "status", "t")

    def __init__(self, id: str, kind: str, model: str, slot: str,
                 covers: Iterable[str] = ()) -> None:
        self.id = id
        self.kind = kind
        self.model = model
        self.slot = slot
        self.covers = list(covers)
        self.status: dict[str, Any] = {}
        self.t = float("-inf")
        self.profile: tuple[int, int] | None = None  # its last profile: steps, cycles
        self.ending: list[str] = []  # what the run's ending did to it, or failed to do
        self.parked: str | None = None  # what the run's pause stopped, till it resumes


class ModuleBoard:
    """The modules of one served run (server loop only), fed its record events in order
    and the readings ``follow_modules`` sends."""

    def __init__(self, item_uid: str, name: str = "") -> None:
        self.item_uid = item_uid
        self.name = name  # the run's protocol, as the queue names it
        self.ended = False
        self._carried: list[dict[str, Any]] = []  # left doing something by earlier runs
        self._modules: dict[str, _Module] = {}  # in the order they were loaded
        self._loads: dict[int, Mapping[str, Any]] = {}  # queued loadModule params, by id
        self._calls: dict[int, str] = {}  # queued module calls' module, by command id
        self._fields: list[dict[str, Any]] | None = []
        self._estop = False  # the halt's emergency stop has gone out

    def __bool__(self) -> bool:
        return bool(self._modules)

    # -- feeding ----------------------------------------------------------------------

    def feed(self, events: Iterable[Mapping[str, Any]]) -> bool:
        """Take record events; whether what the board says changed."""
        changed = False
        for event in events:
            kind = event.get("event")
            if kind == "command":
                changed = self._command(event) or changed
            elif kind in ("module_park", "module_unpark", "module_deactivate"):
                module = self._modules.get(str(event.get("module")))
                if module is None:
                    continue
                rpm = event.get("stopped_rpm") if kind == "module_park" else None
                parked = (f"stopped shaking (it was set to {rpm:g} rpm) while the run is "
                          "paused; it shakes again as the run resumes" if rpm else None)
                changed = changed or parked != module.parked
                module.parked = parked
                status = event.get("status")
                if isinstance(status, Mapping):
                    changed = self._set(module, status, event.get("t")) or changed
            elif kind in ("emergency_stop", "module_halt", "failure"):
                changed = self._ended_by(event) or changed
            elif kind == "summary":
                self.ended = True
                changed = True
                for module in self._modules.values():
                    module.parked = None  # the run is over: it shakes no more
                for data in event.get("modules") or ():
                    module = self._module(data)
                    status = data.get("status")
                    if isinstance(status, Mapping):
                        self._set(module, status, event.get("t"), force=True)
        if changed:
            self._fields = None
        return changed

    def update(self, readings: Iterable[Any]) -> bool:
        """Take ``follow_modules``' readings; whether what the board says changed."""
        if self.ended:  # the summary said how they ended: a late reading is not news
            return False
        changed = False
        for reading in readings:
            status = reading.get("status") if isinstance(reading, Mapping) else None
            if not isinstance(status, Mapping):
                continue  # not a reading (the worker sends none such)
            changed = self._set(self._module(reading), status, reading.get("t")) or changed
        if changed:
            self._fields = None
        return changed

    def _command(self, event: Mapping[str, Any]) -> bool:
        command_id = int(event.get("id", -1))
        status = event.get("status")
        if status == "queued":
            kind = str(event.get("type", ""))
            params = event.get("params") or {}
            if kind == "loadModule":
                self._loads[command_id] = params
            elif "/" in kind and params.get("module"):
                self._calls[command_id] = str(params["module"])
                if kind == "thermocycler/runProfile":
                    module = self._modules.get(str(params["module"]))
                    if module is not None:
                        module.profile = (len(params.get("steps") or ()),
                                          int(params.get("repetitions") or 0))
            return False
        if status not in ("completed", "failed", "interrupted", "skipped"):
            return False
        result = event.get("result") or {}
        load = self._loads.pop(command_id, None)
        if load is not None:
            if status != "completed" or load.get("module") in self._modules:
                return False
            self._module({"id": load.get("module"), "kind": load.get("module_kind"),
                          "model": result.get("model") or load.get("model"),
                          "slot": load.get("slot"), "covers": load.get("covers") or ()})
            return True
        module_id = self._calls.pop(command_id, None)
        module = self._modules.get(module_id) if module_id is not None else None
        said = result.get("module")
        if module is None or not isinstance(said, Mapping):
            return False
        return self._set(module, said, event.get("t"))

    def _ended_by(self, event: Mapping[str, Any]) -> bool:
        """What a halt, a stop or an abort did to a module as it happened, in the words
        the run log has for it: a shaker or a profile the halt stopped, a module that
        failed to stop or to be made safe (a ``failure`` at the module)."""
        kind = event.get("event")
        if kind == "emergency_stop":
            self._estop = True
            parked = [m for m in self._modules.values() if m.parked]
            for stopped in parked:  # no resume follows a halt
                stopped.parked = None
            return bool(parked)
        module = self._modules.get(str(event.get("module", event.get("location"))))
        if module is None:
            return False  # a failure elsewhere (the protocol, the cleanup)
        if kind == "failure":
            said = str(event.get("at_module") or (
                "not stopped after the emergency stop" if self._estop
                else "not made safe as the run ended") + f": {event.get('error')}")
        elif event.get("stopped_rpm"):
            said = (f"stopped shaking (it was set to {event['stopped_rpm']:g} rpm) after the "
                    "emergency stop")
        elif event.get("abandoned") == "profile":
            said = "profile stopped by the halt: the block holds the step it was at"
        else:
            return False
        module.ending.append(said)
        status = event.get("status")
        if isinstance(status, Mapping):
            self._set(module, status, event.get("t"))
        return True

    def _module(self, data: Mapping[str, Any]) -> _Module:
        """The module ``data`` (a reading, a summary's module) names, new if need be."""
        module_id = str(data.get("id"))
        module = self._modules.get(module_id)
        if module is None:
            module = self._modules[module_id] = _Module(
                module_id, str(data.get("kind", "")), str(data.get("model", "")),
                str(data.get("slot", "")), data.get("covers") or ())
        return module

    @staticmethod
    def _set(module: _Module, status: Mapping[str, Any], t: Any, *,
             force: bool = False) -> bool:
        """``status``, read at ``t`` on the run's clock, unless the module's is newer."""
        when = float(t) if isinstance(t, (int, float)) else module.t
        if when < module.t and not force:
            return False
        module.t = when
        if dict(status) == module.status:
            return False
        module.status = dict(status)
        return True

    def carry(self, earlier: ModuleBoard) -> None:
        """Keep showing the modules ``earlier`` (the run before, on a robot whose modules
        stay connected) left doing something: heating or holding, shaking, engaged, in a
        profile. A run aborted with a block at 90 °C leaves it so; until this run loads a
        module in that slot, the status says so, as that run left it (``left_by``)."""
        kept = []
        for module in earlier.fields():
            if module["state"] in RESTING:
                continue
            if "left_by" not in module:
                module = {**module, "left_by": earlier.name,
                          "lines": [*module["lines"], f"as {earlier.name} left it (not read "
                                                      "since)"]}
            kept.append(module)
        self._carried = kept
        self._fields = None

    # -- reading -----------------------------------------------------------------------

    def fields(self) -> list[dict[str, Any]]:
        """The status's ``modules``: each module the run loaded, in the order it loaded
        them, then those an earlier run left doing something in other slots (``carry``);
        none, ``[]``."""
        if self._fields is None:
            own = [view(m.id, m.kind, m.model, m.slot, m.status, t=m.t,
                        covers=m.covers, profile=m.profile) for m in self._modules.values()]
            for data, module in zip(own, self._modules.values(), strict=True):
                data["lines"] += [*filter(None, [module.parked]), *module.ending]
            slots = {m.slot for m in self._modules.values()}
            self._fields = own + [m for m in self._carried if m["slot"] not in slots]
        return self._fields


def view(module_id: str, kind: str, model: str, slot: str, status: Mapping[str, Any], *,
         t: float | None = None, covers: Iterable[str] = (),
         profile: tuple[int, int] | None = None) -> dict[str, Any]:
    """One module as the status shows it: who and where it is, its ``state`` in a word,
    its device's ``reading`` and ``lines``, what it is doing in words."""
    reading = {k: v for k, v in status.items() if k not in _DEVICE_FIELDS}
    if kind == "thermocycler" and profile is not None and reading.get("profile_step"):
        reading["profile_steps"], reading["profile_cycles"] = profile
    data: dict[str, Any] = {"id": module_id, "kind": kind, "model": model,
                            "name": module_display_name(model) if model else kind,
                            "slot": slot}
    if covers:
        data["covers"] = list(covers)
    data.update(state=state_of(kind, reading), reading=reading,
                lines=lines_of(kind, model, reading),
                t=round(t, 3) if t is not None and t != float("-inf") else None)
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def heat_state(now: Any, target: Any) -> str:
    """``idle`` (no target), ``heating``, ``cooling`` or ``holding`` (within 0.5 °C)."""
    now, target = _number(now), _number(target)
    if target is None:
        return "idle"
    if now is None:
        return "heating"  # told a target, not yet read
    if abs(now - target) <= TOLERANCE_C:
        return "holding"
    return "heating" if now < target else "cooling"


def heat_line(now: Any, target: Any) -> str:
    """``37.0 °C → 95 °C, heating``; ``23.0 °C, idle`` with no target."""
    value, goal = _number(now), _number(target)
    shown = f"{value:.1f} °C" if value is not None else "? °C"
    if goal is None:
        return f"{shown}, idle"
    return f"{shown} → {goal:g} °C, {heat_state(value, goal)}"


def state_of(kind: str, reading: Mapping[str, Any]) -> str:
    """What a module is doing, in a word or two: ``heating``, ``holding``, ``idle``,
    ``cooling``; ``shaking``; ``running profile``; ``engaged``, ``disengaged``,
    ``moving``."""
    if not reading:
        return "unknown"
    if kind == "magnetic":
        if reading.get("status") == "moving":
            return "moving"
        return "engaged" if reading.get("engaged") else "disengaged"
    if kind == "heater_shaker" and ((_number(reading.get("target_rpm")) or 0.0) > 0.0
                                    or (_number(reading.get("rpm")) or 0.0) > 0.0):
        return "shaking"
    if kind == "thermocycler":
        if reading.get("profile_step"):
            return "running profile"
        return heat_state(reading.get("block_temperature"), reading.get("block_target"))
    return heat_state(reading.get("temperature"), reading.get("target"))


def lines_of(kind: str, model: str, reading: Mapping[str, Any]) -> list[str]:
    """What a module is doing, in the lines the live page shows under its name."""
    if not reading:
        return []
    if kind == "magnetic":
        height = _number(reading.get("height_mm")) or 0.0
        if reading.get("status") == "moving":
            return [f"magnets moving, at {height:g} mm above their home"]
        if reading.get("engaged"):
            return [f"magnets engaged, {magnet_height(height, model)}"]
        return ["magnets disengaged"]
    if kind == "heater_shaker":
        rpm = _number(reading.get("rpm")) or 0.0
        target = _number(reading.get("target_rpm")) or 0.0
        if target > 0 and abs(rpm - target) < 1:
            shaker = f"shaking at {target:g} rpm"
        elif target > 0:
            shaker = f"shaker {rpm:.0f} rpm → {target:g} rpm"
        elif rpm > 0:
            shaker = f"shaker stopping ({rpm:.0f} rpm)"
        else:
            shaker = "not shaking"
        latch = reading.get("latch")
        return [f"heater {heat_line(reading.get('temperature'), reading.get('target'))}",
                shaker + (f", latch {str(latch).replace('_', ' ')}" if latch else "")]
    if kind == "thermocycler":
        block = f"block {heat_line(reading.get('block_temperature'), reading.get('block_target'))}"
        hold = _number(reading.get("hold_time_left_s")) or 0.0
        if hold > 0:
            block += f", hold {clock(hold)} left"
        lid = str(reading.get("lid") or "?").replace("_", " ")
        said = [block, f"lid {lid}, heater "
                f"{heat_line(reading.get('lid_temperature'), reading.get('lid_target'))}"]
        step, cycle = reading.get("profile_step"), reading.get("profile_cycle")
        if step:
            steps, cycles = reading.get("profile_steps"), reading.get("profile_cycles")
            said.append(f"profile step {step}" + (f" of {steps}" if steps else "")
                        + (f", cycle {cycle}" if cycle else "")
                        + (f" of {cycles}" if cycle and cycles else ""))
        return said
    return [heat_line(reading.get("temperature"), reading.get("target"))]
