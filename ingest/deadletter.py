"""Dead-letter store: every refused payload or reading, with its reason, kept for inspection."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.sqlite import open_durable
from core.types import Rejection

#: Bytes of each payload kept; the full size and digest are always kept.
KEEP_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stored rejection; `count` says how often the same one arrived (e.g. redeliveries)."""

    id: int
    first_seen_ms: int
    last_seen_ms: int
    topic: str
    gateway: str | None
    reason: str
    index: int | None
    size: int
    sha256: str
    payload: bytes
    count: int


class DeadLetterStore:
    """Rejections in SQLite; the same rejection arriving twice is stored once and counted."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_durable(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
            " topic TEXT NOT NULL, gateway TEXT, reason TEXT NOT NULL, idx INTEGER NOT NULL,"
            " size INTEGER NOT NULL, sha256 TEXT NOT NULL, payload BLOB NOT NULL,"
            " count INTEGER NOT NULL DEFAULT 1,"
            " UNIQUE (sha256, topic, idx, reason))"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS dl_seen ON dead_letters (last_seen_ms)")

    def add(self, rejections: Iterable[Rejection]) -> int:
        """Store rejections durably in one transaction; return how many were given."""
        rows = [
            (
                r.received_ms,
                r.received_ms,
                r.topic,
                r.gateway,
                r.reason,
                -1 if r.index is None else r.index,
                len(r.payload),
                hashlib.sha256(r.payload).hexdigest(),
                r.payload[:KEEP_BYTES],
            )
            for r in rejections
        ]
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO dead_letters"
                " (first_seen_ms, last_seen_ms, topic, gateway, reason, idx, size, sha256, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sha256, topic, idx, reason)"
                " DO UPDATE SET count = count + 1, last_seen_ms = excluded.last_seen_ms",
                rows,
            )
            self._db.execute("COMMIT")
        return len(rows)

    def list(self, limit: int = 100, gateway: str | None = None, since_ms: int | None = None) -> list[DeadLetter]:
        """Return the newest rejections first, optionally for one gateway or since a time."""
        query = "SELECT * FROM dead_letters WHERE 1=1"
        args: list[object] = []
        if gateway is not None:
            query += " AND gateway = ?"
            args.append(gateway)
        if since_ms is not None:
            query += " AND last_seen_ms >= ?"
            args.append(since_ms)
        query += " ORDER BY last_seen_ms DESC, id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [
            DeadLetter(
                id=r[0],
                first_seen_ms=r[1],
                last_seen_ms=r[2],
                topic=r[3],
                gateway=r[4],
                reason=r[5],
                index=None if r[6] < 0 else r[6],
                size=r[7],
                sha256=r[8],
                payload=bytes(r[9]),
                count=r[10],
            )
            for r in rows
        ]

    def count(self) -> int:
        """Return the number of distinct rejections stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
