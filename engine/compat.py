"""What the engine takes from a newer Python where it has one.

``typing.assert_never`` is in Python 3.11; on 3.10 it is written out here (importing
``typing_extensions`` for it brought ``inspect``, ``tokenize`` and ``linecache`` into every
simulation's start-up).
"""

import sys

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - Python 3.10
    from typing import NoReturn

    def assert_never(arg: NoReturn, /) -> NoReturn:
        """Mark code the type checker proves unreachable; raise if it is reached."""
        raise AssertionError(f"Expected code to be unreachable, but got: {arg!r}")

__all__ = ["assert_never"]
