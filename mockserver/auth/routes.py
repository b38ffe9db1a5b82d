"""The Portal sharing API facade under ``/<context>/sharing/rest``, and its OAuth sign-in.

Each view declares its operation once (mockserver/web/pipeline.py); the rules
live in pure modules beside it: tokens (``token_request``), oauth and portal.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, redirect, render_template, request, url_for

from mockserver.auth import oauth
from mockserver.auth import portal as portal_facts
from mockserver.auth import signin as sign_ins
from mockserver.auth.guard import require_administrator, signed_in_user
from mockserver.auth.oauth import SignIn
from mockserver.auth.tokens import CLIENTS, Token
from mockserver.auth.users import User
from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError, MethodNotSupported, NotFound
from mockserver.web import wire
from mockserver.web.forms import NUMBER, PASSWORD, SELECT, Field
from mockserver.web.pipeline import RESOURCE, Page, operation

portal = Blueprint("portal", __name__)
#: ``/<context>/sharing/oauth2``: the sign-in form posts outside ``/sharing/rest`` [client].
oauth_signin = Blueprint("oauth_signin", __name__)

TOKEN_FIELDS = (
    Field("username", required=True),
    Field("password", PASSWORD, required=True),
    Field("client", SELECT, CLIENTS),
    Field("referer"),
    Field("expiration", NUMBER, placeholder="minutes"),
)


@operation(portal, "/info", name="info", title="Info")
def info():
    """Public: where to get a token [doc][client]."""
    profile = deployment.current().profile
    if profile is not None and profile.portal_info is not None:
        return Page(
            portal_facts.placed(dict(profile.portal_info), _places()),
            links=lambda: {"generateToken": url_for("portal.generate_token")},
        )
    return Page(
        {
            # The portal's URL with its web context [capture: `https://portalhostqa/gis`].
            "owningSystemUrl": _base_url(),
            "authInfo": {
                "isTokenBasedSecurity": True,
                "tokenServicesUrl": url_for("portal.generate_token", _external=True),
            },
        },
        links=lambda: {"generateToken": url_for("portal.generate_token")},
    )


@operation(portal, "/generateToken", name="generateToken", title="Generate Token", methods=RESOURCE)
def generate_token():
    """A token for username/password, POST only [doc]; GET shows the directory's form."""
    if request.method == "GET":
        if wire.response_format() != "html":
            raise MethodNotSupported(messages.METHOD_NOT_SUPPORTED.format(method="GET"))
        form = {
            "url": url_for("portal.generate_token"),
            "fields": TOKEN_FIELDS,
            "submit": "Generate Token",
        }
        form["defaults"] = {"client": "requestip", "expiration": "60"}
        return Page({}, operations={"generateToken": form})
    params = wire.params()
    if sign_ins.server_url_asked(params) and not params.get("username", "").strip():
        listed = deployment.current().flavour.notebook_server(_base_url())
        token, expires_ms = sign_ins.exchange_token(
            params,
            wire.token(),
            federated=[listed["url"], listed["adminUrl"]],
            caller_ip=request.remote_addr,
            caller_referer=request.headers.get("Referer"),
        )
    else:
        token, expires_ms = sign_ins.issue_token(params, caller_ip=request.remote_addr)
    return Page(
        {"token": token, "expires": expires_ms, "ssl": request.is_secure},
        links={"Administrator directory": url_for("admin.root")},
        session_token=token,
    )


# --- what the official client reads after signing in [client] -----------------


def _optional_user() -> User | None:
    """The signed-in user, None for an anonymous request; a bad token is refused (498)."""
    return None if wire.token() is None else signed_in_user()


def _base_url() -> str:
    """``https://host/<context>``, as the caller reached the deployment."""
    return f"{request.host_url.rstrip('/')}/{deployment.current().context}"


@operation(portal, "", name="sharing", title="Sharing API")
def sharing_root():
    """The sharing API root: its version [doc]."""
    return Page(
        portal_facts.root(deployment.current().release),
        links=lambda: {
            "portals/self": url_for("portal.portal_self"),
            "info": url_for("portal.info"),
        },
    )


@operation(portal, "/portals/self", name="portalSelf", title="Portal Self")
def portal_self():
    """The organisation and, when signed in, who the caller is [doc][client: GET and POST]."""
    dep = deployment.current()
    return portal_facts.portal_self(
        dep.release,
        _optional_user(),
        portal_host=f"{request.host}/{dep.context}",
        use_ssl=request.is_secure,
        deployment_type=dep.flavour.portal_deployment_type,
        captured=dep.profile.portal_self if dep.profile else None,
        places=_places(),
    )


def _places() -> dict[str, str]:
    """Where this deployment is reached, for the placeholders of a captured answer."""
    return {
        "<origin>": request.host_url.rstrip("/"),
        "<host>": request.host,
        "<context>": deployment.current().context,
    }


@operation(
    portal,
    "/portals/<portal_id>/servers",
    name="servers",
    title="Servers",
    guard=require_administrator,
)
def servers(portal_id: str):
    """The federated servers: the notebook server [doc][client: without it notebooks are hidden]."""
    profile = deployment.current().profile
    own_id = (profile.portal_self or {}).get("id") if profile is not None else None
    if portal_id not in (own_id or portal_facts.ORG_ID, "self"):
        raise NotFound(messages.PORTAL_NOT_FOUND.format(id=portal_id[:80]))
    if profile is not None and profile.servers is not None:
        return {"servers": portal_facts.placed(list(profile.servers), _places())}
    return {"servers": [deployment.current().flavour.notebook_server(_base_url())]}


@operation(portal, "/community/self", name="communitySelf", title="User")
def community_self():
    """The signed-in user with their privileges [doc][client]."""
    user = signed_in_user()
    return Page(portal_facts.user_profile(user), title=f"User: {user.username}")


@operation(portal, "/community/users/<username>", name="communityUser", title="User")
def community_user(username: str):
    """A user of the organisation; privileges only for themselves or an administrator."""
    viewer = signed_in_user()
    subject = deployment.current().users.get(username)
    if subject is None:
        raise ArcGISError(messages.USER_NOT_FOUND, code=400)
    profile = portal_facts.user_profile(
        subject, show_privileges=portal_facts.may_see_privileges(viewer, subject)
    )
    return Page(profile, title=f"User: {subject.username}")


# --- OAuth 2.0 sign-in (implicit grant), as the official client signs in ---------


@operation(
    portal,
    "/oauth2/authorize",
    name="oauthAuthorize",
    title="Sign In",
    methods=("GET",),
    renders=False,
)
def oauth_authorize():
    """The sign-in page; its script carries the ``oauth_state`` to post back [client]."""
    try:
        sign_in = oauth.authorize(
            wire.params(),
            portal_hosts=sign_ins.portal_hosts(),
            now_ms=deployment.current().clock.now_ms(),
        )
    except oauth.OAuthRefused as refused:
        return _sign_in_page(None, messages=[str(refused)])
    return _sign_in_page(sign_in)


@operation(
    oauth_signin, "/signin", name="signin", title="Sign In", methods=("POST",), renders=False
)
def signin():
    """Credentials for a sign-in page: 302 to the app with a token, or the page again."""
    dep = deployment.current()
    form = wire.params()
    now_ms = dep.clock.now_ms()
    raw_state = form.get("oauth_state", "")
    sign_in = oauth.SignIn.unseal(raw_state, dep.tokens, now_ms=now_ms)
    if sign_in is None or not sign_ins.use_state(raw_state, sign_in, now_ms=now_ms):
        return _sign_in_page(None, messages=[messages.SIGNIN_EXPIRED_STATE])
    try:
        user = sign_ins.authenticate(
            dep.users, form.get("username", ""), form.get("password", ""), now_ms=now_ms
        )
    except sign_ins.AccountLocked:
        return _sign_in_page(replace(sign_in, issued_ms=now_ms), messages=[messages.ACCOUNT_LOCKED])
    if user is None:
        # A fresh page (and state), as a browser would show it again [inferred].
        renewed = replace(sign_in, issued_ms=now_ms)
        return _sign_in_page(renewed, messages=[messages.INVALID_CREDENTIALS])
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
    dep = deployment.current()
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
