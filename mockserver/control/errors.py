"""Refusals of the control plane: a real HTTP status, since no ArcGIS client reads them.

Every answer under ``/__mock__/`` is the control plane's JSON envelope, those of
Flask's routing (an unknown verb, a method a verb does not take) and of a bug
included: a script driving the emulator reads JSON, never an HTML page.
"""

from __future__ import annotations

from flask import Request, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from mockserver.core import messages
from mockserver.serving.redact import redact

ROOT = "/__mock__"
#: The WSGI environ key of the path a client sent, where a dispatcher handed the app
#: another (a sandbox's control plane is its app's ``/__mock__/``).
PATH_AS_SENT = "nbmock.path_as_sent"


class ControlError(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def owns(path: str) -> bool:
    """Whether ``path`` is the control plane's (a sandbox's own included)."""
    return path == ROOT or path.startswith(ROOT + "/")


def answer(error: ControlError) -> Response:
    response = jsonify(status="error", messages=[error.message], code=error.status)
    response.status_code = error.status
    return response


def path_as_sent(request: Request) -> str:
    """The path the client sent, not a sandbox's own view of it: what an answer names."""
    return request.environ.get(PATH_AS_SENT) or request.path


def http_error(error: HTTPException, path: str, method: str) -> Response:
    """Flask's own refusal of a control-plane request, in the control plane's envelope.

    ``path`` is named as the client sent it (``path_as_sent``), cut (it is whatever
    the client typed, and may be long) and with any credential masked."""
    status = error.code or 500
    shown = redact(path)[:120]
    if status == 404:
        # `nbmock serve` prints /__mock__/ as where the control plane is: an unknown path
        # (that one included) says what is there, as the README's table does.
        root = redact(_root_as_sent(path))[:80]
        message = (
            f"No control-plane resource {shown!r}; under {root}/ there are "
            f"{', '.join(_resources())}."
        )
    elif status == 405:
        message = f"{method[:16]} is not allowed on {shown!r}."
    elif status >= 500:
        message = messages.INTERNAL_ERROR
    else:
        message = error.description or error.name
    response = answer(ControlError(message, status=status))
    if status == 405 and error.get_headers():
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def internal_error() -> Response:
    """A bug under ``/__mock__/``: HTTP 500 so tests notice, in JSON so scripts can read it."""
    return answer(ControlError(messages.INTERNAL_ERROR, status=500))


def _resources() -> list[str]:
    """This app's control-plane verbs with no variable part (``clock``, ``workload/jobs``)."""
    names = {
        rule.rule.removeprefix(ROOT + "/")
        for rule in current_app.url_map.iter_rules()
        if rule.rule.startswith(ROOT + "/") and "<" not in rule.rule
    }
    return sorted(names)


def _root_as_sent(path: str) -> str:
    """Where this app's control plane is, as the client reaches it: a sandbox's app sees
    ``/__mock__/…`` for what was sent as ``/__mock__/sandboxes/<id>/…``."""
    rest = request.path.removeprefix(ROOT)
    if owns(request.path) and rest and path.endswith(rest):
        return path[: len(path) - len(rest)]
    return ROOT
