"""The Portal sharing API facade under ``/<context>/sharing/rest``."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from mockserver import wire
from mockserver.auth.tokens import DEFAULT_EXPIRATION_MINUTES, MAX_EXPIRATION_MINUTES, Token
from mockserver.errors import ArcGISError, InvalidParameters

portal = Blueprint("portal", __name__)

CLIENTS = ("referer", "ip", "requestip")


@portal.get("/info", strict_slashes=False)
def info():
    """Public: where to get a token [doc][client]."""
    fmt = wire.response_format()
    return wire.render(
        {
            "owningSystemUrl": request.host_url.rstrip("/"),
            "authInfo": {
                "isTokenBasedSecurity": True,
                "tokenServicesUrl": url_for("portal.generate_token", _external=True),
            },
        },
        title="Info",
        fmt=fmt,
    )


@portal.get("/generateToken", strict_slashes=False)
def generate_token_form():
    """The directory's sign-in form; as JSON, GET is refused: tokens are POST only [doc]."""
    if wire.response_format() != "html":
        raise ArcGISError("generateToken requires a POST request.", code=405)
    operations = {
        "generateToken": {
            "url": url_for("portal.generate_token"),
            "fields": ("username", "password", "client", "referer", "expiration"),
            "defaults": {"client": "requestip", "expiration": "60"},
        }
    }
    return wire.render({}, title="Generate Token", operations=operations, fmt="html")


@portal.post("/generateToken", strict_slashes=False)
def generate_token():
    """A token for username/password; POST only [doc]."""
    from mockserver.app import deployment

    fmt = wire.response_format()
    params = wire.params()
    username = params.get("username", "")
    password = params.get("password", "")
    client = params.get("client", "").strip().lower()
    referer = params.get("referer", "").strip()
    ip = params.get("ip", "").strip()
    expiration = _expiration_minutes(params.get("expiration", ""))
    if not client:
        # [inferred] like ArcGIS: a referer binds to it, else an ip, else the caller's address.
        client = "referer" if referer else "ip" if ip else "requestip"
    if client not in CLIENTS:
        raise InvalidParameters(
            "Unable to generate token.", "'client' must be one of referer, ip, requestip."
        )
    if client == "referer" and not referer:
        raise InvalidParameters("Unable to generate token.", "'referer' is required.")
    if client == "ip" and not ip:
        raise InvalidParameters("Unable to generate token.", "'ip' is required.")
    if not username or not password:
        raise InvalidParameters(
            "Unable to generate token.", "'username' and 'password' are required."
        )
    dep = deployment()
    user = dep.users.authenticate(username, password)
    if user is None:
        # [doc/community captures] ArcGIS's words for a failed sign-in.
        raise ArcGISError("Unable to generate token.", "Invalid username or password.", code=400)
    expires_ms = dep.clock.now_ms() + expiration * 60_000
    token = dep.tokens.issue(
        Token(
            user.username,
            expires_ms,
            referer=referer if client == "referer" else None,
            ip=ip if client == "ip" else request.remote_addr if client == "requestip" else None,
        )
    )
    payload = {"token": token, "expires": expires_ms, "ssl": request.is_secure}
    return wire.render(
        payload,
        title="Generate Token",
        links={"Administrator directory": url_for("admin.root")},
        fmt=fmt,
        session_token=token,
    )


def _expiration_minutes(raw: str) -> int:
    """Minutes, default 60; more than the server maximum gets the maximum [doc]."""
    raw = raw.strip()
    if not raw:
        return DEFAULT_EXPIRATION_MINUTES
    try:
        minutes = int(float(raw))
    except (ValueError, OverflowError):
        raise InvalidParameters(
            "Unable to generate token.", "'expiration' must be a number of minutes."
        ) from None
    if minutes <= 0:
        raise InvalidParameters("Unable to generate token.", "'expiration' must be positive.")
    return min(minutes, MAX_EXPIRATION_MINUTES)
