"""Durable SQLite for Vigil's embedded state (spool, dead letters, alerts)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_durable(path: Path, timeout_s: float = 10.0) -> sqlite3.Connection:
    """Open (creating its folder) a database in WAL mode with synchronous=FULL, usable from any thread.

    A commit returns only once the data survives a crash or power loss, which is what lets callers
    acknowledge what they stored. Autocommit mode: callers run explicit BEGIN/COMMIT for batches.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout_s)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db
