"""The project's own standards, checked with the suite so that CI holds them: ruff clean,
and mypy strict on the four packages (both configured in ``pyproject.toml``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(tool: str, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, text=True,
                          capture_output=True,
                          env={**os.environ, "MYPY_CACHE_DIR": str(cache),
                               "RUFF_CACHE_DIR": str(cache)})


def test_ruff_finds_nothing(tmp_path: Path) -> None:
    result = check("ruff", "check", "--no-fix", ".", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing(tmp_path: Path) -> None:
    result = check("mypy", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
