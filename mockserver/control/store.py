"""The control plane's SQL: its journal and fault rules, in the deployment's state.

Kept apart from the runtimes' tables (mockserver/runtimes/store.py) but in the
same SQLite file or PostgreSQL database and write lock, so every worker sees the same journal and
rules, and a change of settings can share a transaction with a change of
runtimes (a reset, an import).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mockserver.runtimes.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT,
    entry     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faults (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    rule      TEXT NOT NULL,
    remaining INTEGER,
    matched   INTEGER NOT NULL DEFAULT 0
);
"""
#: The control plane's schema, one numbered step per entry (see ``Store.migrate``).
MIGRATIONS = (SCHEMA,)

#: The journal is pruned to its entry bound every this many appends by one worker, and
#: to its byte bound every this many bytes appended by one worker, not on each append,
#: to keep the per-request write to a single INSERT. The entry bound is a range delete
#: on the key (id arithmetic); the byte bound must sum the entries' sizes, a scan of
#: the whole journal, so it runs only as often as the byte slack allows. Between
#: prunes the journal may pass each bound by at most this much per worker.
PRUNE_EVERY_APPENDS = 256
PRUNE_EVERY_BYTES = 1024 * 1024


class ControlStore:
    """The journal and the fault rules, over the deployment's ``Store``."""

    def __init__(self, store: Store, *, max_entries: int, max_bytes: int) -> None:
        self.store = store
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        store.migrate("control", MIGRATIONS)
        self._lock = threading.Lock()
        self._appends = 0
        self._bytes = 0

    # --- the journal ---------------------------------------------------------------

    def append_journal(self, operation: str | None, entry: str) -> None:
        """One journal entry (JSON text, already cut to its bound by the journal)."""
        self.store.write_one(
            "INSERT INTO journal (operation, entry) VALUES (?, ?)", (operation, entry)
        )
        with self._lock:
            self._appends += 1
            self._bytes += len(entry)
            count_due = self._appends >= PRUNE_EVERY_APPENDS
            bytes_due = self._bytes >= PRUNE_EVERY_BYTES
            if count_due:
                self._appends = 0
            if bytes_due:
                self._bytes = 0
        if count_due or bytes_due:
            self.prune_journal(by_bytes=bytes_due)

    def prune_journal(self, *, by_bytes: bool = True) -> None:
        """Drop the oldest entries beyond ``max_entries`` and, ``by_bytes``, beyond
        ``max_bytes`` in all."""
        with self.store.write() as db:
            newest = db.execute("SELECT MAX(seq) FROM journal").fetchone()[0] or 0
            db.execute("DELETE FROM journal WHERE seq <= ?", (newest - self.max_entries,))
            if not by_bytes:
                return
            row = db.execute(
                f"SELECT seq FROM (SELECT seq, SUM({self.store.byte_length('entry')}) "
                "OVER (ORDER BY seq DESC) AS total FROM journal) AS sizes "
                "WHERE total > ? ORDER BY seq DESC LIMIT 1",
                (self.max_bytes,),
            ).fetchone()
            if row is not None:
                db.execute("DELETE FROM journal WHERE seq <= ?", (row[0],))

    def journal(
        self, *, operation: str | None = None, after: int, limit: int
    ) -> list[tuple[int, str]]:
        """(seq, entry) pairs after ``after`` in the order received, oldest first, at most
        ``limit`` (``GET /__mock__/journal`` gives both, with its own defaults)."""
        query = "SELECT seq, entry FROM journal WHERE seq > ?"
        args: list[Any] = [after]
        if operation is not None:
            query += " AND operation = ?"
            args.append(operation)
        query += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self.store.autocommit() as db:
            return db.execute(query, args).fetchall()

    def journal_size(self) -> tuple[int, int]:
        """(entries, bytes) the journal holds now."""
        with self.store.autocommit() as db:
            count, size = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM({self.store.byte_length('entry')}), 0) FROM journal"
            ).fetchone()
        return count, size

    # --- fault rules -----------------------------------------------------------------

    def list_faults(self) -> list[tuple[int, str, int | None, int]]:
        """(id, rule JSON, remaining or None for unlimited, times matched) in creation order."""
        with self.store.autocommit() as db:
            return db.execute(
                "SELECT id, rule, remaining, matched FROM faults ORDER BY id"
            ).fetchall()

    def match_fault(self, fault_id: int, fires: Callable[[int], bool]) -> bool:
        """Count a request matching the fault; ``fires(n)`` decides for the n-th match.

        A fault with ``remaining`` left fires at most that many times, whichever
        worker sees the match: the count and the decision share one transaction.
        """
        with self.store.write() as db:
            row = db.execute(
                "SELECT remaining, matched FROM faults WHERE id = ?", (fault_id,)
            ).fetchone()
            if row is None or row[0] == 0:
                return False
            remaining, matched = row
            fired = fires(matched + 1)
            if fired and remaining is not None:
                remaining -= 1
            db.execute(
                "UPDATE faults SET remaining = ?, matched = ? WHERE id = ?",
                (remaining, matched + 1, fault_id),
            )
            return fired


class ControlWrites:
    """The control plane's writes inside a transaction another store opened."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def clear_journal(self) -> None:
        self._db.execute("DELETE FROM journal")

    def add_fault(self, rule: str, remaining: int | None) -> int:
        # RETURNING, not lastrowid: both engines have it (SQLite from 3.35).
        return self._db.execute(
            "INSERT INTO faults (rule, remaining) VALUES (?, ?) RETURNING id", (rule, remaining)
        ).fetchone()[0]

    def delete_fault(self, fault_id: int) -> bool:
        return self._db.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount > 0

    def clear_faults(self) -> None:
        self._db.execute("DELETE FROM faults")
