"""A throwaway PostgreSQL cluster on 127.0.0.1, for the tests, bench and reliability runs.

pytest-postgresql's ``postgresql_proc`` was the first choice, but it runs
``initdb`` and ``pg_ctl`` as the current user, and PostgreSQL refuses to run as
root (CI's user). This starts the machine's own binaries (Debian's ``postgresql``
package, ``/usr/lib/postgresql/<version>/bin``) as an unprivileged user when
run as root (``runuser -u nobody``), in a temporary folder, on a free port.
``unavailable()`` says why a cluster cannot be started here, for a skip reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: The operating-system user the cluster runs as when we are root.
UNPRIVILEGED = os.environ.get("NBMOCK_PG_OS_USER", "nobody")
DATABASE = "nbmock"
SUPERUSER = "nbmock"


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``, or $PG_BINDIR."""
    given = os.environ.get("PG_BINDIR")
    candidates = [given] if given else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why no cluster can be started on this machine, or None when one can."""
    if binaries() is None:
        return (
            "no PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb; "
            "apt-get install postgresql, as .ci/run does)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(UNPRIVILEGED)
        except KeyError:
            return f"running as root and there is no user {UNPRIVILEGED!r} to run PostgreSQL as"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing (PostgreSQL refuses to run as root)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (from the clone: pip install './[postgres]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """``initdb`` + ``pg_ctl start`` in a temporary folder; ``url`` is its database's URL."""

    def __init__(self, *, durable: bool = False) -> None:
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        self.bin = binaries()
        self.port = _free_port()
        # Not under pytest's tmp_path: that is root's, mode 0700, and the cluster's user
        # must reach its folder.
        self.folder = Path(tempfile.mkdtemp(prefix="nbmock-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"
        # Throwaway clusters skip fsync (a test's data need not survive power loss);
        # ``durable`` keeps PostgreSQL's defaults, for the benchmark figures.
        self._options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.folder}",
            "-c max_connections=200",
        ]
        if not durable:
            self._options += ["-c fsync=off", "-c full_page_writes=off"]

    def _as_owner(self, *argv: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", UNPRIVILEGED, "--", *argv]
        return list(argv)

    def _run(self, *argv: str) -> None:
        result = subprocess.run(self._as_owner(*argv), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stdout}{result.stderr}")

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            "--locale=C",  # whatever the environment says, a locale every machine has
            "--no-instructions",
            "--no-sync",
        )
        self.resume()
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {DATABASE}")
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def resume(self) -> None:
        """Start (again) the stopped server, and wait until it takes connections."""
        self._run(
            str(self.bin / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            " ".join(self._options),
        )

    def pause(self) -> None:
        """Stop the server (fast: open connections are cut), keeping its data."""
        self._run(str(self.bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.pause()
        shutil.rmtree(self.folder, ignore_errors=True)

    def fresh_database(self, name: str) -> str:
        """An empty database beside the default one, for a test that needs a clean slate."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A started cluster, stopped and removed on the way out."""
    started = Cluster(durable=durable)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def wait_until_down(url: str, timeout: float = 10) -> None:
    """Until ``url`` refuses connections (after ``pause``)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg.connect(url, connect_timeout=1).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.1)
