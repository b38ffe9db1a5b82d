"""Sandboxes: a whole deployment per caller, at its own web context, on any server.

``POST /__mock__/sandboxes`` makes one: an ordinary emulator app (``create_app``)
at ``/<sb-id>/`` with its own state, runtimes, release, token secret, clock,
faults and journal. A WSGI dispatcher in front of the main app hands each
request for a sandbox's context, or for ``/__mock__/sandboxes/<id>/<verb>``
(that sandbox's own control plane), to the sandbox's app; everything else goes
to the main app. The registry lives in the main deployment's state, so every
worker and replica serves the same sandboxes. This is emulator design, not
ArcGIS (docs/FIDELITY.md, S-rows).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from mockserver.control import context as control
from mockserver.core import deployment
from mockserver.core.settings import Settings
from mockserver.sandboxes.apps import SandboxDispatcher, Sandboxes, install, of
from mockserver.sandboxes.routes import gone_contexts
from mockserver.sandboxes.routes import sandboxes as sandbox_routes
from mockserver.sandboxes.store import SandboxRecords

__all__ = ["Sandboxes", "init_app", "of"]


def init_app(app: Flask, factory: Callable[[Settings], Flask]) -> Sandboxes:
    """Sandboxes on ``app``; ``factory`` (``create_app``) builds each sandbox's app."""
    main = deployment.of(app)
    settings = control.of(app).settings
    registry = Sandboxes(main, SandboxRecords(main.store), factory, settings.refresh)
    install(app, registry)
    app.register_blueprint(sandbox_routes, url_prefix="/__mock__/sandboxes")
    app.register_blueprint(gone_contexts)
    app.wsgi_app = SandboxDispatcher(app.wsgi_app, registry)  # type: ignore[method-assign]
    return registry
