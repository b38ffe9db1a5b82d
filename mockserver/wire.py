"""ArcGIS wire conventions, shared by every resource.

- parameters come from the query string (GET) or the form body (POST,
  urlencoded or multipart); a POST's token must be in the body or a header;
- ``f`` picks ``json``, ``pjson`` (indented) or ``html`` (the default) [doc];
- numbers with an integral value are written as integers (``1.0`` -> ``1``) [seed];
- keys keep the order the resource gives them [seed];
- errors travel in the admin envelope ``{"status": "error", "messages", "code"}``
  or the Portal envelope ``{"error": {"code", "message", "details"}}``, with
  HTTP 200 [inferred from third-party captures].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Request, Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import FormDataParser

from mockserver import messages
from mockserver.errors import ArcGISError, InvalidParameters

FORMATS = ("html", "json", "pjson")
JSON_MIMETYPE = "application/json"

#: Headers that carry a bearer token [doc]; the official client sends the first [client].
TOKEN_HEADERS = ("X-Esri-Authorization", "Authorization")


def current_request() -> Request:
    """The request itself rather than Flask's proxy to it: each attribute read through
    the proxy costs a context lookup, and the per-request code reads dozens."""
    return request._get_current_object()  # type: ignore[attr-defined]


def params() -> dict[str, str]:
    """The request's parameters as strings; a POST's body wins over its query string.

    ``token`` is left out: it is read by ``token()``, which applies the rule
    that a POST must not carry it in the query string.
    """
    req = current_request()
    merged: dict[str, str] = {}
    merged.update(req.args.items())
    if req.method == "POST":
        merged.update(req.form.items())
    merged.pop("token", None)
    return merged


def token() -> str | None:
    """The bearer token: a header, else the form body (POST) or query string (GET).

    [seed] POST requests must carry the token in the body; one only in a POST's
    query string is treated as missing [inferred].
    """
    req = current_request()
    for header in TOKEN_HEADERS:
        value = req.headers.get(header, "")
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
    source = req.form if req.method == "POST" else req.args
    value = source.get("token", "").strip()
    return value or None


def response_format() -> str:
    """``f`` as asked; an unknown value is refused (and that refusal written as JSON)."""
    value = (request.values.get("f") or "html").strip().lower() or "html"
    if value not in FORMATS:
        raise InvalidParameters(messages.BAD_FORMAT)
    return value


def error_format() -> str:
    """``f`` for an error answer: never refused, and JSON when the request cannot say."""
    try:
        value = request.values.get("f")
    except (HTTPException, ValueError):
        # The body is too large, malformed or not UTF-8: only the query string can say,
        # and a client that sent such a body is a program, so JSON by default.
        value = request.args.get("f") or "json"
    value = (value or "html").strip().lower() or "html"
    return value if value in FORMATS else "json"


class ArcGISRequest(Request):
    """A request whose form parser reports a malformed body instead of hiding it.

    werkzeug parses forms silently by default: a broken multipart body would
    reach the handlers as missing parameters and get a misleading answer.
    """

    def make_form_data_parser(self) -> FormDataParser:
        return self.form_data_parser_class(
            stream_factory=self._get_file_stream,
            max_form_memory_size=self.max_form_memory_size,
            max_content_length=self.max_content_length,
            max_form_parts=self.max_form_parts,
            cls=self.parameter_storage_class,
            silent=False,
        )


def check_body() -> None:
    """Refuse, with code 400, what cannot be read as ArcGIS parameters [inferred].

    Runs before any handler: a malformed multipart body, and parameters that
    are not UTF-8 (werkzeug would otherwise hand over replacement characters
    or re-quoted bytes, and store them).
    """
    req = current_request()
    if not _is_utf8(unquote_to_bytes(req.query_string.replace(b"+", b" "))):
        raise InvalidParameters(messages.NOT_UTF8)
    if req.method != "POST":
        return
    mimetype = req.mimetype
    if mimetype == "multipart/form-data":
        if not req.mimetype_params.get("boundary"):
            raise InvalidParameters(messages.MULTIPART_WITHOUT_BOUNDARY)
        if not _is_utf8(req.get_data(cache=True)):
            raise InvalidParameters(messages.NOT_UTF8)
    elif mimetype == "application/x-www-form-urlencoded":
        raw = req.get_data(cache=True).replace(b"+", b" ")
        if not _is_utf8(unquote_to_bytes(raw)):
            raise InvalidParameters(messages.NOT_UTF8)
    try:
        _ = req.form  # parsed once here, cached for the handlers
    except ValueError:
        raise InvalidParameters(messages.MALFORMED_MULTIPART) from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def integral(value: Any) -> Any:
    """``value`` with every integral float written as an int, recursively [seed]."""
    # Exact types first: every answer goes through here, and they are what it holds;
    # isinstance against the Mapping ABC costs more than the rest of the walk.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


#: ``json.dumps`` builds an encoder per call when given options; these are built once.
_ENCODERS = {
    pretty: json.JSONEncoder(ensure_ascii=False, indent=2 if pretty else None, allow_nan=False)
    for pretty in (False, True)
}


def dumps(payload: Any, *, pretty: bool = False) -> str:
    return _ENCODERS[pretty].encode(integral(payload))


def render(payload: Mapping[str, Any], *, fmt: str) -> Response:
    """The resource as JSON or pretty JSON; HTML pages are the directory's
    (mockserver/directory.py)."""
    return Response(dumps(payload, pretty=fmt == "pjson"), mimetype=JSON_MIMETYPE)


def admin_envelope(error: ArcGISError) -> dict[str, Any]:
    return {"status": "error", "messages": error.messages, "code": error.code}


def portal_envelope(error: ArcGISError) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "message": error.messages[0] if error.messages else "",
            "details": error.details or error.messages[1:],
        }
    }


def render_error(error: ArcGISError, *, portal: bool = False, status: int = 200) -> Response:
    envelope = portal_envelope(error) if portal else admin_envelope(error)
    fmt = error_format()
    if fmt == "html":
        html = render_template("error.html", code=error.code, messages=error.messages)
        return Response(html, status=status, mimetype="text/html")
    return Response(dumps(envelope, pretty=fmt == "pjson"), status=status, mimetype=JSON_MIMETYPE)
