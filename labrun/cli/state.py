"""labrun's state folder: what it keeps between runs on this computer (the tips left on
each robot, the locks of the robots in use)."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "LABRUN_STATE_DIR"


def state_folder() -> Path:
    """``$LABRUN_STATE_DIR``, else ``$XDG_STATE_HOME/labrun``, else
    ``~/.local/state/labrun``."""
    folder = os.environ.get(STATE_DIR_ENV)
    if not folder:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        folder = str(Path(base) / "labrun")
    return Path(folder)
