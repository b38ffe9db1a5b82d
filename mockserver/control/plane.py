"""The control plane as a Flask extension: ``ControlPlane().init_app(app, ...)``.

As Flask's extension guide asks, it keeps no app: what it knows about an app
(``Control``) lives on ``app.extensions`` (mockserver/control/context.py). Its
hooks are in ``hooks.py``, its routes in ``routes.py``, its SQL in ``store.py``.
"""

from __future__ import annotations

from flask import Flask

from mockserver.control import context, hooks, journal
from mockserver.control.hooks import DROPPED_HEADER
from mockserver.control.routes import control as control_routes
from mockserver.control.shared import SharedSettings
from mockserver.control.store import ControlStore
from mockserver.control.workload import workload_control
from mockserver.core import deployment as deployments
from mockserver.core import owners

__all__ = ["DROPPED_HEADER", "ControlPlane", "install"]

DEFAULT_JOURNAL_LIMIT = journal.MAX_ENTRIES


class ControlPlane:
    """``/__mock__/`` and the journal and fault hooks, for any number of apps."""

    def __init__(self, app: Flask | None = None, **options: object) -> None:
        if app is not None:
            self.init_app(app, **options)  # type: ignore[arg-type]

    def init_app(
        self,
        app: Flask,
        *,
        token: str | None = None,
        enabled: bool = True,
        journal_enabled: bool = True,
        journal_limit: int = DEFAULT_JOURNAL_LIMIT,
        journal_bytes: int = journal.MAX_BYTES,
    ) -> None:
        """``token``: control requests must carry it (``X-Nbmock-Control-Token`` or
        ``Authorization: Bearer``). ``enabled=False`` leaves only ``health`` open,
        for a server bound beyond loopback without a token."""
        deployment = deployments.of(app)
        store = ControlStore(deployment.store, max_entries=journal_limit, max_bytes=journal_bytes)
        settings = SharedSettings(
            deployment.store, store, deployment.clock, deployment.runtimes.ids
        )
        owners.register(app, deployment.runtimes)
        owners.register(app, deployment.workload)
        owners.register(app, settings)
        context.install(
            app,
            context.Control(
                deployment=deployment,
                settings=settings,
                store=store,
                owners=owners.registered(app),
                token=token,
                enabled=enabled,
                journal_enabled=journal_enabled,
                api_prefix=f"/{deployment.context}/",
                portal_prefix=f"/{deployment.context}/sharing",
            ),
        )
        deployment.commit_hooks.append(hooks.journal_in_transaction)
        app.before_request(hooks.before_request)
        app.after_request(hooks.after_request)
        app.register_blueprint(control_routes, url_prefix="/__mock__")
        app.register_blueprint(workload_control, url_prefix="/__mock__/workload")


def install(app: Flask, **options: object) -> None:
    """The control plane on ``app`` (what ``create_app`` calls)."""
    ControlPlane().init_app(app, **options)  # type: ignore[arg-type]
