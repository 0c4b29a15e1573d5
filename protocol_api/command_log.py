"""The run log ``ctx.commands()`` returns, in flat memory however long the run.

Commands are kept as they are sent and described in batches; every ``CHUNK`` commands,
the batch's lines go to a temporary file, so a protocol of a million calls keeps a
thousand commands in memory, not a million lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO

from engine.commands import Command

CHUNK = 1024


class CommandLog:
    """A line per command sent, described lazily and spilled to disk in batches."""

    def __init__(self, describe: Callable[[Command], str]) -> None:
        self._describe = describe
        self._recent: list[Command] = []
        self._file: IO[str] | None = None

    def append(self, command: Command) -> None:
        """One more command."""
        recent = self._recent
        recent.append(command)
        if len(recent) >= CHUNK:
            if self._file is None:
                import tempfile  # a long run only: not on every start-up

                # Lives as long as the log: closed by clear(), or with the process.
                self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            describe = self._describe
            self._file.write("".join([json.dumps(describe(c)) + "\n" for c in recent]))
            recent.clear()

    def clear(self) -> None:
        """Forget every line."""
        self._recent.clear()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __iter__(self) -> Iterator[str]:
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            lines = [json.loads(line) for line in self._file]
            self._file.seek(0, 2)
            yield from lines
        yield from [self._describe(c) for c in self._recent]

    def __len__(self) -> int:
        return sum(1 for _ in self)
