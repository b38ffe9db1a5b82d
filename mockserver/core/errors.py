"""ArcGIS errors as the domain raises them, free of any HTTP or envelope.

The wire layer decides which envelope carries them (the admin
``{"status": "error", ...}`` or the Portal ``{"error": {...}}``); the code is
the ArcGIS code inside that envelope, not an HTTP status.
"""

from __future__ import annotations

from mockserver.core import messages
from mockserver.serving.redact import redact

#: How the Portal words an error: (message, messageCode or None, details).
PortalForm = tuple[str, str | None, tuple[str, ...]]


def _unechoed(text):
    return redact(text) if isinstance(text, str) else text


class ArcGISError(Exception):
    """An error ArcGIS reports inside its JSON envelope."""

    code = 500
    #: The sharing API's own wording of this error, used in place of ``messages`` when the
    #: error is written in the Portal envelope; None: the Portal says what the admin API says.
    portal_form: PortalForm | None = None

    def __init__(self, *messages: str, code: int | None = None, details: list[str] | None = None):
        # A message quotes what was sent (an id, a value), and what was sent may hold a
        # credential typed in the wrong place ("x&token=..."): no answer echoes it back.
        self.messages = [_unechoed(message) for message in messages]
        self.details = [_unechoed(detail) for detail in details or []]
        super().__init__(self.messages[0] if self.messages else "")
        if code is not None:
            self.code = code


class InvalidParameters(ArcGISError):
    """Request parameters that are missing or malformed; one message per problem."""

    code = 400


class NotFound(ArcGISError):
    code = 404


class Refused(ArcGISError):
    """A well-formed request the resource's state does not allow."""

    code = 400


class TokenRequired(ArcGISError):
    code = 499
    portal_form = messages.PORTAL_TOKEN_REQUIRED


class InvalidToken(ArcGISError):
    code = 498
    portal_form = messages.PORTAL_INVALID_TOKEN


class Forbidden(ArcGISError):
    code = 403
    portal_form = messages.PORTAL_NOT_PERMITTED


class MethodNotSupported(ArcGISError):
    code = 405
    portal_form = messages.PORTAL_METHOD_NOT_SUPPORTED


class Unavailable(ArcGISError):
    """The emulator cannot serve now (its state database is unreachable): retry later.

    Emulator design (docs/FIDELITY.md S14): no ArcGIS counterpart.
    """

    code = 503
