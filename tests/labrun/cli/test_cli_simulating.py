"""The progress line of a long ``labrun simulate`` on a terminal: what appears on stderr
while a real run goes on, and that it is gone when the run ends, however it ends.

The runs are real; the wall clock the line reads is the test's own, so what is drawn
does not depend on how busy the machine is. The protocol waits on a gate that the test
opens once the line is on the terminal.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.run import Run
from labrun.cli.main import columns, main
from labrun.cli.simulating import (
    ERASE,
    progress_line,
    wait_for_simulation,
    wait_showing_progress,
)
from protocol_api.execute import continue_when_stalled, create_run

GATED = """
import progress_gate
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("before the gate")
    progress_gate.reached.set()
    progress_gate.gate.wait(30)
    print("after the gate")
    ctx.comment("after the gate")
"""


class Terminal:
    """A stream that says it is a terminal, writing into a list shared with others."""

    def __init__(self, name: str, events: list[tuple[str, str]],
                 on_write: object = None) -> None:
        self.name = name
        self.events = events
        self.on_write = on_write

    def write(self, text: str) -> int:
        self.events.append((self.name, text))
        if callable(self.on_write):
            self.on_write(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def text(self) -> str:
        return "".join(t for name, t in self.events if name == self.name)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("progress_gate")
    module.gate = threading.Event()  # type: ignore[attr-defined]
    module.reached = threading.Event()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "progress_gate", module)
    yield module
    module.gate.set()  # type: ignore[attr-defined]


@pytest.fixture
def gated_run(tmp_path: Path, gate: types.ModuleType) -> Iterator[Run]:
    path = tmp_path / "gated.py"
    path.write_text(GATED)
    run = create_run(path, on_stalled=continue_when_stalled, keep_history=False)
    run.control.play()
    assert gate.reached.wait(30)  # type: ignore[attr-defined]
    yield run
    gate.gate.set()  # type: ignore[attr-defined]  # its thread ends here, not after the test
    run.close()


class Ticks:
    """A wall clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_the_line_names_the_step_the_commands_and_the_protocol_time() -> None:
    assert progress_line(1233, "aspirate", 2468, 3725.0) == (
        "simulating: step 1,234 (aspirate), 2,468 commands, 1:02:05 of protocol time")
    assert progress_line(None, None, 0, 0.0) == (
        "simulating: 0 commands, 0:00 of protocol time")
    cut = progress_line(1233, "aspirate", 2468, 3725.0, width=30)
    assert cut == "simulating: step 1,234 (aspi…" and len(cut) < 30


def test_a_long_run_shows_the_line_then_erases_it_and_the_protocol_prints_below(
        gated_run: Run, gate: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []

    def open_gate(text: str) -> None:
        if "simulating:" in text:
            gate.gate.set()  # type: ignore[attr-defined]

    err = Terminal("err", events, open_gate)
    monkeypatch.setattr(sys, "stdout", Terminal("out", events))
    wait_showing_progress(gated_run, err, now=Ticks(0.5), first_s=1.0, every_s=0.0)
    drawn = [t for name, t in events if name == "err" and "simulating:" in t]
    # The fixed trash, then the first comment: step 2 of the run, two commands sent.
    assert drawn[0] == ERASE + "simulating: step 2 (comment), 2 commands, 0:00 of protocol time"
    printed = events.index(("out", "after the gate"))
    assert events[printed - 1] == ("err", ERASE)  # the line was cleared for the print
    # Gone at the end: whatever was drawn last on stderr was erased (by the end of the
    # wait, or already by the print, when the run ended before the line came back).
    assert [t for name, t in events if name == "err"][-1] == ERASE
    assert gated_run.control.status().status.value == "succeeded"


def test_a_short_run_draws_nothing(gated_run: Run, gate: types.ModuleType) -> None:
    events: list[tuple[str, str]] = []
    gate.gate.set()  # type: ignore[attr-defined]
    wait_showing_progress(gated_run, Terminal("err", events), now=lambda: 0.0,
                          first_s=1.0, every_s=0.0)
    assert events == []


def test_ctrl_c_while_waiting_leaves_no_line_behind(gated_run: Run) -> None:
    events: list[tuple[str, str]] = []
    ticks = Ticks(0.5)

    def now() -> float:
        if ticks.t >= 2.0:
            raise KeyboardInterrupt
        return ticks()

    with pytest.raises(KeyboardInterrupt):
        wait_showing_progress(gated_run, Terminal("err", events), now=now, first_s=1.0,
                              every_s=0.0)
    assert any("simulating:" in t for _, t in events)
    assert events[-1] == ("err", ERASE)


def test_simulate_on_a_terminal_prints_its_log_as_without_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A short simulation: stderr is a terminal, so the line is armed, never drawn; what
    # the protocol prints goes through it to stdout unchanged.
    path = tmp_path / "short.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n'
                    '    print("hello from the protocol")\n    ctx.comment("hi")\n')
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(sys, "stderr", Terminal("err", events))
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hello from the protocol\n")
    assert "status:              succeeded" in out
    assert not any("simulating:" in t for _, t in events)


def test_a_run_waited_for_without_a_terminal_draws_nothing(
        gated_run: Run, gate: types.ModuleType) -> None:
    events: list[tuple[str, str]] = []
    piped = Terminal("err", events)
    piped.isatty = lambda: False  # type: ignore[method-assign]
    gate.gate.set()  # type: ignore[attr-defined]
    wait_for_simulation(gated_run, piped)  # type: ignore[arg-type]
    assert gated_run.control.status().status.value == "succeeded"
    assert events == []


def test_a_terminal_that_does_not_say_its_width_is_taken_as_80_columns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert columns(Terminal("err", [])) == 80  # type: ignore[arg-type]
    monkeypatch.setenv("COLUMNS", "132")  # as shutil.get_terminal_size reads it
    assert columns(Terminal("err", [])) == 132  # type: ignore[arg-type]


def test_run_simulates_first_on_a_terminal_as_without_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "short.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n    ctx.comment("hi")\n')
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(sys, "stderr", Terminal("err", events))
    assert main(["run", str(path), "--emulate", "--speed", "100", "--yes"]) == 0
    assert "status:              succeeded" in capsys.readouterr().out
    assert not any("simulating:" in t for _, t in events)
