"""Names of the locks shared by every worker of a storage: one key per lock name."""

from __future__ import annotations

import hashlib

__all__ = ["pg_lock_key"]


def _key(name: str) -> bytes:
    return hashlib.sha256(f"stitchnas:{name}".encode()).digest()


def pg_lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key (a signed 64-bit integer) of the lock called ``name``."""
    return int.from_bytes(_key(name)[:8], "big", signed=True)
