"""Serving the emulator under gunicorn: several workers sharing one SQLite state."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from mockserver.app import create_app

#: The request line without its query string: GET tokens never reach the log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class EmulatorServer(BaseApplication):
    """gunicorn running ``create_app(**app_options)`` in each worker (no preload,
    so no SQLite connection crosses a fork)."""

    def __init__(self, app_options: dict[str, Any], server_options: dict[str, Any]) -> None:
        self.app_options = app_options
        self.server_options = server_options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.server_options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(**self.app_options)


def shared_state_file() -> str:
    """A temporary state file for the workers of one run, removed at exit."""
    handle, path = tempfile.mkstemp(prefix="nbmock-", suffix=".sqlite3")
    os.close(handle)
    master_pid = os.getpid()

    def remove() -> None:
        if os.getpid() != master_pid:
            return
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)

    atexit.register(remove)
    return path


def serve(
    *,
    host: str,
    port: int,
    workers: int,
    app_options: dict[str, Any],
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    if not app_options.get("state"):
        app_options = {**app_options, "state": shared_state_file()}
    # Create the schema and seed once, before workers race to do it.
    create_app(**app_options).extensions["nbmock"].store.close()
    server_options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "graceful_timeout": 10,
        "timeout": 60,
        "proc_name": "nbmock",
    }
    if certfile:
        server_options.update(certfile=certfile, keyfile=keyfile)
    EmulatorServer(app_options, server_options).run()
