"""What the engine takes from a newer Python where it has one.

``typing.assert_never`` is in Python 3.11; ``typing_extensions`` (2.5 ms of every start-up
here) is imported only on 3.10.
"""

import sys

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - Python 3.10
    from typing_extensions import assert_never

__all__ = ["assert_never"]
