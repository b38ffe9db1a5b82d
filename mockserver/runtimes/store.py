"""The SQLite repository: the only module that speaks SQL.

One connection per process, guarded by a lock, so threads of one worker never
interleave a transaction. Several processes (gunicorn workers) share a state
file in WAL mode; every write runs in ``BEGIN IMMEDIATE``, which serialises the
writers of the whole deployment, so the revision counter kept in ``meta`` is
strictly increasing across all of them and no acknowledged write is lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runtimes (
    position  INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    source_id TEXT,
    revision  INTEGER NOT NULL UNIQUE,
    body      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

#: The control plane's shared state (mockserver/control): every worker sees
#: the same journal and fault rules. Kept apart from the emulated state above.
CONTROL_SCHEMA = """
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

#: The journal is pruned to its newest entries every this many appends, not on
#: each one, to keep the per-request write to a single INSERT.
JOURNAL_PRUNE_EVERY = 256


class Store:
    """Runtimes as JSON bodies, in insertion order, plus a small key/value ``meta``."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._lock = threading.RLock()
        self._open: Transaction | None = None
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA busy_timeout = 30000")
        if path:
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL survives a killed process; only power loss may drop the tail.
            self._db.execute("PRAGMA synchronous = NORMAL")
        with self.transaction():
            for statement in (SCHEMA + CONTROL_SCHEMA).split(";"):
                if statement.strip():
                    self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction that holds the deployment-wide write lock.

        Nested in an open transaction of this thread (the request pipeline opens
        one around a write, its rendering and its journal row), it joins that
        one: everything commits, or nothing does, together.
        """
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._open = Transaction(self._db)
            try:
                yield self._open
            except BaseException:
                self._open = None
                self._db.execute("ROLLBACK")
                raise
            self._open = None
            self._db.execute("COMMIT")

    # --- reads (autocommit; WAL readers never block the writer) ---------------

    def list_runtimes(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM runtimes ORDER BY position").fetchall()
        return [json.loads(body) for (body,) in rows]

    def get_runtime(self, runtime_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM runtimes WHERE id = ?", (runtime_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def source_of(self, runtime_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT source_id FROM runtimes WHERE id = ?", (runtime_id,)
            ).fetchone()
        return None if row is None else row[0]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    # --- control plane (mockserver/control) -------------------------------------

    def append_journal(self, operation: str | None, entry: str, keep: int) -> None:
        """One journal entry (JSON text); the oldest beyond ``keep`` go now and then."""
        with self._lock:
            seq = self._db.execute(
                "INSERT INTO journal (operation, entry) VALUES (?, ?)", (operation, entry)
            ).lastrowid
            if seq % JOURNAL_PRUNE_EVERY == 0:
                self._db.execute("DELETE FROM journal WHERE seq <= ?", (seq - keep,))

    def journal(
        self, *, operation: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        """(seq, entry) pairs in the order received, oldest first."""
        query = "SELECT seq, entry FROM journal WHERE seq > ?"
        args: list[Any] = [after]
        if operation is not None:
            query += " AND operation = ?"
            args.append(operation)
        query += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self._lock:
            return self._db.execute(query, args).fetchall()

    def list_faults(self) -> list[tuple[int, str, int | None, int]]:
        """(id, rule JSON, remaining or None for unlimited, times matched) in creation order."""
        with self._lock:
            return self._db.execute(
                "SELECT id, rule, remaining, matched FROM faults ORDER BY id"
            ).fetchall()

    def match_fault(self, fault_id: int, fires: Callable[[int], bool]) -> bool:
        """Count a request matching the fault; ``fires(n)`` decides for the n-th match.

        A fault with ``remaining`` left fires at most that many times, whichever
        worker sees the match: the count and the decision share one transaction.
        """
        with self.transaction():
            row = self._db.execute(
                "SELECT remaining, matched FROM faults WHERE id = ?", (fault_id,)
            ).fetchone()
            if row is None or row[0] == 0:
                return False
            remaining, matched = row
            fired = fires(matched + 1)
            if fired and remaining is not None:
                remaining -= 1
            self._db.execute(
                "UPDATE faults SET remaining = ?, matched = ? WHERE id = ?",
                (remaining, matched + 1, fault_id),
            )
            return fired


class Transaction:
    """The writes available inside ``Store.transaction()``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def next_revision(self, now_ms: int) -> int:
        """The wall-clock millisecond, or one past the last revision if that is later."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_revision'").fetchone()
        revision = max(now_ms, int(row[0]) + 1) if row else now_ms
        self.set_meta("last_revision", str(revision))
        return revision

    def get_runtime(self, runtime_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM runtimes WHERE id = ?", (runtime_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def insert_runtime(self, body: dict[str, Any], source_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO runtimes (id, source_id, revision, body) VALUES (?, ?, ?, ?)",
            (body["id"], source_id, body["revision"], json.dumps(body)),
        )

    def replace_runtime(self, body: dict[str, Any]) -> None:
        self._db.execute(
            "UPDATE runtimes SET revision = ?, body = ? WHERE id = ?",
            (body["revision"], json.dumps(body), body["id"]),
        )

    def delete_runtime(self, runtime_id: str) -> bool:
        return self._db.execute("DELETE FROM runtimes WHERE id = ?", (runtime_id,)).rowcount > 0

    def delete_all_runtimes(self) -> None:
        self._db.execute("DELETE FROM runtimes")

    def list_runtimes(self) -> list[tuple[dict[str, Any], str | None]]:
        rows = self._db.execute("SELECT body, source_id FROM runtimes ORDER BY position").fetchall()
        return [(json.loads(body), source_id) for body, source_id in rows]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def setdefault_meta(self, key: str, make: Callable[[], str]) -> str:
        existing = self.get_meta(key)
        if existing is not None:
            return existing
        value = make()
        self.set_meta(key, value)
        return value

    # --- control plane (mockserver/control) -------------------------------------

    def clear_journal(self) -> None:
        self._db.execute("DELETE FROM journal")

    def add_fault(self, rule: str, remaining: int | None) -> int:
        return self._db.execute(
            "INSERT INTO faults (rule, remaining) VALUES (?, ?)", (rule, remaining)
        ).lastrowid

    def delete_fault(self, fault_id: int) -> bool:
        return self._db.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount > 0

    def clear_faults(self) -> None:
        self._db.execute("DELETE FROM faults")
