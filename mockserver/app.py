"""``create_app``: the only place that wires the emulator together."""

from __future__ import annotations

import logging
import secrets
import traceback
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mockserver import hosts, messages, wire
from mockserver.auth.tokens import TokenService
from mockserver.auth.users import UserDirectory, default_users, load_users
from mockserver.clock import Clock
from mockserver.errors import ArcGISError
from mockserver.ids import IdGenerator
from mockserver.redact import redact
from mockserver.runtimes.backend import RuntimesBackend
from mockserver.runtimes.releases import DEFAULT_RELEASE, Release, release
from mockserver.runtimes.store import Store

log = logging.getLogger("nbmock")

DEFAULT_CONTEXT = "arcgis"
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass
class Deployment:
    """One emulated ArcGIS Enterprise: its release, users, tokens, clock and runtimes."""

    context: str
    release: Release
    store: Store
    clock: Clock
    users: UserDirectory
    tokens: TokenService
    runtimes: RuntimesBackend


def deployment() -> Deployment:
    return current_app.extensions["nbmock"]


def create_app(
    *,
    context: str = DEFAULT_CONTEXT,
    state: str | Path | None = None,
    release_name: str = DEFAULT_RELEASE,
    users: UserDirectory | str | Path | None = None,
    clock: Clock | None = None,
    seed: int | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    control_token: str | None = None,
    control_enabled: bool = True,
    journal: bool = True,
    allowed_hosts: frozenset[str] | None = None,
    trusted_proxies: frozenset[str] = frozenset(),
) -> Flask:
    """An emulator app.

    ``state`` is a SQLite file that keeps runtimes (and the token secret)
    across restarts and shares them between worker processes; without it the
    state lives in memory for the life of this app. ``users`` is a
    UserDirectory or the path of a users TOML file; the default is the single
    Administrator ``admin``. ``clock`` lets tests move time without sleeping.
    ``control_token``/``control_enabled`` guard the ``/__mock__/`` control
    plane (mockserver/control): open by default, as on loopback; ``journal``
    turns its request journal off for throughput runs. ``allowed_hosts``: the
    Host names answered (mockserver.hosts; ``None``, any); ``trusted_proxies``:
    peers whose X-Forwarded-* headers count.
    """
    context = context.strip("/")
    if not context or "/" in context:
        raise ValueError(f"context must be a single path segment, got {context!r}")
    store = Store(str(state) if state else None)
    clock = clock or Clock()
    if isinstance(users, str | Path):
        users = load_users(users)
    with store.transaction() as tx:
        secret = tx.setdefault_meta("token_secret", lambda: secrets.token_hex(32))
    the_release = release(release_name)

    app = Flask(__name__)
    app.request_class = wire.ArcGISRequest
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.json.sort_keys = False
    app.extensions["nbmock"] = Deployment(
        context=context,
        release=the_release,
        store=store,
        clock=clock,
        users=users or default_users(),
        tokens=TokenService(secret),
        runtimes=RuntimesBackend(store, the_release, clock, IdGenerator(seed)),
    )

    from mockserver.auth.routes import oauth_signin, portal
    from mockserver.runtimes.routes import admin

    hosts.init_app(app, allowed_hosts, trusted_proxies=trusted_proxies)
    app.before_request(wire.check_body)
    app.register_blueprint(portal, url_prefix=f"/{context}/sharing/rest")
    app.register_blueprint(oauth_signin, url_prefix=f"/{context}/sharing/oauth2")
    app.register_blueprint(admin, url_prefix=f"/{context}/admin")
    _register_error_handlers(app, context)

    from mockserver import control

    control.install(app, token=control_token, enabled=control_enabled, journal_enabled=journal)
    return app


def _register_error_handlers(app: Flask, context: str) -> None:
    portal_prefix = f"/{context}/sharing"
    admin_prefix = f"/{context}/admin"

    def is_portal() -> bool:
        return request.path.startswith(portal_prefix)

    @app.errorhandler(ArcGISError)
    def arcgis_error(error: ArcGISError):
        return wire.render_error(error, portal=is_portal())

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge):
        limit = app.config["MAX_CONTENT_LENGTH"]
        message = (
            error.description
            if isinstance(error, wire.BodyTooLarge)
            else messages.BODY_TOO_LARGE.format(limit=limit)
        )
        problem = ArcGISError(message, code=413)
        return wire.render_error(problem, portal=is_portal(), status=413)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not (request.path.startswith(admin_prefix) or is_portal()):
            return error
        if error.code == 405:
            problem = ArcGISError(
                messages.METHOD_NOT_SUPPORTED.format(method=request.method), code=405
            )
        elif error.code == 404:
            operation = request.path.rstrip("/").rsplit("/", 1)[-1]
            name = redact(operation)[:80]  # "runtimes&token=..." names a token
            problem = ArcGISError(messages.NO_SUCH_RESOURCE.format(name=name), code=404)
        else:
            problem = ArcGISError(error.description or error.name, code=error.code or 400)
        # A 5xx here is an exception outside a view (Flask wraps it): a bug,
        # so it keeps its HTTP status for tests and clients to see.
        status = 500 if (error.code or 0) >= 500 else 200
        return wire.render_error(problem, portal=is_portal(), status=status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # A bug, not an ArcGIS answer: say so with HTTP 500 so tests catch it,
        # and log the type only (messages may echo request data).
        log.error(
            "unhandled %s on %s %s\n%s",
            type(error).__name__,
            request.method,
            request.path,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        problem = ArcGISError(messages.INTERNAL_ERROR, code=500)
        return wire.render_error(problem, portal=is_portal(), status=500)
