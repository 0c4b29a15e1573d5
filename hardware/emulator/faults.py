"""Fault injection and statistics, switchable from tests at runtime.

Fields are plain attributes: assigning one from another thread is atomic, and the
emulator reads them as it handles each line.
"""

from __future__ import annotations

import time

from attrs import define, field


@define
class Faults:
    """Misbehaviours the emulated firmware can be told to show."""

    silent: bool = False
    """Send nothing at all (no acknowledgements, no status reports)."""
    ack_delay: float = 0.0
    """Wall-clock seconds to wait before handling each received line."""
    error_next: int = 0
    """Answer the next N command lines with an error instead of executing them."""
    error_message: str | None = None
    """Text of injected errors (default: a dialect-typical one)."""
    resend_next: int = 0
    """Marlin: treat the next N numbered lines as corrupted (checksum mismatch)."""
    home_fails: int = 0
    """Fail the next N homing cycles (GRBL: ``ALARM:<home_alarm>``; Marlin: killed;
    Smoothieware: halted, ``ERROR: Homing cycle failed - ...``)."""
    home_alarm: int = 8
    drop_ok_next: int = 0
    """Lose the next N ``ok`` answers (the line was carried out)."""
    garble_status_next: int = 0
    """Damage the next N status reports, as a noisy line or grbl-sim's interleaved output
    does: the state runs into the next field, a coordinate loses its decimal point, a
    field name loses a letter (in turn)."""
    noisy_ok_next: int = 0
    """Send the next N ``ok`` answers with a stray byte, as a noisy line does: a NUL
    before the ``ok``, then a 0xFF after it (in turn)."""
    limit_next: int = 0
    """A limit switch trips half-way through each of the next N moves: GRBL ``ALARM:1``
    (it then reads no line until a reset), Smoothieware ``ALARM: Hard limit +X`` (halted),
    Marlin with endstops always on ``echo:endstops hit:  X:..`` (the move cut short)."""

    soft_endstop_next: int = 0
    """Smoothieware: the next N moves leave its soft endstops (its travel shorter than the
    robot file's): ``ok``, then ``Error: Soft Endstop X was exceeded - reset or $X or M999
    required``; it halts, nothing moves."""
    lost_feed_hold_next: int = 0
    """GRBL: the next N feed holds ``!`` are lost on the line (noise): never acted on."""
    lost_quickstop_next: int = 0
    """Marlin: the next N ``M410`` arrive damaged (``M41``): the emergency parser misses
    them, and the queue answers ``echo:Unknown command: "M41"`` and ``ok`` in turn."""
    lost_reset_next: int = 0
    """GRBL: the next N soft resets (0x18, the emergency stop) are lost on the line."""

    late_ok_held_next: int = 0
    """Smoothieware: the next N halts that end a line in progress (a hard limit, ctrl-X)
    print a status report (``Alarm``) after their message, and that line's ``ok`` only
    once the next line arrives, before that line is answered: the order a host sees when
    it sends its next line (``M999``) before the late ``ok`` reaches it."""

    silent_after_reset: bool = False
    """GRBL: go ``silent`` once a soft reset (0x18, the emergency stop) has been answered,
    as a board that dies with its stop does."""

    def clear(self) -> None:
        """Back to a well-behaved controller."""
        self.silent = False
        self.silent_after_reset = False
        self.ack_delay = 0.0
        self.error_next = 0
        self.error_message = None
        self.resend_next = 0
        self.home_fails = 0
        self.drop_ok_next = 0
        self.garble_status_next = 0
        self.noisy_ok_next = 0
        self.limit_next = 0
        self.lost_feed_hold_next = 0
        self.lost_reset_next = 0
        self.lost_quickstop_next = 0
        self.soft_endstop_next = 0
        self.late_ok_held_next = 0


@define
class Stats:
    """What the emulator observed, for assertions."""

    connections: int = 0
    lines: list[str] = field(factory=list)
    line_times: list[float] = field(factory=list)
    """``time.monotonic()`` at which each of ``lines`` was complete (for latency figures)."""
    realtime: list[tuple[bytes, float]] = field(factory=list)
    """Every realtime byte (or emergency line) with its ``time.monotonic()`` of arrival."""
    rx_in_flight: int = 0
    max_rx_in_flight: int = 0
    """GRBL: most bytes received and not yet answered at any moment."""
    rx_overflows: int = 0
    """GRBL: times the host exceeded the 127 bytes of its RX buffer."""
    checksums_verified: int = 0
    checksum_failures: int = 0
    resends_requested: int = 0
    errors_injected: int = 0
    status_garbled: int = 0
    """Status reports sent damaged by the ``garble_status_next`` fault."""
    noisy_oks: int = 0
    """``ok`` answers sent with a stray byte (``noisy_ok_next``)."""
    limits_tripped: int = 0
    """Limit switches tripped by the ``limit_next`` fault."""
    waits_sent: int = 0
    """Marlin: idle ``wait`` lines printed."""

    def note_realtime(self, data: bytes) -> None:
        self.realtime.append((data, time.monotonic()))

    def note_line(self, text: str) -> None:
        self.lines.append(text)
        self.line_times.append(time.monotonic())
