"""The HTML directory: how resources, operation forms and errors look in a browser.

ArcGIS's Administrator and Portal directories are HTML views of the same API
[doc]: every page carries the signed-in token in its links and forms, shows
where it is (breadcrumbs), who is signed in, a JSON view and a link to Esri's
reference for the resource (framing, caching and cross-site posts are
browser.py's). This module renders those pages for the pipeline
and the error handlers, and decides where a browser without a (valid) token
goes: to the sign-in page, with the page it asked for to come back to.
JSON answers never pass through here: API clients see only ArcGIS's envelopes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError, Forbidden, InvalidToken, TokenRequired
from mockserver.serving.redact import redact
from mockserver.web import wire

#: Esri's reference page for each declared operation, as its directory links it
#: ("API Reference") [doc]; the URLs are those docs/FIDELITY.md and the contract cite.
_ADMIN_DOCS = "https://developers.arcgis.com/rest/enterprise-administration/enterprise"
_PORTAL_DOCS = "https://developers.arcgis.com/rest/users-groups-and-items"
API_REFERENCE: Mapping[str, str] = {
    "admin": f"{_ADMIN_DOCS}/",
    "notebooks": f"{_ADMIN_DOCS}/notebooks/",
    "runtimes": f"{_ADMIN_DOCS}/notebook-runtimes",
    "runtime": f"{_ADMIN_DOCS}/notebook-runtime",
    "manifest": f"{_ADMIN_DOCS}/runtime-manifest",
    "copy": f"{_ADMIN_DOCS}/copy-notebook-runtime/",
    "update": "https://developers.arcgis.com/rest/enterprise-administration/notebook/update-notebook-runtime",
    "unregister": f"{_ADMIN_DOCS}/unregister-notebook-runtime/",
    "upgrade": f"{_ADMIN_DOCS}/upgrade-notebook-runtime/",
    "login": f"{_ADMIN_DOCS}/overview/",
    "notebook": f"{_ADMIN_DOCS}/notebook/",
    "closeNotebook": f"{_ADMIN_DOCS}/close-notebook/",
    "openNotebook": f"{_ADMIN_DOCS}/open-notebook/",
    "executeNotebook": f"{_ADMIN_DOCS}/execute-notebook/",
    "deployments": f"{_ADMIN_DOCS}/notebook-deployments/",
    "deployment": f"{_ADMIN_DOCS}/notebook-deployment/",
    "deploymentNotebooks": f"{_ADMIN_DOCS}/notebook-deployment/",
    "terminateDeployment": f"{_ADMIN_DOCS}/terminate-deployment/",
    "notebookJobs": f"{_ADMIN_DOCS}/notebook-jobs",
    "notebookJob": f"{_ADMIN_DOCS}/notebook-job",
    "job": f"{_ADMIN_DOCS}/job",
    "notebookConfiguration": f"{_ADMIN_DOCS}/notebook-configuration",
    "item": f"{_PORTAL_DOCS}/item.htm",
    "sharing": f"{_PORTAL_DOCS}/root.htm",
    "info": f"{_PORTAL_DOCS}/info.htm",
    "generateToken": f"{_PORTAL_DOCS}/generate-token.htm",
    "portalSelf": f"{_PORTAL_DOCS}/portal-self.htm",
    "servers": f"{_PORTAL_DOCS}/servers.htm",
    "communitySelf": f"{_PORTAL_DOCS}/self.htm",
    "communityUser": f"{_PORTAL_DOCS}/user.htm",
}

#: Why the sign-in page was shown, by the ``reason`` its URL carries.
SIGN_IN_REASONS: Mapping[str, str] = {
    "expired": messages.SIGN_IN_AGAIN,
    "refused": messages.SIGN_IN_AS_SOMEONE_ELSE,
}


def install(app: Flask) -> None:
    """The directory's helpers for the templates, its ways in and the favicon."""
    context = deployment.of(app).context
    app.add_template_global(link, "link")
    app.add_template_filter(json_value, "json_value")

    def favicon() -> Response:
        # Browsers ask for it on every page; a 404 is an error in their console.
        return Response(status=204)

    def home() -> Response:
        return redirect(link(url_for("admin.root")), code=302)

    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.add_url_rule(f"/{context}/", "home", home)
    app.add_url_rule(f"/{context}/home", "home_page", home, strict_slashes=False)


# --- pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What a write did, for the page the browser is sent to after it."""

    #: The page of the resource made or changed (the list, for one removed).
    path: str
    #: A key of ``messages.DONE`` ("created", "updated", ...).
    what: str
    #: The runtime's name, as the message quotes it.
    name: str


def redirect_after_write(done: Done) -> Response:
    """303 to the resource the write made or changed (post/redirect/get).

    The result of a form is a page of its own, reached by GET: reloading it, or
    going back and forth, never sends the form again (a reloaded copy made a
    second runtime). What was done travels in the query as a key of
    ``messages.DONE`` and the name it quotes, so the page can say it.
    """
    query = {"f": "html", "done": done.what, "name": done.name}
    token = wire.token()
    if token:
        query["token"] = token
    return redirect(f"{done.path}?{urlencode(query)}", code=303)


def _notice() -> str | None:
    """The message of the write that led here (``redirect_after_write``), if any."""
    template = messages.DONE.get(request.args.get("done", ""))
    name = request.args.get("name")
    if template is None or name is None:
        return None
    return template.format(name=name)


def render_page(
    payload: Mapping[str, Any],
    *,
    title: str,
    name: str,
    links: Mapping[str, str] | None = None,
    operations: Mapping[str, Any] | None = None,
    table: Mapping[str, Any] | None = None,
    session_token: str | None = None,
    json_view: bool = True,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    """A resource or operation page.

    ``operations`` maps a name to the URL of the operation's own page, or to a
    form (``url``, ``fields``, ``defaults``, and after a refusal ``field_errors``)
    to show here; ``table`` lays out one list of the payload (``key``,
    ``columns``, ``rows``, ``links``); ``errors`` head the page.
    """
    token = session_token or wire.token() or ""
    html = render_template(
        "resource.html",
        title=title,
        payload=wire.integral(payload),
        links=links or {},
        operations=operations or {},
        table=table,
        notice=_notice(),
        errors=errors or [],
        **_chrome(name, token, json_view=json_view),
    )
    return Response(html, status=status, mimetype="text/html")


def render_sign_in(
    *, return_to: str, notes: list[str] | None = None, username: str = ""
) -> Response:
    html = render_template(
        "login.html",
        title="Sign In",
        action=url_for("admin_login.login"),
        return_to=return_to,
        messages=notes or [],
        username=username,
        generate_token=url_for("portal.generate_token"),
        **_chrome("login", "", json_view=False),
    )
    return Response(html, mimetype="text/html")


def render_error(error: ArcGISError, *, portal: bool, status: int = 200) -> Response:
    """An ArcGIS error as the caller asked for it.

    JSON keeps ArcGIS's envelope (HTTP 200). A browser navigating to an admin
    page without a usable token is sent to sign in, and comes back after; any
    other error is a page that says what happened and how to go on.
    """
    if request.endpoint == "admin_login.login" and request.method == "POST":
        # The sign-in page is a browser's form whatever the body was: a body it
        # cannot read (malformed multipart, not UTF-8, too large) gets the form
        # again saying why, as wrong credentials do, never a JSON dead end.
        return_to = safe_return_path(request.args.get("redirect", ""), deployment.current().context)
        page = render_sign_in(return_to=return_to, notes=error.messages)
        page.status_code = status
        return page
    content_type = None
    if not portal:
        # A profiled deployment's own wording, code, status and label for this refusal.
        profile = deployment.current().profile
        if profile is not None:
            error, wording = profile.refusal(error)
            if wording is not None:
                status = wording.status or status
                content_type = wording.content_type
    if wire.error_format() != "html":
        return wire.render_error(error, portal=portal, status=status, content_type=content_type)
    token = _readable_token()
    if (
        isinstance(error, TokenRequired | InvalidToken)
        and request.method == "GET"
        and _is_admin_page(request.path)
    ):
        reason = "expired" if isinstance(error, InvalidToken) else None
        return redirect(sign_in_url(_current_page(), reason=reason), code=302)
    if request.method == "POST" and not isinstance(error, TokenRequired | InvalidToken | Forbidden):
        again = _form_again(error, token, status)
        if again is not None:
            return again
    # A refused token is never carried on: every link of the page goes without it.
    page_token = "" if isinstance(error, InvalidToken) else token
    # After a failed form, back is the form's own page (GET on the same URL).
    back = _current_page() if request.method == "GET" else redact(request.path)
    sign_in = None
    if isinstance(error, TokenRequired | InvalidToken | Forbidden):
        reason = "refused" if isinstance(error, Forbidden) else "expired"
        sign_in = sign_in_url(back, reason=reason)
    html = render_template(
        "error.html",
        title=f"Error: {error.code}",
        code=error.code,
        messages=error.messages,
        sign_in=sign_in,
        back=link(back, token=page_token) if request.method == "POST" else None,
        **_chrome(None, page_token, json_view=False),
    )
    return Response(html, status=status, mimetype="text/html")


#: A parameter named in a message, as the messages quote it ("'maxCpu' must not be ...").
_QUOTED_NAME = re.compile(r"'([A-Za-z]+)'")


def _form_again(error: ArcGISError, token: str, status: int) -> Response | None:
    """The refused operation's own form, holding what was sent, each message beside
    the field it names (the first form field it quotes) and the others above.

    None when there is no such form to show (not a directory operation, a runtime
    that is gone, a body that cannot be read): the plain error page says why.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    op = getattr(view, "operation", None)
    if op is None or op.page is None:
        return None
    try:
        page = op.page(**(request.view_args or {}))
        sent = wire.params()
    except (ArcGISError, HTTPException, ValueError):
        return None
    operations = page.operations() if callable(page.operations) else dict(page.operations or {})
    form = operations.get(op.name)
    if not isinstance(form, Mapping):
        return None
    names = [field.name for field in form["fields"]]
    field_errors: dict[str, list[str]] = {}
    general: list[str] = []
    for message in error.messages:
        named = next((n for n in _QUOTED_NAME.findall(message) if n in names), None)
        if named is None:
            general.append(message)
        else:
            field_errors.setdefault(named, []).append(message)
    operations[op.name] = {
        **form,
        "defaults": {**form["defaults"], **{n: sent[n] for n in names if n in sent}},
        "field_errors": field_errors,
    }
    return render_page(
        page.payload,
        title=f"Error: {error.code}",
        name=op.name,
        operations=operations,
        session_token=token,
        json_view=False,
        errors=general,
        status=status,
    )


def _chrome(name: str | None, token: str, *, json_view: bool) -> dict[str, Any]:
    """What every page shows around its content."""
    return {
        "token": token,
        "user": signed_in_username(token),
        # A path no route knows may hold anything (a token typed after "&"): only Home.
        "crumbs": breadcrumbs(redact(request.path), token)
        if request.url_rule
        else [("Home", link(_root(), token=token))],
        "reference": _reference(name),
        "json_href": link(redact(request.path), f="pjson", token=token) if json_view else None,
        "sign_out": url_for("admin_login.logout"),
    }


def _reference(name: str | None) -> str | None:
    """Esri's page for the operation ``name``: the flavour's own, else the shared one."""
    own = deployment.current().flavour.api_reference
    return own.get(name or "") or API_REFERENCE.get(name or "")


# --- links, tokens and the way back ------------------------------------------------


def link(path: str, *, f: str = "html", token: str | None = None) -> str:
    """``path`` as the directory links it: with ``f`` and the session's token [doc]."""
    token = wire.token() if token is None else token
    query = {"f": f, "token": token} if token else {"f": f}
    return f"{path}?{urlencode(query)}"


def _readable_token() -> str:
    """The request's token, or "" when its body cannot be read: the error being
    rendered may be that very refusal (too large, malformed), and reading the
    form again would raise it again, inside the error handler."""
    try:
        return wire.token() or ""
    except (HTTPException, ValueError):
        return ""


def signed_in_username(token: str) -> str | None:
    """Whom ``token`` signs in, or None if it does not (any more)."""
    if not token:
        return None
    dep = deployment.current()
    try:
        claims = dep.tokens.verify(
            token,
            now_ms=dep.clock.now_ms(),
            referer=request.headers.get("Referer"),
            ip=request.remote_addr,
        )
    except ArcGISError:
        return None
    return claims.username if dep.users.get(claims.username) else None


def sign_in_url(return_to: str, *, reason: str | None = None) -> str:
    query = {"redirect": return_to}
    if reason:
        query["reason"] = reason
    return f"{url_for('admin_login.login')}?{urlencode(query)}"


def safe_return_path(target: str, context: str) -> str:
    """Where signing in may send the browser: one of the emulator's own pages.

    Anything else (an absolute URL, ``//host``, a backslash that browsers read
    as a slash, another path) gets the admin directory's root: the sign-in page
    must not become an open redirect.
    """
    home = f"/{context}/admin"
    if not target or any(ch in target for ch in "\\\r\n\t") or target.startswith("//"):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"/{context}/"):
        return home
    # A token in the page to come back to is dropped: signing in brings a fresh one.
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"]
    return f"{parts.path}?{urlencode(query)}" if query else parts.path


def with_token(target: str, token: str) -> str:
    """``target`` asked for as a page, carrying ``token`` in its query as the directory does."""
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("token", "f")]
    query += [("f", "html"), ("token", token)]
    return f"{parts.path}?{urlencode(query)}"


def breadcrumbs(path: str, token: str) -> list[tuple[str, str | None]]:
    """(label, link) from the directory's root down to ``path``; the page itself unlinked."""
    context = deployment.current().context
    roots = [f"/{context}/admin", f"/{context}/sharing/rest"]
    root = next((r for r in roots if path == r or path.startswith(r + "/")), None)
    if root is None:
        return []
    parts = [part for part in path[len(root) :].split("/") if part]
    crumbs: list[tuple[str, str | None]] = [("Home", link(root, token=token))]
    for depth, part in enumerate(parts, start=1):
        above = root + "/" + "/".join(parts[:depth])
        crumbs.append((part, link(above, token=token) if _is_a_page(above) else None))
    crumbs[-1] = (crumbs[-1][0], None)
    return crumbs


def _is_a_page(path: str) -> bool:
    """Whether a route of this deployment answers a GET at ``path``.

    Not every segment of a path is a resource: ``admin/jobs/<id>`` has no
    ``admin/jobs``, ``sharing/rest/content/items/<id>`` no ``content``. A crumb
    there would lead to a 404 page, so it is shown as a label, not a link. A
    catch-all rule (``<path:…>``) answers anything, and so proves nothing.
    """
    try:
        rule, _ = current_app.url_map.bind("").match(path, method="GET", return_rule=True)
    except HTTPException:
        return False
    return "<path:" not in rule.rule


def _root() -> str:
    """The directory's root for the current path (Portal's or the admin one)."""
    context = deployment.current().context
    sharing = f"/{context}/sharing/rest"
    return sharing if request.path.startswith(sharing) else f"/{context}/admin"


def _is_admin_page(path: str) -> bool:
    context = deployment.current().context
    admin = f"/{context}/admin"
    return (path == admin or path.startswith(admin + "/")) and path not in (
        url_for("admin_login.login"),
        url_for("admin_login.logout"),
    )


def _current_page() -> str:
    """The page asked for, without its token (the sign-in adds a fresh one).

    A token typed after ``&`` instead of ``?`` is part of the path, and a route with
    an id in its path (``notebooks/<id>``) takes it whole: it is masked, so the page
    never carries it back in its sign-in link.
    """
    query = [(k, v) for k, v in parse_qsl(request.query_string.decode()) if k != "token"]
    path = redact(request.path)
    return f"{path}?{urlencode(query)}" if query else path


# --- values as JSON writes them ------------------------------------------------------


def json_value(value: Any, key: str = "") -> str:
    """A property as JSON writes it (``true``, ``null``, ``1``), strings as they are;
    ``expires`` (epoch milliseconds) with its UTC time beside it."""
    if isinstance(value, str):
        return value
    text = json.dumps(wire.integral(value), ensure_ascii=False)
    if key == "expires" and isinstance(value, int) and not isinstance(value, bool):
        when = datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{text} ({when})"
    return text
