"""What the G-code driver logs, said as a line of labrun's own: ``warning: ...``.

The driver logs its warnings (a Marlin without its emergency parser, found at
connection; a damaged status report). Left to Python's logging, ``labrun run`` printed
them as logging's fallback prints them (the bare message), or, once anything in the
process had set logging up (a protocol calling ``logging.warning``), in logging's format
(``WARNING:hardware.gcode.driver:...``). ``driver_warnings()`` says each one line, in
the command line's style, on stderr or above the live status line while one is drawn.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from hardware.gcode import AT_CONNECTION

DRIVER_LOGGER = "hardware.gcode"


class DriverWarnings(logging.Handler):
    """Says each warning the driver logs as ``warning: <message>``, one line."""

    def __init__(self, *, at_connection: bool = True) -> None:
        super().__init__(logging.WARNING)
        self.at_connection = at_connection
        """Whether to say the warnings found at connection (``labrun doctor`` lists them
        with the controller's answers instead)."""
        self.above: Callable[[str], None] | None = None
        """Where to say them while a live status line is drawn (its ``log``); stderr
        otherwise."""

    def emit(self, record: logging.LogRecord) -> None:
        if not self.at_connection and getattr(record, AT_CONNECTION, False):
            return
        try:
            text = "warning: " + " ".join(record.getMessage().split())  # one line
            if self.above is not None:
                self.above(text)
            else:
                print(text, file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)

    @contextlib.contextmanager
    def said_above(self, log: Callable[[str], None] | None) -> Iterator[None]:
        """Say them with ``log`` (a live status line's) meanwhile; None: on stderr."""
        saved, self.above = self.above, log
        try:
            yield
        finally:
            self.above = saved


@contextlib.contextmanager
def driver_warnings(*, at_connection: bool = True) -> Iterator[DriverWarnings]:
    """Meanwhile, the driver's warnings are said by the handler given, and only there."""
    handler = DriverWarnings(at_connection=at_connection)
    logger = logging.getLogger(DRIVER_LOGGER)
    propagates = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagates
