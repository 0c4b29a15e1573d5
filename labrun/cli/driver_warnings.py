"""What the hardware drivers log, said as a line of labrun's own: ``warning: ...``.

The G-code driver logs its warnings (a Marlin without its emergency parser, found at
connection; a damaged status report), the serial modules' driver its failures (a
module's answer it could not read while it kept the link alive, ``error: ...`` for a
labrun bug). Left to Python's logging, ``labrun run`` printed
them as logging's fallback prints them (the bare message), or, once anything in the
process had set logging up (a protocol calling ``logging.warning``), in logging's format
(``WARNING:hardware.gcode.driver:...``), with a traceback for a failure.
``driver_warnings()`` says each one line, in the command line's style (a failure's
exception after its message), on stderr or above the live status line while one is
drawn.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from hardware.gcode import AT_CONNECTION

DRIVER_LOGGERS = ("hardware.gcode", "hardware.modules")


class DriverWarnings(logging.Handler):
    """Says each warning a driver logs as ``warning: <message>``, one line (an error
    ``error: <message>: <exception>``)."""

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
            said = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                said += f": {type(exc).__name__}: {exc}" if str(exc) else \
                    f": {type(exc).__name__}"
            kind = "error" if record.levelno >= logging.ERROR else "warning"
            text = f"{kind}: " + " ".join(said.split())  # one line
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
    """Meanwhile, the drivers' warnings are said by the handler given, and only there."""
    handler = DriverWarnings(at_connection=at_connection)
    loggers = [logging.getLogger(name) for name in DRIVER_LOGGERS]
    propagates = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield handler
    finally:
        for logger, propagated in zip(loggers, propagates, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagated
