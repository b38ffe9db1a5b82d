"""Which store keeps a deployment's state: chosen by ``--state``."""

from __future__ import annotations

import re
from pathlib import Path

from mockserver.runtimes.store import Store

#: URL schemes that keep the state in PostgreSQL instead of a SQLite file.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def redacted_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_database_url(state: str | Path | None) -> bool:
    return isinstance(state, str) and state.startswith(POSTGRES_SCHEMES)


def open_store(state: str | Path | None) -> Store:
    """The store for ``state``: a PostgreSQL URL, a SQLite file, or None for memory.

    psycopg is imported only for a URL: SQLite users need not install it.
    """
    if is_database_url(state):
        from mockserver.runtimes.pgstore import PostgresStore

        return PostgresStore(str(state))
    return Store(str(state) if state else None)


def state_in_database(state: str | Path | None, name: str) -> str | None:
    """Where a deployment called ``name`` (a sandbox) keeps its state beside the main
    one when that is a database: its own schema there, shared by every replica.
    None for a SQLite state, whose owner picks a file instead."""
    if not is_database_url(state):
        return None
    from mockserver.runtimes.pgstore import with_schema

    return with_schema(str(state), name)


def remove_state_in_database(state: str) -> None:
    """Drop what ``state_in_database`` made, tables and all."""
    from mockserver.runtimes.pgstore import drop_schema

    drop_schema(state)
