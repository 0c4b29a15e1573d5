"""Steps: one top-level protocol call, or a ``with ctx.step(name):`` group (docs/design.md §4).

``StepTracker`` numbers the steps, knows the protocol line that opened the current
one, and hands commands to the engine through the channel. The ``api_step`` decorator
makes a public API method a step when it is called at top level; calls it makes
internally (``transfer`` calling ``aspirate``) stay in the same step.
"""

from __future__ import annotations

import bisect
import functools
import math
import numbers
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any, Protocol, TypeGuard, TypeVar, cast

from engine.channel import CommandChannel
from engine.commands import Command, Comment
from engine.state import StepInfo
from hardware.frozen import values

from .command_log import CommandLog
from .errors import LabwareOffDeckError, ProtocolError, ThreadCallError
from .types import Location

F = TypeVar("F", bound=Callable[..., Any])

# labrun's own packages: protocol_api, engine and hardware, and the labrun package beside
# them (the command line, the server), imported or not.
_PACKAGE_DIRS = (
    *(os.path.dirname(os.path.abspath(m.__file__ or "")) + os.sep
      for m in (sys.modules["engine"], sys.modules["hardware"],
                sys.modules[__name__.rsplit(".", 1)[0]])),
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "labrun")
    + os.sep,
)
# The standard library (contextlib, threading) is never the caller a user means; code
# installed in its site-packages may be.
# (sysconfig's "stdlib" path, without importing sysconfig: 1 ms of start-up)
_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
_SITE_DIRS = ("site-packages", "dist-packages")


def is_library(filename: str) -> bool:
    """True for labrun's own files and the standard library's (never the user's code)."""
    if filename.startswith(_PACKAGE_DIRS):
        return True
    return filename.startswith(_STDLIB_DIR) and not any(d in filename for d in _SITE_DIRS)


class StepTracker:
    """Numbers steps and sends their commands, from the thread that made it only.

    Steps, their depth and lines are one thread's story: a call from any other thread is
    refused, and it fails the run (a call that raced the protocol thread could merge
    steps and lose a deferred pause).
    """

    def __init__(self, channel: CommandChannel, protocol_file: str | None = None) -> None:
        self.channel = channel
        self.thread = threading.get_ident()  # the protocol thread
        self.protocol_file = protocol_file or None  # its code's co_filename
        self.depth = 0
        self.calls = 0  # API calls open: a call's own commands keep the line that made it
        self.index = -1  # the last step that sent a command
        self.step = StepInfo(-1, "")
        # The step open now has sent a command (and so has its index): a call that sends
        # none (a comment-free group, configure_for_volume with nothing to say) is no step
        # of the run: the run log, the record, --at step=N and the timeline all skip it.
        self._indexed = True
        self.line: str | None = None
        self.log = CommandLog(describe)  # a line per command sent, for ctx.commands()
        # Checks each command before it is sent (the deck rules of modules); may raise.
        self.guard: Callable[[Command], None] | None = None
        self._batch: list[tuple[Command, StepInfo, str | None]] = []  # sent, not yet handed over
        # file:line by code (its id) and instruction
        self._lines: dict[int, tuple[CodeType, dict[int, str], _LineTable]] = {}

    def open(self, name: str, *, implicit: bool = False, call: bool = True) -> None:
        """Enter a step (a new one at top level).

        ``implicit``: no protocol line made it. ``call``: an API call (not a group);
        the commands of an outermost call carry the protocol line of that call, also
        inside a ``with ctx.step()`` group.
        """
        if threading.get_ident() != self.thread:
            self._refuse_thread(name)
        if self.depth == 0:  # numbered once it sends a command (``_admit``)
            self.step = StepInfo(self.index + 1, name)
            self._indexed = False
        if self.calls == 0 and (call or self.depth == 0):
            self.line = None if implicit else self._caller_line()
        self.depth += 1
        self.calls += int(call)

    def close(self, *, call: bool = True) -> None:
        """Leave a step; at top level the robot is then at a checkpoint.

        An API call returns once its commands are done: the outermost one waits here for
        those it sent (and raises if one of them failed).
        """
        self.depth -= 1
        self.calls -= int(call)
        if self.calls == 0 and self._batch:
            self.flush()
        if self.depth == 0 and self._indexed:  # (one that sent nothing: no step to end)
            self.channel.step_finished(self.index)

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """Everything inside is one step."""
        self.open(name, call=False)
        try:
            yield
        finally:
            self.close(call=False)

    def execute(self, command: Command) -> dict[str, Any]:
        """Send one command of the current step and wait for its result (with those sent
        before it)."""
        self._admit(command)
        return self.flush()

    def send(self, command: Command) -> None:
        """Send one command of the current step; the API call that sends it returns once
        it is done (``close``), and so does any call that needs a result (``execute``).

        The commands of one call go to the engine together (up to ``BATCH`` at a time),
        which carries them out one by one as it would one at a time: nothing the protocol
        sees changes, and the engine's loop is woken once for all of them.

        A non-finite number that reached the command (a flow rate or an offset set
        earlier) is refused here, before it goes to the robot or the record.
        """
        self._admit(command)
        if self.calls == 0 or len(self._batch) >= BATCH:
            self.flush()

    def _admit(self, command: Command) -> None:
        if threading.get_ident() != self.thread:
            self._refuse_thread(command.kind)
        if not _plainly_finite(values(command)):
            self._refuse_non_finite(command)
        if self.guard is not None:
            self.guard(command)
        if not self._indexed:  # the step's first command: the step is one of the run's
            self.index = self.step.index
            self._indexed = True
        self._batch.append((command, self.step, self.line))

    def _refuse_non_finite(self, command: Command) -> None:
        """Raise for the first field of ``command`` that holds a nan, an infinity or a
        complex number."""
        name = self.step.name if self.depth else command.kind
        for field, value in zip(command.fields, values(command), strict=True):
            bad = non_finite(value)
            if bad is not None:
                raise ProtocolError(f"{name}: the {command.kind} command's {field} would be "
                                    f"{bad}; {FINITE}")
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, complex):
                    raise ProtocolError(f"{name}: the {command.kind} command's {field} would "
                                        f"hold {item!r}, a complex number; positions and "
                                        "amounts are real numbers")

    def flush(self) -> dict[str, Any]:
        """Wait until the commands sent are done; the result of the last one."""
        batch, self._batch = self._batch, []
        result: dict[str, Any] = {}
        if not batch:
            return result
        for (command, _, _), done in zip(batch, self.channel.execute_all(batch), strict=True):
            self.log.append(command)  # what completed, as ctx.commands() lists it
            result = done
        return result

    def warn(self, message: str) -> None:
        """Note in the run log and the record something the protocol asked for that
        labrun ignores as Opentrons does (a comment naming the protocol line)."""
        where = f"{self.line}: " if self.line else ""
        self.send(Comment(f"warning: {where}{message}"))

    def _refuse_thread(self, name: str) -> None:
        thread = threading.current_thread().name
        owner = ("the thread that runs run(ctx)" if self.protocol_file is not None
                 else "the thread that opened the context")  # (an embedding script)
        message = (f"{name} was called from thread {thread!r}; protocol calls must come "
                   f"from {owner}")
        self.channel.finish(message, self._caller_line(3))
        raise ThreadCallError(message)

    def _caller_line(self, depth: int = 2) -> str | None:
        frame = sys._getframe(depth)
        fallback = None
        while frame is not None:
            filename = frame.f_code.co_filename
            if self.protocol_file is not None and filename == self.protocol_file:
                return self._line_of(frame)
            if fallback is None and not is_library(filename):
                fallback = self._line_of(frame)
                if self.protocol_file is None:
                    return fallback
            frame = frame.f_back  # type: ignore[assignment]
        return fallback

    def _line_of(self, frame: FrameType) -> str:
        """``file:line`` of where ``frame`` is now, remembered by its code and instruction.

        Python finds a frame's line by reading the code's line table from its start: in a
        long ``run`` function (a protocol written out call by call), thousands of steps
        for every call, so the time grew with the square of its length. The table is read
        once per code instead (``_LineTable``), and each instruction's line kept.

        The code is looked up by its identity: hashing a code object hashes its constants,
        the code of every function nested in it too, at every call. The entry holds the
        code, so no other code can take its identity while it is there.
        """
        code = frame.f_code
        known = self._lines.get(id(code))
        if known is None or known[0] is not code:
            if len(self._lines) >= 1024:  # a protocol that makes code as it runs
                self._lines.clear()
            known = self._lines[id(code)] = (code, {}, _LineTable(code))
        lines = known[1]
        lasti = frame.f_lasti
        line = lines.get(lasti)
        if line is None:
            number = known[2].line_at(lasti)
            line = lines[lasti] = (f"{code.co_filename}:"
                                   f"{frame.f_lineno if number is None else number}")
        return line


class _LineTable:
    """A code object's line table as Python reads it (``co_lines``), to look an
    instruction's line up by bisection rather than by reading from the start."""

    __slots__ = ("_code", "_ends", "_numbers", "_starts")

    def __init__(self, code: CodeType) -> None:
        self._code: CodeType | None = code
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._numbers: list[int | None] = []

    def line_at(self, offset: int) -> int | None:
        """The line of the instruction at byte ``offset`` (None: none, or unknown)."""
        if self._code is not None:  # read at the first look-up
            for start, end, number in self._code.co_lines():
                self._starts.append(start)
                self._ends.append(end)
                self._numbers.append(number)
            self._code = None
        at = bisect.bisect_right(self._starts, offset) - 1
        if at < 0 or offset >= self._ends[at]:
            return None
        return self._numbers[at]


BATCH = 32
"""Commands of one API call handed to the engine at a time (a long transfer sends many)."""
FINITE = "every number a protocol gives must be finite"
_PLAIN = frozenset({str, int, bool, type(None)})
_NUMBERS = frozenset({float, int})
_TEXT_PARAMS = frozenset({"msg", "message"})


def is_number(value: object) -> TypeGuard[float]:
    """A finite real number, not a bool: what a volume, a speed or a height must be (an
    int or float, or another real such as numpy's, which a protocol reading a CSV file
    with numpy or pandas passes)."""
    if value.__class__ is float or value.__class__ is int:
        return math.isfinite(value)
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def plain_numbers(args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` with every real number of another type than int and
    float (numpy's ``int64``, ``float32``, a ``Fraction``) made an int or a float, so that
    what reaches the commands and the run record is plain."""
    def plain(value: Any) -> Any:
        if (value.__class__ not in _PLAIN and value.__class__ is not float
                and isinstance(value, numbers.Real)):
            return int(value) if isinstance(value, numbers.Integral) else float(value)
        return value

    return tuple(map(plain, args)), {k: plain(v) for k, v in kwargs.items()}


def _plainly_finite(fields: tuple[Any, ...]) -> bool:
    """True when every field is told finite without a walk: plain values, finite floats, a
    point of finite numbers, the wells under a multi-channel's nozzles (once a command:
    ``x - x == 0`` is false only for a nan or an infinity). False means look closer."""
    for value in fields:
        kind = value.__class__
        if kind is float:
            if value - value == 0.0:
                continue
        elif kind in _PLAIN:
            continue
        elif kind is tuple:
            kinds = set(map(type, value))
            if kinds <= _PLAIN:
                continue
            if kinds <= _NUMBERS:
                total = sum(value)
                if total - total == 0:
                    continue
        return False
    return True


def non_finite(value: object, depth: int = 0) -> float | None:
    """The first nan or infinity in ``value`` (a number, Point, Location, or a list,
    tuple or dict of them), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if depth > 4:  # deep enough for a list of Locations; not a general walk
        return None
    if isinstance(value, Location):
        return non_finite(value.point, depth + 1)
    if isinstance(value, (tuple, list)):
        items: Iterable[object] = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return None
    for item in items:
        if isinstance(item, float):  # the leaves told here, without a call each
            if not math.isfinite(item):
                return item
        elif item.__class__ not in _PLAIN:
            bad = non_finite(item, depth + 1)
            if bad is not None:
                return bad
    return None


def check_finite(name: str, method: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> bool:
    """Refuse an API call given a non-finite number, naming its parameter; True when a
    number of another type than int and float is among the values (``plain_numbers``)."""
    foreign = False
    for value in (*args, *kwargs.values()):
        kind = value.__class__
        if kind in _PLAIN or (kind is float and math.isfinite(value)):
            continue
        if kind is labware_module.Well:  # most calls: a well, which holds no number given
            continue
        if kind is Location:  # most calls: a point of numbers is told finite by its sum
            point = value.point
            if set(map(type, point)) <= _NUMBERS and math.isfinite(sum(point)):
                continue
        if isinstance(value, numbers.Real) and kind is not float:
            foreign = True
            if math.isfinite(value):
                continue
            break
        if non_finite(value) is not None:
            break
    else:
        return foreign  # the common case: every value finite, most of them not even walked
    import inspect  # only for a call given a non-finite number

    try:
        bound = inspect.signature(method).bind(None, *args, **kwargs).arguments
    except TypeError:
        bound = {f"argument {i + 1}": v for i, v in enumerate(args)} | kwargs
    for param, value in bound.items():
        if param in _TEXT_PARAMS:
            continue  # comment(nan) says "nan", as in Opentrons
        bad = non_finite(value)
        if bad is not None:
            verb = "is" if isinstance(value, float) else "holds"
            raise ProtocolError(f"{name}: {param} {verb} {bad}; {FINITE}")
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            raise ProtocolError(f"{name}: {param} is {value}; {FINITE}")
    return foreign


_TEXT = {
    "aspirate": "Aspirating {volume:g} uL from {well} at {flow_rate:g} uL/sec",
    "dispense": "Dispensing {volume:g} uL into {well} at {flow_rate:g} uL/sec",
    "airGap": "Air gap of {volume:g} uL above {well}",
    "blowOut": "Blowing out at {well}",
    "touchTip": "Touching tip at {well}",
    "pickUpTip": "Picking up tip from {well}",
    "dropTip": "Dropping tip into {well}",
    "moveTo": "Moving to {well}",
    "comment": "{message}",
    "prepareToAspirate": "Preparing to aspirate",
    "liftPipettes": "Lifting the pipettes clear of a module",
    "module/read": "Reading a module",
    "moveLabware": "Moving {display_name} to {destination}",
    "removeLabware": "Moving {display_name} to {destination}",
    "setLabwareOffset": "Shifting {display_name} by {offset} mm",
    "home": "Homing",
    "loadLabware": "Loading {load_name} in slot {slot}",
    "loadInstrument": "Loading {instrument_name} on the {mount} mount",
    "loadModule": "Loading {model} in slot {slot}",
    "temperatureModule/setTargetTemperature": "Setting temperature to {celsius:g} °C",
    "temperatureModule/waitForTemperature": "Waiting for the temperature",
    "temperatureModule/deactivate": "Deactivating the temperature module",
    "magneticModule/engage": "Engaging the magnets at {height_mm:g} mm",
    "magneticModule/disengage": "Disengaging the magnets",
    "thermocycler/openLid": "Opening the thermocycler lid",
    "thermocycler/closeLid": "Closing the thermocycler lid",
    "thermocycler/setTargetLidTemperature": "Setting the lid temperature to {celsius:g} °C",
    "thermocycler/setTargetBlockTemperature": "Setting the block temperature to {celsius:g} °C",
    "thermocycler/runProfile": "Running a profile of {repetitions} cycles",
    "thermocycler/waitForLidTemperature": "Waiting for the lid temperature",
    "thermocycler/waitForBlockTemperature": "Waiting for the block temperature",
    "thermocycler/deactivateLid": "Deactivating the thermocycler lid",
    "thermocycler/deactivateBlock": "Deactivating the thermocycler block",
    "thermocycler/deactivate": "Deactivating the thermocycler",
    "heaterShaker/setTargetTemperature": "Setting the heater-shaker temperature to "
                                         "{celsius:g} °C",
    "heaterShaker/waitForTemperature": "Waiting for the heater-shaker temperature",
    "heaterShaker/deactivateHeater": "Deactivating the heater-shaker heater",
    "heaterShaker/setAndWaitForShakeSpeed": "Shaking at {rpm:g} rpm",
    "heaterShaker/deactivateShaker": "Stopping the shaker",
    "heaterShaker/openLabwareLatch": "Opening the labware latch",
    "heaterShaker/closeLabwareLatch": "Closing the labware latch",
}


def _said(command: Command, params: dict[str, Any]) -> str | None:
    """The line of a command whose words depend on what it was given (None: another's)."""
    kind = command.kind
    if kind == "delay":  # the message after the time, as Opentrons' run log has it
        message = params.get("message")
        return f"Delaying for {params['seconds']:g} seconds" + (f". {message}" if message
                                                                 else "")
    if kind == "waitForResume":
        message = params.get("message")
        return "Pausing robot operation" + (f": {message}" if message else "")
    if kind == "setRailLights":
        return f"Turning the rail lights {'on' if params.get('on') else 'off'}"
    if kind == "setMaxSpeeds":
        speeds = ", ".join(f"{axis} {speed:g} mm/s" for axis, speed in params["speeds"])
        return (f"Capping the speeds: {speeds}" if speeds
                else "Lifting the caps on the speeds")
    if kind == "loadLiquid":
        wells = ", ".join(str(w) for w in params["wells"])
        volumes = set(params["volumes"])
        if params.get("liquid") is None:
            return f"Marking {wells} as empty"
        if len(volumes) == 1:
            return f"Loading {next(iter(volumes)):g} uL of {params['liquid']} into {wells}"
        return f"Loading {params['liquid']} into " + ", ".join(
            f"{w} ({v:g} uL)" for w, v in zip(params["wells"], params["volumes"],
                                             strict=False))
    return None


def describe(command: Command) -> str:
    """A line of text for the run log (``ctx.commands()``)."""
    params = command.params()
    if command.kind == "configureNozzleLayout":  # as Opentrons words it
        start, end = params.get("primary"), params.get("end")
        return (f"Configure pipette on {params.get('mount')} mount to use "
                f"NozzleLayout.{params.get('style')} layout"
                + (f" starting at nozzle {start}" if start else "")
                + (f" ending at nozzle {end}" if end else "") + ".")
    said = _said(command, params)
    if said is not None:
        return said
    text = _TEXT.get("airGap" if params.get("air_gap") else command.kind)
    if text is not None:
        try:
            return text.format(**{k: "" if v is None else v for k, v in params.items()})
        except (KeyError, ValueError, TypeError):
            pass
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{command.kind}({shown})"


class _HasSteps(Protocol):
    @property
    def _steps(self) -> StepTracker: ...


def api_step(name: str) -> Callable[[F], F]:
    """Make a public API method one step when called at top level."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: _HasSteps, *args: Any, **kwargs: Any) -> Any:
            steps = self._steps
            ended = steps.channel.closed_error
            if ended is not None:  # said before what the call finds wrong: it never runs
                raise ended
            if check_finite(name, method, args, kwargs):
                args, kwargs = plain_numbers(args, kwargs)
            steps.open(name)
            try:
                return method(self, *args, **kwargs)
            except LabwareOffDeckError as exc:  # a well's top() the call went to: the
                if steps.calls > 1:  # protocol's own call is named, the outermost one
                    raise
                raise exc.for_call(name) from None
            finally:
                steps.close()

        return cast(F, wrapper)

    return decorate


# Last, as the labware module imports this one's is_number. (An import inside
# check_finite would cost a microsecond a call: it runs for every API call.)
from protocol_api import labware as labware_module  # noqa: E402
