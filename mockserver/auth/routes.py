"""The Portal sharing API facade under ``/<context>/sharing/rest``."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, redirect, render_template, request, url_for

from mockserver import messages, wire
from mockserver.auth import oauth
from mockserver.auth import portal as portal_facts
from mockserver.auth.guard import require_administrator, signed_in_user
from mockserver.auth.oauth import SignIn
from mockserver.auth.tokens import DEFAULT_EXPIRATION_MINUTES, MAX_EXPIRATION_MINUTES, Token
from mockserver.auth.users import User
from mockserver.errors import ArcGISError, InvalidParameters, MethodNotSupported, NotFound

portal = Blueprint("portal", __name__)

CLIENTS = ("referer", "ip", "requestip")


@portal.get("/info", strict_slashes=False)
def info():
    """Public: where to get a token [doc][client]."""
    fmt = wire.response_format()
    return wire.render(
        {
            # The portal's URL with its web context [capture: `https://portalhostqa/gis`].
            "owningSystemUrl": _base_url(),
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
        raise MethodNotSupported(messages.METHOD_NOT_SUPPORTED.format(method="GET"))
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
        raise InvalidParameters(messages.UNABLE_TO_GENERATE_TOKEN, messages.BAD_CLIENT)
    if client == "referer" and not referer:
        raise InvalidParameters(
            messages.UNABLE_TO_GENERATE_TOKEN, messages.REQUIRED.format(name="referer")
        )
    if client == "ip" and not ip:
        raise InvalidParameters(
            messages.UNABLE_TO_GENERATE_TOKEN, messages.REQUIRED.format(name="ip")
        )
    if not username or not password:
        raise InvalidParameters(messages.UNABLE_TO_GENERATE_TOKEN, messages.CREDENTIALS_REQUIRED)
    dep = deployment()
    user = dep.users.authenticate(username, password)
    if user is None:
        raise ArcGISError(messages.UNABLE_TO_GENERATE_TOKEN, messages.INVALID_CREDENTIALS, code=400)
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
            messages.UNABLE_TO_GENERATE_TOKEN, messages.BAD_EXPIRATION
        ) from None
    if minutes <= 0:
        raise InvalidParameters(messages.UNABLE_TO_GENERATE_TOKEN, messages.EXPIRATION_NOT_POSITIVE)
    return min(minutes, MAX_EXPIRATION_MINUTES)


# --- what the official client reads after signing in [client] -----------------


def _deployment():
    from mockserver.app import deployment

    return deployment()


def _optional_user() -> User | None:
    """The signed-in user, None for an anonymous request; a bad token is refused (498)."""
    return None if wire.token() is None else signed_in_user()


def _base_url() -> str:
    """``https://host/<context>``, as the caller reached the deployment."""
    return f"{request.host_url.rstrip('/')}/{_deployment().context}"


@portal.get("", strict_slashes=False)
def sharing_root():
    """The sharing API root: its version [doc]."""
    fmt = wire.response_format()
    links = {"portals/self": url_for("portal.portal_self"), "info": url_for("portal.info")}
    return wire.render(
        portal_facts.root(_deployment().release), title="Sharing API", links=links, fmt=fmt
    )


@portal.route("/portals/self", methods=["GET", "POST"], strict_slashes=False)
def portal_self():
    """The organisation and, when signed in, who the caller is [doc][client: GET and POST]."""
    fmt = wire.response_format()
    user = _optional_user()
    dep = _deployment()
    payload = portal_facts.portal_self(
        dep.release, user, portal_host=f"{request.host}/{dep.context}", use_ssl=request.is_secure
    )
    return wire.render(payload, title="Portal Self", fmt=fmt)


@portal.get("/portals/<portal_id>/servers", strict_slashes=False)
def servers(portal_id: str):
    """The federated servers: the notebook server [doc][client: without it notebooks are hidden]."""
    fmt = wire.response_format()
    require_administrator()
    if portal_id not in (portal_facts.ORG_ID, "self"):
        raise NotFound(f"Portal '{portal_id[:80]}' does not exist.")
    payload = {"servers": [portal_facts.notebook_server(_base_url())]}
    return wire.render(payload, title="Servers", fmt=fmt)


@portal.get("/community/self", strict_slashes=False)
def community_self():
    """The signed-in user with their privileges [doc][client]."""
    fmt = wire.response_format()
    user = signed_in_user()
    return wire.render(portal_facts.user_profile(user), title=f"User: {user.username}", fmt=fmt)


@portal.get("/community/users/<username>", strict_slashes=False)
def community_user(username: str):
    """A user of the organisation; privileges only for themselves or an administrator."""
    fmt = wire.response_format()
    viewer = signed_in_user()
    subject = _deployment().users.get(username)
    if subject is None:
        # [inferred] Portal's code and words for an unknown user.
        raise ArcGISError("User not found.", code=400)
    profile = portal_facts.user_profile(
        subject, show_privileges=portal_facts.may_see_privileges(viewer, subject)
    )
    return wire.render(profile, title=f"User: {subject.username}", fmt=fmt)


# --- OAuth 2.0 sign-in (implicit grant), as the official client signs in ---------


@portal.get("/oauth2/authorize", strict_slashes=False)
def oauth_authorize():
    """The sign-in page; its script carries the ``oauth_state`` to post back [client]."""
    dep = _deployment()
    try:
        sign_in = oauth.authorize(
            wire.params(), portal_host=request.host, now_ms=dep.clock.now_ms()
        )
    except oauth.OAuthRefused as refused:
        return _sign_in_page(None, messages=[str(refused)])
    return _sign_in_page(sign_in)


#: ``/<context>/sharing/oauth2``: the sign-in form posts outside ``/sharing/rest`` [client].
oauth_signin = Blueprint("oauth_signin", __name__)


@oauth_signin.post("/signin", strict_slashes=False)
def signin():
    """Credentials for a sign-in page: 302 to the app with a token, or the page again."""
    dep = _deployment()
    form = wire.params()
    now_ms = dep.clock.now_ms()
    sign_in = oauth.SignIn.unseal(form.get("oauth_state", ""), dep.tokens, now_ms=now_ms)
    if sign_in is None:
        return _sign_in_page(None, messages=[oauth.EXPIRED_STATE])
    user = dep.users.authenticate(form.get("username", ""), form.get("password", ""))
    if user is None:
        # A fresh page (and state), as a browser would show it again [inferred].
        renewed = replace(sign_in, issued_ms=now_ms)
        return _sign_in_page(renewed, messages=[oauth.INVALID_CREDENTIALS])
    minutes = oauth.expiration_minutes(
        form.get("expiration", ""), default=sign_in.expiration_minutes
    )
    # An ordinary emulator token: same expiry rules and privileges as generateToken's.
    token = dep.tokens.issue(Token(user.username, now_ms + minutes * 60_000))
    location = oauth.redirect_location(
        sign_in,
        token=token,
        expires_in_seconds=minutes * 60,
        username=user.username,
        ssl=request.is_secure,
    )
    return redirect(location, code=302)


def _sign_in_page(sign_in: SignIn | None, *, messages: list[str] | None = None) -> Response:
    """The HTML sign-in page. ``oAuthInfo`` stays one line of JSON: the client parses it."""
    dep = _deployment()
    info: dict = {"appTitle": portal_facts.PORTAL_NAME}
    if sign_in is not None:
        info.update(oauth_state=sign_in.seal(dep.tokens), client_id=sign_in.client_id)
    if messages:
        info["messages"] = messages
    html = render_template(
        "signin.html",
        oauth_info=info,
        oauth_state=info.get("oauth_state"),
        messages=messages or [],
        signin_url=url_for("oauth_signin.signin"),
    )
    return Response(html, mimetype="text/html")
