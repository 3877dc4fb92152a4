"""On-disk spool of encoded lines that InfluxDB could not take yet, replayed oldest first."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.sqlite import open_durable


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """One spooled write, as it will be replayed."""

    id: int
    lines: tuple[str, ...]


class Spool:
    """A durable FIFO of line-protocol batches in SQLite (WAL, synchronous=FULL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_durable(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS batches ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
            " n INTEGER NOT NULL, lines TEXT NOT NULL)"
        )

    def append(self, lines: Sequence[str]) -> int:
        """Store a batch durably (committed and synced) and return its id."""
        if not lines:
            raise ValueError("empty batch")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO batches (created_ms, n, lines) VALUES (?, ?, ?)",
                (int(time.time() * 1000), len(lines), "\n".join(lines)),
            )
            return int(cursor.lastrowid or 0)

    def oldest(self, limit: int = 1) -> list[SpooledBatch]:
        """Return up to `limit` batches, oldest first, without removing them."""
        with self._lock:
            rows = self._db.execute("SELECT id, lines FROM batches ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [SpooledBatch(row[0], tuple(row[1].split("\n"))) for row in rows]

    def remove(self, batch_id: int) -> None:
        """Drop a batch once it is stored in InfluxDB."""
        with self._lock:
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    def depth(self) -> tuple[int, int]:
        """Return (batches, lines) waiting."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM batches").fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
