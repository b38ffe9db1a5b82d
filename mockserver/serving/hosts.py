"""Which Host names the emulator answers for, and which proxies may speak for a client.

DNS rebinding: a web page on ``evil.example`` makes its name resolve to
127.0.0.1 and then talks to a server on loopback as if it were its own
origin, reading answers and posting to the control plane. The defence
Vite and webpack-dev-server call "allowed hosts": answer only requests whose
``Host`` is a name the server was started for. An IP literal cannot be
rebound, so every IP address is allowed; names are loopback names, the bound
name, and those given with ``nbmock serve --public-url``.

``X-Forwarded-Proto``, ``-Host`` and ``-For`` are taken only from a peer named
with ``--trusted-proxy``; from anyone else they are ignored (gunicorn is told to
trust nobody, so this is the one place that decides).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request

from mockserver.core import messages

#: Names of this machine's loopback interface [RFC 6761: *.localhost is loopback].
LOOPBACK_NAMES = frozenset({"localhost"})


def host_name(host: str) -> str:
    """``Host`` header value without its port, lower case, IPv6 brackets kept off."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def public_url_host(url: str) -> str:
    """The host name in a ``--public-url``; a bare name is taken as it is."""
    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        name = parts.hostname
    except ValueError:
        name = None
    if not name:
        raise ValueError(f"--public-url {url!r} has no host name")
    return name.lower().rstrip(".")


def allowed_hosts_for(bind_host: str, public_urls: Iterable[str] = ()) -> frozenset[str]:
    """The names ``nbmock serve --host bind_host --public-url ...`` answers for."""
    names = set(LOOPBACK_NAMES)
    bound = host_name(bind_host)
    if bound and not is_ip_literal(bound):
        names.add(bound)
    names.update(public_url_host(url) for url in public_urls)
    return frozenset(names)


def proxy_networks(proxies: Iterable[str]) -> tuple[ipaddress._BaseNetwork, ...]:
    """``--trusted-proxy`` values as networks; a name that is no address is refused."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy.strip("[]"), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {proxy!r} is not an IP address or network") from None
    return tuple(networks)


def is_allowed(name: str, allowed: frozenset[str]) -> bool:
    return name in allowed or name.endswith(".localhost") or is_ip_literal(name)


class TrustedProxies:
    """WSGI middleware: the client's scheme, host and address as a named proxy reports them."""

    def __init__(self, app: Any, proxies: frozenset[str]) -> None:
        self.app = app
        self.networks = proxy_networks(proxies)

    def trusts(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.trusts(environ.get("REMOTE_ADDR")):
            # The nearest proxy appends last: its value is the one it vouches for.
            for header, key in (
                ("HTTP_X_FORWARDED_PROTO", "wsgi.url_scheme"),
                ("HTTP_X_FORWARDED_HOST", "HTTP_HOST"),
                ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
            ):
                value = environ.get(header, "").rsplit(",", 1)[-1].strip()
                if value and (key != "wsgi.url_scheme" or value in ("http", "https")):
                    environ[key] = value
        return self.app(environ, start_response)


def init_app(
    app: Flask,
    allowed_hosts: frozenset[str] | None,
    *,
    trusted_proxies: frozenset[str] = frozenset(),
) -> None:
    """Refuse requests for other Host names (``None``: any name, as in process) and take
    forwarded headers from ``trusted_proxies`` only (addresses or networks)."""
    if trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted_proxies)  # type: ignore[method-assign]
    if allowed_hosts is None:
        return

    def check_host() -> Response | None:
        name = host_name(request.host)
        if is_allowed(name, allowed_hosts):
            return None
        message = messages.HOST_NOT_ALLOWED.format(host=name[:100])
        answer = jsonify(status="error", messages=[message], code=400)
        answer.status_code = 400
        return answer

    app.before_request_funcs.setdefault(None, []).insert(0, check_host)
