"""Tips a run left on a robot's pipettes, remembered until someone says they are off.

A run that ends with a tip still on (halted, or its cleanup could not run) leaves it on
the robot, and nothing on the robot tells the next run: it would press a fresh tip onto
the used one. ``labrun serve`` keeps them with its history; ``labrun run --robot`` keeps
them here, in ``tips_left.json`` of labrun's state folder (``$LABRUN_STATE_DIR``, else
``$XDG_STATE_HOME/labrun``, else ``~/.local/state/labrun``), by the robot file's path.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_DIR_ENV = "LABRUN_STATE_DIR"


def tips_left(name: str, status: str, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The tips the run ``name`` (it ended ``status``; its ``summary``) left on the
    pipettes, if any: the run, how it ended, and each mount's tip (``volume_ul``,
    ``uncertain`` where the run lost track of it)."""
    mounts = {mount: {k: v for k, v in tip.items() if k != "dropped"}
              for mount, tip in (summary.get("tips_at_end") or {}).items()
              if not tip.get("dropped")}
    if not mounts:
        return None
    return {"run": name, "status": status, "mounts": mounts}


def tips_left_said(tips: dict[str, Any], then: str) -> str:
    """Why no run may start while ``tips`` (``tips_left``) are on the pipettes; ``then``
    says how to tell labrun they are off."""
    held = "; ".join(
        f"the {mount} pipette holds a tip"
        + (f" with about {tip['volume_ul']:g} µL" if tip.get("volume_ul") else "")
        + (" (perhaps)" if tip.get("uncertain") else "")
        for mount, tip in sorted(tips["mounts"].items()))
    return f"{held}, left by {tips['run']} ({tips['status']}): take it off the robot, then {then}"


def state_file() -> Path:
    """Where ``labrun run`` keeps the tips left on each robot."""
    folder = os.environ.get(STATE_DIR_ENV)
    if not folder:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        folder = str(Path(base) / "labrun")
    return Path(folder) / "tips_left.json"


def robot_key(robot_file: str) -> str:
    """The name a robot's tips are kept under: its robot file's full path."""
    return str(Path(robot_file).resolve())


def _read() -> dict[str, Any]:
    try:
        kept = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: nothing is known
        return {}
    return kept if isinstance(kept, dict) else {}


def left_on(robot: str) -> dict[str, Any] | None:
    """The tips the last run left on ``robot`` (a ``robot_key``), if any are known."""
    tips = _read().get(robot)
    return tips if isinstance(tips, dict) and tips.get("mounts") else None


def remember(robot: str, tips: dict[str, Any] | None) -> str | None:
    """Keep ``tips`` as left on ``robot`` (None: none are); the reason if it could not
    be written."""
    kept = _read()
    if tips is None and robot not in kept:
        return None
    if tips is None:
        del kept[robot]
    else:
        kept[robot] = tips
    path = state_file()
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".tips_left.", dir=path.parent)
        with open(descriptor, "w", encoding="utf-8") as file:
            json.dump(kept, file, indent=1, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return f"cannot write {path}: {exc.strerror or exc}"
    return None
