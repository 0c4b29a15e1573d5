"""``labrun`` in a pseudo-terminal, as a person runs it: keys typed, output awaited.

Each wait on its output is bounded; ``restored`` says whether the terminal's settings
are back as they were when it exits.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import termios
import time

WAIT_S = 20.0


class Terminal:
    """``labrun`` in a pseudo-terminal: type keys, wait for output."""

    def __init__(self, *args: str) -> None:
        argv = [sys.executable, "-m", "labrun.cli.main", *args]
        env = {**os.environ, "COLUMNS": "200"}
        # Forked from a process with threads: the child only calls execve, which takes
        # no lock another thread may have held at the fork.
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: labrun with the pty as its terminal
            os.execve(sys.executable, argv, env)
        self.output = b""
        self.mark = 0
        self.status: int | None = None

    def type(self, keys: bytes) -> None:
        """Press ``keys``; later ``expect`` calls look at what follows."""
        self.mark = len(self.output)
        os.write(self.fd, keys)

    def expect(self, pattern: str, timeout: float = WAIT_S) -> re.Match[str]:
        """Wait (bounded) until the output since the last key matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text(self.mark)
            match = re.search(pattern, text)
            if match:
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"no {pattern!r} in the output:\n{self.text()}")

    def wait(self, timeout: float = WAIT_S) -> int:
        """The exit status, reading the rest of the output meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                while self._read(0.05):
                    pass
                return self.status
            self._read(0.05)
        raise AssertionError(f"labrun did not exit:\n{self.text()}")

    def text(self, start: int = 0) -> str:
        return self.output[start:].decode("utf-8", "replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], min(timeout, 0.1))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the child has gone and closed its side
            return False
        self.output += data
        return bool(data)

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:  # pragma: no cover
                pass
        os.close(self.fd)


def restored(term: Terminal) -> bool:
    """The terminal is back in line mode with echo, as before labrun started."""
    flags = termios.tcgetattr(term.fd)[3]
    return bool(flags & termios.ICANON) and bool(flags & termios.ECHO)
