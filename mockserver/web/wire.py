"""ArcGIS wire conventions, shared by every resource.

- parameters come from the query string (GET) or the form body (POST,
  urlencoded or multipart); a POST's token must be in the body or a header;
- ``f`` picks ``json``, ``pjson`` (indented) or ``html`` (the default) [doc];
- numbers with an integral value are written as integers (``1.0`` -> ``1``) [seed];
- keys keep the order the resource gives them [seed];
- errors travel in the admin envelope ``{"status": "error", "messages", "code"}``
  or the Portal envelope ``{"error": {"code", "message", "details"}}``, with
  HTTP 200 [inferred from third-party captures];
- JSON is labelled ``text/plain;charset=UTF-8``, as ArcGIS labels it [capture].
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Request, Response, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property

from mockserver.core import messages
from mockserver.core.errors import ArcGISError, InvalidParameters

FORMATS = ("html", "json", "pjson")
#: What ArcGIS labels its JSON answers with (f=json and pjson, errors, generateToken)
#: [capture: ArcGIS Server's admin API and Portal's generateToken, docs/FIDELITY.md W11].
JSON_CONTENT_TYPE = "text/plain;charset=UTF-8"

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


def uploaded_file(name: str) -> bytes | None:
    """The content of the multipart file part ``name`` of a POST, or None if none came.

    ``params()`` holds only text fields: werkzeug files a part that carries a
    ``filename`` apart, as the official client's ``manifestFile`` upload does [client].
    """
    req = current_request()
    if req.method != "POST":
        return None
    storage = req.files.get(name)
    return None if storage is None else storage.read()


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


#: What counts as blank around ``f``: the contract's ``Blank`` (space, tab, CR, LF). Python's
#: own ``strip()`` also takes form feeds, U+0085, U+2028 ..., which no client sends as
#: padding; such an ``f`` is an unknown format, as the contract says.
_BLANK = " \t\r\n"


def response_format() -> str:
    """``f`` as asked; an unknown value is refused (and that refusal written as JSON)."""
    value = (request.values.get("f") or "html").strip(_BLANK).lower() or "html"
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
    value = (value or "html").strip(_BLANK).lower() or "html"
    return value if value in FORMATS else "json"


class BodyTooLarge(RequestEntityTooLarge):
    """HTTP 413 that says which limit the body passed (its description is the message)."""


class MalformedBody(BadRequest):
    """A body the server could not decode (a bad chunk size): the client's error."""


#: Set in the WSGI environ when a body was refused before it was read to its end:
#: the server must then close the connection rather than guess where the next
#: request starts (mockserver.serving.worker reads it).
BODY_REFUSED = "nbmock.body_refused"
#: Set by a server that can hold an answer back without holding a thread
#: (mockserver.serving.worker): called with seconds, the answer goes out that much later.
ANSWER_LATER = "nbmock.answer_later"

#: How much of a chunked body is read at a time while counting it against the limit.
_READ_SIZE = 64 * 1024


class ArcGISRequest(Request):
    """A request whose body is read whole or refused, never cut or hidden.

    werkzeug parses forms silently by default: a broken multipart body would
    reach the handlers as missing parameters and get a misleading answer. And
    behind a server that ends the stream itself (gunicorn), werkzeug would take
    a chunked body cut at the size limit, or a body shorter than its
    Content-Length, as whole (``_body_or_refusal``).
    """

    @cached_property
    def stream(self) -> IO[bytes]:
        return io.BytesIO(self._whole_body())

    def _whole_body(self) -> bytes:
        """The body as sent, all of it, or a refusal.

        A refusal is kept and raised again on each reading: the error handler
        reads the body too (for ``f``), and must not see its tail as a body.
        """
        if isinstance(self._body_or_refusal, HTTPException):
            self.environ[BODY_REFUSED] = True
            raise self._body_or_refusal
        return self._body_or_refusal

    @cached_property
    def _body_or_refusal(self) -> bytes | HTTPException:
        """Read up to ``Content-Length``, or a chunked body up to the limit and one byte more.

        werkzeug trusts a server that terminates the stream (gunicorn does) to
        have checked both ends: it would take a body shorter than its
        Content-Length, cut by the client, as whole, and stop a chunked one at
        the limit without a word. Both are refused here.
        """
        limit = self.max_content_length
        declared = self.content_length
        if declared is None and "wsgi.input_terminated" not in self.environ:
            return b""  # no length and nobody to end the stream: werkzeug's safe fallback
        if declared is not None and limit is not None and declared > limit:
            return BodyTooLarge(messages.BODY_TOO_LARGE.format(limit=limit))
        wanted = declared if declared is not None else None if limit is None else limit + 1
        raw = self.environ["wsgi.input"]
        pieces, size = [], 0
        try:
            while wanted is None or size < wanted:
                step = _READ_SIZE if wanted is None else min(_READ_SIZE, wanted - size)
                piece = raw.read(step)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
        except TimeoutError:
            return RequestTimeout(messages.BODY_INCOMPLETE)
        except Exception:  # the server's decoder refused the framing (its own error class)
            return MalformedBody(messages.MALFORMED_CHUNKED)
        if declared is not None and size < declared:
            return MalformedBody(messages.BODY_SHORT.format(size=size, declared=declared))
        if declared is None and limit is not None and size > limit:
            return BodyTooLarge(messages.BODY_TOO_LARGE.format(limit=limit))
        return b"".join(pieces)

    @property
    def max_form_memory_size(self) -> int | None:
        """One form field may take the whole body: the body limit is the only size limit."""
        return self.max_content_length

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

    Runs before any handler: a transfer coding the server does not decode, a
    malformed multipart body, and parameters that
    are not UTF-8 (werkzeug would otherwise hand over replacement characters
    or re-quoted bytes, and store them).
    """
    req = current_request()
    coding = req.headers.get("Transfer-Encoding")
    if coding is not None and coding.strip().lower() != "chunked":
        # The server decodes chunked only: a gzip body would reach the form parser as is.
        raise MalformedBody(messages.UNSUPPORTED_TRANSFER_CODING.format(coding=coding[:40]))
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
        _parse_form_once(req)
        return
    try:
        _ = req.form  # parsed once here, cached for the handlers
    except BodyTooLarge:
        raise
    except RequestEntityTooLarge:
        # The body is within the size limit (it was read above): werkzeug's part count.
        raise BodyTooLarge(messages.TOO_MANY_PARTS.format(parts=req.max_form_parts)) from None
    except ValueError:
        raise InvalidParameters(messages.MALFORMED_MULTIPART) from None


def _parse_form_once(req: Request) -> None:
    """Check and parse a urlencoded body in one pass, and hand werkzeug the result.

    werkzeug's own parser is ``parse_qsl`` over the decoded body with a lenient
    error handler; strict decoding here refuses what is not UTF-8, raw or
    percent-escaped, in the same pass (splitting at ASCII ``&`` and ``=`` never
    cuts a UTF-8 sequence, so a body is UTF-8 exactly when each of its parts is).
    """
    body = req.get_data(cache=True)
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidParameters(messages.NOT_UTF8) from None
    # What werkzeug's Request._load_form_data sets, so req.form never parses again.
    fields = req.__dict__
    fields["form"] = req.parameter_storage_class(pairs)
    fields["files"] = req.parameter_storage_class()


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
    (mockserver/web/directory.py)."""
    return Response(dumps(payload, pretty=fmt == "pjson"), content_type=JSON_CONTENT_TYPE)


def admin_envelope(error: ArcGISError) -> dict[str, Any]:
    return {"status": "error", "messages": error.messages, "code": error.code}


def portal_envelope(error: ArcGISError) -> dict[str, Any]:
    """The Portal's envelope; refusals the Portal words its own way take its form [capture]."""
    if error.portal_form is not None:
        message, message_code, details = error.portal_form
        body: dict[str, Any] = {"code": error.code, "message": message}
        if message_code:
            body["messageCode"] = message_code  # after message, as Esri's fixture has it
        body["details"] = list(details)
        return {"error": body}
    return {
        "error": {
            "code": error.code,
            "message": error.messages[0] if error.messages else "",
            "details": error.details or error.messages[1:],
        }
    }


def render_error(
    error: ArcGISError,
    *,
    portal: bool = False,
    status: int = 200,
    content_type: str | None = None,
) -> Response:
    envelope = portal_envelope(error) if portal else admin_envelope(error)
    fmt = error_format()
    if fmt == "html":
        html = render_template(
            "error.html", title=f"Error: {error.code}", code=error.code, messages=error.messages
        )
        return Response(html, status=status, mimetype="text/html")
    return Response(
        dumps(envelope, pretty=fmt == "pjson"),
        status=status,
        content_type=content_type or JSON_CONTENT_TYPE,
    )
