"""``--labware-dir DIR``: the custom labware directories, read before the run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from protocol_api.labware_definitions import skipped_files

from .report import printable


def read_labware_dirs(directories: Sequence[str], warnings: TextIO) -> None:
    """Read each directory (``LabwareDefinitionError`` for one that cannot be used: bad
    input) and write a warning line to ``warnings`` for each ``*.json`` file in it that is
    not a labware definition labrun can read: it is passed over, as Opentrons passes over
    "invalid labware"; a protocol that loads the labware it would have been is refused."""
    for directory in directories:
        for skipped in skipped_files(directory):
            print(printable(f"warning: {skipped.path}: skipped, not a labware definition "
                            f"labrun can read: {skipped.problem}"), file=warnings)
