"""Tips a run left on a robot's pipettes, remembered until someone says they are off.

A run that ends with a tip still on (halted, or its cleanup could not run) leaves it on
the robot, and nothing on the robot tells the next run: it would press a fresh tip onto
the used one. ``labrun serve`` keeps them with its history; ``labrun run --robot`` keeps
them here, in ``tips_left.json`` of labrun's state folder (``$LABRUN_STATE_DIR``, else
``$XDG_STATE_HOME/labrun``, else ``~/.local/state/labrun``), by the robot file's path, and
so does ``labrun serve --robot`` (beside its history): a lab drives one robot both ways.
A run is written there as it starts playing too (``unfinished``), and replaced by what it
left when it ends: a run that never ended (labrun killed, the computer off) leaves a word
that a tip may be on.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .state import state_folder


class TipsStateError(OSError):
    """The file of the tips left on robots cannot be read or written: nothing is known."""


def tips_left(name: str, status: str, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The tips the run ``name`` (it ended ``status``; its ``summary``) left on the
    pipettes, if any: the run, how it ended, and each mount's tip (``volume_ul``,
    ``tips`` for a multi-channel's, ``uncertain`` where the run lost track of it)."""
    mounts = {mount: {k: v for k, v in tip.items() if k != "dropped"}
              for mount, tip in (summary.get("tips_at_end") or {}).items()
              if not tip.get("dropped")}
    if not mounts:
        return None
    return {"run": name, "status": status, "mounts": mounts}


def unfinished(name: str) -> dict[str, Any]:
    """What is kept while the run ``name`` plays: if it never ends, a tip may be on."""
    return {"run": name, "status": "did not end", "mounts": {}, "unfinished": True}


def tips_left_said(tips: dict[str, Any], then: str) -> str:
    """Why no run may start while ``tips`` (``tips_left``) are on the pipettes; ``then``
    says how to tell labrun they are off."""
    if tips.get("unfinished"):
        return (f"the last run here, {tips['run']}, never ended (labrun stopped during it): "
                f"a tip may still be on a pipette; take any off the robot, then {then}")
    held = "; ".join(
        f"the {mount} pipette holds "
        + (f"{tip['tips']} tips" if int(tip.get("tips", 1)) > 1 else "a tip")
        + (f" with about {tip['volume_ul']:g} µL" if tip.get("volume_ul") else "")
        + (" each" if tip.get("volume_ul") and int(tip.get("tips", 1)) > 1 else "")
        + (" (perhaps)" if tip.get("uncertain") else "")
        for mount, tip in sorted(tips["mounts"].items()))
    them = "them" if any(int(t.get("tips", 1)) > 1 for t in tips["mounts"].values()) \
        or len(tips["mounts"]) > 1 else "it"
    return (f"{held}, left by {tips['run']} ({tips['status']}): take {them} off the robot, "
            f"then {then}")


def state_file() -> Path:
    """Where ``labrun run`` keeps the tips left on each robot."""
    return state_folder() / "tips_left.json"


def robot_key(robot_file: str) -> str:
    """The name a robot's tips are kept under: its robot file's full path."""
    return str(Path(robot_file).resolve())


def left_on(robot: str) -> dict[str, Any] | None:
    """The tips the last run left on ``robot`` (a ``robot_key``), or the word that it never
    ended; None when nothing is known to be on it. Raises ``TipsStateError``."""
    with _locked(create=False):
        tips = _read().get(robot)
    if isinstance(tips, dict) and (tips.get("mounts") or tips.get("unfinished")):
        return tips
    return None


def said_of(robot: str) -> dict[str, Any] | None:
    """What the state folder last heard of ``robot``: tips left, a run that never ended, or
    (no ``mounts``) that nothing is on it; None if it has heard nothing. Raises
    ``TipsStateError``."""
    with _locked(create=False):
        tips = _read().get(robot)
    return tips if isinstance(tips, dict) else None


def remember(robot: str, tips: dict[str, Any] | None) -> None:
    """Keep ``tips`` as left on ``robot`` (None: none are, which is kept too, so that
    ``said_of`` tells it from a robot never heard of). Raises ``TipsStateError``."""
    def change(kept: dict[str, Any]) -> None:
        kept[robot] = tips if tips is not None else {"mounts": {}}
    _update(change)


def _update(change: Callable[[dict[str, Any]], None]) -> None:
    """Read, ``change`` and write the file, holding its lock: two runs on two robots
    that end together each keep what the other wrote."""
    path = state_file()
    with _locked(create=True):
        kept = _read()
        before = dict(kept)
        change(kept)
        if kept == before:
            return
        temporary: str | None = None
        try:
            descriptor, temporary = tempfile.mkstemp(prefix=".tips_left.", dir=path.parent)
            with open(descriptor, "w", encoding="utf-8") as file:
                json.dump(kept, file, indent=1, ensure_ascii=False)
            os.replace(temporary, path)
        except OSError as exc:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            raise TipsStateError(f"cannot write {path}: {exc.strerror or exc}") from None


def _read() -> dict[str, Any]:
    path = state_file()
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # no run has left anything yet
        return {}
    except (OSError, ValueError) as exc:
        said = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise TipsStateError(f"cannot read {path} ({said}): it says which tips runs left "
                             "on robots; mend it, or remove it once the tips are off "
                             "every robot") from None
    if not isinstance(kept, dict):
        raise TipsStateError(f"cannot read {path}: not a table of robots; mend it, or "
                             "remove it once the tips are off every robot")
    return kept


@contextlib.contextmanager
def _locked(*, create: bool) -> Iterator[None]:
    """Hold the state folder's lock (where the system has ``fcntl``); ``create`` makes the
    folder if it is missing (a read of a folder not there yet needs no lock)."""
    path = state_file()
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: one run at a time is assumed
        yield
        return
    if not create and not path.parent.is_dir():
        yield
        return
    try:  # (what the block raises is its own, never taken for this)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.parent / ".tips_left.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise TipsStateError(f"cannot use {path.parent}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
