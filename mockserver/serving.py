"""Serving the emulator under gunicorn: several workers sharing one SQLite state."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import shutil
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from mockserver import deployment
from mockserver.app import create_app
from mockserver.control.shared import start_of_run
from mockserver.settings import Settings
from mockserver.tls import CertificatePair, self_signed_certificate

#: The request line without its query string: GET tokens never reach the log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class EmulatorServer(BaseApplication):
    """gunicorn running ``create_app(settings)`` in each worker (no preload,
    so no SQLite connection crosses a fork)."""

    def __init__(self, settings: Settings, server_options: dict[str, Any]) -> None:
        self.settings = settings
        self.server_options = server_options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.server_options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.settings)


def _at_exit_of_this_process(action) -> None:
    """Run ``action`` when the process that asked exits, never in a forked worker."""
    owner_pid = os.getpid()

    def run() -> None:
        if os.getpid() == owner_pid:
            action()

    atexit.register(run)


def generated_certificate(host: str) -> CertificatePair:
    """A self-signed certificate for ``host`` and the loopback names, removed at exit."""
    directory = tempfile.mkdtemp(prefix="nbmock-tls-")
    _at_exit_of_this_process(lambda: shutil.rmtree(directory, ignore_errors=True))
    return self_signed_certificate(directory, hosts=(host,))


def shared_state_file() -> str:
    """A temporary state file for the workers of one run, removed at exit."""
    handle, path = tempfile.mkstemp(prefix="nbmock-", suffix=".sqlite3")
    os.close(handle)

    def remove() -> None:
        for suffix in ("", "-wal", "-shm", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)

    _at_exit_of_this_process(remove)
    return path


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``: there the control plane may stay open."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    *,
    host: str,
    port: int,
    workers: int,
    settings: Settings,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    if not settings.state:
        settings = Settings.of(settings, state=shared_state_file())
    # Create the schema and seed once, before workers race to do it, and
    # start the control plane's shared settings afresh for this run.
    store = deployment.of(create_app(settings)).store
    start_of_run(store, settings.seed)
    store.close()
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
        # gunicorn's control socket sits at one path per user: two emulators
        # would fight over it, and nbmock has its own control plane.
        "control_socket_disable": True,
    }
    if certfile:
        server_options.update(certfile=certfile, keyfile=keyfile)
    EmulatorServer(settings, server_options).run()
