"""The SQLite repository: the only module that speaks SQL.

One connection per process, guarded by a lock, so threads of one worker never
interleave a transaction. Several processes (gunicorn workers) share a state
file in WAL mode; every write runs in ``BEGIN IMMEDIATE``, which serialises the
writers of the whole deployment, so the revision counter kept in ``meta`` is
strictly increasing across all of them and no acknowledged write is lost.

Writers of a state file queue on a kernel lock (``flock`` on ``<state>.lock``)
before they ask SQLite for its write lock. SQLite's own busy handler sleeps
and polls (1, 2, 5 ... 100 ms) when the lock is taken, so a worker often slept
while the lock stood free; the kernel wakes the next writer the moment the
lock is released.

The same interface keeps the state in PostgreSQL when ``--state`` is a
``postgresql://`` URL (``mockserver/runtimes/pgstore.py``, chosen by
``mockserver/runtimes/stores.py``): the rooms write their SQL once, with ``?`` placeholders and
forms both engines share (``RETURNING``, ``ON CONFLICT``); where they differ (a text's
byte length) the store gives the form (``byte_length``).
Each room's schema is a list of numbered steps (``migrate``), recorded in
``schema_migrations``.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mockserver.core.errors import Unavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS runtimes (
    position  INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    source_id TEXT,
    revision  INTEGER NOT NULL UNIQUE,
    body      TEXT NOT NULL,
    manifest  TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
#: The runtimes' schema, one numbered step per entry (see ``Store.migrate``).
MIGRATIONS = (SCHEMA,)

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (component, version)
)
"""


class StoreUnavailable(Unavailable):
    """The state's database cannot be reached: the request changed nothing, try again."""


def statements(schema: str) -> list[str]:
    return [statement for statement in schema.split(";") if statement.strip()]


class Store:
    """Runtimes as JSON bodies, in insertion order, plus a small key/value ``meta``."""

    #: Whether other machines' processes share this state (a database server): then a
    #: process starting joins the deployment as it is (mockserver/control/shared.py).
    shared = False

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._lock = threading.RLock()
        self._open: Transaction | None = None
        self._queue: int | None = None
        if path:
            self._queue = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA busy_timeout = 30000")
        if path:
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL survives a killed process; only power loss may drop the tail.
            self._db.execute("PRAGMA synchronous = NORMAL")
        self.migrate("runtimes", MIGRATIONS)
        with self.write() as db:
            # A state file made before uploaded manifests (and before numbered migrations,
            # so its step 1 was recorded on a table without the column).
            columns = {row[1] for row in db.execute("PRAGMA table_info(runtimes)")}
            if "manifest" not in columns:
                db.execute("ALTER TABLE runtimes ADD COLUMN manifest TEXT")

    def create_tables(self, schema: str) -> None:
        """Run ``schema``'s ``CREATE TABLE IF NOT EXISTS`` statements, unversioned."""
        with self.write() as db:
            for statement in statements(schema):
                self._ddl(db, statement)

    def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Bring ``component``'s tables to ``len(steps)``: run each step not yet recorded.

        Steps are numbered from 1 and never edited once released; a change of
        schema is a new step. They run in one write transaction, behind the
        deployment-wide write lock, so processes starting at once never race.
        """
        with self.write() as db:
            self._ddl(db, MIGRATIONS_TABLE)
            row = db.execute(
                "SELECT MAX(version) FROM schema_migrations WHERE component = ?", (component,)
            ).fetchone()
            done = row[0] or 0
            for version, step in enumerate(steps, start=1):
                if version <= done:
                    continue
                for statement in statements(step):
                    self._ddl(db, statement)
                db.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES (?, ?)",
                    (component, version),
                )

    def _ddl(self, db: Any, statement: str) -> None:
        db.execute(statement)

    @staticmethod
    def byte_length(column: str) -> str:
        """SQL for the UTF-8 byte length of a text column. SQL's ``octet_length`` is
        SQLite's only from 3.43; a text cast to a blob is its UTF-8 bytes, counted in C
        (a Python function here cost a call per row of a journal scan)."""
        return f"length(CAST({column} AS BLOB))"

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._queue is not None:
                os.close(self._queue)
                self._queue = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """This thread's turn to write: in-process lock, then the deployment-wide queue."""
        with self._lock:
            if self._queue is None or self._open is not None:
                yield
                return
            fcntl.flock(self._queue, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._queue, fcntl.LOCK_UN)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The connection inside a write transaction that holds the deployment-wide lock.

        Nested in an open transaction of this thread (the request pipeline opens
        one around a write, its rendering and its journal row), it joins that
        one: everything commits, or nothing does, together. The other rooms'
        stores (mockserver/control, mockserver/auth) keep their own tables in the
        same file and write through here; the runtimes' writes use ``transaction``.
        """
        with self._lock:
            if self._open is not None:
                yield self._db
                return
        with self.writing():
            self._begin()
            self._open = Transaction(self._db)
            try:
                yield self._db
            except BaseException:
                self._open = None
                self._rollback()
                raise
            self._open = None
            self._commit()

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    @contextmanager
    def autocommit(self, *, writes: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection for autocommitted statements, never interleaved with a transaction;
        ``writes`` queues behind the deployment's other writers first (or joins the open
        transaction)."""
        if writes:
            with self.writing():
                yield self._db
            return
        with self._lock:
            yield self._db

    def write_one(self, sql: str, args: tuple[Any, ...]) -> None:
        """One write statement: autocommitted behind the deployment's other writers, or in
        this thread's open transaction. ``autocommit(writes=True)`` without its two context
        managers: a journal row of every read goes through here, and they cost a third of it."""
        with self._lock:
            if self._queue is None or self._open is not None:
                self._db.execute(sql, args)
                return
            fcntl.flock(self._queue, fcntl.LOCK_EX)
            try:
                self._db.execute(sql, args)
            finally:
                fcntl.flock(self._queue, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction that holds the deployment-wide write lock (see ``write``)."""
        with self.write() as db:
            yield self._open or Transaction(db)

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

    def uploaded_manifest(self, runtime_id: str) -> dict[str, Any] | None:
        """The manifest last uploaded for the runtime by ``update``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT manifest FROM runtimes WHERE id = ?", (runtime_id,)
            ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

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


def revision_after(last: int | None, now_ms: int) -> int:
    """The wall-clock millisecond, or one past ``last`` if that is later: revisions only grow."""
    return now_ms if last is None else max(now_ms, last + 1)


class Transaction:
    """The writes available inside ``Store.transaction()``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @property
    def connection(self) -> sqlite3.Connection:
        """For another room's store to write its own tables in this same transaction."""
        return self._db

    def next_revision(self, now_ms: int) -> int:
        """The wall-clock millisecond, or one past the last revision if that is later."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_revision'").fetchone()
        revision = revision_after(int(row[0]) if row else None, now_ms)
        self.set_meta("last_revision", str(revision))
        return revision

    def counters(self) -> tuple[int, int | None]:
        """(the id sequence, the last revision or None): what a copy draws from, one read."""
        rows = dict(
            self._db.execute(
                "SELECT key, value FROM meta WHERE key IN ('id_sequence', 'last_revision')"
            ).fetchall()
        )
        last = rows.get("last_revision")
        return int(rows.get("id_sequence", "0")), None if last is None else int(last)

    def set_counters(self, id_sequence: int, last_revision: int) -> None:
        """Both counters a copy moves, in one write."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('id_sequence', ?), ('last_revision', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(id_sequence), str(last_revision)),
        )

    def get_runtime(self, runtime_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM runtimes WHERE id = ?", (runtime_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def insert_runtime(self, body: dict[str, Any], source_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO runtimes (id, source_id, revision, body) VALUES (?, ?, ?, ?)",
            (body["id"], source_id, body["revision"], json.dumps(body)),
        )

    def insert_copy(self, body: dict[str, Any], source_id: str) -> None:
        """A new copy of ``source_id``, with the manifest its source has now, in one statement."""
        self._db.execute(
            "INSERT INTO runtimes (id, source_id, revision, body, manifest) "
            "VALUES (?, ?, ?, ?, (SELECT manifest FROM runtimes WHERE id = ?))",
            (body["id"], source_id, body["revision"], json.dumps(body), source_id),
        )

    def replace_runtime(self, body: dict[str, Any]) -> None:
        self._db.execute(
            "UPDATE runtimes SET revision = ?, body = ? WHERE id = ?",
            (body["revision"], json.dumps(body), body["id"]),
        )

    def uploaded_manifest(self, runtime_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT manifest FROM runtimes WHERE id = ?", (runtime_id,)
        ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    def set_uploaded_manifest(self, runtime_id: str, manifest: dict[str, Any] | None) -> None:
        self._db.execute(
            "UPDATE runtimes SET manifest = ? WHERE id = ?",
            (None if manifest is None else json.dumps(manifest), runtime_id),
        )

    def uploaded_manifests(self) -> dict[str, dict[str, Any]]:
        rows = self._db.execute("SELECT id, manifest FROM runtimes WHERE manifest IS NOT NULL")
        return {runtime_id: json.loads(manifest) for runtime_id, manifest in rows}

    def delete_runtime(self, runtime_id: str) -> bool:
        return self._db.execute("DELETE FROM runtimes WHERE id = ?", (runtime_id,)).rowcount > 0

    def delete_all_runtimes(self) -> None:
        self._db.execute("DELETE FROM runtimes")

    def clear_runtimes(self) -> None:
        """No runtime and both counters at 0: a fresh state, before its flavour seeds it."""
        self.delete_all_runtimes()
        self.set_meta("id_sequence", "0")
        self.set_meta("last_revision", "0")

    def load_runtimes(
        self,
        rows: Iterable[tuple[dict[str, Any], str | None, dict[str, Any] | None]],
        *,
        id_sequence: int,
        last_revision: int,
    ) -> None:
        """Every runtime replaced by ``rows`` (body, source id, uploaded manifest) and the
        counters by a snapshot's. Revisions never go back, even to an older snapshot's."""
        self.delete_all_runtimes()
        for body, source_id, manifest in rows:
            self.insert_runtime(body, source_id=source_id)
            self.set_uploaded_manifest(body["id"], manifest)
        self.set_meta("id_sequence", str(id_sequence))
        current = int(self.get_meta("last_revision", "0"))
        self.set_meta("last_revision", str(max(current, last_revision)))

    def runtimes_with_manifests(
        self,
    ) -> list[tuple[dict[str, Any], str | None, dict[str, Any] | None]]:
        """Every runtime, in order, with its source id and its uploaded manifest, if any."""
        manifests = self.uploaded_manifests()
        return [
            (body, source_id, manifests.get(body["id"])) for body, source_id in self.list_runtimes()
        ]

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
