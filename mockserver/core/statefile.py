"""The state file every worker shares: one database, or a clear refusal.

A worker (re)started after the file was deleted used to create a fresh
database, with a fresh token secret: two workers then served two truths. So
``nbmock serve`` records the file's identity when it starts (a random id kept
in ``meta``, and the file's device and inode), and a worker that finds another
file, no file, or no database refuses to start with one log line saying why.
A file this process cannot write (read-only) does not stop a worker: reads go
on, writes answer HTTP 503, and ``/__mock__/health`` answers 503 so Docker's
HEALTHCHECK notices.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass

from flask import Flask, Response, request

from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError, Unavailable
from mockserver.runtimes.store import Store
from mockserver.web import wire

log = logging.getLogger("nbmock")

STATE_ID = "state_id"
HEALTH_PROBE = "health_probe"
EXTENSION = "nbmock_statefile"


@dataclass(frozen=True)
class StateIdentity:
    """Which database a run of ``nbmock serve`` started on."""

    path: str
    state_id: str
    device: int
    inode: int


class StateFileError(RuntimeError):
    """The state file is not the one this run started on (or not a database at all)."""


def record_identity(store: Store, path: str) -> StateIdentity:
    """The identity of ``path``, opened as ``store``; given an id on its first run."""
    with store.transaction() as tx:
        state_id = tx.setdefault_meta(STATE_ID, lambda: secrets.token_hex(16))
    stat = os.stat(path)
    return StateIdentity(str(path), state_id, stat.st_dev, stat.st_ino)


def check_file(identity: StateIdentity) -> None:
    """Refuse a state file that is gone or is another file than at start."""
    try:
        stat = os.stat(identity.path)
    except FileNotFoundError:
        raise StateFileError(messages.STATE_FILE_GONE.format(path=identity.path)) from None
    if (stat.st_dev, stat.st_ino) != (identity.device, identity.inode):
        raise StateFileError(messages.STATE_FILE_REPLACED.format(path=identity.path))


def check_database(store: Store, identity: StateIdentity) -> None:
    """Refuse a database that is not the one this run started on."""
    if store.get_meta(STATE_ID) != identity.state_id:
        raise StateFileError(messages.STATE_FILE_REPLACED.format(path=identity.path))


def unreadable(path: str, error: sqlite3.Error) -> StateFileError:
    return StateFileError(messages.STATE_FILE_UNREADABLE.format(path=path, error=error))


def health_problem(app: Flask) -> str | None:
    """Why the state cannot be trusted now, or None: same file, readable, writable."""
    identity: StateIdentity | None = app.extensions.get(EXTENSION)
    store = deployment.of(app).store
    path = identity.path if identity else "(in memory)"
    try:
        if identity is not None:
            check_file(identity)
            check_database(store, identity)
        with store.transaction() as tx:
            tx.set_meta(HEALTH_PROBE, str(time.time()))
    except (StateFileError, Unavailable) as error:
        return str(error)
    except sqlite3.Error as error:
        return messages.STATE_FILE_NOT_WRITABLE.format(path=path, error=error)
    return None


def init_app(app: Flask, identity: StateIdentity | None) -> None:
    """Check the state at once (a read-only file is logged, not fatal) and answer a state
    that fails under a request with HTTP 503 instead of a bug's 500."""
    if identity is not None:
        app.extensions[EXTENSION] = identity
    problem = health_problem(app)
    if problem:
        log.error("nbmock: worker %d: %s", os.getpid(), problem)

    @app.errorhandler(sqlite3.OperationalError)
    def state_failed(error: sqlite3.OperationalError) -> Response:
        path = identity.path if identity else "(in memory)"
        message = messages.STATE_FILE_NOT_WRITABLE.format(path=path, error=error)
        log.error(
            "nbmock: worker %d: %s %s: %s", os.getpid(), request.method, request.path, message
        )
        context = deployment.current().context
        portal = request.path.startswith(f"/{context}/sharing")
        problem = ArcGISError(messages.STATE_UNAVAILABLE, code=503)
        return wire.render_error(problem, portal=portal, status=503)
