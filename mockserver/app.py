"""``create_app``: the only place that wires the emulator together."""

from __future__ import annotations

import logging
import secrets
import traceback
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mockserver import control, sandboxes
from mockserver.auth import signin
from mockserver.auth.admin_login import admin_login
from mockserver.auth.routes import oauth_signin, portal
from mockserver.auth.tokens import TokenService
from mockserver.auth.users import UserDirectory, default_users, load_users
from mockserver.control import errors as control_errors
from mockserver.core import deployment, messages
from mockserver.core.clock import Clock
from mockserver.core.deployment import Deployment
from mockserver.core.errors import ArcGISError, MethodNotSupported, Unavailable
from mockserver.core.ids import IdGenerator
from mockserver.core.profile import Profile
from mockserver.core.profile import load as load_profile
from mockserver.core.settings import Settings
from mockserver.flavours import DEFAULT_FLAVOUR, claim_state, flavour
from mockserver.runtimes.stores import open_store
from mockserver.serving import hosts
from mockserver.serving.redact import redact
from mockserver.web import browser, directory, wire
from mockserver.workload.backend import WorkloadBackend
from mockserver.workload.items import items

log = logging.getLogger("nbmock")


class EmulatorFlask(Flask):
    """Flask, checking once per view or hook whether it is a coroutine function.

    ``ensure_sync`` (Flask's override point for how views and hooks are called) asks
    ``inspect`` on every call, six times a request here: a twentieth of a GET's cost.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._callables[func]
        except KeyError:
            ready = self._callables[func] = super().ensure_sync(func)
            return ready


def create_app(settings: Settings | None = None, /, **options: Any) -> Flask:
    """An emulator app for ``settings`` (see ``Settings``), with ``options`` applied to it.

    ``create_app(release_name="11.5", seed=7)`` is ``create_app(Settings(release_name="11.5",
    seed=7))``; an unknown option raises ``TypeError`` at once.
    """
    settings = Settings.of(settings, **options)
    profile = load_profile(settings.profile)
    the_flavour = flavour(
        settings.flavour or (profile.flavour if profile is not None else DEFAULT_FLAVOUR)
    )
    if profile is not None and profile.flavour != the_flavour.name:
        raise ValueError(
            f"profile {profile.name!r} was captured from a {profile.flavour} deployment; "
            f"serve it as that flavour, not as {the_flavour.name}"
        )
    the_release = the_flavour.release(settings.release_name)
    if profile is not None:
        the_release = profile.release(the_release, the_flavour.releases)
    store = open_store(settings.state)
    try:
        return _assemble(settings, the_flavour, the_release, store, profile)
    except BaseException:
        # An app that fails half-built (a sandbox's, say) must not keep its state open.
        store.close()
        raise


def _assemble(
    settings: Settings, the_flavour: Any, the_release: Any, store: Any, profile: Profile | None
) -> Flask:
    claim_state(store, the_flavour)
    clock = settings.clock or Clock()
    users = settings.users
    if not isinstance(users, UserDirectory):
        users = load_users(users) if users is not None else default_users()
    with store.transaction() as tx:
        secret = tx.setdefault_meta("token_secret", lambda: secrets.token_hex(32))

    app = EmulatorFlask(__name__, template_folder="web/templates")
    app.jinja_env.globals["product"] = the_flavour.directory_title
    app.request_class = wire.ArcGISRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.json.sort_keys = False
    ids = IdGenerator(settings.seed)
    runtimes = the_flavour.backend(
        store,
        the_release,
        clock,
        ids,
        # Only a profile of this flavour gets here: its catalogue is this backend's.
        *([profile.catalogue()] if profile is not None else []),
    )
    deployment.install(
        app,
        Deployment(
            settings=settings,
            flavour=the_flavour,
            context=settings.context,
            release=the_release,
            store=store,
            clock=clock,
            users=users,
            tokens=TokenService(secret),
            runtimes=runtimes,
            workload=WorkloadBackend(
                store, the_release, clock, ids, runtimes, the_flavour.workload
            ),
            profile=profile,
        ),
    )
    hosts.init_app(app, settings.allowed_hosts, trusted_proxies=settings.trusted_proxies)
    app.before_request(wire.check_body)
    browser.init_app(app)
    signin.init_app(app)
    context = settings.context
    app.register_blueprint(portal, url_prefix=f"/{context}/sharing/rest")
    app.register_blueprint(oauth_signin, url_prefix=f"/{context}/sharing/oauth2")
    app.register_blueprint(the_flavour.admin, url_prefix=f"/{context}/admin")
    app.register_blueprint(the_flavour.workload.routes, url_prefix=f"/{context}/admin")
    app.register_blueprint(items, url_prefix=f"/{context}/sharing/rest")
    app.register_blueprint(admin_login, url_prefix=f"/{context}/admin")
    directory.install(app)
    _register_error_handlers(app, context)
    control.install(
        app,
        token=settings.control_token,
        enabled=settings.control_enabled,
        journal_enabled=settings.journal,
    )
    if settings.max_sandboxes:
        sandboxes.init_app(app, create_app)
    return app


def _register_error_handlers(app: Flask, context: str) -> None:
    portal_prefix = f"/{context}/sharing"
    admin_prefix = f"/{context}/admin"

    def under(prefix: str) -> bool:
        """Whether the request's path is ``prefix`` or below it (``/arcgis/admin0`` is not)."""
        return request.path == prefix or request.path.startswith(prefix + "/")

    def is_portal() -> bool:
        return under(portal_prefix)

    @app.errorhandler(ArcGISError)
    def arcgis_error(error: ArcGISError):
        return directory.render_error(error, portal=is_portal())

    @app.errorhandler(Unavailable)
    def unavailable(error: Unavailable):
        # HTTP 503 too (FIDELITY S14), so load balancers and retrying clients see it as transient.
        response = wire.render_error(error, portal=is_portal(), status=503)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge):
        limit = app.config["MAX_CONTENT_LENGTH"]
        message = (
            error.description
            if isinstance(error, wire.BodyTooLarge)
            else messages.BODY_TOO_LARGE.format(limit=limit)
        )
        problem = ArcGISError(message, code=413)
        return directory.render_error(problem, portal=is_portal(), status=413)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if control_errors.owns(request.path) and (error.code or 0) >= 400:
            return control_errors.http_error(
                error, control_errors.path_as_sent(request), request.method
            )
        if not (under(admin_prefix) or is_portal()):
            return error if (error.code or 0) < 400 else _outside_the_api(error)
        if error.code == 405:
            problem = MethodNotSupported(
                messages.METHOD_NOT_SUPPORTED.format(method=request.method)
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
        return directory.render_error(problem, portal=is_portal(), status=status)

    def _outside_the_api(error: HTTPException):
        """A path neither the admin API, the sharing API nor the control plane serves
        (``/nowhere``, ``/<context>/nothing``): what a real Enterprise's web server
        answers there is not known (docs/FIDELITY.md W8a), so an ArcGIS client gets
        an ArcGIS envelope it can read, a browser a plain page; HTTP status kept."""
        if error.code == 405:
            problem = MethodNotSupported(
                messages.METHOD_NOT_SUPPORTED.format(method=request.method[:16])
            )
        elif error.code == 404:
            name = redact(request.path)[:120]  # "/x&token=..." names a token
            problem = ArcGISError(messages.NO_SUCH_RESOURCE.format(name=name), code=404)
        else:
            problem = ArcGISError(error.description or error.name, code=error.code or 400)
        response = wire.render_error(problem, status=error.code or 400)
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
        return response

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
        if control_errors.owns(request.path):
            return control_errors.internal_error()
        problem = ArcGISError(messages.INTERNAL_ERROR, code=500)
        return directory.render_error(problem, portal=is_portal(), status=500)
