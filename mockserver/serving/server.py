"""Serving the emulator under gunicorn: several workers sharing one SQLite state, each
reading requests in a poller before a thread serves them (mockserver.serving.worker)."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from typing import Any, NoReturn

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from mockserver.app import create_app
from mockserver.control.shared import start_of_run
from mockserver.core import deployment, messages, statefile
from mockserver.core.errors import Unavailable
from mockserver.core.settings import Settings
from mockserver.core.statefile import StateIdentity
from mockserver.runtimes.stores import redacted_url
from mockserver.serving.accesslog import ACCESS_LOG_FORMAT, AccessLogger
from mockserver.serving.redact import redact_loggers
from mockserver.serving.tls import CertificatePair, self_signed_certificate
from mockserver.serving.worker import HeadFirstWorker

#: Threads per worker: they run the app on requests already read (mockserver.serving.worker),
#: and serialise on the store's lock, so a few suffice; HTTPS handshakes need one each.
THREADS = 16
#: How long an idle kept-alive connection stays open (it costs a buffer, not a thread).
KEEPALIVE_SECONDS = 15


class EmulatorServer(BaseApplication):
    """gunicorn running ``create_app(settings)`` in each worker (no preload,
    so no SQLite connection crosses a fork)."""

    def __init__(
        self,
        settings: Settings,
        server_options: dict[str, Any],
        identity: StateIdentity | None = None,
    ) -> None:
        self.settings = settings
        self.server_options = server_options
        self.identity = identity
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.server_options.items():
            self.cfg.set(key, value)

    def load(self):
        """The worker's app, on the very database the run started on, or no worker at all:
        gunicorn stops the server when a worker cannot boot, which beats two truths."""
        _log_beside_gunicorn("nbmock")
        if self.identity is None:
            return _app_when_reachable(self.settings)
        try:
            statefile.check_file(self.identity)
            app = create_app(self.settings)
            statefile.check_database(deployment.of(app).store, self.identity)
        except sqlite3.DatabaseError as error:
            _refuse(statefile.unreadable(self.identity.path, error))
        except statefile.StateFileError as error:
            _refuse(error)
        statefile.init_app(app, self.identity)
        return app


def _app_when_reachable(settings: Settings, wait_seconds: float = 30) -> Any:
    """The worker's app; a state database that is away when a worker (re)starts is
    waited for a while, so a short outage does not stop the whole replica."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return create_app(settings)
        except Unavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)


def _log_beside_gunicorn(name: str) -> None:
    """The emulator's own log lines in gunicorn's error log, in its format."""
    logger = logging.getLogger(name)
    logger.handlers = list(logging.getLogger("gunicorn.error").handlers)
    logger.propagate = False


def _refuse(error: Exception) -> NoReturn:
    logging.getLogger("gunicorn.error").error("nbmock: worker %d: %s", os.getpid(), error)
    sys.exit(Arbiter.WORKER_BOOT_ERROR)


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
    try:
        store = deployment.of(create_app(settings)).store
        start_of_run(store, settings.seed)
        # A database server's state has no file to watch; its replicas share it by design.
        identity = None if store.shared else statefile.record_identity(store, str(settings.state))
    except Unavailable:
        raise SystemExit(
            "nbmock serve: "
            + messages.STATE_DATABASE_UNREACHABLE.format(
                url=redacted_url(str(settings.state)), error="see the log line above"
            )
        ) from None
    except sqlite3.OperationalError as error:
        raise SystemExit(
            "nbmock serve: "
            + messages.STATE_FILE_NOT_WRITABLE.format(path=settings.state, error=error)
        ) from None
    except sqlite3.DatabaseError as error:
        raise SystemExit(
            f"nbmock serve: {statefile.unreadable(str(settings.state), error)}"
        ) from None
    store.close()
    # Access and error lines can carry a token a client put in the path, or a
    # request line gunicorn refused and quotes whole.
    redact_loggers("gunicorn.error", "gunicorn.access", "nbmock")
    HeadFirstWorker.max_body = settings.max_body
    # A state file's queries never wait on the network: the poller's thread serves each
    # request itself. A database server's do: threads overlap those waits.
    HeadFirstWorker.serve_inline = not store.shared
    server_options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": HeadFirstWorker,
        "threads": THREADS,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AccessLogger,
        # X-Forwarded-* count only from a --trusted-proxy, and mockserver.serving.hosts decides.
        "forwarded_allow_ips": "",
        "graceful_timeout": 10,
        "timeout": 60,
        "proc_name": "nbmock",
        # gunicorn's control socket sits at one path per user: two emulators
        # would fight over it, and nbmock has its own control plane.
        "control_socket_disable": True,
    }
    if certfile:
        server_options.update(certfile=certfile, keyfile=keyfile)
    EmulatorServer(settings, server_options, identity).run()
