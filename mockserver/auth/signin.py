"""Sign-in: Portal's account lockout, OAuth states that work once, the portal's own URL.

[doc] ArcGIS Server's built-in store locks an account after five consecutive
failed sign-ins within 15 minutes, for 15 minutes
(https://enterprise.arcgis.com/en/server/latest/administer/windows/user-account-lockout-policy.htm).
[capture] Portal users report the same: five wrong passwords lock the account
for 15 minutes, and since 11.1 an administrator can change both numbers
(community.esri.com idea "Lockout lasts for 15 minutes, Add Unlock Function").
So the emulator locks by default, with those numbers, on ``generateToken`` and
the OAuth sign-in alike; ``NBMOCK_SIGNIN_LOCKOUT`` in the app's config changes
the policy, and ``None`` turns it off. Only accounts that exist are counted: a
sign-in with an unknown user name never locks anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from mockserver import deployment, owners
from mockserver.auth.oauth import STATE_LIFETIME_MS, SignIn, host_key
from mockserver.auth.store import SignInRecords
from mockserver.auth.users import User, UserDirectory

_KEY = "nbmock_signin"
CONFIG_KEY = "NBMOCK_SIGNIN_LOCKOUT"
#: The deployment's public URLs (``https://portal.example.com``), where the built-in
#: OAuth apps may send a signed-in browser; unset, only loopback and never-resolved
#: names (mockserver/auth/oauth.py). Never the request's Host header.
PUBLIC_URLS_KEY = "NBMOCK_PUBLIC_URLS"


@dataclass(frozen=True)
class LockoutPolicy:
    attempts: int = 5
    window_minutes: float = 15
    lock_minutes: float = 15


#: [doc][capture] see the module's docstring.
PORTAL_LOCKOUT = LockoutPolicy()


class AccountLocked(Exception):
    """Too many failed sign-ins: the account refuses even the right password for a while."""

    def __init__(self, until_ms: int) -> None:
        super().__init__("account locked")
        self.until_ms = until_ms


def init_app(app: Flask) -> None:
    records = SignInRecords(deployment.of(app).store)
    app.extensions[_KEY] = records
    app.config.setdefault(CONFIG_KEY, PORTAL_LOCKOUT)
    owners.register(app, records)


def portal_hosts() -> frozenset[str]:
    """Where the deployment's own URLs are, from its configuration, never from a request.

    ``host_key`` (``name:port``) of each URL in the app's ``NBMOCK_PUBLIC_URLS``;
    else the host names ``nbmock serve`` answers for (loopback names, the bound
    name, each ``--public-url``'s), on any port; in process, neither (empty: see
    ``oauth.own_host``).
    """
    urls = current_app.config.get(PUBLIC_URLS_KEY) or ()
    if isinstance(urls, str):
        urls = (urls,)
    keys = frozenset(key for key in map(host_key, urls) if key is not None)
    if keys:
        return keys
    return deployment.current().settings.allowed_hosts or frozenset()


def _records() -> SignInRecords:
    return current_app.extensions[_KEY]


def authenticate(users: UserDirectory, username: str, password: str, *, now_ms: int) -> User | None:
    """``users.authenticate`` with the lockout policy; raises ``AccountLocked``."""
    policy: LockoutPolicy | None = current_app.config.get(CONFIG_KEY)
    if policy is None or users.get(username) is None:
        return users.authenticate(username, password)
    records = _records()
    until = records.locked_until(username)
    if until is not None and until > now_ms:
        raise AccountLocked(until)
    user = users.authenticate(username, password)
    if user is not None:
        if until is not None:  # failures are counted only while consecutive
            records.succeed(username)
        return user
    until = records.fail(
        username,
        now_ms=now_ms,
        window_ms=int(policy.window_minutes * 60_000),
        attempts=policy.attempts,
        lock_ms=int(policy.lock_minutes * 60_000),
    )
    if until:
        raise AccountLocked(until)
    return None


def use_state(raw_state: str, sign_in: SignIn, *, now_ms: int) -> bool:
    """Whether this sign-in page's state is used for the first time, on any worker."""
    return _records().use_state(
        raw_state, expires_ms=sign_in.issued_ms + STATE_LIFETIME_MS, now_ms=now_ms
    )
