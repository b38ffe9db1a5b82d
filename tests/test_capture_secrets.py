"""A profile never holds a token, a password or (unless asked) the user name, wherever the
deployment echoes them; and its size is bounded, whatever the deployment answers.

A profile is committed, so a deployment that quotes what it was sent must not leak it
there. The leaky deployment here is the foreign one behind a front that plants a secret
into one place of its answers: every place the capture reads (each is a ``PLACES``
entry), each secret the kit holds (``SECRETS``), each spelled as sent, percent-encoded
and escaped as inside a JSON string. The capture must still write a profile, without it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from contracts.capture import MAX_MESSAGE, MAX_SYSTEM_RUNTIMES, capture
from contracts.target import Credentials, Target
from mockserver import create_app

FOREIGN = Path(__file__).parent / "data" / "foreign-deployment.json"
USERNAME = "leak-probe-4k"
#: Quotes, a backslash, spaces and URL specials: spelled differently in JSON, URLs and forms.
PASSWORD = 'pw"q\\ &+/=%x9-secret'


def spellings(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]


def planted(secret: str) -> str:
    """The secret as a sentence, a URL query and a JSON-in-a-string would carry it."""
    return (
        f"Sent {secret}; see https://example.invalid/x?token={quote_plus(secret)} "
        f'or {{"value": {json.dumps(secret)}}}'
    )


def _append(body: dict, key: str, text: str) -> None:
    body[key] = f"{body.get(key, '')} {text}".strip()


def _into_messages(body: dict, text: str) -> None:
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    messages = error.get("messages") or error.get("details")
    if isinstance(messages, list) and messages:
        messages[0] = f"{messages[0]} {text}"
    if "message" in error:
        error["message"] = f"{error['message']} {text}"


def _into_servers(body: dict, text: str) -> None:
    for server in body.get("servers", []):
        server["url"] = f"{server['url']}?token={quote_plus(text)}"
        server["name"] = text


def _into_runtime_names(body: dict, text: str) -> None:
    for runtime in body.get("runtimes", []):
        runtime["name"] = f"{runtime['name']} {text}"


#: Where a deployment's answers may carry a secret: which answers, and how the front plants it.
PLACES: dict[str, tuple[Callable[[str, dict], bool], Callable[[dict, str], None]]] = {
    "admin root fullVersion": (
        lambda path, body: path.rstrip("/").endswith("/admin") and "fullVersion" in body,
        lambda body, text: _append(body, "fullVersion", text),
    ),
    "sharing root build": (
        lambda path, body: path.rstrip("/").endswith("/sharing/rest") and "error" not in body,
        lambda body, text: _append(body, "enterpriseBuild", text),
    ),
    "runtimes list, each name": (
        lambda path, body: path.endswith("/notebooks/runtimes") and "runtimes" in body,
        _into_runtime_names,
    ),
    "runtimes list currentRuntimeVersion": (
        lambda path, body: path.endswith("/notebooks/runtimes") and "runtimes" in body,
        lambda body, text: _append(body, "currentRuntimeVersion", text),
    ),
    "a runtime's own resource": (
        lambda path, body: re.search(r"/runtimes/[^/]+$", path) is not None and "id" in body,
        lambda body, text: _append(body, "description", text),
    ),
    "a manifest": (
        lambda path, body: path.endswith("/manifest") and "error" not in body,
        lambda body, text: _append(body, "note", text),
    ),
    "portal info": (
        lambda path, body: path.endswith("/sharing/rest/info") and "error" not in body,
        lambda body, text: _append(body, "owningSystemUrl", text),
    ),
    "portals/self, a value": (
        lambda path, body: path.endswith("/portals/self") and "error" not in body,
        lambda body, text: _append(body, "name", text),
    ),
    "portals/self, a key": (
        lambda path, body: path.endswith("/portals/self") and "error" not in body,
        lambda body, text: body.update({text: True}),
    ),
    "servers listing, url and name": (
        lambda path, body: path.endswith("/servers") and "servers" in body,
        _into_servers,
    ),
    "every refusal's message": (
        lambda path, body: "error" in body or body.get("status") == "error",
        _into_messages,
    ),
}

#: The secrets the kit holds during a capture, and whether the profile may keep each.
SECRETS = ("token sent", "password", "user name")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _request_token(environ: dict) -> str | None:
    """The token a request carries, its body left for the app to read again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    header = environ.get("HTTP_X_ESRI_AUTHORIZATION", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    form = parse_qs(raw.decode("latin-1")) if b"token=" in raw else {}
    return (query.get("token") or form.get("token") or [None])[0]


@contextmanager
def leaky_deployment(place: str, secret: str, users_file: Path) -> Iterator[tuple[str, list]]:
    """The foreign deployment with ``secret`` planted into ``place``; yields its URL and
    the list of what was planted (a test that planted nothing proves nothing)."""
    app = create_app(profile=str(FOREIGN), users=str(users_file))
    matches, plant = PLACES[place]
    done: list[str] = []
    tokens: list[str] = []

    def front(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if secret == "token sent":
            # This request's token, or else the latest one sent: a deployment may log it.
            sent = None if path.endswith("/generateToken") else _request_token(environ)
            tokens.extend([sent] if sent else [])
            value = tokens[-1] if tokens else None
        else:
            value = PASSWORD if secret == "password" else USERNAME
        response = Response.from_app(app, environ)
        body = None
        if value:
            # An HTML page or a redirect stays as it is: the capture reads JSON only.
            with contextlib.suppress(ValueError):
                body = json.loads(response.get_data(as_text=True))
            if isinstance(body, dict) and matches(path, body):
                plant(body, planted(value) if secret != "user name" else
                      f"Signed in as {value}. /community/users/{value}")  # fmt: skip
                done.append(value)
                response.set_data(json.dumps(body))
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/arcgis", done
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("leak") / "users.toml"
    path.write_text(
        f'[users.{USERNAME}]\npassword = {json.dumps(PASSWORD)}\nrole = "Administrator"\n'
    )
    return path


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_secret_echoed_anywhere_never_reaches_the_profile(place, secret, users_file, tmp_path):
    out = tmp_path / "profile.json"
    with leaky_deployment(place, secret, users_file) as (url, done):
        target = Target(requests.Session(), url, Credentials(USERNAME, PASSWORD), allow_writes=True)
        capture(target, out, log=lambda line: None)
    assert done, f"the front never planted the {secret} into {place}"
    text = out.read_text()
    leaked = [s for value in set(done) for s in spellings(value) if s in text]
    assert not leaked, f"{secret} planted into {place} reached the profile"
    json.loads(text)  # still a profile


def test_user_name_stays_when_asked_and_the_password_still_goes(users_file, tmp_path):
    out = tmp_path / "named.json"
    with leaky_deployment("portals/self, a value", "user name", users_file) as (url, _):
        target = Target(requests.Session(), url, Credentials(USERNAME, PASSWORD))
        capture(target, out, record_username=True, log=lambda line: None)
    text = out.read_text()
    assert f"Signed in as {USERNAME}." in text
    assert not [s for s in spellings(PASSWORD) if s in text]


def test_user_name_called_admin_leaves_the_admin_url_alone(tmp_path):
    """Replacing a user name must not eat the path segment of the same spelling."""
    out = tmp_path / "admin.json"
    app = create_app(profile=str(FOREIGN))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/arcgis"
        target = Target(requests.Session(), url, Credentials("admin", "admin1234"))
        capture(target, out, log=lambda line: None)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    servers = json.loads(out.read_text())["portal"]["servers"]
    assert servers[0]["adminUrl"] == "<origin>/<context>/admin"


# --- a profile's size is bounded, whatever the deployment answers -------------------


@contextmanager
def inflated_deployment(change: Callable[[str, dict], None]) -> Iterator[str]:
    """The foreign deployment with ``change(path, body)`` applied to every JSON answer."""
    app = create_app(profile=str(FOREIGN))

    def front(environ: dict, start_response: Callable) -> Any:
        response = Response.from_app(app, environ)
        body = None
        with contextlib.suppress(ValueError):
            body = json.loads(response.get_data(as_text=True))
        if isinstance(body, dict):
            change(environ.get("PATH_INFO", ""), body)
            response.set_data(json.dumps(body))
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/arcgis"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_long_refusal_wording_is_cut_to_the_message_bound(tmp_path):
    def lengthen(path: str, body: dict) -> None:
        if "error" in body or body.get("status") == "error":
            _into_messages(body, "x" * 200_000)

    out = tmp_path / "long.json"
    with inflated_deployment(lengthen) as url:
        capture(Target(requests.Session(), url, Credentials("admin", "admin1234")), out)
    refusals = json.loads(out.read_text())["refusals"]
    assert refusals, "no refusal captured"
    for name, refusal in refusals.items():
        assert all(len(message) <= MAX_MESSAGE for message in refusal["messages"]), name
    assert out.stat().st_size < 200_000


def test_more_system_runtimes_than_the_bound_is_refused_and_nothing_written(tmp_path):
    def multiply(path: str, body: dict) -> None:
        if path.endswith("/notebooks/runtimes") and body.get("runtimes"):
            first = body["runtimes"][0]
            body["runtimes"] = [
                {**first, "id": f"{first['id'][:-4]}{n:04d}"}
                for n in range(MAX_SYSTEM_RUNTIMES + 1)
            ]

    out = tmp_path / "many.json"
    with inflated_deployment(multiply) as url:
        target = Target(requests.Session(), url, Credentials("admin", "admin1234"))
        with pytest.raises(RuntimeError, match=f"more than {MAX_SYSTEM_RUNTIMES} system runtimes"):
            capture(target, out, log=lambda line: None)
    assert not out.exists()
