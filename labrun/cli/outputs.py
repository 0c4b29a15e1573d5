"""The files a command writes (``--record``, ``--deck``), checked before the run starts:
a long simulation or a robot run is not lost to a path that cannot be written at its end,
and no output ever replaces the protocol it came from."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, cast

from engine.record import is_stream, replace_with_line
from hardware.config import RobotConfig

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


def unwritable(path: str) -> str | None:
    """Why a file cannot be written at ``path`` (empty, a directory, no such or no
    writable folder), or None."""
    if not path:
        return "the path is empty"
    if is_stream(path):  # written as it is (a device, a pipe, /dev/stdout): if it is there
        return None if os.path.exists(path) else "no such device or pipe"
    target = Path(os.path.realpath(path))  # a link: the file it names is written
    if target.is_dir():
        return "it is a directory"
    folder = target.parent
    if not folder.is_dir():
        return f"no folder {folder}"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        with contextlib.suppress(OSError, AttributeError):  # (no statvfs: not POSIX)
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                return "it is on a read-only file system"
        return "permission denied"
    return None


def protect_inputs(args: argparse.Namespace) -> None:
    """Note the files a command reads besides its protocol (``--robot``, a CSV file given
    by ``--param``, the labware definitions in each ``--labware-dir``): no output is
    written over them (``outputs_problem``), not even the record of a run that could not
    start."""
    inputs: dict[tuple[int, int] | str, str] = {}
    if getattr(args, "robot", None):
        inputs[_identity(args.robot)] = "the robot file"
    for name, value in (getattr(args, "param", None) or {}).items():
        if value and os.path.isfile(value):
            inputs[_identity(value)] = f"the file of --param {name}"
    for folder in getattr(args, "labware_dir", None) or ():
        with contextlib.suppress(OSError):  # (said as the folder is read)
            for path in Path(folder).rglob("*.json"):
                inputs[_identity(str(path))] = f"a labware definition of --labware-dir {folder}"
    _INPUTS.clear()
    _INPUTS.update(inputs)


_INPUTS: dict[tuple[int, int] | str, str] = {}


def outputs_problem(protocol: str, outputs: dict[str, str | None]) -> str | None:
    """Why the ``outputs`` (what each is, such as "the run record", with its path, or None
    where not asked for) cannot be written beside ``protocol``, or None: a path that
    cannot be written, or that is the protocol file, another output's or one of the
    files the command reads (``protect_inputs``)."""
    taken = {**_INPUTS, _identity(protocol): "the protocol file"}
    for what, path in outputs.items():
        if path is None:
            continue
        problem = unwritable(path)
        if problem is None and (same := taken.get(_identity(path))) is not None:
            problem = f"it is {same}; writing there would replace it"
        if problem is not None:
            return f"cannot write {what} {path}: {problem}"
        taken[_identity(path)] = f"the file of {what}"
    return None


def record_preparing(protocol: str, record: str | None) -> None:
    """``--record``: replace any older record at that path at once with one line that says
    this run is being prepared (its protocol loaded, simulated first), so that a process
    killed outright (``kill -9``) before its run begins leaves no older run's record to
    be taken for its own. The run's record replaces it as the run begins; a stream (a
    pipe, a device) is left alone, and a path that cannot be written is said later."""
    if not record or is_stream(record) or unwritable(record) is not None:
        return
    import time

    with contextlib.suppress(OSError):  # said when the run's own record cannot be either
        replace_with_line(record, {"seq": 0, "t": 0.0, "event": "run", "protocol": str(
            Path(protocol).resolve()), "created_at": time.time(), "status": "preparing"})


def record_not_started(protocol: str, record: str | None, error: str,
                       location: str | None, config: RobotConfig | None) -> None:
    """``--record`` of a run that never started (bad arguments or robot file, its
    protocol did not load, or failed in the simulation before a robot run): a record that
    says so, in place of any older one that could be taken for this run's; a line on
    stderr if it cannot be written. ``config``: the robot's (None: it could not be read,
    and the record names the built-in robot). A path that cannot be written, or is the
    protocol's, is left alone: that is the error said."""
    def write(path: str) -> None:
        from protocol_api.execute import record_unstarted  # only then: it loads the engine

        record_unstarted(protocol, path, error, location, config=config)

    _record_instead(protocol, record, write)


def record_declined(protocol: str, record: str | None, config: RobotConfig) -> None:
    """``--record`` of a run the user declined to start at the prompt: a record that says
    it was stopped before it began, in place of any older one (as ``record_not_started``)."""
    def write(path: str) -> None:
        from protocol_api.execute import record_declined as declined  # it loads the engine

        declined(protocol, path, config=config)

    _record_instead(protocol, record, write)


def _record_instead(protocol: str, record: str | None, write: Callable[[str], None]) -> None:
    """``write(record)``: the record of a run that did not start, where that path can take
    it; a line on stderr if it cannot be written."""
    if not record or outputs_problem(protocol, {"the run record": record}) is not None:
        return
    try:
        write(record)
    except OSError as exc:
        print(f"error: cannot write the run record {record}: {exc.strerror or exc}",
              file=sys.stderr)


def same_file(path: str, other: str) -> bool:
    """Whether ``path`` and ``other`` name one file."""
    return _identity(path) == _identity(other)


def is_standard_output(path: str) -> bool:
    """True when ``path`` names the file standard output writes to (``/dev/stdout``, or
    the file stdout is redirected to)."""
    try:
        stdout = os.fstat(1)
    except OSError:  # closed
        return False
    return _identity(path) == (stdout.st_dev, stdout.st_ino)


def _identity(path: str) -> tuple[int, int] | str:
    """What makes two paths one file: its device and inode if it exists, else the
    resolved path."""
    try:
        stat = os.stat(path)
    except OSError:
        return str(Path(path).resolve())
    return stat.st_dev, stat.st_ino


class _WritesThrough:
    """What a borrowed stream does with labrun's stream, ``_target``: writes through to
    it, closing only flushes, and what else a protocol may use of a standard stream
    (``fileno()``, ``name``, ``reconfigure()``...) is the target's."""

    _target: Any

    def flush(self) -> None:
        self._target.flush()

    @property
    def closed(self) -> bool:
        """Whether labrun's stream is closed (a borrowed one never closes by itself)."""
        return bool(self._target.closed)

    def close(self) -> None:
        # Also called when the borrowed stream is collected, which may be after labrun's
        # stream has closed at exit (or a stream it borrowed from did): nothing is left to
        # flush then (from Python 3.13 a finalizer's error is printed, "Exception ignored
        # in ...").
        if not self.closed:
            self.flush()

    def isatty(self) -> bool:
        return bool(self._target.isatty())

    def fileno(self) -> int:
        return int(self._target.fileno())

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        if name in ("_target", "_buffer"):  # (not set yet: a copy being made)
            raise AttributeError(name)
        return getattr(self._target, name)


class _BorrowedBytes(_WritesThrough, io.BufferedIOBase):
    """The binary stream under a borrowed one (its ``buffer``): it writes through to
    labrun's stream's, and closing or detaching it only flushes, so a protocol that closes
    ``sys.stdout.buffer`` closes nothing of labrun's."""

    _target: BinaryIO

    def __init__(self, target: BinaryIO) -> None:
        self._target = target

    def write(self, data: ReadableBuffer) -> int:
        return self._target.write(data)

    def detach(self) -> _BorrowedBytes:  # type: ignore[override]
        """What a raw stream would give (to wrap it in a text stream of one's own): one
        that writes through to labrun's stream too."""
        self.flush()
        return _BorrowedBytes(self._target)


class _Borrowed(_WritesThrough, io.TextIOBase):
    """A stream a protocol writes to: it writes through to labrun's, and closing it (or
    its ``buffer``) or detaching its ``buffer`` only flushes, so a protocol that closes
    ``sys.stdout`` closes nothing of labrun's. What else a protocol may use of a standard
    stream (``fileno()``, ``name``, ``reconfigure()``...) is labrun's stream's."""

    _target: TextIO

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._buffer: _BorrowedBytes | None = None

    @property
    def buffer(self) -> _BorrowedBytes:
        """Labrun's stream's binary stream, borrowed as this one is."""
        if self._buffer is None:
            self._buffer = _BorrowedBytes(self._target.buffer)
        return self._buffer

    def write(self, text: str) -> int:
        target = self._target
        if type(target) is not io.TextIOWrapper or os.linesep != "\n":
            return target.write(text)
        # labrun's own thread writes to the same text stream (the live log), and a
        # TextIOWrapper write that flushes drops what another thread wrote meanwhile
        # (CPython gh-119506, fixed after 3.11): the protocol's text goes, after what
        # labrun's stream holds, to the binary stream under it, which has a lock.
        target.flush()
        data = text.encode(target.encoding, target.errors or "strict")
        target.buffer.write(data)
        if target.write_through or (target.line_buffering and "\n" in text):
            target.buffer.flush()
        return len(text)

    def detach(self) -> _BorrowedBytes:  # type: ignore[override]
        """Its ``buffer`` (to wrap in a text stream of one's own), labrun's stream's
        borrowed: labrun's stream stays as it was, and so does this one."""
        self.flush()
        return self.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._target.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._target.errors


def borrowed(stream: TextIO) -> TextIO:
    """``stream`` as a protocol is given it: writing through to it, closing it or its
    ``buffer`` only flushes."""
    return cast("TextIO", _Borrowed(stream))  # what it lacks of a TextIO is stream's


class _AfterRun(_Borrowed):
    """``sys.stdout`` or ``sys.stderr`` once a protocol has run: what is printed there
    then is the protocol's (a loop that swallowed the run's end and goes on, a thread of
    its own, an ``atexit`` callback) and goes to labrun's stderr, never into the results
    labrun writes to ``own``, its stdout (the ``--json`` document)."""

    def __init__(self, own: TextIO, stderr: TextIO) -> None:
        super().__init__(stderr)
        self.own = own


def _own(stream: TextIO) -> TextIO:
    """labrun's own stream, ``stream`` unless it is one an earlier run put there."""
    return stream.own if isinstance(stream, _AfterRun) else stream


def labrun_stdout() -> TextIO:
    """The stream labrun writes its results to: its stdout, whatever a protocol has run."""
    return _own(sys.stdout)


class HeldOutput(io.TextIOWrapper):
    """Where what a protocol prints is held (``labrun run``'s simulation: shown only if
    it fails), with what a standard stream has: ``buffer``, ``name``, ``reconfigure()``;
    ``fileno()`` is ``stdout``'s, and what is written there directly (a subprocess's
    output) is not held."""

    def __init__(self, stdout: TextIO) -> None:
        self._held = io.BytesIO()
        super().__init__(self._held, encoding="utf-8", errors="backslashreplace",
                         write_through=True)
        self._stdout = stdout

    @property
    def name(self) -> str:
        return "<stdout>"

    def fileno(self) -> int:
        return self._stdout.fileno()

    def text(self) -> str:
        """What was printed."""
        self.flush()
        return self._held.getvalue().decode("utf-8", "replace")


class ProtocolStreams:
    """While a protocol loads or runs: ``sys.stdout`` and ``sys.stderr`` are borrowed
    views of labrun's own (stdout goes to stderr with ``stdout_to_stderr``, as ``--json``
    keeps stdout for its document). Afterwards, whatever the protocol did to them, both go
    to labrun's stderr: labrun writes its results to its own stdout (``labrun_stdout``),
    and nothing the protocol prints after its run lands there. Reusable."""

    def __init__(self, *, stdout_to_stderr: bool = False) -> None:
        self.stdout, self.stderr = _own(sys.stdout), _own(sys.stderr)
        self._to_stderr = stdout_to_stderr

    def __enter__(self) -> ProtocolStreams:
        out = self.stderr if self._to_stderr else self.stdout
        sys.stdout = _Borrowed(out) if out is not None else out
        sys.stderr = _Borrowed(self.stderr)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # A protocol thread still running (stuck in a loop the run was ended around) may
        # be inside print(), which holds sys.stdout without a reference of its own: the
        # lent streams must outlive the swap, or print() uses a freed object (a crash).
        lent = (sys.stdout, sys.stderr)
        if self.stderr is None:  # nowhere but labrun's own
            sys.stdout, sys.stderr = self.stdout, self.stderr
        else:  # kept as well: labrun may swap them too (sys.stdout = None at a closed pipe)
            sys.stdout = _AfterRun(self.stdout, self.stderr) if self.stdout is not None else None
            sys.stderr = _AfterRun(self.stderr, self.stderr)
        _RETIRED.append((*lent, sys.stdout, sys.stderr))
        del _RETIRED[:-RETIRED_KEPT]


RETIRED_KEPT = 8
"""How many runs' lent streams are kept alive after their run (a long-lived server's
worker lends a pair a run)."""
_RETIRED: list[tuple[object, ...]] = []
