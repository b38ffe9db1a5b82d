"""The OAuth 2.0 implicit sign-in of the sharing API, as the official client drives it.

``GET sharing/rest/oauth2/authorize`` answers a sign-in page whose script holds
``var oAuthInfo = {...}`` with an ``oauth_state``; ``POST sharing/oauth2/signin``
with that state and the user's credentials answers 302 to
``<redirect_uri>#access_token=...&expires_in=...&state=...`` [client].

The state is sealed with the deployment's secret rather than stored, so any
worker accepts the state another worker handed out. No Flask here: the routes
pass in the request's values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from mockserver.auth.tokens import MAX_EXPIRATION_MINUTES, TokenService
from mockserver.core import messages

#: [client] the official Python client signs in as ``pythonapi`` and falls back to
#: ``arcgisonline``; ``arcgispro`` is another built-in app [inferred].
BUILT_IN_CLIENTS = frozenset({"pythonapi", "arcgisonline", "arcgispro"})
#: [inferred] how long a sign-in page stays usable.
STATE_LIFETIME_MS = 15 * 60_000
#: [inferred] an implicit-grant token's life when ``expiration`` is left out.
DEFAULT_EXPIRATION_MINUTES = 120

_PURPOSE = "oauth-state"


class OAuthRefused(Exception):
    """An authorize request that cannot lead to a sign-in; the message says why."""


@dataclass(frozen=True)
class SignIn:
    """One sign-in in progress: what ``authorize`` was asked for."""

    client_id: str
    redirect_uri: str
    state: str
    expiration_minutes: int
    issued_ms: int

    def seal(self, tokens: TokenService) -> str:
        return tokens.seal(
            [
                self.client_id,
                self.redirect_uri,
                self.state,
                self.expiration_minutes,
                self.issued_ms,
            ],
            purpose=_PURPOSE,
        )

    @classmethod
    def unseal(cls, raw: str, tokens: TokenService, *, now_ms: int) -> SignIn | None:
        """The sign-in ``raw`` names, or None when it is forged, garbled or expired."""
        payload = tokens.unseal(raw, purpose=_PURPOSE) if raw else None
        if payload is None or len(payload) != 5:
            return None
        sign_in = cls(*payload)
        if now_ms - sign_in.issued_ms > STATE_LIFETIME_MS:
            return None
        return sign_in


#: Without a configured public URL, the portal's own hosts are these: loopback, and
#: names under the top-level domains reserved never to resolve (RFC 2606, RFC 6761),
#: which in-process clients use. No name a stranger can register is among them.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
NEVER_RESOLVED_DOMAINS = (".localhost", ".invalid", ".test")


def host_key(url: str) -> str | None:
    """``name:port`` of an http(s) URL (default port filled in), lower case; None if not one."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    if "@" in parts.netloc:  # user info: a URL whose host reads as another
        return None
    return f"{parts.hostname.lower()}:{port}"


def own_host(key: str, configured: Collection[str]) -> bool:
    """Whether ``key`` (``host_key`` of a URL) is the portal's own.

    Loopback always is (the machine itself). ``configured`` holds the keys of the
    deployment's public URLs, or the host names it answers for on any port; when
    there are none (in process), a never-resolved name on any port also is.
    """
    name = key.rsplit(":", 1)[0]
    if name in LOOPBACK_HOSTS:
        return True
    if configured:
        return key in configured or name in configured
    return name.endswith(NEVER_RESOLVED_DOMAINS)


def authorize(params: Mapping[str, str], *, portal_hosts: Collection[str], now_ms: int) -> SignIn:
    """The sign-in an ``authorize`` request starts, or ``OAuthRefused``.

    Only the implicit grant (``response_type=token``) of a built-in app is
    served, redirecting to the portal's own host [inferred: built-in apps are
    registered with the portal's URL]. ``portal_hosts``: the ``host[:port]`` of
    the deployment's configured public URLs, never the request's Host header,
    which any client can set.
    """
    client_id = params.get("client_id", "").strip()
    if client_id not in BUILT_IN_CLIENTS:
        raise OAuthRefused(messages.OAUTH_INVALID_CLIENT)
    response_type = params.get("response_type", "").strip()
    if response_type != "token":
        raise OAuthRefused(messages.OAUTH_UNSUPPORTED_RESPONSE_TYPE)
    redirect_uri = params.get("redirect_uri", "").strip()
    if not redirect_allowed(redirect_uri, portal_hosts):
        raise OAuthRefused(messages.OAUTH_INVALID_REDIRECT)
    return SignIn(
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=params.get("state", ""),
        expiration_minutes=expiration_minutes(params.get("expiration", "")),
        issued_ms=now_ms,
    )


def redirect_allowed(redirect_uri: str, portal_hosts: Collection[str]) -> bool:
    """An http(s) URL on the portal's own host and port, with nothing a header cannot carry.

    A CR, LF or other control character (or a space) would end up in the
    ``Location`` header of the sign-in's redirect; no URL needs one unescaped.
    """
    if not redirect_uri.isprintable() or " " in redirect_uri:
        return False
    key = host_key(redirect_uri)
    return key is not None and own_host(key, portal_hosts)


def expiration_minutes(raw: str, default: int = DEFAULT_EXPIRATION_MINUTES) -> int:
    """Minutes asked for, capped at the server maximum; unusable values get ``default``."""
    try:
        minutes = int(float(raw.strip()))
    except (ValueError, OverflowError):
        return default
    return min(minutes, MAX_EXPIRATION_MINUTES) if minutes > 0 else default


def redirect_location(
    sign_in: SignIn, *, token: str, expires_in_seconds: int, username: str, ssl: bool
) -> str:
    """Where a successful sign-in sends the browser: the token rides in the fragment."""
    fragment = "&".join(
        f"{name}={quote(str(value), safe='')}"
        for name, value in (
            ("access_token", token),
            ("expires_in", expires_in_seconds),
            ("username", username),
            ("ssl", "true" if ssl else "false"),
            ("state", sign_in.state),
        )
    )
    return f"{sign_in.redirect_uri.split('#', 1)[0]}#{fragment}"
