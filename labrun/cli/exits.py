"""The exit statuses of labrun's commands, one table for all of them (``labrun --help``
and the README list it): a script tells from the status what happened, and whether the
robot may have moved."""

from __future__ import annotations

SUCCESS_EXIT = 0
"""The run succeeded or was stopped by someone; doctor: the robot agrees with its file."""
FAILED_EXIT = 1
"""The run failed, was aborted or halted (on a robot, which may have moved); doctor: a
problem found."""
BAD_INPUT_EXIT = 2
"""Bad input: an argument, a file or a protocol that cannot load. Nothing moved."""
SIMULATION_FAILED_EXIT = 3
"""``run``: the protocol failed in the simulation made before the run (or needs a module
the robot lacks). Nothing was connected or moved."""
NOT_STARTED_EXIT = 4
"""``run`` and ``doctor``: refused before connecting, the robot is in use by another
process (``run``: or may still hold the tips the last run left on it). Nothing was
connected or moved."""
INTERRUPTED_EXIT = 130
"""Ctrl-C, SIGTERM or SIGHUP before the run could end on its own."""
