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

    def begin(
        self, username: str, *, now_ms: int, window_ms: int, attempts: int, lock_ms: int
    ) -> tuple[int, int]:
        """Claim one sign-in attempt before its password is checked: ``(locked_until,
        attempt)``, ``locked_until`` non-zero when the account refuses it.

        The claim is counted as a failure at once, in the same write transaction that
        reads the lock, so however many workers check passwords at the same moment, at
        most ``attempts`` checks run per lock: the claim past them locks the account.
        A claim that succeeds is undone by ``succeed``; one that fails is settled by
        ``fail``. Failures count within ``window_ms`` of the first.
        """
        with self.store.write() as db:
            row = db.execute(
                "SELECT failures, first_ms, locked_until FROM signin_failures WHERE username = ?",
                (username,),
            ).fetchone()
            failures, first_ms, locked_until = (0, now_ms, 0) if row is None else row
            if locked_until > now_ms:
                return locked_until, 0
            if now_ms - first_ms > window_ms:
                failures, first_ms = 0, now_ms
            failures += 1
            locked_until = 0
            if failures > attempts:
                failures, locked_until = 0, now_ms + lock_ms
            db.execute(
                "INSERT INTO signin_failures (username, failures, first_ms, locked_until) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "failures = excluded.failures, first_ms = excluded.first_ms, "
                "locked_until = excluded.locked_until",
                (username, failures, first_ms, locked_until),
            )
        return locked_until, failures

    def fail(self, username: str, *, attempt: int, attempts: int, now_ms: int, lock_ms: int) -> int:
        """Settle a claimed attempt whose password was wrong; returns the epoch ms the
        account is locked until (0: not locked). The ``attempts``-th failure locks it."""
        if attempt < attempts:
            return 0
        locked_until = now_ms + lock_ms
        with self.store.write() as db:
            db.execute(
                "INSERT INTO signin_failures (username, failures, first_ms, locked_until) "
                "VALUES (?, 0, ?, ?) ON CONFLICT(username) DO UPDATE SET failures = 0, "
                "locked_until = CASE WHEN signin_failures.locked_until > excluded.locked_until "
                "THEN signin_failures.locked_until ELSE excluded.locked_until END",
                (username, now_ms, locked_until),
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
