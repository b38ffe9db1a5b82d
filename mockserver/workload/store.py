"""The workload's SQL: one JSON document in the deployment's state, beside the runtimes.

The workload is small (the notebooks and jobs of one test's deployment), read whole and
written whole, inside the same transaction and write lock as every other room's change,
so every worker sees the same notebooks and a reset or import changes all rooms at once.
The only module of ``workload`` that speaks SQL.
"""

from __future__ import annotations

import json
from typing import Any

from mockserver.runtimes.store import Store, Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS workload_state (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
)
"""
#: The workload's schema, one numbered step per entry (see ``Store.migrate``).
MIGRATIONS = (SCHEMA,)
_ROW = "workload"


class WorkloadStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("workload", MIGRATIONS)

    def read(self) -> dict[str, Any] | None:
        """The stored document, None before the first write (autocommit: never blocks)."""
        with self.store.autocommit() as db:
            row = db.execute("SELECT body FROM workload_state WHERE name = ?", (_ROW,)).fetchone()
        return None if row is None else json.loads(row[0])

    def read_in(self, tx: Transaction) -> dict[str, Any] | None:
        row = tx.connection.execute(
            "SELECT body FROM workload_state WHERE name = ?", (_ROW,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def write(self, tx: Transaction, body: dict[str, Any]) -> None:
        tx.connection.execute(
            "INSERT INTO workload_state (name, body) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET body = excluded.body",
            (_ROW, json.dumps(body)),
        )
