"""The ``labrun`` command itself: help and version load no sub-command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from labrun.cli.main import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[3]


def _choices(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_the_listed_lines_are_the_sub_commands_own() -> None:
    assert _choices(build_parser(full=True)) == COMMANDS
    assert _choices(build_parser()) == COMMANDS


def test_every_sub_command_module_is_listed() -> None:
    """A module of labrun.cli that registers a sub-command is reachable as ``labrun NAME``."""
    import importlib
    import pkgutil

    import labrun.cli

    registering = {info.name for info in pkgutil.iter_modules(labrun.cli.__path__)
                   if hasattr(importlib.import_module(f"labrun.cli.{info.name}"), "add_parser")}
    assert registering == set(COMMANDS)


def test_help_and_the_readme_list_every_exit_status_labrun_run_gives(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A script tells a protocol that failed in the simulation (nothing moved) from a run
    that failed on the robot by the status, as ``labrun --help`` and the README list it."""
    from labrun.cli import exits as run

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listed = capsys.readouterr().out.split("exit status (every command):\n")[1]
    codes = [run.FAILED_EXIT, run.BAD_INPUT_EXIT, run.SIMULATION_FAILED_EXIT,
             run.NOT_STARTED_EXIT, run.INTERRUPTED_EXIT]
    assert [line.split()[0] for line in listed.splitlines() if not line.startswith("     ")
            ] == ["0", *map(str, codes)]
    assert run.SIMULATION_FAILED_EXIT not in (0, run.FAILED_EXIT)
    table = (ROOT / "README.md").read_text().split("### Exit codes\n")[1].split("\n#")[0]
    assert [line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and line[2].isdigit()] == ["0", *map(str, codes)]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_help_and_version_import_no_sub_command(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from labrun.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('labrun.cli.', 'labrun.remote',"
        " 'engine', 'protocol_api', 'httpx', 'anyio')) and m != 'labrun.cli.main')\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert "LOADED []" in result.stderr, result.stderr
    if argv == ["--version"]:
        assert result.stdout.startswith("labrun ")
    elif argv:
        assert all(name in result.stdout for name in COMMANDS)


def probe_stderr(probe: str) -> str:
    """What the Python code ``probe`` prints on standard error, run in a fresh process at
    the repository's root (start-up is measured only in a process of its own)."""
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=str(ROOT)).stderr


def test_a_simulation_imports_neither_asyncio_nor_anyio() -> None:
    """Together they are 60 ms of every start-up: a simulation runs on hardware.aio's own
    runtime, with a pause, a module, a delay and a rehearsed door opening. Nor does it
    import what only an error, a long log, a config file or help text needs (inspect,
    traceback, tempfile, shutil, pickle, difflib, copy and what they bring: about 22 ms)."""
    unwanted = ("asyncio", "anyio", "inspect", "traceback", "tempfile", "shutil", "tokenize",
                "linecache", "sysconfig", "random", "pickle", "typing_extensions", "difflib",
                "copy")
    probe = (
        "import sys\n"
        "started_with = set(sys.modules)\n"  # Python 3.13 itself starts with linecache
        "from labrun.cli.main import main\n"
        "status = main(['simulate', 'examples/bead_cleanup.py', '--json', '--at', '30:door-open',\n"
        "               '--at', '40:door-close', '--at', 'step=3:pause-immediate',\n"
        "               '--at', '200:resume'])\n"
        f"loaded = sorted(m for m in {unwanted!r} if m in sys.modules and m not in started_with)\n"
        "print('STATUS', status, 'LOADED', loaded, file=sys.stderr)\n"
    )
    stderr = probe_stderr(probe)
    assert "STATUS 0 LOADED []" in stderr, stderr[-2000:]


def test_importing_the_sub_command_sets_off_no_garbage_collection(tmp_path: Path) -> None:
    """Imports make no garbage: the collections they would set off find nothing (they and
    the later collections' passes over what importing made were 5 ms of a simulation's
    start-up). Collection is on again for the command itself."""
    protocol = tmp_path / "collecting.py"
    protocol.write_text("import gc, sys\nprint('PROTOCOL', gc.isenabled(), file=sys.stderr)\n"
                        "metadata = {'apiLevel': '2.15'}\n\ndef run(ctx):\n    pass\n")
    probe = (
        "import gc, sys\n"
        "during = []\n"
        "def seen(phase, info):\n"
        "    frame = sys._getframe(1)\n"
        "    while phase == 'start' and frame is not None:\n"
        "        if frame.f_code.co_name == 'build_parser':\n"
        "            during.append(info['generation'])\n"
        "        frame = frame.f_back\n"
        "gc.callbacks.append(seen)\n"
        "from labrun.cli.main import main\n"
        f"status = main(['simulate', {str(protocol)!r}])\n"
        "print('STATUS', status, 'DURING', during, 'AFTER', gc.isenabled(), file=sys.stderr)\n"
    )
    stderr = probe_stderr(probe)
    assert "PROTOCOL True" in stderr, stderr[-2000:]
    assert "STATUS 0 DURING [] AFTER True" in stderr, stderr[-2000:]


def test_a_simulation_without_modules_imports_no_module_code() -> None:
    """The module contexts, their deck rules and the simulated modules (their physics and
    profiles) are imported by the first ``load_module``: a protocol without one does not
    pay for them at start-up."""
    probe = (
        "import sys\n"
        "from labrun.cli.main import main\n"
        "status = main(['simulate', 'examples/plate_replication.py'])\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.startswith(('hardware.modules', 'protocol_api.modules')))\n"
        "print('STATUS', status, 'LOADED', loaded, file=sys.stderr)\n"
    )
    stderr = probe_stderr(probe)
    assert "STATUS 0 LOADED []" in stderr, stderr[-2000:]
