"""``/<context>/admin`` of a standalone ArcGIS Notebook Server: each view declares its
operation once and returns what to render.

The blueprint is named ``admin``, as the Kubernetes flavour's is: exactly one of them
serves a deployment's admin API, so shared pages (the directory's sign-in, the Portal's
generateToken) link ``admin.root`` without knowing the flavour.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, request, url_for

from mockserver.auth import signin as sign_ins
from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.auth.tokens import CLIENTS
from mockserver.core import deployment, messages
from mockserver.core.errors import MethodNotSupported
from mockserver.notebookserver import forms
from mockserver.notebookserver.backend import ServerRuntimesBackend
from mockserver.notebookserver.model import ServerRuntime
from mockserver.runtimes import pages
from mockserver.runtimes.manifests import UPLOAD_NAME as UPLOADED_MANIFEST
from mockserver.runtimes.pages import RUNTIME
from mockserver.web import wire
from mockserver.web.directory import Done
from mockserver.web.forms import NUMBER, PASSWORD, SELECT, Field
from mockserver.web.pipeline import OPERATION, RESOURCE, Page, declared, operation

admin = Blueprint("admin", __name__)

RUNTIMES = "/notebooks/runtimes"

#: [doc: notebook/generate-token] the server's own token operation's parameters.
TOKEN_FIELDS = (
    Field("username", required=True),
    Field("password", PASSWORD, required=True),
    Field("client", SELECT, CLIENTS),
    Field("referer"),
    Field("ip"),
    Field("expiration", NUMBER, placeholder="minutes"),
)


def _backend() -> ServerRuntimesBackend:
    return deployment.current().runtimes  # type: ignore[return-value]


@operation(
    admin,
    "",
    name="admin",
    title="ArcGIS Notebook Server Administrator API",
    guard=require_notebook_administrator,
)
def root():
    # [doc: notebook-server-administration-root] {"version", "resources"}; the newest page
    # lists more child resources than the emulator serves, so only those it has [inferred].
    payload = {
        "version": deployment.current().release.name,
        "resources": ["notebooks", "system"],
    }
    return Page(
        payload,
        links=lambda: {
            "notebooks": url_for("workload.notebooks"),
            "system": url_for("workload.system"),
        },
    )


@operation(
    admin,
    "/generateToken",
    name="adminGenerateToken",
    title="Generate Token",
    methods=RESOURCE,
)
def generate_token():
    """The server's own token [doc: notebook/generate-token, 10.7]: POST only; GET shows the
    form. The same users and token service as the federated Portal's [inferred]."""
    if request.method == "GET":
        if wire.response_format() != "html":
            raise MethodNotSupported(messages.METHOD_NOT_SUPPORTED.format(method="GET"))
        form = {
            "url": url_for("admin.generate_token"),
            "fields": TOKEN_FIELDS,
            "submit": "Generate Token",
            "defaults": {"client": "requestip", "expiration": "60"},
        }
        return Page({}, operations={"generateToken": form})
    token, expires_ms = sign_ins.issue_token(wire.params(), caller_ip=request.remote_addr)
    return Page(
        {"token": token, "expires": expires_ms},
        links={"Administrator directory": url_for("admin.root")},
        session_token=token,
    )


@operation(
    admin,
    RUNTIMES,
    name="runtimes",
    title="Notebook Runtimes",
    guard=require_notebook_administrator,
    release_bound=True,
)
def list_runtimes():
    backend = _backend()
    runtimes = backend.list()
    payload = {
        "currentRuntimeVersion": backend.current_runtime_version,
        "runtimes": [runtime.listed() for runtime in runtimes],
    }
    return Page(
        payload,
        table=lambda: _runtimes_table(runtimes),
        operations=lambda: _collection_pages(),
    )


def _runtimes_table(runtimes: list[ServerRuntime]) -> dict:
    """One row and one link per runtime id."""
    return {
        "key": "runtimes",
        "columns": ("name", "id", "version", "Esri", "CPU", "memory"),
        "rows": [
            (
                runtime.name,
                runtime.id,
                runtime.version,
                runtime.esriProvidedRuntime,
                wire.integral(runtime.maxCpu),
                f"{wire.integral(runtime.maxMemory)} {runtime.maxMemoryUnit}",
            )
            for runtime in runtimes
        ],
        "links": [url_for("admin.get_runtime", runtime_id=runtime.id) for runtime in runtimes],
        "link_column": 1,
    }


def _collection_pages() -> dict[str, str]:
    """Links to the pages of the operations on the runtimes collection this release has."""
    offered = deployment.current().release.operations
    return {
        op.name: url_for(endpoint)
        for endpoint, op in declared(current_app).items()
        if op.rule.startswith(RUNTIMES + "/")
        and "<" not in op.rule
        and op.page is not None
        and op.name in offered
    }


def _collection_page(name: str, submit: str, *, confirm: str = "") -> Callable[[], Page]:
    def page() -> Page:
        endpoint, op = next(
            (endpoint, op) for endpoint, op in declared(current_app).items() if op.name == name
        )
        form = {
            "url": url_for(endpoint),
            "fields": op.form,
            "defaults": forms.REGISTER_DEFAULTS if name == "register" else {},
            "submit": submit,
            "confirm": confirm,
            "cancel": url_for("admin.list_runtimes"),
        }
        return Page({}, title=op.title, operations={name: form})

    return page


@operation(
    admin,
    f"{RUNTIMES}/register",
    name="register",
    title="Register Notebook Runtime",
    methods=OPERATION,
    guard=require_administrator,
    release_bound=True,
    form=forms.REGISTER,
    page=_collection_page("register", "Register"),
)
def register():
    runtime = _backend().register(wire.params(), wire.uploaded_file(UPLOADED_MANIFEST))
    # [doc: register-runtime] the new runtime under "notebookRuntime". A browser is sent on to
    # its page (post/redirect/get, H11 via N23): reloading the result registers nothing more.
    return Page(
        {"notebookRuntime": runtime.listed()},
        then=lambda: _done(runtime.id, "registered", runtime.name),
    )


@operation(
    admin,
    f"{RUNTIMES}/restore",
    name="restore",
    title="Restore Factory Runtimes",
    methods=OPERATION,
    guard=require_administrator,
    release_bound=True,
    page=_collection_page(
        "restore",
        "Restore",
        confirm="Restore Esri's runtimes? Every registered runtime is removed for good.",
    ),
)
def restore():
    _backend().restore()
    return Page(
        {"status": "success"}, then=lambda: Done(url_for("admin.list_runtimes"), "restored", "")
    )


@operation(
    admin,
    f"{RUNTIMES}/validateRuntimes",
    name="validateRuntimes",
    title="Validate Runtimes",
    methods=OPERATION,
    guard=require_administrator,
    release_bound=True,
    page=_collection_page("validateRuntimes", "Validate"),
)
def validate_runtimes():
    # The emulated site's one machine is named after the host the caller reached [inferred].
    machine = request.host.rsplit(":", 1)[0].upper()
    return Page(
        _backend().validate(machine), links=lambda: {"runtimes": url_for("admin.list_runtimes")}
    )


@operation(
    admin,
    RUNTIME,
    name="runtime",
    title="Notebook Runtime",
    guard=require_notebook_administrator,
    release_bound=True,
)
def get_runtime(runtime_id: str):
    runtime = _backend().get(runtime_id)
    return Page(
        runtime.detail(deployment.current().clock.now_ms()),
        title=f"Notebook Runtime: {runtime.name}",
        links=lambda: {"manifest": url_for("admin.manifest", runtime_id=runtime_id)},
        operations=lambda: pages.offered_pages(runtime),
    )


@operation(
    admin,
    f"{RUNTIME}/update",
    name="update",
    title="Update Notebook Runtime",
    methods=OPERATION,
    guard=require_administrator,
    release_bound=True,
    form=forms.UPDATE,
    page=pages.operation_page("update", "Update", forms.update_defaults),
)
def update(runtime_id: str):
    runtime = _backend().update(runtime_id, wire.params(), wire.uploaded_file(UPLOADED_MANIFEST))
    return Page({"status": "success"}, then=lambda: _done(runtime_id, "updated", runtime.name))


@operation(
    admin,
    f"{RUNTIME}/unregister",
    name="unregister",
    title="Unregister Notebook Runtime",
    # [client] POSTs; the newest page says GET, the Kubernetes one POST: a GET that deleted
    # would let a link remove a runtime, so GET shows the confirmation page [inferred].
    methods=OPERATION,
    guard=require_administrator,
    release_bound=True,
    page=pages.operation_page(
        "unregister",
        "Unregister",
        confirm="Unregister the runtime '{name}' ({id})? It is removed for good.",
    ),
)
def unregister(runtime_id: str):
    name = _backend().get(runtime_id).name  # for the list's notice: it is gone after this
    _backend().unregister(runtime_id)
    return Page(
        {"status": "success"},
        then=lambda: Done(url_for("admin.list_runtimes"), "unregistered", name),
    )


def _done(runtime_id: str, what: str, name: str) -> Done:
    """A write's browser result: the runtime's own page, saying what was done."""
    return Done(url_for("admin.get_runtime", runtime_id=runtime_id), what, name)


@operation(
    admin,
    f"{RUNTIME}/manifest",
    name="manifest",
    title="Runtime Manifest",
    guard=require_notebook_administrator,
    release_bound=True,
)
def manifest(runtime_id: str):
    return pages.manifest_page(runtime_id)
