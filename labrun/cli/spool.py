"""Text written as a run goes and read once at its end, in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TextIO


class Spool:
    """Text written as a run goes, read once at its end: kept in memory up to ``limit``
    characters, then in a temporary file, written to it in pieces of up to ``FILE_PIECE``
    characters (one write a command cost as much again as the rest of the spool's
    work). ``tempfile`` is imported only then: a simulation's start-up does not pay
    for it."""

    FILE_PIECE = 1 << 16
    MEMORY = 1 << 20
    """The ``limit`` unless one is given."""

    def __init__(self, limit: int | None = None) -> None:
        self._pieces: list[str] = []
        self._size = 0
        self._limit = self.MEMORY if limit is None else limit
        self._file: IO[bytes] | None = None

    def write(self, text: str) -> None:
        """Add ``text``."""
        self._pieces.append(text)
        self._size += len(text)
        if self._size > self._limit:
            self._to_file()

    def _to_file(self) -> None:
        if self._file is None:
            import tempfile

            # closed by copy_to(); a spool never copied goes with its process
            self._file = tempfile.TemporaryFile("w+b")  # noqa: SIM115
            self._limit = min(self._limit, self.FILE_PIECE)
        self._file.write("".join(self._pieces).encode())
        self._pieces.clear()
        self._size = 0

    @property
    def in_memory(self) -> int:
        """Characters held in memory now."""
        return self._size

    def copy_to(self, out: TextIO) -> None:
        """Write everything to ``out`` and release the spool."""
        if self._file is None:
            out.write("".join(self._pieces))
            self._pieces.clear()
            self._size = 0
            return
        import shutil

        with self._read_back() as text:
            shutil.copyfileobj(text, out)

    def lines(self) -> Iterator[str]:
        """Everything written (whole lines), a line at a time without its newline, from
        memory or read back from the file; the spool is released once all are read."""
        if self._file is None:
            text, self._pieces, self._size = "".join(self._pieces), [], 0
            yield from text.split("\n")[:-1]  # whole lines: the last piece is empty
            return
        with self._read_back() as read:
            for line in read:
                yield line.rstrip("\n")

    def _read_back(self) -> TextIO:
        """The file, with what is still in memory written to it, as text from its start;
        closing it closes the file and releases the spool. Lines end at a line feed only:
        a carriage return in the text is read as it was."""
        import io

        self._to_file()
        assert self._file is not None
        file, self._file = self._file, None
        file.seek(0)
        return io.TextIOWrapper(file, encoding="utf-8", newline="\n")
