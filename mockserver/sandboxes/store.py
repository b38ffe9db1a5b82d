"""The sandbox registry: which sandboxes exist, in the main deployment's state.

Every worker and every replica reads the same registry, so a sandbox made on
one is served by all. The only module of ``sandboxes`` that speaks SQL; it
writes through the deployment's ``Store`` (same file, same write lock).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mockserver.runtimes.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandboxes (
    id         TEXT PRIMARY KEY,
    context    TEXT NOT NULL UNIQUE,
    release    TEXT NOT NULL,
    seed       INTEGER,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    users      TEXT
);
"""
#: The registry's schema in numbered steps (``Store.migrate``): step 2 records each
#: sandbox's flavour; rows made before it are Kubernetes sandboxes.
MIGRATIONS = (
    SCHEMA,
    "ALTER TABLE sandboxes ADD COLUMN flavour TEXT NOT NULL DEFAULT 'kubernetes'",
    # Step 3: a sandbox's own deployment profile (mockserver/core/profile.py) as JSON,
    # or NULL for the server's.
    "ALTER TABLE sandboxes ADD COLUMN profile TEXT",
)

#: Bumped on every create and delete, so a worker re-reads the registry only when it moved.
GENERATION = "sandboxes_generation"


@dataclass(frozen=True)
class Sandbox:
    id: str
    context: str
    release: str
    seed: int | None
    created_ms: int
    expires_ms: int
    #: The sandbox's own users as records (salts and hashes), or None for the server's.
    users: list[dict[str, Any]] | None = None
    flavour: str = "kubernetes"
    #: The sandbox's own deployment profile (its JSON), or None for the server's.
    profile: dict[str, Any] | None = None

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_ms


class SandboxRecords:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("sandboxes", MIGRATIONS)

    def generation(self) -> str:
        return self.store.get_meta(GENERATION, "0")

    def all(self) -> list[Sandbox]:
        with self.store.autocommit() as db:
            rows = db.execute(
                "SELECT id, context, release, seed, created_ms, expires_ms, users, flavour, profile "
                "FROM sandboxes ORDER BY created_ms, id"
            ).fetchall()
        return [_sandbox(row) for row in rows]

    def add(self, sandbox: Sandbox, *, limit: int, now_ms: int) -> bool:
        """Register ``sandbox`` unless ``limit`` unexpired sandboxes already exist."""
        with self.store.transaction() as tx, self.store.write() as db:
            live = db.execute(
                "SELECT COUNT(*) FROM sandboxes WHERE expires_ms > ?", (now_ms,)
            ).fetchone()[0]
            if live >= limit:
                return False
            db.execute(
                "INSERT INTO sandboxes "
                "(id, context, release, seed, created_ms, expires_ms, users, flavour, profile) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sandbox.id,
                    sandbox.context,
                    sandbox.release,
                    sandbox.seed,
                    sandbox.created_ms,
                    sandbox.expires_ms,
                    None if sandbox.users is None else json.dumps(sandbox.users),
                    sandbox.flavour,
                    None if sandbox.profile is None else json.dumps(sandbox.profile),
                ),
            )
            _bump(tx)
        return True

    def remove(self, ids: list[str]) -> list[str]:
        """Unregister ``ids``; the ones that were registered."""
        removed = []
        with self.store.transaction() as tx, self.store.write() as db:
            for sandbox_id in ids:
                if db.execute("DELETE FROM sandboxes WHERE id = ?", (sandbox_id,)).rowcount:
                    removed.append(sandbox_id)
            if removed:
                _bump(tx)
        return removed


def _bump(tx) -> None:
    tx.set_meta(GENERATION, str(int(tx.get_meta(GENERATION, "0")) + 1))


def _sandbox(row: tuple) -> Sandbox:
    sandbox_id, context, release, seed, created_ms, expires_ms, users, flavour, profile = row
    return Sandbox(
        sandbox_id,
        context,
        release,
        seed,
        created_ms,
        expires_ms,
        None if users is None else json.loads(users),
        flavour,
        None if profile is None else json.loads(profile),
    )
