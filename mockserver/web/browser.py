"""What a browser gets: pages that cannot be framed or cached, and no cross-site form posts.

The HTML directory and the sign-in page carry tokens in their links and
forms (ArcGIS's own model, kept), so every HTML answer is sent with
``X-Frame-Options: DENY``, CSP ``frame-ancestors 'none'`` (no clickjacking),
``Referrer-Policy: same-origin`` (a token in the URL never leaks to another
site; ``no-referrer`` would also make Chromium send ``Origin: null`` on the
directory's own form posts, which the rule below must refuse) and
``Cache-Control: no-store``. Every answer, JSON and errors included, is sent with
``X-Content-Type-Options: nosniff`` (a JSON answer echoing a user's text is never
read as HTML), and every answer that carries a token (``generateToken``, a JSON
sign-in, a redirect with the token in its ``Location``) or comes from the control
plane (state, journal, sandbox users) with ``Cache-Control: no-store``: no shared
cache or browser history keeps a credential.

A POST that a browser marks as cross-site, by an ``Origin`` that is not the
emulator's own or by ``Sec-Fetch-Site: cross-site``, is refused before any
view runs: a page elsewhere cannot submit a form (with a token it learned)
to the emulator. API clients that send no ``Origin`` (curl, the Python
clients, Esri's JS client under Node) are never refused. The control plane
(mockserver/control) applies the same rule.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, Response

from mockserver.core import messages
from mockserver.core.errors import ArcGISError
from mockserver.serving.redact import carries_token
from mockserver.web import wire

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: Methods a browser sends cross-site without a preflight (a form, a beacon).
_SIMPLE_WRITES = frozenset({"POST"})


def init_app(app: Flask) -> None:
    app.before_request(refuse_cross_site_posts)
    app.after_request(protect_pages)


def cross_site(req: Request) -> bool:
    """Whether a browser says this request comes from another site.

    ``Origin`` is compared with the origin the request was addressed to; a
    request without ``Origin`` or ``Sec-Fetch-Site`` is not a browser's
    cross-site request and passes.
    """
    if req.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return True
    origin = req.headers.get("Origin")
    if origin is None:
        return False
    return _normalised(origin) != _normalised(req.host_url)


def _normalised(url: str) -> str | None:
    """``scheme://host[:port]`` with default ports dropped; None for ``null`` or garbage."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def refuse_cross_site_posts() -> Response | None:
    req = wire.current_request()
    if req.method not in _SIMPLE_WRITES or req.path.startswith("/__mock__/"):
        return None  # the control plane refuses them itself, in its own envelope
    if not cross_site(req):
        return None
    error = ArcGISError(messages.CROSS_SITE_REFUSED, code=403)
    portal = "/sharing/" in req.path
    return wire.render_error(error, portal=portal, status=403)


def protect_pages(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    elif _carries_credential(response):
        response.headers["Cache-Control"] = "no-store"
    return response


def _carries_credential(response: Response) -> bool:
    if wire.current_request().path.startswith("/__mock__/"):
        return True
    if carries_token(response.headers.get("Location", "")):
        return True
    if response.is_streamed or response.direct_passthrough:
        return False  # files the emulator ships (the favicon): never a token
    data = response.get_data()
    # The substring test first: the decode and the search run only on a likely answer.
    return b"WyJ" in data and carries_token(data.decode("utf-8", "replace"))
