"""Wiring the control plane into an app: its routes, and the hooks that journal and fault.

The hooks run only for the emulated API (paths under ``/<context>/``); control
requests are neither journaled nor faulted.
"""

from __future__ import annotations

import socket
import struct
import time
from http import HTTPStatus

from flask import Flask, Request, Response, g, request

from mockserver import deployment, pipeline, wire
from mockserver.control import journal
from mockserver.control.faults import FaultRule
from mockserver.control.shared import SharedSettings
from mockserver.errors import ArcGISError

DEFAULT_JOURNAL_LIMIT = 10_000

#: Set on a request whose connection a ``drop`` fault closed.
DROPPED = "nbmock.dropped"
#: Header of the never-sent answer to a dropped request; the in-process
#: transport (mockserver.testing), which has no socket to close, turns it into
#: a connection error.
DROPPED_HEADER = "X-Nbmock-Dropped"


class ControlPlane:
    """What the control routes need: the deployment, shared settings, access rules."""

    def __init__(
        self,
        app: Flask,
        *,
        token: str | None,
        enabled: bool,
        journal_enabled: bool,
        journal_limit: int,
    ) -> None:
        self.app = app
        self.deployment = deployment.of(app)
        self.settings = SharedSettings(
            self.deployment.store, self.deployment.clock, self.deployment.runtimes.ids
        )
        self.token = token
        self.enabled = enabled
        self.journal_enabled = journal_enabled
        self.journal_limit = journal_limit
        self.api_prefix = f"/{self.deployment.context}/"
        self.portal_prefix = f"/{self.deployment.context}/sharing"
        self._operations: frozenset[str] | None = None

    @property
    def operations(self) -> frozenset[str]:
        """Every operation name of the emulated API, for validating fault rules."""
        if self._operations is None:
            self._operations = pipeline.operation_names(self.app)
        return self._operations

    # --- hooks on the emulated API ----------------------------------------------

    def before_request(self) -> Response | None:
        req = wire.current_request()
        if not req.path.startswith(self.api_prefix):
            return None
        self.settings.refresh()
        g.nbmock_operation = operation = pipeline.name_of(req.endpoint)
        g.nbmock_fault = None
        for rule in self.settings.faults:
            if rule.matches(operation) and self.deployment.store.match_fault(
                rule.id, rule.fires_on
            ):
                return self._inflict(rule)
        return None

    def _inflict(self, rule: FaultRule) -> Response | None:
        if rule.delay_seconds:
            g.nbmock_fault = "delay"
            time.sleep(rule.delay_seconds)
        if rule.drop:
            g.nbmock_fault = "drop"
            return _drop_connection()
        if rule.error is not None:
            g.nbmock_fault = "error"
            error = ArcGISError(
                rule.error["message"], *rule.error["details"], code=rule.error["code"]
            )
            portal = request.path.startswith(self.portal_prefix)
            return wire.render_error(error, portal=portal, status=rule.status or 200)
        if rule.status is not None:
            g.nbmock_fault = "status"
            reason = _reason(rule.status)
            return Response(f"{rule.status} {reason}\n", status=rule.status, mimetype="text/plain")
        return None

    def journal_in_transaction(self, _operation: pipeline.Operation, response: Response) -> None:
        """A write's journal row, inside the write's own transaction: one commit for both."""
        if self.journal_enabled:
            self._journal(response)
            g.nbmock_journaled = True

    def after_request(self, response: Response) -> Response:
        req = wire.current_request()
        if not (self.journal_enabled and req.path.startswith(self.api_prefix)):
            return response
        if g.get("nbmock_journaled"):
            return response
        self._journal(response)
        return response

    def _journal(self, response: Response) -> None:
        req = wire.current_request()
        dropped = req.environ.get(DROPPED, False)
        response_text, envelope = None, None
        if not (dropped or response.is_streamed or response.direct_passthrough):
            data = response.get_data()
            response_text, envelope = journal.response_json(response.mimetype, data)
        entry = {
            "time": self.deployment.clock.now_ms(),
            "method": req.method,
            "path": req.path,
            "operation": g.get("nbmock_operation"),
            "params": journal.masked_params(_params(req)),
            "status": None if dropped else response.status_code,
            "code": journal.arcgis_code(envelope),
            "fault": g.get("nbmock_fault"),
        }
        self.deployment.store.append_journal(
            entry["operation"], journal.entry_text(entry, response_text), self.journal_limit
        )


def install(
    app: Flask,
    *,
    token: str | None = None,
    enabled: bool = True,
    journal_enabled: bool = True,
    journal_limit: int = DEFAULT_JOURNAL_LIMIT,
) -> ControlPlane:
    """Add ``/__mock__/`` and the journal/fault hooks to an emulator app.

    ``token``: control requests must carry it (``X-Nbmock-Control-Token`` or
    ``Authorization: Bearer``). ``enabled=False`` leaves only ``health`` open,
    for a server bound beyond loopback without a token.
    """
    from mockserver.control.routes import control

    plane = ControlPlane(
        app,
        token=token,
        enabled=enabled,
        journal_enabled=journal_enabled,
        journal_limit=journal_limit,
    )
    app.extensions["nbmock_control"] = plane
    plane.deployment.commit_hooks.append(plane.journal_in_transaction)
    app.before_request(plane.before_request)
    app.after_request(plane.after_request)
    app.register_blueprint(control, url_prefix="/__mock__")
    return plane


def _params(req: Request) -> dict[str, str]:
    """Query and form parameters; a body that cannot be parsed is noted, not fatal."""
    params: dict[str, str] = dict(req.args.items())
    if req.method == "POST":
        try:
            params.update(req.form.items())
        except Exception:  # oversized or malformed: the answer already said so
            params["(body)"] = "unreadable"
    # A multipart part without a name comes as key None: journal it, don't trip on it.
    return {key if isinstance(key, str) else "(unnamed)": value for key, value in params.items()}


def _drop_connection() -> Response:
    """Close the client's connection now; the server's later write fails quietly.

    SO_LINGER 0 makes the close a reset where the platform allows it, which is
    what a crashed proxy looks like to a client.
    """
    request.environ[DROPPED] = True
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=500, headers={DROPPED_HEADER: "1"})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Injected"
