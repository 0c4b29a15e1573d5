"""hardware/gcode/README.md's example runs as written: it opened the driver on an
emulator with ``attrs.evolve`` (configurations are no longer attrs classes) and awaited
inside a plain ``with``, so a reader who copied it got a NameError or a SyntaxError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "hardware" / "gcode" / "README.md"


def test_the_readme_example_homes_and_moves_the_emulated_robot(
        capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "the README has no Python example"
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert "'X': 100.0" in printed and "'Z': 150.0" in printed, printed
