"""Each worker's live sandbox apps, and the dispatcher that routes requests to them."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app

from mockserver.auth.users import users_from_records
from mockserver.control.errors import PATH_AS_SENT
from mockserver.core import deployment as deployments
from mockserver.core.deployment import Deployment
from mockserver.core.profile import Profile
from mockserver.core.settings import Settings
from mockserver.runtimes import stores
from mockserver.sandboxes.store import Sandbox, SandboxRecords

#: Every sandbox's web context starts with this; the main context never may.
CONTEXT_PREFIX = "sb-"
CONTROL_PREFIX = "/__mock__/sandboxes/"
#: Sandbox apps a worker keeps open at once; a sandbox beyond them is reopened from its
#: state on its next request (a few milliseconds), so this bounds memory, not sandboxes.
MAX_LIVE_APPS = 64
#: Over PostgreSQL each open sandbox app holds a database connection: fewer, so that
#: replicas × workers × (1 + this) stays within a default max_connections of 100.
MAX_LIVE_APPS_DATABASE = 16
_ID = re.compile(r"[0-9a-f]{12}")
_KEY = "nbmock_sandboxes"


def install(app: Flask, registry: Sandboxes) -> None:
    app.extensions[_KEY] = registry


def current() -> Sandboxes:
    """The sandboxes of the app handling the current request."""
    return current_app.extensions[_KEY]


def of(app: Flask) -> Sandboxes:
    return app.extensions[_KEY]


class Sandboxes:
    """The sandboxes of one main deployment, as one worker sees them."""

    def __init__(
        self,
        main: Deployment,
        records: SandboxRecords,
        factory: Callable[[Settings], Flask],
        sync_clock: Callable[[], None],
    ) -> None:
        self.main = main
        self.records = records
        self.factory = factory
        # The main deployment's clock decides expiry; another worker may have moved it.
        self.sync_clock = sync_clock
        self._apps: OrderedDict[str, Flask] = OrderedDict()
        self._by_context: dict[str, Sandbox] = {}
        self._by_id: dict[str, Sandbox] = {}
        self._generation: str | None = None
        self._lock = threading.RLock()
        self._scratch: str | None = None

    # --- the registry ---------------------------------------------------------------

    def refresh(self) -> None:
        """Pick up sandboxes another worker made or removed since this one last looked."""
        generation = self.records.generation()
        with self._lock:
            if generation == self._generation:
                return
            live = self.records.all()
            self._by_context = {sandbox.context: sandbox for sandbox in live}
            self._by_id = {sandbox.id: sandbox for sandbox in live}
            for gone in [key for key in self._apps if key not in self._by_id]:
                deployments.of(self._apps.pop(gone)).close()
            self._generation = generation

    def listed(self) -> list[Sandbox]:
        self.sweep()
        self.refresh()
        return sorted(self._by_id.values(), key=lambda sandbox: (sandbox.created_ms, sandbox.id))

    def find(self, *, sandbox_id: str | None = None, context: str | None = None) -> Sandbox | None:
        """The live sandbox with that id or context; an expired one is removed, not found."""
        self.refresh()
        with self._lock:
            sandbox = self._by_id.get(sandbox_id) if sandbox_id else self._by_context.get(context)
        if sandbox is not None and self._now_ms() >= sandbox.expires_ms:
            self.delete([sandbox.id])
            return None
        return sandbox

    def create(
        self,
        *,
        release: str,
        flavour: str = "kubernetes",
        seed: int | None,
        ttl_seconds: float,
        users: list[dict[str, Any]] | None,
        limit: int,
        profile: dict[str, Any] | None = None,
    ) -> Sandbox | None:
        """A new sandbox, seeded and ready; None when ``limit`` sandboxes exist."""
        self.sweep()
        now_ms = self._now_ms()
        sandbox_id = uuid.uuid4().hex[:12]
        sandbox = Sandbox(
            id=sandbox_id,
            context=f"{CONTEXT_PREFIX}{sandbox_id}",
            release=release,
            seed=seed,
            created_ms=now_ms,
            expires_ms=now_ms + int(ttl_seconds * 1000),
            users=users,
            flavour=flavour,
            profile=profile,
        )
        # Built (state made, runtimes seeded) before it is registered: once listed, it answers.
        # Whatever stops it on the way (the limit, a failure), its state files and open
        # lock go with it: nothing outside --max-sandboxes may stay behind.
        app = None
        try:
            app = self._build(sandbox)
            added = self.records.add(sandbox, limit=limit, now_ms=now_ms)
        except BaseException:
            self._discard(sandbox.id, app)
            raise
        if not added:
            self._discard(sandbox.id, app)
            return None
        with self._lock:
            self._remember(sandbox.id, app)
        return sandbox

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Remove sandboxes and their state; the ids that existed."""
        removed = self.records.remove(list(ids))
        with self._lock:
            for sandbox_id in removed:
                app = self._apps.pop(sandbox_id, None)
                if app is not None:
                    deployments.of(app).close()
        for sandbox_id in removed:
            self._remove_state(sandbox_id)
        return removed

    def sweep(self) -> list[str]:
        """Remove every sandbox past its TTL."""
        now_ms = self._now_ms()
        return self.delete(s.id for s in self.records.all() if s.expired(now_ms))

    def _now_ms(self) -> int:
        self.sync_clock()
        return self.main.clock.now_ms()

    # --- apps -----------------------------------------------------------------------

    def app(self, sandbox: Sandbox) -> Flask:
        with self._lock:
            app = self._apps.get(sandbox.id)
            if app is None:
                app = self._build(sandbox)
                self._remember(sandbox.id, app)
            else:
                self._apps.move_to_end(sandbox.id)
            return app

    def _remember(self, sandbox_id: str, app: Flask) -> None:
        self._apps[sandbox_id] = app
        limit = (
            MAX_LIVE_APPS_DATABASE
            if stores.is_database_url(self.main.settings.state)
            else MAX_LIVE_APPS
        )
        while len(self._apps) > limit:
            _, oldest = self._apps.popitem(last=False)
            deployments.of(oldest).close()

    def _build(self, sandbox: Sandbox) -> Flask:
        settings = Settings.of(
            self.main.settings,
            context=sandbox.context,
            state=self.state_of(sandbox.id),
            flavour=sandbox.flavour,
            release_name=sandbox.release,
            seed=sandbox.seed,
            users=self.main.users if sandbox.users is None else users_from_records(sandbox.users),
            clock=None,
            max_sandboxes=0,
            profile=self._profile(sandbox),
        )
        return self.factory(settings)

    def _profile(self, sandbox: Sandbox) -> Profile | None:
        """The sandbox's own profile; without one, the server's when it is of the sandbox's
        flavour (a sandbox is the server's deployment, profile and all), else none."""
        if sandbox.profile is not None:
            return Profile.from_mapping(sandbox.profile, source=f"sandbox {sandbox.id}")
        main = self.main.profile
        return main if main is not None and main.flavour == sandbox.flavour else None

    # --- state ------------------------------------------------------------------------

    def state_of(self, sandbox_id: str) -> str:
        """Where a sandbox keeps its state: a SQLite file beside the main state file (a
        scratch folder for an in-memory main state, removed at exit), or its own schema
        of the main state's PostgreSQL database, which every replica reaches."""
        if not _ID.fullmatch(sandbox_id):
            raise ValueError(f"not a sandbox id: {sandbox_id[:40]!r}")
        main_state = self.main.settings.state
        in_database = stores.state_in_database(main_state, f"sandbox_{sandbox_id}")
        if in_database is not None:
            return in_database
        if main_state:
            folder = f"{main_state}.sandboxes"
        else:
            with self._lock:
                if self._scratch is None:
                    self._scratch = tempfile.mkdtemp(prefix="nbmock-sandboxes-")
                    atexit.register(shutil.rmtree, self._scratch, True)
                folder = self._scratch
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{sandbox_id}.sqlite3")

    def _discard(self, sandbox_id: str, app: Flask | None) -> None:
        """Close and remove a sandbox that was never registered."""
        if app is not None:
            deployments.of(app).close()
        self._remove_state(sandbox_id)

    def _remove_state(self, sandbox_id: str) -> None:
        path = self.state_of(sandbox_id)
        if stores.is_database_url(path):
            stores.remove_state_in_database(path)
            return
        for suffix in ("", "-wal", "-shm", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)


class SandboxDispatcher:
    """WSGI: a sandbox's context, or its control plane, to the sandbox's app; else the main app.

    A sandbox's control plane is the sandbox app's own ``/__mock__/`` routes, so what
    that app says about a path (a redirect that merges slashes or drops a trailing
    one) is about its own routes: its ``Location`` is put back under the sandbox's
    control URL, or a client that follows it would act on the main deployment.
    """

    def __init__(self, main: Callable, sandboxes: Sandboxes) -> None:
        self.main = main
        self.sandboxes = sandboxes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            # Empty segments name nothing: "<id>//clock" is "<id>/clock", as werkzeug
            # would redirect it, but without leaving the sandbox.
            sandbox_id, _, rest = _SLASHES.sub(
                "/", path[len(CONTROL_PREFIX) :].lstrip("/")
            ).partition("/")
            sandbox = self.sandboxes.find(sandbox_id=sandbox_id) if rest else None
            if sandbox is not None:
                inner = {**environ, "PATH_INFO": f"/__mock__/{rest}", PATH_AS_SENT: path}
                return self.sandboxes.app(sandbox)(
                    inner, _locations_under(f"{CONTROL_PREFIX}{sandbox.id}/", start_response)
                )
        elif path.lstrip("/").startswith(CONTEXT_PREFIX):
            # "//sb-…/admin" is the sandbox's too: its app redirects it to the one spelling.
            context = path.lstrip("/").split("/", 1)[0]
            sandbox = self.sandboxes.find(context=context)
            if sandbox is not None:
                return self.sandboxes.app(sandbox)(environ, start_response)
        return self.main(environ, start_response)


_SLASHES = re.compile(r"/{2,}")
_CONTROL_ROOT = "/__mock__/"


def _locations_under(prefix: str, start_response: Callable) -> Callable:
    """``start_response``, with a ``Location`` into the control plane moved under ``prefix``."""

    def start(status: str, headers: list[tuple[str, str]], exc_info=None):
        moved = []
        for name, value in headers:
            if name.lower() == "location":
                parts = urlsplit(value)
                if parts.path.startswith(_CONTROL_ROOT) and not parts.path.startswith(prefix):
                    value = urlunsplit(
                        parts._replace(path=prefix + parts.path[len(_CONTROL_ROOT) :])
                    )
            moved.append((name, value))
        return start_response(status, moved, exc_info)

    return start
