"""The control plane's hooks on the emulated API: faults before the view, the journal after.

They run only for paths under ``/<context>/``; control requests are neither
journaled nor faulted.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import struct
import time
from http import HTTPStatus

from flask import Request, Response, g, request

from mockserver.control import context, journal
from mockserver.control.faults import FaultRule
from mockserver.core.errors import ArcGISError, Unavailable
from mockserver.serving.redact import redact
from mockserver.web import pipeline, wire

log = logging.getLogger("nbmock")

#: Set on a request whose connection a ``drop`` fault closed.
DROPPED = "nbmock.dropped"
#: Header of the never-sent answer to a dropped request; the in-process
#: transport (mockserver.testing), which has no socket to close, turns it into
#: a connection error.
DROPPED_HEADER = "X-Nbmock-Dropped"


def before_request() -> Response | None:
    req = wire.current_request()
    control = context.current()
    if not req.path.startswith(control.api_prefix):
        return None
    control.settings.refresh()
    g.nbmock_operation = operation = pipeline.name_of(req.endpoint)
    g.nbmock_fault = None
    for rule in control.settings.faults:
        if rule.matches(operation) and control.store.match_fault(rule.id, rule.fires_on):
            return _inflict(rule, control.portal_prefix)
    return None


def _inflict(rule: FaultRule, portal_prefix: str) -> Response | None:
    if rule.delay_seconds:
        g.nbmock_fault = "delay"
        if rule.drop:
            _answer_later(rule.delay_seconds)  # the connection is dropped after the delay
        else:
            # The answer (a refusal, or the operation's: carried out now) comes later, as
            # from a slow proxy: a client that gives up waiting has still made its change.
            g.nbmock_answer_delay = rule.delay_seconds
    if rule.drop:
        g.nbmock_fault = "drop"
        return _drop_connection()
    if rule.error is not None:
        g.nbmock_fault = "error"
        error = ArcGISError(rule.error["message"], *rule.error["details"], code=rule.error["code"])
        portal = request.path.startswith(portal_prefix)
        return wire.render_error(error, portal=portal, status=rule.status or 200)
    if rule.status is not None:
        g.nbmock_fault = "status"
        reason = _reason(rule.status)
        return Response(f"{rule.status} {reason}\n", status=rule.status, mimetype="text/plain")
    return None


def journal_in_transaction(_operation: pipeline.Operation, response: Response) -> None:
    """A write's journal row, inside the write's own transaction: one commit for both."""
    control = context.current()
    if control.journal_enabled:
        _journal(control, response)
        g.nbmock_journaled = True


def _answer_later(seconds: float) -> None:
    """Hold the answer back: by the server where it can (``nbmock serve`` sends it from its
    poller when the time comes, no thread waits), else by this thread sleeping."""
    answer_later = request.environ.get(wire.ANSWER_LATER)
    if answer_later is not None:
        answer_later(seconds)
    else:
        time.sleep(seconds)


def after_request(response: Response) -> Response:
    """Reads and refusals are journaled here; writes were, inside their transaction."""
    delay = g.get("nbmock_answer_delay")
    if delay:
        _answer_later(delay)
    req = wire.current_request()
    control = context.current()
    if not (control.journal_enabled and req.path.startswith(control.api_prefix)):
        return response
    if not g.get("nbmock_journaled"):
        try:
            _journal(control, response)
        except (sqlite3.OperationalError, Unavailable) as error:
            # A state file this worker cannot write, or a state database that is
            # unreachable (health says so): the answer stands, the journal entry is
            # lost, and the log says so.
            log.error("nbmock: worker %d: journal entry not kept: %s", os.getpid(), error)
    return response


def _journal(control: context.Control, response: Response) -> None:
    req = wire.current_request()
    dropped = req.environ.get(DROPPED, False)
    response_text, envelope, response_bytes = None, None, None
    if not (dropped or response.is_streamed or response.direct_passthrough):
        data = response.get_data()
        response_text, envelope = journal.response_json(response.mimetype, data)
        if response_text is None and len(data) > journal.MAX_RESPONSE_BYTES:
            response_bytes = len(data)
    entry = {
        "time": control.deployment.clock.now_ms(),
        "method": req.method,
        "path": journal.cut(redact(req.path), journal.MAX_NAME_CHARS),
        "operation": g.get("nbmock_operation"),
        "params": journal.masked_params(_params(req)),
        "status": None if dropped else response.status_code,
        "code": journal.arcgis_code(envelope),
        "fault": g.get("nbmock_fault"),
    }
    if response_bytes is not None:
        # The marker of a response too large to keep: how large it was.
        entry["responseBytes"] = response_bytes
    control.store.append_journal(entry["operation"], journal.entry_text(entry, response_text))


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
    return Response(status=500, headers={DROPPED_HEADER: "1"})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Injected"
