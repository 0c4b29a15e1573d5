"""The run log ``ctx.commands()`` returns, in flat memory however long the run.

Commands are kept as they are sent and described only when the log is read. Every
``CHUNK`` commands, the batch goes to a temporary file as one pickle (a command is a
small immutable value: about 45 bytes pickled, a third of the cost of describing it),
so a protocol of a million calls keeps a thousand commands in memory, and a run whose
protocol never reads its log never describes a command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from engine.commands import Command

CHUNK = 1024


class CommandLog:
    """A line per command sent, described lazily and spilled to disk in batches."""

    def __init__(self, describe: Callable[[Command], str]) -> None:
        self._describe = describe
        self._recent: list[Command] = []
        self._file: IO[bytes] | None = None
        self._spilled = 0  # commands in the file
        self._stopped = False  # by ctx.cleanup(), until clear()

    def stop(self) -> None:
        """Record no more commands until the next ``clear()`` (``ctx.cleanup()``)."""
        self._stopped = True

    def append(self, command: Command) -> None:
        """One more command (none once stopped)."""
        if self._stopped:
            return
        recent = self._recent
        recent.append(command)
        if len(recent) >= CHUNK:
            import pickle  # a long run only: with tempfile, not on every start-up

            if self._file is None:
                import tempfile

                # Lives as long as the log: closed by clear(), or with the process.
                self._file = tempfile.TemporaryFile()  # noqa: SIM115
            try:
                data = pickle.dumps(recent, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                # A value no pickle holds (a protocol's own object as a pause message):
                # this batch goes as its lines, described now.
                data = pickle.dumps([self._describe(c) for c in recent])
            self._file.write(data)
            self._spilled += len(recent)
            recent.clear()

    def clear(self) -> None:
        """Forget every line, and record again if stopped."""
        self._stopped = False
        self._recent.clear()
        self._spilled = 0
        if self._file is not None:
            self._file.close()
            self._file = None

    def __iter__(self) -> Iterator[str]:
        describe = self._describe
        lines: list[str] = []
        if self._file is not None:
            import pickle

            file = self._file
            end = file.tell()
            file.seek(0)
            try:
                while file.tell() < end:  # one batch of commands in memory at a time
                    lines += [c if isinstance(c, str) else describe(c)
                              for c in pickle.load(file)]
            finally:
                file.seek(end)
        lines += [describe(c) for c in self._recent]
        return iter(lines)

    def __len__(self) -> int:
        return self._spilled + len(self._recent)
