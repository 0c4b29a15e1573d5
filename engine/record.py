"""The run record: every event of a run, appended as JSON Lines as it happens (docs/design.md §9).

Events are kept in memory and, when a path is given, written to the file in whole
lines. The first line (``run``: the run's id, protocol, robot and clock) is on disk as
soon as the record is opened; the engine calls ``flush()`` before the robot moves (on a
real clock; on the virtual clock, where a move takes no wall time, once a command, or once
a protocol call when the protocol's thread drives the loop) and before it waits for
anything (the protocol, a resume, real time), so a run killed at any
instant leaves a file of complete lines that says where the run was, and only the last
line can be cut. ``read_record`` skips a cut last line. Nothing but JSON is written: a
non-finite number is written as the string ``"nan"``, ``"inf"`` or ``"-inf"``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .state import RunState

Event = dict[str, Any]
Listener = Callable[[Event], None]


class RunRecord:
    """An append-only list of events, mirrored to a JSON Lines file when given a path.

    ``first`` is the record's first event (``run``): with a path, the file appears with
    that line already in it (written to a temporary name, then renamed), so a record is
    never empty. With ``keep=False`` the events are written and forgotten (a long run
    keeps flat memory; ``last`` and the listeners still see every event, and ``events``
    holds only those not yet written).
    """

    def __init__(self, path: str | Path | None = None, *, clock: Callable[[], float],
                 first: Mapping[str, Any] | None = None, keep: bool = True) -> None:
        self.events: list[Event] = []
        self.path = Path(path) if path is not None else None
        self.keep = keep
        self.last: Event | None = None
        self.first: Event | None = None  # the run event, when given
        self._clock = clock
        self._fd: int | None = None
        self._seq = 0
        self._time = (math.nan, 0.0)  # the clock's last reading and its rounding
        self._unwritten = 0
        self._listeners: list[Listener] = []
        self.write_error: str | None = None  # why the file could not be written, if so
        if self.path is None:
            if first is not None:
                self.first = self.add("run", **first)
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        target = Path(os.path.realpath(self.path))  # a symbolic link: the file it names
        if is_stream(self.path):
            # A device or a pipe (/dev/stdout, a FIFO a reader follows): written to as it
            # is, never replaced by a file. A pipe with no reader is an error, not a hang.
            self._fd = _open_stream(self.path)
            try:
                os.set_blocking(self._fd, True)
                if first is not None:
                    self.first = self.add("run", **first)
                    self.flush(strict=True)
            except BaseException:
                os.close(self._fd)
                self._fd = None
                raise
            return
        if first is None:
            self._fd = os.open(target, flags, 0o644)
            _hold(self._fd)
            return
        temporary = temporary_path(target)
        try:
            self._fd = os.open(temporary, flags, 0o644)
        except OSError as exc:  # said of the path given, not of the temporary name
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        _hold(self._fd)
        try:
            self.first = self.add("run", **first)
            self.flush(strict=True)
            os.replace(temporary, target)
        except BaseException:
            os.close(self._fd)
            os.unlink(temporary)
            raise

    def add(self, event: str, **fields: Any) -> Event:
        """Append one event stamped with the run clock's time and a sequence number."""
        now = self._clock()
        if now != self._time[0]:  # the events of a command mostly share an instant
            self._time = (now, round(now, 6))
        return self._append({"seq": self._seq, "t": self._time[1], "event": event, **fields})

    def command_status(self, command_id: int, status: str, now: float) -> Event:
        """``add("command", id=command_id, status=status)`` at the clock's reading ``now``
        (the caller has just read it): a command's new status with nothing more to say,
        twice a command; its line is written from a template."""
        if status not in _PLAIN_STATUSES:
            return self.add("command", id=command_id, status=status)
        if now != self._time[0]:
            self._time = (now, round(now, 6))
        t = self._time[1]
        if t - t != 0:  # not finite: the strict encoder writes its name
            return self.add("command", id=command_id, status=status)
        return self._append(_CommandStatus(seq=self._seq, t=t, event="command",
                                           id=command_id, status=status))

    def _append(self, entry: Event) -> Event:
        self._seq += 1
        if self.keep or self._fd is not None:  # else seen by the listeners only
            self.events.append(entry)
        self.last = entry
        if self._listeners:
            for listener in self._listeners:
                listener(entry)
        return entry

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new event (in the engine loop); returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def flush(self, *, strict: bool = False) -> None:
        """Write the events not yet in the file, as whole lines, in one write.

        A write that fails (a full disk, a file system gone) raises only if ``strict``:
        else the record stops writing, and ``write_error`` says why (the engine then
        fails the run and cleans up; the events stay in memory only if ``keep``).
        """
        if self._fd is None:
            return
        events = self.events
        if self._unwritten == len(events):
            return
        pending = events[self._unwritten:]
        lines: list[str] = []  # a loop: a comprehension is a call of its own (Python < 3.12)
        try:  # json_line's common case, written out: three or four lines a command
            for e in pending:
                lines.append(
                    f'{{"seq":{e["seq"]},"t":{e["t"]!r},"event":"command","id":{e["id"]},'
                    f'"status":"{e["status"]}"}}\n' if e.__class__ is _CommandStatus
                    else "".join(_chunks(e, 0)) + "\n")
            text = "".join(lines)
        except ValueError:  # a non-finite number somewhere
            text = "".join([json_line(e) for e in pending])
        data = text.encode()
        try:
            written = os.write(self._fd, data)
            while written < len(data):
                data = data[written:]
                written = os.write(self._fd, data)
        except OSError as exc:
            if strict:
                raise
            self.write_error = f"cannot write the run record {self.path}: {exc.strerror or exc}"
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
            if not self.keep:
                events.clear()
            return
        if self.keep:
            self._unwritten = len(events)
        else:
            events.clear()

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return self._seq


def temporary_path(target: Path) -> Path:
    """Where a record for ``target`` is first written, to be renamed to it whole: a
    hidden name beside it, of this process."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def replace_with_line(path: str | Path, event: Event) -> None:
    """Replace the file at ``path`` (a link: the file it names) with one line, ``event``,
    whole (written beside it, then renamed). OSError if it cannot be written."""
    target = Path(os.path.realpath(path))
    temporary = temporary_path(target)
    try:
        temporary.write_text(json_line(event), encoding="utf-8")
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _open_stream(path: Path) -> int:
    """A descriptor to write the stream ``path`` through. A path that names the regular
    file this process's standard output or error writes to (``/dev/stdout`` redirected to
    a file) is written through that one, at its offset: opened anew, it would be written
    from the file's start, and what the process prints there would overwrite it."""
    with contextlib.suppress(OSError):
        named = os.stat(path)
        if stat.S_ISREG(named.st_mode):
            for standard in (1, 2):
                with contextlib.suppress(OSError):  # closed
                    if os.path.samestat(named, os.fstat(standard)):
                        return os.dup(standard)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)


def _hold(fd: int) -> None:
    """Lock a record's file for as long as this process has it open (the lock goes with
    the process, however it ends): ``being_written`` tells a run that is still going on
    in another process from one whose process died with it unended."""
    try:
        import fcntl  # POSIX; elsewhere a record is not locked
    except ImportError:  # pragma: no cover - not on the robots' computers
        return
    with contextlib.suppress(OSError):  # a file system without locks: not locked
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def being_written(path: str | Path) -> bool:
    """Whether a living process has the record at ``path`` open to write it now (a run
    going on, or ending, in a process that outlived the one that started it)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return False
    try:  # not blocking on a FIFO with no writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # and with it the shared lock taken to ask
    return False


class _CommandStatus(dict[str, Any]):
    """The event of ``RunRecord.command_status``: its keys and their order are fixed, its
    numbers finite, its status plain text, so its line is a template (a third of the
    encoder's time; the same text)."""

    __slots__ = ()


_PLAIN_STATUSES = frozenset({"started", "completed"})


def rounded(position: Mapping[str, float]) -> dict[str, float]:
    """A position rounded to 0.1 µm, for the record."""
    return {axis: round(value, 4) for axis, value in position.items()}


def json_line(event: Event) -> str:
    """One event as a line of strict JSON (never ``NaN`` or ``Infinity``)."""
    try:
        return "".join(_chunks(event, 0)) + "\n"
    except ValueError:  # a non-finite number somewhere: written as its name
        return "".join(_chunks(_finite(event), 0)) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


def encoder(item_separator: str = ",", key_separator: str = ":", *, allow_nan: bool = False,
            default: Callable[[Any], Any] = _jsonable) -> Callable[[Any, int], Iterable[str]]:
    """JSON on one line, the pieces of a value: ``"".join(encode(value, 0))``.

    ``JSONEncoder.encode`` builds its C encoder anew for every call (a third of the cost
    of a short line); this one is built once, with the same output as a ``JSONEncoder``
    of these settings (no check for circular structures: the values are trees).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - a Python without the C accelerator
        python = json.JSONEncoder(separators=(item_separator, key_separator),
                                  allow_nan=allow_nan, default=default)
        return lambda value, _: (python.encode(value),)
    return make(None, default, json.encoder.encode_basestring_ascii,  # type: ignore[no-any-return]
                None, key_separator, item_separator, False, False, allow_nan)


_chunks = encoder()
"""The pieces of one value's strict JSON: ``"".join(_chunks(value, 0))``."""


def read_record(path: str | Path) -> list[Event]:
    """Parse a run record; a cut last line (the process was killed mid-write) is skipped.

    Every other line must be strict JSON (``NaN`` and ``Infinity`` are refused), else
    ``NotARecordLine``; a file that is not UTF-8 text is a ``UnicodeDecodeError``.
    """
    return list(iter_record(path))


def iter_record(path: str | Path) -> Iterator[Event]:
    """The events of a run record one at a time (``read_record`` without the list)."""
    with Path(path).open(encoding="utf-8") as lines:
        pending: tuple[int, str] | None = None
        for number, line in enumerate(lines, 1):
            if pending is not None:
                yield _parse(path, *pending)
            pending = (number, line) if line.strip() else None
        if pending is not None:
            try:
                event = _DECODER.decode(pending[1])
            except json.JSONDecodeError:
                return  # the last line, cut by a kill
            yield event


class NotARecordLine(ValueError):
    """A line of a run record, other than a cut last one, that is not strict JSON:
    ``line`` is its number, from 1."""

    def __init__(self, path: str | Path, line: int) -> None:
        super().__init__(f"{path}:{line}: not a JSON record line")
        self.line = line


def _parse(path: str | Path, number: int, line: str) -> Event:
    try:
        event: Event = _DECODER.decode(line)
    except json.JSONDecodeError:
        raise NotARecordLine(path, number) from None
    return event


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


_DECODER = json.JSONDecoder(parse_constant=_not_json)
"""One strict decoder for every line (``json.loads`` with an option makes one a line)."""


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` is written to as it is rather than replaced by a new file: a
    device or a named pipe, or any path under ``/dev`` or ``/proc`` (``/dev/stdout`` is a
    link to what the process writes to, a pipe or a file, which only it may write)."""
    if str(path).startswith(("/dev/", "/proc/")):
        return True
    target = Path(os.path.realpath(path))
    return target.exists() and not target.is_file() and not target.is_dir()


def action_fields(action: object) -> dict[str, Any]:
    """An action's optional fields (option, message, reason) that are set, for the record."""
    fields = {}
    for name in ("option", "message", "reason"):
        value = getattr(action, name, None)
        if value is not None:
            fields[name] = value
    return fields


def status_fields(state: RunState) -> dict[str, Any]:
    """What a status event says besides the status: the pause's source (and, for a
    client's, where it was asked from) and message, the outcome's reason, error and
    location."""
    extra: dict[str, Any] = {}
    if state.pause is not None:
        extra["pause_source"] = state.pause.source.value
        if state.pause.requester:
            extra["pause_from"] = state.pause.requester
        if state.pause.message:
            extra["pause_message"] = state.pause.message
        if state.pause.also_for:
            extra["pause_also_for"] = state.pause.also_for
    if state.outcome is not None:
        for name in ("reason", "error", "location"):
            value = getattr(state.outcome, name)
            if value:
                extra[name] = value
    return extra
