"""Embedding the emulator in a test suite.

Two ways, one surface (``Emulator``):

- ``running(**options)``: a real HTTP(S) server on a free loopback port, in a
  background thread, for code that opens its own connections;
- ``in_process(**options)``: no socket at all; ``emulator.session`` (or
  ``emulator.adapter`` mounted into any ``requests`` session, such as the
  official ArcGIS client's ``adapter=``) hands each request to the app.

``options`` are ``create_app``'s (``flavour``, ``release_name``, ``users``, ``seed``, ...).
The pytest plugin (``mockserver.pytest_plugin``) builds its ``arcgis_mock``
fixture on ``in_process``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse
from werkzeug.serving import WSGIRequestHandler, make_server

from mockserver.app import create_app
from mockserver.auth.users import DEFAULT_PASSWORD, DEFAULT_USERNAME
from mockserver.control.plane import DROPPED_HEADER
from mockserver.control.routes import TOKEN_HEADER as CONTROL_TOKEN_HEADER
from mockserver.core import deployment
from mockserver.serving.redact import redact
from mockserver.serving.tls import self_signed_certificate

#: The origin in-process requests are addressed to. ``.invalid`` never
#: resolves, so a request that misses the adapter fails at once.
IN_PROCESS_ORIGIN = "https://nbmock.invalid"


class Emulator:
    """A started emulator: its URLs, a ``requests`` session to it, and its control plane."""

    def __init__(self, app: Flask, origin: str, session: requests.Session) -> None:
        self.app = app
        self.origin = origin
        context = deployment.of(app).context
        self.url = f"{origin}/{context}"
        self.portal_url = f"{self.url}/sharing/rest"
        self.admin_url = f"{self.url}/admin"
        self.control_url = f"{origin}/__mock__"
        self.session = session

    def token(self, username: str = DEFAULT_USERNAME, password: str = DEFAULT_PASSWORD) -> str:
        """A Portal token for the user, as ``generateToken`` issues it."""
        answer = self.session.post(
            f"{self.portal_url}/generateToken",
            data={"username": username, "password": password, "f": "json"},
            timeout=30,
        ).json()
        if "token" not in answer:
            raise RuntimeError(f"generateToken refused {username!r}: {answer.get('error')}")
        return answer["token"]

    def control(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """A control-plane call (``control("POST", "clock", {"advance_seconds": 60})``)."""
        response = self.session.request(
            method, f"{self.control_url}/{path}", json=body, params=params or None, timeout=30
        )
        answer = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"/__mock__/{path}: {answer.get('messages')}")
        return answer

    def reset(self, seed: int | None = None) -> None:
        self.control("POST", "reset", {} if seed is None else {"seed": seed})

    def journal(self, operation: str | None = None) -> list[dict[str, Any]]:
        params = {"operation": operation} if operation else {}
        return self.control("GET", "journal", **params)["entries"]

    def fault(self, operation: str, **rule: Any) -> dict[str, Any]:
        """Add a fault rule, e.g. ``fault("copy", error={"code": 500}, times=1)``."""
        return self.control("POST", "faults", {"operation": operation, **rule})["faults"][0]

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def advance_clock(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance_seconds": seconds})


class PinnedSession(requests.Session):
    """A ``requests`` session whose own ``verify`` the environment cannot replace.

    ``requests`` lets ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (set on many CI
    images) win over ``session.verify`` for every request that passes no
    ``verify`` of its own, so a session told to trust the emulator's self-signed
    certificate would check it against the CI's bundle instead and fail. Here the
    session's value holds; a request that passes ``verify=`` still decides for itself.
    """

    def merge_environment_settings(
        self, url: str | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:
            settings["verify"] = self.verify
        return settings


# --- a real server in a thread -------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs each request line with its query string, tokens included: not here.

    A request http.server cannot parse is refused by its ``send_error``, which quotes
    the request line (or a word of it) in the page and in the log: both masked here,
    and the page sent with ``nosniff``, as every answer is (mockserver.web.browser).
    """

    _refusing = False

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        super().log_error("%s", redact(format % args if args else format))

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            # An HTTP/0.9 answer has no headers, so no nosniff: refused, as nbmock serve does.
            self.send_error(HTTPStatus.BAD_REQUEST, "Invalid HTTP version: HTTP/0.9")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers a request line it cannot read as HTTP/0.9: no status line,
        # no headers. HTTP/1.0 carries both.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self._refusing = True
        super().send_error(code, message and redact(message), explain and redact(explain))

    def end_headers(self) -> None:
        if self._refusing:
            self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


class RunningEmulator(Emulator):
    """``Emulator`` over a real socket; ``ca_file`` is the certificate to trust with ``tls``."""

    def __init__(self, app: Flask, origin: str, ca_file: str | None) -> None:
        session = PinnedSession()
        if ca_file:
            session.verify = ca_file
        super().__init__(app, origin, session)
        self.ca_file = ca_file


@contextmanager
def running(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    url: str | None = None,
    **options: Any,
) -> Iterator[Emulator]:
    """The emulator served on ``host`` (a free port unless given) until the block ends.

    With ``url`` (or ``NBMOCK_URL`` set), no server is started: a sandbox is made
    on the shared emulator at that address and removed when the block ends.
    """
    url = url or os.environ.get("NBMOCK_URL")
    if url:
        with sandbox(url, **options) as emulator:
            yield emulator
        return
    app = create_app(**options)
    cert_dir = tempfile.mkdtemp(prefix="nbmock-tls-") if tls else None
    ssl_context = None
    ca_file = None
    if cert_dir:
        pair = self_signed_certificate(cert_dir, hosts=(host,))
        ssl_context = (str(pair.cert_path), str(pair.key_path))
        ca_file = str(pair.cert_path)
    server = make_server(
        host, port, app, threaded=True, ssl_context=ssl_context, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="nbmock", daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    shown_host = f"[{host}]" if ":" in host else host
    emulator = RunningEmulator(app, f"{scheme}://{shown_host}:{server.server_port}", ca_file)
    try:
        yield emulator
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        emulator.session.close()
        deployment.of(app).close()
        if cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)


# --- a sandbox on a shared emulator ------------------------------------------------

#: ``create_app`` options a sandbox takes, by the name the sandbox API gives them.
SANDBOX_OPTIONS = {
    "flavour": "flavour",
    "release_name": "release",
    "seed": "seed",
    "ttl_seconds": "ttl_seconds",
    "profile": "profile",
}


class SandboxEmulator(Emulator):
    """``Emulator`` for one sandbox of a shared server: its URLs and its own control plane."""

    def __init__(self, origin: str, described: dict[str, Any], session: requests.Session) -> None:
        self.app = None
        self.origin = origin
        self.sandbox_id = described["id"]
        self.url = described["url"]
        self.portal_url = f"{self.url}/sharing/rest"
        self.admin_url = f"{self.url}/admin"
        self.control_url = f"{origin}/__mock__/sandboxes/{self.sandbox_id}"
        self.session = session


@contextmanager
def sandbox(url: str, *, verify: bool | str = True, **options: Any) -> Iterator[SandboxEmulator]:
    """A sandbox on the emulator at ``url`` (its origin, or any URL on it) for the block.

    ``options``: ``flavour``, ``release_name``, ``seed``, ``ttl_seconds``, ``profile`` (a
    path or the profile's JSON as a dict). The control token, if
    the server asks for one, comes from ``NBMOCK_CONTROL_TOKEN``.
    """
    unknown = sorted(set(options) - set(SANDBOX_OPTIONS))
    if unknown:
        raise TypeError(f"a sandbox does not take: {', '.join(unknown)}")
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    # ``verify=True`` leaves the CA to the environment, as requests does; a bundle or
    # False given here is the caller's word and holds whatever the environment says.
    session = requests.Session() if verify is True else PinnedSession()
    session.verify = verify
    control_token = os.environ.get("NBMOCK_CONTROL_TOKEN")
    if control_token:
        session.headers[CONTROL_TOKEN_HEADER] = control_token
    body = {SANDBOX_OPTIONS[name]: value for name, value in options.items()}
    if isinstance(body.get("profile"), str | os.PathLike):
        # A sandbox takes the profile itself: the shared server may not see this file.
        body["profile"] = json.loads(Path(body["profile"]).read_text(encoding="utf-8"))
    answer = session.post(f"{origin}/__mock__/sandboxes", json=body, timeout=30)
    if answer.status_code != 201:
        session.close()
        raise RuntimeError(
            f"{origin} made no sandbox: HTTP {answer.status_code} {answer.text[:300]}"
        )
    emulator = SandboxEmulator(origin, answer.json(), session)
    try:
        yield emulator
    finally:
        session.delete(f"{origin}/__mock__/sandboxes/{emulator.sandbox_id}", timeout=30)
        session.close()


# --- no socket: requests handed to the app -------------------------------------


class WSGIAdapter(BaseAdapter):
    """A ``requests`` transport that answers from a Flask app, in this thread.

    A ``drop`` fault surfaces as ``requests.ConnectionError``, as over a socket.
    ``raw`` is a urllib3 response, as a socket transport gives: readers of raw
    headers (Schemathesis) and of ``release_conn`` (the ArcGIS client) find
    what they expect. It is the one in-process transport: the contract kit
    mounts it too.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.client = app.test_client()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url)
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in body)
        answer = self.client.open(
            parts.path or "/",
            method=request.method,
            query_string=parts.query,
            headers=[(k, v) for k, v in request.headers.items() if k.lower() != "content-length"],
            data=body,
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        if answer.headers.get(DROPPED_HEADER):
            raise requests.ConnectionError(
                "Connection dropped (nbmock drop fault)", request=request
            )
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.encoding = get_encoding_from_headers(response.headers)
        data = answer.get_data()
        response.raw = HTTPResponse(
            body=io.BytesIO(data),
            headers=list(answer.headers.items()),
            status=answer.status_code,
            reason=response.reason,
            preload_content=False,
        )
        response._content = data
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self) -> None:
        pass


class InProcessEmulator(Emulator):
    """``Emulator`` without a socket; ``adapter`` can be mounted into other sessions."""

    def __init__(self, app: Flask) -> None:
        self.adapter = WSGIAdapter(app)
        session = requests.Session()
        session.mount(IN_PROCESS_ORIGIN + "/", self.adapter)
        super().__init__(app, IN_PROCESS_ORIGIN, session)


def in_process(**options: Any) -> InProcessEmulator:
    """An emulator app reached without a socket (``create_app(**options)``)."""
    return InProcessEmulator(create_app(**options))
