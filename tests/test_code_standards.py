"""The project's own standards, checked with the suite so that CI holds them: ruff clean,
mypy strict on the four packages (both configured in ``pyproject.toml``), imports that
point one way (labrun -> protocol_api -> engine -> hardware), and no module reaching
into another module's private names."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("labrun", "protocol_api", "engine", "hardware")
"""The packages, top floor first: each imports only from the floors below it."""


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


def modules(root: Path = ROOT) -> Iterator[tuple[str, Path, ast.Module]]:
    """Each module of the four packages: its package, its path and its syntax tree."""
    for package in FLOORS:
        for path in sorted((root / package).rglob("*.py")):
            yield package, path, ast.parse(path.read_text(encoding="utf-8"))


def upward_imports(root: Path = ROOT) -> list[str]:
    """``file:line: module`` of every import of a package from a floor below it."""
    found = []
    for package, path, tree in modules(root):
        above = FLOORS[:FLOORS.index(package)]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(root)}:{node.lineno}: {name}" for name in names
                      if name.split(".")[0] in above]
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reaches(root: Path = ROOT) -> list[str]:
    """``file:line: expression`` of every read or write of ``thing._name`` (``thing`` not
    ``self``, ``cls``, ``super()`` or an imported module) where the module itself defines
    no ``_name``: no method, class, module name or slot of that name, and no assignment
    to ``self._name``. A module may reach into the objects it defines, as ``labware.py``
    does into its wells; into another module's, it goes through that module's functions.
    """
    found = []
    for _, path, tree in modules(root):
        defined: set[str] = set()
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Import):
                imported.update((alias.asname or alias.name).split(".")[0]
                                for alias in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                defined.add(node.value)  # __slots__, and names given to getattr/setattr
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                defined.add(node.attr)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not _private(node.attr):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls", *imported}:
                continue
            if (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
                    and owner.func.id == "super"):
                continue
            if node.attr not in defined:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_imports_point_down_the_floors() -> None:
    assert upward_imports() == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    assert private_reaches() == []


def test_the_two_checks_find_what_they_look_for(tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    for package in FLOORS:
        (tmp_path / package).mkdir(exist_ok=True)
    (tmp_path / "engine" / "spy.py").write_text(
        "import sys\nfrom labrun.cli import main\n\n"
        "def peek(run):\n    sys._getframe()\n    return run._thread, main\n")
    assert upward_imports(tmp_path) == ["engine/spy.py:2: labrun.cli"]
    assert private_reaches(tmp_path) == ["engine/spy.py:6: run._thread"]
