"""The one small interface the kit talks through: a deployment, in-process or at a URL.

A ``Target`` signs in through ``generateToken`` (or uses a given token) and
sends requests with ``requests``: over a socket to a URL, or, for the
emulator in-process, through the emulator's own transport adapter
(``mockserver.testing``), so both kinds share one code path. Every request
passes the safety rules (``contracts.safety``) whatever test or command sent
it, and no token or password shows in any repr, message or report
(``contracts.redaction``).

An emulator, served or in-process, also answers its control plane
(``/__mock__/``): the kit moves its clock and snapshots its state there, so
the emulator-only checks run against a served emulator exactly as
in-process. The kit never reaches into the emulator's objects.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from contracts.redaction import redact, remember_secret, url_without_credentials
from contracts.reply import NotJson, Reply, parse_json
from contracts.safety import (
    CREATING_OPERATIONS,
    KIT_NAMESPACE,
    BudgetExhausted,
    NeedsCredentials,
    NeedsWrites,
    UnsafeRequest,
    admin_operation,
    check_request,
    new_prefix,
)
from contracts.transport import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    AnswerTooLarge,
    AnswerTooSlow,
    fetch,
    watched_session,
)

#: The referer the kit binds its tokens to, and sends, as the official client does [client].
KIT_REFERER = "nbmock-contract-kit"
#: Defaults for a remote server: enough for a full run, few enough not to flood staging.
DEFAULT_REMOTE_BUDGET = 5000
DEFAULT_REMOTE_PAUSE = 0.05
#: Deadlines a target may miss before the kit stops sending it anything but the cleanup.
UNRESPONSIVE_AFTER = 2
#: The emulator's control plane, beside the web context, and the header its token travels in.
CONTROL_PATH = "__mock__"
CONTROL_TOKEN_HEADER = "X-Nbmock-Control-Token"

#: The flavours of the notebook administration API the kit tells apart, by the name
#: ``nbmock serve --flavour`` gives them, and how the report names each.
KUBERNETES = "kubernetes"
NOTEBOOK_SERVER = "notebook-server"
FLAVOUR_TITLES = {
    KUBERNETES: "ArcGIS Enterprise on Kubernetes",
    NOTEBOOK_SERVER: "ArcGIS Notebook Server",
}
#: ``portals/self``'s ``portalDeploymentType`` of a Kubernetes deployment [client]; any
#: other sends the official client to a federated server's ``<adminUrl>/admin``.
KUBERNETES_DEPLOYMENT_TYPE = "ArcGISEnterpriseOnKubernetes"

_OWN_TOKEN = object()


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        remember_secret(self.password)
        remember_secret(self.token)

    @property
    def can_sign_in(self) -> bool:
        return bool(self.username and self.password)


class Target:
    """A deployment the kit runs against; see ``contracts.safety`` for its rules."""

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
        control_token: str | None = None,
        owns_deployment: bool = False,
        label: str | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._context = parts.path.strip("/").split("/", 1)[0]
        #: The control plane of the target's own deployment, once found (``_find_control``).
        self.control_url = f"{self._origin}/{CONTROL_PATH}"
        self.credentials = credentials
        self.limited = limited
        self.allow_writes = allow_writes
        self.prefix = prefix or new_prefix()
        if not self.prefix.startswith(KIT_NAMESPACE):
            raise ValueError(f"a run prefix must start with {KIT_NAMESPACE!r}")
        self.budget = budget
        self.pause = pause
        self.label = label or url_without_credentials(self.base_url)
        self.requests_sent = 0
        #: The largest answer the kit reads, and each request's time (see ``contracts.transport``).
        self.max_answer_bytes = max_answer_bytes
        self.deadline = deadline
        self.created: dict[str, str] = {}  # id -> name, in creation order
        self.made_up: set[str] = set()
        #: The notebook item the user named for open and execute (``--notebook-item``), and
        #: the notebooks this run opened: the only ones it may close (contracts.safety).
        self.notebook_item: str | None = None
        self.opened_notebooks: set[str] = set()
        #: True for the in-process emulator the kit made: nobody else's runtimes to protect.
        self.owns_deployment = owns_deployment
        self._control_token = control_token
        remember_secret(control_token)
        self._has_control: bool | None = None
        #: Why the kit stopped sending to the target (it missed too many deadlines), if it did.
        self.unresponsive: str | None = None
        self._missed_deadlines = 0
        self._cleaning = False
        #: What the last ``cleanup`` could not do, and why.
        self.cleanup_problems: list[str] = []
        #: What the kit changed through the control plane, for ``put_back_control``.
        self._clock_moved = 0.0
        self._state_to_restore: Any = None
        self._put_back_errors: dict[str, str] = {}
        self._flavour: tuple[str | None, str] | None = None
        self._app_options: dict[str, Any] | None = None  # an in-process target's create_app
        self._token: str | None = credentials.token
        self._lock = threading.RLock()
        #: Transient failures met so far (HTTP or ArcGIS code 5xx, timeouts, dropped
        #: connections), each a short cause: a check that fails after one is inconclusive.
        self.transients: list[str] = []
        #: The latest exchanges, redacted and cut short: evidence for the ledger patch.
        self.exchanges: collections.deque[dict[str, Any]] = collections.deque(maxlen=64)
        self.exchange_count = 0
        self._answers_health: bool | None = None
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
        control_token: str | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> Target:
        """A deployment at ``https://host/<context>``; ``verify`` is a bool or a CA bundle path.

        A token alone is enough for a read-only run: the checks that must
        sign in are then reported as not run.
        """
        if not (token or (username and password)):
            raise ValueError("a target needs a token, or a username and a password")
        session = watched_session()
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
            control_token=control_token,
            max_answer_bytes=max_answer_bytes,
            deadline=deadline,
        )

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> Target:
        """``from_url`` with whatever the options leave out taken from the environment.

        ``ARCGIS_URL``, ``ARCGIS_USERNAME``, ``ARCGIS_PASSWORD``, ``ARCGIS_TOKEN``,
        ``ARCGIS_LIMITED_USERNAME``/``ARCGIS_LIMITED_PASSWORD``, and
        ``NBMOCK_CONTROL_TOKEN`` for a served emulator's control plane.
        """
        url = url or os.environ.get("ARCGIS_URL")
        if not url:
            raise ValueError("no target: give a URL or set ARCGIS_URL")
        for option, variable in (
            ("username", "ARCGIS_USERNAME"),
            ("password", "ARCGIS_PASSWORD"),
            ("token", "ARCGIS_TOKEN"),
            ("control_token", "NBMOCK_CONTROL_TOKEN"),
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
        app: Any = None,
        *,
        app_options: Mapping[str, Any] | None = None,
        username: str = "admin",
        password: str = "admin1234",
        allow_writes: bool = True,
        limited: Credentials | None = None,
        prefix: str | None = None,
        budget: int | None = None,
    ) -> Target:
        """The emulator without a socket: ``app``, or a new one from ``create_app(**app_options)``.

        Requests go through the emulator's own transport adapter; only a
        target made from ``app_options`` can make siblings of other releases.
        """
        # The emulator is imported only here: the kit runs against remote targets without it.
        from mockserver import create_app
        from mockserver.testing import InProcessEmulator

        if app is None:
            app = create_app(**(app_options or {}))
        emulator = InProcessEmulator(app)
        target = cls(
            emulator.session,
            emulator.url,
            Credentials(username, password),
            allow_writes=allow_writes,
            prefix=prefix,
            budget=budget,
            limited=limited,
            owns_deployment=True,
            label="in-process emulator",
        )
        target._app_options = dict(app_options) if app_options is not None else None
        return target

    def sibling(self, release_name: str, state: str | None = None) -> Target:
        """Another in-process deployment with this one's users, of another release.

        For checks about releases and upgrades, which a single deployment
        cannot show; only an in-process target made from options has siblings.
        """
        if self._app_options is None:
            raise RuntimeError("only an in-process target made from app_options has siblings")
        options = {**self._app_options, "release_name": release_name, "state": state}
        return Target.in_process(
            app_options=options,
            username=self.credentials.username or "",
            password=self.credentials.password or "",
            limited=self.limited,
            prefix=self.prefix,
        )

    def __repr__(self) -> str:
        return f"Target({self.label!r}, writes={'on' if self.allow_writes else 'off'})"

    @property
    def mode(self) -> str:
        """The run's mode in words, for the console and the report."""
        if self.allow_writes:
            return f"writes allowed (runtimes named {self.prefix}*, unregistered at the end)"
        return "read-only (a write is sent only where a refusal is expected)"

    def describe(self) -> dict[str, str]:
        """The target's flavour and release as it states them anonymously, or why not known.

        The flavour is ``portals/self``'s ``portalDeploymentType`` (F3), the
        release the sharing root's ``enterpriseVersion`` (F1): two GETs
        without a token, so a header costs no sign-in.
        """
        facts: dict[str, str] = {}
        for key, path, field_name in (
            ("release", "", "enterpriseVersion"),
            ("flavour", "portals/self", "portalDeploymentType"),
        ):
            try:
                body = self.portal("GET", path).body
            except Exception as error:  # a header must never end the run; it says why instead
                facts[key] = f"not known ({redact(str(error))[:120] or type(error).__name__})"
                continue
            value = body.get(field_name) if isinstance(body, dict) else None
            if isinstance(value, str) and value:
                facts[key] = value
            else:
                facts[key] = f"not known (no {field_name} in sharing/rest/{path})"
        return facts

    # --- what the target can do ----------------------------------------------------

    @property
    def can_make_siblings(self) -> bool:
        return self._app_options is not None

    @property
    def is_emulator(self) -> bool:
        """Whether the target answers the emulator's control plane (probed once, a GET)."""
        with self._lock:
            if self._has_control is None:
                try:
                    self._has_control = self._find_control()
                except (RuntimeError, ConnectionError, AssertionError):
                    # No control plane, or none that answers within the deadline and the cap.
                    self._has_control = False
            return self._has_control

    def _find_control(self) -> bool:
        """Point ``control_url`` at the control plane of the target's own deployment.

        An emulator's main deployment has its control plane at ``/__mock__/``; a
        sandbox of it (``/sb-<id>/``) at ``/__mock__/sandboxes/<id>/``. Moving
        the main deployment's clock, or restoring its state, would change
        another deployment than the one under test, so the kit asks which is whose.
        """
        main = f"{self._origin}/{CONTROL_PATH}"
        self.control_url = main
        health = self._control_call("GET", "health")
        if not (isinstance(health, dict) and health.get("context") == self._context):
            sandboxes = self._control_call("GET", "sandboxes")
            listed = sandboxes.get("sandboxes", []) if isinstance(sandboxes, dict) else []
            ours = [sandbox for sandbox in listed if sandbox.get("context") == self._context]
            if not ours:
                return False
            self.control_url = f"{main}/sandboxes/{ours[0]['id']}"
        # Health answers even where the control plane is off: only a control call tells.
        clock = self._control_call("GET", "clock")
        return isinstance(clock, dict) and "epochMs" in clock

    def emulator_profile(self) -> dict[str, Any] | None:
        """The deployment profile an emulator serves (``/__mock__/health``); None for none,
        or for a target that is not an emulator."""
        if not self.is_emulator:
            return None
        profile = self._control_call("GET", "health").get("profile")
        return profile if isinstance(profile, dict) else None

    @property
    def flavour(self) -> str | None:
        """``kubernetes`` or ``notebook-server``, as judged from the target's answers (once).

        None when neither answer tells: then no flavour's own checks run.
        """
        return self._judged_flavour()[0]

    @property
    def flavour_evidence(self) -> str:
        """What the judgement rests on, for the report."""
        return self._judged_flavour()[1]

    @property
    def judged_flavour(self) -> tuple[str | None, str] | None:
        """(flavour, evidence) if already judged; never sends a request."""
        return self._flavour

    def judge_flavour(self) -> str | None:
        """Judge the flavour now (once); the same as reading ``flavour``."""
        return self.flavour

    def _judged_flavour(self) -> tuple[str | None, str]:
        with self._lock:
            if self._flavour is None:
                self._flavour = self._judge_flavour()
            return self._flavour

    def _judge_flavour(self) -> tuple[str | None, str]:
        """The admin root first: Kubernetes' names ``fullVersion`` [doc: enterprise-admin-root],
        the standalone server's ``version`` and ``resources`` [doc: notebook-server root].
        A token that may not read the root leaves the Portal: its deployment type, then a
        federated ``ARCGIS_NOTEBOOK_SERVER`` in its server listing [client: gis.notebook_server]
        (which needs an administrator), then a deployment type that is not Kubernetes.
        """
        root = self.admin("GET", "").body
        if isinstance(root, dict) and "fullVersion" in root:
            return KUBERNETES, "the admin root names fullVersion"
        if isinstance(root, dict) and "version" in root and "resources" in root:
            return NOTEBOOK_SERVER, "the admin root names version and resources"
        portal = self.portal("GET", "portals/self", token=self.token, token_in="header").body
        kind = portal.get("portalDeploymentType") if isinstance(portal, dict) else None
        if kind == KUBERNETES_DEPLOYMENT_TYPE:
            return KUBERNETES, f"the Portal's portalDeploymentType is {kind}"
        servers = self.portal(
            "GET", "portals/self/servers", token=self.token, token_in="header"
        ).body
        listed = servers.get("servers") if isinstance(servers, dict) else None
        if kind and isinstance(listed, list):
            for server in listed:
                if (
                    isinstance(server, dict)
                    and server.get("serverType") == "ARCGIS_NOTEBOOK_SERVER"
                ):
                    return NOTEBOOK_SERVER, "the Portal lists a federated ARCGIS_NOTEBOOK_SERVER"
        if kind:
            # A base Enterprise runs notebooks on a standalone Notebook Server only [client].
            return NOTEBOOK_SERVER, f"the Portal's portalDeploymentType is {kind}, not Kubernetes"
        return None, "neither the admin root nor the Portal tells"

    @property
    def can_move_clock(self) -> bool:
        return self.is_emulator

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock (``POST /__mock__/clock``), in-process or served.

        The kit keeps count, and ``cleanup`` moves the clock back by as much:
        a served emulator outlives the run, and a clock left ahead makes its
        later tokens expire early.
        """
        self._require_emulator("moving the clock")
        self._control_call("POST", "clock", {"advance_seconds": seconds})
        self._clock_moved += seconds

    def seed_notebook_item(self, owner: str) -> str:
        """A notebook item owned by ``owner``, made through the emulator's control plane."""
        self._require_emulator("seeding a notebook item")
        answer = self._control_call(
            "POST", "workload/items", {"items": [{"owner": owner, "title": "nbmock kit"}]}
        )
        return str(answer["items"][0]["id"])

    @contextlib.contextmanager
    def restored_afterwards(self) -> Iterator[Target]:
        """The emulator's runtimes snapshotted now and put back when the block ends.

        Inside the block the kit may change system runtimes, as only an
        emulator allows: ``GET /__mock__/state`` before, ``POST`` it after.
        Should putting it back fail or be interrupted, ``cleanup`` tries again.
        """
        self._require_emulator("changing a system runtime")
        snapshot = self._control_call("GET", "state")
        self._state_to_restore = snapshot
        owned, self.owns_deployment = self.owns_deployment, True
        try:
            yield self
        finally:
            self.owns_deployment = owned
            self._control_call("POST", "state", snapshot)
            self._state_to_restore = None

    def put_back_control(self) -> None:
        """Undo what the kit changed through the control plane: its state, then its clock.

        ``cleanup`` calls it; what it could not put back stays recorded (and
        ``cleanup`` reports it), with the reason in ``_put_back_errors``.
        """
        if self._state_to_restore is not None:
            try:
                self._control_call("POST", "state", self._state_to_restore)
                self._state_to_restore = None
            except Exception as error:  # report it, and still try the clock
                self._put_back_errors["state"] = redact(str(error))[:200]
        if self._clock_moved:
            try:
                self._control_call("POST", "clock", {"advance_seconds": -self._clock_moved})
                self._clock_moved = 0.0
            except Exception as error:
                self._put_back_errors["clock"] = redact(str(error))[:200]

    def _not_put_back(self) -> list[str]:
        why = {key: f" ({error})" for key, error in self._put_back_errors.items()}
        problems = []
        if self._state_to_restore is not None:
            problems.append(
                "the emulator's runtimes are not put back as they were before a check "
                f"changed a system runtime{why.get('state', '')}"
            )
        if self._clock_moved:
            problems.append(
                f"the emulator's clock is left {self._clock_moved:g} s ahead{why.get('clock', '')}"
            )
        return problems

    def _require_emulator(self, what: str) -> None:
        if not self.is_emulator:
            raise RuntimeError(f"{what} needs the emulator's control plane (/{CONTROL_PATH}/)")

    def _control_call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {CONTROL_TOKEN_HEADER: self._control_token} if self._control_token else {}
        self._refuse_if_unresponsive()
        try:
            response = self._within_deadline(
                method,
                f"{self.control_url}/{path}",
                f"{method} /{CONTROL_PATH}/{path}",
                json=body,
                headers=headers,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise ConnectionError(redact(f"{self.control_url}/{path}: {error}")) from None
        try:
            answer = parse_json(response.text)
        except NotJson:
            answer = None
        if response.status_code != 200 or answer is None:
            raise RuntimeError(f"{self.control_url}/{path} answered HTTP {response.status_code}")
        return answer

    def require_writes(self) -> None:
        if not self.allow_writes:
            raise NeedsWrites("creates runtimes: run with --allow-writes")

    def require_credentials(self) -> Credentials:
        """The kit's user name and password; a check that needs them is not run without."""
        if not self.credentials.can_sign_in:
            raise NeedsCredentials()
        return self.credentials

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
        body = reply.body
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
        self._refuse_if_unresponsive()
        if not removing_own:
            self._check_safety(method, path, form, refusal_expected)
        if (
            method == "POST"
            and admin_operation(path)[0] in CREATING_OPERATIONS
            and form.get("f") != "pjson"
        ):
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
        send: dict[str, Any] = {"params": params, "headers": headers, "allow_redirects": False}
        if raw_body is not None:
            # As given, for checks of malformed bodies; the form (and token) go in the query.
            send["params"] = {**params, **form}
            send["data"] = raw_body
        elif method != "GET":
            if multipart:
                send["files"] = {key: (None, value) for key, value in form.items()}
            else:
                send["data"] = form
        shown = {k: v for k, v in {**params, **form}.items() if k != "token"}
        try:
            response = self._within_deadline(
                method, f"{self.base_url}/{path}", f"{method} {path}", **send
            )
        except requests.RequestException as error:
            # The message may hold a URL with a GET token in it.
            cause = redact(f"{type(error).__name__} on {method} {path}")
            self._note(method, path, shown, None, cause)
            raise ConnectionError(redact(f"{method} {path}: {error}")) from None
        except AnswerTooSlow:
            # A missed deadline is a timeout: it says nothing about the rule under check.
            self._note(
                method, path, shown, None, f"no answer within the deadline on {method} {path}"
            )
            raise
        except AnswerTooLarge:
            self._note(method, path, shown, None, None, unread="an answer past the kit's cap")
            raise
        reply = Reply(response.status_code, response.headers, response.text, method, path, response)
        code = reply.code if isinstance(reply.code, int) else 0
        transient = None
        if reply.status >= 500 or code >= 500:
            transient = f"{'HTTP' if reply.status >= 500 else 'code'} {max(reply.status, code)}"
            transient += f" on {method} {path}"
        self._note(method, path, shown, reply, transient)
        self._record(path, form, reply, refusal_expected)
        return reply

    def _note(
        self,
        method: str,
        path: str,
        sent: Mapping[str, str],
        reply: Reply | None,
        transient: str | None,
        unread: str | None = None,
    ) -> None:
        """Keep the exchange (redacted, cut short) and any transient failure it showed;
        ``unread`` says why an answer that is no transient failure was not read."""
        entry = {
            "request": redact(f"{method} {path} {dict(sent)}")[:600],
            "response": (
                redact(f"HTTP {reply.status} {reply.text[:400]}") if reply else unread or transient
            ),
        }
        with self._lock:
            self.exchanges.append(entry)
            self.exchange_count += 1
            if transient:
                self.transients.append(redact(transient))

    @property
    def answers_as_emulator(self) -> bool:
        """Whether ``/__mock__/health`` answers as nbmock's does: an emulator, even where
        its control plane is closed to the kit (a real Enterprise has no such path)."""
        with self._lock:
            if self._answers_health is None:
                try:
                    health = self._control_call("GET", "health")
                except (RuntimeError, ConnectionError):
                    health = None
                self._answers_health = (
                    isinstance(health, dict)
                    and health.get("status") == "ok"
                    and "release" in health
                ) or self.is_emulator
            return self._answers_health

    def _within_deadline(self, method: str, url: str, what: str, **send: Any) -> Any:
        """``fetch`` under the run's bounds, counting the deadlines the target misses."""
        try:
            return fetch(
                self.session,
                method,
                url,
                what=what,
                deadline=self.deadline,
                max_bytes=self.max_answer_bytes,
                **send,
            )
        except AnswerTooSlow as failure:
            with self._lock:
                self._missed_deadlines += 1
                if self._missed_deadlines >= UNRESPONSIVE_AFTER and not self.unresponsive:
                    self.unresponsive = (
                        f"{self.label} missed {self._missed_deadlines} deadlines of "
                        f"{self.deadline:g} s (the last: {failure}); the kit sends it nothing "
                        "more but its cleanup. A slow deployment may need a longer "
                        "--request-deadline"
                    )
            raise

    def _refuse_if_unresponsive(self) -> None:
        """Once the target stopped answering, every check fails at once instead of waiting."""
        if self.unresponsive and not self._cleaning:
            raise AnswerTooSlow(self.unresponsive)

    def _spend(self) -> None:
        with self._lock:
            if self.budget is not None and self.requests_sent >= self.budget:
                raise BudgetExhausted(f"request budget of {self.budget} spent")
            self.requests_sent += 1

    # --- safety -----------------------------------------------------------------------

    def _check_safety(
        self, method: str, path: str, form: Mapping[str, str], refusal_expected: bool
    ) -> None:
        check_request(
            method,
            path,
            form,
            refusal_expected=refusal_expected,
            allow_writes=self.allow_writes,
            owns_deployment=self.owns_deployment,
            own_ids=self.made_up | set(self.created),
            prefix=self.prefix,
            notebook_item=self.notebook_item,
            own_notebooks=self.opened_notebooks | self.made_up,
        )

    def _record(
        self, path: str, form: Mapping[str, str], reply: Reply, refusal_expected: bool
    ) -> None:
        operation, runtime_id = admin_operation(path)
        body = reply.body
        if operation in CREATING_OPERATIONS and isinstance(body, dict):
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
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("runtimes"), list):
            raise AssertionError(f"listing runtimes failed: {reply!r}")
        return body["runtimes"]

    def system_runtimes(self) -> list[dict[str, Any]]:
        """Esri's runtimes: not ``copied`` (Kubernetes), ``esriProvidedRuntime`` (standalone)."""
        return [runtime for runtime in self.runtimes() if not _made_by_someone(runtime)]

    def unregister_created(self, runtime_id: str) -> Reply:
        if runtime_id not in self.created:
            raise UnsafeRequest(f"runtime {runtime_id} was not created by this run")
        return self.admin("POST", f"notebooks/runtimes/{runtime_id}/unregister", removing_own=True)

    def cleanup(self) -> list[str]:
        """Unregister every runtime this target created; the ids it could not remove.

        Besides the ids it recorded, anything named with this run's own prefix
        is this run's (the prefix is unique per run), so an answer the kit
        could not read never strands a runtime.

        Bounded: each request has the run's deadline, the first one the target
        misses ends the cleanup (a target that stopped answering would only
        miss the next ones too), and a second Ctrl-C or SIGTERM ends it at
        once. Either way ``cleanup_problems`` says what was not cleaned up
        and why, and no exception leaves.
        """
        self.cleanup_problems = []
        budget, self.budget = self.budget, None  # cleanup is never cut short by the budget
        self._cleaning = True
        left: list[str] = []
        try:
            stopped = self._adopt_own_leftovers()
            for notebook_id in [] if stopped else sorted(self.opened_notebooks):
                try:
                    reply = self.admin("POST", f"notebooks/{notebook_id}/closeNotebook")
                except AnswerTooSlow as failure:
                    self.cleanup_problems.append(f"stopped: {failure}")
                    stopped = True
                    break
                except Exception:  # keep going: one failure must not strand the others
                    continue
                if reply.envelope == "success" or reply.code == 404:
                    self.opened_notebooks.discard(notebook_id)
            for runtime_id in [] if stopped else list(self.created):
                try:
                    reply = self.unregister_created(runtime_id)
                except AnswerTooSlow as failure:
                    self.cleanup_problems.append(f"stopped: {failure}")
                    stopped = True
                    break
                except Exception:  # keep going: one failure must not strand the others
                    left.append(runtime_id)
                    continue
                if reply.envelope != "success" and reply.code != 404:
                    left.append(runtime_id)
                else:
                    self.created.pop(runtime_id, None)
            if not stopped:  # a target that missed a deadline would miss these too
                self.put_back_control()
        except KeyboardInterrupt:
            self.cleanup_problems.append(
                "interrupted by a second Ctrl-C or SIGTERM: this run's runtimes may not all be "
                f"unregistered; nbmock sweep --target {self.base_url} --prefix {self.prefix} "
                "removes any left"
            )
        finally:
            self.budget = budget
            self._cleaning = False
        self.cleanup_problems += self._not_put_back()
        if self.opened_notebooks:
            self.cleanup_problems.append(
                f"not closed: notebooks {', '.join(sorted(self.opened_notebooks))} this run opened"
            )
        left = list(dict.fromkeys([*left, *self.created]))
        if left:
            self.cleanup_problems.append(
                f"not unregistered: {', '.join(left)}; remove them later with "
                f"nbmock sweep --target {self.base_url} --prefix {self.prefix}"
            )
        return left

    def _adopt_own_leftovers(self) -> bool:
        """Adopt what this run's prefix names; True if the target missed the deadline."""
        try:
            self.adopt(self.leftovers(self.prefix))
        except AnswerTooSlow as failure:
            self.cleanup_problems.append(f"could not list this run's runtimes: {failure}")
            return True
        except Exception as error:  # the recorded ids are still removed
            problem = redact(str(error))[:200] or type(error).__name__
            self.cleanup_problems.append(f"could not list this run's runtimes: {problem}")
        return False

    def leftovers(self, prefix: str) -> list[dict[str, Any]]:
        """Copied or registered runtimes whose name starts with ``prefix`` (a kit prefix)."""
        if not prefix.startswith(KIT_NAMESPACE):
            raise ValueError(f"a kit prefix starts with {KIT_NAMESPACE!r}")
        return [
            runtime
            for runtime in self.runtimes()
            if _made_by_someone(runtime) and str(runtime.get("name", "")).startswith(prefix)
        ]

    def adopt(self, runtimes: Iterable[Mapping[str, Any]]) -> None:
        """Take over leftovers of an earlier kit run, so ``cleanup`` removes them."""
        for runtime in runtimes:
            if not str(runtime.get("name", "")).startswith(KIT_NAMESPACE):
                raise UnsafeRequest(f"runtime {runtime.get('id')} was not made by the kit")
            self.created[str(runtime["id"])] = str(runtime["name"])


def _made_by_someone(runtime: Mapping[str, Any]) -> bool:
    """A copy (Kubernetes) or a registered runtime (standalone), not one of Esri's."""
    return bool(runtime.get("copied")) or runtime.get("esriProvidedRuntime") is False
