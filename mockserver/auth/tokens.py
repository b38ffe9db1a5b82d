"""Portal tokens: signed, self-contained, checked against the emulator's clock.

A token names its user, its expiry (epoch ms) and what it is bound to (a
referer or an IP). It is signed with the deployment's secret, kept in the
state, so every worker accepts the tokens any worker issued.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from mockserver.core import messages
from mockserver.core.errors import InvalidParameters, InvalidToken

#: [doc] tokens default to 60 minutes; longer requests get the server maximum,
#: two weeks by default.
DEFAULT_EXPIRATION_MINUTES = 60
MAX_EXPIRATION_MINUTES = 14 * 24 * 60
#: Tokens this emulator issues are ~100 characters; longer strings are never remembered.
MAX_CACHED_TOKEN = 512
#: [doc] what ``client`` may name: what the token is bound to.
CLIENTS = ("referer", "ip", "requestip")


@dataclass(frozen=True)
class Token:
    username: str
    expires_ms: int
    referer: str | None = None
    ip: str | None = None


class TokenService:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._serializer = URLSafeSerializer(secret, salt="nbmock-portal-token")
        # A client sends the same token on every call: remember what its signature
        # check said (the secret never changes), but check expiry and binding each time.
        self._decoded = functools.lru_cache(maxsize=4096)(self._decode)

    def seal(self, payload: list, *, purpose: str) -> str:
        """``payload`` signed for one ``purpose`` (e.g. an OAuth sign-in in progress),
        so that any worker can read it back and nobody can forge it."""
        return URLSafeSerializer(self._secret, salt=f"nbmock-{purpose}").dumps(payload)

    def unseal(self, raw: str, *, purpose: str) -> list | None:
        """What ``seal`` signed for ``purpose``, or None if ``raw`` is not such a value."""
        try:
            payload = URLSafeSerializer(self._secret, salt=f"nbmock-{purpose}").loads(raw)
        except (BadSignature, ValueError, TypeError):
            return None
        return payload if isinstance(payload, list) else None

    def issue(self, token: Token) -> str:
        return self._serializer.dumps(
            [token.username, token.expires_ms, token.referer, token.ip, secrets.token_hex(4)]
        )

    def verify(self, raw: str, *, now_ms: int, referer: str | None, ip: str | None) -> Token:
        """The token's claims, or ``InvalidToken`` if forged, expired or used out of its binding."""
        claims = self._decoded(raw) if len(raw) <= MAX_CACHED_TOKEN else self._decode(raw)
        if claims is None:
            raise InvalidToken(messages.TOKEN_NOT_DECRYPTED)
        username, expires_ms, bound_referer, bound_ip = claims
        if now_ms >= expires_ms:
            raise InvalidToken(messages.TOKEN_EXPIRED)
        if (bound_referer is not None and referer != bound_referer) or (
            bound_ip is not None and ip != bound_ip
        ):
            # [inferred] no capture shows a binding refusal; the generic words, no reason given.
            raise InvalidToken(messages.INVALID_TOKEN)
        return Token(username, expires_ms, bound_referer, bound_ip)

    def _decode(self, raw: str) -> tuple[str, int, str | None, str | None] | None:
        """The signed claims of ``raw``, or None if it is not a token this service signed."""
        try:
            username, expires_ms, referer, ip, _nonce = self._serializer.loads(raw)
        except (BadSignature, ValueError, TypeError):
            return None
        return username, expires_ms, referer, ip


@dataclass(frozen=True)
class TokenRequest:
    """What a ``generateToken`` request asks for, its rules applied."""

    username: str
    password: str
    expiration_minutes: int
    referer: str | None
    ip: str | None


def token_request(params: Mapping[str, str], *, caller_ip: str | None) -> TokenRequest:
    """``generateToken``'s parameters checked and resolved, or ``InvalidParameters``.

    [doc] ``client`` is referer, ip or requestip; ``referer``/``ip`` are required
    with their client; ``expiration`` is in minutes, default 60, capped at the
    server maximum. [inferred] Without ``client``, a given referer binds the
    token, else a given ip, else the caller's address.
    """
    username = params.get("username", "")
    password = params.get("password", "")
    client = params.get("client", "").strip().lower()
    referer = params.get("referer", "").strip()
    ip = params.get("ip", "").strip()
    expiration = expiration_minutes(params.get("expiration", ""))
    if not client:
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
    return TokenRequest(
        username=username,
        password=password,
        expiration_minutes=expiration,
        referer=referer if client == "referer" else None,
        ip=ip if client == "ip" else caller_ip if client == "requestip" else None,
    )


#: [client] ``EsriGenTokenAuth`` posts ``serverURL``; Esri's generateToken page writes
#: ``serverUrl``; both are read.
SERVER_URL_PARAMS = ("serverURL", "serverUrl")


def expiration_minutes(raw: str) -> int:
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
