"""Who is calling, and may they: token checks for the admin API."""

from __future__ import annotations

from flask import request

from mockserver.auth.privileges import MANAGE_SECURITY, MANAGE_SERVERS, is_administrator
from mockserver.auth.users import User
from mockserver.core import deployment, messages
from mockserver.core.errors import Forbidden, InvalidToken, TokenRequired
from mockserver.web import wire


def signed_in_user() -> User:
    """The user the request's token names; 499 without a token, 498 for a bad one."""
    raw = wire.token()
    if raw is None:
        raise TokenRequired(messages.TOKEN_REQUIRED)
    dep = deployment.current()
    claims = dep.tokens.verify(
        raw,
        now_ms=dep.clock.now_ms(),
        referer=request.headers.get("Referer"),
        ip=request.remote_addr,
    )
    user = dep.users.get(claims.username)
    if user is None:
        raise InvalidToken(messages.INVALID_TOKEN)
    return user


def require_administrator() -> User:
    user = signed_in_user()
    if not is_administrator(user.privileges):
        raise Forbidden(messages.NOT_PERMITTED)
    return user


def require_notebook_administrator() -> User:
    """The privileges the release's pages ask for the notebook endpoints [doc][seed]."""
    user = signed_in_user()
    if not deployment.current().release.notebook_access.allows(user.privileges):
        raise Forbidden(messages.NOT_PERMITTED)
    return user


def require_notebook_configuration_administrator() -> User:
    """notebooks/configuration asks for "Servers" or "Security and infrastructure" [doc: 11.4
    notebook-configuration], beside what every notebook endpoint asks."""
    user = require_notebook_administrator()
    if not {MANAGE_SERVERS, MANAGE_SECURITY} & user.privileges:
        raise Forbidden(messages.NOT_PERMITTED)
    return user


def sees_every_user(user: User) -> bool:
    """Administrators see every user's notebooks and jobs; a notebook user only their own
    [doc: 11.4 notebook jobs, "a non-administrative notebook user will only see notebook
    jobs they own"; for notebooks and deployments inferred]."""
    return is_administrator(user.privileges)
