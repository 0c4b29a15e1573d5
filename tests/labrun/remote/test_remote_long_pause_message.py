"""A very long pause message on the server's terminal: its line for the pause gives the
message's start and its length, not 100,000 characters (the status and the record keep
the whole message)."""

from __future__ import annotations

from labrun.remote.progress import RunProgress

LONG = "Replace the plate in slot 2. " + "x" * 99_971  # 100,000 characters


def test_the_servers_line_for_a_long_pause_gives_its_start_and_its_length() -> None:
    lines: list[str] = []
    progress = RunProgress("uid", "long.py", None, now=lambda: 0.0, log=lines.append)
    progress.feed([{"event": "status", "status": "running", "t": 0.0},
                   {"event": "step", "index": 0, "name": "pause", "t": 0.0},
                   {"event": "status", "status": "paused", "t": 0.0,
                    "pause_source": "protocol", "pause_message": LONG}])
    paused = lines[-1]
    assert paused.startswith("run long.py: paused by protocol at step 1: Replace the plate "
                             "in slot 2. xxx")
    assert paused.endswith("… (100,000 characters in all; the run record has the whole "
                           "message)")
    assert len(paused) < 800


def test_a_short_pause_message_is_given_whole() -> None:
    lines: list[str] = []
    progress = RunProgress("uid", "short.py", None, now=lambda: 0.0, log=lines.append)
    progress.feed([{"event": "status", "status": "paused", "t": 0.0,
                    "pause_source": "protocol", "pause_message": "Add the buffer to A1"}])
    assert lines[-1] == "run short.py: paused by protocol: Add the buffer to A1"
