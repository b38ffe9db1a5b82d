"""The one small interface the kit talks through: a deployment, in-process or at a URL.

A ``Target`` signs in through ``generateToken`` (or uses a given token), sends
requests with ``requests`` (in-process through a transport adapter into the
Flask app, so both kinds share one code path) and enforces the kit's safety
rules on every request, whatever test or command sent it:

- read-only unless ``allow_writes``: a write may only be sent when the caller
  expects the server to refuse it;
- update, unregister and upgrade go only to runtimes this target created (or
  to ids it made up, which exist nowhere);
- every copy's name carries the run's prefix, every created runtime is
  recorded from the answer and ``cleanup()`` unregisters it;
- a request budget and a pause between requests protect a shared server;
- tokens and passwords are kept out of every repr, message and report
  (``redact``).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import secrets
import threading
import time
import unittest
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse

#: Every name the kit gives a runtime starts with this; ``sweep`` refuses any other prefix.
KIT_NAMESPACE = "nbmock-kit-"
#: The referer the kit binds its tokens to, and sends, as the official client does [client].
KIT_REFERER = "nbmock-contract-kit"
IN_PROCESS_BASE = "http://in-process.nbmock.invalid"
#: Defaults for a remote server: enough for a full run, few enough not to flood staging.
DEFAULT_REMOTE_BUDGET = 5000
DEFAULT_REMOTE_PAUSE = 0.05

WRITE_OPERATIONS = frozenset({"copy", "update", "unregister", "upgrade"})
#: Writes that act on an existing runtime: allowed only on runtimes the kit owns.
OWNED_OPERATIONS = frozenset({"update", "unregister", "upgrade"})

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Keep ``value`` out of everything ``redact`` touches from now on."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every token and password the kit has seen replaced."""
    with _SECRETS_LOCK:
        known = sorted(_SECRETS, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "<redacted>")
    return text


def new_prefix() -> str:
    """A per-run prefix: the kit's namespace, the UTC time and a random tag."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"{KIT_NAMESPACE}{stamp}-{secrets.token_hex(2)}-"


class BudgetExhausted(unittest.SkipTest):
    """The run's request budget is spent; remaining checks are skipped, not failed.

    A ``SkipTest`` so that pytest reports a skip and Hypothesis stops at once
    instead of shrinking with more requests.
    """


class UnsafeRequest(RuntimeError):
    """A request the kit's safety rules forbid (a bug in a check, never sent)."""


class NeedsWrites(unittest.SkipTest):
    """The check creates runtimes and the run is read-only."""


@dataclass
class Reply:
    """One HTTP answer, parsed the way ArcGIS answers are read."""

    status: int
    headers: Mapping[str, str]
    text: str
    method: str = ""
    path: str = ""
    raw: Any = field(default=None, repr=False, compare=False)  # the requests.Response

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def envelope(self) -> str:
        """``admin-error``, ``portal-error``, ``success``, ``resource`` or ``not-json``."""
        body = self.json
        if not isinstance(body, dict):
            return "not-json"
        if body.get("status") == "error":
            return "admin-error"
        if isinstance(body.get("error"), dict):
            return "portal-error"
        if body.get("status") == "success":
            return "success"
        return "resource"

    @property
    def code(self) -> int | None:
        """The ArcGIS error code inside either envelope (not the HTTP status)."""
        body = self.json
        if self.envelope == "admin-error":
            return body.get("code")
        if self.envelope == "portal-error":
            return body["error"].get("code")
        return None

    @property
    def messages(self) -> list[str]:
        body = self.json
        if self.envelope == "admin-error":
            return list(body.get("messages") or [])
        if self.envelope == "portal-error":
            error = body["error"]
            return [error.get("message", ""), *(error.get("details") or [])]
        return []

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 600 else self.text[:600] + "…"
        return redact(f"<Reply {self.method} {self.path} -> HTTP {self.status}: {text}>")

    __str__ = __repr__


class FlaskAdapter(BaseAdapter):
    """A requests transport that hands each request to a Flask app, no socket."""

    def __init__(self, app) -> None:
        super().__init__()
        self.client = app.test_client()

    def send(self, request, **kwargs) -> requests.Response:
        url = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        answer = self.client.open(
            path=url.path,
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=request.method,
            headers=dict(request.headers),
            data=body or b"",
        )
        content = answer.get_data()
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers.items())
        # A urllib3 response as ``raw``, as a socket transport gives: readers of
        # raw headers (Schemathesis) and of ``release_conn`` find what they expect.
        response.raw = HTTPResponse(
            body=io.BytesIO(content),
            headers=list(answer.headers.items()),
            status=answer.status_code,
            preload_content=False,
        )
        response._content = content
        response.encoding = answer.mimetype_params.get("charset", "utf-8")
        response.url = request.url
        response.request = request
        response.reason = answer.status.partition(" ")[2]
        return response

    def close(self) -> None:
        pass


_OWN_TOKEN = object()


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        remember_secret(self.password)
        remember_secret(self.token)


class Target:
    """A deployment the kit runs against; see the module docstring for its rules."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        credentials: Credentials,
        *,
        allow_writes: bool = False,
        prefix: str | None = None,
        budget: int | None = None,
        pause: float = 0.0,
        limited: Credentials | None = None,
        clock=None,
        label: str | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.limited = limited
        self.allow_writes = allow_writes
        self.prefix = prefix or new_prefix()
        if not self.prefix.startswith(KIT_NAMESPACE):
            raise ValueError(f"a run prefix must start with {KIT_NAMESPACE!r}")
        self.budget = budget
        self.pause = pause
        self.label = label or self.base_url
        self.requests_sent = 0
        self.created: dict[str, str] = {}  # id -> name, in creation order
        self.made_up: set[str] = set()
        self._clock = clock
        self.app = None  # the Flask app of an in-process target
        self._token: str | None = credentials.token
        self._lock = threading.RLock()
        session.headers["Referer"] = KIT_REFERER
        session.headers.setdefault("User-Agent", "nbmock-contract-kit")

    # --- construction -----------------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        verify: bool | str = True,
        allow_writes: bool = False,
        budget: int | None = DEFAULT_REMOTE_BUDGET,
        pause: float = DEFAULT_REMOTE_PAUSE,
        prefix: str | None = None,
        limited: Credentials | None = None,
    ) -> Target:
        """A deployment at ``https://host/<context>``; ``verify`` is a bool or a CA bundle path."""
        if not (token or (username and password)):
            raise ValueError("a target needs a token, or a username and a password")
        session = requests.Session()
        session.verify = verify
        return cls(
            session,
            url,
            Credentials(username, password, token),
            allow_writes=allow_writes,
            prefix=prefix,
            budget=budget,
            pause=pause,
            limited=limited,
        )

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> Target:
        """``from_url`` with whatever the options leave out taken from ``ARCGIS_*`` variables."""
        url = url or os.environ.get("ARCGIS_URL")
        if not url:
            raise ValueError("no target: give a URL or set ARCGIS_URL")
        for option, variable in (
            ("username", "ARCGIS_USERNAME"),
            ("password", "ARCGIS_PASSWORD"),
            ("token", "ARCGIS_TOKEN"),
        ):
            if not options.get(option) and os.environ.get(variable):
                options[option] = os.environ[variable]
        if options.get("limited") is None and os.environ.get("ARCGIS_LIMITED_USERNAME"):
            options["limited"] = Credentials(
                os.environ["ARCGIS_LIMITED_USERNAME"], os.environ.get("ARCGIS_LIMITED_PASSWORD")
            )
        return cls.from_url(url, **options)

    @classmethod
    def in_process(
        cls,
        app,
        *,
        username: str = "admin",
        password: str = "admin1234",
        allow_writes: bool = True,
        limited: Credentials | None = None,
        prefix: str | None = None,
        budget: int | None = None,
    ) -> Target:
        """The emulator app itself, through a transport adapter; its clock can be moved."""
        session = requests.Session()
        session.mount(IN_PROCESS_BASE, FlaskAdapter(app))
        context = app.extensions["nbmock"].context
        target = cls(
            session,
            f"{IN_PROCESS_BASE}/{context}",
            Credentials(username, password),
            allow_writes=allow_writes,
            prefix=prefix,
            budget=budget,
            limited=limited,
            clock=app.extensions["nbmock"].clock,
            label="in-process emulator",
        )
        target.app = app
        return target

    def sibling(self, release_name: str, state: str | None = None) -> Target:
        """Another in-process deployment with this one's users, of another release.

        For checks about releases and upgrades, which a single in-process
        deployment cannot show; only an in-process target has siblings.
        """
        if self.app is None:
            raise RuntimeError("only an in-process target has siblings")
        from mockserver import create_app
        from mockserver.clock import Clock

        users = self.app.extensions["nbmock"].users
        app = create_app(release_name=release_name, users=users, clock=Clock(), state=state)
        return Target.in_process(
            app,
            username=self.credentials.username,
            password=self.credentials.password,
            limited=self.limited,
            prefix=self.prefix,
        )

    def __repr__(self) -> str:
        return f"Target({self.label!r}, writes={'on' if self.allow_writes else 'off'})"

    # --- what the target can do ----------------------------------------------------

    @property
    def is_remote(self) -> bool:
        return self._clock is None

    @property
    def owns_deployment(self) -> bool:
        """True for the in-process emulator the kit made: nobody else's runtimes to protect."""
        return self.app is not None

    @property
    def can_move_clock(self) -> bool:
        return self._clock is not None

    def advance_clock(self, seconds: float) -> None:
        if self._clock is None:
            raise RuntimeError("only an in-process target's clock can be moved")
        self._clock.advance(seconds)

    def require_writes(self) -> None:
        if not self.allow_writes:
            raise NeedsWrites("creates runtimes: run with --allow-writes")

    # --- tokens -----------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The kit's own token, generated on first use."""
        with self._lock:
            if self._token is None:
                self._token = self.generate_token(
                    self.credentials.username, self.credentials.password
                )
            return self._token

    def generate_token(
        self,
        username: str | None,
        password: str | None,
        *,
        client: str | None = "referer",
        referer: str | None = KIT_REFERER,
        expiration: int | None = None,
    ) -> str:
        form = {"username": username or "", "password": password or "", "f": "json"}
        if client:
            form["client"] = client
        if referer:
            form["referer"] = referer
        if expiration is not None:
            form["expiration"] = str(expiration)
        reply = self.portal("POST", "generateToken", data=form)
        body = reply.json
        if not isinstance(body, dict) or "token" not in body:
            raise RuntimeError(f"generateToken did not give a token for {username!r}: {reply!r}")
        return body["token"]

    # --- requests ---------------------------------------------------------------------

    def portal(self, method: str, path: str, **kwargs: Any) -> Reply:
        """A request to ``<context>/sharing/rest/<path>``; never carries the kit's token."""
        kwargs.setdefault("token", None)
        return self.request(method, f"sharing/rest/{path}", **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> Reply:
        """A request to ``<context>/admin/<path>`` with the kit's token unless told otherwise."""
        return self.request(method, f"admin/{path}".rstrip("/"), **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        multipart: bool = False,
        headers: Mapping[str, str] | None = None,
        token: Any = _OWN_TOKEN,
        token_in: str | None = None,
        refusal_expected: bool = False,
        removing_own: bool = False,
        raw_body: bytes | None = None,
    ) -> Reply:
        """Send one request under the safety rules.

        ``token`` is the kit's own by default, ``None`` for none, or another
        token; ``token_in`` is ``header`` (default for GET), ``body`` (default
        for POST, as the seed says) or ``query``. ``refusal_expected`` marks a
        write the caller expects to be refused: the only writes a read-only run
        may send. ``removing_own`` is cleanup: an unregister of a runtime this
        target created, sent even in a read-only run and outside the budget.
        """
        method = method.upper()
        params = dict(params or {})
        form = dict(data or {})
        headers = dict(headers or {})
        (params if method == "GET" else form).setdefault("f", "json")
        if not removing_own:
            self._check_safety(method, path, form, refusal_expected)
        if method == "POST" and _admin_operation(path)[0] == "copy" and form.get("f") != "pjson":
            # The kit must read the new runtime's id from the answer to remove it later.
            form["f"] = "json"
            params.pop("f", None)
        if token is _OWN_TOKEN:
            token = self.token
        if token is not None:
            remember_secret(token)
            where = token_in or ("body" if method == "POST" else "header")
            if where == "header":
                headers["X-Esri-Authorization"] = f"Bearer {token}"
            elif where == "body":
                form["token"] = token
            else:
                params["token"] = token
        if not removing_own:
            self._spend()
        if self.pause:
            time.sleep(self.pause)
        # Never follow redirects: the one ArcGIS answers with (OAuth sign-in) is checked as sent.
        send: dict[str, Any] = {
            "params": params,
            "headers": headers,
            "timeout": 60,
            "allow_redirects": False,
        }
        if raw_body is not None:
            # As given, for checks of malformed bodies; the form (and token) go in the query.
            send["params"] = {**params, **form}
            send["data"] = raw_body
        elif method != "GET":
            if multipart:
                send["files"] = {key: (None, value) for key, value in form.items()}
            else:
                send["data"] = form
        try:
            response = self.session.request(method, f"{self.base_url}/{path}", **send)
        except requests.RequestException as error:
            # The message may hold a URL with a GET token in it.
            raise ConnectionError(redact(f"{method} {path}: {error}")) from None
        reply = Reply(response.status_code, response.headers, response.text, method, path, response)
        self._record(path, form, reply, refusal_expected)
        return reply

    def _spend(self) -> None:
        with self._lock:
            if self.budget is not None and self.requests_sent >= self.budget:
                raise BudgetExhausted(f"request budget of {self.budget} spent")
            self.requests_sent += 1

    # --- safety -----------------------------------------------------------------------

    def _check_safety(
        self, method: str, path: str, form: Mapping[str, str], refusal_expected: bool
    ) -> None:
        operation, runtime_id = _admin_operation(path)
        if method != "POST" or operation not in WRITE_OPERATIONS:
            return
        if not (self.allow_writes or refusal_expected):
            raise UnsafeRequest(f"{operation} would change the server and writes are off")
        if (
            operation in OWNED_OPERATIONS
            and not self.owns_deployment
            and runtime_id not in self.made_up
            and runtime_id not in self.created
        ):
            raise UnsafeRequest(
                f"{operation} on runtime {runtime_id}, which this run did not create"
            )
        if operation == "copy":
            name = form.get("name", "")
            if name.strip() and not name.startswith(self.prefix):
                raise UnsafeRequest(f"copy named {name[:40]!r} lacks the run prefix")

    def _record(
        self, path: str, form: Mapping[str, str], reply: Reply, refusal_expected: bool
    ) -> None:
        operation, runtime_id = _admin_operation(path)
        body = reply.json
        if operation == "copy" and isinstance(body, dict):
            runtime = body.get("notebookRuntime")
            if isinstance(runtime, dict) and runtime.get("id"):
                with self._lock:
                    self.created[runtime["id"]] = str(runtime.get("name", ""))
                if refusal_expected and not self.allow_writes:
                    # A read-only run must leave nothing behind even when the server
                    # accepts what it should have refused.
                    self.unregister_created(runtime["id"])
        elif operation == "unregister" and reply.envelope == "success":
            with self._lock:
                self.created.pop(runtime_id, None)
        if path.endswith("generateToken") and isinstance(body, dict):
            remember_secret(body.get("token"))

    def made_up_id(self) -> str:
        """A runtime id that exists nowhere: writes to it are safe refusals."""
        runtime_id = str(uuid.uuid4())
        self.made_up.add(runtime_id)
        return runtime_id

    def name(self, suffix: str = "") -> str:
        return f"{self.prefix}{suffix}"

    # --- runtimes ---------------------------------------------------------------------

    def runtimes(self) -> list[dict[str, Any]]:
        reply = self.admin("GET", "notebooks/runtimes")
        body = reply.json
        if not isinstance(body, dict) or not isinstance(body.get("runtimes"), list):
            raise AssertionError(f"listing runtimes failed: {reply!r}")
        return body["runtimes"]

    def system_runtimes(self) -> list[dict[str, Any]]:
        return [runtime for runtime in self.runtimes() if not runtime.get("copied")]

    def unregister_created(self, runtime_id: str) -> Reply:
        if runtime_id not in self.created:
            raise UnsafeRequest(f"runtime {runtime_id} was not created by this run")
        return self.admin("POST", f"notebooks/runtimes/{runtime_id}/unregister", removing_own=True)

    def cleanup(self) -> list[str]:
        """Unregister every runtime this target created; the ids it could not remove.

        Besides the ids it recorded, anything named with this run's own prefix
        is this run's (the prefix is unique per run), so an answer the kit
        could not read never strands a runtime.
        """
        budget, self.budget = self.budget, None  # cleanup is never cut short by the budget
        try:
            with contextlib.suppress(Exception):
                self.adopt(self.leftovers(self.prefix))
        finally:
            self.budget = budget
        left: list[str] = []
        for runtime_id in list(self.created):
            try:
                reply = self.unregister_created(runtime_id)
            except Exception:  # keep going: one failure must not strand the others
                left.append(runtime_id)
                continue
            if reply.envelope != "success" and reply.code != 404:
                left.append(runtime_id)
            else:
                self.created.pop(runtime_id, None)
        return left

    def leftovers(self, prefix: str) -> list[dict[str, Any]]:
        """Copied runtimes whose name starts with ``prefix`` (a kit prefix)."""
        if not prefix.startswith(KIT_NAMESPACE):
            raise ValueError(f"a kit prefix starts with {KIT_NAMESPACE!r}")
        return [
            runtime
            for runtime in self.runtimes()
            if runtime.get("copied") and str(runtime.get("name", "")).startswith(prefix)
        ]

    def adopt(self, runtimes: Iterable[Mapping[str, Any]]) -> None:
        """Take over leftovers of an earlier kit run, so ``cleanup`` removes them."""
        for runtime in runtimes:
            if not str(runtime.get("name", "")).startswith(KIT_NAMESPACE):
                raise UnsafeRequest(f"runtime {runtime.get('id')} was not made by the kit")
            self.created[str(runtime["id"])] = str(runtime["name"])


def _admin_operation(path: str) -> tuple[str | None, str | None]:
    """(operation, runtime id) of an ``admin/notebooks/runtimes/<id>/<op>`` path."""
    parts = path.strip("/").split("/")
    if len(parts) >= 5 and parts[:3] == ["admin", "notebooks", "runtimes"]:
        return parts[4], parts[3]
    return None, None
