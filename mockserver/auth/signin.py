"""Sign-in: Portal's account lockout, OAuth states that work once, the portal's own URL.

The lockout's policy and its provenance are in ``lockout.py``; the deployment's
``Settings.lockout`` says which applies (None: off), on ``generateToken`` and the
OAuth sign-in alike. Only accounts that exist are counted: a sign-in with an
unknown user name never locks anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from flask import Flask, current_app

from mockserver.auth.lockout import LockoutPolicy
from mockserver.auth.oauth import STATE_LIFETIME_MS, SignIn, host_key
from mockserver.auth.store import SignInRecords
from mockserver.auth.tokens import (
    SERVER_URL_PARAMS,
    Token,
    expiration_minutes,
    token_request,
)
from mockserver.auth.users import User, UserDirectory
from mockserver.core import deployment, messages, owners
from mockserver.core.errors import ArcGISError, InvalidParameters, InvalidToken

_KEY = "nbmock_signin"


class AccountLocked(Exception):
    """Too many failed sign-ins: the account refuses even the right password for a while."""

    def __init__(self, until_ms: int) -> None:
        super().__init__("account locked")
        self.until_ms = until_ms


def init_app(app: Flask) -> None:
    records = SignInRecords(deployment.of(app).store)
    app.extensions[_KEY] = records
    owners.register(app, records)


def portal_hosts() -> frozenset[str]:
    """Where the deployment's own URLs are, from its configuration, never from a request.

    ``host_key`` (``name:port``) of each of ``Settings.public_urls``; else the host names ``nbmock serve`` answers for (loopback names, the bound
    name, each ``--public-url``'s), on any port; in process, neither (empty: see
    ``oauth.own_host``).
    """
    settings = deployment.current().settings
    keys = frozenset(key for key in map(host_key, settings.public_urls) if key is not None)
    if keys:
        return keys
    return settings.allowed_hosts or frozenset()


def _records() -> SignInRecords:
    return current_app.extensions[_KEY]


def authenticate(users: UserDirectory, username: str, password: str, *, now_ms: int) -> User | None:
    """``users.authenticate`` with the lockout policy; raises ``AccountLocked``."""
    policy: LockoutPolicy | None = deployment.current().settings.lockout
    if policy is None or users.get(username) is None:
        return users.authenticate(username, password)
    records = _records()
    lock_ms = int(policy.lock_minutes * 60_000)
    until, attempt = records.begin(
        username,
        now_ms=now_ms,
        window_ms=int(policy.window_minutes * 60_000),
        attempts=policy.attempts,
        lock_ms=lock_ms,
    )
    if until:
        raise AccountLocked(until)
    user = users.authenticate(username, password)
    if user is not None:
        records.succeed(username)  # failures are counted only while consecutive
        return user
    until = records.fail(
        username, attempt=attempt, attempts=policy.attempts, now_ms=now_ms, lock_ms=lock_ms
    )
    if until:
        raise AccountLocked(until)
    return None


def use_state(raw_state: str, sign_in: SignIn, *, now_ms: int) -> bool:
    """Whether this sign-in page's state is used for the first time, on any worker."""
    return _records().use_state(
        raw_state, expires_ms=sign_in.issued_ms + STATE_LIFETIME_MS, now_ms=now_ms
    )


def issue_token(params: Mapping[str, str], *, caller_ip: str | None) -> tuple[str, int]:
    """generateToken's answer for ``params``: the token and when it expires (epoch ms).

    The Portal's ``sharing/rest/generateToken`` and a standalone Notebook Server's own
    ``admin/generateToken`` take the same parameters [doc: both pages] and share the
    users, the lockout and the token service.
    """
    dep = deployment.current()
    asked = token_request(params, caller_ip=caller_ip)
    try:
        user = authenticate(dep.users, asked.username, asked.password, now_ms=dep.clock.now_ms())
    except AccountLocked:
        raise ArcGISError(
            messages.UNABLE_TO_GENERATE_TOKEN, messages.ACCOUNT_LOCKED, code=400
        ) from None
    if user is None:
        raise ArcGISError(messages.UNABLE_TO_GENERATE_TOKEN, messages.INVALID_CREDENTIALS, code=400)
    expires_ms = dep.clock.now_ms() + asked.expiration_minutes * 60_000
    return dep.tokens.issue(Token(user.username, expires_ms, asked.referer, asked.ip)), expires_ms


def server_url_asked(params: Mapping[str, str]) -> str | None:
    """The server a ``generateToken`` request asks a token for, if it names one."""
    for name in SERVER_URL_PARAMS:
        value = params.get(name, "").strip()
        if value:
            return value
    return None


def exchange_token(
    params: Mapping[str, str],
    portal_token: str | None,
    *,
    federated: Iterable[str],
    caller_ip: str | None,
    caller_referer: str | None,
) -> tuple[str, int]:
    """A federated server's token for a Portal token: the Portal's generateToken with
    ``serverURL``, ``token``, ``request=getToken``, ``expiration`` and ``referer``, as the
    official client's ``EsriGenTokenAuth`` sends it for a server on another host [client].

    The Portal token must be valid here (498 otherwise), the server one the Portal lists
    (``federated``: their URLs, compared by scheme, host and port); the new token is the
    same user's, bound to the ``referer`` sent (else the caller's address), and never
    outlives the Portal token [inferred, ledger N24].
    """
    dep = deployment.current()
    server_url = server_url_asked(params) or ""
    raw = (portal_token or "").strip()
    if not raw:
        raise InvalidParameters(
            messages.UNABLE_TO_GENERATE_TOKEN, messages.REQUIRED.format(name="token")
        )
    if _origin(server_url) not in {_origin(url) for url in federated}:
        raise InvalidParameters(messages.UNABLE_TO_GENERATE_TOKEN, messages.NOT_A_FEDERATED_SERVER)
    now_ms = dep.clock.now_ms()
    # The Portal token is bound as it was issued: to the referer this request carries
    # (the header, or the referer parameter it asks the new token to be bound to).
    referer = params.get("referer", "").strip() or caller_referer
    claims = dep.tokens.verify(raw, now_ms=now_ms, referer=referer, ip=caller_ip)
    if dep.users.get(claims.username) is None:
        raise InvalidToken(messages.INVALID_TOKEN)
    minutes = expiration_minutes(params.get("expiration", ""))
    expires_ms = min(now_ms + minutes * 60_000, claims.expires_ms)
    bound = Token(claims.username, expires_ms, referer or None, None if referer else caller_ip)
    return dep.tokens.issue(bound), expires_ms


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port
