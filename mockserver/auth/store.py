"""The sign-in records every worker must share: used OAuth states and failed sign-ins.

Kept in the deployment's state beside the runtimes (same SQLite file or
PostgreSQL database, same write lock), so a state used on one worker is used on all, and failures are
counted deployment-wide. The only module of ``auth`` that speaks SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mockserver.runtimes.store import Store, Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_states_used (
    digest     TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_failures (
    username     TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    first_ms     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
);
"""
#: The sign-in records' schema, one numbered step per entry (see ``Store.migrate``).
MIGRATIONS = (SCHEMA,)


class SignInRecords:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("signin", MIGRATIONS)

    def use_state(self, state: str, *, expires_ms: int, now_ms: int) -> bool:
        """Mark an OAuth state used; False if it already was (on any worker)."""
        # The digest, not the state: a used state must not be readable from the file.
        digest = hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()
        with self.store.write() as db:
            db.execute("DELETE FROM oauth_states_used WHERE expires_ms < ?", (now_ms,))
            inserted = db.execute(
                "INSERT INTO oauth_states_used (digest, expires_ms) VALUES (?, ?) "
                "ON CONFLICT (digest) DO NOTHING",
                (digest, expires_ms),
            ).rowcount
        return inserted == 1

    def locked_until(self, username: str) -> int | None:
        """Epoch ms until which ``username`` is (or was) locked, 0 if never; None when
        there is no failure on record, so a good sign-in then needs no write."""
        with self.store.autocommit() as db:
            row = db.execute(
                "SELECT locked_until FROM signin_failures WHERE username = ?", (username,)
            ).fetchone()
        return None if row is None else row[0]

    def fail(
        self, username: str, *, now_ms: int, window_ms: int, attempts: int, lock_ms: int
    ) -> int:
        """Count a failed sign-in; returns the epoch ms it is locked until (0: not locked).

        Failures count within ``window_ms`` of the first; the ``attempts``-th locks
        the account for ``lock_ms`` and starts the count afresh.
        """
        with self.store.write() as db:
            row = db.execute(
                "SELECT failures, first_ms FROM signin_failures WHERE username = ?", (username,)
            ).fetchone()
            failures, first_ms = (0, now_ms) if row is None else row
            if now_ms - first_ms > window_ms:
                failures, first_ms = 0, now_ms
            failures += 1
            locked_until = now_ms + lock_ms if failures >= attempts else 0
            if locked_until:
                failures = 0
            db.execute(
                "INSERT INTO signin_failures (username, failures, first_ms, locked_until) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "failures = excluded.failures, first_ms = excluded.first_ms, "
                "locked_until = excluded.locked_until",
                (username, failures, first_ms, locked_until),
            )
        return locked_until

    def succeed(self, username: str) -> None:
        with self.store.write() as db:
            db.execute("DELETE FROM signin_failures WHERE username = ?", (username,))

    # --- state owner (mockserver/core/owners.py): sign-in records are not part of a snapshot ---

    def reset(self, tx: Transaction) -> None:
        tx.connection.execute("DELETE FROM oauth_states_used")
        tx.connection.execute("DELETE FROM signin_failures")

    def export(self, tx: Transaction) -> dict[str, Any]:
        return {}

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """An imported state starts with no lockouts and no used sign-in pages."""
        self.reset(tx)
