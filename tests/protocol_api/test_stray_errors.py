"""Errors Python only prints (a thread the protocol started, a ``__del__``): one warning
line naming the protocol's line, while its run goes on as in Opentrons; the hooks there
were are back once the run has ended."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest
from labrun_testing import simulate_file

from protocol_api.stray_errors import watch_stray_errors


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_a_thread_of_the_protocol_that_raises_is_one_line_and_the_run_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '''
        import threading
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            def work():
                raise ValueError("in thread")
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            ctx.comment("after")
    ''')
    hooks = threading.excepthook, sys.unraisablehook
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    assert capsys.readouterr().err == (
        f"warning: {path}:6: a thread of the protocol raised ValueError: in thread\n")
    assert (threading.excepthook, sys.unraisablehook) == hooks


def test_an_error_with_no_protocol_line_is_left_to_the_hook_there_was(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda info: said.append(str(info.exc_value))
    try:
        unwatch = watch_stray_errors(str(tmp_path / "protocol.py"))
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        unwatch()
        unwatch()  # once is enough
    finally:
        threading.excepthook = previous
    assert said == ["division by zero"]
    assert capsys.readouterr().err == ""


def test_a_del_of_the_protocol_that_raises_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '''
        metadata = {"apiLevel": "2.15"}

        class Held:
            def __del__(self):
                raise RuntimeError("in del")

        def run(ctx):
            held = Held()
            del held
            ctx.comment("after")
    ''')
    run = simulate_file(path)
    assert run.record.events[-1]["status"] == "succeeded"
    assert capsys.readouterr().err == (
        f"warning: {path}:5: the protocol's Held.__del__ raised RuntimeError: in del; Python "
        "ignored it\n")
