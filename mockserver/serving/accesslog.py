"""The access log's line, built from the few fields it shows.

gunicorn's logger builds, for every request, a dict of every request header,
response header and WSGI environ entry, then copies it to escape quotes, then
formats the line from it: a quarter of a worker thread's time on a small request
(the serving layer's profile in docs/BENCHMARKS.md). ``AccessLogger``
computes only the fields of ``ACCESS_LOG_FORMAT``, escaped as gunicorn escapes
them, and logs the same line through the same logger, so its handlers and the
credential filter (mockserver.serving.redact) see what they saw before.
"""

from __future__ import annotations

import traceback

from gunicorn.glogging import Logger

#: The request line without its query string: GET tokens never reach the log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def _escaped(value):
    """A field as gunicorn's ``SafeAtoms`` gives it: quotes escaped."""
    return value.replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(Logger):
    """gunicorn's logger; the access line of ``ACCESS_LOG_FORMAT`` built field by field."""

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        fields = {
            "h": _escaped(environ.get("REMOTE_ADDR", "-")),
            "m": _escaped(environ.get("REQUEST_METHOD")),
            "U": _escaped(environ.get("PATH_INFO")),
            "H": _escaped(environ.get("SERVER_PROTOCOL")),
            "s": _escaped(status),
            # gunicorn writes the attribute as it is: None before anything was sent.
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
        }
        try:
            self.access_log.info(ACCESS_LOG_FORMAT, fields)
        except Exception:
            self.error(traceback.format_exc())
