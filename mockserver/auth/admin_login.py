"""The Administrator Directory's sign-in and sign-out pages: ``/<context>/admin/login``.

ArcGIS's admin directory signs a browser in at ``admin/login`` with ``username``
and ``password`` and sends it on to ``redirect`` [client: third-party scripts
post exactly these]. Here the users and tokens are generateToken's; the token
then rides in each link and form of the directory, as generateToken's does [doc].
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from mockserver.auth import signin as sign_ins
from mockserver.auth.tokens import DEFAULT_EXPIRATION_MINUTES, Token
from mockserver.core import deployment, messages
from mockserver.web import directory, wire
from mockserver.web.pipeline import RESOURCE, operation

admin_login = Blueprint("admin_login", __name__)


@operation(admin_login, "/login", name="login", title="Sign In", methods=RESOURCE, renders=False)
def login() -> Response:
    """GET: the form. POST: a token for the credentials, then 302 to the page asked for."""
    dep = deployment.current()
    params = wire.params()
    return_to = directory.safe_return_path(params.get("redirect", ""), dep.context)
    if request.method == "GET":
        reason = directory.SIGN_IN_REASONS.get(params.get("reason", ""))
        return directory.render_sign_in(return_to=return_to, notes=[reason] if reason else [])
    username = params.get("username", "")
    try:
        # The same lockout as generateToken's and the OAuth sign-in's (T15).
        user = sign_ins.authenticate(
            dep.users, username, params.get("password", ""), now_ms=dep.clock.now_ms()
        )
    except sign_ins.AccountLocked:
        return directory.render_sign_in(
            return_to=return_to, notes=[messages.ACCOUNT_LOCKED], username=username
        )
    if user is None:
        return directory.render_sign_in(
            return_to=return_to, notes=[messages.INVALID_CREDENTIALS], username=username
        )
    expires_ms = dep.clock.now_ms() + DEFAULT_EXPIRATION_MINUTES * 60_000
    token = dep.tokens.issue(Token(user.username, expires_ms))
    return redirect(directory.with_token(return_to, token), code=302)


@operation(admin_login, "/logout", name="logout", title="Sign Out", methods=("GET",), renders=False)
def logout() -> Response:
    """Back to the sign-in page, the token left behind.

    Tokens are self-contained (auth/tokens.py): signing out drops the token from
    the pages; it stays valid until it expires [inferred].
    """
    return_to = directory.safe_return_path(
        wire.params().get("redirect", ""), deployment.current().context
    )
    return redirect(directory.sign_in_url(return_to), code=302)
