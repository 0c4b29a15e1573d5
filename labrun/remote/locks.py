"""Lock keys, with the queue server's semantics.

The environment (run actions, queue start and stop, the simulated door) and the queue
(adding, removing, clearing, the history) can each be locked with a key. A call in a
locked group is refused unless it carries that key. ``lock`` again with the same key
changes what is locked; with another key it is refused. ``unlock`` needs the key, or
the server's emergency key, or the server's token: each unlocks without the lock key, so
whoever holds the token can always clear a lock. Besides unlocking, the emergency key opens
an abort (``re_abort``) and nothing else. An emergency stop (``re_halt``) is in no group:
no lock ever holds it up.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from .spec import LockGroup


class Locks:
    """What is locked, with which key, by whom."""

    def __init__(self, emergency_key: str | None = None) -> None:
        self.environment = False
        self.queue = False
        self._key: str | None = None
        self._emergency_key = emergency_key or None
        self._unlock_keys = [emergency_key] if emergency_key else []
        self.user: str | None = None
        self.note: str | None = None
        self.time: float | None = None
        self.uid = uuid.uuid4().hex

    def also_unlocked_by(self, key: str) -> None:
        """Let ``key`` (the server's token) unlock without the lock key."""
        self._unlock_keys.append(key)

    def locked(self, group: LockGroup) -> bool:
        """Whether ``group`` is locked."""
        return self.environment if group == "environment" else self.queue

    def check(self, group: LockGroup | None, key: str | None, *,
              emergency: bool = False) -> str | None:
        """None if a call in ``group`` carrying ``key`` may go ahead, else the reason; with
        ``emergency`` (an abort), the server's emergency key opens it too."""
        if group is None or not self.locked(group):
            return None
        if emergency and key is not None and self._emergency_key is not None \
                and _same(key, self._emergency_key):
            return None
        if key is None:
            return (f"the {group} is locked{self._by()}; pass the lock_key it was locked "
                    "with")
        if not self._matches(key):
            return f"the {group} is locked{self._by()} with a different lock_key"
        return None

    def lock(self, key: str, *, environment: bool, queue: bool, user: str | None,
             note: str | None) -> str | None:
        """Lock (or re-lock with the same key); None on success, else the reason."""
        if not key:
            return "lock_key must not be empty"
        if not (environment or queue):
            return "nothing to lock: set environment and/or queue to true"
        if self._key is not None and not self._matches(key):
            return f"the manager is already locked{self._by()} with a different lock_key"
        relock = self._key is not None
        self._key, self.environment, self.queue = key, environment, queue
        if not relock or user is not None:  # re-locked without them: they stand
            self.user = user
        if not relock or note is not None:
            self.note = note
        self.time = time.time()
        self.uid = uuid.uuid4().hex
        return None

    def unlock(self, key: str) -> str | None:
        """Unlock with the lock key, the emergency key or the token; None on success, else
        the reason."""
        if self._key is None:
            return None
        emergency = any(_same(key, other) for other in self._unlock_keys)
        if not (emergency or self._matches(key)):
            return "wrong lock_key: the manager stays locked"
        self._key, self.environment, self.queue = None, False, False
        self.user = self.note = self.time = None
        self.uid = uuid.uuid4().hex
        return None

    def valid(self, key: str) -> bool:
        """Whether ``key`` is the key the manager is locked with."""
        return self._key is not None and self._matches(key)

    def info(self) -> dict[str, Any]:
        """Who locked what and when; never the key."""
        return {
            "environment": self.environment, "queue": self.queue, "user": self.user,
            "note": self.note, "time": self.time,
            "time_str": (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
                         if self.time is not None else ""),
            "emergency_lock_key_is_set": self._emergency_key is not None,
        }

    def _matches(self, key: str) -> bool:
        return self._key is not None and _same(key, self._key)

    def _by(self) -> str:
        return f" by {self.user}" if self.user else ""


def _same(key: str, other: str) -> bool:
    """Constant-time equality of two keys, whatever code points they hold."""
    return hmac.compare_digest(key.encode("utf-8", "surrogatepass"),
                               other.encode("utf-8", "surrogatepass"))
